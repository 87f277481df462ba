/* A shared library a Python package loads with ctypes: no CPython headers needed. */
const char *greet(void) { return "hello from a cross-compiled library"; }
