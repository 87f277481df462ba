"""What a wheel's extension module names say about the CPython they are for, against its
tags and the target: a ``.cpython-313-aarch64-linux-gnu.so`` in a cp311 wheel, or an
x86_64 one in an aarch64 wheel, or any CPython extension in a ``py3-none`` wheel (which pip
installs on every Python and which then imports on one) is refused, naming both. Pure."""

from __future__ import annotations

import re
from collections.abc import Iterable

from cross_compiler.errors import ArchMismatchError

# CPython's EXT_SUFFIX on Linux: .cpython-313-aarch64-linux-gnu.so (3.13t: cpython-313t-…).
_EXT = re.compile(r"\.cpython-(?P<version>\d)(?P<minor>\d+)(?P<flags>[a-z]*)-"
                  r"(?P<triple>[a-z0-9_]+-linux-[a-z0-9_]+)\.so$")
_ABI3 = re.compile(r"\.abi3\.so$")


class ExtensionTagError(ArchMismatchError):
    """An extension module's name contradicts the wheel's tags or the target."""


def check_extension_names(wheel: str, members: Iterable[str], tags: Iterable[str],
                          python: str, triple: str) -> None:
    """Raise when a member's EXT_SUFFIX is for another CPython (than ``python``, X.Y) or
    another triple, or the wheel claims no CPython ABI (py3-none) around an extension.
    ``tags``: the wheel's ``interpreter-abi`` pairs (``cp313-cp313``, ``py3-none``)."""
    want = python.replace(".", "")
    pairs = set(tags)
    for member in members:
        name = member.rsplit("/", 1)[-1]
        m = _EXT.search(name)
        if m:
            found = f"{m['version']}.{m['minor']}"
            if f"{m['version']}{m['minor']}" != want:
                raise ExtensionTagError(
                    f"{wheel}: {member} is a CPython {found} extension (EXT_SUFFIX "
                    f".cpython-{m['version']}{m['minor']}{m['flags']}-{m['triple']}.so), "
                    f"the target's Python is {python}",
                    f"build it against the Python {python} headers (--python={found} builds "
                    f"for {found})")
            if m["triple"] != triple:
                raise ExtensionTagError(
                    f"{wheel}: {member} is an extension for {m['triple']} (its EXT_SUFFIX), "
                    f"the target is {triple}",
                    "build it with the target's toolchain; its name comes from the Python "
                    "that built it")
        if (m or _ABI3.search(name)) and pairs and all(p.endswith("-none") for p in pairs):
            raise ExtensionTagError(
                f"{wheel}: tagged {', '.join(sorted(pairs))} (any Python) but holds the "
                f"CPython extension {member}, which imports on CPython {python} only",
                f"tag it cp{want}-cp{want} (setuptools: a Distribution whose has_ext_modules "
                "is true; Bazel py_wheel: python_tag and abi)")
