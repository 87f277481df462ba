"""Shared test plumbing: real components are required under CI, skippable only locally."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cross_compiler import resources

ROOT = Path(__file__).resolve().parents[1]
STRICT = os.environ.get("CI", "").lower() in ("1", "true", "yes")
CLI = str(Path(sys.executable).parent / "cross-compiler")
# Docker-runner tests run one-shot (a fresh container per command, none left behind) unless
# a test asks for the warm server itself (tests/integration/test_server.py).
os.environ.setdefault("CROSS_COMPILER_SERVER", "one-shot")


def require(ok: bool, what: str) -> None:
    """Fail when CI asked for the real component; skip only in a developer's local loop."""
    if ok:
        return
    message = f"{what} is missing; run scripts/setup.sh"
    if STRICT:
        pytest.fail(message)
    pytest.skip(message)


def have_engine() -> bool:
    """A Docker engine answers."""
    try:
        import docker

        docker.from_env(timeout=5).ping()
    except Exception:
        return False
    return True


def have_bazel() -> bool:
    return shutil.which("bazel") is not None


def run_cli(*args: str, cwd: Path | None = None,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    # The local runner unless a test asks for docker (CLI flags beat this variable).
    merged = {**os.environ, "CROSS_COMPILER_RUNNER": "local"}
    merged.update(env or {})
    return subprocess.run([CLI, *args], cwd=cwd or ROOT, env=merged, capture_output=True,
                          text=True, check=False)


def fresh_example(tmp: Path) -> Path:
    ws = tmp / "ws"
    shutil.copytree(resources.example_workspace(), ws,
                    ignore=shutil.ignore_patterns("bazel-*", "cross_compiler", "dist"))
    return ws


def shutdown_bazel(ws: Path) -> None:
    if have_bazel() and (ws / "bazel-out").exists():
        subprocess.run(["bazel", "shutdown"], cwd=ws, capture_output=True, check=False)


@pytest.fixture
def example_ws(tmp_path: Path) -> Iterator[Path]:
    ws = fresh_example(tmp_path)
    yield ws
    shutdown_bazel(ws)


# Wheels the tests take from PyPI, downloaded once per machine (CI reaches PyPI).
TEST_WHEELS = Path.home() / ".cache" / "cross_compiler" / "test-wheels"


def pypi_wheel(requirement: str, platform: str, python: str) -> Path:
    """The binary wheel pip picks for ``requirement`` on ``platform`` and CPython
    ``python`` (e.g. "3.11"), downloaded into TEST_WHEELS once."""
    name, _, version = requirement.partition("==")
    tag = f"cp{python.replace('.', '')}"
    arch = re.sub(r"^(?:(?:many|musl)linux_\d+_\d+|manylinux\d+|linux)_", "", platform)
    pattern = f"{name}-{version}-{tag}-{tag}-*_{arch}.whl"
    found = sorted(TEST_WHEELS.glob(pattern))
    if not found:
        result = subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
             f"--platform={platform}", f"--python-version={python}", requirement,
             "-d", str(TEST_WHEELS)], capture_output=True, text=True, check=False)
        found = sorted(TEST_WHEELS.glob(pattern))
        require(result.returncode == 0 and len(found) == 1,
                f"{requirement} for {platform} from PyPI ({result.stderr.strip()[-300:]})")
    return found[0]
