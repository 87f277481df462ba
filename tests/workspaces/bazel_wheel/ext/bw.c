/* A tiny CPython extension: bw.answer() == 42. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *answer(PyObject *self, PyObject *args) { return PyLong_FromLong(42); }

static PyMethodDef methods[] = {{"answer", answer, METH_NOARGS, NULL}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_bw", NULL, -1, methods};

PyMODINIT_FUNC PyInit__bw(void) { return PyModule_Create(&module); }
