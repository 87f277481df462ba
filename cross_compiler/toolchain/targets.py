"""Targets as data: load and validate ``toolchains/<cpu>.toml`` into frozen ``Target`` values."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from cross_compiler.datafile import load_toml
from cross_compiler.errors import TargetError

Endianness = Literal["little", "big"]


@dataclass(frozen=True)
class ElfSpec:
    """What every ELF file built for the target must say in its header."""

    machine: int
    bits: Literal[32, 64]
    endianness: Endianness
    arm_hard_float: bool = False


@dataclass(frozen=True)
class Target:
    """One cross target, as described by one toolchain file."""

    cpu: str
    triple: str
    tool_prefix: str
    compiler_package: str
    debian_arch: str
    constraint_values: tuple[str, ...]
    sysroot: str
    compile_flags: tuple[str, ...]
    link_flags: tuple[str, ...]
    wheel_arch: str
    qemu: str
    elf: ElfSpec
    source: Path
    # Set from the Debian suite that builds it (suites.for_suite): its Python version, and
    # whether the suite's archive has this architecture's Python (riscv64: not bookworm).
    python_version: str = "3.11"
    debian_python: bool = True
    suite: str = "bookworm"
    glibc: str = "2.36"  # the suite's, for the target wheels pip may resolve
    # The older suite whose CPython this is when the builder suite lends it (3.9: bullseye).
    python_source: str = ""

    def tool(self, name: str) -> str:
        """Program name of a GNU tool for this target, e.g. ``aarch64-linux-gnu-gcc``."""
        return f"{self.tool_prefix}{name}"


_STR_FIELDS = (
    "cpu", "triple", "tool_prefix", "compiler_package", "debian_arch",
    "wheel_arch", "qemu",
)
_OPTIONAL_STR_FIELDS = ("sysroot",)
_LIST_FIELDS = ("constraint_values", "compile_flags", "link_flags")
_TOP_FIELDS = (*_STR_FIELDS, *_OPTIONAL_STR_FIELDS, *_LIST_FIELDS, "elf")
_ELF_FIELDS = ("machine", "bits", "endianness", "arm_hard_float")


def _unknown_keys(data: dict[str, Any], allowed: tuple[str, ...], where: str) -> None:
    for key in data:
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"valid fields: {', '.join(allowed)}"
            raise TargetError(f"{where}: unknown field {key!r}", hint)


def _field(data: dict[str, Any], name: str, kind: type, where: str, default: Any = None) -> Any:
    if name not in data:
        if default is not None:
            return default
        raise TargetError(f"{where}: missing field {name!r}", "see toolchains/aarch64.toml")
    value = data[name]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise TargetError(
            f"{where}: field {name!r} must be a {kind.__name__}, got {type(value).__name__}"
        )
    return value


# What each string field may hold. They end up in BUILD.bazel comments, shell scripts and
# the Dockerfile: a newline or a quote there would be live code, so each is held to the
# grammar of what it names.
_NAME = r"[a-z0-9][a-z0-9_]*"
_PATTERNS = {
    "cpu": _NAME,
    "triple": r"[a-z0-9_]+(?:-[a-z0-9_.]+){1,3}",
    "tool_prefix": r"[A-Za-z0-9_./+-]+",
    "compiler_package": r"[a-z0-9][a-z0-9+.-]+",  # a Debian package name
    "debian_arch": r"[a-z0-9]+",
    "wheel_arch": _NAME,
    "qemu": r"[A-Za-z0-9_.+-]+",
    "constraint_values": r"@{0,2}[A-Za-z0-9_.+~-]*//[A-Za-z0-9_./+~-]*(?::[A-Za-z0-9_./+~=-]+)?",
    "sysroot": r"/[^\x00-\x1f\x7f\"'\\$`]*",
    "compile_flags": r"[^\x00-\x1f\x7f]+",
    "link_flags": r"[^\x00-\x1f\x7f]+",
}


def _check_pattern(name: str, value: str, where: str) -> None:
    if re.fullmatch(_PATTERNS[name], value) is None:
        raise TargetError(f"{where}: field {name!r} has an invalid value {value!r}",
                          f"it must match {_PATTERNS[name]}")


def parse_target(data: dict[str, Any], source: Path) -> Target:
    """Validate one parsed toolchain file; errors name the file and the field."""
    where = str(source)
    _unknown_keys(data, _TOP_FIELDS, where)
    strings = {name: _field(data, name, str, where) for name in _STR_FIELDS}
    for name, value in strings.items():
        if not value:
            raise TargetError(f"{where}: field {name!r} must not be empty")
    lists: dict[str, tuple[str, ...]] = {}
    for name in _LIST_FIELDS:
        value = _field(data, name, list, where, default=[])
        if not all(isinstance(item, str) for item in value):
            raise TargetError(f"{where}: field {name!r} must be a list of strings")
        lists[name] = tuple(value)
    if not lists["constraint_values"]:
        raise TargetError(f"{where}: field 'constraint_values' must name at least the cpu")
    sysroot = _field(data, "sysroot", str, where, default="")
    if sysroot and not sysroot.startswith("/"):
        raise TargetError(f"{where}: field 'sysroot' must be an absolute path, got {sysroot!r}")
    for name, value in [*strings.items(), ("sysroot", sysroot)]:
        if value:
            _check_pattern(name, value, where)
    for name, items in lists.items():
        for item in items:
            _check_pattern(name, item, where)
    elf_data = _field(data, "elf", dict, where)
    elf_where = f"{where}: [elf]"
    _unknown_keys(elf_data, _ELF_FIELDS, elf_where)
    bits = _field(elf_data, "bits", int, elf_where)
    if bits not in (32, 64):
        raise TargetError(f"{elf_where}: field 'bits' must be 32 or 64, got {bits}")
    endianness = _field(elf_data, "endianness", str, elf_where)
    if endianness not in ("little", "big"):
        raise TargetError(
            f"{elf_where}: field 'endianness' must be 'little' or 'big', got {endianness!r}"
        )
    elf = ElfSpec(
        machine=_field(elf_data, "machine", int, elf_where),
        bits=bits,
        endianness=endianness,
        arm_hard_float=_field(elf_data, "arm_hard_float", bool, elf_where, default=False),
    )
    if strings["cpu"] != source.stem:
        raise TargetError(
            f"{where}: field 'cpu' is {strings['cpu']!r} but the file is named {source.name!r}",
            f"rename the file to {strings['cpu']}.toml or fix the field",
        )
    return Target(
        **strings, sysroot=sysroot, elf=elf, source=source,
        constraint_values=lists["constraint_values"],
        compile_flags=lists["compile_flags"], link_flags=lists["link_flags"],
    )


def load_target_file(path: Path) -> Target:
    return parse_target(load_toml(path, "toolchain"), path)


def available_cpus(directory: Path) -> list[str]:
    return sorted(p.stem for p in directory.glob("*.toml"))


def load_targets(cpus: list[str], directory: Path) -> list[Target]:
    """Load the named targets (``all`` expands to every file), in the order given."""
    valid = available_cpus(directory)
    if cpus == ["all"]:
        cpus = valid
    if not cpus:
        raise TargetError("no cpu given", f"pass --cpu with one of: {', '.join(valid)}")
    targets: list[Target] = []
    for cpu in dict.fromkeys(cpus):
        if cpu not in valid:
            close = difflib.get_close_matches(cpu, valid, n=1)
            extra = f" (did you mean {close[0]!r}?)" if close else ""
            raise TargetError(
                f"unknown cpu {cpu!r}{extra}", f"valid cpus: {', '.join(valid)}, or all"
            )
        targets.append(load_target_file(directory / f"{cpu}.toml"))
    return targets


def parse_cpu_list(text: str) -> list[str]:
    """``"aarch64, armv7hf"`` -> ``["aarch64", "armv7hf"]``."""
    return [part.strip() for part in text.split(",") if part.strip()]
