"""What a header's content says about the architecture it is for, wherever it came from.

Two layers of the header proof that do not trust paths: the wheel a header was unpacked
from (its ``*.dist-info/WHEEL`` tags, as pip and rules_python's ``whl_library`` leave them)
must be for the target or arch-neutral, and configuration headers that fix an ABI
(``pyconfig.h``, numpy's ``_numpyconfig.h``; the table is data, ``abi/headers.toml``) must
not contradict the target's sizes, byte order or CPU family. Reads are bounded; the
directories it lists and files it reads are cached per proof.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cross_compiler.datafile import load_toml
from cross_compiler.errors import TargetError
from cross_compiler.toolchain.targets import Target
from cross_compiler.wheel.platformtag import tag_arch

# A configuration header is a few thousand lines; a WHEEL file a few tags.
MAX_HEADER_BYTES = 1 << 20
MAX_WHEEL_BYTES = 64 << 10
# Entries looked at per directory while searching for a wheel's dist-info.
MAX_DIR_ENTRIES = 20_000
FACTS = ("long", "pointer", "size_t", "big_endian", "x87")
_SIZE_FACTS = ("long", "pointer", "size_t")
_FLAG_FACTS = ("big_endian", "x87")
_X86_MACHINES = (3, 62)  # EM_386, EM_X86_64

_COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)
_DIRECTIVE = re.compile(r"^\s*#\s*(\w+)\s*(.*?)\s*$")
_NAME = re.compile(r"[A-Za-z_]\w*")
_DEFINED = re.compile(r"^(!?)\s*defined\s*(?:\(\s*([A-Za-z_]\w*)\s*\)|([A-Za-z_]\w*))$")
_INT = re.compile(r"^\(?\s*(\d+)\s*[uUlL]*\s*\)?$")
# Compiler-predefined macros the proof cannot see, except those no Linux target defines.
_NEVER_ON_LINUX = frozenset({"__APPLE__", "__MACH__", "_WIN32", "_WIN64", "_MSC_VER",
                             "__CYGWIN__", "__FreeBSD__"})


@dataclass(frozen=True)
class TargetAbi:
    """The target facts headers are judged against."""

    cpu: str
    wheel_arch: str
    facts: Mapping[str, int | bool]

    @classmethod
    def of(cls, target: Target) -> TargetAbi:
        size = target.elf.bits // 8  # Linux is ILP32 or LP64
        return cls(target.cpu, target.wheel_arch, {
            "long": size, "pointer": size, "size_t": size,
            "big_endian": target.elf.endianness == "big",
            "x87": target.elf.machine in _X86_MACHINES,
        })


@dataclass(frozen=True)
class AbiHeader:
    names: tuple[str, ...]
    what: str
    sizes: Mapping[str, str]
    flags: Mapping[str, str]


def load_abi_headers(path: Path) -> tuple[AbiHeader, ...]:
    """The table in ``path``, validated (a wrong field names the file and the entry)."""
    data = load_toml(path, "ABI header table")
    entries = data.get("header")
    if not isinstance(entries, list) or set(data) - {"header"}:
        raise TargetError(f"{path}: expected only [[header]] tables", "see abi/headers.toml")
    found = []
    for i, entry in enumerate(entries):
        where = f"{path}: header #{i + 1}"
        if not isinstance(entry, dict) or set(entry) - {"names", "what", "sizes", "flags"}:
            raise TargetError(f"{where}: fields are names, what, sizes, flags")
        names, what = entry.get("names"), entry.get("what", "")
        if (not isinstance(names, list) or not names
                or not all(isinstance(n, str) and n and "/" not in n for n in names)):
            raise TargetError(f"{where}: names must be a list of file names")
        if not isinstance(what, str):
            raise TargetError(f"{where}: what must be a string")
        tables = []
        for key, allowed in (("sizes", _SIZE_FACTS), ("flags", _FLAG_FACTS)):
            table = entry.get(key, {})
            if not isinstance(table, dict):
                raise TargetError(f"{where}: {key} must be a table of MACRO = \"fact\"")
            for macro, fact in table.items():
                if not _NAME.fullmatch(macro) or fact not in allowed:
                    raise TargetError(f"{where}: {key}.{macro} = {fact!r}",
                                      f"facts for {key}: {', '.join(allowed)}")
            tables.append(dict(table))
        found.append(AbiHeader(tuple(names), what or names[0], tables[0], tables[1]))
    return tuple(found)


@dataclass(frozen=True)
class Macros:
    """``#define``s of a header that take effect whatever the compiler predefines."""

    values: Mapping[str, str]  # in effect at the end of the file
    conditional: frozenset[str]  # defined only under a condition we cannot decide


def effective_defines(text: str) -> Macros:
    """The macros a header defines for certain, after its decidable conditionals.

    ``#ifdef X``/``#ifndef X``/``#if [!]defined(X)``/``#if 0|1``, ``#elif``, ``#else``: a
    macro the file itself defined, or one no Linux compiler predefines, is decided; other
    compiler macros (``__LP64__``) make the branch undecided, and what it defines is only
    recorded as conditional."""
    text = _COMMENT.sub(" ", text.replace("\\\n", " "))
    values: dict[str, str] = {}
    conditional: set[str] = set()
    # Per open #if: (this branch's state, whether an earlier branch was surely taken,
    # whether an earlier branch was undecided); a state is True, False or None (undecided).
    stack: list[tuple[bool | None, bool, bool]] = []

    def condition(expr: str) -> bool | None:
        expr = expr.strip()
        if expr in ("0", "1"):
            return expr == "1"
        m = _DEFINED.match(expr)
        if not m:
            return None
        name = m[2] or m[3]
        if name in values:
            known: bool | None = True
        elif name in conditional:
            known = None
        elif name.startswith("_") and name not in _NEVER_ON_LINUX:
            known = None  # the compiler's own: unknown here
        else:
            known = False
        return known if known is None or not m[1] else not known

    def active() -> bool | None:
        states = [s for s, _, _ in stack]
        if any(s is False for s in states):
            return False
        return None if any(s is None for s in states) else True

    for line in text.splitlines():
        m = _DIRECTIVE.match(line)
        if not m:
            continue
        word, rest = m[1], m[2]
        if word in ("if", "ifdef", "ifndef"):
            expr = rest if word == "if" else (
                f"defined {rest.split()[0]}" if rest.split() else "")
            state = condition(expr)
            if word == "ifndef" and state is not None:
                state = not state
            stack.append((state, state is True, state is None))
        elif word in ("elif", "else") and stack:
            _, taken, undecided = stack.pop()
            state = False if taken else None if undecided else (
                condition(rest) if word == "elif" else True)
            stack.append((state, taken or state is True, undecided or state is None))
        elif word == "endif" and stack:
            stack.pop()
        elif word in ("define", "undef"):
            parts = rest.split(None, 1)
            if not parts or not _NAME.fullmatch(parts[0].split("(")[0]):
                continue
            name, now = parts[0].split("(")[0], active()
            if now is True:
                if word == "define":
                    values[name] = parts[1].strip() if len(parts) > 1 else ""
                else:
                    values.pop(name, None)
            elif now is None:
                conditional.add(name)
    return Macros(values, frozenset(conditional))


def _integer(macros: Macros, name: str) -> int | None:
    value = macros.values.get(name)
    for _ in range(3):  # NPY_SIZEOF_LONG SIZEOF_LONG: follow a short chain of aliases
        if value is None:
            return None
        m = _INT.match(value)
        if m:
            return int(m[1])
        value = macros.values.get(value) if _NAME.fullmatch(value) else None
    return None


def abi_contradictions(entry: AbiHeader, text: str, abi: TargetAbi) -> list[str]:
    """How ``text`` (a header named in ``entry``) contradicts the target, e.g.
    ``["SIZEOF_LONG is 8, armv7hf has 4"]``; empty when it does not."""
    macros = effective_defines(text)
    found = []
    for macro, fact in entry.sizes.items():
        value = _integer(macros, macro)
        if value is not None and value != abi.facts[fact]:
            found.append(f"{macro} is {value}, {abi.cpu} has {abi.facts[fact]}")
    judged = any(_integer(macros, m) is not None for m in entry.sizes) or any(
        m in macros.values for m in entry.flags)
    for macro, fact in entry.flags.items():
        if macro in macros.conditional and macro not in macros.values:
            continue
        defined = macro in macros.values
        if defined and not abi.facts[fact]:
            found.append(f"{macro} is defined, {abi.cpu} is not {fact.replace('_', '-')}")
        elif not defined and abi.facts[fact] and judged:
            found.append(f"{macro} is not defined, {abi.cpu} is {fact.replace('_', '-')}")
    return found


@dataclass(frozen=True)
class WheelOrigin:
    """The wheel a directory tree was unpacked from."""

    dist_info: str  # absolute path of the *.dist-info directory
    tags: tuple[str, ...]


def wheel_tags(text: str) -> tuple[str, ...]:
    """The ``Tag:`` values of a WHEEL file."""
    return tuple(line.split(":", 1)[1].strip() for line in text.splitlines()
                 if line.lower().startswith("tag:") and line.split(":", 1)[1].strip())


def foreign_tags(tags: tuple[str, ...], wheel_arch: str) -> bool:
    """True when no tag is for ``wheel_arch`` or arch-neutral (``any``)."""
    arches = []
    for tag in tags:
        platform = tag.rsplit("-", 1)[-1]
        for one in platform.split("."):
            arches.append("any" if one == "any" else tag_arch(one) or one)
    return bool(arches) and not any(a in ("any", wheel_arch) for a in arches)


@dataclass
class ContentJudge:
    """Judges resolved header paths by content; file access is cached and bounded."""

    abi: TargetAbi
    table: tuple[AbiHeader, ...]
    read: Callable[[str, int], str | None] = field(default=lambda p, n: _read(p, n))
    _origins: dict[str, WheelOrigin | None] = field(default_factory=dict)

    def wheel_origin(self, path: str, stop: str) -> WheelOrigin | None:
        """The wheel whose unpacked tree holds ``path``: a ``*.dist-info/WHEEL`` beside one of
        its parent directories, searched up to (and including) ``stop``."""
        directory = posixpath.dirname(path)
        seen: list[str] = []
        origin: WheelOrigin | None = None
        while True:
            if directory in self._origins:
                origin = self._origins[directory]
                break
            seen.append(directory)
            origin = self._dist_info_in(directory)
            if origin is not None or directory == stop or not directory.startswith(
                    stop.rstrip("/") + "/") or directory == "/":
                break
            directory = posixpath.dirname(directory)
        for d in seen:
            self._origins[d] = origin
        return origin

    def _dist_info_in(self, directory: str) -> WheelOrigin | None:
        try:
            with os.scandir(directory) as entries:
                for count, entry in enumerate(entries):
                    if count >= MAX_DIR_ENTRIES:
                        break
                    if entry.name.endswith(".dist-info"):
                        text = self.read(posixpath.join(entry.path, "WHEEL"), MAX_WHEEL_BYTES)
                        if text is not None:
                            return WheelOrigin(entry.path, wheel_tags(text))
        except OSError:
            pass
        return None

    def abi_entry(self, path: str) -> AbiHeader | None:
        name = posixpath.basename(path)
        return next((e for e in self.table if name in e.names), None)

    def contradictions(self, path: str) -> tuple[AbiHeader, list[str]] | None:
        entry = self.abi_entry(path)
        if entry is None:
            return None
        text = self.read(path, MAX_HEADER_BYTES)
        if text is None:
            return None
        found = abi_contradictions(entry, text, self.abi)
        return (entry, found) if found else None


def _read(path: str, limit: int) -> str | None:
    try:
        with open(path, "rb") as f:
            return f.read(limit).decode("utf-8", "replace")
    except OSError:
        return None
