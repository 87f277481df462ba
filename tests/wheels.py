"""Tiny wheels built in tests, byte-for-byte deterministic."""

from __future__ import annotations

import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cross_compiler.wheel.tags import record_hash

FIXED_TIME = (2024, 1, 2, 3, 4, 6)


def elf_header(bits: int, endian: str, machine: int, flags: int = 0) -> bytes:
    """A 64-byte ELF header: enough for the machine check, not a loadable binary."""
    ident = b"\x7fELF" + bytes([1 if bits == 32 else 2, 1 if endian == "little" else 2, 1])
    ident = ident.ljust(16, b"\0")
    body = bytearray(64 - 16)
    body[0:2] = (3).to_bytes(2, "little" if endian == "little" else "big")
    body[2:4] = machine.to_bytes(2, "little" if endian == "little" else "big")
    at = (36 if bits == 32 else 48) - 16
    body[at:at + 4] = flags.to_bytes(4, "little" if endian == "little" else "big")
    return ident + bytes(body)


AARCH64_SO = elf_header(64, "little", 183) + b"\0" * 4000
X86_64_SO = elf_header(64, "little", 62) + b"\0" * 4000


def wheel_text(tags: list[str], build: str = "", purelib: bool = False) -> str:
    lines = ["Wheel-Version: 1.0", "Generator: tests", f"Root-Is-Purelib: {str(purelib).lower()}"]
    lines += [f"Tag: {t}" for t in tags]
    if build:
        lines.append(f"Build: {build}")
    return "\n".join(lines) + "\n\n"


def make_wheel(
    directory: Path,
    filename: str,
    files: dict[str, bytes],
    tags: list[str],
    *,
    build: str = "",
    purelib: bool = False,
    wheel_override: bytes | None = None,
    extra_members: list[tuple[str, bytes]] = (),  # type: ignore[assignment]
    compression: int = zipfile.ZIP_DEFLATED,
) -> Path:
    """Write a wheel whose RECORD is correct for its content."""
    dist, version = filename.split("-")[:2]
    dist_info = f"{dist}-{version}.dist-info"
    members = dict(files)
    members[f"{dist_info}/METADATA"] = (
        f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n\n".encode()
    )
    members[f"{dist_info}/WHEEL"] = (
        wheel_override if wheel_override is not None
        else wheel_text(tags, build, purelib).encode()
    )
    record = "".join(f"{n},{record_hash(d)},{len(d)}\n" for n, d in members.items())
    members[f"{dist_info}/RECORD"] = (record + f"{dist_info}/RECORD,,\n").encode()
    path = directory / filename
    with zipfile.ZipFile(path, "w", compression) as zf:
        for name, data in [*members.items(), *extra_members]:
            info = zipfile.ZipInfo(name, FIXED_TIME)
            info.compress_type = compression
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
    return path


# ELF files with a dynamic section and symbol version requirements, laid out as a linker
# would (header, string table, .dynamic, .gnu.version_r, .shstrtab, section headers last),
# optionally with a gap of zeros after the header so the tables sit far into the file.

SHT_STRTAB, SHT_DYNAMIC, SHT_VERNEED = 3, 6, 0x6FFFFFFE
SECTION_FIELDS = ("name", "type", "flags", "addr", "offset", "size", "link", "info", "align",
                  "entsize")


def _strings(names: list[str]) -> tuple[bytes, dict[str, int]]:
    table, where = b"\0", {"": 0}
    for n in names:
        if n not in where:
            where[n] = len(table)
            table += n.encode() + b"\0"
    return table, where


def elf_parts(bits: int = 64, endian: str = "little", machine: int = 183,
              needed: tuple[str, ...] = ("libc.so.6",),
              versions: tuple[tuple[str, tuple[str, ...]], ...] = (
                  ("libc.so.6", ("GLIBC_2.17",)),), gap: int = 0,
              runpath: str = "") -> tuple[bytes, int, bytes]:
    """(head, zeros, tail): the ELF file is ``head + bytes(zeros) + tail``."""
    o = "<" if endian == "little" else ">"
    wide = bits == 64
    ehsize, shentsize = (64, 64) if wide else (52, 40)
    names = [*needed, *(f for f, _ in versions), *(v for _, vs in versions for v in vs),
             *([runpath] if runpath else [])]
    dynstr, at = _strings(names)
    dyn_fmt = f"{o}qQ" if wide else f"{o}iI"
    dynamic = b"".join(struct.pack(dyn_fmt, 1, at[n]) for n in needed)
    if runpath:
        dynamic += struct.pack(dyn_fmt, 29, at[runpath])  # DT_RUNPATH
    dynamic += struct.pack(dyn_fmt, 0, 0)
    verneed = b""
    for i, (file, vs) in enumerate(versions):
        last = i == len(versions) - 1
        verneed += struct.pack(f"{o}HHIII", 1, len(vs), at[file], 16,
                               0 if last else 16 + 16 * len(vs))
        for j, v in enumerate(vs):
            verneed += struct.pack(f"{o}IHHII", 0, 0, 2 + j, at[v],
                                   0 if j == len(vs) - 1 else 16)
    shstr, sh_at = _strings([".dynstr", ".dynamic", ".gnu.version_r", ".shstrtab"])
    start = ehsize + gap
    bodies = [dynstr, dynamic, verneed, shstr]
    offsets = []
    pos = start
    for body in bodies:
        offsets.append(pos)
        pos += len(body)
    pos += (-pos) % 8
    shoff = pos
    sh_fmt = f"{o}IIQQQQIIQQ" if wide else f"{o}IIIIIIIIII"
    rows = [(0,) * 10,
            (sh_at[".dynstr"], SHT_STRTAB, 2, 0, offsets[0], len(dynstr), 0, 0, 1, 0),
            (sh_at[".dynamic"], SHT_DYNAMIC, 3, 0, offsets[1], len(dynamic), 1, 0, 8,
             struct.calcsize(dyn_fmt)),
            (sh_at[".gnu.version_r"], SHT_VERNEED, 2, 0, offsets[2], len(verneed), 1,
             len(versions), 4, 0),
            (sh_at[".shstrtab"], SHT_STRTAB, 0, 0, offsets[3], len(shstr), 0, 0, 1, 0)]
    table = b"".join(struct.pack(sh_fmt, *r) for r in rows)
    ident = b"\x7fELF" + bytes([2 if wide else 1, 1 if endian == "little" else 2, 1])
    ident = ident.ljust(16, b"\0")
    if wide:
        rest = struct.pack(f"{o}HHIQQQIHHHHHH", 3, machine, 1, 0, 0, shoff, 0, ehsize, 56, 0,
                           shentsize, len(rows), 4)
    else:
        rest = struct.pack(f"{o}HHIIIIIHHHHHH", 3, machine, 1, 0, 0, shoff, 0x5000400, ehsize,
                           32, 0, shentsize, len(rows), 4)
    tail = b"".join(bodies)
    tail += bytes(shoff - start - len(tail)) + table
    return ident + rest, gap, tail


def make_elf(**kwargs: Any) -> bytes:
    head, zeros, tail = elf_parts(**kwargs)
    return head + bytes(zeros) + tail


def set_section_field(elf: bytes, index: int, field: str, value: int) -> bytes:
    """``elf`` with one field of section header ``index`` changed."""
    wide, o = elf[4] == 2, "<" if elf[5] == 1 else ">"
    shoff = struct.unpack_from(f"{o}Q" if wide else f"{o}I", elf, 40 if wide else 32)[0]
    sh_fmt = f"{o}IIQQQQIIQQ" if wide else f"{o}IIIIIIIIII"
    at = shoff + index * struct.calcsize(sh_fmt)
    row = list(struct.unpack_from(sh_fmt, elf, at))
    row[SECTION_FIELDS.index(field)] = value
    out = bytearray(elf)
    struct.pack_into(sh_fmt, out, at, *row)
    return bytes(out)


# Archives written field by field, for what zipfile will not write: raw name bytes and
# flags, pre-compressed (and repeated) data.

@dataclass(frozen=True)
class RawEntry:
    name: bytes
    chunks: list[bytes]  # the stored (compressed) data, in pieces
    crc: int
    file_size: int
    method: int = zipfile.ZIP_DEFLATED
    flags: int = 0
    external_attr: int = 0o644 << 16


def raw_entry(name: bytes, data: bytes, flags: int = 0) -> RawEntry:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return RawEntry(name, [compressor.compress(data) + compressor.flush()], zlib.crc32(data),
                    len(data), flags=flags)


def zero_bomb_entry(name: bytes, head: bytes, zero_mib: int, tail: bytes) -> RawEntry:
    """``head + zero_mib MiB of zeros + tail`` deflated at about 1000:1 without compressing
    the zeros more than once (deflate restarts after each full flush)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = compressor.compress(head) + compressor.flush(zlib.Z_FULL_FLUSH)
    mib = bytes(1 << 20)
    block = compressor.compress(mib) + compressor.flush(zlib.Z_FULL_FLUSH)
    last = compressor.compress(tail) + compressor.flush()
    crc = zlib.crc32(head)
    for _ in range(zero_mib):
        crc = zlib.crc32(mib, crc)
    return RawEntry(name, [first, *[block] * zero_mib, last], zlib.crc32(tail, crc),
                    len(head) + (zero_mib << 20) + len(tail))


def write_raw_zip(path: Path, entries: list[RawEntry]) -> Path:
    central = b""
    with path.open("wb") as f:
        for e in entries:
            offset, size = f.tell(), sum(len(c) for c in e.chunks)
            f.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, e.flags, e.method, 0x1821,
                                0x5822, e.crc, size, e.file_size, len(e.name), 0) + e.name)
            for chunk in e.chunks:
                f.write(chunk)
            central += struct.pack("<IBBHHHHHIIIHHHHHII", 0x02014B50, 20, 3, 20, e.flags,
                                   e.method, 0x1821, 0x5822, e.crc, size, e.file_size,
                                   len(e.name), 0, 0, 0, 0, e.external_attr, offset) + e.name
        start = f.tell()
        f.write(central)
        f.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries),
                            len(central), start, 0))
    return path


def record_for(files: dict[str, bytes], dist_info: str) -> bytes:
    rows = "".join(f"{n},{record_hash(d)},{len(d)}\n" for n, d in files.items())
    return (rows + f"{dist_info}/RECORD,,\n").encode()


# PyPI's installer as an oracle: every RECORD row against the content (installer 0.7's
# command line has no --validate-record; its WheelFile does it).
VALIDATE_RECORD = (
    "import sys, zipfile\n"
    "from installer.sources import WheelFile\n"
    "with zipfile.ZipFile(sys.argv[1]) as zf:\n"
    "    WheelFile(zf).validate_record()\n"
)
