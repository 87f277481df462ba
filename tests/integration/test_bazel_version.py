"""Debian sid's Bazel 7.7.1 (no embed label) reports its real version to Starlark: a
repository rule's native.bazel_version and bazel_features' version repository (Debian's
packaged bazel_features) both say 7.7.1, compiled into an aarch64 binary run under qemu
(docker runner, the sid builder image)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import ROOT, have_engine, require, run_cli

pytestmark = [pytest.mark.docker, pytest.mark.bazel, pytest.mark.qemu, pytest.mark.slow]


def test_starlark_sees_bazel_7_7_1_in_the_sid_image(tmp_path: Path) -> None:
    require(have_engine(), "a running Docker engine (docker.io + dockerd)")
    ws = tmp_path / "ws"
    shutil.copytree(ROOT / "tests" / "workspaces" / "bazel_version", ws)
    result = run_cli("run", "--runner=docker", "--suite=sid", "--cpu=aarch64",
                     f"--workspace={ws}", f"--cache-dir={tmp_path / 'cache'}",
                     "//:bazel_version")
    assert result.returncode == 0, result.stderr[-4000:]
    assert "native.bazel_version=[7.7.1] bazel_features=[7.7.1]" in result.stdout
