"""Smoke-test a wheel on its target: install it, and what it requires, with the target's own
CPython under qemu-user into a private prefix, then import its top-level modules and run the
user's command.

The wheel is checked on the host first (wheelcheck.check_wheel), so a damaged archive is one
line, not a traceback from the target. Its Requires-Dist (and ``--with``/``--requirement``)
are resolved for the target (resolve.py): the target interpreter reports its own marker
values, pip takes wheels for the target's tags (toolchain.render.pip_platforms, as the
build's pip does), the suite's Debian packages are the fallback; every wheel is checked the
same way before the target installs it. Module names, paths and the command are handed to
fixed scripts as JSON, never pasted into code.
The target's own sys.path (its stdlib, Debian's dist-packages in the root) is kept; the
prefix's site dirs go in front of it.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import installer
from packaging.utils import canonicalize_name

from cross_compiler import proc
from cross_compiler.errors import BuildError, ConfigError, ToolMissingError
from cross_compiler.toolchain import debroot
from cross_compiler.toolchain.render import pip_platforms
from cross_compiler.toolchain.suites import Suite
from cross_compiler.toolchain.targets import Target
from cross_compiler.wheel import debdeps, pipdownload
from cross_compiler.wheel.requires import Need, TargetPython, parse_target_report
from cross_compiler.wheel.resolve import DebianHit, Inspected, Resolution, Sources, resolve
from cross_compiler.wheel.wheelcheck import check_wheel

log = logging.getLogger(__name__)

# Runs on the target: site dirs, module names and the command arrive as JSON in argv[1].
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
if spec["modules"]:
    print("imported: " + " ".join(spec["modules"]))
if spec["command"]:
    exec(compile(spec["command"], "<command>", "exec"), {"__name__": "__main__"})
"""
# Runs on the target: the values its environment markers compare (packaging's
# default_environment(), stdlib only).
TARGET_SCRIPT = """\
import json, os, platform, sys
v = sys.implementation.version
full = f"{v.major}.{v.minor}.{v.micro}" + (
    "" if v.releaselevel == "final" else v.releaselevel[0] + str(v.serial))
print(json.dumps({
    "implementation_name": sys.implementation.name, "implementation_version": full,
    "os_name": os.name, "platform_machine": platform.machine(),
    "platform_release": platform.release(), "platform_system": platform.system(),
    "platform_version": platform.version(), "python_full_version": platform.python_version(),
    "platform_python_implementation": platform.python_implementation(),
    "python_version": ".".join(platform.python_version_tuple()[:2]),
    "sys_platform": sys.platform,
}))
"""
# Runs on the target with PyPI's installer on its path: every wheel into one prefix.
INSTALL_SCRIPT = """\
import json, os, sys, sysconfig
import installer
from installer.destinations import SchemeDictionaryDestination
from installer.sources import WheelFile
spec = json.loads(sys.argv[1])
for wheel in spec["wheels"]:
    try:
        with WheelFile.open(wheel) as source:
            scheme = sysconfig.get_paths()
            scheme["headers"] = os.path.join(sysconfig.get_path("include"), source.distribution)
            installer.install(source, SchemeDictionaryDestination(
                scheme, interpreter=sys.executable, script_kind="posix",
                bytecode_optimization_levels=[], destdir=spec["destdir"]), {})
    except Exception as e:
        sys.exit(f"{os.path.basename(wheel)}: {type(e).__name__}: {e}")
"""
# An extension built against numpy 1.x headers fails on numpy 2.x (the reverse works).
_NUMPY_ABI = "compiled using NumPy 1.x cannot be run in"


def site_dirs(dest: Path, dist_info: str) -> list[Path]:
    """Where the installer put the wheel under ``dest``: every site dir, the one holding its
    dist-info first (a single-module wheel has no package dir to look for)."""
    owner = sorted(p.parent for p in dest.rglob(dist_info) if p.is_dir())
    sites = sorted(p for name in ("site-packages", "dist-packages") for p in dest.rglob(name)
                   if p.is_dir())
    return list(dict.fromkeys([*owner, *sites]))


def import_argv(python_argv: list[str], modules: tuple[str, ...], sites: list[Path],
                command: str = "") -> list[str]:
    """The command that imports ``modules`` with ``sites`` in front of the interpreter's own
    sys.path, then runs ``command``: a fixed script, everything passed as JSON data
    (isolated mode: no PYTHON* variables, no cwd on sys.path)."""
    spec = json.dumps({"modules": list(modules), "sites": [str(s) for s in sites],
                       "command": command})
    return [*python_argv, "-I", "-c", IMPORT_SCRIPT, spec]


def target_python(target: Target, cache_dir: Path,
                  library_path: Sequence[Path] = ()) -> list[str]:
    """The command that runs the target's CPython: qemu-user with the target's root, and
    ``library_path`` as the guest's LD_LIBRARY_PATH (qemu's -E: never the host's)."""
    qemu = shutil.which(target.qemu)
    if not qemu:
        raise ToolMissingError(f"{target.qemu} not found", "apt-get install qemu-user-static")
    root = debroot.root_dir(target, cache_dir)  # fetched by the caller, for its suite
    guest_env = (["-E", "LD_LIBRARY_PATH=" + ":".join(map(str, library_path))]
                 if library_path else [])
    return [qemu, "-L", str(root), *guest_env, str(debroot.interpreter(target, cache_dir))]


def query_target(python: list[str], cwd: Path, platforms: Sequence[str]) -> TargetPython:
    """The target interpreter's marker values, as it reports them itself, and ``platforms``,
    the wheel tags it takes."""
    result = proc.run([*python, "-I", "-c", TARGET_SCRIPT], env=_ENV, cwd=cwd)
    if result.returncode != 0:
        raise BuildError(f"the target Python did not run: {_last_line(result.stderr)}")
    return parse_target_report(result.stdout, platforms)


@dataclass(frozen=True)
class TargetLookup:
    """resolve.Lookup for one target: pip for wheels, the suite's Debian packages after."""

    sources: Sources
    target: TargetPython
    dest: Path
    env: Mapping[str, str]
    debian_source: debdeps.DebianSource | None

    def wheels(self, needs: Sequence[Need]) -> tuple[dict[str, Path], dict[str, str]]:
        return pipdownload.download(needs, self.sources, self.target, self.dest, self.env)

    def inspect(self, wheel: Path) -> Inspected:
        checked = check_wheel(wheel)  # a dependency is held to the same checks
        return Inspected(checked.name.version, checked.requires)

    def debian(self, need: Need) -> DebianHit | str:
        if self.debian_source is None:
            return "no Debian suite to fall back on"
        return self.debian_source.lookup(need)


_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}


def _last_line(text: str) -> str:
    return (text.strip().splitlines() or ["(no output)"])[-1]


def _check_sources(sources: Sources) -> list[Need]:
    """The test-only requirements, and every wheelhouse there: before anything runs."""
    for directory in sources.find_links:
        if not directory.is_dir():
            raise ConfigError(f"--find-links {directory}: no such directory",
                              "name a directory of wheels")
    return sources.needs()


def smoke_test(wheel: Path, target: Target, cache_dir: Path, command: str = "", *,
               suite: Suite | None = None, sources: Sources | None = None,
               env: Mapping[str, str] | None = None) -> list[str]:
    """Install ``wheel`` and what it needs into a scratch prefix with the target CPython,
    import its top-level modules, then run ``command``, if given. ``suite`` is the target
    root's Debian suite (its packages are the fallback for missing wheels); ``env`` is
    pip's environment (its index settings)."""
    checked = check_wheel(wheel)
    sources = sources or Sources()
    needs = [*checked.requires, *_check_sources(sources)]
    python = target_python(target, cache_dir)
    with tempfile.TemporaryDirectory(prefix="cross_compiler-smoke-") as tmp:
        tools, dest, cwd = Path(tmp) / "tools", Path(tmp) / "dest", Path(tmp) / "cwd"
        cwd.mkdir()
        resolution = Resolution()
        if needs:
            debian = debdeps.DebianSource(target, suite, cache_dir) if suite else None
            reported = query_target(python, cwd, pip_platforms(target))
            lookup = TargetLookup(sources, reported, Path(tmp) / "wheels",
                                  env if env is not None else _ENV, debian)
            resolution = resolve(needs, canonicalize_name(checked.name.distribution),
                                 lookup.target, lookup, sources.where())
            for chosen in resolution.chosen:
                log.info("%s: %s", target.cpu, chosen.describe())
        # The target interpreter runs PyPI's installer, a pure-Python package we ship with.
        shutil.copytree(Path(installer.__file__).parent, tools / "installer")
        spec = json.dumps({"wheels": [str(w) for w in [wheel, *resolution.wheels]],
                           "destdir": str(dest)})
        install = proc.run([*python, "-c", INSTALL_SCRIPT, spec],
                           env={**_ENV, "PYTHONPATH": str(tools)}, cwd=cwd)
        if install.returncode != 0:
            raise BuildError(f"installing {wheel.name} with the {target.cpu} Python failed: "
                             f"{_last_line(install.stderr)}")
        trees = resolution.debian_trees
        sites = [*site_dirs(dest, checked.dist_info), *debdeps.site_dirs(trees)]
        runner = target_python(target, cache_dir, debdeps.library_dirs(trees))
        # The imports, then the command in an interpreter of its own, as a user would.
        runs = [(import_argv(runner, checked.modules, sites),
                 "import " + " ".join(checked.modules))]
        if command:
            runs.append((import_argv(runner, (), sites, command), command))
        for argv, what in runs:
            log.info("%s: running %s under %s", target.cpu, what, target.qemu)
            result = proc.run(argv, env={**_ENV, "PWD": str(cwd)}, cwd=cwd)
            if result.stdout:
                log.info("%s", result.stdout.rstrip())
            if result.returncode != 0:
                raise BuildError(f"{wheel.name} failed on {target.cpu}: "
                                 f"{_last_line(result.stderr)}", _failure_hint(result.stderr))
    return list(checked.modules)


def _failure_hint(stderr: str) -> str:
    if _NUMPY_ABI in stderr:
        return ("an extension built against numpy 1.x headers met numpy 2.x: build it against "
                "numpy 2.x headers (they run on both) or require numpy<2")
    return "the wheel does not work on its target"
