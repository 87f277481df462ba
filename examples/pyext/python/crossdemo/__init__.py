"""crossdemo: a Python package around a C++ extension, built by cross_compiler's example."""

from crossdemo._native import compiled_for, fib

__all__ = ["compiled_for", "fib"]
