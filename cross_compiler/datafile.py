"""Reading the tool's TOML data files (toolchains, suites, families, sysroots, baselines):
one place that turns every way a file can be unreadable into a one-line TargetError."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from cross_compiler.errors import TargetError


def load_toml(path: Path, what: str) -> dict[str, Any]:
    """``path`` parsed; ``what`` names the kind of file in the hint ("toolchain", …)."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise TargetError(f"{path}: not valid TOML: {e}", f"fix the {what} file") from e
    except OSError as e:
        raise TargetError(f"{path}: cannot read {what} file: {e.strerror}") from e
