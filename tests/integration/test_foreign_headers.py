"""Host and foreign-architecture headers that arrive through repositories fail the build.

Real Bazel, real cross compilers, a real numpy wheel from PyPI: a pyenv-style host CPython
include dir symlinked in by a repository rule (aarch64, riscv64: 64-bit targets where it
compiles cleanly and would be silently wrong), and an x86_64 numpy wheel unpacked as a
repository for an armv7hf extension (where NPY_SIZEOF_LONG would be 8 instead of 4).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import (
    ROOT,
    have_bazel,
    have_engine,
    pypi_wheel,
    require,
    run_cli,
    shutdown_bazel,
)

pytestmark = [pytest.mark.bazel, pytest.mark.slow]

WS = ROOT / "tests" / "workspaces" / "foreign_headers"
HOST_INCLUDE = Path("/usr/include/python3.11")
HOST_PYCONFIG = Path("/usr/include/x86_64-linux-gnu/python3.11/pyconfig.h")


@pytest.fixture(scope="module")
def numpy_x86_64() -> Path:
    return pypi_wheel("numpy==2.2.6", "manylinux_2_17_x86_64", "3.11")


def _pyenv_prefix(where: Path) -> Path:
    """A host CPython install outside /usr, laid out like pyenv's: include/python3.11 with
    the build machine's own (x86_64) pyconfig.h."""
    prefix = where / "pyenv" / "versions" / "3.11.2"
    include = prefix / "include" / "python3.11"
    shutil.copytree(HOST_INCLUDE, include, symlinks=False)
    shutil.copyfile(HOST_PYCONFIG, include / "pyconfig.h")
    return prefix


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Path]:
    require(have_bazel(), "bazel (bazel-bootstrap)")
    require(HOST_PYCONFIG.is_file(), "python3-dev")
    ws = tmp_path / "ws"
    shutil.copytree(WS, ws)
    yield ws
    shutdown_bazel(ws)


def _unpack(wheel: Path, ws: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(ws / "third_party" / "numpy_wheel")


def _last(result: subprocess.CompletedProcess[str]) -> str:
    return result.stderr.strip().splitlines()[-1]


def _names(line: str, header: str, repository: str) -> bool:
    """The error line names the header (maybe with its real path after it) and repository."""
    return re.search(rf"{re.escape(header)}( \(= [^)]*\))? from {repository}:", line) is not None


@pytest.mark.parametrize("cpu", ["aarch64", "riscv64"])
def test_host_python_symlinked_by_a_repository_rule_fails(ws: Path, tmp_path: Path,
                                                          cpu: str) -> None:
    prefix = _pyenv_prefix(tmp_path / "opt")
    result = run_cli("build", f"--cpu={cpu}", f"--workspace={ws}", "--target=//ext:_hostpy.so",
                     f"--bazel-flag=--repo_env=HOST_PYTHON_PREFIX={prefix}", "--no-package")
    assert result.returncode == 6, result.stderr[-3000:]
    last = _last(result)
    assert _names(last, "/pyconfig.h", "@host_python"), last
    assert f"is not for {cpu}: HAVE_GCC_ASM_FOR_X87 is defined" in last, last


def test_an_x86_64_numpy_wheel_repository_fails_an_armv7hf_build(ws: Path,
                                                                  numpy_x86_64: Path) -> None:
    _unpack(numpy_x86_64, ws)
    result = run_cli("build", "--cpu=armv7hf", f"--workspace={ws}", "--target=//ext:_np.so",
                     "--no-package")
    assert result.returncode == 6, result.stderr[-3000:]
    last = _last(result)
    assert _names(last, "/_numpyconfig.h", "@numpy_wheel"), last
    assert "NPY_SIZEOF_LONG is 8, armv7hf has 4" in last, last


@pytest.mark.docker
def test_docker_runner_refuses_both(ws: Path, numpy_x86_64: Path, tmp_path: Path) -> None:
    """Inside the builder container the same proof runs: the host Python lies in the
    workspace here (the container sees it), so its pyconfig.h fails by content; the
    numpy wheel's headers fail by its x86_64 tag and config."""
    require(have_engine(), "a running Docker engine (docker.io + dockerd)")
    prefix = _pyenv_prefix(ws / ".hostpy")
    _unpack(numpy_x86_64, ws)
    cache = tmp_path / "docker-cache"
    docker = ("--runner=docker", f"--cache-dir={cache}", f"--workspace={ws}", "--no-package")
    host = run_cli("build", "--cpu=aarch64", *docker, "--target=//ext:_hostpy.so",
                   f"--bazel-flag=--repo_env=HOST_PYTHON_PREFIX={prefix}")
    assert host.returncode == 6, host.stderr[-3000:]
    assert _names(_last(host), "/pyconfig.h", "@host_python"), _last(host)
    numpy = run_cli("build", "--cpu=armv7hf", *docker, "--target=//ext:_np.so")
    assert numpy.returncode == 6, numpy.stderr[-3000:]
    assert _names(_last(numpy), "/_numpyconfig.h", "@numpy_wheel"), _last(numpy)
