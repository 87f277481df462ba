from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from cross_compiler import resources
from cross_compiler.bazel.flags import (
    BazelCommand,
    BazelMode,
    BazelVersion,
    build_flags,
    choose_mode,
    cquery_files_flags,
    parse_version,
    toolchain_flags,
)
from cross_compiler.errors import ConfigError
from cross_compiler.toolchain.targets import load_targets

(AARCH64,) = load_targets(["aarch64"], resources.toolchains_dir())
V4, V6, V7 = BazelVersion(4, 2, 3), BazelVersion(6, 4, 0), BazelVersion(7, 1, 0)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("bazel 6.4.0", V6),
        ("4.2.3+ds-9", V4),
        ("bazel 7.1.0rc1", V7),
        ("bazel 8.0", BazelVersion(8, 0, 0)),
        ("bazel no_version", None),
    ],
)
def test_parse_version(text: str, expected: BazelVersion | None) -> None:
    assert parse_version(text) == expected


def test_default_mode_by_version() -> None:
    assert choose_mode(V4, "auto") is BazelMode.LEGACY
    assert choose_mode(V6, "auto") is BazelMode.LEGACY
    assert choose_mode(V6, "platforms") is BazelMode.PLATFORMS
    assert choose_mode(V7, "auto") is BazelMode.PLATFORMS


def test_legacy_mode_is_refused_on_bazel_7() -> None:
    with pytest.raises(ConfigError, match="--bazel-mode=legacy cannot work"):
        choose_mode(V7, "legacy")


def test_unknown_mode() -> None:
    with pytest.raises(ConfigError, match="unknown --bazel-mode 'crosstool'"):
        choose_mode(V4, "crosstool")


def test_legacy_flags_are_the_seed_command_line() -> None:
    flags = toolchain_flags(AARCH64, BazelMode.LEGACY, V4)
    assert flags == (
        "--crosstool_top=//cross_compiler:toolchain",
        "--cpu=aarch64",
        "--host_crosstool_top=@bazel_tools//tools/cpp:toolchain",
        "--distinct_host_configuration=true",
        "--platform_mappings=cross_compiler/platform_mappings",
        "--extra_toolchains=//cross_compiler:cc_toolchain_aarch64",
    )


def test_platform_flags_bazel_4_and_7() -> None:
    v4 = toolchain_flags(AARCH64, BazelMode.PLATFORMS, V4)
    assert v4[:2] == (
        "--incompatible_enable_cc_toolchain_resolution",
        "--platforms=//cross_compiler:linux_aarch64",
    )
    v7 = toolchain_flags(AARCH64, BazelMode.PLATFORMS, V7)
    assert "--platforms=//cross_compiler:linux_aarch64" in v7
    assert not any(f.startswith("--distinct_host_configuration") for f in v7)
    assert "--incompatible_enable_cc_toolchain_resolution" not in v7


def test_build_flags_carry_overrides_and_mode() -> None:
    flags = build_flags(
        AARCH64, BazelMode.LEGACY, V4, {"rules_cc": Path("/o/rules_cc")}, "opt", ["--jobs=2"]
    )
    assert flags[0] == "--override_repository=rules_cc=/o/rules_cc"
    assert flags[-2:] == ("--compilation_mode=opt", "--jobs=2")


def test_cquery_output_by_version() -> None:
    assert cquery_files_flags(BazelVersion(5, 3, 0)) == ("--output=files",)
    assert cquery_files_flags(V4)[0] == "--output=starlark"


def test_command_argv() -> None:
    cmd = BazelCommand("bazel", "build", ("--cpu=aarch64",), ("//a",), ("--batch",))
    assert cmd.argv() == ["bazel", "--batch", "build", "--cpu=aarch64", "--", "//a"]


def test_wheel_python_tag_must_match_the_target_headers(tmp_path: Path) -> None:
    from cross_compiler.errors import BuildError
    from cross_compiler.toolchain.suites import for_suite, load_suites
    from cross_compiler.wheel.packaging import check_python_tags

    sid = load_suites(resources.data_dir("suites"))["sid"]
    (target,) = [for_suite(t, sid) for t in load_targets(["aarch64"], resources.toolchains_dir())]
    def wheel(name: str) -> Path:
        with zipfile.ZipFile(tmp_path / name, "w") as zf:
            zf.writestr("m/__init__.py", "")
        return tmp_path / name

    check_python_tags([wheel("m-1.0-cp313-cp313-linux_x86_64.whl"),
                       wheel("m-1.0-cp39-abi3-linux_x86_64.whl"),
                       wheel("m-1.0-py3-none-any.whl")], target)
    with pytest.raises(BuildError, match=r"tagged cp314 but .* Python 3\.13 headers for aarch64"):
        check_python_tags([wheel("m-1.0-cp314-cp314-linux_x86_64.whl")], target)


def test_http_cache_with_grpc_executor_is_refused_before_bazel_starts() -> None:
    from cross_compiler.bazel.flags import remote_flags

    with pytest.raises(ConfigError, match=r"HTTP remote cache \(https://\*\*\*@c\b"):
        remote_flags("https://user:pw@c/x", True, "grpc://e:1", "", "")
    assert remote_flags("grpc://e:1", True, "grpc://e:1", "", "") == (
        "--remote_cache=grpc://e:1", "--remote_upload_local_results=true",
        "--remote_executor=grpc://e:1")


def test_remote_exec_properties_go_to_the_executor_only() -> None:
    from cross_compiler.bazel.flags import remote_flags

    props = ["OSFamily=Linux", "container-image=docker://cross-compiler-builder:sid-abc"]
    flags = remote_flags("", True, "grpc://e:1", "", "", props)
    assert flags[-2:] == ("--remote_default_exec_properties=OSFamily=Linux",
                          "--remote_default_exec_properties=container-image=docker://"
                          "cross-compiler-builder:sid-abc")
    assert remote_flags("grpc://c:1", True, "", "", "", props) == (
        "--remote_cache=grpc://c:1", "--remote_upload_local_results=true")
    with pytest.raises(ConfigError, match="'ISA aarch64' is not KEY=VALUE"):
        remote_flags("", True, "grpc://e:1", "", "", ["ISA aarch64"])
