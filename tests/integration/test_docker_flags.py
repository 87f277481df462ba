"""Patterns of real workspaces in the docker runner (real engine, Bazel 4.2.3): a local copy
named by a raw `--override_repository` flag outside the workspace, and a
`workspace_status_command` that stamps the build with `git rev-parse HEAD`."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT, have_engine, require, run_cli, shutdown_bazel

pytestmark = [pytest.mark.docker, pytest.mark.bazel, pytest.mark.slow]

WORKSPACES = ROOT / "tests" / "workspaces"
STATUS = """#!/bin/sh
# A release's stamping script: fails (and fails the build) when git is missing.
set -e
commit=$(git rev-parse HEAD)
echo "STABLE_GIT_COMMIT $commit"
"""


def _git(ws: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid"}
    return subprocess.run(["git", "-C", str(ws), *args], env=env, capture_output=True,
                          text=True, check=True).stdout.strip()


def test_raw_flag_paths_are_mounted_and_git_stamps_the_build(tmp_path: Path) -> None:
    require(have_engine(), "a running Docker engine (docker.io + dockerd)")
    ws, dep, cache = tmp_path / "ws", tmp_path / "srv" / "greeting", tmp_path / "cache"
    shutil.copytree(WORKSPACES / "offline_dep", ws)
    shutil.copytree(WORKSPACES / "greeting", dep)
    (ws / "status.sh").write_text(STATUS)
    (ws / "status.sh").chmod(0o755)
    _git(ws, "init", "-q")
    _git(ws, "add", ".")
    _git(ws, "commit", "-q", "-m", "initial")
    commit = _git(ws, "rev-parse", "HEAD")
    common = ("build", "--runner=docker", "--cpu=aarch64", f"--workspace={ws}",
              f"--cache-dir={cache}", "--target=//app:hello", "--no-package")
    try:
        result = run_cli(*common, f"--bazel-flag=--override_repository=greeting={dep}",
                         f"--bazel-flag=--workspace_status_command={ws}/status.sh",
                         "--bazel-flag=--stamp")
        assert result.returncode == 0, result.stderr[-3000:]
        assert result.stdout.startswith("aarch64\t") and "hello" in result.stdout
        status = (ws / "bazel-out" / "stable-status.txt").read_text()
        assert f"STABLE_GIT_COMMIT {commit}\n" in status
        # A path that does not exist: one line naming the flag, before any container.
        missing = run_cli(*common,
                          f"--bazel-flag=--override_repository=greeting={tmp_path}/nowhere")
        assert missing.returncode == 2
        assert missing.stderr.strip().splitlines()[-1] == (
            f"cross_compiler: error: bazel_flags: --override_repository=greeting="
            f"{tmp_path}/nowhere: {tmp_path}/nowhere does not exist; fix the path (the docker "
            "runner mounts it into the container at the same path)")
        assert not (tmp_path / "nowhere").exists()
    finally:
        shutdown_bazel(ws)
