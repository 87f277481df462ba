/* numpy's C API headers: NPY_SIZEOF_LONG is what the extension believes a long is. */
#include <Python.h>
#include <numpy/npy_common.h>

int np_long_size(void) { return NPY_SIZEOF_LONG; }
