"""test-wheel installs what a wheel needs, for the target, offline: a wheel whose C extension
uses numpy's C API (built here with Debian's cross gcc against the target's Python headers
and the headers of the numpy it will meet) and that requires a pure-Python wheel, tested
under qemu from a wheelhouse with no index, for aarch64 (numpy 2.2.6 from PyPI's manylinux
wheel) and armv7hf (PyPI has no armv7l numpy: Debian bookworm's python3-numpy). A missing
requirement is one line naming it and where it was looked for; an extension built against
numpy 1.x headers that meets numpy 2.x fails saying so.

The wheelhouse is filled first from the index (pip download), the suite's Debian packages are
fetched into a cache of this test's own; test-wheel then runs with --no-index and every
proxy pointing at a closed port, so any network access would fail the run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cross_compiler import api
from cross_compiler.config import cache_dir
from cross_compiler.toolchain import debroot, suites
from cross_compiler.toolchain.targets import Target
from cross_compiler.wheel.debdeps import DebianSource
from cross_compiler.wheel.requires import parse_requirement
from cross_compiler.wheel.resolve import DebianHit
from tests.conftest import ROOT, require, run_cli
from tests.depwheels import dep_wheel

pytestmark = [pytest.mark.qemu, pytest.mark.slow]

NUMPY = "2.2.6"  # has cp311 manylinux2014 aarch64 wheels on PyPI; none for armv7l
SIZEOF_LONG = {"aarch64": 8, "armv7hf": 4}
REQUIRES = ("numpy>=1.22", "zz-puredep>=1.0",
            # This machine's arch, not the target's: resolving it would fail the test.
            'zz-host-only>=9; platform_machine == "x86_64"')
CHECK = ("import numpy, npext, zz_puredep; assert npext.total(numpy.arange(10)) == 45; "
         "print('checked', numpy.__version__, npext.sizeof_long(), zz_puredep.VALUE, "
         "numpy.__file__)")
# No network for test-wheel: pip without an index, every proxy a closed port.
OFFLINE = {"http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9",
           "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9",
           "no_proxy": "", "NO_PROXY": "", "PIP_INDEX_URL": "http://127.0.0.1:9/simple"}

# numpy's C API: NPY_SIZEOF_LONG as compiled, and a sum over an array (the build-time test's
# extension, tests/workspaces/pip_numpy).
EXTENSION = ROOT / "tests/workspaces/pip_numpy/ext/npext.c"


@dataclass(frozen=True)
class Setup:
    target: Target
    root: Path
    wheelhouse: Path
    cache: Path  # this test's CROSS_COMPILER_CACHE: the shared roots, its own Debian packages

    def env(self) -> dict[str, str]:
        return {**OFFLINE, "CROSS_COMPILER_CACHE": str(self.cache)}


def _target(cpu: str) -> Target:
    env = dict(os.environ)
    suite = suites.choose_suite("bookworm", None, False, api.suite_catalogue(env))[0]
    (target,) = api.suite_targets([cpu], env, suite)
    require(shutil.which(target.qemu) is not None, "qemu-user-static")
    require(shutil.which(target.tool("gcc")) is not None, target.compiler_package)
    api.fetch_python([cpu], env, "bookworm")
    return target


def _private_cache(tmp: Path) -> Path:
    """A cache whose target roots and apt lists are the user's (fetched once), and whose
    Debian fallback packages are fetched afresh by this test."""
    shared = cache_dir(dict(os.environ))
    cache = tmp / "cache"
    cache.mkdir()
    for name in ("debroot", "apt"):
        (cache / name).symlink_to(shared / name)
    return cache


def _pip_download_numpy(wheelhouse: Path) -> Path:
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                    "--platform", "manylinux2014_aarch64", "--python-version", "3.11",
                    "--implementation", "cp", "--abi", "cp311", "--dest", str(wheelhouse),
                    "--disable-pip-version-check", f"numpy=={NUMPY}"],
                   check=True, capture_output=True, timeout=300)
    (wheel,) = wheelhouse.glob(f"numpy-{NUMPY}-*.whl")
    return wheel


def _numpy_headers(wheel: Path, dest: Path) -> Path:
    with zipfile.ZipFile(wheel) as zf:
        for name in zf.namelist():
            if name.startswith("numpy/_core/include/"):
                zf.extract(name, dest)
    return dest / "numpy/_core/include"


def _build_extension(target: Target, root: Path, numpy_include: Path, out: Path) -> bytes:
    """npext compiled with the Debian cross gcc: numpy's headers first (the target root's
    usr/include/python3.11/numpy is Debian's numpy 1.24), then the target Python's."""
    so = out / f"npext-{target.cpu}.so"
    subprocess.run([target.tool("gcc"), "-shared", "-fPIC", "-O2", f"-I{numpy_include}",
                    f"-I{root}/usr/include/python3.11", f"-I{root}/usr/include", str(EXTENSION),
                    "-o", str(so)], check=True, capture_output=True, timeout=120)
    return so.read_bytes()


def _npext_wheel(target: Target, so: bytes, directory: Path, name: str = "npext",
                 requires: tuple[str, ...] = REQUIRES) -> Path:
    return dep_wheel(directory, f"{name}-1.0-cp311-cp311-linux_{target.wheel_arch}.whl",
                     {f"npext.cpython-311-{target.triple}.so": so}, requires=requires)


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """numpy for aarch64 from the index, and the pure-Python dependency made here."""
    house = tmp_path_factory.mktemp("wheelhouse")
    _pip_download_numpy(house)
    dep_wheel(house, "zz_puredep-1.0-py3-none-any.whl", {"zz_puredep.py": b"VALUE = 42\n"})
    yield house


@pytest.fixture(scope="module", params=["aarch64", "armv7hf"])
def setup(request: pytest.FixtureRequest, wheelhouse: Path,
          tmp_path_factory: pytest.TempPathFactory) -> Setup:
    target = _target(request.param)
    work = tmp_path_factory.mktemp(f"npext-{target.cpu}")
    cache = _private_cache(work)
    root = debroot.root_dir(target, cache)
    if target.cpu == "aarch64":  # the numpy it will meet: PyPI's 2.2.6 wheel
        (numpy,) = wheelhouse.glob(f"numpy-{NUMPY}-*.whl")
        include = _numpy_headers(numpy, work / "numpy-headers")
    else:  # Debian's numpy 1.24 for armhf, headers and _numpyconfig.h of the target
        include = root / "usr/lib/python3/dist-packages/numpy/core/include"
    _npext_wheel(target, _build_extension(target, root, include, work), wheelhouse)
    if target.cpu == "armv7hf":  # fetched online once, like the target roots
        suite = suites.choose_suite("bookworm", None, False,
                                    api.suite_catalogue(dict(os.environ)))[0]
        hit = DebianSource(target, suite, cache).lookup(parse_requirement("numpy>=1.22", "t"))
        assert isinstance(hit, DebianHit), hit
    return Setup(target, root, wheelhouse, cache)


def _test_wheel(setup: Setup, wheel: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli("test-wheel", str(wheel), f"--find-links={setup.wheelhouse}", "--no-index",
                   *args, env=setup.env())


def test_numpy_extension_and_pure_dependency_offline(setup: Setup) -> None:
    (wheel,) = setup.wheelhouse.glob(f"npext-1.0-cp311-cp311-linux_{setup.target.wheel_arch}.whl")
    result = _test_wheel(setup, wheel, f"--command={CHECK}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"ok on {setup.target.cpu} (imported npext)" in result.stdout
    (checked,) = [ln for ln in result.stderr.splitlines()
                  if ln.startswith("cross_compiler: checked ")]
    version, size, value, where = checked.split(" ")[2:]
    assert (int(size), value) == (SIZEOF_LONG[setup.target.cpu], "42")
    if setup.target.cpu == "aarch64":  # PyPI's wheel, installed into the private prefix
        assert version == NUMPY and "/dist-packages/numpy/" in where
        assert not where.startswith(str(setup.root))
    else:  # Debian's, in the target root, with its BLAS/LAPACK from the fallback packages
        assert version == "1.24.2" and where.startswith(str(setup.root))


def test_a_missing_dependency_is_one_line(setup: Setup, tmp_path: Path) -> None:
    (wheel,) = setup.wheelhouse.glob(f"npext-1.0-cp311-cp311-linux_{setup.target.wheel_arch}.whl")
    with zipfile.ZipFile(wheel) as zf:
        so = next(zf.read(n) for n in zf.namelist() if n.endswith(".so"))
    needy = _npext_wheel(setup.target, so, tmp_path, "npneedy",
                         (*REQUIRES, "zz-absent-dep>=1"))
    result = _test_wheel(setup, needy)
    assert result.returncode == 3, result.stderr[-3000:]
    errors = [ln for ln in result.stderr.splitlines() if ln.startswith("cross_compiler: error")]
    assert len(errors) == 1 and result.stderr.rstrip().splitlines()[-1] == errors[0]
    assert errors[0].startswith(
        f"cross_compiler: error: zz-absent-dep>=1 (needed by npneedy 1.0 Requires-Dist) not "
        f"found for cp311 {setup.target.wheel_arch}: looked in wheelhouse {setup.wheelhouse} "
        f"and no index (--no-index); Debian bookworm has no python3-zz-absent-dep for "
        f"{setup.target.debian_arch}; put a wheel for it in a --find-links wheelhouse")


@pytest.mark.parametrize("setup", ["aarch64"], indirect=True)  # numpy 2 from PyPI's wheel
def test_numpy_1_headers_meeting_numpy_2_fail_saying_so(setup: Setup, tmp_path: Path) -> None:
    # The mistake a real build makes: the target root's Debian numpy 1.24 headers.
    old = _build_extension(setup.target, setup.root,
                           setup.root / "usr/lib/python3/dist-packages/numpy/core/include",
                           tmp_path)
    wheel = _npext_wheel(setup.target, old, tmp_path / "dist", "npold")
    result = _test_wheel(setup, wheel)
    assert result.returncode == 5, result.stderr[-3000:]
    assert result.stderr.rstrip().splitlines()[-1].startswith(
        "cross_compiler: error: npold-1.0-cp311-cp311-linux_aarch64.whl failed on aarch64: "
        "import npext: ImportError: numpy.core.multiarray failed to import; an extension built "
        "against numpy 1.x headers met numpy 2.x")
