"""Smoke-test a wheel on its target: install it with the target's own CPython under qemu-user,
then import its top-level modules.

The wheel is checked on the host first (wheelcheck.check_wheel), so a damaged archive is one
line, not a traceback from the target. Module names are handed to a fixed script as JSON,
never pasted into code.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from pathlib import Path

import installer

from cross_compiler import proc
from cross_compiler.errors import BuildError, ToolMissingError
from cross_compiler.toolchain import debroot
from cross_compiler.toolchain.targets import Target
from cross_compiler.wheel.wheelcheck import (
    CheckedWheel,
    check_wheel,
    is_module_name,
    top_level_modules,
)

__all__ = ["CheckedWheel", "check_wheel", "import_argv", "is_module_name", "smoke_test",
           "top_level_modules"]

log = logging.getLogger(__name__)

# Runs on the target: module names and site dirs arrive as JSON in argv[1].
IMPORT_SCRIPT = """\
import importlib, json, site, sys
spec = json.loads(sys.argv[1])
sys.path[0:0] = spec["sites"]
for d in spec["sites"]:
    site.addsitedir(d)  # runs the wheel's .pth files too, as an installed site would
for name in spec["modules"]:
    try:
        importlib.import_module(name)
    except Exception as e:
        sys.exit(f"import {name}: {type(e).__name__}: {e}")
print("imported: " + " ".join(spec["modules"]))
"""


def site_dirs(dest: Path, dist_info: str) -> list[Path]:
    """Where the installer put the wheel under ``dest``: every site dir, the one holding its
    dist-info first (a single-module wheel has no package dir to look for)."""
    owner = sorted(p.parent for p in dest.rglob(dist_info) if p.is_dir())
    sites = sorted(p for name in ("site-packages", "dist-packages") for p in dest.rglob(name)
                   if p.is_dir())
    return list(dict.fromkeys([*owner, *sites]))


def import_argv(python_argv: list[str], modules: tuple[str, ...], sites: list[Path]) -> list[str]:
    """The command that imports ``modules`` with ``sites`` on sys.path: a fixed script, the
    names passed as JSON data (isolated mode: no PYTHON* variables, no cwd on sys.path)."""
    spec = json.dumps({"modules": list(modules), "sites": [str(s) for s in sites]})
    return [*python_argv, "-I", "-c", IMPORT_SCRIPT, spec]


def target_python(target: Target, cache_dir: Path) -> list[str]:
    """The command that runs the target's CPython: qemu-user with the target's root."""
    qemu = shutil.which(target.qemu)
    if not qemu:
        raise ToolMissingError(f"{target.qemu} not found", "apt-get install qemu-user-static")
    root = debroot.root_dir(target, cache_dir)  # fetched by the caller, for its suite
    return [qemu, "-L", str(root), str(debroot.interpreter(target, cache_dir))]


def _last_line(text: str) -> str:
    return (text.strip().splitlines() or ["(no output)"])[-1]


def smoke_test(wheel: Path, target: Target, cache_dir: Path, command: str = "") -> list[str]:
    """Install ``wheel`` into a scratch prefix with the target CPython and import its
    top-level modules (then run ``command`` with that interpreter, if given)."""
    checked = check_wheel(wheel)
    python = target_python(target, cache_dir)
    with tempfile.TemporaryDirectory(prefix="cross_compiler-smoke-") as tmp:
        tools, dest, cwd = Path(tmp) / "tools", Path(tmp) / "dest", Path(tmp) / "cwd"
        cwd.mkdir()
        # The target interpreter runs PyPI's installer, a pure-Python package we ship with.
        shutil.copytree(Path(installer.__file__).parent, tools / "installer")
        env = {"PYTHONPATH": str(tools), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
        install = proc.run([*python, "-m", "installer", "--destdir", str(dest),
                            "--no-compile-bytecode", str(wheel)], env=env, cwd=cwd)
        if install.returncode != 0:
            raise BuildError(f"installing {wheel.name} with the {target.cpu} Python failed: "
                             f"{_last_line(install.stderr)}")
        sites = site_dirs(dest, checked.dist_info)
        env["PYTHONPATH"] = ":".join(str(s) for s in sites)
        checks = [import_argv(python, checked.modules, sites)]
        if command:
            checks.append([*python, "-c", command])
        for argv, what in zip(checks, ["import " + " ".join(checked.modules), command],
                              strict=False):
            log.info("%s: running %s under %s", target.cpu, what, target.qemu)
            result = proc.run(argv, env={**env, "PWD": str(cwd)}, cwd=cwd)
            if result.stdout:
                log.info("%s", result.stdout.rstrip())
            if result.returncode != 0:
                raise BuildError(f"{wheel.name} failed on {target.cpu}: "
                                 f"{_last_line(result.stderr)}",
                                 "the wheel does not work on its target")
    return list(checked.modules)
