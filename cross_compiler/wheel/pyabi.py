"""Are a wheel's interpreter/ABI tags honest about the CPython extension modules inside?
An extension module is a ``.so`` at an importable path that defines ``PyInit_<its name>``
(as CPython's import looks for it), whatever its file name says. A wheel holding one may
not claim any Python (``py3-none``), and may claim the stable ABI (``cp39-abi3``) only
when every CPython symbol each extension imports is in the stable ABI of that version,
which is what building with ``Py_LIMITED_API`` gives (abi3audit's rule, over the stable
ABI manifest CPython publishes, as PyPI's ``abi3info`` carries it)."""

from __future__ import annotations

import functools
from pathlib import PurePosixPath

from cross_compiler.display import shown
from cross_compiler.wheel import elfsyms
from cross_compiler.wheel.archive import WheelArchive
from cross_compiler.wheel.binaries import read_elf_member
from cross_compiler.wheel.extnames import ExtensionTagError
from cross_compiler.wheel.tags import WheelName

# Extension members are streamed for their symbol tables; above this declared size the
# wheel is a bomb (the largest real extension modules are a few hundred MB).
SYMBOLS_INSPECT_LIMIT = 1 << 30
SHOWN_SYMBOLS = 5


@functools.cache
def stable_abi() -> dict[str, tuple[int, int]]:
    """Every stable-ABI function and data symbol, with the CPython version that added it."""
    import abi3info  # type: ignore[import-untyped]  # 250 kB of tables: abi3/none wheels only

    table: dict[str, tuple[int, int]] = {}
    for members in (abi3info.FUNCTIONS, abi3info.DATAS):
        for symbol, item in members.items():
            table[symbol.name] = (item.added.major, item.added.minor)
    return table


def module_stem(member: str) -> str | None:
    """The module name a ``.so`` member would be imported as (``pkg/_c.cpython-313-….so``:
    ``_c``), or None when its path is not importable (``pkg.libs/``, ``lib-3.so``)."""
    parts = PurePosixPath(member).parts
    if len(parts) > 2 and parts[0].endswith(".data") and parts[1] in ("purelib", "platlib"):
        parts = parts[2:]
    if not parts or not parts[-1].endswith(".so"):
        return None
    stem = parts[-1].split(".", 1)[0]
    if not all(p.isidentifier() for p in (*parts[:-1], stem)):
        return None
    return stem


def _claims(name: WheelName) -> tuple[list[str], tuple[int, int] | None]:
    """The interpreter-abi pairs that claim any Python (abi ``none`` and a generic
    interpreter: ``py3-none``), and the oldest CPython an ``abi3`` pair claims."""
    anywhere = [f"{p}-{a}" for p in name.pythons for a in name.abis
                if a == "none" and not p.startswith("cp")]
    oldest = None
    for p in name.pythons:
        if "abi3" in name.abis and p.startswith("cp") and p[2:].isdigit() and len(p) > 3:
            version = (int(p[2]), int(p[3:]))
            oldest = version if oldest is None else min(oldest, version)
    return anywhere, oldest


def _symbols(archive: WheelArchive, i: int) -> elfsyms.PythonSymbols:
    return read_elf_member(archive, i, elfsyms.read_python_symbols,
                           limit=SYMBOLS_INSPECT_LIMIT, purpose="for its Python symbols",
                           hint="the wheel is damaged or hostile", error=ExtensionTagError)


def check_python_abi(archive: WheelArchive, elves: list[int], name: WheelName) -> None:
    """Refuse a wheel whose ``none`` or ``abi3`` tags its extension modules contradict.
    Reads symbol tables only when the wheel makes such a claim (a cpXY-cpXY wheel, as
    TensorFlow's, costs nothing here)."""
    anywhere, oldest = _claims(name)
    if not anywhere and oldest is None:
        return
    wheel = shown(archive.path.name)
    for i in elves:
        member = archive.members[i].name
        stem = module_stem(member)
        if stem is None:
            continue
        symbols = _symbols(archive, i)
        if f"PyInit_{stem}" not in symbols.entry_points:
            continue  # a shared library beside the modules, not a module
        if anywhere:
            raise ExtensionTagError(
                f"{wheel}: tagged {', '.join(anywhere)} (any Python) but {shown(member)} is "
                f"a CPython extension module (it defines PyInit_{stem}), which imports on "
                "the CPython it was built for only",
                "tag it cpXY-cpXY for that Python (setuptools: a Distribution whose "
                "has_ext_modules is true; Bazel py_wheel: python_tag and abi), or cpXY-abi3 "
                "when it is built with Py_LIMITED_API")
        assert oldest is not None
        table = stable_abi()
        outside = sorted(s for s in symbols.imported if table.get(s, (99, 0)) > oldest)
        if outside:
            since = [f"{s} (since {table[s][0]}.{table[s][1]})" if s in table
                     else f"{s} (not in it)" for s in outside[:SHOWN_SYMBOLS]]
            extra = len(outside) - SHOWN_SYMBOLS
            more = f" and {extra} more" if extra > 0 else ""
            tag = f"cp{oldest[0]}{oldest[1]}-abi3"
            raise ExtensionTagError(
                f"{wheel}: tagged {tag} but {shown(member)} uses CPython symbols outside the "
                f"stable ABI of {oldest[0]}.{oldest[1]}: {', '.join(since)}{more}",
                f"build it with Py_LIMITED_API=0x{oldest[0]:02x}{oldest[1]:02x}0000 (setuptools: "
                "py_limited_api), or tag it cpXY-cpXY for the one Python it was built for")
