"""Tiny wheels built in tests, byte-for-byte deterministic."""

from __future__ import annotations

import zipfile
from pathlib import Path

from cross_compiler.wheeltags import record_hash

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
