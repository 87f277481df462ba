#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "lib/mathlib.h"

static PyObject* Fib(PyObject*, PyObject* args) {
  int n;
  if (!PyArg_ParseTuple(args, "i", &n)) return nullptr;
  if (n < 0 || n > 93) {
    PyErr_SetString(PyExc_ValueError, "n must be in [0, 93]");
    return nullptr;
  }
  return PyLong_FromUnsignedLongLong(mathlib::Fib(n));
}

static PyObject* CompiledFor(PyObject*, PyObject*) {
  return PyUnicode_FromString(mathlib::CompiledFor().c_str());
}

static PyMethodDef kMethods[] = {
    {"fib", Fib, METH_VARARGS, "The n-th Fibonacci number."},
    {"compiled_for", CompiledFor, METH_NOARGS, "The CPU this module was compiled for."},
    {nullptr, nullptr, 0, nullptr},
};

static PyModuleDef kModule = {PyModuleDef_HEAD_INIT, "_native", nullptr, -1, kMethods};

PyMODINIT_FUNC PyInit__native(void) { return PyModule_Create(&kModule); }
