"""``--manylinux`` after the build: every ELF output, and every ELF member of a wheel about
to be retagged, held to the requested glibc baseline (auditwheel's policy), naming the file
and the symbol or library that is too new."""

from __future__ import annotations

import dataclasses
import logging
import re
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

from cross_compiler.errors import ArchMismatchError, CrossCompilerError
from cross_compiler.manylinuxpolicy import parse_baseline
from cross_compiler.toolchain.targets import Target
from cross_compiler.wheel import elf, manylinux

log = logging.getLogger(__name__)

# Members above this are not inspected (as wheel/retag.py's platform inference): a bomb.
_MEMBER_LIMIT = 1 << 30


class PolicyError(ArchMismatchError):
    """An output needs a newer glibc (or library) than the requested baseline allows."""


class WheelPolicyError(CrossCompilerError):
    """A wheel's binaries need more than the requested baseline."""

    exit_code = 7


def _needs(path: Path) -> manylinux.ElfNeeds:
    return manylinux.read_needs(lambda: path.open("rb"))


MAX_LOCAL_LIBRARIES = 10_000  # libraries of the build's own a check follows


def check_outputs(paths: list[Path], target: Target, requested: str,
                  before_read: Callable[[Path], object] | None = None) -> None:
    """Every ELF output within the requested baseline, or PolicyError naming the first
    file and what it needs that the policy does not allow. A library the build made itself
    (found through the binary's ``$ORIGIN`` RUNPATH, as Bazel links a cc_test against its
    deps' shared libraries) is no system library: it is checked in turn, like an output.
    ``before_read`` is called with each file (resolved) before it is read."""
    if not requested:
        return
    wanted = parse_baseline(requested)
    queue, seen = [p.resolve() for p in paths], set()
    while queue:
        path = queue.pop(0)
        if path in seen:
            continue
        seen.add(path)
        if before_read is not None:
            before_read(path)
        try:
            needs = _needs(path)
        except ValueError as e:
            raise PolicyError(f"{path}: cannot read its dynamic section: {e}") from e
        local = build_local_libraries(path, needs)
        if len(seen) + len(queue) + len(local) > MAX_LOCAL_LIBRARIES:
            raise PolicyError(f"{path}: more than {MAX_LOCAL_LIBRARIES} libraries of the "
                              "build's own to check")
        queue.extend(local.values())
        own = dataclasses.replace(needs, libraries=needs.libraries - set(local))
        blockers = manylinux.too_new(own, target.wheel_arch, wanted.tag)
        if blockers:
            raise PolicyError(
                f"{path} needs {', '.join(blockers[:5])}, newer than "
                f"{wanted.tag}_{target.wheel_arch} allows",
                "build it with --manylinux for a newer baseline, or drop what pulls it in")
    log.info("%s: %d binaries within %s", target.cpu, len(seen), wanted.tag)


def build_local_libraries(path: Path, needs: manylinux.ElfNeeds) -> dict[str, Path]:
    """Each needed library found in one of the binary's ``$ORIGIN``-relative RUNPATH
    directories: the build's own (absolute RUNPATHs name the system's, never followed)."""
    found: dict[str, Path] = {}
    origin = str(path.parent)
    dirs = [d.replace("${ORIGIN}", origin).replace("$ORIGIN", origin)
            for d in needs.runpath if d.startswith(("$ORIGIN", "${ORIGIN}"))]
    for library in sorted(needs.libraries):
        if "/" in library:
            continue
        for directory in dirs:
            candidate = Path(directory) / library
            if candidate.is_file():
                found[library] = candidate.resolve()
                break
    return found


_TAG = re.compile(r"manylinux_(\d+)_(\d+)_")


def check_wheel_policy(wheel: Path, platform: str, target: Target, requested: str) -> None:
    """A wheel about to be retagged for ``platform``: every ELF member within the requested
    baseline (so ``auto`` never tags newer), and an explicit tag no newer than it."""
    if not requested:
        return
    wanted = parse_baseline(requested)
    with zipfile.ZipFile(wheel) as zf:
        for info in zf.infolist():
            if info.is_dir() or info.file_size > _MEMBER_LIMIT:
                continue
            with zf.open(info) as f:
                if elf.parse_header(f.read(64)) is None:
                    continue

            def open_member(name: str = info.filename) -> IO[bytes]:
                return zf.open(name)

            try:
                needs = manylinux.read_needs(open_member)
            except ValueError as e:
                raise WheelPolicyError(f"{wheel.name}: {info.filename}: {e}") from e
            blockers = manylinux.too_new(needs, target.wheel_arch, wanted.tag)
            if blockers:
                raise WheelPolicyError(
                    f"{wheel.name}: {info.filename} needs {', '.join(blockers[:5])}, newer "
                    f"than {wanted.tag}_{target.wheel_arch} allows",
                    "build with --manylinux for a newer baseline")
    match = _TAG.match(platform)
    if platform != "auto" and (match is None or (int(match[1]), int(match[2])) > wanted.glibc):
        raise WheelPolicyError(f"{wheel.name} is tagged {platform}, newer than the requested "
                               f"{wanted.tag}_{target.wheel_arch}",
                               "pass --platform=auto or an older tag")
