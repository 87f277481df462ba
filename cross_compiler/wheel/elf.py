"""ELF checks: is this binary really for the target (header), and what does it need
from the system (dynamic section, version requirements)? Pure over bytes and streams."""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

from cross_compiler.display import shown
from cross_compiler.errors import ArchMismatchError
from cross_compiler.toolchain.targets import ElfSpec, Target
from cross_compiler.wheel import staticlib

ELF_MAGIC = b"\x7fELF"
EF_ARM_ABI_FLOAT_HARD = 0x400
EF_ARM_ABI_FLOAT_SOFT = 0x200

MACHINE_NAMES = {
    3: "i386", 8: "mips", 20: "ppc", 21: "ppc64", 22: "s390", 40: "arm", 62: "x86_64",
    183: "aarch64", 243: "riscv",
}


@dataclass(frozen=True)
class ElfHeader:
    bits: int
    endianness: str
    machine: int
    flags: int

    def describe(self) -> str:
        name = MACHINE_NAMES.get(self.machine, f"machine {self.machine}")
        return f"{name} {self.bits}-bit {self.endianness}-endian"


def parse_header(data: bytes) -> ElfHeader | None:
    """The fields we check, or None if ``data`` does not start an ELF file."""
    if len(data) < 52 or not data.startswith(ELF_MAGIC):
        return None
    ei_class, ei_data = data[4], data[5]
    if ei_class not in (1, 2) or ei_data not in (1, 2):
        return None
    order: Literal["little", "big"] = "little" if ei_data == 1 else "big"
    machine = int.from_bytes(data[18:20], order)
    flags_offset = 36 if ei_class == 1 else 48
    if len(data) < flags_offset + 4:
        return None
    flags = int.from_bytes(data[flags_offset:flags_offset + 4], order)
    return ElfHeader(32 if ei_class == 1 else 64, order, machine, flags)


def mismatch(header: ElfHeader, spec: ElfSpec) -> str | None:
    """Why ``header`` is not for ``spec``, or None when it is."""
    wanted_fields = (spec.machine, spec.bits, spec.endianness)
    if (header.machine, header.bits, header.endianness) != wanted_fields:
        wanted = ElfHeader(spec.bits, spec.endianness, spec.machine, 0).describe()
        return f"is {header.describe()}, expected {wanted}"
    if spec.arm_hard_float and header.flags & EF_ARM_ABI_FLOAT_SOFT:
        return "uses the soft-float ABI, expected hard-float (armhf)"
    return None


def check_archive(path: Path, stream: IO[bytes], size: int, target: Target) -> int:
    """Check every ELF member of the static archive ``path``; returns how many there were.
    A member for another machine fails naming the archive and the member."""
    checked = 0
    try:
        for name, head in staticlib.members(stream, size):
            header = parse_header(head)
            if header is None:
                continue  # not an object file (LTO bitcode, a text member)
            problem = mismatch(header, target.elf)
            if problem:
                raise ArchMismatchError(
                    f"{shown(path)}: member {shown(name)} {problem}",
                    f"the archive holds an object not built for {target.cpu}; check what "
                    "put it there (a prebuilt library, a host toolchain)")
            checked += 1
    except staticlib.ArchiveFormatError as e:
        # An archive the check cannot read is not proven for the target.
        raise ArchMismatchError(f"{shown(path)}: cannot be checked as a static archive: {e}",
                                "rebuild it with the target's ar") from e
    return checked


def check_files(paths: list[Path], target: Target) -> list[Path]:
    """Check every ELF among ``paths`` and every ELF member of the static archives among
    them; return the ELF files; raise on the first mismatch."""
    elves: list[Path] = []
    for path in paths:
        if not path.is_file():
            continue
        with path.open("rb") as f:
            head = f.read(64)
            if staticlib.is_archive(head):
                check_archive(path, f, path.stat().st_size, target)
                continue
            header = parse_header(head)
        if header is None:
            continue
        problem = mismatch(header, target.elf)
        if problem:
            raise ArchMismatchError(
                f"{shown(path)} {problem}",
                f"it was not built for {target.cpu}; check the toolchain flags",
            )
        elves.append(path)
    return elves


# Dynamic section and symbol version requirements, read from untrusted input with bounds:
# every count and offset comes from the file, so each loop has a ceiling and each read a
# range check, and the file itself is streamed (twice or thrice), never held whole.

SHT_DYNAMIC = 6
SHT_GNU_VERNEED = 0x6FFFFFFE
DT_NULL, DT_NEEDED, DT_RPATH, DT_RUNPATH = 0, 1, 15, 29
MAX_SECTIONS = 1 << 16
MAX_TABLE_BYTES = 64 << 20  # .dynamic + .gnu.version_r (+ their string tables when small)
# A string table larger than this (TensorFlow's libtensorflow_cc.so.2: 82 MB of C++ symbol
# names) is not read whole: only a window at each name the tables point to.
MAX_WHOLE_STRINGS = 4 << 20
MAX_NAME = 1024  # sonames and version names are short: a window this long holds one
MAX_WINDOWS = 4096  # names read from a large string table (real binaries: a few dozen)
MAX_ENTRIES = 1 << 16  # dynamic tags, and version needs + their auxiliaries
_CHUNK = 1 << 20


class ElfFormatError(ValueError):
    """A malformed or out-of-bounds ELF structure (one line saying which)."""


@dataclass(frozen=True)
class DynamicInfo:
    needed: tuple[str, ...]  # DT_NEEDED sonames
    version_needs: tuple[tuple[str, tuple[str, ...]], ...]  # (file, version names) pairs
    # DT_RUNPATH and DT_RPATH search directories, in order (``$ORIGIN/../lib``)
    runpath: tuple[str, ...] = ()


@dataclass(frozen=True)
class Section:
    type: int
    offset: int
    size: int
    link: int
    info: int


def _read_ranges(open_stream: Callable[[], IO[bytes]],
                 ranges: list[tuple[int, int]]) -> list[bytes]:
    """The bytes of each (offset, length) range, in one forward pass over a fresh stream;
    a range the stream ends inside comes back short."""
    wanted = [bytearray() for _ in ranges]
    end = max((o + n for o, n in ranges), default=0)
    pos = 0
    with open_stream() as f:
        while pos < end:
            chunk = f.read(min(_CHUNK, end - pos))
            if not chunk:
                break
            for buf, (offset, length) in zip(wanted, ranges, strict=True):
                lo, hi = max(offset, pos), min(offset + length, pos + len(chunk))
                if lo < hi:
                    buf += chunk[lo - pos:hi - pos]
            pos += len(chunk)
    return [bytes(b) for b in wanted]


def _exact(open_stream: Callable[[], IO[bytes]], ranges: list[tuple[int, int]],
           what: str) -> list[bytes]:
    found = _read_ranges(open_stream, ranges)
    for data, (_, length) in zip(found, ranges, strict=True):
        if len(data) != length:
            raise ElfFormatError(f"the {what} extends past the end of the file")
    return found


def _string(table: bytes, offset: int, what: str) -> str:
    end = table.find(b"\0", offset) if 0 <= offset < len(table) else -1
    if end < 0:
        raise ElfFormatError(f"a {what} name lies outside its string table")
    return table[offset:end].decode("utf-8", "replace")


def section_table(open_stream: Callable[[], IO[bytes]], head: bytes) -> list[Section]:
    """The section headers of the ELF file whose first 64 bytes are ``head`` (one bounded
    read). Raises ElfFormatError."""
    bits64, order = head[4] == 2, "<" if head[5] == 1 else ">"
    shoff, entsize, count = (struct.unpack(f"{order}Q10xHH", head[40:62]) if bits64
                             else struct.unpack(f"{order}I10xHH", head[32:50]))
    layout = f"{order}IIQQQQIIQQ" if bits64 else f"{order}IIIIIIIIII"
    need = struct.calcsize(layout)
    if shoff == 0:
        return []  # no section headers (sstrip'ed): nothing to read, as pyelftools sees it
    if entsize < need:
        raise ElfFormatError(f"section header size {entsize} is smaller than {need}")
    if count == 0:  # extended numbering: the real count is section 0's sh_size
        (first,) = _exact(open_stream, [(shoff, need)], "section header table")
        count = struct.unpack(layout, first)[5]
    if count > MAX_SECTIONS:
        raise ElfFormatError(f"{count} section headers (more than {MAX_SECTIONS})")
    (table,) = _exact(open_stream, [(shoff, entsize * count)], "section header table")
    sections = []
    for i in range(count):
        fields = struct.unpack(layout, table[i * entsize:i * entsize + need])
        sections.append(Section(fields[1], fields[4], fields[5], fields[6], fields[7]))
    return sections


def read_dynamic(open_stream: Callable[[], IO[bytes]]) -> DynamicInfo:
    """DT_NEEDED entries and ``.gnu.version_r`` requirements of the ELF file that
    ``open_stream()`` reads from its start (called once per pass). Raises ElfFormatError."""
    (head,) = _read_ranges(open_stream, [(0, 64)])
    if parse_header(head) is None or len(head) < 64:
        raise ElfFormatError("not an ELF file")
    bits64, order = head[4] == 2, "<" if head[5] == 1 else ">"
    sections = section_table(open_stream, head)
    tables = [i for i, s in enumerate(sections) if s.type in (SHT_DYNAMIC, SHT_GNU_VERNEED)]
    for i in tables:
        if not 0 < sections[i].link < len(sections):
            raise ElfFormatError(f"section {i} links to no string table")
    # The tables, and each small string table whole, in one pass.
    small = {sections[i].link for i in tables if sections[sections[i].link].size
             <= MAX_WHOLE_STRINGS}
    wanted = sorted({*tables, *small})
    if sum(sections[j].size for j in wanted) > MAX_TABLE_BYTES:
        raise ElfFormatError(f"dynamic tables larger than {MAX_TABLE_BYTES >> 20} MiB")
    ranges = [(sections[j].offset, sections[j].size) for j in wanted]
    data = dict(zip(wanted, _exact(open_stream, ranges, "dynamic section"), strict=True))
    # Names as (string table, offset), resolved below.
    needed: list[tuple[int, int]] = []
    runpath: list[tuple[int, int]] = []
    versions: list[tuple[tuple[int, int], list[tuple[int, int]]]] = []
    budget = MAX_ENTRIES
    for i in tables:
        s = sections[i]
        body = data[i]
        if s.type == SHT_DYNAMIC:
            layout = f"{order}qQ" if bits64 else f"{order}iI"
            step = struct.calcsize(layout)
            for at in range(0, len(body) - step + 1, step):
                budget -= 1
                if budget < 0:
                    raise ElfFormatError(f"more than {MAX_ENTRIES} dynamic entries")
                tag, value = struct.unpack(layout, body[at:at + step])
                if tag == DT_NULL:
                    break
                if tag == DT_NEEDED:
                    needed.append((s.link, value))
                elif tag in (DT_RUNPATH, DT_RPATH):
                    runpath.append((s.link, value))
        else:
            budget = _version_needs(body, s.link, s.info, order, budget, versions)
    names = _names(open_stream, sections, data,
                   [*needed, *runpath, *(r for f, vs in versions for r in (f, *vs))])
    return DynamicInfo(tuple(names[r] for r in needed),
                       tuple((names[f], tuple(names[v] for v in vs)) for f, vs in versions),
                       tuple(d for r in runpath for d in names[r].split(":") if d))


def _names(open_stream: Callable[[], IO[bytes]], sections: list[Section],
           data: dict[int, bytes], refs: list[tuple[int, int]]) -> dict[tuple[int, int], str]:
    """Each (string table, offset) reference as text: from the table when it was read
    whole, else from a window of at most MAX_NAME bytes read for it (one pass)."""
    out: dict[tuple[int, int], str] = {}
    windows: dict[tuple[int, int], tuple[int, int]] = {}
    for table, offset in dict.fromkeys(refs):
        size = sections[table].size
        if not 0 <= offset < size:
            raise ElfFormatError("a name lies outside its string table")
        if table in data:
            out[table, offset] = _string(data[table], offset, "dynamic")
        else:
            windows[table, offset] = (sections[table].offset + offset,
                                      min(MAX_NAME, size - offset))
    if len(windows) > MAX_WINDOWS:
        raise ElfFormatError(f"more than {MAX_WINDOWS} names in a large string table")
    if windows:
        found = _exact(open_stream, list(windows.values()), "string table")
        for ref, window in zip(windows, found, strict=True):
            out[ref] = _string(window, 0, "dynamic")
    return out


def _version_needs(body: bytes, strings: int, count: int, order: str, budget: int,
                   out: list[tuple[tuple[int, int], list[tuple[int, int]]]]) -> int:
    """Walk ``count`` Elf_Verneed entries (each with its Elf_Vernaux chain) inside
    ``body``, recording (string table, offset) of each file and version name; returns the
    entry budget left."""
    at = 0
    for _ in range(count):
        if not 0 <= at <= len(body) - 16:
            raise ElfFormatError("a version need entry lies outside .gnu.version_r")
        _, aux_count, file_name, aux, next_need = struct.unpack(f"{order}HHIII",
                                                                body[at:at + 16])
        names, aux_at = [], at + aux
        for _ in range(aux_count):
            budget -= 1
            if budget < 0:
                raise ElfFormatError(f"more than {MAX_ENTRIES} version entries")
            if not 0 <= aux_at <= len(body) - 16:
                raise ElfFormatError("a version auxiliary entry lies outside .gnu.version_r")
            _, _, _, name, next_aux = struct.unpack(f"{order}IHHII", body[aux_at:aux_at + 16])
            names.append((strings, name))
            if next_aux == 0:
                break
            aux_at += next_aux
        out.append(((strings, file_name), names))
        budget -= 1
        if budget < 0:
            raise ElfFormatError(f"more than {MAX_ENTRIES} version entries")
        if next_need == 0:
            break
        at += next_need
    return budget
