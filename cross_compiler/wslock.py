"""One build of a workspace at a time: a second one (other runner, other terminal) waits.

Builds of one workspace share its ``bazel-bin``/``bazel-out`` convenience links, which the
packaging command reads, and its rendered package: two at once could package each other's
outputs. The lock lives in the tool's cache (never in the workspace), keyed by the
workspace's real path, and is released by the kernel if the holder dies.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger(__name__)


def lock_path(cache_dir: Path, workspace: Path) -> Path:
    key = hashlib.sha256(str(workspace.resolve()).encode()).hexdigest()[:24]
    return cache_dir / "locks" / f"{key}.lock"


@contextlib.contextmanager
def workspace_lock(cache_dir: Path, workspace: Path) -> Iterator[None]:
    path = lock_path(cache_dir, workspace)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "?"
            log.warning("another cross_compiler build of %s is running (pid %s): waiting for it",
                        workspace, holder)
            fcntl.flock(fd, fcntl.LOCK_EX)
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock
