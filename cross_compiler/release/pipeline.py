"""How a release is run beyond building each target: ``--check-reproducible``'s second
build from clean caches, compared with the first (the (cpu, Python) pairs come from
api.python_groups). The builds themselves come in as a function (api.build): runners are
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
from cross_compiler.release import publish as rel
from cross_compiler.release import reproduce
from cross_compiler.release.reproduce import ArtifactDiff
from cross_compiler.toolchain.targets import Target

log = logging.getLogger(__name__)


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
                               second, build_one=lambda t: build(t.cpu, {
                                   **clean, "python": [t.python_version],
                                   **({"suite": t.suite} if cli["runner"] == "docker" else {})}),
                               smoke_one=lambda wheel, t: None, runner=cli["runner"],
                               python_matrix=matrix)
        failed = [reproduce.ArtifactDiff(f"{o.cpu}/", (f"the second build failed: {o.error}",))
                  for o in outcomes if o.status != "ok"]
        ok = [o.cpu for o in outcomes if o.status == "ok"]
        return failed + (reproduce.compare(first, second, ok) if ok else [])
