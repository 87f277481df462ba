"""Where a build's checked outputs go: distinct names under ``dist/<cpu>/``. Pure."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from cross_compiler.errors import ConfigError

LAYOUTS = ("auto", "cpu", "cpu-python")


def artifact_names(sources: list[Path]) -> list[str]:
    """A distinct relative name for each source: its file name, or, for a file name that
    several sources share, its path below their deepest common directory."""
    groups: dict[str, list[Path]] = {}
    for source in sources:
        groups.setdefault(source.name, []).append(source)
    names = []
    for source in sources:
        group = groups[source.name]
        if len(group) == 1:
            names.append(source.name)
        else:
            common = Path(os.path.commonpath([str(p.parent) for p in group]))
            names.append(source.relative_to(common).as_posix())
    taken = set(names)
    for name in names:
        parts = name.split("/")
        clash = any("/".join(parts[:i]) in taken for i in range(1, len(parts)))
        if clash or len(taken) != len(names):
            raise ConfigError(f"build outputs cannot be given distinct names ({name})",
                              "give the outputs different file names")
    return names


def resolve_layout(layout: str, pairs: Iterable[tuple[str, str]]) -> str:
    """``auto``: ``cpu-python`` when one cpu is built for several Pythons (its extensions
    differ per Python and would overwrite each other), else ``cpu``."""
    if layout not in LAYOUTS:
        raise ConfigError(f"dist_layout {layout!r} is not one of {', '.join(LAYOUTS)}",
                          "set dist_layout to auto, cpu or cpu-python")
    if layout != "auto":
        return layout
    seen: dict[str, set[str]] = {}
    for cpu, python in pairs:
        seen.setdefault(cpu, set()).add(python)
    return "cpu-python" if any(len(v) > 1 for v in seen.values()) else "cpu"


def output_dir(layout: str, cpu: str, python: str) -> Path:
    """The directory under dist/ for the loose outputs of one (cpu, Python) build."""
    if layout == "cpu-python" and python:
        return Path(cpu) / f"py{python}"
    return Path(cpu)
