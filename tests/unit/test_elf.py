from __future__ import annotations

from pathlib import Path

import pytest

from cross_compiler import elf, resources
from cross_compiler.errors import ArchMismatchError
from cross_compiler.targets import load_targets

TARGETS = {t.cpu: t for t in load_targets(["all"], resources.toolchains_dir())}


def make_header(bits: int, endian: str, machine: int, flags: int = 0) -> bytes:
    ident = b"\x7fELF" + bytes([1 if bits == 32 else 2, 1 if endian == "little" else 2, 1])
    ident = ident.ljust(16, b"\0")
    order = "little" if endian == "little" else "big"
    body = bytearray(64 - 16)
    body[0:2] = (3).to_bytes(2, order)  # e_type ET_DYN
    body[2:4] = machine.to_bytes(2, order)
    flags_at = (36 if bits == 32 else 48) - 16
    body[flags_at:flags_at + 4] = flags.to_bytes(4, order)
    return ident + bytes(body)


@pytest.mark.parametrize("cpu", sorted(TARGETS))
def test_each_target_accepts_its_own_header(cpu: str) -> None:
    spec = TARGETS[cpu].elf
    header = elf.parse_header(make_header(spec.bits, spec.endianness, spec.machine, 0x5000400))
    assert header is not None
    assert elf.mismatch(header, spec) is None


def test_x86_64_is_refused_for_aarch64() -> None:
    header = elf.parse_header(make_header(64, "little", 62))
    assert header is not None
    assert elf.mismatch(header, TARGETS["aarch64"].elf) == (
        "is x86_64 64-bit little-endian, expected aarch64 64-bit little-endian"
    )


def test_big_endian_ppc64_is_refused_for_ppc64le() -> None:
    header = elf.parse_header(make_header(64, "big", 21))
    assert header is not None
    assert "big-endian" in (elf.mismatch(header, TARGETS["ppc64le"].elf) or "")


def test_soft_float_arm_is_refused_for_armhf() -> None:
    header = elf.parse_header(make_header(32, "little", 40, elf.EF_ARM_ABI_FLOAT_SOFT))
    assert header is not None
    assert "soft-float" in (elf.mismatch(header, TARGETS["armv7hf"].elf) or "")


def test_not_elf() -> None:
    assert elf.parse_header(b"#!/bin/sh\n" + b"\0" * 60) is None
    assert elf.parse_header(b"\x7fELF") is None


def test_check_files_names_the_offending_file(tmp_path: Path) -> None:
    good = tmp_path / "good.so"
    good.write_bytes(make_header(64, "little", 183))
    script = tmp_path / "run.sh"
    script.write_text("#!/bin/sh\n")
    bad = tmp_path / "bad.so"
    bad.write_bytes(make_header(64, "little", 62))
    assert elf.check_files([good, script], TARGETS["aarch64"]) == [good]
    with pytest.raises(ArchMismatchError, match=r"bad\.so is x86_64"):
        elf.check_files([good, bad], TARGETS["aarch64"])
