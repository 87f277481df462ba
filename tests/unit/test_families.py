"""Compiler families are data: families/*.toml resolved per target, rendered without any
branch on the family's name."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from cross_compiler import resources
from cross_compiler.errors import TargetError, ToolMissingError
from cross_compiler.toolchain import families, probe
from cross_compiler.toolchain.render import is_executable, render_toolchain
from cross_compiler.toolchain.targets import load_targets
from tests.golden_inputs import golden_request

FAMILIES = resources.data_dir("families")


def _target(cpu: str):  # type: ignore[no-untyped-def]
    return load_targets([cpu], resources.toolchains_dir())[0]


def test_shipped_families() -> None:
    assert families.available_families(FAMILIES) == ["clang", "gcc", "zig"]


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
    files = render_toolchain(golden_request("aarch64", "clang", "bullseye"))
    text = files["BUILD.bazel"].decode()
    repo = "@cross_compiler_sysroot_bullseye_aarch64//:files"
    # Compiling and linking read the sysroot and the cpp wrapper: one filegroup of both.
    for attr in ("all_files", "compiler_files", "linker_files"):
        assert f'{attr} = ":tool_files_aarch64"' in text
    assert ('srcs = [\n        "tools/aarch64/bin/cpp",\n        "' + repo + '",\n    ]'
            in text)
    assert 'ar_files = ":empty"' in text  # llvm-ar is not wrapped and reads no sysroot
    assert 'sysroot = "external/cross_compiler_sysroot_bullseye_aarch64"' in text
    assert '"aarch64|clang": ":cc_compiler_aarch64"' in text
    assert 'compiler = "clang"' in text
    assert '"/usr/lib/clang/14.0.6/include"' in text
    assert '"/usr/lib/llvm-14/lib/clang/14.0.6/include"' in text


def test_clang_preprocessor_is_the_unversioned_driver() -> None:
    # Debian versions clang-cpp (bookworm's clang-cpp-14, sid's newer): `clang -E` is in both.
    clang = families.shipped("clang").resolve(_target("aarch64"))
    assert clang.tools["cpp"] == "clang" and clang.wrappers == {"cpp": ("-E",)}
    files = render_toolchain(golden_request("aarch64", "clang", "bullseye"))
    assert files["tools/aarch64/bin/cpp"].decode().endswith('exec /usr/bin/clang -E "$@"\n')
    assert is_executable("tools/aarch64/bin/cpp")


def test_zig_wraps_its_tools_with_the_routes_glibc() -> None:
    zig = families.shipped("zig").resolve(_target("aarch64"), "2.17", "/c")
    assert zig.compiler == "zig" and not zig.needs_sysroot
    assert zig.python_package == "ziglang" and zig.tools["gcc"] == "zig"
    assert zig.wrappers["gcc"] == ("c++", "-target", "aarch64-linux-gnu.2.17")
    assert zig.wrappers["ar"] == ("ar",)
    assert zig.wrapper_env == {"ZIG_GLOBAL_CACHE_DIR": "/c/zig"}
    assert zig.writable_dirs == ("/c/zig",)
    assert zig.bazel_flags == ("--dynamic_mode=off",)  # one libc++ per shared object
    # zig's linker takes only the two-dash spelling; libc++ comes with `zig c++`.
    assert "-Wl,-no-as-needed" not in zig.flags.link and "-Wl,--no-as-needed" in zig.flags.link
    assert "-fno-canonical-system-headers" not in zig.flags.unfiltered_compile
    assert zig.flags.link_libs == ("-lm", "-lpthread")
    arm = families.shipped("zig").resolve(_target("armv7hf"), "2.17", "/c")
    assert arm.wrappers["gcc"] == ("c++", "-target", "arm-linux-gnueabihf.2.17")
    assert "-mcpu=generic+v7a+vfp3d16-neon-d32" in arm.flags.compile


def test_zig_without_a_baseline_says_so() -> None:
    with pytest.raises(TargetError, match="'zig' needs glibc to build for aarch64") as e:
        families.shipped("zig").resolve(_target("aarch64"), "", "/c")
    assert e.value.hint == "build it with --manylinux"


def test_zig_is_found_inside_its_python_package(monkeypatch: pytest.MonkeyPatch,
                                                tmp_path: Path) -> None:
    package = tmp_path / "fakezig"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "zig").write_text("#!/bin/sh\n")
    (package / "zig").chmod(0o755)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PATH", "/nonexistent")
    zig = families.shipped("zig").resolve(_target("aarch64"), "2.17", "/c")
    found = probe.tool_paths(_target("aarch64"), replace(zig, python_package="fakezig"))
    assert found["gcc"] == found["ar"] == str(package / "zig")
    assert found["strip"] == "/bin/false"  # optional: llvm-strip is not on this PATH
    with pytest.raises(ToolMissingError, match=r"scripts/setup\.sh"):
        probe.tool_paths(_target("aarch64"), replace(zig, python_package="nosuchpackage"))


def test_zig_render_writes_executable_wrappers_and_declares_them() -> None:
    files = render_toolchain(golden_request("aarch64", "zig"))
    gcc = files["tools/aarch64/bin/gcc"].decode()
    assert gcc.endswith("export ZIG_GLOBAL_CACHE_DIR=/cache/cross_compiler/zig\n"
                        "exec /venv/lib/python3.11/site-packages/ziglang/zig c++ -target "
                        'aarch64-linux-gnu.2.17 "$@"\n')
    assert is_executable("tools/aarch64/bin/gcc")
    text = files["BUILD.bazel"].decode()
    for attr in ("all_files", "ar_files", "compiler_files", "linker_files"):
        assert f'{attr} = ":tool_files_aarch64"' in text
    assert '"gcc": "tools/aarch64/bin/gcc"' in text and '"aarch64|zig"' in text


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
    _write(tmp_path, "icc", 'family = "icc"\ncompiler = "icc"\npackages = "x"\nbase = "gcc"\n'
           'bazel_flags = ["--dynamic_mode=off; rm -rf ~"]\n')
    with pytest.raises(TargetError, match="'bazel_flags'"):
        families.load_family("icc", tmp_path)
    with pytest.raises(TargetError, match="unknown compiler family 'tcc'"):
        families.load_family("tcc", tmp_path)
    _write(tmp_path, "icc", 'family = "icc"\ncompiler = "icc"\npackages = "x"\n')
    with pytest.raises(TargetError, match=r"missing table \[tools\]"):
        families.load_family("icc", tmp_path)


def test_render_names_no_family() -> None:
    """render.py reads resolved values only: no family name in its source."""
    source = (Path(families.__file__).parent / "render.py").read_text()
    for name in families.available_families(FAMILIES):
        assert f'"{name}"' not in source.replace('RULE_DEFAULT_COMPILER = "gcc"', "")
