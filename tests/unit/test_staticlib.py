"""Static archives: every ELF member is checked for the target; the reader is bounded."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from cross_compiler import resources
from cross_compiler.errors import ArchMismatchError
from cross_compiler.toolchain.targets import load_targets
from cross_compiler.wheel import elf, staticlib

A64, ARMHF = load_targets(["aarch64", "armv7hf"], resources.toolchains_dir())


def _elf(machine: int, bits: int = 64, flags: int = 0) -> bytes:
    """A 64-byte ELF header (little-endian) with ``machine`` and ``flags``."""
    head = bytearray(64)
    head[:6] = b"\x7fELF" + bytes([1 if bits == 32 else 2, 1])
    head[18:20] = machine.to_bytes(2, "little")
    flags_at = 36 if bits == 32 else 48
    head[flags_at:flags_at + 4] = flags.to_bytes(4, "little")
    return bytes(head)


def _header(name: bytes, size: int) -> bytes:
    return (name.ljust(16) + b"0".ljust(12) + b"0".ljust(6) + b"0".ljust(6)
            + b"644".ljust(8) + str(size).encode().ljust(10) + b"`\n")


def _ar(*members: tuple[bytes, bytes], long_names: bytes = b"") -> bytes:
    out = bytearray(staticlib.AR_MAGIC)
    symtab = b"\0\0\0\0"
    for name, data in ((b"/", symtab), *(((b"//", long_names),) if long_names else ()),
                       *members):
        out += _header(name, len(data)) + data + (b"\n" if len(data) % 2 else b"")
    return bytes(out)


AARCH64_OBJ = _elf(183)
X86_OBJ = _elf(62)


def _write(tmp_path: Path, data: bytes, name: str = "libx.a") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_members_with_gnu_short_and_long_names(tmp_path: Path) -> None:
    long_names = b"a_rather_long_object_name.o/\n"
    data = _ar((b"add.o/", AARCH64_OBJ + b"x"), (b"/0", AARCH64_OBJ),
               (b"notes.txt/", b"hello"), long_names=long_names)
    got = list(staticlib.members(io.BytesIO(data), len(data)))
    assert got == [("add.o", AARCH64_OBJ), ("a_rather_long_object_name.o", AARCH64_OBJ),
                   ("notes.txt", b"hello")]
    path = _write(tmp_path, data)
    assert elf.check_files([path], A64) == []  # an archive is no ELF file itself
    assert elf.check_archive(path, io.BytesIO(data), len(data), A64) == 2


def test_bsd_names_and_thin_archives() -> None:
    data = staticlib.AR_MAGIC + _header(b"#1/8", 8 + 64) + b"sub.o\0\0\0" + AARCH64_OBJ
    assert list(staticlib.members(io.BytesIO(data), len(data))) == [("sub.o", AARCH64_OBJ)]
    thin = staticlib.THIN_MAGIC + _header(b"/0", 10)
    assert list(staticlib.members(io.BytesIO(thin), len(thin))) == []


def test_a_wrong_arch_member_is_refused_naming_archive_and_member(tmp_path: Path) -> None:
    path = _write(tmp_path, _ar((b"good.o/", AARCH64_OBJ), (b"host.o/", X86_OBJ)))
    with pytest.raises(ArchMismatchError) as e:
        elf.check_files([path], A64)
    assert e.value.message == (f"{path}: member host.o is x86_64 64-bit little-endian, "
                               "expected aarch64 64-bit little-endian")
    assert e.value.exit_code == 6


def test_a_soft_float_member_fails_armhf(tmp_path: Path) -> None:
    path = _write(tmp_path, _ar((b"soft.o/", _elf(40, 32, elf.EF_ARM_ABI_FLOAT_SOFT))))
    with pytest.raises(ArchMismatchError, match=r"member soft\.o uses the soft-float ABI"):
        elf.check_files([path], ARMHF)
    ok = _write(tmp_path, _ar((b"hard.o/", _elf(40, 32, elf.EF_ARM_ABI_FLOAT_HARD))), "ok.a")
    assert elf.check_files([ok], ARMHF) == []


def test_a_member_name_with_control_characters_is_escaped(tmp_path: Path) -> None:
    path = _write(tmp_path, _ar((b"x\n.o/", X86_OBJ)))
    with pytest.raises(ArchMismatchError) as e:
        elf.check_files([path], A64)
    assert "member x\\n.o is x86_64" in e.value.message and "\n" not in e.value.message


@pytest.mark.parametrize(("data", "why"), [
    (staticlib.AR_MAGIC + _header(b"a.o/", 1000) + AARCH64_OBJ, "extends past the end"),
    (staticlib.AR_MAGIC + _header(b"a.o/", 4)[:48] + b"-1".ljust(10) + b"`\n",
     "is not a number"),
    (staticlib.AR_MAGIC + _header(b"a.o/", 4)[:58] + b"XX", "is malformed"),
    (staticlib.AR_MAGIC + _header(b"/99", 4) + b"abcd", "outside the name table"),
    (staticlib.AR_MAGIC + _header(b"#1/99", 4) + b"abcd", "name at byte 8 is malformed"),
])
def test_malformed_archives_are_refused(tmp_path: Path, data: bytes, why: str) -> None:
    with pytest.raises(staticlib.ArchiveFormatError, match=why):
        list(staticlib.members(io.BytesIO(data), len(data)))
    with pytest.raises(ArchMismatchError, match="cannot be checked as a static archive"):
        elf.check_files([_write(tmp_path, data)], A64)


def test_the_member_count_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(staticlib, "MAX_MEMBERS", 3)
    data = _ar(*[(b"m.o/", b"") for _ in range(3)])  # + the symbol table: 4
    with pytest.raises(staticlib.ArchiveFormatError, match="more than 3 members"):
        list(staticlib.members(io.BytesIO(data), len(data)))


def test_only_each_members_head_is_read() -> None:
    big = AARCH64_OBJ + b"\0" * (1 << 20)
    data = _ar((b"big.o/", big))
    stream = io.BytesIO(data)
    reads: list[int] = []
    real_read = stream.read

    def read(n: int = -1) -> bytes:
        reads.append(n)
        return real_read(n)

    stream.read = read  # type: ignore[method-assign]
    assert list(staticlib.members(stream, len(data))) == [("big.o", AARCH64_OBJ)]
    assert -1 not in reads and max(reads) <= max(staticlib.HEADER_SIZE, staticlib.HEAD_BYTES)
