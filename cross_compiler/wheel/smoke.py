"""Smoke-test a wheel on its target: install it with the target's own CPython under qemu-user,
then import its top-level modules.

The wheel is checked on the host first (every member readable, safe paths, RECORD right),
so a damaged archive is one line, not a traceback from the target. Module names are data:
validated as dotted Python names and handed to a fixed script as JSON, never pasted into code.
"""

from __future__ import annotations

import csv
import io
import json
import keyword
import logging
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import installer
from installer.exceptions import InstallerError
from installer.sources import WheelFile

from cross_compiler import proc
from cross_compiler.errors import BuildError, ToolMissingError
from cross_compiler.toolchain import debroot
from cross_compiler.toolchain.targets import Target
from cross_compiler.wheel.retag import TEXT_LIMIT, check_archive, unsafe_path
from cross_compiler.wheel.tags import (
    WheelError,
    WheelName,
    check_tags_agree,
    parse_wheel_metadata,
)

log = logging.getLogger(__name__)

TOP_LEVEL_LIMIT = 1 << 20  # top_level.txt is a few names; more than this is not one
MAX_MODULES = 1000
# Top-level entries that are installed but are not modules to import: auditwheel's bundled
# libraries (numpy.libs/), PEP 561 stub-only packages (foo-stubs/), bytecode caches.
_NOT_MODULES = (".libs", "-stubs", ".dist-info", ".data")
_MODULE_SUFFIXES = (".py", ".pyc", ".so")

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


@dataclass(frozen=True)
class CheckedWheel:
    """A wheel that passed the host-side checks, and the modules to import from it."""

    path: Path
    dist_info: str
    modules: tuple[str, ...]


def is_module_name(name: str) -> bool:
    """A dotted Python module name (``a``, ``a.b``): identifiers, no keywords."""
    parts = name.split(".")
    return all(p.isidentifier() and not keyword.iskeyword(p) for p in parts)


def _module_of(path: str) -> str | None:
    """The top-level module a wheel member installs, or None when it installs none."""
    parts = PurePosixPath(path).parts
    if len(parts) > 2 and parts[0].endswith(".data") and parts[1] in ("purelib", "platlib"):
        parts = parts[2:]  # installed into site-packages like the wheel's root
    if not parts or parts[0].endswith(_NOT_MODULES) or parts[0] == "__pycache__":
        return None
    if len(parts) > 1:
        return parts[0] if is_module_name(parts[0]) else None
    if not parts[0].endswith(_MODULE_SUFFIXES):
        return None  # .pth files, data files at the root
    stem = parts[0].split(".", 1)[0]  # mod.cpython-311-aarch64-linux-gnu.so -> mod
    return stem if is_module_name(stem) else None


def _top_level_txt(text: str, wheel: str) -> list[str]:
    modules = []
    for line in text.splitlines():
        name = line.strip()
        if not name or name.endswith(_NOT_MODULES):
            continue
        if not is_module_name(name):
            raise WheelError(f"{wheel}: top_level.txt names {name[:80]!r}, which is not a "
                             "Python module name", "fix top_level.txt in the wheel")
        modules.append(name)
    return modules


def _read_small(zf: zipfile.ZipFile, name: str, limit: int, wheel: str) -> str:
    info = zf.getinfo(name)
    if info.file_size > limit:
        raise WheelError(f"{wheel}: {name} declares {info.file_size} bytes, more than {limit}",
                         "the wheel is damaged or hostile")
    with zf.open(info) as f:
        data = f.read(limit + 1)
    try:
        return data[:limit].decode("utf-8")
    except UnicodeDecodeError as e:
        raise WheelError(f"{wheel}: {name} is not UTF-8 text") from e


def _check_record(text: str, record: str, wheel: str) -> None:
    """Every RECORD row has three fields and a safe relative path."""
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error as e:
        raise WheelError(f"{wheel}: {record} is not a readable RECORD ({e})") from e
    for row in rows:
        if not row:
            continue
        if len(row) != 3:
            raise WheelError(f"{wheel}: {record} row {row[:3]!r} does not have 3 fields",
                             "rebuild the wheel")
        if row[0] in ("", ".") or unsafe_path(row[0].replace("\\", "/")):
            raise WheelError(f"{wheel}: {record} lists the unsafe path {row[0][:200]!r}",
                             "refusing to install it")


def check_wheel(wheel: Path) -> CheckedWheel:
    """Everything test-wheel can check without the target: a readable archive (every
    member's CRC), a valid name, one dist-info, WHEEL tags matching the name, RECORD
    matching the members, and the validated names of the modules to import. Raises
    WheelError (one line)."""
    if not wheel.is_file():
        raise WheelError(f"{wheel}: no such wheel file")
    name = WheelName.parse(wheel.name)
    names = check_archive(wheel)
    try:
        with zipfile.ZipFile(wheel) as zf:
            source = WheelFile(zf)
            dist_info = source.dist_info_dir
            record, metadata = f"{dist_info}/RECORD", f"{dist_info}/WHEEL"
            for needed in (record, metadata):
                if needed not in names:
                    raise WheelError(f"{wheel.name}: missing {needed}", "the wheel is incomplete")
            text = _read_small(zf, metadata, TOP_LEVEL_LIMIT, wheel.name)
            check_tags_agree(name, parse_wheel_metadata(text.encode(), metadata), metadata)
            _check_record(_read_small(zf, record, TEXT_LIMIT, wheel.name), record, wheel.name)
            source.validate_record()
            top_level = f"{dist_info}/top_level.txt"
            modules = (_top_level_txt(_read_small(zf, top_level, TOP_LEVEL_LIMIT, wheel.name),
                                      wheel.name) if top_level in names
                       else [m for m in map(_module_of, names) if m])
    except InstallerError as e:
        detail = "; ".join(getattr(e, "issues", None) or [str(e)])
        raise WheelError(f"{wheel.name}: {detail.splitlines()[0][:300]}",
                         "the wheel is damaged or inconsistent; rebuild it") from e
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as e:
        raise WheelError(f"{wheel.name}: cannot read it ({type(e).__name__}: {e})") from e
    unique = tuple(sorted(set(modules)))
    if len(unique) > MAX_MODULES:
        raise WheelError(f"{wheel.name}: {len(unique)} top-level modules (more than "
                         f"{MAX_MODULES})", "the wheel is damaged or hostile")
    return CheckedWheel(wheel, dist_info, unique)


def top_level_modules(wheel: Path) -> list[str]:
    """Importable top-level names: top_level.txt if present, else derived from the members."""
    return list(check_wheel(wheel).modules)


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
