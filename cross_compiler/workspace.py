"""The user's workspace: find it (writing the rendered package into it is
toolchain/packagetree.py's)."""

from __future__ import annotations

import os
from pathlib import Path

from cross_compiler.display import shown
from cross_compiler.errors import WorkspaceError

WORKSPACE_FILES = ("WORKSPACE", "WORKSPACE.bazel", "MODULE.bazel")


def check_workspace(path: Path) -> Path:
    """The absolute workspace root, or a WorkspaceError saying what is missing."""
    root = path.expanduser().resolve()
    if not root.is_dir():
        raise WorkspaceError(f"workspace {shown(path)} does not exist or is not a directory")
    if not any((root / name).is_file() for name in WORKSPACE_FILES):
        raise WorkspaceError(
            f"{shown(root)} is not a Bazel workspace (no {', '.join(WORKSPACE_FILES)})",
            "pass --workspace pointing at the directory holding your WORKSPACE file",
        )
    return root


def enclosing_workspace(start: Path) -> tuple[Path, str] | None:
    """The nearest directory at or above ``start`` that is a Bazel workspace, and the file
    that makes it one (MODULE.bazel first, then WORKSPACE, WORKSPACE.bazel); None when no
    directory up to the root is one."""
    here = Path(os.path.abspath(start))
    for directory in (here, *here.parents):
        for name in ("MODULE.bazel", "WORKSPACE", "WORKSPACE.bazel"):
            if (directory / name).is_file():
                return directory, name
    return None
