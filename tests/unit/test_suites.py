"""Debian suites as data, and which one a workspace gets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cross_compiler import resources
from cross_compiler.errors import ConfigError, TargetError
from cross_compiler.toolchain.suites import (
    choose_suite,
    for_suite,
    host_suite,
    load_suites,
    read_bazelversion,
)
from cross_compiler.toolchain.targets import load_targets

SUITES = load_suites(resources.data_dir("suites"))


def test_catalogue() -> None:
    assert SUITES["bookworm"].bazel_version == "4.2.3" and SUITES["sid"].bazel_major == 7
    assert SUITES["bookworm"].root_packages("arm64")[0] == "python3.11-minimal:arm64"
    assert "libssl3t64:riscv64" in SUITES["sid"].root_packages("riscv64")
    assert not SUITES["bookworm"].has_python("riscv64") and SUITES["sid"].has_python("riscv64")


@pytest.mark.parametrize(("requested", "version", "has_module", "expected"), [
    ("auto", None, False, "bookworm"),
    ("auto", "7.7.0", False, "sid"),
    ("auto", "7.x", False, "sid"),
    ("auto", "4.2.3", True, "bookworm"),
    ("auto", None, True, "sid"),
    ("bookworm", "7.7.0", False, "bookworm"),
])
def test_choose_suite(requested: str, version: str | None, has_module: bool,
                      expected: str) -> None:
    assert choose_suite(requested, version, has_module, SUITES)[0].name == expected


@pytest.mark.parametrize("version", ["6.5.0", "8.0.0", "latest", "user/7.1.0", "7;rm -rf"])
def test_bazelversion_no_image_provides_is_one_line_naming_what_is_available(
        version: str) -> None:
    with pytest.raises(ConfigError) as e:
        choose_suite("auto", version, False, SUITES)
    text = str(e.value)
    assert "\n" not in text and "4.2.3 (bookworm)" in text and "7.7.1 (sid)" in text


def test_unknown_suite() -> None:
    with pytest.raises(ConfigError, match=r"unknown suite .jessie..*bookworm, sid"):
        choose_suite("jessie", None, False, SUITES)


def test_read_bazelversion_skips_comments_and_blank_lines() -> None:
    assert read_bazelversion("# pinned\n\n 7.4.1 \n") == "7.4.1"
    assert read_bazelversion("") == ""


def test_host_suite_from_os_release() -> None:
    assert host_suite('VERSION_CODENAME=bookworm\nID=debian\n', SUITES) == "bookworm"
    assert host_suite('PRETTY_NAME="Debian GNU/Linux forky/sid"\nVERSION_CODENAME=forky\n',
                      SUITES) == "sid"
    assert host_suite('VERSION_CODENAME=jammy\n', SUITES) == "bookworm"


def test_for_suite_sets_python() -> None:
    (riscv,) = load_targets(["riscv64"], resources.toolchains_dir())
    assert not for_suite(riscv, SUITES["bookworm"]).debian_python
    sid = for_suite(riscv, SUITES["sid"])
    assert sid.debian_python and sid.python_version == "3.13" and sid.suite == "sid"


def test_bad_suite_file_names_the_field(tmp_path: Path) -> None:
    text = (resources.data_dir("suites") / "sid.toml").read_text()
    (tmp_path / "sid.toml").write_text(text.replace('"libc6"', '"libc6\\nRUN evil"'))
    with pytest.raises(TargetError, match="runtime_packages"):
        load_suites(tmp_path)


@pytest.mark.parametrize(("files", "expected"), [
    (["WORKSPACE"], "bookworm"),
    (["WORKSPACE.bazel"], "bookworm"),
    (["MODULE.bazel"], "sid"),
    (["MODULE.bazel", "WORKSPACE"], "sid"),
    (["MODULE.bazel", "WORKSPACE.bazel"], "sid"),
    (["MODULE.bazel", "WORKSPACE", ".bazelversion"], "bookworm"),  # .bazelversion: 4.2.3
])
def test_a_workspace_with_module_bazel_gets_the_bzlmod_bazel(
        files: list[str], expected: str, tmp_path: Path) -> None:
    from cross_compiler import api, config

    for name in files:
        (tmp_path / name).write_text("4.2.3\n" if name == ".bazelversion" else "")
    suite, why = api.workspace_suite(tmp_path, config.resolve({}, "f", {}, {}), {})
    assert suite.name == expected
    if expected == "sid":
        assert why.startswith("the workspace has MODULE.bazel: bzlmod needs Bazel 7")


def test_module_overrides_are_refused_before_a_bazel_4_starts(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cross_compiler import api, config
    from cross_compiler.bazel.flags import BazelVersion
    from cross_compiler.bazel.localbuild import BazelSetup, check_settings_apply

    overrides = {"module_overrides": ["abseil-cpp=/srv/a", "zlib=/srv/z"]}
    settings = config.resolve(overrides, "f", {}, {})
    with pytest.raises(ConfigError) as e:
        check_settings_apply(settings, "4.2.3", "the local runner")
    assert str(e.value) == (
        "module_overrides (abseil-cpp, zlib) need bzlmod (Bazel 7), and the local runner has "
        "Bazel 4.2.3; use repository_overrides for a WORKSPACE repository, or Bazel 7 (the "
        "docker runner with --suite=sid, or a .bazelversion of 7.x)")
    check_settings_apply(settings, "7.7.1", "the local runner")  # applies: nothing said
    check_settings_apply(config.resolve({}, "f", {}, {}), "4.2.3", "the local runner")

    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "WORKSPACE").write_text("")
    (ws / "cross_compiler.toml").write_text(
        '[build]\nmodule_overrides = ["abseil-cpp=/srv/a"]\nrunner = "local"\n')
    env = {"CROSS_COMPILER_CACHE": str(tmp_path / "cache"), "PATH": os.environ["PATH"]}

    def went_on(*args: object, **kwargs: object) -> None:
        raise AssertionError("the build went on after the refusal")

    # The local runner: after asking Bazel its version, before anything is prepared or run.
    monkeypatch.setattr(api, "probe_bazel",
                        lambda program, env=None: BazelSetup(program, BazelVersion(4, 2, 3), {}))
    monkeypatch.setattr(api.portable, "prepare", went_on)
    monkeypatch.setattr(api, "build_local", went_on)
    with pytest.raises(ConfigError, match=r"^module_overrides \(abseil-cpp\) need bzlmod .*"
                                          r"the local runner has Bazel 4\.2\.3"):
        api.build(ws, ["aarch64"], env, {})
    # The docker runner: for the image it picked, before any image or container.
    with pytest.raises(ConfigError, match=r"Debian bookworm's image has Bazel 4\.2\.3"):
        api.docker_suite(ws, config.resolve(overrides, "f", {}, {}), env)
    assert api.docker_suite(ws, config.resolve(overrides, "f", {}, {"suite": "sid"}),
                            env).name == "sid"
