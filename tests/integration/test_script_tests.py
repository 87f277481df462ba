"""`cross-compiler test` runs tests of every kind: a cc_test (a target ELF) under qemu-user,
an sh_test on the host with the target binary it runs (by runfiles path, by ./path, by PATH
lookup) under qemu; Bazel's summary and exit code are the tool's. Both runners."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT, have_bazel, have_engine, require, run_cli, shutdown_bazel

pytestmark = [pytest.mark.bazel, pytest.mark.qemu, pytest.mark.slow]

WORKSPACE = ROOT / "tests" / "workspaces" / "script_tests"


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Path]:
    copy = tmp_path / "ws"
    shutil.copytree(WORKSPACE, copy)
    yield copy
    shutdown_bazel(copy)


def test_local_runner_runs_a_cc_test_and_an_sh_test_calling_a_target_binary(
        ws: Path) -> None:
    require(have_bazel(), "bazel (bazel-bootstrap)")
    tested = run_cli("test", "--cpu=aarch64,armv7hf", f"--workspace={ws}",
                     "//app:word_test,//app:calls_word_test")
    assert tested.returncode == 0, tested.stderr[-4000:]
    assert tested.stderr.count("Executed 2 out of 2 tests: 2 tests pass.") == 2
    for line in ("ok: arm 32 by-rootpath", "ok: arm 32 by-dot-path",
                 "ok: arm 32 by-path-lookup"):  # the last cpu's log
        assert line in (ws / "bazel-testlogs/app/calls_word_test/test.log").read_text()
    failing = run_cli("test", "--cpu=aarch64", f"--workspace={ws}", "//app:all",
                      "--bazel-flag=--test_env=FAIL_SCRIPT_TEST=1")
    assert failing.returncode == 3, failing.stderr[-4000:]  # Bazel's own "tests failed"
    assert "//app:calls_word_test" in failing.stderr and "1 fails locally" in failing.stderr
    assert "asked to fail" in failing.stderr  # --test_output=errors shows the script's log


def test_docker_runner_bazel7_runs_both_kinds(ws: Path, tmp_path: Path) -> None:
    require(have_engine(), "a running Docker engine (docker.io + dockerd)")
    (ws / ".bazelversion").write_text("7.7.0\n")  # the sid builder image's Bazel 7.7.1
    tested = run_cli("test", "--cpu=aarch64", f"--workspace={ws}", "//app:all",
                     "--runner=docker", f"--cache-dir={tmp_path / 'cache'}")
    assert tested.returncode == 0, tested.stderr[-4000:]
    assert "Executed 2 out of 2 tests: 2 tests pass." in tested.stderr
    assert "ok: aarch64 64 by-path-lookup" in (
        ws / "bazel-testlogs/app/calls_word_test/test.log").read_text()
