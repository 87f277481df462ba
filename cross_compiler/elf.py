"""ELF header checks: is this binary really for the target? Pure over bytes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cross_compiler.errors import ArchMismatchError
from cross_compiler.targets import ElfSpec, Target

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


def check_files(paths: list[Path], target: Target) -> list[Path]:
    """Check every ELF among ``paths``; return the ELF files; raise on the first mismatch."""
    elves: list[Path] = []
    for path in paths:
        if not path.is_file():
            continue
        with path.open("rb") as f:
            header = parse_header(f.read(64))
        if header is None:
            continue
        problem = mismatch(header, target.elf)
        if problem:
            raise ArchMismatchError(
                f"{path} {problem}",
                f"it was not built for {target.cpu}; check the toolchain flags",
            )
        elves.append(path)
    return elves
