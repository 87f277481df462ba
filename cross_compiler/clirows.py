"""The rows printed after a build: each checked binary and each wheel, named the short way."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from cross_compiler.display import shown

if TYPE_CHECKING:
    from cross_compiler.bazel.localbuild import BuildResult


def result_rows(result: BuildResult, workspace: Path, cwd: Path) -> list[str]:
    """``cpu<TAB>output`` per checked binary, ``cpu<TAB>wheel<TAB>tag<TAB>why`` per wheel."""
    rows = [f"{cpu}\t{shown(short_path(p, workspace, cwd))}"
            for cpu, files in result.outputs.items() for p in files]
    rows += [f"{cpu}\t{shown(_from(cwd, w.path))}\t{shown(w.platform)}\t{shown(w.reason)}"
             for cpu, wheels in result.wheels.items() for w in wheels]
    return rows


def short_path(path: Path, workspace: Path, cwd: Path) -> str:
    """An output named through the workspace's ``bazel-bin`` (or ``bazel-out``) symlink
    when that reaches the same file, relative to ``cwd`` when the workspace is inside it;
    else its full path (Bazel's output base is deep in a cache)."""
    parts = path.parts
    workspace = Path(os.path.abspath(workspace))
    if "bazel-out" not in parts:
        return str(path)
    i = len(parts) - 1 - parts[::-1].index("bazel-out")
    tail = parts[i + 1:]  # <config>/bin/<package path>
    candidates = [workspace / "bazel-out" / Path(*tail)] if tail else []
    if len(tail) > 2 and tail[1] == "bin":
        candidates.insert(0, workspace / "bazel-bin" / Path(*tail[2:]))
    for candidate in candidates:
        try:
            same = os.path.samefile(candidate, path)
        except OSError:
            continue
        if same:
            return _from(cwd, candidate)
    return str(path)


def _from(cwd: Path, path: Path) -> str:
    """``path`` relative to ``cwd`` when it is inside it, else as it is."""
    return str(path.relative_to(cwd)) if path.is_relative_to(cwd) else str(path)

