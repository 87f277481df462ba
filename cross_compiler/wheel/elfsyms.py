"""The CPython side of an ELF file's dynamic symbol table: which ``PyInit_*`` entry points
it defines (what makes a ``.so`` an extension module) and which ``Py*``/``_Py*`` symbols
it imports (what says whether it keeps to the stable ABI). Pure over a stream, bounded:
the string table and the symbol table are each streamed once, and only the names that
start a CPython symbol are kept.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO

from cross_compiler.wheel.elf import ElfFormatError, parse_header, section_table

SHT_DYNSYM = 11
SHN_UNDEF = 0
STB_GLOBAL, STB_WEAK = 1, 2
# Limits for untrusted input. CPython's API names are short; a name longer than this is
# not one of them (and a symbol so named cannot resolve against libpython).
MAX_PY_NAME = 256
MAX_PY_NAMES = 1 << 18  # names starting "Py"/"_Py" in one string table (real: hundreds)
MAX_CARRY = 1 << 20  # one string longer than this is a hostile table
MAX_SYMBOLS = 1 << 23  # dynamic symbol entries (libtensorflow_cc: ~10^6)
_CHUNK = 1 << 20
_PY = re.compile(rb"_?Py")


@dataclass(frozen=True)
class PythonSymbols:
    entry_points: frozenset[str]  # defined global PyInit_* symbols
    imported: frozenset[str]  # undefined global or weak Py*/_Py* symbols


def _range_chunks(open_stream: Callable[[], IO[bytes]], offset: int, length: int,
                  what: str) -> Iterator[bytes]:
    """The bytes of [offset, offset+length) in chunks, from a fresh stream."""
    with open_stream() as f:
        skip = offset
        while skip:
            got = f.read(min(_CHUNK, skip))
            if not got:
                raise ElfFormatError(f"the {what} extends past the end of the file")
            skip -= len(got)
        left = length
        while left:
            got = f.read(min(_CHUNK, left))
            if not got:
                raise ElfFormatError(f"the {what} extends past the end of the file")
            left -= len(got)
            yield got


def _scan_strings(data: bytes, base: int, names: dict[int, str]) -> None:
    """Every place in ``data`` (whole NUL-terminated strings, at table offset ``base``)
    where a name starting ``Py`` or ``_Py`` begins: linkers share string tails, so a
    symbol may point into the middle of a longer string."""
    for m in _PY.finditer(data):
        start = m.start()
        end = data.find(b"\0", start)
        end = len(data) if end < 0 else end
        if end - start > MAX_PY_NAME:
            continue
        name = data[start:end].decode("ascii", "replace")
        names[base + start] = name
        if name.startswith("_"):
            names[base + start + 1] = name[1:]
    if len(names) > MAX_PY_NAMES:
        raise ElfFormatError(f"more than {MAX_PY_NAMES} names starting with Py")


def _python_names(open_stream: Callable[[], IO[bytes]], offset: int, size: int
                  ) -> dict[int, str]:
    names: dict[int, str] = {}
    carry, base = b"", 0
    for chunk in _range_chunks(open_stream, offset, size, "dynamic string table"):
        buf = carry + chunk
        last = buf.rfind(b"\0")
        if last < 0:
            if len(buf) > MAX_CARRY:
                raise ElfFormatError(f"a symbol name longer than {MAX_CARRY >> 20} MiB")
            carry = buf
            continue
        _scan_strings(buf[:last], base, names)
        base += last + 1
        carry = buf[last + 1:]
        if len(carry) > MAX_CARRY:
            raise ElfFormatError(f"a symbol name longer than {MAX_CARRY >> 20} MiB")
    return names  # an unterminated tail names nothing


def read_python_symbols(open_stream: Callable[[], IO[bytes]]) -> PythonSymbols:
    """The ``PyInit_*`` entry points and imported CPython symbols of the ELF file that
    ``open_stream()`` reads from its start. Raises ElfFormatError."""
    with open_stream() as f:
        head = f.read(64)
    if parse_header(head) is None or len(head) < 64:
        raise ElfFormatError("not an ELF file")
    bits64, order = head[4] == 2, "<" if head[5] == 1 else ">"
    sections = section_table(open_stream, head)
    # Elf64_Sym: name, info, other, shndx, value, size; Elf32_Sym: name, value, size, info,
    # other, shndx.
    layout = f"{order}IBBHQQ" if bits64 else f"{order}IIIBBH"
    step = struct.calcsize(layout)
    entry_points: set[str] = set()
    imported: set[str] = set()
    for s in sections:
        if s.type != SHT_DYNSYM:
            continue
        if not 0 < s.link < len(sections):
            raise ElfFormatError("the dynamic symbol table links to no string table")
        if s.size // step > MAX_SYMBOLS:
            raise ElfFormatError(f"more than {MAX_SYMBOLS} dynamic symbols")
        strings = sections[s.link]
        names = _python_names(open_stream, strings.offset, strings.size)
        if not names:
            continue
        carry = b""
        for chunk in _range_chunks(open_stream, s.offset, s.size - s.size % step,
                                   "dynamic symbol table"):
            buf = carry + chunk
            whole = len(buf) - len(buf) % step
            for fields in struct.iter_unpack(layout, buf[:whole]):
                name = names.get(fields[0])
                if name is None:
                    continue
                info, shndx = (fields[1], fields[3]) if bits64 else (fields[3], fields[5])
                if info >> 4 not in (STB_GLOBAL, STB_WEAK):
                    continue
                if shndx == SHN_UNDEF:
                    imported.add(name)
                elif name.startswith("PyInit"):
                    entry_points.add(name)
            carry = buf[whole:]
    return PythonSymbols(frozenset(entry_points), frozenset(imported))
