"""SOURCE_DATE_EPOCH for the packaging command: the workspace's last commit time.

Computed on the host (one value for every container of a release) and forwarded into
the container as the ``source_date_epoch`` setting, so wheel timestamps depend on the
sources, not the clock.
"""

from __future__ import annotations

import logging
from pathlib import Path

from cross_compiler import proc
from cross_compiler.errors import ToolMissingError

log = logging.getLogger(__name__)

# 1980-01-01T00:00:00Z, the earliest time a zip member can carry. A constant, not the
# newest file mtime: a copy, checkout or extraction resets mtimes, so they would make two
# builds of the same sources differ, which is what SOURCE_DATE_EPOCH is there to prevent.
FALLBACK_EPOCH = 315532800


def workspace_epoch(workspace: Path) -> tuple[int, str]:
    """(seconds, where they came from): the last commit's committer time, else
    FALLBACK_EPOCH when the workspace is no git checkout (or git is missing)."""
    try:
        result = proc.run(["git", "-C", str(workspace), "log", "-1", "--format=%ct"])
    except ToolMissingError:
        return FALLBACK_EPOCH, "git is not installed: 1980-01-01"
    text = result.stdout.strip()
    if result.returncode != 0 or not text.isdigit():
        return FALLBACK_EPOCH, "no git commit in the workspace: 1980-01-01"
    return max(int(text), FALLBACK_EPOCH), "the workspace's last commit"
