"""package_command is a shell command (real Bazel 4.2.3, local runner): the pattern of
release one-liners, `rm -rf build && … && cp bazel-bin/lib/*.so build/greet/ && python3
pkg/make_wheel.py build {out} > build/package.log`, run through sh -c from the workspace root,
packages a wheel that is retagged for the target."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest

from cross_compiler.toolchain.targets import load_targets
from tests.conftest import ROOT, have_bazel, require, run_cli, shutdown_bazel

pytestmark = [pytest.mark.bazel, pytest.mark.slow]

WORKSPACE = ROOT / "tests" / "workspaces" / "shell_package"
(A64,) = load_targets(["aarch64"], ROOT / "toolchains")


def test_a_package_command_with_and_a_glob_and_a_redirection(tmp_path: Path) -> None:
    require(have_bazel(), "bazel (bazel-bootstrap)")
    require(shutil.which(A64.tool("gcc")) is not None, A64.compiler_package)
    ws = tmp_path / "ws"
    shutil.copytree(WORKSPACE, ws)
    try:
        result = run_cli("build", "--cpu=aarch64", "--runner=local", cwd=ws / "lib")
        assert result.returncode == 0, result.stderr[-3000:]
        assert "packaging (sh -c, in the workspace): rm -rf build && " in result.stderr
        # The redirection took the packager's output; the glob found the library.
        assert (ws / "build" / "package.log").read_text() == (
            "wrote greet-1.0-py3-none-linux_x86_64.whl (5 files)\n")
        assert (ws / "build" / "greet" / "libgreet.so").is_file()
        (wheel,) = (ws / "dist").glob("*.whl")
        assert wheel.name.startswith("greet-1.0-py3-none-") and wheel.name.endswith("_aarch64.whl")
        assert f"aarch64\t{wheel}\t" in result.stdout  # dist/ is not under the cwd (lib/)
        with zipfile.ZipFile(wheel) as zf:
            assert zf.read("greet/libgreet.so")[:20][18] == 183  # e_machine EM_AARCH64
        # The same command again: `rm -rf build` clears the read-only copies it made.
        again = run_cli("build", "--cpu=aarch64", "--runner=local", f"--workspace={ws}")
        assert again.returncode == 0, again.stderr[-3000:]
    finally:
        shutdown_bazel(ws)
