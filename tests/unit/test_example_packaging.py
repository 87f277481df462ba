"""The example's packaging step builds its wheel quietly, without deprecated APIs."""

from __future__ import annotations

import importlib.util
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

from cross_compiler import resources
from tests.conftest import require


def test_packaging_makes_the_host_wheel_without_deprecation_noise(tmp_path: Path) -> None:
    require(importlib.util.find_spec("setuptools") is not None, "setuptools in the venv")
    example = resources.example_workspace()
    # The runfiles tree Bazel gives the sh_binary (bzlmod's main repository name).
    main = tmp_path / "runfiles/_main"
    (main / "pip_package").mkdir(parents=True)
    (main / "python/crossdemo").mkdir(parents=True)
    shutil.copy(example / "pip_package/setup.py", main / "pip_package")
    shutil.copy(example / "python/crossdemo/__init__.py", main / "python/crossdemo")
    (main / "python/crossdemo/_native.so").write_bytes(b"\x7fELF not really")
    out = tmp_path / "out"
    env = {**os.environ, "RUNFILES_DIR": str(tmp_path / "runfiles"),
           "PYTHON_BIN_PATH": sys.executable, "PIP_NO_INDEX": "1"}
    result = subprocess.run(["bash", str(example / "pip_package/build_pip_package.sh"),
                             str(out)], env=env, capture_output=True, text=True,
                            check=False, timeout=300)
    assert result.returncode == 0, result.stderr
    tag = f"cp{sys.version_info.major}{sys.version_info.minor}"
    assert [p.name for p in out.iterdir()] == [
        f"crossdemo-1.0.0-{tag}-{tag}-linux_{platform.machine()}.whl"]
    assert result.stdout == ""
    assert result.stderr == f"built wheel in {out}\n"
