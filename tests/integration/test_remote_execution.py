"""Remote execution against a real REAPI service on 127.0.0.1: BuildGrid + PostgreSQL.

The fixture (tests/reapi/stack.py) starts a private PostgreSQL cluster, BuildGrid 0.4.4
and the test worker (tests/reapi/worker.py, the one component the test supplies), and
stops them afterwards. Both runners are exercised: local Bazel, and Bazel in the
builder container (on the host network, to reach the loopback endpoint). Each build
must report its compile and link actions as `remote` processes, none run locally, and
the tool's ELF check must pass on what came back.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import CLI, fresh_example, have_bazel, require, run_cli, shutdown_bazel
from tests.integration.test_docker import builder_image  # noqa: F401 (shared fixture)
from tests.reapi.stack import Stack, buildgrid_stack, find_tools

pytestmark = [pytest.mark.bazel, pytest.mark.slow]

# Bazel 4's names for actions that ran on this machine rather than on the executor.
BUILD_SECONDS = 300
LOCAL_KINDS = {"local", "linux-sandbox", "processwrapper-sandbox", "worker", "sandbox"}


@pytest.fixture
def reapi(tmp_path: Path) -> Iterator[Stack]:
    require(have_bazel(), "bazel")
    missing = find_tools().missing
    require(not missing, "REAPI test service (" + ", ".join(missing) + ")")
    require(shutil.which("aarch64-linux-gnu-gcc") is not None, "aarch64-linux-gnu-gcc")
    with buildgrid_stack(tmp_path / "reapi") as stack:
        yield stack


def build(*args: str) -> subprocess.CompletedProcess[str]:
    """The CLI with a bounded wait: a stuck executor must fail the test, not hang CI."""
    env = {**os.environ, "CROSS_COMPILER_RUNNER": "local"}
    try:
        return subprocess.run([CLI, "build", *args], env=env, capture_output=True, text=True,
                              timeout=BUILD_SECONDS, check=False)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"build did not finish in {BUILD_SECONDS} s: {e.stderr!r:.3000}")


def process_summary(stderr: str) -> dict[str, int]:
    """Bazel's 'INFO: 20 processes: 12 internal, 8 remote.' as {kind: count}."""
    lines = re.findall(r"INFO: \d+ processes?: (.*)\.$", stderr, re.M)
    assert lines, stderr[-2000:]
    return {kind.strip(): int(n) for n, kind in re.findall(r"(\d+) ([a-z -]+)", lines[-1])}


def assert_ran_remotely(r: subprocess.CompletedProcess[str], stack: Stack) -> None:
    """Exit 0 (the tool's ELF check passed), N > 0 remote processes, none local."""
    assert r.returncode == 0, (r.stdout + r.stderr)[-4000:] + "\n" + stack.tails()
    summary = process_summary(r.stderr)
    assert summary.get("remote", 0) > 0, (summary, stack.tails())
    assert not LOCAL_KINDS & summary.keys(), summary
    for output in ("_native.so", "hello"):  # checked, then copied out of bazel-out
        assert re.search(rf"^aarch64\t\S*dist/aarch64/{output}$", r.stdout, re.M), r.stdout
    # The actions really went through BuildGrid's Bots API to the worker.
    worker = stack.worker_log.read_text()
    compiles = re.findall(r"exit 0 in [\d.]+s: /usr/bin/aarch64-linux-gnu-gcc -> .*\.o\b", worker)
    assert compiles, worker[-3000:]


def test_local_runner_executes_remotely(reapi: Stack, tmp_path: Path) -> None:
    ws = fresh_example(tmp_path)
    try:
        r = build("--runner=local", "--cpu=aarch64",
                  f"--remote-executor={reapi.endpoint}", "-w", str(ws))
    finally:
        shutdown_bazel(ws)
    assert_ran_remotely(r, reapi)
    # The extension compiled on the executor works: packaged here, run under qemu.
    (wheel,) = (ws / "dist").glob("*.whl")
    check = "import crossdemo; assert crossdemo.fib(90) == 2880067194370816120"
    smoke = run_cli("test-wheel", str(wheel), "--cpu=aarch64", f"--command={check}")
    assert smoke.returncode == 0, smoke.stderr[-2000:]


@pytest.mark.docker
def test_docker_runner_executes_remotely(
    builder_image: str, reapi: Stack, tmp_path: Path  # noqa: F811
) -> None:
    # The endpoint is on the host's loopback: the tool puts the container on the host
    # network, and no --disk_cache goes beside the gRPC executor (Bazel 4 refuses both).
    ws = fresh_example(tmp_path)
    r = build("--runner=docker", "--cpu=aarch64", f"--workspace={ws}",
                f"--cache-dir={tmp_path / 'cache'}", "--no-package",
                f"--remote-executor={reapi.endpoint}")
    assert "the container uses the host network" in r.stderr, r.stderr[-3000:]
    assert_ran_remotely(r, reapi)
