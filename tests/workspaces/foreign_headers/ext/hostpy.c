/* Compiles on a 64-bit target against the host's Python.h, and silently has its ABI. */
#include <Python.h>

long hostpy_long_size(void) { return SIZEOF_LONG; }
