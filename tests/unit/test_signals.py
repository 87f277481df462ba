"""Signals: an interrupt reaches a child once, from us; the host link stops a container build."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from cross_compiler import proc

# Counts the SIGINTs it gets in a file, exits 8 (as Bazel does) at the first.
CHILD = textwrap.dedent("""
    import signal, sys, time
    def stop(signum, frame):
        with open(sys.argv[1], "a") as f:
            f.write("INT\\n")
        sys.exit(8)
    signal.signal(signal.SIGINT, stop if sys.argv[2] == "obey" else signal.SIG_IGN)
    open(sys.argv[1] + ".ready", "w").close()
    time.sleep(60)
""")


def _wait_for(path: Path) -> None:
    for _ in range(200):
        if path.exists():
            return
        time.sleep(0.05)
    raise AssertionError(f"{path} never appeared")


def _child(tmp_path: Path, mode: str) -> subprocess.Popen[bytes]:
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path / "log"), mode],
                             process_group=0)
    _wait_for(tmp_path / "log.ready")
    return child


def test_stop_interrupts_the_group_once(tmp_path: Path) -> None:
    child = _child(tmp_path, "obey")
    proc.stop(child, grace=30)
    assert child.returncode == 8 and (tmp_path / "log").read_text() == "INT\n"


def test_stop_kills_what_ignores_the_interrupt(tmp_path: Path) -> None:
    child = _child(tmp_path, "ignore")
    proc.stop(child, grace=0.5)
    assert child.returncode == -signal.SIGKILL


def test_sigterm_to_the_tool_alone_interrupts_its_streamed_child_once(tmp_path: Path) -> None:
    """Sent to our pid only (as `kill`, CI runners and docker-init do), never to the group."""
    script = textwrap.dedent(f"""
        import signal, sys
        from cross_compiler import proc
        from cross_compiler.errors import Terminated
        def term(signum, frame):
            raise Terminated()
        signal.signal(signal.SIGTERM, term)
        try:
            proc.run([sys.executable, "-c", {CHILD!r}, {str(tmp_path / "log")!r}, "obey"],
                     stream=True)
        except Terminated:
            sys.exit(143)
    """)
    tool = subprocess.Popen([sys.executable, "-c", script], cwd=Path(__file__).parents[2])
    _wait_for(tmp_path / "log.ready")
    os.kill(tool.pid, signal.SIGTERM)
    assert tool.wait(timeout=30) == 143
    assert (tmp_path / "log").read_text() == "INT\n"


def test_the_host_going_away_sends_sigterm_to_the_tool_inside(tmp_path: Path) -> None:
    script = textwrap.dedent("""
        import signal, sys, time
        from cross_compiler import hostlink
        from cross_compiler.hostlink import LINK_ENV
        signal.signal(signal.SIGTERM, lambda s, f: (print("terminated", flush=True),
                                                    sys.exit(143)))
        env = hostlink.attach({LINK_ENV: "stdin"}, sys.stdin.buffer)
        print(env["TOK"], flush=True)
        time.sleep(60)
    """)
    inner = subprocess.Popen([sys.executable, "-c", script], cwd=Path(__file__).parents[2],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert inner.stdin is not None and inner.stdout is not None
    inner.stdin.write('{"env": {"TOK": "X-Token=1"}}\n')
    inner.stdin.flush()
    assert inner.stdout.readline() == "X-Token=1\n"
    inner.stdin.close()  # the host is gone
    assert inner.stdout.readline() == "terminated\n"
    assert inner.wait(timeout=30) == 143
