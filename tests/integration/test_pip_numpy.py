"""A workspace whose numpy comes from PyPI through pip in a repository rule gets the
target's numpy, offline from a wheelhouse: aarch64 takes PyPI's aarch64 wheel, armv7hf
(no armv7l numpy on PyPI) the wheel the tool makes from Debian's python3-numpy:armhf. The
extension's compiled NPY_SIZEOF_LONG is the target's, and it sums a numpy array under qemu
with the numpy it was built against."""

from __future__ import annotations

import os
import shutil
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from cross_compiler import config, resources
from cross_compiler.toolchain import debroot
from cross_compiler.toolchain.suites import for_suite, load_suites
from cross_compiler.toolchain.targets import load_targets
from tests.conftest import ROOT, have_bazel, pypi_wheel, require, run_cli, shutdown_bazel

pytestmark = [pytest.mark.bazel, pytest.mark.qemu, pytest.mark.slow]

WS = ROOT / "tests" / "workspaces" / "pip_numpy"
SIZEOF_LONG = {"aarch64": 8, "armv7hf": 4}


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Path]:
    require(have_bazel(), "bazel (bazel-bootstrap)")
    ws = tmp_path / "ws"
    shutil.copytree(WS, ws)
    yield ws
    shutdown_bazel(ws)


def test_pip_repository_gets_the_targets_numpy_and_runs(ws: Path, tmp_path: Path) -> None:
    house = tmp_path / "wheelhouse"
    house.mkdir()
    # The build machine's numpy is in the wheelhouse too: pip must not take it.
    for platform in ("manylinux_2_17_x86_64", "manylinux_2_17_aarch64"):
        wheel = pypi_wheel("numpy==2.2.6", platform, "3.11")
        os.link(wheel, house / wheel.name)
    result = run_cli("build", "--cpu=aarch64,armv7hf", f"--workspace={ws}",
                     "--target=//ext:npext.so", "--no-package",
                     env={"CROSS_COMPILER_WHEELHOUSES": str(house)})
    assert result.returncode == 0, result.stderr[-3000:]
    assert "numpy-2.2.6-cp311-cp311-manylinux_2_17_aarch64" in result.stderr
    assert "numpy-1.24.2-cp311-cp311-linux_armv7l.whl" in result.stderr  # Debian's fallback
    assert "x86_64" not in "".join(ln for ln in result.stderr.splitlines() if "Saved" in ln)
    built = dict(line.split("\t", 1) for line in result.stdout.splitlines() if "\t" in line)
    suite = load_suites(resources.data_dir("suites"))["bookworm"]
    for cpu, site in (("aarch64", _unpacked(house, "aarch64", tmp_path)), ("armv7hf", None)):
        (target,) = load_targets([cpu], resources.toolchains_dir())
        target = for_suite(target, suite)
        cache = config.cache_dir(dict(os.environ))
        root = debroot.fetch(target, suite, cache)
        qemu = shutil.which(target.qemu)
        require(qemu is not None, target.qemu)
        assert qemu is not None
        paths = [str(Path(built[cpu]).parent), *([str(site)] if site else [])]
        script = ("import sys; sys.path[:0] = sys.argv[1:]; import numpy, npext; "
                  "print(numpy.__version__, npext.sizeof_long(), npext.total(numpy.arange(10)))")
        run = subprocess.run([qemu, "-L", str(root), str(debroot.interpreter(target, cache)),
                              "-I", "-c", script, *paths],
                             capture_output=True, text=True, check=False)
        assert run.returncode == 0, run.stderr[-2000:]
        version, size, total = run.stdout.split()
        assert (int(size), int(total)) == (SIZEOF_LONG[cpu], 45), run.stdout
        assert version == ("2.2.6" if cpu == "aarch64" else "1.24.2")


def _unpacked(house: Path, arch: str, tmp_path: Path) -> Path:
    (wheel,) = house.glob(f"numpy-*_{arch}.whl")
    site = tmp_path / f"site-{arch}"
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(site)
    return site
