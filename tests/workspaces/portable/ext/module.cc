#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdexcept>

#include "lib/work.h"

static PyObject* parallel_sum(PyObject*, PyObject* args) {
  long long n;
  if (!PyArg_ParseTuple(args, "L", &n)) return nullptr;
  try {
    return PyLong_FromLongLong(portable::parallel_sum(n, 4));
  } catch (const std::invalid_argument& e) {
    PyErr_SetString(PyExc_ValueError, e.what());
    return nullptr;
  }
}

static PyMethodDef methods[] = {
    {"parallel_sum", parallel_sum, METH_VARARGS, "Sum 1..n on four threads."},
    {nullptr, nullptr, 0, nullptr},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_portable", nullptr, -1, methods};

PyMODINIT_FUNC PyInit__portable(void) { return PyModule_Create(&module); }
