"""After a build, the checks of its outputs and headers, paying only for what changed: an
output or .d file whose identity is the one it had when it passed (verdicts.py) is not read
again, and when no .d file of the target's configurations changed, the header proof needs
no ``bazel aquery`` at all.

Why skipping the aquery is sound: every compile action (``CppCompile``) writes its .d file
under ``bazel-out/<configuration>/bin/…/_objs/``. The proof's files are the .d files of the
target's compile actions outside the exec configurations; each is one of the .d files found
by walking those directories (checked at every aquery: a record whose graph held a .d file
the walk does not see never skips the aquery). So when every .d file found there has the
identity it had when it passed, under the same key (target, flags and labels, roots, the
judging code, Bazel's fetched repositories), the proof of whatever the action graph now
is passes. A .d file that was never proven (a new action, a stale one of another target or
cpu) makes the aquery run, as before.
"""

from __future__ import annotations

import functools
import importlib.metadata
import logging
import os
from collections.abc import Callable
from pathlib import Path

from cross_compiler import manylinuxpolicy, resources
from cross_compiler.bazel import depfiles, headercheck, headercontent, headers
from cross_compiler.bazel.verdicts import (
    FileId,
    VerdictStore,
    digest,
    file_id,
    now_ns,
    settled,
    sources_digest,
)
from cross_compiler.toolchain.targets import Target
from cross_compiler.wheel import elf, manylinux, policycheck, staticlib

log = logging.getLogger(__name__)

MAX_WALK = 500_000  # entries of bazel-out walked for .d files; beyond it the aquery runs


def store_for(cache_dir: Path, workspace: Path, target: Target) -> VerdictStore:
    """The record of ``workspace`` built for ``target`` under the tool's cache dir."""
    return VerdictStore(cache_dir / "verdicts",
                        digest(os.path.realpath(workspace), target)[:32])


@functools.cache
def _judges() -> str:
    """The code and data that judge (a new tool version judges everything again)."""
    modules = (elf, staticlib, policycheck, manylinux, manylinuxpolicy, headers, headercheck,
               headercontent, depfiles)
    return sources_digest([*(Path(str(m.__file__)) for m in modules),
                           Path(__file__), resources.abi_headers_file()])


def _version_of(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return ""


def _unchanged(ids: dict[str, FileId | None], passed: dict[str, FileId]) -> set[str]:
    return {name for name, ident in ids.items() if ident is not None and passed.get(name) == ident}


def checked_elves(paths: list[Path], target: Target, store: VerdictStore) -> list[Path]:
    """``elf.check_files`` of the outputs whose identity changed since they passed; returns
    the ELF files among all ``paths`` (raises on the first mismatch)."""
    key = digest("elf", _judges(), target)
    passed = store.files("elf", key)
    known_elves = set(store.extra("elf", key).get("elves", []))
    taken = now_ns()
    ids = {str(p): file_id(p) for p in paths}  # before anything is read
    same = _unchanged(ids, passed)
    if same:
        log.info("%s: %d outputs unchanged since their last check: not re-read", target.cpu,
                 len(same))
    found = {str(p) for p in elf.check_files([p for p in paths if str(p) not in same], target)}
    elves = [p for p in paths if str(p) in found or (str(p) in same and str(p) in known_elves)]
    now = {name: ident for name, ident in ids.items() if ident is not None}
    kept = {name: ident for name, ident in passed.items() if name not in ids}
    store.record("elf", key, {**kept, **now}, taken,
                 {"elves": sorted({*(known_elves & set(kept)), *map(str, elves)})})
    return elves


def checked_policy(elves: list[Path], target: Target, requested: str,
                   store: VerdictStore) -> None:
    """``policycheck.check_outputs`` unless every output, and every library of the build's
    own it followed, is the file it was when the same policy passed it."""
    if not requested:
        return
    # auditwheel's policy table ships in its package: its version names the table.
    key = digest("policy", _judges(), target, requested, _version_of("auditwheel"))
    passed = store.files("policy", key)
    roots = set(store.extra("policy", key).get("roots", []))
    if (passed and elves and {str(p.resolve()) for p in elves} <= roots
            and all(file_id(name) == ident for name, ident in passed.items())):
        log.info("%s: %d binaries unchanged since they passed %s: not re-read", target.cpu,
                 len(passed), requested)
        return
    ids: dict[str, FileId | None] = {}
    taken = now_ns()
    policycheck.check_outputs(elves, target, requested,
                              lambda p: ids.setdefault(str(p), file_id(p)))
    # The verdict stands for the outputs and every library followed, or is not kept.
    if all(ident is not None and settled(ident, taken) for ident in ids.values()):
        store.record("policy", key, {n: i for n, i in ids.items() if i is not None}, taken,
                     {"roots": sorted(str(p.resolve()) for p in elves)})


def dep_files_on_disk(exec_root: Path) -> dict[str, FileId] | None:
    """Every .d file under ``bazel-out/<configuration>/…/_objs/`` outside the exec
    configurations, exec-root-relative, with its identity; None when there are too many
    entries to walk or bazel-out cannot be read."""
    out = exec_root / "bazel-out"
    found: dict[str, FileId] = {}
    walked = 0
    try:
        configs = [e for e in os.scandir(out) if e.is_dir(follow_symlinks=False)
                   and not e.name.startswith("_") and not depfiles.is_tool_config(e.name)]
    except OSError:
        return None
    for config in configs:
        for directory, dirs, files in os.walk(config.path):  # symlinks not followed
            walked += len(dirs) + len(files)
            if walked > MAX_WALK:
                return None
            if "_objs" not in Path(directory).parts:
                continue
            for name in files:
                if name.endswith(".d"):
                    path = os.path.join(directory, name)
                    ident = file_id(path)
                    if ident is not None:
                        found[os.path.relpath(path, exec_root)] = ident
    return found


def _repositories(exec_root: Path) -> list[tuple[str, FileId | None]]:
    """Bazel's fetched repositories (their marker files): a re-fetch re-proves all."""
    external = exec_root.parent.parent / "external"
    try:
        names = sorted(e.name for e in os.scandir(external) if e.name.endswith(".marker"))
    except OSError:
        return []
    return [(name, file_id(external / name)) for name in names]


def proven_headers(workspace: Path, exec_root: Path, target: Target,
                   include_dirs: tuple[str, ...], declared: tuple[str, ...],
                   graph_identity: object, run_aquery: Callable[[], str],
                   store: VerdictStore) -> None:
    """The header proof (headercheck.py) of the target's compile actions, each .d file read
    only when it changed since it passed; no aquery when none did (see the module's doc).
    ``graph_identity``: what chooses the compile actions (the aquery's flags and labels)."""
    key = digest("headers", _judges(), target, graph_identity, include_dirs, declared,
                 os.path.realpath(workspace), str(exec_root), headercheck.host_python_includes(),
                 _repositories(exec_root))
    passed = store.files("headers", key)
    walkable = store.extra("headers", key).get("walkable") is True
    taken = now_ns()
    on_disk = dep_files_on_disk(exec_root)
    if walkable and on_disk is not None and _unchanged(dict(on_disk), passed) == set(on_disk):
        log.info("%s: %d dependency files unchanged since their header proof: no aquery, "
                 "not re-read", target.cpu, len(on_disk))
        return
    graph = headers.parse_aquery_dep_files(run_aquery())
    ids = {rel: file_id(exec_root / rel) for rel in graph}  # before anything is read
    same = _unchanged(ids, passed)
    texts = headercheck.read_dep_files([rel for rel in graph if rel not in same], exec_root)
    headercheck.prove_dep_files(texts, workspace, exec_root, target, include_dirs, declared)
    log.info("%s: headers of %d compile actions all from the target's roots (%d .d files "
             "re-read, %d unchanged since their proof)", target.cpu, len(same) + len(texts),
             len(texts), len(same))
    now = {rel: ident for rel, ident in ids.items() if ident is not None}
    kept = {rel: ident for rel, ident in passed.items()
            if rel not in ids and on_disk is not None and on_disk.get(rel) == ident}
    store.record("headers", key, {**kept, **now}, taken,
                 {"walkable": on_disk is not None and set(now) <= set(on_disk)})
