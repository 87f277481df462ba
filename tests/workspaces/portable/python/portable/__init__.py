"""portable: C++ threads, shared_ptr and exceptions in an extension built for an old glibc.

Checked at import, so `cross-compiler test-wheel` (which installs the wheel with the
target's CPython under qemu-user and imports it) runs the C++ on the target: four
std::threads sum, and a C++ exception becomes a Python ValueError."""

from portable._portable import parallel_sum

if parallel_sum(1000) != 500500:
    raise ImportError("portable: parallel_sum(1000) is wrong on this machine")
try:
    parallel_sum(-1)
except ValueError:
    pass
else:
    raise ImportError("portable: a C++ exception did not reach Python")

__all__ = ["parallel_sum"]
