"""The header provenance proof on a real build: a host header fails the build, by name."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.conftest import ROOT, have_bazel, require, run_cli, shutdown_bazel

pytestmark = [pytest.mark.bazel, pytest.mark.slow]

WS = ROOT / "tests" / "workspaces" / "host_header"
HOST_PYCONFIG = Path("/usr/include/x86_64-linux-gnu/python3.11/pyconfig.h")


def test_a_host_header_fails_the_build_naming_it(tmp_path: Path) -> None:
    require(have_bazel(), "bazel (bazel-bootstrap)")
    require(HOST_PYCONFIG.is_file(), "python3-dev")
    ws = tmp_path / "ws"
    shutil.copytree(WS, ws)
    try:
        good = run_cli("build", "--cpu=aarch64", f"--workspace={ws}", "--target=//bad:good")
        assert good.returncode == 0, good.stderr[-3000:]
        assert re.search(r"headers of [1-9]\d* compile actions all from the target.s roots",
                         good.stderr)
        bad = run_cli("build", "--cpu=aarch64", f"--workspace={ws}", "--target=//bad:bad")
        assert bad.returncode == 6, bad.stderr[-3000:]
        last = bad.stderr.strip().splitlines()[-1]
        assert "x86_64-linux-gnu/python3.11/pyconfig.h" in last and "bad" in last, last
    finally:
        shutdown_bazel(ws)
