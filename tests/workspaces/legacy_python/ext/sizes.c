/* <stdlib.h> first, as real code does: it defeats CPython's own LONG_BIT check, so only
 * the target's pyconfig.h gives the right answers below. */
#include <stdlib.h>
#define PY_SSIZE_T_CLEAN
#include <Python.h>
/* numpy's configuration header is per architecture (TensorFlow compiles against it). */
#include <numpy/_numpyconfig.h>

static PyObject *sizes(PyObject *self, PyObject *args) {
#ifdef HAVE_GCC_ASM_FOR_X87
  const int x87 = 1;
#else
  const int x87 = 0;
#endif
  return Py_BuildValue("(iiii)", (int)SIZEOF_LONG, (int)sizeof(long), x87,
                       (int)NPY_SIZEOF_LONG);
}

static PyMethodDef methods[] = {{"sizes", sizes, METH_NOARGS, NULL}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "sizes", NULL, -1, methods};

PyMODINIT_FUNC PyInit_sizes(void) { return PyModule_Create(&module); }
