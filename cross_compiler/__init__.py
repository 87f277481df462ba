"""cross_compiler: cross-compile Bazel workspaces for other Linux CPUs from x86_64."""

from __future__ import annotations

__version__ = "0.1.0"
