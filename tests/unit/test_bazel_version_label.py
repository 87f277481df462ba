"""Debian's Bazel >= 7 has no embed label: the tool gives its server a build-data.properties
on the boot class path so that Starlark's native.bazel_version is the real version."""

from __future__ import annotations

from pathlib import Path

from cross_compiler import config, resources
from cross_compiler.bazel.flags import BazelVersion
from cross_compiler.bazel.localbuild import (
    BazelSetup,
    build_data_dir,
    plan_build,
    version_startup_options,
)
from cross_compiler.toolchain.targets import load_targets

V771 = BazelVersion(7, 7, 1)


def test_the_label_file_is_written_once_and_appended_to_the_boot_class_path(
        tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path)}
    directory = tmp_path / ".cache" / "cross_compiler" / "bazel-build-data" / "7.7.1"
    assert build_data_dir(V771, env) == directory
    assert version_startup_options(V771, env) == (
        f"--host_jvm_args=-Xbootclasspath/a:{directory}",)
    properties = directory / "build-data.properties"
    assert properties.read_bytes() == b"build.label=7.7.1\n"
    before = properties.stat().st_mtime_ns
    assert version_startup_options(V771, env)  # same text: not rewritten
    assert properties.stat().st_mtime_ns == before
    assert sorted(p.name for p in directory.iterdir()) == ["build-data.properties"]


def test_xdg_cache_home_is_honoured_and_a_stale_label_is_replaced(tmp_path: Path) -> None:
    env = {"XDG_CACHE_HOME": str(tmp_path / "xdg"), "HOME": "/nonexistent"}
    properties = build_data_dir(V771, env) / "build-data.properties"
    properties.parent.mkdir(parents=True)
    properties.write_text("build.label=7.0.0\n")
    version_startup_options(V771, env)
    assert properties.read_text() == "build.label=7.7.1\n"


def test_an_unwritable_or_spaced_place_gives_no_option(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert version_startup_options(V771, {"XDG_CACHE_HOME": str(blocker)}) == ()
    assert version_startup_options(V771, {"XDG_CACHE_HOME": str(tmp_path / "a b")}) == ()


def test_every_command_takes_the_setup_startup_options_before_the_users(
        tmp_path: Path) -> None:
    a64 = load_targets(["aarch64"], resources.toolchains_dir())[0]
    setup = BazelSetup("bazel", V771, {}, startup=("--host_jvm_args=-Xbootclasspath/a:/d",))
    settings = config.resolve({"bazel_startup_options": ["--output_user_root=/o"]},
                              "cross_compiler.toml", {}, {})
    ws = Path(__file__).resolve().parents[2] / "examples/pyext"
    plan = plan_build(ws, a64, settings, setup, {"PATH": "/usr/bin",
                                                 "CROSS_COMPILER_CACHE": str(tmp_path)})
    for command in (plan.build, plan.cquery, plan.info, plan.aquery):
        assert command is not None
        assert command.startup == ("--host_jvm_args=-Xbootclasspath/a:/d",
                                   "--output_user_root=/o")
