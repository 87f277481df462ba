"""Which distributions test-wheel installs beside a wheel: its Requires-Dist, and the test-only
packages asked for, resolved for the TARGET. Pure: every look-up goes through ``Lookup``.

Breadth first, one pip run per round: a distribution is chosen once, by the first round
that needs it (all of that round's specifiers merged), and every later requirement must
accept the chosen version or the resolution fails naming both, without backtracking.
Markers are evaluated with the target's values, extras as pip does. Each name is looked
for in the wheelhouses (and the index when allowed), else among the target suite's Debian
packages; a name found nowhere is one line naming it and every place looked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from cross_compiler.errors import ToolMissingError
from cross_compiler.wheel.requires import (
    Need,
    TargetPython,
    applies,
    parse_requirement,
    read_requirements_file,
)

MAX_DISTRIBUTIONS = 200


class DependencyError(ToolMissingError):
    """A distribution the wheel (or the test) needs is nowhere test-wheel may look, or two
    requirements want versions no one choice meets."""


@dataclass(frozen=True)
class Sources:
    """test-wheel's dependency settings: wheelhouses (``--find-links``), whether pip may use
    its index, and test-only requirements (``--with``, ``--requirement``)."""

    find_links: tuple[Path, ...] = ()
    use_index: bool = True
    extra: tuple[str, ...] = ()
    requirement_files: tuple[Path, ...] = ()

    def needs(self) -> list[Need]:
        """The test-only requirements, validated (a bad one is a one-line error)."""
        found = [parse_requirement(spec, "--with") for spec in self.extra]
        for path in self.requirement_files:
            found += read_requirements_file(path)
        return found

    def where(self) -> str:
        """Where pip looks, as the error line names it."""
        places = [f"wheelhouse {', '.join(map(str, self.find_links))}"] if self.find_links else []
        places.append("the index" if self.use_index else "no index (--no-index)")
        return " and ".join(places)


@dataclass(frozen=True)
class Inspected:
    """A found wheel, checked: its version and requirements (markers not evaluated)."""

    version: str
    requires: tuple[Need, ...]


@dataclass(frozen=True)
class DebianHit:
    """A requirement met by the target suite's Debian package: the upstream version and the
    unpacked package trees it needs beyond the target root (none when all are in it)."""

    package: str
    version: str
    trees: tuple[Path, ...]


class Lookup(Protocol):
    def wheels(self, needs: Sequence[Need]) -> tuple[dict[str, Path], dict[str, str]]:
        """Wheels found for ``needs`` by canonical name; for those not found, why."""
        ...

    def inspect(self, wheel: Path) -> Inspected: ...

    def debian(self, need: Need) -> DebianHit | str:
        """The Debian package meeting ``need``, or why there is none."""
        ...


@dataclass(frozen=True)
class Chosen:
    name: str
    version: str
    by: str
    wheel: Path | None = None
    debian: DebianHit | None = None

    def describe(self) -> str:
        origin = (f"Debian {self.debian.package}" if self.debian
                  else self.wheel.name if self.wheel else "")
        return f"{self.name} {self.version} ({origin})"


@dataclass(frozen=True)
class Resolution:
    chosen: tuple[Chosen, ...] = ()

    @property
    def wheels(self) -> list[Path]:
        return [c.wheel for c in self.chosen if c.wheel is not None]

    @property
    def debian_trees(self) -> list[Path]:
        return list(dict.fromkeys(t for c in self.chosen if c.debian for t in c.debian.trees))


def _merged(needs: list[Need]) -> Need:
    """One requirement for a name asked for several times in a round: every specifier,
    every extra."""
    first = needs[0].requirement
    merged = Requirement(first.name)
    merged.specifier = SpecifierSet(",".join(str(n.requirement.specifier) for n in needs
                                             if n.requirement.specifier))
    merged.extras = {e for n in needs for e in n.requirement.extras}
    return Need(merged, "; ".join(dict.fromkeys(n.by for n in needs)))


def _missing(need: Need, target: TargetPython, where: str, pip_reason: str,
             debian_reason: str) -> DependencyError:
    tags = target.platforms
    version = target.python_version
    pip_said = "" if "No matching distribution" in pip_reason else f" (pip: {pip_reason})"
    return DependencyError(
        f"{need} (needed by {need.by}) not found for cp{version.replace('.', '')} "
        f"{target.machine}: looked in {where}{pip_said}; {debian_reason}",
        f"put a wheel for it in a --find-links wheelhouse (pip download --only-binary=:all: "
        f"--platform {tags[-2] if len(tags) > 1 else tags[0]} --python-version {version} "
        f"--implementation cp --abi cp{version.replace('.', '')} -d WHEELHOUSE '{need}')")


def resolve(initial: Sequence[Need], own: str, target: TargetPython, lookup: Lookup,
            where: str) -> Resolution:
    """Choose one version of every distribution ``initial`` needs, transitively, for the
    target. ``own`` (the wheel under test, canonical name) is never looked up."""
    chosen: dict[str, Chosen] = {}
    requires: dict[str, tuple[Need, ...]] = {}
    extras: dict[str, set[str]] = {}
    pending = [n for n in initial if applies(n, target)]
    while pending:
        this_round: dict[str, list[Need]] = {}
        later: list[Need] = []
        for need in pending:
            if need.name == own:
                continue
            if need.name not in chosen:
                this_round.setdefault(need.name, []).append(need)
                continue
            have = chosen[need.name]
            if not need.requirement.specifier.contains(have.version, prereleases=True):
                raise DependencyError(
                    f"{need} (needed by {need.by}) conflicts with {have.describe()}, chosen "
                    f"for {have.by}", "pin a version every requirement accepts with --with")
            new = set(need.requirement.extras) - extras[need.name]
            if new:  # foo[bar] after foo: bar's requirements too
                extras[need.name] |= new
                later += [n for n in requires[need.name] if applies(n, target, new)]
        if len(chosen) + len(this_round) > MAX_DISTRIBUTIONS:
            raise DependencyError(f"more than {MAX_DISTRIBUTIONS} distributions to install",
                                  "the requirements are damaged or hostile")
        wanted = [_merged(needs) for needs in this_round.values()]
        found, why = lookup.wheels(wanted) if wanted else ({}, {})
        for need in wanted:
            extras[need.name] = set(need.requirement.extras)
            if need.name in found:
                wheel = found[need.name]
                inspected = lookup.inspect(wheel)
                chosen[need.name] = Chosen(need.name, inspected.version, need.by, wheel=wheel)
                requires[need.name] = inspected.requires
                later += [n for n in inspected.requires
                          if applies(n, target, need.requirement.extras)]
                continue
            hit = lookup.debian(need)
            if isinstance(hit, str):
                raise _missing(need, target, where, why.get(need.name, ""), hit)
            # Debian's package brings its own Python dependencies (apt's closure).
            chosen[need.name] = Chosen(need.name, hit.version, need.by, debian=hit)
            requires[need.name] = ()
        pending = later
    return Resolution(tuple(chosen.values()))
