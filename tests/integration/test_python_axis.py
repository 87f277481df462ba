"""The target Python is its own axis, in the builder images: a workspace whose packaging runs
plain `python3` gets cp3XY wheels for the asked Python on either Bazel, riscv64 gets a
Python by default on Bazel 4.2.3, and each wheel imports under qemu with its own Python."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT, have_engine, require, run_cli

pytestmark = [pytest.mark.docker, pytest.mark.bazel, pytest.mark.qemu, pytest.mark.slow]

WS = ROOT / "tests" / "workspaces" / "plain_python3"


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Path]:
    require(have_engine(), "a running Docker engine (docker.io + dockerd)")
    ws = tmp_path / "ws"
    shutil.copytree(WS, ws)
    yield ws


def _build(ws: Path, cache: Path, *args: str) -> subprocess.CompletedProcess[str]:
    result = run_cli("build", "--runner=docker", f"--workspace={ws}", f"--cache-dir={cache}",
                     *args)
    assert result.returncode == 0, result.stderr[-4000:]
    return result


def _wheels(ws: Path) -> list[str]:
    return sorted(p.name for p in (ws / "dist").glob("*.whl"))


def _test_wheel(wheel: Path, version: str) -> None:
    major, minor = version.split(".")
    result = run_cli("test-wheel", str(wheel), "--command",
                     f"import plain; assert plain.compiled_for() == ({major}, {minor})")
    assert result.returncode == 0, result.stderr[-3000:]


def test_bazel_7_plain_python3_packages_the_asked_pythons(ws: Path, tmp_path: Path) -> None:
    """sid's own 3.13 and 3.14, and 3.11 lent by bookworm (its python3.11 in the sid image,
    a 3.11 target root on sid's libc)."""
    (ws / ".bazelversion").write_text("7.7.1\n")
    _build(ws, tmp_path / "cache", "--cpu=aarch64", "--python=3.11,3.13,3.14")
    assert [w.rsplit("-", 1)[0] for w in _wheels(ws)] == [
        "plain-1.0-cp311-cp311", "plain-1.0-cp313-cp313", "plain-1.0-cp314-cp314"]
    assert all(w.endswith("_aarch64.whl") for w in _wheels(ws))
    for wheel, version in zip(sorted((ws / "dist").glob("*.whl")), ("3.11", "3.13", "3.14"),
                              strict=True):
        _test_wheel(wheel, version)


def test_python_3_9_lent_by_bullseye_on_bazel_4(ws: Path, tmp_path: Path) -> None:
    """armv7hf --python=3.9: bullseye's python3.9 packages it in the bookworm image; its
    target root is bullseye's Python on bookworm's libc (bookworm's gcc built it)."""
    _build(ws, tmp_path / "cache", "--cpu=armv7hf", "--python=3.9")
    (wheel,) = sorted((ws / "dist").glob("*.whl"))
    assert wheel.name.startswith("plain-1.0-cp39-cp39-") and wheel.name.endswith("_armv7l.whl")
    _test_wheel(wheel, "3.9")


def test_bazel_4_builds_3_13_in_trixie_and_riscv64_by_default(ws: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    riscv = _build(ws, cache, "--cpu=riscv64")
    assert "riscv64: Python 3.13 (the nearest to 3.11 that riscv64 has)" in riscv.stderr
    (riscv_wheel,) = _wheels(ws)
    assert riscv_wheel.startswith("plain-1.0-cp313-cp313-") and riscv_wheel.endswith(
        "_riscv64.whl")
    _build(ws, cache, "--cpu=aarch64", "--python=3.13")
    wheels = sorted((ws / "dist").glob("*.whl"))
    assert [w.name.split("-")[2] for w in wheels] == ["cp313", "cp313"]
    assert wheels[0].name.endswith("_aarch64.whl")
    for wheel in wheels:
        _test_wheel(wheel, "3.13")


def test_a_python_no_builder_of_that_bazel_has_is_one_line(ws: Path, tmp_path: Path) -> None:
    result = run_cli("build", "--runner=docker", f"--workspace={ws}", "--cpu=aarch64",
                     "--python=3.14", f"--cache-dir={tmp_path / 'cache'}")
    assert result.returncode == 2, result.stderr[-2000:]
    last = result.stderr.strip().splitlines()[-1]
    assert "no Bazel 4 builder has CPython 3.14 for aarch64" in last
    assert "3.14 (Bazel 7, sid)" in last
