"""Which builder suite and which CPython serve each (cpu, Python) pair: the suites'
catalogue, the workspace's suite (from .bazelversion and MODULE.bazel), the groups a build
makes, and the target roots they need fetched."""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from pathlib import Path

from cross_compiler import config
from cross_compiler.errors import ConfigError
from cross_compiler.toolchain import suites
from cross_compiler.toolchain.suites import Suite
from cross_compiler.toolchain.targets import Target, load_targets

log = logging.getLogger(__name__)


def suite_catalogue(env: Mapping[str, str]) -> dict[str, Suite]:
    return suites.load_suites(config.suites_dir(env))


def machine_suite(env: Mapping[str, str]) -> Suite:
    """The Debian suite of the machine this runs on (inside the builder: the image's)."""
    catalogue = suite_catalogue(env)
    try:
        text = Path("/etc/os-release").read_text(errors="replace")
    except OSError:
        text = ""
    return catalogue[suites.host_suite(text, catalogue)]


def workspace_suite(root: Path, settings: config.Settings,
                    env: Mapping[str, str]) -> tuple[Suite, str]:
    """The builder image's suite for this workspace, and why (for the docker runner)."""
    from cross_compiler.bazel import offline

    version_file = root / ".bazelversion"
    wanted = (suites.read_bazelversion(version_file.read_text(errors="replace")[:4096])
              if version_file.is_file() else "")
    has_module = offline.workspace_kind(root) is not offline.WorkspaceKind.WORKSPACE
    return suites.choose_suite(settings["suite"], wanted or None, has_module,
                               suite_catalogue(env))


def docker_suite(root: Path, settings: config.Settings, env: Mapping[str, str]) -> Suite:
    """The builder image's suite for a docker-runner command, said in the log; a bzlmod
    workspace missing a module the rendered package uses is refused here, before any image
    or container (the build inside says it too)."""
    from cross_compiler.bazel import offline
    from cross_compiler.bazel.localbuild import check_settings_apply

    suite, why = workspace_suite(root, settings, env)
    check_settings_apply(settings, suite.bazel_version, f"Debian {suite.name}'s image")
    if offline.workspace_kind(root) is offline.WorkspaceKind.BZLMOD:
        offline.check_module_deps((root / "MODULE.bazel").read_text(errors="replace"),
                                  offline.needed_modules(suite.bazel_major))
    log.info("builder image: Debian %s with Bazel %s (%s)", suite.name, suite.bazel_version,
             why)
    return suite


def suite_targets(cpus: list[str], env: Mapping[str, str], suite: Suite) -> list[Target]:
    return [suites.for_suite(t, suite) for t in load_targets(cpus, config.toolchains_dir(env))]


def python_versions(settings: config.Settings) -> list[str]:
    """The python setting as versions: [] (each cpu's default), X.Y values, or ["all"]."""
    return [v.strip() for item in settings["python"] for v in str(item).split(",")
            if v.strip()]


def python_groups(root: Path, cpus: list[str], settings: config.Settings,
                  env: Mapping[str, str], builder: Suite) -> list[tuple[Suite, list[Target]]]:
    """(suite, targets) per build: each (cpu, CPython) pair in the suite of ``builder``'s
    Bazel that has that Python for that cpu; each target says its Python. Default: each
    cpu the builder's Python, else the nearest its architecture has (said in one line)."""
    catalogue = suite_catalogue(env)
    if settings["suite"] not in ("", "auto") or env.get("CROSS_COMPILER_IN_CONTAINER"):
        # Named, or inside that suite's image: that builder only (and the suites that lend
        # it their Pythons).
        catalogue = {builder.name: builder, **{n: catalogue[n] for n in
                                               builder.foreign_pythons.values()
                                               if n in catalogue}}
    else:
        catalogue[builder.name] = builder
    versions = python_versions(settings)
    groups: dict[tuple[str, str], tuple[Suite, list[Target]]] = {}
    for target in load_targets(cpus, config.toolchains_dir(env)):
        arch = {target.cpu: target.debian_arch}
        wanted = versions
        if versions == ["all"]:
            wanted = [v for v, per_cpu in suites.python_table(
                {n: s for n, s in catalogue.items() if s.bazel_major == builder.bazel_major},
                arch).items() if target.cpu in per_cpu]
        for version in wanted or [""]:
            suite, chosen, why = suites.python_suite(version, builder.bazel_major, arch,
                                                     catalogue, prefer=builder.name)
            if not version and chosen != builder.python_version:
                log.info("%s: Python %s (%s), from Debian %s", target.cpu, chosen, why,
                         suite.name)
            group = groups.setdefault((suite.name, chosen), (suite, []))
            group[1].append(suites.for_suite(target, suite, chosen))
    return list(groups.values())


def local_groups(root: Path, cpus: list[str], settings: config.Settings,
                 env: Mapping[str, str]) -> list[list[Target]]:
    """The (cpu, Python) pairs a build on this machine makes, one list per Python: target
    roots from the suite that has that Python; the build machine's python3.X (packaging,
    repository rules) must be on PATH, else one line before Bazel starts."""
    from cross_compiler.toolchain import debroot, probe

    machine = machine_suite(env)
    groups = [targets for _suite, targets in
              python_groups(root, cpus, settings, env, machine)]
    for i, targets in enumerate(groups):
        version = targets[0].python_version
        if version != _own_python() and probe.build_python(version) is None:
            if not python_versions(settings):
                # The default for a cpu this machine's suite has no Python for: its C/C++
                # still builds, its extensions say why they cannot (as before --python).
                log.warning("%s: the default Python %s needs python%s on this machine, "
                            "which has none: building without a target Python (use "
                            "--runner=docker for its wheels)", ", ".join(
                                t.cpu for t in targets), version, version)
                groups[i] = [suites.for_suite(t, machine) for t in targets]
                continue
            raise ConfigError(
                f"the local runner builds for Python {version} with this machine's "
                f"python{version} (it packages the wheels and runs repository rules), and "
                "there is none on PATH",
                f"use --runner=docker (its builder image has python{version}), or install it")
    catalogue = suite_catalogue(env)
    cache = config.cache_dir(env)
    for targets in groups:  # target roots not fetched yet (another suite's): on demand
        for t in targets:
            if (t.debian_python and t.suite in catalogue
                    and not debroot.interpreter(t, cache).exists()):
                fetch_root(t, env)
    return groups


def fetch_root(target: Target, env: Mapping[str, str]) -> Path:
    """The target's root (Python, runtime) in the cache, fetched once: from its suite, with
    the older suite that lends its CPython when it has one."""
    from cross_compiler.toolchain import debroot

    catalogue = suite_catalogue(env)
    return debroot.fetch(target, catalogue[target.suite], config.cache_dir(env),
                         catalogue.get(target.python_source))


def _own_python() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"
