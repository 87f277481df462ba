"""Which compiler family + sysroot reaches a requested glibc baseline
(``--manylinux=2014|2_17|2_28|2_31|…``, spelled as manylinuxpolicy.py reads it) for a cpu,
from ``baselines/manylinux.toml``. Pure.

A route's glibc is what it *guarantees*: the newest glibc its sysroot (or cross libc) has,
so every output provably runs there. Unreachable requests fail before anything builds.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cross_compiler.datafile import load_toml
from cross_compiler.errors import ConfigError, TargetError
from cross_compiler.manylinuxpolicy import Baseline, glibc_key, policy_glibc
from cross_compiler.toolchain.targets import Target, _unknown_keys

if TYPE_CHECKING:
    from cross_compiler.toolchain.sysroot import SysrootSpec

@dataclass(frozen=True)
class Route:
    """A compiler family (and sysroot suite) that builds for a cpu, and its glibc."""

    family: str
    sysroot: str  # sysroots/<suite>.toml, "" for the family's own libc
    glibc: str

    def describe(self) -> str:
        where = f" + Debian {self.sysroot} sysroot" if self.sysroot else ""
        return f"{self.family}{where}, glibc {self.glibc}"


@dataclass(frozen=True)
class RouteTable:
    routes: tuple[tuple[Route, tuple[str, ...]], ...]  # (route, cpus), in preference order
    floors: Mapping[str, str]  # cpu -> why it goes no lower
    source: Path

    def for_cpu(self, cpu: str) -> list[Route]:
        return [route for route, cpus in self.routes if cpu in cpus]


def parse_table(data: dict[str, Any], source: Path,
                sysroots: Mapping[str, SysrootSpec]) -> RouteTable:
    where = str(source)
    _unknown_keys(data, ("route", "floor"), where)
    routes: list[tuple[Route, tuple[str, ...]]] = []
    for i, entry in enumerate(data.get("route", [])):
        at = f"{where}: route {i + 1}"
        if not isinstance(entry, dict):
            raise TargetError(f"{at}: must be a table")
        _unknown_keys(entry, ("family", "sysroot", "glibc", "cpus"), at)
        family, suite = entry.get("family"), entry.get("sysroot", "")
        cpus = entry.get("cpus")
        if not isinstance(family, str) or not isinstance(suite, str) or not isinstance(
                cpus, list) or not all(isinstance(c, str) for c in cpus):
            raise TargetError(f"{at}: needs family (a name), cpus (a list) and sysroot or "
                              "glibc")
        if suite:
            if suite not in sysroots:
                raise TargetError(f"{at}: no sysroots/{suite}.toml",
                                  f"known: {', '.join(sorted(sysroots))}")
            glibc = sysroots[suite].glibc
        else:
            glibc = entry.get("glibc", "")
        if not isinstance(glibc, str) or not re.fullmatch(r"2\.\d+", glibc):
            raise TargetError(f"{at}: glibc must be like 2.36, got {glibc!r}")
        routes.append((Route(family, suite, glibc), tuple(cpus)))
    floors = data.get("floor", {})
    if not isinstance(floors, dict) or not all(isinstance(v, str) for v in floors.values()):
        raise TargetError(f"{where}: [floor] maps cpus to reasons")
    return RouteTable(tuple(routes), floors, source)


def load_table(path: Path, sysroots: Mapping[str, SysrootSpec]) -> RouteTable:
    return parse_table(load_toml(path, "baseline table"), path, sysroots)


# Why routes with a sysroot are left out for some workspaces (api/dockerrun decide).
NO_SYSROOT_REPOSITORY = (
    "usable here (a sysroot is a repository given by --override_repository, which Bazel 7 "
    "makes visible only in a WORKSPACE-only workspace, not under MODULE.bazel)")


def choose_route(target: Target, baseline: Baseline | None, table: RouteTable,
                 policy_arches: Mapping[str, tuple[str, ...]], family: str = "",
                 sysroots: bool = True) -> Route:
    """The first route for ``target`` (of ``family``, when one is asked for) whose glibc is
    no newer than ``baseline``, or the family's first route without a baseline; else a
    one-line ConfigError naming the lowest reachable baseline and why.

    ``policy_arches``: manylinux policy name -> arches auditwheel has it for.
    """
    # Without ``sysroots``, routes through a sysroot repository are not usable here.
    every = [r for r in table.for_cpu(target.cpu) if sysroots or not r.sysroot]
    routes = [r for r in every if r.family == family] if family else every
    if not routes:
        if family:
            others = sorted({r.family for r in every})
            why = "" if sysroots else f" {NO_SYSROOT_REPOSITORY}"
            raise ConfigError(f"{target.cpu}: no {family} route in {table.source.name}{why}",
                              f"use --toolchain={' or '.join(others)}" if others else "add one")
        raise ConfigError(f"{target.cpu}: no route in {table.source.name} builds for it",
                          "add one")
    if baseline is None:
        return routes[0]
    wanted = f"{baseline.tag}_{target.wheel_arch}"
    chosen = next((r for r in routes if glibc_key(r.glibc) <= baseline.glibc), None)
    if chosen is None:
        lowest = min(routes, key=lambda r: glibc_key(r.glibc))
        floor = table.floors.get(target.cpu, "no route reaches an older glibc")
        reachable = oldest_policy(target.wheel_arch, glibc_key(lowest.glibc), policy_arches)
        with_family = f" with {family}" if family else ""
        raise ConfigError(
            f"{target.cpu}: cannot build for {wanted} (glibc {baseline.version}){with_family};"
            f" the lowest reachable baseline is {reachable or 'none'} ({lowest.describe()}): "
            f"{floor}")
    arches = policy_arches.get(baseline.tag)
    if arches is None or target.wheel_arch not in arches:
        oldest = oldest_policy(target.wheel_arch, (0, 0), policy_arches)
        raise ConfigError(f"{target.cpu}: auditwheel has no {wanted} policy"
                          + (f"; the oldest for {target.wheel_arch} is {oldest}" if oldest
                             else ""),
                          f"ask for --manylinux={oldest.removeprefix('manylinux_')} or newer"
                          if oldest else "build without --manylinux")
    return chosen


def oldest_policy(arch: str, glibc: tuple[int, int],
                  policy_arches: Mapping[str, tuple[str, ...]]) -> str:
    """The oldest manylinux policy auditwheel has for ``arch`` that allows ``glibc``
    (``manylinux_2_31`` for riscv64 even at glibc 2.27): what a wheel can be tagged."""
    fitting = [name for name, arches in policy_arches.items()
               if arch in arches and policy_glibc(name) >= glibc]
    return min(fitting, key=policy_glibc, default="")
