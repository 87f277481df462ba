"""The build's packaging step retags all its wheels as one call: two wheels that would get
one output name are refused before either is written."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import pytest

from cross_compiler import config, resources
from cross_compiler.toolchain.targets import load_targets
from cross_compiler.wheel import packaging
from cross_compiler.wheel.tags import WheelError
from tests.wheels import AARCH64_SO, make_wheel

(A64,) = load_targets(["aarch64"], resources.toolchains_dir())

COPY_WHEELS = "import shutil, sys\nfor w in sys.argv[2:]: shutil.copy(w, sys.argv[1])\n"


def _package(tmp_path: Path, wheels: list[Path]) -> list[Path]:
    script = tmp_path / "package.py"
    script.write_text(COPY_WHEELS)
    command = shlex.join([sys.executable, str(script), "{out}", *map(str, wheels)])
    settings = config.resolve({"package_command": command, "dist_dir": "dist",
                               "platform": "linux_aarch64"}, "test", {}, {})
    results = packaging.package_and_retag(tmp_path, A64, settings, {})
    return [r.path for r in results]


def test_two_wheels_one_output_name_are_refused_before_any_write(tmp_path: Path) -> None:
    made = tmp_path / "made"
    made.mkdir()
    files = {"demo/_n.so": AARCH64_SO}
    wheels = [make_wheel(made, "demo-1.0-cp311-cp311-linux_x86_64.whl", files,
                         ["cp311-cp311-linux_x86_64"]),
              make_wheel(made, "demo-1.0-cp311-cp311-linux_armv7l.whl", files,
                         ["cp311-cp311-linux_armv7l"])]
    with pytest.raises(WheelError, match="would both be written as"):
        _package(tmp_path, wheels)
    assert not (tmp_path / "dist").exists() or list((tmp_path / "dist").iterdir()) == []


def test_wheels_with_distinct_names_are_all_written(tmp_path: Path) -> None:
    made = tmp_path / "made"
    made.mkdir()
    files = {"demo/_n.so": AARCH64_SO}
    wheels = [make_wheel(made, "demo-1.0-cp311-cp311-linux_x86_64.whl", files,
                         ["cp311-cp311-linux_x86_64"]),
              make_wheel(made, "other-1.0-cp311-cp311-linux_x86_64.whl",
                         {"other/_n.so": AARCH64_SO}, ["cp311-cp311-linux_x86_64"])]
    written = _package(tmp_path, wheels)
    assert [p.name for p in written] == ["demo-1.0-cp311-cp311-linux_aarch64.whl",
                                         "other-1.0-cp311-cp311-linux_aarch64.whl"]
    assert all(p.is_file() and p.parent == tmp_path / "dist" for p in written)
