"""Pins win: a WORKSPACE that declares its own rules_license keeps it on Debian's Bazel 7.7.1
(where the tool stands Debian's packaged rules in for undeclared repositories, one line
each) and on Bazel 4.2.3; the version it pins is compiled into a target binary run under
qemu."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import ROOT, have_bazel, have_engine, require, run_cli, shutdown_bazel

pytestmark = [pytest.mark.bazel, pytest.mark.qemu, pytest.mark.slow]
OWN = "rules_license=[1.0.0-own-pin]"


def _workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    shutil.copytree(ROOT / "tests" / "workspaces" / "own_pins", ws)
    return ws


@pytest.mark.docker
def test_the_workspace_rules_license_wins_on_bazel_7(tmp_path: Path) -> None:
    require(have_engine(), "a running Docker engine (docker.io + dockerd)")
    ws = _workspace(tmp_path)
    result = run_cli("run", "--runner=docker", "--suite=sid", "--cpu=aarch64",
                     f"--workspace={ws}", f"--cache-dir={tmp_path / 'cache'}", "//:pins")
    assert result.returncode == 0, result.stderr[-4000:]
    assert OWN in result.stdout
    assert ("@rules_license: the workspace's own (its WORKSPACE declares it), not the "
            "packaged copy") in result.stderr
    assert ("@rules_cc: the workspace does not declare it; offline Bazel uses the packaged "
            "copy at /usr/share/bazel/rules/cc") in result.stderr


def test_the_workspace_rules_license_wins_on_bazel_4(tmp_path: Path) -> None:
    require(have_bazel(), "bazel (bazel-bootstrap)")
    ws = _workspace(tmp_path)
    try:
        result = run_cli("run", "--cpu=armv7hf", f"--workspace={ws}", "//:pins")
        assert result.returncode == 0, result.stderr[-4000:]
        assert OWN in result.stdout
    finally:
        shutdown_bazel(ws)
