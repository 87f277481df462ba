"""Compiler families are data: families/*.toml resolved per target, rendered without any
branch on the family's name."""

from __future__ import annotations

from pathlib import Path

import pytest

from cross_compiler import families, probe, resources
from cross_compiler.errors import TargetError, ToolMissingError
from cross_compiler.render import render_toolchain
from cross_compiler.targets import load_targets
from tests.golden_inputs import golden_request

FAMILIES = resources.data_dir("families")


def _target(cpu: str):  # type: ignore[no-untyped-def]
    return load_targets([cpu], resources.toolchains_dir())[0]


def test_shipped_families() -> None:
    assert families.available_families(FAMILIES) == ["clang", "gcc"]


def test_gcc_is_todays_toolchain() -> None:
    gcc = families.shipped("gcc").resolve(_target("aarch64"))
    assert gcc.compiler == "gcc" and gcc.packages == "g++-aarch64-linux-gnu"
    assert gcc.tools["gcc"] == "aarch64-linux-gnu-gcc"
    assert gcc.required == ("aarch64-linux-gnu-g++",)
    assert "-fno-canonical-system-headers" in gcc.flags.unfiltered_compile
    assert gcc.flags.link == ("-Wl,-no-as-needed", "-Wl,-z,relro,-z,now", "-pass-exit-codes")
    assert gcc.flags.probe == ()


def test_clang_builds_on_gcc_minus_gcc_only_flags() -> None:
    clang = families.shipped("clang").resolve(_target("aarch64"))
    assert clang.compiler == "clang" and clang.needs_sysroot
    assert clang.tools["gcc"] == "clang" and clang.tools["ld"] == "ld.lld"
    assert "-fno-canonical-system-headers" not in clang.flags.unfiltered_compile
    assert "-no-canonical-prefixes" in clang.flags.unfiltered_compile
    assert clang.flags.compile[-1] == "--target=aarch64-linux-gnu"
    assert clang.flags.link == ("-Wl,-no-as-needed", "-Wl,-z,relro,-z,now",
                                "--target=aarch64-linux-gnu", "-fuse-ld=lld")
    assert clang.flags.probe == ("--target=aarch64-linux-gnu", "-no-canonical-prefixes")
    assert clang.flags.link_libs == ("-lstdc++", "-lm", "-lpthread")


def test_per_cpu_overrides() -> None:
    s390x = families.shipped("clang").resolve(_target("s390x"))
    assert "-fuse-ld=lld" not in s390x.flags.link and "-fuse-ld=bfd" in s390x.flags.link
    assert s390x.required == ("ld.lld", "s390x-linux-gnu-ld.bfd")
    arm = families.shipped("clang").resolve(_target("armv7hf"))
    assert "--target=armv7a-linux-gnueabihf" in arm.flags.compile
    assert "-mfpu=vfpv3-d16" in arm.flags.compile


def test_clang_render_declares_the_sysroot_files() -> None:
    build = render_toolchain(golden_request("aarch64", "clang", "bullseye"))["BUILD.bazel"]
    text = build.decode()
    repo = "@cross_compiler_sysroot_bullseye_aarch64//:files"
    for attr in ("all_files", "compiler_files", "linker_files"):
        assert f'{attr} = "{repo}"' in text
    assert 'sysroot = "external/cross_compiler_sysroot_bullseye_aarch64"' in text
    assert '"aarch64|clang": ":cc_compiler_aarch64"' in text
    assert 'compiler = "clang"' in text
    assert '"/usr/lib/clang/14.0.6/include"' in text
    assert '"/usr/lib/llvm-14/lib/clang/14.0.6/include"' in text


def test_missing_clang_names_its_packages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    clang = families.shipped("clang").resolve(_target("aarch64"))
    with pytest.raises(ToolMissingError, match="apt-get install clang lld llvm"):
        probe.tool_paths(_target("aarch64"), clang)


def _write(directory: Path, name: str, text: str) -> None:
    (directory / f"{name}.toml").write_text(text)


def test_bad_family_files_name_the_field(tmp_path: Path) -> None:
    (tmp_path / "gcc.toml").write_bytes((FAMILIES / "gcc.toml").read_bytes())
    _write(tmp_path, "icc", 'family = "icc"\ncompiler = "icc"\npackages = "x"\nbase = "gcc"\n'
           'cflags = []\n')
    with pytest.raises(TargetError, match="unknown field 'cflags'"):
        families.load_family("icc", tmp_path)
    _write(tmp_path, "icc", 'family = "icc"\ncompiler = "icc"\npackages = "x"\nbase = "gcc"\n'
           '[flags]\nlink = ["-x\\n-y"]\n')
    with pytest.raises(TargetError, match="'link'"):
        families.load_family("icc", tmp_path)
    with pytest.raises(TargetError, match="unknown compiler family 'zig'"):
        families.load_family("zig", tmp_path)
    _write(tmp_path, "icc", 'family = "icc"\ncompiler = "icc"\npackages = "x"\n')
    with pytest.raises(TargetError, match=r"missing table \[tools\]"):
        families.load_family("icc", tmp_path)


def test_render_names_no_family() -> None:
    """render.py reads resolved values only: no family name in its source."""
    source = (Path(families.__file__).parent / "render.py").read_text()
    for name in families.available_families(FAMILIES):
        assert f'"{name}"' not in source.replace('RULE_DEFAULT_COMPILER = "gcc"', "")
