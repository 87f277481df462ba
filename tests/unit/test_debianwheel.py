"""Target wheels made from a Debian package in a target root (the pip fallback), the BLAS
alternatives links a root needs, and the platform tags pip may take for a target."""

from __future__ import annotations

import dataclasses
import zipfile
from io import BytesIO
from pathlib import Path

from cross_compiler import resources
from cross_compiler.toolchain import debianwheel
from cross_compiler.toolchain.debroot import link_alternatives
from cross_compiler.toolchain.render import pip_platforms
from cross_compiler.toolchain.targets import load_targets
from cross_compiler.wheel.wheelcheck import check_wheel

(ARMHF,) = load_targets(["armv7hf"], resources.toolchains_dir())


def _root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    site = root / debianwheel.DIST_PACKAGES
    (site / "numpy/core").mkdir(parents=True)
    (site / "numpy/__init__.py").write_text("")
    (site / "numpy/core/_umath.cpython-311-arm-linux-gnueabihf.so").write_bytes(b"\x7fELF")
    (site / "numpy/__pycache__").mkdir()
    (site / "numpy/__pycache__/x.pyc").write_bytes(b"")
    # numpy 2 on Debian: the include dir is an absolute link into the root's /usr/lib.
    real = root / "usr/lib/arm-linux-gnueabihf/python3-numpy/numpy/_core/include"
    (real / "numpy").mkdir(parents=True)
    (real / "numpy/_numpyconfig.h").write_text("#define NPY_SIZEOF_LONG 4\n")
    (site / "numpy/core/include").symlink_to("/usr/lib/arm-linux-gnueabihf/python3-numpy/"
                                             "numpy/_core/include")
    (site / "numpy/core/escape.h").symlink_to("../../../../../../../../etc/passwd")
    meta = site / "numpy-1.24.2.egg-info"
    meta.mkdir()
    (meta / "PKG-INFO").write_text("Metadata-Version: 2.1\nName: numpy\nVersion: 1.24.2\n")
    (meta / "top_level.txt").write_text("numpy\n")
    return root


def test_a_debian_package_becomes_a_valid_target_wheel(tmp_path: Path) -> None:
    wheels = debianwheel.debian_wheels(ARMHF, _root(tmp_path), ("numpy", "absent"),
                                       tmp_path / "cache")
    assert list(wheels) == ["numpy-1.24.2-cp311-cp311-linux_armv7l.whl"]
    (data,) = wheels.values()
    with zipfile.ZipFile(BytesIO(data)) as zf:
        names = zf.namelist()
        assert zf.read("numpy/core/include/numpy/_numpyconfig.h") == b"#define NPY_SIZEOF_LONG 4\n"
        assert b"Tag: cp311-cp311-linux_armv7l" in zf.read("numpy-1.24.2.dist-info/WHEEL")
    assert "numpy/core/escape.h" not in names  # a link out of the root is not followed
    assert not any("__pycache__" in n for n in names)
    path = tmp_path / "numpy-1.24.2-cp311-cp311-linux_armv7l.whl"
    path.write_bytes(data)
    assert check_wheel(path).modules == ("numpy",)
    again = debianwheel.debian_wheels(ARMHF, _root(tmp_path / "b"), ("numpy",), tmp_path / "c")
    assert list(again.values()) == [data]  # same root, same bytes


def test_blas_alternatives_are_linked_like_dpkg_would(tmp_path: Path) -> None:
    libdir = tmp_path / "usr/lib/arm-linux-gnueabihf"
    (libdir / "blas").mkdir(parents=True)
    (libdir / "blas/libblas.so.3").write_bytes(b"")
    link_alternatives(tmp_path, "arm-linux-gnueabihf")
    assert (libdir / "libblas.so.3").resolve() == (libdir / "blas/libblas.so.3").resolve()
    link_alternatives(tmp_path, "arm-linux-gnueabihf")  # idempotent


def test_pip_platforms_follow_the_suites_glibc() -> None:
    tags = pip_platforms(dataclasses.replace(ARMHF, glibc="2.31"))
    assert tags[0] == "manylinux_2_31_armv7l" and tags[-3:] == [
        "manylinux_2_17_armv7l", "manylinux2014_armv7l", "linux_armv7l"]
    assert len(tags) == 15 + 2


def test_an_unwritable_cache_still_gives_the_wheel(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.write_text("a file where the cache directory would be")  # unwritable even as root
    wheels = debianwheel.debian_wheels(ARMHF, _root(tmp_path), ("numpy",), cache)
    assert list(wheels) == ["numpy-1.24.2-cp311-cp311-linux_armv7l.whl"]


def test_no_fallback_wheel_for_a_python_debian_built_no_extensions_for(tmp_path: Path) -> None:
    root = _root(tmp_path)
    target = dataclasses.replace(ARMHF, python_version="3.13")  # the root has cpython-311
    assert debianwheel.debian_wheels(target, root, ("numpy",), tmp_path / "cache") == {}
