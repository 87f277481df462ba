"""One build of a workspace at a time."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from cross_compiler.wslock import lock_path, workspace_lock

HOLD = """
import sys, time
from pathlib import Path
from cross_compiler.wslock import workspace_lock
with workspace_lock(Path(sys.argv[1]), Path(sys.argv[2])):
    print("held", flush=True)
    time.sleep(float(sys.argv[3]))
    Path(sys.argv[1], "released").write_text("")
"""


def test_a_second_build_waits_for_the_first(tmp_path: Path, caplog) -> None:  # type: ignore[no-untyped-def]
    ws = tmp_path / "ws"
    ws.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path / "cache"), str(ws),
                               "1.5"], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    with caplog.at_level("WARNING"), workspace_lock(tmp_path / "cache", ws):
        # Only once the first build is through with the workspace.
        assert (tmp_path / "cache" / "released").exists()
    holder.wait(timeout=30)
    assert f"pid {holder.pid}" in caplog.text
    assert not (ws / ".lock").exists() and lock_path(tmp_path / "cache", ws).is_file()


def test_a_dead_holder_releases_the_lock(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path / "cache"), str(ws),
                               "60"], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    holder.kill()
    holder.wait()
    with workspace_lock(tmp_path / "cache", ws):
        pass  # taken at once
