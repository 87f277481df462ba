"""The wheel commands: retag a wheel for a target, name the cpu and suite a wheel is for,
and test-wheel it under qemu."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from cross_compiler import config
from cross_compiler.builderchoice import fetch_root, machine_suite, suite_catalogue
from cross_compiler.display import shown
from cross_compiler.errors import ConfigError
from cross_compiler.toolchain import suites
from cross_compiler.toolchain.suites import Suite
from cross_compiler.toolchain.targets import load_target_file, load_targets
from cross_compiler.wheel.platformtag import check_platform, tag_arch

if TYPE_CHECKING:
    from cross_compiler.wheel.retag import RetagResult


def retag(
    wheels: list[Path], cpu: str, env: Mapping[str, str], *, platform: str = "auto",
    out_dir: Path | None = None, verify: bool = True,
) -> list[RetagResult]:
    """Retag each wheel for ``cpu`` (empty: the cpu of ``platform``'s arch, else aarch64);
    all are checked before any output is written."""
    from cross_compiler.wheel.retag import retag_wheels

    catalogue = config.toolchains_dir(env)
    cpu = cpu or _cpu_of_platform(platform, catalogue)
    native = catalogue / "native" / f"{cpu}.toml"
    # The build machine's own arch is no cross target, but its wheels can be retagged too.
    target = load_target_file(native) if native.is_file() else load_targets([cpu], catalogue)[0]
    if not wheels:
        raise ConfigError("no wheel given", "pass the path of a .whl file")
    check_platform(platform, target.wheel_arch, target.cpu)
    return retag_wheels(wheels, out_dir, target, platform=platform, verify=verify)


def _cpu_of_platform(platform: str, catalogue: Path) -> str:
    """The cpu whose wheel arch a platform tag names (``linux_x86_64`` -> x86_64)."""
    arch = tag_arch(platform)
    if platform == "auto" or arch is None:
        return "aarch64"
    found = _cpus_of_arch({arch}, catalogue, native=True)
    if not found:
        raise ConfigError(f"no target has the wheel arch {arch!r} of --platform={platform}",
                          "pass --cpu")
    return found[0]


def _cpus_of_arch(arches: set[str], catalogue: Path, native: bool = False) -> list[str]:
    """The cpus (cross targets, then with ``native`` this machine's) whose wheel arch is
    one of ``arches``."""
    paths = sorted(catalogue.glob("*.toml")) + (sorted(catalogue.glob("native/*.toml"))
                                                 if native else [])
    return list(dict.fromkeys(t.cpu for t in map(load_target_file, paths)
                              if t.wheel_arch in arches))


def wheel_python(wheel: Path) -> str:
    """The CPython X.Y a wheel's ``cpXY`` tag names ("" for py3/abi-free wheels)."""
    match = re.search(r"-cp(\d)(\d+)-", wheel.name)
    return f"{match[1]}.{match[2]}" if match else ""


def wheel_suite(wheel: Path, requested: str, env: Mapping[str, str],
                python: str = "") -> Suite:
    """The suite whose runtime runs ``wheel``: named, else the one whose Python matches the
    wheel's ``cpXY`` tag (this machine's suite first), else this machine's."""
    catalogue = suite_catalogue(env)
    if requested not in ("", "auto"):
        return suites.choose_suite(requested, None, False, catalogue)[0]
    own = machine_suite(env)
    version = python or wheel_python(wheel)
    if python and not any(python in s.pythons for s in catalogue.values()):
        raise ConfigError(f"no suite has CPython {python} to test {shown(wheel.name)} with",
                          "available: " + ", ".join(sorted(
                              {v for s in catalogue.values() for v in s.pythons})))
    if version:
        builders = [s for s in (own, *catalogue.values()) if s.builder]
        for suite in builders:  # the suite whose own Python it is
            if suite.python_version == version:
                return suite
        for suite in builders:  # else one that ships it too (sid's 3.14, bookworm's 3.9)
            if version in suite.pythons:
                return suite
    return own


def test_wheel(wheel: Path, cpu: str, env: Mapping[str, str], command: str = "",
               suite: str = "auto", *, find_links: tuple[Path, ...] = (), no_index: bool = False,
               with_packages: tuple[str, ...] = (),
               requirement_files: tuple[Path, ...] = (), python: str = "") -> list[str]:
    """Install ``wheel`` and what it requires, resolved for the target (from the
    ``find_links`` wheelhouses, the index unless ``no_index``, the suite's Debian packages as
    fallback; plus the test-only ``with_packages`` and ``requirement_files``), in the
    target's CPython under qemu-user, with the runtime of the Debian suite whose Python it
    was built for; import its modules and run ``command``."""
    from cross_compiler.wheel import smoke  # imports PyPI's installer: only for this command
    from cross_compiler.wheel.resolve import Sources

    wheel = Path(os.path.abspath(wheel))  # installed from a temporary working directory
    sources = Sources(tuple(Path(os.path.abspath(d)) for d in find_links), not no_index,
                      with_packages, tuple(Path(os.path.abspath(f)) for f in requirement_files))
    chosen = wheel_suite(wheel, suite, env, python)
    version = python or wheel_python(wheel)
    (target,) = [suites.for_suite(t, chosen, version if version in chosen.pythons else "")
                 for t in load_targets([cpu or wheel_cpu(wheel, env)],
                                       config.toolchains_dir(env))]
    cache = config.cache_dir(env)
    fetch_root(target, env)
    return smoke.smoke_test(wheel, target, cache, command, suite=chosen, sources=sources,
                            env=env)


def wheel_cpu(wheel: Path, env: Mapping[str, str]) -> str:
    """The cpu a wheel's platform tags name (``manylinux_2_17_armv7l`` -> armv7hf)."""
    from cross_compiler.wheel.tags import WheelName

    arches = {a for p in WheelName.parse(wheel.name).platforms if (a := tag_arch(p))}
    found = _cpus_of_arch(arches, config.toolchains_dir(env))
    if len(found) != 1:
        raise ConfigError(f"{shown(wheel.name)}: its platform tag names "
                          f"{'no cpu this tool builds' if not found else 'several cpus'}",
                          "pass --cpu")
    return found[0]
