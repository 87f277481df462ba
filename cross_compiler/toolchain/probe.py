"""Probe the machine: cross compilers, their include directories, target Python headers."""

from __future__ import annotations

import importlib.util
import logging
import os
import platform
import posixpath
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cross_compiler import proc
from cross_compiler.errors import CrossCompilerError, ToolMissingError
from cross_compiler.toolchain import debianwheel, debroot
from cross_compiler.toolchain.families import ToolchainFlags, default_flags
from cross_compiler.toolchain.render import ToolchainInputs
from cross_compiler.toolchain.targets import Target

log = logging.getLogger(__name__)

# Directories that belong to the build machine, never to the target.
HOST_INCLUDE_DIRS = ("/usr/include", "/usr/local/include")

_HOST_CPU_CONSTRAINTS = {
    "x86_64": "@platforms//cpu:x86_64",
    "amd64": "@platforms//cpu:x86_64",
    "aarch64": "@platforms//cpu:aarch64",
    "arm64": "@platforms//cpu:aarch64",
}


class IncludeOrderError(CrossCompilerError):
    exit_code = 3


def host_exec_constraints() -> tuple[str, ...]:
    """Constraint values of the machine that runs the compilers."""
    machine = platform.machine().lower()
    cpu = _HOST_CPU_CONSTRAINTS.get(machine, f"@platforms//cpu:{machine}")
    return (cpu, "@platforms//os:linux")


def host_python() -> str:
    """The build machine's python3, run by the rendered python3 wrappers."""
    return shutil.which("python3") or sys.executable


def host_system_name() -> str:
    return f"{platform.machine()}-linux-gnu"


def _which(program: str, python_package: str = "") -> str | None:
    """``program`` on PATH, else (with ``python_package``) inside that installed package's
    directory (PyPI's ziglang ships the zig program there)."""
    found = shutil.which(program)
    if found is None and python_package:
        spec = importlib.util.find_spec(python_package)
        for directory in (spec.submodule_search_locations or []) if spec else []:
            found = shutil.which(program, path=directory)
            if found:
                break
    return os.path.abspath(found) if found else None


def tool_paths(target: Target, toolchain: ToolchainFlags | None = None) -> dict[str, str]:
    """Absolute paths of the family's tools for the target (default: Debian's cross gcc);
    errors name the Debian package to install."""
    fam = toolchain or default_flags(target)
    paths: dict[str, str] = {}
    for bazel_name, program in fam.tools.items():
        found = _which(program, fam.python_package)
        if found is None:
            if bazel_name in fam.optional_tools:
                # Bazel requires an entry; point it at a program that exists but is unused.
                found = _which(fam.tools.get("strip", "")) or "/bin/false"
            else:
                raise ToolMissingError(
                    f"{fam.family} toolchain for {target.cpu} not found: {program} "
                    "is not on PATH",
                    fam.install_hint or f"install it with: apt-get install {fam.packages}",
                )
        paths[bazel_name] = found
    # e.g. g++: C++ sources are compiled through the gcc driver, which runs cc1plus.
    for program in fam.required:
        if _which(program, fam.python_package) is None:
            raise ToolMissingError(
                f"{fam.family} toolchain for {target.cpu} not found: {program}",
                fam.install_hint or f"install it with: apt-get install {fam.packages}",
            )
    return paths


def parse_search_dirs(verbose_output: str) -> list[str]:
    """The ``#include <...>`` search list from ``gcc -E -v`` output, in order."""
    dirs: list[str] = []
    inside = False
    for line in verbose_output.splitlines():
        if line.startswith("#include <...> search starts here:"):
            inside = True
        elif line.startswith("End of search list."):
            break
        elif inside and line.startswith(" "):
            entry = line.strip()
            if entry.endswith("(framework directory)"):
                continue
            dirs.append(entry)
    return dirs


def normalize_include_dirs(raw: list[str], sysroot: str) -> list[str]:
    """Normalize (lexically and through symlinks), dedupe, keep order; sysroot -> %sysroot%.

    Both spellings are kept: gcc writes the lexical one into .d files
    (-fno-canonical-system-headers) and Bazel compares against these entries.
    """
    out: list[str] = []
    for entry in raw:
        for candidate in (posixpath.normpath(entry), os.path.realpath(entry)):
            root = sysroot.rstrip("/")
            if root and (candidate == root or candidate.startswith(root + "/")):
                candidate = "%sysroot%" + candidate[len(root):]
            if candidate not in out:
                out.append(candidate)
    return out


def check_include_order(target: Target, dirs: list[str]) -> None:
    """Host directories may only come after every target directory (the ``__float128`` trap)."""
    seen_host = ""
    for entry in dirs:
        if entry in HOST_INCLUDE_DIRS:
            seen_host = seen_host or entry
        elif seen_host:
            raise IncludeOrderError(
                f"{target.tool('gcc')} searches host headers {seen_host} before target "
                f"headers {entry}",
                f"set a sysroot in {target.source} or reinstall {target.compiler_package}",
            )


def discover_include_dirs(target: Target, gcc: str, probe_args: tuple[str, ...] = (),
                          env: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """Ask the cross compiler where it looks for headers, for C and for C++
    (``probe_args``: the family's, e.g. clang's ``--target``; ``env``: the whole
    environment to run it in, default ours)."""
    raw: list[str] = []
    sysroot_flags = [f"--sysroot={target.sysroot}"] if target.sysroot else []
    for language in ("c", "c++"):
        argv = [gcc, *probe_args, *sysroot_flags, *target.compile_flags, "-E", "-x", language,
                "-", "-v"]
        result = proc.run(argv, stdin="", env=env)
        if result.returncode != 0:
            raise ToolMissingError(
                f"{gcc} failed to preprocess an empty {language} file: "
                f"{result.stderr.strip().splitlines()[-1] if result.stderr.strip() else ''}",
                f"reinstall {target.compiler_package}",
            )
        searched = normalize_include_dirs(parse_search_dirs(result.stderr), target.sysroot)
        check_include_order(target, searched)
        raw.extend(searched)
    merged = list(dict.fromkeys(raw))
    # One list for C and C++: every target directory first, host directories last.
    return tuple(sorted(merged, key=lambda d: d in HOST_INCLUDE_DIRS))


@dataclass(frozen=True)
class PythonHeaderRoot:
    include_dir: Path  # .../usr/include/python3.11 (architecture-independent headers)
    pyconfig: Path  # .../usr/include/<triple>/python3.11/pyconfig.h


def python_header_roots(target: Target, cache_dir: Path) -> list[Path]:
    """Root file systems searched, in order, for the target's Python headers: the sysroot
    first (a tool-made one has no Python: then the suite's target root)."""
    first = [Path(target.sysroot)] if target.sysroot else []
    return [*first, debroot.root_dir(target, cache_dir), Path("/")]


def find_python_headers(target: Target, cache_dir: Path) -> PythonHeaderRoot | None:
    version = f"python{target.python_version}"
    for root in python_header_roots(target, cache_dir):
        include_dir = root / "usr" / "include" / version
        for pyconfig in (
            root / "usr" / "include" / target.triple / version / "pyconfig.h",
            # A target root file system (sysroot) keeps the real pyconfig.h in place.
            include_dir / "pyconfig.h",
        ):
            if (include_dir / "Python.h").is_file() and pyconfig.is_file():
                if pyconfig.parent == include_dir and _is_debian_pyconfig_wrapper(pyconfig):
                    continue
                return PythonHeaderRoot(include_dir, pyconfig)
    return None


def _is_debian_pyconfig_wrapper(pyconfig: Path) -> bool:
    # Debian's /usr/include/python3.X/pyconfig.h only dispatches on arch macros to
    # <triple>/python3.X/pyconfig.h, which a cross include path would not find.
    text = pyconfig.read_bytes()
    return b"# include <" in text[:4096] and b"SIZEOF_LONG" not in text


def read_python_headers(found: PythonHeaderRoot) -> dict[str, bytes]:
    """{relative path: bytes} of every header, with the target's pyconfig.h in place."""
    headers: dict[str, bytes] = {}
    for path in sorted(found.include_dir.rglob("*.h")):
        if path.is_file():
            headers[path.relative_to(found.include_dir).as_posix()] = path.read_bytes()
    headers["pyconfig.h"] = found.pyconfig.read_bytes()
    return headers


def read_numpy_headers(target: Target, cache_dir: Path) -> tuple[dict[str, bytes], str]:
    """The target numpy's include dir ({relative path: bytes}) and version, from the
    target's root (Debian's python3-numpy:<arch>); empty when it has none."""
    for root in python_header_roots(target, cache_dir):
        package = root / "usr" / "lib" / "python3" / "dist-packages" / "numpy"
        for include in (package / "_core" / "include", package / "core" / "include"):
            if (include / "numpy" / "_numpyconfig.h").is_file():
                # The installed metadata's name says the version (numpy-1.24.2.egg-info).
                names = [p.name for p in package.parent.glob("numpy-*.*-info")]
                version = names[0][len("numpy-"):].rsplit(".", 1)[0] if names else "0"
                headers = {p.relative_to(include).as_posix(): p.read_bytes()
                           for p in sorted(include.rglob("*.h")) if p.is_file()}
                return headers, version
    return {}, ""


# PyPI projects whose target wheel the tool makes from the target's Debian package, for pip
# (pip_parse) to fall back on when the index or wheelhouse has none for the target.
DEBIAN_WHEEL_PROJECTS = ("numpy",)


def toolchain_inputs(target: Target, cache_dir: Path, toolchain: ToolchainFlags | None = None,
                     sysroot_repository: str = "") -> ToolchainInputs:
    """Probe everything rendering needs for one target, built by ``toolchain`` (a resolved
    compiler family; default Debian's cross gcc)."""
    paths = tool_paths(target, toolchain)
    probe_args = toolchain.flags.probe if toolchain else ()
    env = None
    if toolchain and "gcc" in toolchain.wrappers:
        # As Bazel will run it: through the wrapper's arguments and environment.
        probe_args = (*toolchain.wrappers["gcc"], *probe_args)
        env = {**os.environ, **toolchain.wrapper_env}
    include_dirs = discover_include_dirs(target, paths["gcc"], probe_args, env)
    found = find_python_headers(target, cache_dir)
    if found is None and not target.debian_python and not target.sysroot:
        reason = (f"no target Python for {target.cpu}: Debian {target.suite} has no Python "
                  f"{target.python_version} for {target.debian_arch}, and this machine has no "
                  "python3.X of a suite that does; use --runner=docker, or --python")
        log.warning("%s", reason)
        return ToolchainInputs(target, paths, include_dirs, {}, reason, toolchain=toolchain,
                               sysroot_repository=sysroot_repository)
    if found is None:
        reason = (
            f"no Python {target.python_version} headers for {target.cpu} "
            f"(looked in {', '.join(str(r) for r in python_header_roots(target, cache_dir))}); "
            f"run `cross-compiler fetch-python --cpu={target.cpu}` or set sysroot in "
            f"{target.source.name}"
        )
        log.warning("%s", reason)
        return ToolchainInputs(target, paths, include_dirs, {}, reason, toolchain=toolchain,
                               sysroot_repository=sysroot_repository)
    log.info("%s: Python headers from %s and %s", target.cpu, found.include_dir, found.pyconfig)
    numpy_headers, numpy_version = read_numpy_headers(target, cache_dir)
    wheels: dict[str, bytes] = {}
    for root in python_header_roots(target, cache_dir):
        wheels = debianwheel.debian_wheels(target, root, DEBIAN_WHEEL_PROJECTS, cache_dir)
        if wheels:
            break
    return ToolchainInputs(target, paths, include_dirs, read_python_headers(found),
                           numpy_headers=numpy_headers, numpy_version=numpy_version,
                           debian_wheels=wheels,
                           toolchain=toolchain, sysroot_repository=sysroot_repository)


def build_python(version: str, path: str | None = None) -> str | None:
    """The first ``python{version}`` on PATH that runs and is that CPython (a pyenv shim
    for a version pyenv does not have is skipped), or None."""
    seen: set[str] = set()
    for directory in (path if path is not None else os.environ.get("PATH", os.defpath)).split(
            os.pathsep):
        candidate = os.path.join(directory or ".", f"python{version}")
        if candidate in seen or not os.access(candidate, os.X_OK):
            continue
        seen.add(candidate)
        result = proc.run([candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                          timeout=30)
        if result.returncode == 0 and result.stdout.strip() == version:
            return candidate
    return None
