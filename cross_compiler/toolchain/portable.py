"""``--manylinux``: before the build, each target's compiler family and sysroot (assembled
into the cache) from the baseline table; after it, every ELF output and wheel member held
to the requested policy, naming the file and the symbol that is too new."""

from __future__ import annotations

import dataclasses
import logging
import re
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from cross_compiler import resources
from cross_compiler.bazel import offline
from cross_compiler.errors import ArchMismatchError, ConfigError, CrossCompilerError
from cross_compiler.manylinuxpolicy import Baseline, glibc_key, parse_baseline, policy_arches
from cross_compiler.toolchain import baseline, families, probe, sysroot
from cross_compiler.toolchain.families import ToolchainFlags
from cross_compiler.toolchain.render import ToolchainInputs
from cross_compiler.toolchain.targets import Target
from cross_compiler.wheel import elf, manylinux

if TYPE_CHECKING:
    from cross_compiler.bazel.localbuild import BazelSetup

log = logging.getLogger(__name__)

# Members above this are not inspected (as wheel/retag.py's platform inference): a bomb.
_MEMBER_LIMIT = 1 << 30


class PolicyError(ArchMismatchError):
    """An output needs a newer glibc (or library) than the requested baseline allows."""


class WheelPolicyError(CrossCompilerError):
    """A wheel's binaries need more than the requested baseline."""

    exit_code = 7


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


def sysroot_routes_usable(workspace: Path, bazel_major: int) -> bool:
    """A sysroot is a repository given by --override_repository: Bazel 7 and newer make it
    visible to the main repository only in WORKSPACE mode (bzlmod off)."""
    return bazel_major < 7 or offline.workspace_kind(workspace) is offline.WorkspaceKind.WORKSPACE


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


def with_overrides(setup: BazelSetup, choices: Mapping[str, Choice]) -> BazelSetup:
    """``--override_repository`` NAME=DIR for every sysroot, in every cpu's build (legacy
    mode's cc_toolchain_suite analyses every cpu's toolchain), and the directories the
    families' tools write (zig's cache) writable in Bazel's sandbox."""
    sysroots = {c.repository: c.sysroot.path for c in choices.values()
                if c.repository and c.sysroot is not None}
    writable = tuple(sorted({d for c in choices.values() for d in c.toolchain.writable_dirs}))
    flags = tuple(dict.fromkeys(f for c in choices.values() for f in c.toolchain.bazel_flags))
    if sysroots and setup.version.major >= 7 and "--noenable_bzlmod" not in setup.family_flags:
        # Sysroot routes are chosen only for WORKSPACE-only workspaces there
        # (sysroot_routes_usable); Bazel 7 turns bzlmod on by default even for those, and
        # then the overridden repository is invisible. (Debian's offline Bazel gets it from
        # offline.py already; a second copy is harmless.)
        flags = (*flags, "--noenable_bzlmod")
    if not sysroots and not writable and not flags:
        return setup
    return dataclasses.replace(setup, overrides={**setup.overrides, **sysroots},
                               writable_dirs=(*setup.writable_dirs, *writable),
                               family_flags=(*setup.family_flags, *flags))


def toolchain_inputs(target: Target, cache_dir: Path,
                     choices: Mapping[str, Choice]) -> ToolchainInputs:
    """Probe ``target`` with its chosen family and sysroot (default: Debian's cross gcc)."""
    choice = choices.get(target.cpu)
    if choice is None:
        return probe.toolchain_inputs(target, cache_dir)
    return probe.toolchain_inputs(choice.target, cache_dir, choice.toolchain, choice.repository)


def _needs(path: Path) -> manylinux.ElfNeeds:
    return manylinux.read_needs(lambda: path.open("rb"))


MAX_LOCAL_LIBRARIES = 10_000  # libraries of the build's own a check follows


def check_outputs(paths: list[Path], target: Target, requested: str) -> None:
    """Every ELF output within the requested baseline, or PolicyError naming the first
    file and what it needs that the policy does not allow. A library the build made itself
    (found through the binary's ``$ORIGIN`` RUNPATH, as Bazel links a cc_test against its
    deps' shared libraries) is no system library: it is checked in turn, like an output."""
    if not requested:
        return
    wanted = parse_baseline(requested)
    queue, seen = [p.resolve() for p in paths], set()
    while queue:
        path = queue.pop(0)
        if path in seen:
            continue
        seen.add(path)
        try:
            needs = _needs(path)
        except ValueError as e:
            raise PolicyError(f"{path}: cannot read its dynamic section: {e}") from e
        local = build_local_libraries(path, needs)
        if len(seen) + len(queue) + len(local) > MAX_LOCAL_LIBRARIES:
            raise PolicyError(f"{path}: more than {MAX_LOCAL_LIBRARIES} libraries of the "
                              "build's own to check")
        queue.extend(local.values())
        own = dataclasses.replace(needs, libraries=needs.libraries - set(local))
        blockers = manylinux.too_new(own, target.wheel_arch, wanted.tag)
        if blockers:
            raise PolicyError(
                f"{path} needs {', '.join(blockers[:5])}, newer than "
                f"{wanted.tag}_{target.wheel_arch} allows",
                "build it with --manylinux for a newer baseline, or drop what pulls it in")
    log.info("%s: %d binaries within %s", target.cpu, len(seen), wanted.tag)


def build_local_libraries(path: Path, needs: manylinux.ElfNeeds) -> dict[str, Path]:
    """Each needed library found in one of the binary's ``$ORIGIN``-relative RUNPATH
    directories: the build's own (absolute RUNPATHs name the system's, never followed)."""
    found: dict[str, Path] = {}
    origin = str(path.parent)
    dirs = [d.replace("${ORIGIN}", origin).replace("$ORIGIN", origin)
            for d in needs.runpath if d.startswith(("$ORIGIN", "${ORIGIN}"))]
    for library in sorted(needs.libraries):
        if "/" in library:
            continue
        for directory in dirs:
            candidate = Path(directory) / library
            if candidate.is_file():
                found[library] = candidate.resolve()
                break
    return found


_TAG = re.compile(r"manylinux_(\d+)_(\d+)_")


def check_wheel(wheel: Path, platform: str, target: Target, requested: str) -> None:
    """A wheel about to be retagged for ``platform``: every ELF member within the requested
    baseline (so ``auto`` never tags newer), and an explicit tag no newer than it."""
    if not requested:
        return
    wanted = parse_baseline(requested)
    with zipfile.ZipFile(wheel) as zf:
        for info in zf.infolist():
            if info.is_dir() or info.file_size > _MEMBER_LIMIT:
                continue
            with zf.open(info) as f:
                if elf.parse_header(f.read(64)) is None:
                    continue

            def open_member(name: str = info.filename) -> IO[bytes]:
                return zf.open(name)

            try:
                needs = manylinux.read_needs(open_member)
            except ValueError as e:
                raise WheelPolicyError(f"{wheel.name}: {info.filename}: {e}") from e
            blockers = manylinux.too_new(needs, target.wheel_arch, wanted.tag)
            if blockers:
                raise WheelPolicyError(
                    f"{wheel.name}: {info.filename} needs {', '.join(blockers[:5])}, newer "
                    f"than {wanted.tag}_{target.wheel_arch} allows",
                    "build with --manylinux for a newer baseline")
    match = _TAG.match(platform)
    if platform != "auto" and (match is None or (int(match[1]), int(match[2])) > wanted.glibc):
        raise WheelPolicyError(f"{wheel.name} is tagged {platform}, newer than the requested "
                               f"{wanted.tag}_{target.wheel_arch}",
                               "pass --platform=auto or an older tag")
