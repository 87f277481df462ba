"""The packaging step: run the workspace's packaging command, check the wheels it made are
for the headers they were compiled against, and retag them for the target."""

from __future__ import annotations

import dataclasses
import logging
import os
import shlex
import sys
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path

from cross_compiler import config, proc
from cross_compiler.display import shown
from cross_compiler.errors import BuildError
from cross_compiler.toolchain import probe
from cross_compiler.toolchain.suites import lent_packaging_path
from cross_compiler.toolchain.targets import Target
from cross_compiler.wheel.extnames import check_extension_names
from cross_compiler.wheel.policycheck import check_wheel_policy
from cross_compiler.wheel.retag import RetagResult, retag_wheels

log = logging.getLogger(__name__)


SHELL = "/bin/sh"


def package_script(command: str, out: Path) -> str:
    """The packaging command as a shell script: ``{out}`` replaced by the output directory
    as one shell-quoted word (appended as the last word when the command has none)."""
    word = shlex.quote(str(out))
    return command.replace("{out}", word) if "{out}" in command else f"{command} {word}"


def package_argv(command: str, out: Path) -> list[str]:
    """``sh -c`` running the packaging command (its ``&&``, globs and redirections are the
    shell's), from the workspace root."""
    return [SHELL, "-c", package_script(command, out)]


def check_python_tags(wheels: list[Path], target: Target) -> None:
    """A wheel's cpXY must be the Python whose headers its extensions were compiled against
    (a 3.14 packager around 3.13 extensions makes a wheel that installs and then crashes)."""
    from packaging.utils import InvalidWheelFilename, parse_wheel_filename

    want = "cp" + target.python_version.replace(".", "")
    for wheel in wheels:
        try:
            tags = parse_wheel_filename(wheel.name)[3]
        except InvalidWheelFilename as e:
            raise BuildError(f"the packaging command made {shown(wheel.name)}, not a valid "
                             f"wheel name: {shown(e)}") from e
        try:
            with zipfile.ZipFile(wheel) as zf:
                members = zf.namelist()
        except (zipfile.BadZipFile, OSError) as e:
            raise BuildError(f"the packaging command made {shown(wheel.name)}, which is not "
                             f"a readable zip: {shown(e)}") from e
        check_extension_names(shown(wheel.name), members,
                              {f"{t.interpreter}-{t.abi}" for t in tags},
                              target.python_version, target.triple)
        for tag in tags:
            if not tag.interpreter.startswith("cp") or tag.interpreter == want:
                continue
            if tag.abi == "abi3" and int(tag.interpreter[3:] or 0) <= int(want[3:]):
                continue  # the stable ABI of an older CPython
            raise BuildError(
                f"{shown(wheel.name)} is tagged {tag.interpreter} but its extensions were compiled "
                f"against the Python {target.python_version} headers for {target.cpu}",
                f"package with a Python {target.python_version} interpreter "
                f"(PYTHON_BIN_PATH=/usr/bin/python{target.python_version})")


def packaging_python(version: str, bindir: Path) -> Path:
    """``bindir`` with python, python3 and python3.X for the build machine's CPython
    ``version``: this tool's own interpreter when it is that version (it has setuptools and
    wheel), else ``python3.X`` from PATH; returns bindir/python3."""
    own = f"{sys.version_info.major}.{sys.version_info.minor}"
    found = sys.executable if version == own else probe.build_python(version)
    if not found:
        raise BuildError(f"no python{version} on this machine to package the Python "
                         f"{version} wheels with", "use --runner=docker, whose builder image "
                         f"has python{version}")
    bindir.mkdir(parents=True, exist_ok=True)
    # A script, not a symlink: a venv's interpreter only knows its venv by its own path. A
    # CPython lent by an older suite packages with that suite's setuptools (builder image).
    lent = ":".join(lent_packaging_path(version))
    # Its setuptools over its own (Debian-patched) stdlib distutils, as its suite has it.
    path = (f"PYTHONPATH={shlex.quote(lent)}${{PYTHONPATH:+:$PYTHONPATH}}; export PYTHONPATH\n"
            "SETUPTOOLS_USE_DISTUTILS=stdlib; export SETUPTOOLS_USE_DISTUTILS\n"
            if lent else "")
    script = f"#!/bin/sh\n{path}exec {shlex.quote(found)} \"$@\"\n"
    for name in ("python", "python3", f"python{version}"):
        (bindir / name).write_text(script)
        (bindir / name).chmod(0o755)
    return bindir / "python3"


def package_and_retag(root: Path, target: Target, settings: config.Settings,
                      env: Mapping[str, str], dist: Path | None = None) -> list[RetagResult]:
    """Run the packaging command, then retag each wheel it made into ``dist`` (default the
    dist dir)."""
    dist = dist or root / settings["dist_dir"]
    with tempfile.TemporaryDirectory(prefix="cross_compiler-wheels-") as tmp:
        argv = package_argv(settings["package_command"], Path(tmp))
        log.info("==> %s: packaging (sh -c, in the workspace): %s", target.cpu,
                 shown(argv[-1]))
        # The build machine's CPython of the target's X.Y is `python3` (and `python`,
        # `python3.X`, TensorFlow's PYTHON_BIN_PATH) for the packaging command: a script
        # that runs plain python3 packages cpXY around cpXY extensions.
        bindir = Path(tmp) / "bin"
        python = packaging_python(target.python_version, bindir)
        run_env = {**env, "PYTHON_BIN_PATH": str(python),
                   "PATH": f"{bindir}{os.pathsep}{env.get('PATH', os.defpath)}"}
        if settings["source_date_epoch"]:  # fixed wheel timestamps (README: reproducibility)
            run_env["SOURCE_DATE_EPOCH"] = settings["source_date_epoch"]
        result = proc.run(argv, cwd=root, env=run_env, stream=True,
                          missing_hint="check package_command in cross_compiler.toml")
        if result.returncode != 0:
            raise BuildError(f"packaging command for {target.cpu} failed with exit code "
                             f"{result.returncode}: {shown(argv[-1])}",
                             "sh could not find a program it names (127): check "
                             "package_command in cross_compiler.toml" if result.returncode == 127
                             else "see its output above")
        wheels = sorted(Path(tmp).glob("*.whl"))
        if not wheels:
            raise BuildError(f"packaging command for {target.cpu} made no .whl in {{out}}",
                             "it must write its wheels into the directory it is given")
        return check_and_retag(wheels, target, settings, dist)


def check_and_retag(wheels: list[Path], target: Target, settings: config.Settings,
                    dist: Path) -> list[RetagResult]:
    """Wheels made for ``target`` (by the packaging command or by Bazel itself): their cpXY
    and extension names against the compiled headers, the --manylinux policy, then retagged
    into ``dist``; all are checked, and their output names compared, before any is written."""
    check_python_tags(wheels, target)
    for wheel in wheels:  # --manylinux: refused before anything reaches the dist dir
        check_wheel_policy(wheel, settings["platform"], target, settings["manylinux"])
    return retag_wheels(wheels, dist, target, platform=settings["platform"])


def bazel_wheels(paths: list[Path]) -> list[Path]:
    """The wheels among a build's outputs (py_wheel, a genrule, a ``.dist`` output): files
    whose name is a wheel's. A stamped py_wheel's own output still has ``{…}`` placeholders
    in its name; its real-named copy (``:name.dist``) is taken when built, else refused."""
    found = []
    for path in paths:
        if path.suffix != ".whl" or not path.is_file():
            continue
        if "{" in path.name:
            raise BuildError(f"{shown(path.name)} is a stamped py_wheel's output whose name "
                             "still holds placeholders",
                             "build its real-named copy: the py_wheel's ':<name>.dist' target")
        found.append(path)
    return sorted(dict.fromkeys(found))


def move_into(wheel: RetagResult, dist: Path) -> RetagResult:
    """A staged wheel into the dist dir, said where it now is."""
    target = dist / wheel.path.name
    os.replace(wheel.path, target)
    log.info("%s (%s: %s)", shown(target), wheel.platform, wheel.reason)
    return dataclasses.replace(wheel, path=target)
