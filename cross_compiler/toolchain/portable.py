"""``--manylinux`` and ``--toolchain`` before the build: each target's route (compiler family
and sysroot) from the baseline table, and its sysroot assembled into the cache. What the
routes add to Bazel's flags is bazel/overrides.py's; the check of the outputs against the
baseline is wheel/policycheck.py's."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cross_compiler import resources
from cross_compiler.errors import ConfigError
from cross_compiler.manylinuxpolicy import Baseline, glibc_key, parse_baseline, policy_arches
from cross_compiler.toolchain import baseline, families, probe, sysroot
from cross_compiler.toolchain.families import ToolchainFlags
from cross_compiler.toolchain.render import ToolchainInputs
from cross_compiler.toolchain.targets import Target

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Choice:
    """How one target is built to meet the baseline."""

    target: Target  # with the sysroot set when the route has one
    route: baseline.Route
    baseline: Baseline
    toolchain: ToolchainFlags
    repository: str = ""  # the sysroot's Bazel repository
    sysroot: sysroot.Sysroot | None = None


def check_toolchain(toolchain: str) -> str:
    """``auto`` or a shipped family's name (families/*.toml) -> the family asked for, or ""."""
    if toolchain in ("", "auto"):
        return ""
    names = families.available_families(resources.data_dir("families"))
    if toolchain not in names:
        raise ConfigError(f"toolchain {toolchain!r} is not a compiler family",
                          f"use auto or one of: {', '.join(names)}")
    return toolchain


def _router(requested: str, toolchain: str, sysroots: bool,
            ) -> Callable[[Target], baseline.Route] | None:
    """Each target's route for this request (data loaded once); None for today's default
    toolchain (no baseline, no family asked for)."""
    family = check_toolchain(toolchain)
    if not requested and family in ("", families.DEFAULT):
        return None
    wanted = parse_baseline(requested) if requested else None
    specs = sysroot.load_specs(resources.data_dir("sysroots"))
    table = baseline.load_table(resources.data_dir("baselines") / "manylinux.toml", specs)
    arches = policy_arches()
    return lambda t: baseline.choose_route(t, wanted, table, arches, family, sysroots)


def choose(targets: list[Target], requested: str, toolchain: str = "auto",
           sysroots: bool = True) -> dict[str, tuple[Target, baseline.Route]]:
    """Pure part: each target's route (of the ``toolchain`` family when one is named), or
    the one-line error for the first that has none; empty for today's default toolchain."""
    route = _router(requested, toolchain, sysroots)
    return {t.cpu: (t, route(t)) for t in targets} if route else {}


def reachable(targets: list[Target], requested: str, toolchain: str = "auto",
              sysroots: bool = True) -> dict[str, tuple[Target, baseline.Route]]:
    """The routes of those ``targets`` that have one (a builder image for several cpus holds
    what each reachable cpu needs; a build still fails on its own unreachable cpus). A
    family that does not exist is an error, not a skip."""
    route = _router(requested, toolchain, sysroots)
    routes: dict[str, tuple[Target, baseline.Route]] = {}
    if route is None:
        return routes
    for target in targets:
        try:
            routes[target.cpu] = (target, route(target))
        except ConfigError:
            continue
    return routes


def prepare(targets: list[Target], requested: str, cache_dir: Path,
            toolchain: str = "auto", sysroots: bool = True) -> dict[str, Choice]:
    """Every target's choice (assembling sysroots); empty for today's default toolchain
    (no baseline, no family asked for). All targets are checked before any sysroot is
    fetched."""
    routes = choose(targets, requested, toolchain, sysroots)
    if not routes:
        return {}
    specs = sysroot.load_specs(resources.data_dir("sysroots"))
    choices: dict[str, Choice] = {}
    for cpu, (target, route) in routes.items():
        wanted = (parse_baseline(requested) if requested
                  else Baseline(glibc_key(route.glibc)))
        made, repository = None, ""
        if route.sysroot:
            made = sysroot.assemble(specs[route.sysroot], target, cache_dir)
            target = dataclasses.replace(target, sysroot=str(made.path))
            repository = sysroot.repository_name(route.sysroot, cpu)
        if requested:
            log.info("%s: %s via %s", cpu, wanted.tag, route.describe())
        else:
            log.info("%s: toolchain %s", cpu, route.describe())
        toolchain_flags = families.shipped(route.family).resolve(target, route.glibc,
                                                                 str(cache_dir))
        for directory in toolchain_flags.writable_dirs:
            # Bazel's sandbox can only make an existing directory writable.
            Path(directory).mkdir(parents=True, exist_ok=True)
        choices[cpu] = Choice(target, route, wanted, toolchain_flags, repository, made)
    return choices


def describe(choice: Choice) -> dict[str, Any]:
    """What a release manifest records of a choice: family, glibc, the baseline asked for,
    and the sysroot's suite and package versions (reproducibly assembled, sysroot.py)."""
    made = choice.sysroot
    return {"family": choice.route.family, "glibc": choice.route.glibc,
            "baseline": choice.baseline.tag,
            "sysroot": ({"suite": made.suite, "debian_arch": made.debian_arch,
                         "packages": dict(sorted(made.packages.items()))}
                        if made is not None else None)}


def toolchain_inputs(target: Target, cache_dir: Path,
                     choices: Mapping[str, Choice]) -> ToolchainInputs:
    """Probe ``target`` with its chosen family and sysroot (default: Debian's cross gcc)."""
    choice = choices.get(target.cpu)
    if choice is None:
        return probe.toolchain_inputs(target, cache_dir)
    return probe.toolchain_inputs(choice.target, cache_dir, choice.toolchain, choice.repository)
