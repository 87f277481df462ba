"""The tool works installed from its wheel: data ships inside it, found away from a checkout."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow


def test_wheel_carries_data_and_finds_it(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                    str(tmp_path), str(ROOT)], check=True, capture_output=True)
    (wheel,) = tmp_path.glob("cross_compiler-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        zf.extractall(tmp_path / "site")
    for needed in ("cross_compiler/_data/toolchains/aarch64.toml",
                   "cross_compiler/_data/templates/bazel/BUILD.bazel.j2",
                   "cross_compiler/_data/examples/pyext/WORKSPACE",
                   "cross_compiler/_data/bazel_overrides/rules_cc/cc/defs.bzl",
                   "cross_compiler/_data/bazel_overrides/modules/zlib/MODULE.bazel",
                   "cross_compiler/_data/suites/sid.toml"):
        assert needed in names
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from cross_compiler import resources; "
            "from cross_compiler.toolchain import targets; print(resources.toolchains_dir()); "
            "print(len(targets.load_targets(['all'], resources.toolchains_dir())))")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "site")], cwd=tmp_path,
                         capture_output=True, text=True, check=True).stdout.split()
    assert out == [str(tmp_path / "site/cross_compiler/_data/toolchains"), "5"]
