"""manylinux policies by name: the ``--manylinux`` spellings, the glibc each stands for,
and auditwheel's table of them (which exist, for which arches, what each allows). Plain data
read by both the toolchain floor (which route reaches a baseline) and the wheel floor (what
a wheel's binaries may need)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

from cross_compiler.errors import ConfigError

# PEP 600's legacy aliases.
_ALIASES = {"1": (2, 5), "2010": (2, 12), "2014": (2, 17)}
_SPELLING = re.compile(r"(?:manylinux_?)?(?:(1|2010|2014)|2[._](\d+))")


@dataclass(frozen=True)
class Baseline:
    """A glibc version a build must run on: ``manylinux_2_X``."""

    glibc: tuple[int, int]

    @property
    def tag(self) -> str:
        return f"manylinux_{self.glibc[0]}_{self.glibc[1]}"

    @property
    def version(self) -> str:
        return f"{self.glibc[0]}.{self.glibc[1]}"


def parse_baseline(text: str) -> Baseline:
    """``2014``, ``2_17``, ``manylinux2014``, ``manylinux_2_28`` -> Baseline."""
    match = _SPELLING.fullmatch(text.strip())
    if match is None:
        raise ConfigError(f"manylinux {text!r} is not a manylinux baseline",
                          "use e.g. 2014, 2_17, 2_28, 2_31 or manylinux_2_28")
    if match[1]:
        return Baseline(_ALIASES[match[1]])
    return Baseline((2, int(match[2])))


def glibc_key(version: str) -> tuple[int, int]:
    """A glibc version ``2.31`` -> (2, 31)."""
    major, minor = version.split(".")
    return int(major), int(minor)


def policies() -> list[dict[str, Any]]:
    """auditwheel's policy table (name, symbol versions per arch, allowed libraries), the
    most compatible policy first."""
    text = resources.files("auditwheel.policy").joinpath("manylinux-policy.json").read_text()
    table: list[dict[str, Any]] = json.loads(text)
    return sorted(table, key=lambda p: -int(p["priority"]))


def policy_glibc(name: str) -> tuple[int, ...]:
    """A manylinux policy name's glibc: ``manylinux_2_17`` -> (2, 17)."""
    return tuple(int(x) for x in name.split("_")[1:] if x.isdigit())


def policy_arches() -> dict[str, tuple[str, ...]]:
    """manylinux policy name (``manylinux_2_17``) -> the arches auditwheel has it for."""
    return {p["name"]: tuple(sorted(p["symbol_versions"])) for p in policies()
            if p["name"] != "linux"}
