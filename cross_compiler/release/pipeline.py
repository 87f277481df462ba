"""How a release is run beyond building each target: the (cpu, Python) pairs of a
``--python`` matrix, and ``--check-reproducible``'s second build from clean caches, compared
with the first. The builds themselves come in as a function (api.build): runners are
parameters."""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from cross_compiler.bazel.localbuild import BuildResult
from cross_compiler.errors import ConfigError
from cross_compiler.release import publish as rel
from cross_compiler.release import reproduce
from cross_compiler.release.reproduce import ArtifactDiff
from cross_compiler.toolchain import suites
from cross_compiler.toolchain.suites import Suite
from cross_compiler.toolchain.targets import Target

log = logging.getLogger(__name__)


def python_pairs(targets: list[Target], versions: list[str], runner: str,
                 catalogue: Mapping[str, Suite]) -> list[Target]:
    """One release target per (cpu, Python): each Python comes from the suite that has it
    (bookworm 3.11, sid 3.13); a version no suite has is one line listing those that are,
    and a pair whose suite lacks that cpu's Python (bookworm's riscv64) is left out."""
    versions = [v.strip() for item in versions for v in item.split(",") if v.strip()]
    by_python = {s.python_version: s for s in sorted(catalogue.values(), key=lambda s: s.name)}
    unknown = [v for v in versions if v not in by_python]
    if unknown:
        raise ConfigError(f"no builder image has Python {', '.join(unknown)}",
                          "available: " + ", ".join(f"{v} ({s.name})"
                                                    for v, s in sorted(by_python.items())))
    if runner != "docker" and len(versions) > 1:
        raise ConfigError("the local runner builds for this machine's Python only",
                          "use --runner=docker for several --python versions")
    pairs = [suites.for_suite(t, by_python[v]) for v in versions for t in targets]
    for pair in pairs:
        if not pair.debian_python:
            log.warning("%s: Debian %s has no Python %s for %s: that pair is left out",
                        pair.cpu, pair.suite, pair.python_version, pair.debian_arch)
    if not any(p.debian_python for p in pairs):
        raise ConfigError("no (cpu, Python) pair of this release has a target Python",
                          "see the warnings above; e.g. riscv64 needs --python=3.13")
    return [p for p in pairs if p.debian_python]


@contextlib.contextmanager
def convenience_links_kept(root: Path, tmp: Path) -> Iterator[None]:
    """The workspace's bazel-* links as they were before a rebuild in ``tmp``: the rebuild
    points them into ``tmp``, which is deleted after it. Only links into ``tmp`` (made by
    the rebuild) are touched."""
    saved = {p.name: os.readlink(p) for p in root.glob("bazel-*") if p.is_symlink()}
    try:
        yield
    finally:
        for link in root.glob("bazel-*"):
            target = Path(os.readlink(link)) if link.is_symlink() else None
            if target is None or not (target.is_relative_to(tmp)
                                      or target.is_relative_to(tmp.resolve())):
                continue
            if link.name in saved:
                fresh = link.with_name(f".{link.name}.cross_compiler-tmp")
                fresh.unlink(missing_ok=True)
                fresh.symlink_to(saved[link.name])
                os.replace(fresh, link)
            else:
                link.unlink()


def rebuild_and_compare(root: Path, targets: list[Target], built: list[str],
                        cli: Mapping[str, Any], startup: list[str], first: Path,
                        build: Callable[[str, Mapping[str, Any]], BuildResult],
                        ) -> list[ArtifactDiff]:
    """Build ``built`` again in fresh containers with fresh caches (a temporary cache dir;
    for the local runner a temporary Bazel output root), without the remote cache, into a
    temporary release, and compare it with ``first``."""
    with tempfile.TemporaryDirectory(prefix="cross_compiler-rebuild-") as tmp, \
            convenience_links_kept(root, Path(tmp)):
        clean = {**cli, "cache_dir": str(Path(tmp) / "cache"), "remote_cache": ""}
        if cli["runner"] == "local":  # the docker runner's output root is under cache_dir
            clean["bazel_startup_options"] = [*startup, "--max_idle_secs=5",
                                              f"--output_user_root={Path(tmp) / 'bazel'}"]
        log.info("==> release: building %s again from clean caches", ", ".join(built))
        second = Path(tmp) / "release"
        matrix = any(rel.label(t, True) in built for t in targets)
        outcomes = rel.release([t for t in targets if rel.label(t, matrix) in built], root,
                               second, build_one=lambda t: build(
                                   t.cpu, {**clean, "suite": t.suite} if matrix else clean),
                               smoke_one=lambda wheel, t: None, runner=cli["runner"],
                               python_matrix=matrix)
        failed = [reproduce.ArtifactDiff(f"{o.cpu}/", (f"the second build failed: {o.error}",))
                  for o in outcomes if o.status != "ok"]
        ok = [o.cpu for o in outcomes if o.status == "ok"]
        return failed + (reproduce.compare(first, second, ok) if ok else [])
