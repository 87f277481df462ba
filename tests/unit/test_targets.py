from __future__ import annotations

from pathlib import Path

import pytest

from cross_compiler import resources
from cross_compiler.errors import TargetError
from cross_compiler.toolchain.targets import (
    available_cpus,
    load_target_file,
    load_targets,
    parse_cpu_list,
)

ALL = ["aarch64", "armv7hf", "ppc64le", "riscv64", "s390x"]


def test_catalogue_has_the_five_targets() -> None:
    assert available_cpus(resources.toolchains_dir()) == ALL


def test_all_expands_and_values_are_right() -> None:
    targets = {t.cpu: t for t in load_targets(["all"], resources.toolchains_dir())}
    assert targets["aarch64"].triple == "aarch64-linux-gnu"
    assert targets["aarch64"].elf.machine == 183
    assert targets["armv7hf"].elf.bits == 32 and targets["armv7hf"].elf.arm_hard_float
    assert targets["s390x"].elf.endianness == "big"
    assert targets["ppc64le"].tool("gcc") == "powerpc64le-linux-gnu-gcc"
    assert "@platforms//cpu:riscv64" in targets["riscv64"].constraint_values


def test_unknown_cpu_lists_valid_ones() -> None:
    with pytest.raises(TargetError) as e:
        load_targets(["arm64x"], resources.toolchains_dir())
    assert "unknown cpu 'arm64x'" in str(e.value)
    for cpu in ALL:
        assert cpu in str(e.value)


def test_near_miss_cpu_gets_did_you_mean() -> None:
    with pytest.raises(TargetError, match="did you mean 'aarch64'"):
        load_targets(["aarch46"], resources.toolchains_dir())


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    return path


def _valid_text() -> str:
    return (resources.toolchains_dir() / "aarch64.toml").read_text()


def test_malformed_toml_names_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "aarch64", "cpu = [unterminated")
    with pytest.raises(TargetError, match=r"aarch64\.toml: not valid TOML"):
        load_target_file(path)


def test_unknown_field_gets_did_you_mean(tmp_path: Path) -> None:
    path = _write(tmp_path, "aarch64", _valid_text().replace("tool_prefix", "tool_prefx"))
    with pytest.raises(TargetError) as e:
        load_target_file(path)
    assert "unknown field 'tool_prefx'" in str(e.value)
    assert "did you mean 'tool_prefix'" in str(e.value)


def test_wrong_type_names_the_field(tmp_path: Path) -> None:
    text = _valid_text().replace("compile_flags = []", 'compile_flags = "-O2"')
    with pytest.raises(TargetError, match="field 'compile_flags' must be a list"):
        load_target_file(_write(tmp_path, "aarch64", text))


def test_missing_field_names_the_field(tmp_path: Path) -> None:
    text = "\n".join(line for line in _valid_text().splitlines() if not line.startswith("triple"))
    with pytest.raises(TargetError, match="missing field 'triple'"):
        load_target_file(_write(tmp_path, "aarch64", text))


def test_bad_elf_section(tmp_path: Path) -> None:
    text = _valid_text().replace('endianness = "little"', 'endianness = "middle"')
    with pytest.raises(TargetError, match=r"\[elf\]: field 'endianness'"):
        load_target_file(_write(tmp_path, "aarch64", text))


def test_cpu_must_match_file_name(tmp_path: Path) -> None:
    with pytest.raises(TargetError, match=r"file is named 'arm\.toml'"):
        load_target_file(_write(tmp_path, "arm", _valid_text()))


def test_relative_sysroot_is_refused(tmp_path: Path) -> None:
    text = _valid_text().replace('sysroot = ""', 'sysroot = "sysroots/arm64"')
    with pytest.raises(TargetError, match="sysroot' must be an absolute path"):
        load_target_file(_write(tmp_path, "aarch64", text))


def test_parse_cpu_list() -> None:
    assert parse_cpu_list(" aarch64, armv7hf ,") == ["aarch64", "armv7hf"]
