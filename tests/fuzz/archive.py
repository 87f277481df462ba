"""Zip archives written field by field (local and central headers may disagree), and the
seed wheels every mutation starts from."""

from __future__ import annotations

import dataclasses
import struct
import zlib
from dataclasses import dataclass

from tests.wheels import make_elf, record_for, wheel_text

STORED, DEFLATED = 0, 8


@dataclass(frozen=True)
class Entry:
    """One member. ``local_*`` default to the central values; sizes to the real ones."""

    name: bytes
    stored: bytes  # the bytes as they sit in the archive (compressed for DEFLATED)
    crc: int
    file_size: int
    method: int = DEFLATED
    flags: int = 0
    external_attr: int = 0o644 << 16
    create_system: int = 3
    extra: bytes = b""
    local_name: bytes | None = None
    local_flags: int | None = None
    declared_size: int | None = None  # central uncompressed size, when it lies


def entry(name: str | bytes, content: bytes, method: int = DEFLATED, **fields: int) -> Entry:
    raw = name.encode() if isinstance(name, str) else name
    if method == DEFLATED:
        c = zlib.compressobj(6, zlib.DEFLATED, -15)
        stored = c.compress(content) + c.flush()
    else:
        stored = content
    return dataclasses.replace(Entry(raw, stored, zlib.crc32(content), len(content), method),
                               **fields)


def build_zip(entries: list[Entry], comment: bytes = b"") -> bytes:
    out, central = bytearray(), bytearray()
    for e in entries:
        offset = len(out)
        lname = e.name if e.local_name is None else e.local_name
        lflags = e.flags if e.local_flags is None else e.local_flags
        size = e.file_size & 0xFFFFFFFF
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, lflags, e.method, 0x1821, 0x5822,
                           e.crc, len(e.stored) & 0xFFFFFFFF, size, len(lname),
                           len(e.extra)) + lname + e.extra + e.stored
        declared = (e.file_size if e.declared_size is None else e.declared_size) & 0xFFFFFFFF
        central += struct.pack("<IBBHHHHHIIIHHHHHII", 0x02014B50, 20, e.create_system, 20,
                               e.flags, e.method, 0x1821, 0x5822, e.crc,
                               len(e.stored) & 0xFFFFFFFF, declared, len(e.name), len(e.extra),
                               0, 0, 0, e.external_attr & 0xFFFFFFFF,
                               offset) + e.name + e.extra
    start = len(out)
    out += central
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries) & 0xFFFF,
                       len(entries) & 0xFFFF, len(central), start, len(comment)) + comment
    return bytes(out)


@dataclass(frozen=True)
class Seed:
    """A valid wheel as data: its file name and its files (dist-info added on build)."""

    filename: str
    files: dict[str, bytes]
    method: int = DEFLATED
    elf_member: str = ""  # the member the ELF families mutate

    @property
    def dist_info(self) -> str:
        dist, version = self.filename.split("-")[:2]
        return f"{dist}-{version}.dist-info"

    @property
    def tags(self) -> list[str]:
        py, abi, plat = self.filename[:-4].split("-")[-3:]
        return [f"{p}-{a}-{pl}" for p in py.split(".") for a in abi.split(".")
                for pl in plat.split(".")]

    def metadata(self) -> dict[str, bytes]:
        dist, version = self.filename.split("-")[:2]
        return {f"{self.dist_info}/METADATA":
                f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n\n".encode(),
                f"{self.dist_info}/WHEEL": wheel_text(self.tags, self.build).encode()}

    @property
    def build(self) -> str:
        parts = self.filename[:-4].split("-")
        return parts[2] if len(parts) == 6 else ""

    def contents(self, files: dict[str, bytes] | None = None) -> dict[str, bytes]:
        """Every member's content, RECORD last and right for the others."""
        members = {**(self.files if files is None else files), **self.metadata()}
        return {**members, f"{self.dist_info}/RECORD": record_for(members, self.dist_info)}

    def entries(self, files: dict[str, bytes] | None = None) -> list[Entry]:
        return [entry(n, d, self.method) for n, d in self.contents(files).items()]

    def archive(self) -> bytes:
        return build_zip(self.entries())


AARCH64_ELF = make_elf(needed=("libc.so.6", "libm.so.6"),
                       versions=(("libc.so.6", ("GLIBC_2.17", "GLIBC_2.28")),
                                 ("libm.so.6", ("GLIBC_2.17",))))
X86_ELF = make_elf(machine=62)
EXT = "cpython-311-aarch64-linux-gnu.so"

SEEDS = (
    Seed("demo-1.0-cp311-cp311-linux_aarch64.whl",
         {"demo/__init__.py": b"from demo._n import *\n", f"demo/_n.{EXT}": AARCH64_ELF,
          "demo-1.0.dist-info/top_level.txt": b"demo\n"}, elf_member=f"demo/_n.{EXT}"),
    # Host-suffixed extension (renamed by retag), stored uncompressed.
    Seed("demo-1.0-cp311-cp311-linux_x86_64.whl",
         {"demo/__init__.py": b"", "demo/_n.cpython-311-x86_64-linux-gnu.so": AARCH64_ELF},
         method=STORED, elf_member="demo/_n.cpython-311-x86_64-linux-gnu.so"),
    Seed("demo-1.0-py3-none-any.whl", {"demo/__init__.py": b"", "demo/util.py": b"X = 1\n"}),
    # A single-module extension at the root with an auditwheel-style bundled library.
    Seed("mod-2.0-1-cp311-cp311-manylinux_2_17_aarch64.whl",
         {f"mod.{EXT}": AARCH64_ELF, "mod.libs/libfoo-1a2b.so.1": make_elf()},
         method=STORED, elf_member=f"mod.{EXT}"),
)
