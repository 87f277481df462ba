/* Says which CPython's headers compiled it; an import on another version fails. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *compiled_for(PyObject *self, PyObject *args) {
  return Py_BuildValue("(ii)", PY_MAJOR_VERSION, PY_MINOR_VERSION);
}

static PyMethodDef methods[] = {{"compiled_for", compiled_for, METH_NOARGS, NULL},
                                {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_plain", NULL, -1, methods};

PyMODINIT_FUNC PyInit__plain(void) { return PyModule_Create(&module); }
