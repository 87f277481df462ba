/* numpy's C API from the wheel pip resolved: what the extension believes a long is, and a
   sum over a numpy array, which only works when the headers match the numpy it runs with. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>

static PyObject *sizeof_long(PyObject *self, PyObject *args) {
  return PyLong_FromLong(NPY_SIZEOF_LONG);
}

static PyObject *total(PyObject *self, PyObject *arg) {
  PyArrayObject *arr = (PyArrayObject *)PyArray_FROMANY(arg, NPY_LONG, 1, 1,
                                                        NPY_ARRAY_CARRAY);
  if (arr == NULL) return NULL;
  npy_intp n = PyArray_DIM(arr, 0);
  const long *data = (const long *)PyArray_DATA(arr);
  long sum = 0;
  for (npy_intp i = 0; i < n; i++) sum += data[i];
  Py_DECREF(arr);
  return PyLong_FromLong(sum);
}

static PyMethodDef methods[] = {
    {"sizeof_long", sizeof_long, METH_NOARGS, NULL},
    {"total", total, METH_O, NULL},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "npext", NULL, -1, methods};

PyMODINIT_FUNC PyInit_npext(void) {
  import_array();
  return PyModule_Create(&module);
}
