"""Signal drills against the real engine: Ctrl-C, SIGTERM and SIGKILL mid-build.

Each build runs a genrule that sleeps; the drill signals the tool and polls (host `ps`
sees the container's processes) until Bazel's client and the genrule are gone.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import CLI, fresh_example
from tests.integration.test_docker import builder_image  # noqa: F401 (shared fixture)

pytestmark = [pytest.mark.docker, pytest.mark.bazel, pytest.mark.slow]

STOP_SECONDS = 5  # acceptance: Bazel stops within this after one signal


def _processes(marker: str) -> list[str]:
    out = subprocess.run(["ps", "-ewwo", "pid,args"], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if marker in line and "ps -ewwo" not in line]


def _bazel_clients(cache: Path) -> list[str]:
    # The client's argv has the cache's output user root and the command; the server's
    # is named bazel(<workspace>).
    return [p for p in _processes(f"--output_user_root={cache}") if " build " in p
            and "bazel(" not in p]


def _containers(ws: Path, *status: str) -> list[str]:
    """This test's containers (other builds may share the engine)."""
    flags = [f"--filter=status={s}" for s in status] or ["--all"]
    out = subprocess.run(["docker", "ps", "-q", *flags,
                          "--filter", f"label=cross_compiler.workspace={ws}"],
                         capture_output=True, text=True, check=True).stdout
    return out.split()


@pytest.fixture
def slow_build(tmp_path: Path, builder_image: str,  # noqa: F811
               ) -> Iterator[tuple[subprocess.Popen[str], Path, Path, str]]:
    """A docker build busy in a genrule that sleeps; (tool, workspace, cache, marker)."""
    ws, cache = fresh_example(tmp_path), tmp_path / "cache"
    marker = f"sleep 900.{random.randrange(10**6)}"  # no other process has it
    (ws / "slow").mkdir()
    (ws / "slow/BUILD.bazel").write_text(
        f'genrule(name = "slow", outs = ["slow.txt"], cmd = "{marker}; touch $@")\n')
    child = subprocess.Popen(
        [CLI, "build", "--runner=docker", "--cpu=aarch64", f"--workspace={ws}",
         f"--cache-dir={cache}", "--target=//slow", "--no-package"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 300
        while not _processes(marker):
            assert child.poll() is None, child.communicate()[1][-3000:]
            assert time.monotonic() < deadline, "the genrule never started"
            time.sleep(0.3)
        assert _bazel_clients(cache), "no Bazel client found while the genrule runs"
        yield child, ws, cache, marker
    finally:
        if child.poll() is None:  # a failed drill: stop it like a user would
            child.terminate()
            child.communicate(timeout=120)


def _seconds_until_gone(cache: Path, marker: str, limit: float) -> float | None:
    start = time.monotonic()
    while time.monotonic() - start < limit:
        if not _processes(marker) and not _bazel_clients(cache):
            return time.monotonic() - start
        time.sleep(0.1)
    return None


@pytest.mark.parametrize(("signum", "code", "last_line"), [
    (signal.SIGINT, 130, "cross_compiler: interrupted"),
    (signal.SIGTERM, 143, "cross_compiler: terminated"),
])
def test_one_signal_stops_bazel_in_the_container_and_removes_it(
    slow_build: tuple[subprocess.Popen[str], Path, Path, str], signum: int, code: int,
    last_line: str,
) -> None:
    child, ws, cache, marker = slow_build
    child.send_signal(signum)
    stopped = _seconds_until_gone(cache, marker, STOP_SECONDS)
    _, err = child.communicate(timeout=120)
    print(f"{signal.Signals(signum).name}: Bazel stopped after {stopped} s")
    assert stopped is not None, f"Bazel still running {STOP_SECONDS} s after one signal"
    assert child.returncode == code, err[-3000:]
    assert err.strip().splitlines()[-1] == last_line and "Traceback" not in err
    assert _containers(ws) == []


def test_sigkill_of_the_tool_leaves_no_running_container(
    slow_build: tuple[subprocess.Popen[str], Path, Path, str],
) -> None:
    child, ws, cache, marker = slow_build
    os.kill(child.pid, signal.SIGKILL)
    child.communicate()
    start = time.monotonic()
    while _containers(ws, "running") and time.monotonic() - start < 10:
        time.sleep(0.2)
    print(f"SIGKILL: no running container after {time.monotonic() - start:.1f} s")
    assert _containers(ws, "running") == [], "the container builds on after the tool died"
    assert not _processes(marker)
    # The next run removes the stopped container; its --dry-run leaves no result file.
    dry = subprocess.run([CLI, "build", "--runner=docker", "--cpu=aarch64", f"--workspace={ws}",
                          f"--cache-dir={cache}", "--target=//slow", "--dry-run"],
                         capture_output=True, text=True)
    assert dry.returncode == 0, dry.stderr[-3000:]
    assert _containers(ws) == [], dry.stderr[-3000:]
    assert list(cache.rglob("result-*.json")) == []
