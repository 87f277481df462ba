"""A wheel Bazel builds itself (genrule / py_wheel), no package_command: proven and retagged
for each target like a packaged one, and it imports under qemu."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import ROOT, have_bazel, require, run_cli, shutdown_bazel

pytestmark = [pytest.mark.bazel, pytest.mark.qemu, pytest.mark.slow]


def test_a_bazel_built_wheel_is_checked_retagged_and_imports(tmp_path: Path) -> None:
    require(have_bazel(), "bazel (bazel-bootstrap)")
    ws = tmp_path / "ws"
    shutil.copytree(ROOT / "tests" / "workspaces" / "bazel_wheel", ws)
    try:
        result = run_cli("build", "--cpu=aarch64,armv7hf", f"--workspace={ws}")
        assert result.returncode == 0, result.stderr[-3000:]
        assert "1 wheel(s) built by Bazel: bw-1.0-cp311-cp311-linux_x86_64.whl" in result.stderr
        wheels = sorted((ws / "dist").glob("*.whl"))
        assert [w.name for w in wheels] == ["bw-1.0-cp311-cp311-manylinux_2_17_aarch64.whl",
                                            "bw-1.0-cp311-cp311-manylinux_2_17_armv7l.whl"]
        for wheel in wheels:
            ok = run_cli("test-wheel", str(wheel), "--command",
                         "import bw; assert bw.answer() == 42")
            assert ok.returncode == 0, ok.stderr[-2000:]
    finally:
        shutdown_bazel(ws)
