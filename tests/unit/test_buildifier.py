"""Every Starlark file we render or ship, formatted and linted by the real buildifier.

buildifier comes from npm (@bazel/buildifier, a prebuilt binary) into .tools/, installed
by scripts/setup.sh; CI fails without it, a developer's local loop may skip.
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from pathlib import Path

import pytest

from cross_compiler import resources
from cross_compiler.toolchain.render import render_toolchain
from cross_compiler.toolchain.targets import available_cpus
from tests.conftest import ROOT, require
from tests.golden_inputs import GOLDEN_DIR, VARIANTS, golden_request

VERSION = "8.2.1"  # scripts/setup.sh installs this one
STARLARK_NAMES = ("BUILD", "BUILD.bazel", "WORKSPACE", "WORKSPACE.bazel", "MODULE.bazel")
WORKSPACES = [ROOT / "examples/pyext", *sorted((ROOT / "tests/workspaces").iterdir())]
# Lint warnings that do not apply, and why. The workspaces build offline with Debian
# bookworm's Bazel 4.2.3, which has these rules built in and no @rules_cc to load them
# from; the rendered package loads them from @rules_cc for Bazel 8 (where they are gone),
# and cc_common is still Bazel's own there.
OFF = ("native-cc-binary", "native-cc-library", "native-cc-test", "native-cc-toolchain",
       "native-cc-toolchain-suite", "native-cc-common", "native-sh-binary", "native-sh-test")


def buildifier() -> str:
    local = ROOT / ".tools/node_modules/.bin/buildifier"
    found = str(local) if local.exists() else shutil.which("buildifier")
    require(found is not None, f"buildifier {VERSION} (npm @bazel/buildifier in .tools/)")
    assert found is not None
    return found


def check(files: list[Path], cwd: Path) -> subprocess.CompletedProcess[str]:
    warnings = ",".join(f"-{w}" for w in OFF)
    return subprocess.run([buildifier(), "--mode=check", "--lint=warn",
                           f"--warnings={warnings}", *map(str, files)],
                          cwd=cwd, capture_output=True, text=True, check=False, timeout=120)


def workspace_files(root: Path) -> list[Path]:
    """A workspace's own Starlark files: not what the tool renders into it, nor Bazel's
    convenience symlinks."""
    found = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).parts
        if rel[0].startswith("bazel-") or rel[0] in ("cross_compiler", "dist"):
            continue
        if path.is_file() and (path.name in STARLARK_NAMES or path.suffix == ".bzl"):
            found.append(path)
    return found


def test_the_pinned_version_is_installed() -> None:
    out = subprocess.run([buildifier(), "--version"], capture_output=True, text=True,
                         check=False).stdout
    assert f"buildifier version: {VERSION}" in out


def test_golden_files_are_buildifier_clean() -> None:
    files = sorted([*GOLDEN_DIR.glob("*/BUILD.bazel"), *GOLDEN_DIR.glob("*/*.bzl")])
    assert len(files) == 2 * (len(available_cpus(resources.toolchains_dir())) + len(VARIANTS))
    result = check(files, ROOT)
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


@pytest.mark.parametrize("bazel_major", [4, 7, 8])
def test_every_cpu_in_one_package_is_buildifier_clean(bazel_major: int,
                                                      tmp_path: Path) -> None:
    # cc_toolchain_suite (legacy, Bazel < 8) or @rules_cc loads (Bazel 8); every target,
    # with and without Python headers (riscv64 has none in the golden inputs).
    requests = [golden_request(c) for c in available_cpus(resources.toolchains_dir())]
    request = dataclasses.replace(requests[0], bazel_major=bazel_major, toolchains=tuple(
        r.toolchains[0] for r in requests))
    files = []
    for name, data in render_toolchain(request).items():
        if name == "BUILD.bazel" or name.endswith(".bzl"):
            (tmp_path / name).write_bytes(data)
            files.append(tmp_path / name)
    assert len(files) == 2
    result = check(files, tmp_path)
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


@pytest.mark.parametrize("workspace", WORKSPACES, ids=lambda p: p.name)
def test_example_and_test_workspaces_are_buildifier_clean(workspace: Path) -> None:
    files = workspace_files(workspace)
    assert files
    result = check(files, workspace)
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_a_badly_formatted_file_is_caught(tmp_path: Path) -> None:
    """The check can fail: a format and a lint finding both count."""
    (tmp_path / "BUILD.bazel").write_text('cc_library(name="a", srcs=["b.cc"])\n')
    (tmp_path / "x.bzl").write_text('def f(x):\n    return x == None\n')
    result = check([tmp_path / "BUILD.bazel", tmp_path / "x.bzl"], tmp_path)
    assert result.returncode != 0
    assert "BUILD.bazel # reformat" in result.stdout + result.stderr
    assert "x.bzl" in result.stderr
