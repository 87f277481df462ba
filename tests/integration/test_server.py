"""The docker runner's warm server against the real engine: reused by the next command,
correct after an edit, gone after its idle timeout and on `shutdown`, none under CI=true;
Ctrl-C and SIGKILL drills with a warm server."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import CLI, fresh_example, run_cli
from tests.integration.test_docker import builder_image  # noqa: F401 (shared fixture)
from tests.integration.test_signals import STOP_SECONDS, _processes, _seconds_until_gone

pytestmark = [pytest.mark.docker, pytest.mark.bazel, pytest.mark.slow]

WARM = {"CROSS_COMPILER_SERVER": "warm", "CI": ""}


def _servers(ws: Path) -> list[str]:
    out = subprocess.run(["docker", "ps", "-aq", "--filter", "label=cross_compiler.server",
                          "--filter", f"label=cross_compiler.workspace={ws}"],
                         capture_output=True, text=True, check=True).stdout
    return out.split()


def _containers(ws: Path) -> list[str]:
    out = subprocess.run(["docker", "ps", "-aq", "--filter",
                          f"label=cross_compiler.workspace={ws}"],
                         capture_output=True, text=True, check=True).stdout
    return out.split()


def _build(ws: Path, cache: Path, env: dict[str, str], *extra: str
           ) -> subprocess.CompletedProcess[str]:
    return run_cli("build", "--runner=docker", "--cpu=aarch64", f"--workspace={ws}",
                   f"--cache-dir={cache}", "--no-package", "--target=//cli:hello", *extra,
                   env=env)


@pytest.fixture
def ws(tmp_path: Path, builder_image: str) -> Iterator[Path]:  # noqa: F811
    ws = fresh_example(tmp_path)
    yield ws
    run_cli("shutdown", f"--workspace={ws}")


def test_second_build_reuses_the_server_then_it_times_out(ws: Path, tmp_path: Path) -> None:
    cache, env = tmp_path / "cache", {**WARM, "CROSS_COMPILER_SERVER_IDLE_SECONDS": "20"}
    first = _build(ws, cache, env)
    assert first.returncode == 0, first.stderr[-3000:]
    (server,) = _servers(ws)
    second = _build(ws, cache, env)
    assert second.returncode == 0, second.stderr[-3000:]
    assert _servers(ws) == [server], "the second build did not reuse the warm server"
    assert "Elapsed time" in second.stderr
    # An edit is built in the same server, and built right.
    hello = ws / "cli" / "hello.cc"
    hello.write_text(hello.read_text().replace("hello from", "hi from"))
    third = _build(ws, cache, env, "--bazel-flag=--subcommands")
    assert third.returncode == 0, third.stderr[-3000:]
    assert "hello.cc" in third.stderr and _servers(ws) == [server]
    binary = ws / "bazel-bin" / "cli" / "hello"
    assert b"hi from" in binary.read_bytes()
    # Idle: it removes itself (20 s, checked every 5 s).
    start = time.monotonic()
    while _servers(ws) and time.monotonic() - start < 60:
        time.sleep(1)
    print(f"idle server gone {time.monotonic() - start:.1f} s after the last build")
    assert _servers(ws) == [], "the warm server outlived its idle timeout"


def test_shutdown_removes_the_server(ws: Path, tmp_path: Path) -> None:
    built = _build(ws, tmp_path / "cache", WARM)
    assert built.returncode == 0, built.stderr[-3000:]
    assert len(_servers(ws)) == 1
    down = run_cli("shutdown", f"--workspace={ws}")
    assert down.returncode == 0 and "removed warm server" in down.stdout, down.stderr
    assert _servers(ws) == []


def test_a_changed_mount_set_starts_a_fresh_server(ws: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    assert _build(ws, cache, WARM).returncode == 0
    (first,) = _servers(ws)
    outside = tmp_path / "dist-elsewhere"
    again = _build(ws, cache, WARM, f"--dist-dir={outside}")  # one more mount
    assert again.returncode == 0, again.stderr[-3000:]
    (second,) = _servers(ws)  # the stale one went
    assert second != first


def test_ci_mode_leaves_no_container(ws: Path, tmp_path: Path) -> None:
    built = _build(ws, tmp_path / "cache", {"CROSS_COMPILER_SERVER": "auto", "CI": "true"})
    assert built.returncode == 0, built.stderr[-3000:]
    assert _containers(ws) == []


@pytest.fixture
def slow_warm_build(ws: Path, tmp_path: Path
                    ) -> Iterator[tuple[subprocess.Popen[str], Path, Path, str]]:
    """A build in a warm server (started by a first build), busy in a genrule that sleeps."""
    cache = tmp_path / "cache"
    marker = f"sleep 900.{random.randrange(10**6)}"
    (ws / "slow").mkdir()
    (ws / "slow/BUILD.bazel").write_text(
        f'genrule(name = "slow", outs = ["slow.txt"], cmd = "{marker}; touch $@")\n'
        'genrule(name = "fast", outs = ["fast.txt"], cmd = "touch $@")\n')
    warmup = _build(ws, cache, WARM, "--target=//slow:fast")
    assert warmup.returncode == 0, warmup.stderr[-3000:]
    child = subprocess.Popen(
        [CLI, "build", "--runner=docker", "--cpu=aarch64", f"--workspace={ws}",
         f"--cache-dir={cache}", "--target=//slow", "--no-package"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, **WARM})
    try:
        deadline = time.monotonic() + 300
        while not _processes(marker):
            assert child.poll() is None, child.communicate()[1][-3000:]
            assert time.monotonic() < deadline, "the genrule never started"
            time.sleep(0.3)
        yield child, ws, cache, marker
    finally:
        if child.poll() is None:
            child.terminate()
            child.communicate(timeout=120)


def test_ctrl_c_stops_the_build_not_the_server(
    slow_warm_build: tuple[subprocess.Popen[str], Path, Path, str],
) -> None:
    child, ws, cache, marker = slow_warm_build
    (server,) = _servers(ws)
    child.send_signal(signal.SIGINT)
    stopped = _seconds_until_gone(cache, marker, STOP_SECONDS)
    _, err = child.communicate(timeout=120)
    print(f"SIGINT: the build stopped after {stopped} s")
    assert stopped is not None, f"the build still runs {STOP_SECONDS} s after Ctrl-C"
    assert child.returncode == 130, err[-3000:]
    assert err.strip().splitlines()[-1] == "cross_compiler: interrupted"
    assert _servers(ws) == [server], "Ctrl-C removed the shared server"
    # The server still serves.
    after = _build(ws, cache, WARM, "--target=//slow:fast")
    assert after.returncode == 0, after.stderr[-3000:]


def test_sigkill_of_the_tool_leaves_no_build_running(
    slow_warm_build: tuple[subprocess.Popen[str], Path, Path, str],
) -> None:
    child, ws, cache, marker = slow_warm_build
    os.kill(child.pid, signal.SIGKILL)
    child.communicate()
    stopped = _seconds_until_gone(cache, marker, 10)
    print(f"SIGKILL: the build stopped after {stopped} s")
    assert stopped is not None, "the build runs on after the tool was killed"
    assert len(_servers(ws)) <= 1  # only the idle server, which reaps itself
