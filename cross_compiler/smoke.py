"""Smoke-test a wheel on its target: install it with the target's own CPython under qemu-user."""

from __future__ import annotations

import csv
import io
import logging
import shutil
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

import installer

from cross_compiler import debroot, proc
from cross_compiler.errors import BuildError, ToolMissingError
from cross_compiler.targets import Target
from cross_compiler.wheeltags import WheelError

log = logging.getLogger(__name__)


def top_level_modules(wheel: Path) -> list[str]:
    """Importable top-level names: top_level.txt if present, else derived from RECORD."""
    try:
        with zipfile.ZipFile(wheel) as zf:
            names = zf.namelist()
            top = [n for n in names if n.endswith(".dist-info/top_level.txt")]
            if top:
                return sorted({m.strip() for m in zf.read(top[0]).decode().splitlines()
                               if m.strip()})
            record = next(n for n in names if n.endswith(".dist-info/RECORD"))
            rows = list(csv.reader(io.StringIO(zf.read(record).decode())))
    except (zipfile.BadZipFile, StopIteration, UnicodeDecodeError, OSError) as e:
        raise WheelError(f"{wheel}: cannot read its module list ({e})") from e
    modules = set()
    for row in rows:
        if not row:
            continue
        first = PurePosixPath(row[0]).parts[0]
        if first.endswith((".dist-info", ".data")):
            continue
        modules.add(first.split(".")[0] if first.endswith((".py", ".so")) else first)
    return sorted(modules)


def _qemu(target: Target) -> str:
    found = shutil.which(target.qemu)
    if not found:
        raise ToolMissingError(f"{target.qemu} not found", "apt-get install qemu-user-static")
    return found


def smoke_test(wheel: Path, target: Target, cache_dir: Path, command: str = "") -> list[str]:
    """Install ``wheel`` into a scratch prefix with the target CPython and import its
    top-level modules (then run ``command`` with that interpreter, if given)."""
    if not wheel.is_file():
        raise WheelError(f"{wheel}: no such wheel file")
    modules = top_level_modules(wheel)
    root = debroot.root_dir(target, cache_dir)  # fetched by the caller, for its suite
    python = str(debroot.interpreter(target, cache_dir))
    qemu = _qemu(target)
    with tempfile.TemporaryDirectory(prefix="cross_compiler-smoke-") as tmp:
        tools, dest = Path(tmp) / "tools", Path(tmp) / "dest"
        # The target interpreter runs PyPI's installer, a pure-Python package we ship with.
        shutil.copytree(Path(installer.__file__).parent, tools / "installer")
        env = {"PYTHONPATH": str(tools), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
        install = proc.run([qemu, "-L", str(root), python, "-m", "installer",
                            "--destdir", str(dest), "--no-compile-bytecode", str(wheel)], env=env)
        if install.returncode != 0:
            raise BuildError(f"installing {wheel.name} with the {target.cpu} Python failed: "
                             f"{install.stderr.strip().splitlines()[-1:]}")
        sites = sorted({p.parent for m in modules for p in dest.rglob(m)
                        if p.parent.name in ("site-packages", "dist-packages")})
        env["PYTHONPATH"] = ":".join(str(s) for s in sites)
        code = "; ".join(f"import {m}" for m in modules) or "pass"
        code += f"; print('imported: {' '.join(modules)}')"
        checks = [[qemu, "-L", str(root), python, "-c", code]]
        if command:
            checks.append([qemu, "-L", str(root), python, "-c", command])
        for argv in checks:
            log.info("%s: running %s under %s", target.cpu, argv[-1], target.qemu)
            result = proc.run(argv, env={**env, "PWD": tmp}, cwd=Path(tmp))
            if result.stdout:
                log.info("%s", result.stdout.rstrip())
            if result.returncode != 0:
                last = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
                raise BuildError(f"{wheel.name} failed on {target.cpu}: {last}",
                                 "the wheel does not work on its target")
    return modules
