"""pip run through the rendered python wrappers resolves the TARGET's wheels.

The real pip (the venv's), the real rendered wrapper and sitecustomize, real numpy wheels
from PyPI and a wheel made from the target's Debian numpy: what pip_parse / pip.parse /
a repository rule's `python3 -m pip` get when the tool's python3 is first on PATH.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from cross_compiler import config, resources
from cross_compiler.toolchain import debianwheel, debroot
from cross_compiler.toolchain.render import is_executable, render_toolchain
from cross_compiler.toolchain.suites import for_suite, load_suites
from cross_compiler.toolchain.targets import load_targets
from tests.conftest import pypi_wheel
from tests.golden_inputs import golden_request

pytestmark = [pytest.mark.slow]

NUMPY = {arch: f"numpy-2.2.6-cp311-cp311-manylinux_2_17_{arch}.manylinux2014_{arch}.whl"
         for arch in ("x86_64", "aarch64")}


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """numpy 2.2.6 for x86_64 and aarch64 (PyPI, cached), an sdist-only project, and a
    pure-Python project whose dependency holds only on some machines."""
    house = tmp_path_factory.mktemp("wheelhouse")
    for arch in NUMPY:
        wheel = pypi_wheel("numpy==2.2.6", f"manylinux_2_17_{arch}", "3.11")
        os.link(wheel, house / wheel.name)
    _pure_wheel(house, "helper", 'Requires-Dist: numpy; platform_machine == "aarch64"\n'
                'Requires-Dist: pywin; sys_platform == "win32"\n')
    sdist = house / "nativeonly-1.0.tar.gz"
    sdist.write_bytes(b"")  # never built: only binary wheels are taken for a target
    return house


def _pure_wheel(house: Path, name: str, requires: str) -> Path:
    wheel = house / f"{name}-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr(f"{name}.py", "")
        zf.writestr(f"{name}-1.0.dist-info/METADATA",
                    f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n{requires}")
        zf.writestr(f"{name}-1.0.dist-info/WHEEL",
                    "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        zf.writestr(f"{name}-1.0.dist-info/RECORD", "")
    return wheel


def _wrapper(tmp_path: Path, cpu: str, debian_wheels: dict[str, bytes] | None = None) -> Path:
    out = tmp_path / cpu
    for rel, data in render_toolchain(golden_request(cpu, "gcc", "")).items():
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        if is_executable(rel):
            path.chmod(0o755)
    for name, data in (debian_wheels or {}).items():
        (out / "python" / cpu / "wheels").mkdir(parents=True, exist_ok=True)
        (out / "python" / cpu / "wheels" / name).write_bytes(data)
    return out / "python" / cpu / "bin" / "python3"


def _pip(python: Path, *args: str, wheelhouses: str = "") -> subprocess.CompletedProcess[str]:
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": str(python.parent),
           "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    if wheelhouses:
        env["CROSS_COMPILER_WHEELHOUSES"] = wheelhouses
    return subprocess.run([str(python), "-m", "pip", *args], env=env, capture_output=True,
                          text=True, check=False)


def test_pip_wheel_takes_the_target_wheel_and_target_markers(tmp_path: Path,
                                                              wheelhouse: Path) -> None:
    python = _wrapper(tmp_path, "aarch64")
    dest = tmp_path / "dest"
    # As rules_python's whl_library runs it: pip wheel, --isolated, no index.
    result = _pip(python, "--isolated", "wheel", "--no-index", "--find-links",
                  str(wheelhouse), "-w", str(dest), "helper==1.0")
    assert result.returncode == 0, result.stderr[-2000:]
    assert sorted(p.name for p in dest.iterdir()) == [
        "helper-1.0-py3-none-any.whl", NUMPY["aarch64"]]  # aarch64's marker held


def test_wheelhouses_setting_works_offline_and_sdists_are_refused(tmp_path: Path,
                                                                  wheelhouse: Path) -> None:
    python = _wrapper(tmp_path, "aarch64")
    dest = tmp_path / "dest"
    ok = _pip(python, "--isolated", "download", "--no-deps", "-d", str(dest), "numpy==2.2.6",
              wheelhouses=str(wheelhouse))
    assert ok.returncode == 0, ok.stderr[-2000:]
    assert [p.name for p in dest.iterdir()] == [NUMPY["aarch64"]]
    sdist = _pip(python, "download", "--no-deps", "-d", str(dest), "nativeonly",
                 wheelhouses=str(wheelhouse))
    assert sdist.returncode != 0
    assert "cross_compiler: pip found no aarch64 wheel for cp311" in sdist.stderr


def test_no_target_wheel_is_one_line_naming_the_cpu(tmp_path: Path, wheelhouse: Path) -> None:
    python = _wrapper(tmp_path, "armv7hf")
    result = _pip(python, "download", "--no-deps", "-d", str(tmp_path / "d"), "numpy==2.2.6",
                  wheelhouses=str(wheelhouse))
    assert result.returncode != 0
    line = next(x for x in result.stderr.splitlines() if x.startswith("cross_compiler:"))
    assert "no armv7hf wheel for cp311" in line and "wheelhouses" in line, line


def test_debian_numpy_is_the_armv7hf_fallback(tmp_path: Path, wheelhouse: Path) -> None:
    env = dict(os.environ)
    (target,) = load_targets(["armv7hf"], resources.toolchains_dir())
    target = for_suite(target, load_suites(resources.data_dir("suites"))["bookworm"])
    cache = config.cache_dir(env)
    root = debroot.fetch(target, load_suites(resources.data_dir("suites"))["bookworm"], cache)
    wheels = debianwheel.debian_wheels(target, root, ("numpy",), cache)
    (name,) = wheels
    assert name.startswith("numpy-1.24.2-cp311-cp311-linux_armv7l")
    python = _wrapper(tmp_path, "armv7hf", wheels)
    dest = tmp_path / "dest"
    result = _pip(python, "--isolated", "wheel", "--no-deps", "-w", str(dest), "numpy",
                  wheelhouses=str(wheelhouse))
    assert result.returncode == 0, result.stderr[-2000:]
    assert [p.name for p in dest.iterdir()] == [name]
    with zipfile.ZipFile(dest / name) as zf:
        config_h = zf.read("numpy/core/include/numpy/_numpyconfig.h").decode()
    assert "#define NPY_SIZEOF_PY_INTPTR_T 4" in config_h
