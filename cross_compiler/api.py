"""Wires the pure core (targets, render, bazel flags) to the edges (probe, proc, files)."""

from __future__ import annotations

import contextlib
import functools
import importlib
import json
import logging
import os
import re
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cross_compiler import config, hostlink, resources
from cross_compiler.display import shown
from cross_compiler.errors import BuildError, ConfigError
from cross_compiler.toolchain import suites
from cross_compiler.toolchain.suites import Suite
from cross_compiler.toolchain.targets import (
    Target,
    available_cpus,
    load_target_file,
    load_targets,
)
from cross_compiler.wheel.platformtag import check_platform, tag_arch
from cross_compiler.workspace import check_workspace, enclosing_workspace

if TYPE_CHECKING:
    from cross_compiler.bazel.localbuild import BazelSetup, BuildPlan, BuildResult, Staging
    from cross_compiler.toolchain import portable
    from cross_compiler.toolchain.packagetree import TreeChanges
    from cross_compiler.toolchain.render import PACKAGE
    from cross_compiler.wheel.retag import RetagResult

# What the Bazel, docker, render and release commands use is imported where they run:
# `retag` (and `import cross_compiler.api`) pays only for the wheel modules it needs.

log = logging.getLogger(__name__)

# Names the seam hands out without importing their modules up front (PEP 562).
_LAZY = {
    "PACKAGE": ("cross_compiler.toolchain.render", "PACKAGE"),
    "BuildResult": ("cross_compiler.bazel.localbuild", "BuildResult"),
    "portable": ("cross_compiler.toolchain", "portable"),
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, attr = _LAZY[name]
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value
    return value


def probe_bazel(program: str) -> BazelSetup:
    """The Bazel this machine runs (bazel/localbuild.py), imported when a build needs it."""
    from cross_compiler.bazel.localbuild import probe_bazel as probe

    return probe(program)


def build_local(root: Path, targets: list[Target], settings: config.Settings,
                env: Mapping[str, str], result: BuildResult, staging: Staging) -> None:
    """The local runner's build (bazel/localbuild.py), imported when a build needs it."""
    from cross_compiler.bazel.localbuild import build_local as run_build

    run_build(root, targets, settings, env, result, staging)



def with_source_date(settings: config.Settings, root: Path) -> config.Settings:
    """An unset ``source_date_epoch`` computed here, on the host (one value for
    every container of a release), from the workspace's last commit; the container gets it
    as a setting."""
    from cross_compiler.release import sourcedate

    if settings["source_date_epoch"]:
        return settings
    seconds, why = sourcedate.workspace_epoch(root)
    log.debug("SOURCE_DATE_EPOCH=%d (%s)", seconds, why)
    return config.with_value(settings, "source_date_epoch", str(seconds), why)


def _is_generated(rel: Path) -> bool:
    """Made in a workspace by a build; never part of the example's sources."""
    from cross_compiler.toolchain.render import PACKAGE

    return bool(rel.parts) and (rel.parts[0] in (PACKAGE, "dist")
                                or rel.parts[0].startswith("bazel-"))


def default_workspace(cache_dir: Path) -> Path:
    """The embedded example, synced into the cache and built there.

    The shipped copy stays pristine (it may be read-only, and Bazel's symlinks must
    never end up in the checkout or the wheel), while edits to it still take effect.
    """
    source = resources.example_workspace()
    dest = cache_dir / "example" / source.name
    wanted = {
        p.relative_to(source) for p in source.rglob("*")
        if p.is_file() and not _is_generated(p.relative_to(source))
    }
    for rel in wanted:
        src, dst = source / rel, dest / rel
        if (not dst.is_file() or dst.read_bytes() != src.read_bytes()
                or dst.stat().st_mode != src.stat().st_mode):
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.unlink(missing_ok=True)
            shutil.copy(src, dst)  # with the mode: scripts stay executable
    if dest.is_dir():
        for path in dest.rglob("*"):
            rel = path.relative_to(dest)
            if path.is_file() and not path.is_symlink() and not _is_generated(rel) \
                    and rel not in wanted:
                path.unlink()
    return dest


def choose_workspace(workspace: Path | None, env: Mapping[str, str], *, say: bool = True,
                     cwd: Path | None = None) -> Path:
    """The workspace root: ``--workspace``, else the Bazel workspace containing the current
    directory (where the user stands), else the embedded example. Without ``--workspace``
    the choice and its reason are logged (``say``), before anything else."""
    if workspace is not None:
        return check_workspace(workspace)
    here = cwd or Path.cwd()
    found = enclosing_workspace(here)
    if found is not None:
        root, marker = found
        if say:
            log.info("workspace %s: the Bazel workspace containing the current directory "
                     "(its %s); --workspace picks another", shown(root), marker)
        return check_workspace(root)
    example = check_workspace(default_workspace(config.cache_dir(env)))
    if say:
        log.info("workspace %s: the embedded example, as no MODULE.bazel, WORKSPACE or "
                 "WORKSPACE.bazel is in %s or above it; --workspace picks another",
                 shown(example), shown(here))
    return example


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


@dataclass(frozen=True)
class RenderResult:
    workspace: Path
    files: dict[str, bytes]
    changes: TreeChanges
    include_dirs: Mapping[str, tuple[str, ...]]  # cpu -> the cross compiler's, discovered


def render(
    workspace: Path, cpus: list[str], env: Mapping[str, str], *, check: bool = False,
    dry_run: bool = False, bazel_major: int = 7,
    choices: Mapping[str, portable.Choice] | None = None, targets: list[Target] | None = None,
) -> RenderResult:
    """Render //cross_compiler for ``cpus`` into ``workspace`` (or only compare, with check);
    ``choices``: the compiler family and sysroot per cpu that meet a --manylinux baseline."""
    from cross_compiler.toolchain import portable, probe
    from cross_compiler.toolchain.packagetree import package_dir, plan_tree, write_tree
    from cross_compiler.toolchain.render import RenderRequest, render_toolchain

    targets = targets or suite_targets(cpus, env, machine_suite(env))
    root = check_workspace(workspace)
    cache = config.cache_dir(env)
    inputs = tuple(portable.toolchain_inputs(t, cache, choices or {}) for t in targets)
    request = RenderRequest(
        toolchains=inputs,
        exec_constraints=probe.host_exec_constraints(),
        host_system_name=probe.host_system_name(),
        bazel_major=bazel_major,
    )
    files = render_toolchain(request)
    directory = package_dir(root)
    # Another cpu's Python wrappers and tool wrappers stay: a Bazel repository rule that ran
    # for it (python_configure) still points at them when that cpu is built again.
    others = set(available_cpus(config.toolchains_dir(env))) - {t.cpu for t in targets}

    def keep(rel: str) -> bool:
        parts = rel.split("/")
        return len(parts) > 2 and parts[0] in ("python", "tools") and parts[1] in others

    if check or dry_run:
        changes = plan_tree(directory, files, keep)
    else:
        changes = write_tree(directory, files, keep)
    return RenderResult(root, files, changes, {i.target.cpu: i.include_dirs for i in inputs})


def choose_runner(requested: str, env: Mapping[str, str]) -> str:
    """docker or local; ``auto`` is docker when an engine answers (never inside the builder)."""
    if requested in ("local", "docker"):
        return requested
    if env.get("CROSS_COMPILER_IN_CONTAINER"):
        return "local"
    from cross_compiler.docker import container

    if container.engine_available():
        return "docker"
    log.info("no Docker engine answers: building with the local runner")
    return "local"


def build(
    workspace: Path | None, cpus: list[str], env: Mapping[str, str], cli: Mapping[str, Any],
    *, dry_run: bool = False, result_json: Path | None = None,
) -> BuildResult:
    """Render, build with Bazel (here or in the builder container), check every ELF is for
    the target, and retag the wheels the packaging command makes."""
    env = hostlink.attach(env, sys.stdin.buffer)  # in a container build: the host's secrets
    load_targets(cpus, config.toolchains_dir(env))  # a bad --cpu is said before anything else
    root = choose_workspace(workspace, env)
    with _one_build_at_a_time(root, env, dry_run):
        return _build(root, cpus, env, cli, dry_run=dry_run, result_json=result_json)


def _one_build_at_a_time(root: Path, env: Mapping[str, str],
                         dry_run: bool = False) -> contextlib.AbstractContextManager[None]:
    """The workspace lock (wslock.py); inside the builder the host holds it already."""
    from cross_compiler import wslock

    if dry_run or env.get("CROSS_COMPILER_IN_CONTAINER"):
        return contextlib.nullcontext()
    return wslock.workspace_lock(config.cache_dir(env), root)


def _build(root: Path, cpus: list[str], env: Mapping[str, str], cli: Mapping[str, Any], *,
           dry_run: bool, result_json: Path | None) -> BuildResult:
    from cross_compiler.bazel.localbuild import BuildResult, Staging
    from cross_compiler.toolchain import portable

    file_values, file_name = config.read_config_file(root)
    settings = config.resolve(file_values, file_name, env, cli)
    settings = with_source_date(settings, root)
    result = BuildResult()
    if choose_runner(settings["runner"], env) == "docker":
        from cross_compiler.docker import dockerrun

        # An unreachable --manylinux is one line, before any image is chosen or built
        # (whether a sysroot route is usable with the image's Bazel is checked with it).
        portable.choose(load_targets(cpus, config.toolchains_dir(env)), settings["manylinux"],
                        settings["toolchain"])
        builder = docker_suite(root, settings, env)
        groups = python_groups(root, cpus, settings, env, builder)
        result.suite = groups[0][0].name
        for suite, targets in groups:
            # One container per (suite, Python): each builds its cpus for that Python.
            one = config.with_value(settings, "python", [targets[0].python_version],
                                    "chosen per cpu")
            dockerrun.build_in_container(root, targets, one, env, result, dry_run, suite)
        if result_json is not None and not dry_run:
            write_result_json(result, result_json)
        return result
    result.suite = machine_suite(env).name
    # An unreachable --manylinux is one line, before any Python or root is chosen.
    portable.choose(load_targets(cpus, config.toolchains_dir(env)), settings["manylinux"],
                    settings["toolchain"])
    # One staging dir for every group: all wheels reach dist/ together, or none do.
    staging = Staging(root / settings["dist_dir"])
    try:
        _build_groups(root, cpus, settings, env, result, staging, dry_run)
        staging.publish(result)
    finally:
        staging.remove()
    if result_json is not None:
        write_result_json(result, result_json)
    return result


def _build_groups(root: Path, cpus: list[str], settings: config.Settings,
                  env: Mapping[str, str], result: BuildResult, staging: Staging,
                  dry_run: bool) -> None:
    from cross_compiler.bazel.localbuild import BuildResult
    from cross_compiler.toolchain import portable

    for group in local_groups(root, cpus, settings, env):
        one = config.with_value(settings, "python", [group[0].python_version],
                                "chosen per cpu")
        targets, choices, rendered, plans = _local_plans(root, group, one, env, dry_run)
        part = BuildResult(plans=plans, suite=result.suite)
        part.toolchains = {cpu: portable.describe(c) for cpu, c in choices.items()}
        if not dry_run:
            build_local(root, targets, one, env, part, staging)
        result.add(part)
        result.rendered = sorted({*result.rendered, *rendered.files})
        result.changed += list(rendered.changes.written)


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


def _local_plans(root: Path, targets: list[Target], settings: config.Settings,
                 env: Mapping[str, str], dry_run: bool,
                 ) -> tuple[list[Target], dict[str, portable.Choice], RenderResult,
                            list[BuildPlan]]:
    """Render and plan a build on this machine, with this machine's Bazel, for ``targets``
    (each with its Python)."""
    from cross_compiler.bazel.localbuild import check_settings_apply, plan_build
    from cross_compiler.bazel.overrides import sysroot_routes_usable, with_overrides
    from cross_compiler.toolchain import portable
    from cross_compiler.toolchain.render import PACKAGE, python_wrapper

    # Before Bazel: an unreachable --manylinux fails here; sysroots are assembled.
    bazel_setup = probe_bazel(settings["bazel"])
    check_settings_apply(settings, str(bazel_setup.version), "the local runner")
    choices = portable.prepare(targets, settings["manylinux"], config.cache_dir(env),
                               settings["toolchain"], sysroot_routes_usable(
                                   root, bazel_setup.version.major))
    targets = [choices[t.cpu].target if t.cpu in choices else t for t in targets]
    setup = with_overrides(bazel_setup, choices)
    _say_if_bazelversion_differs(root, setup.version.major)
    rendered = render(root, [t.cpu for t in targets], env, dry_run=dry_run,
                      bazel_major=setup.version.major, choices=choices, targets=targets)
    plans = [
        plan_build(root, t, settings, setup, env,
                   python_bin=(root / PACKAGE / python_wrapper(t.cpu)
                               if python_wrapper(t.cpu) in rendered.files else None),
                   include_dirs=rendered.include_dirs[t.cpu])
        for t in targets
    ]
    return targets, choices, rendered, plans


def test(workspace: Path | None, cpus: list[str], env: Mapping[str, str],
         cli: Mapping[str, Any], labels: tuple[str, ...]) -> None:
    """``bazel test`` for the target, every test executable run under qemu-user; a failing
    test fails with Bazel's own exit code (3: tests failed, 4: no tests)."""
    env = hostlink.attach(env, sys.stdin.buffer)
    load_targets(cpus, config.toolchains_dir(env))
    root = choose_workspace(workspace, env)
    file_values, file_name = config.read_config_file(root)
    settings = config.resolve(file_values, file_name, env, cli)
    labels = labels or ("//...",)
    with _one_build_at_a_time(root, env):
        _test(root, cpus, env, settings, labels)


def _test(root: Path, cpus: list[str], env: Mapping[str, str], settings: config.Settings,
          labels: tuple[str, ...]) -> None:
    from cross_compiler import proc
    from cross_compiler.bazel import secretrc, targetrun
    from cross_compiler.bazel.localbuild import BuildResult

    if choose_runner(settings["runner"], env) == "docker":
        from cross_compiler.docker import dockerrun

        builder = docker_suite(root, settings, env)
        for suite, group in python_groups(root, cpus, settings, env, builder):
            one = config.with_value(settings, "python", [group[0].python_version],
                                    "chosen per cpu")
            dockerrun.build_in_container(root, group, one, env, BuildResult(), False, suite,
                                         command="test", extra_args=(",".join(labels),))
        return
    pairs: list[tuple[Target, BuildPlan]] = []
    for group in local_groups(root, cpus, settings, env):
        one = config.with_value(settings, "python", [group[0].python_version],
                                "chosen per cpu")
        targets, _, _, plans = _local_plans(root, group, one, env, dry_run=False)
        pairs += zip(targets, plans, strict=True)
    for target, plan in pairs:
        command = targetrun.test_command(plan.build, labels, targetrun.qemu_prefix(target))
        log.info("==> %s: bazel test under %s", target.cpu, targetrun.qemu_prefix(target))
        with secretrc.argv(command) as argv:
            code = proc.run(argv, cwd=root, stream=True,
                            env=command.environ(os.environ)).returncode
        if code != 0:
            raise BuildError(f"bazel test for {target.cpu} failed with exit code {code}",
                             "see Bazel's test summary above", exit_code=code)


def run(workspace: Path | None, cpu: str, env: Mapping[str, str], cli: Mapping[str, Any],
        label: str, args: list[str]) -> int:
    """Build one binary for ``cpu`` and run it under qemu-user with the runtime of the
    suite that built it; returns its exit code."""
    from cross_compiler import proc
    from cross_compiler.bazel import targetrun

    result = build(workspace, [cpu], env, {**cli, "targets": [label], "package_command": ""})
    name = label.rsplit(":", 1)[-1] if ":" in label else label.rstrip("/").rsplit("/", 1)[-1]
    matches = [p for p in result.outputs.get(cpu, []) if p.name == name]
    if not matches:
        raise ConfigError(f"{shown(label)} built no executable named {shown(name)} for {cpu}",
                          "name a cc_binary target")
    suite = suite_catalogue(env)[result.suite] if result.suite else machine_suite(env)
    (target,) = [suites.for_suite(t, suite, result.pythons.get(cpu, ""))
                 for t in load_targets([cpu], config.toolchains_dir(env))]
    if result.plans:  # built on this machine: the cross compiler's own runtime
        root = targetrun.runtime_root(target)
    else:  # built in a builder image: the runtime of its suite
        root = str(fetch_root(target, env))
    argv = targetrun.run_argv(target, matches[0], args, root)
    log.info("==> %s: %s", cpu, targetrun.display(argv))
    return proc.run(argv, stream=True, to_stdout=True).returncode


def _say_if_bazelversion_differs(root: Path, major: int) -> None:
    version_file = root / ".bazelversion"
    if not version_file.is_file() or "CROSS_COMPILER_IN_CONTAINER" in os.environ:
        return
    wanted = suites.read_bazelversion(version_file.read_text(errors="replace")[:4096])
    if wanted and not wanted.startswith(f"{major}."):
        log.warning(".bazelversion asks for Bazel %s; the local runner uses this machine's "
                    "Bazel %d (the docker runner picks a builder image with the right one)",
                    wanted, major)


def write_result_json(result: BuildResult, path: Path) -> None:
    """What a build made, for the host side of a container build."""
    data = {
        "outputs": {cpu: [str(p) for p in paths] for cpu, paths in result.outputs.items()},
        "wheels": {cpu: [{"path": str(w.path), "platform": w.platform, "reason": w.reason,
                          "renamed": w.renamed} for w in wheels]
                   for cpu, wheels in result.wheels.items()},
        "bazel": result.bazel,
        "suite": result.suite,
        "toolchains": result.toolchains,
    }
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2))
    tmp.replace(path)


def builder_image(workspace: Path | None, env: Mapping[str, str],
                  cli: Mapping[str, Any]) -> tuple[str, str]:
    """Build or reuse the builder image; returns (tag, what happened)."""
    from cross_compiler.bazel.overrides import sysroot_routes_usable
    from cross_compiler.docker import container, dockerrun

    file_values, file_name = ({}, "") if workspace is None else config.read_config_file(
        check_workspace(workspace))
    settings = config.resolve(file_values, file_name, env, cli)
    suite, _ = (workspace_suite(check_workspace(workspace), settings, env) if workspace
                else suites.choose_suite(settings["suite"], None, False, suite_catalogue(env)))
    extras = dockerrun.route_extras(
        dockerrun.image_targets(settings, env, suite), settings, env, suite,
        sysroot_routes_usable(check_workspace(workspace), suite.bazel_major)
        if workspace else True)
    spec = dockerrun.builder_image(settings, env, suite, extras)
    prepare = functools.partial(dockerrun.prepare_context, spec, extras)
    return spec.tag, container.build_image(container.connect(), spec, prepare)


def clean(remove: bool) -> dict[str, list[str]]:
    from cross_compiler.docker import container

    client = container.connect()
    found = container.tool_resources(client)
    if remove:
        container.remove_tool_resources(client)
    return found


def show_config(workspace: Path | None, env: Mapping[str, str],
                cli: Mapping[str, Any]) -> list[tuple[str, Any, str]]:
    """(key, value, where it came from) for every setting."""
    root = choose_workspace(workspace, env)
    file_values, file_name = config.read_config_file(root)
    settings = config.resolve(file_values, file_name, env, cli)
    return [(key, r.value, r.source) for key, r in settings.values.items()]


def release(
    workspace: Path | None, cpus: list[str], env: Mapping[str, str], cli: Mapping[str, Any],
    *, out_dir: Path | None = None, fail_fast: bool = False, compare_to: Path | None = None,
) -> tuple[Path, list[Any]]:
    """Build, retag and smoke-test every target into ``out_dir`` (default <ws>/release);
    with check_reproducible, build again from clean caches, and with ``compare_to``,
    compare with that release: a target whose artifacts differ fails."""
    from cross_compiler.release import pipeline, reproduce
    from cross_compiler.release import publish as rel

    targets = load_targets(cpus, config.toolchains_dir(env))
    root = choose_workspace(workspace, env)
    file_values, file_name = config.read_config_file(root)
    settings = with_source_date(config.resolve(file_values, file_name, env, cli), root)
    runner = choose_runner(settings["runner"], env)
    # One epoch for every build of the release, the second of --check-reproducible too.
    fixed = {**cli, "runner": runner, "source_date_epoch": settings["source_date_epoch"]}
    where = (out_dir or root / "release").resolve()
    if compare_to is not None:
        baseline = compare_to.resolve()
        if baseline == where:
            raise ConfigError(f"--compare-to {baseline} is the release directory this run "
                              "replaces", "copy the previous release aside, or pick another "
                              "--out-dir")
        reproduce.read_sums(baseline)  # a bad baseline is said before any build
    matrix = bool(python_versions(settings))
    cpus = [t.cpu for t in targets]
    if runner == "docker":
        groups = python_groups(root, cpus, settings, env,
                               docker_suite(root, settings, env))
        targets = [t for _suite, group in groups for t in group]
    else:
        targets = [t for group in local_groups(root, cpus, settings, env) for t in group]

    def pair_cli(t: Target) -> dict[str, Any]:
        # Each (cpu, Python) pair in the builder image of the suite that has that Python.
        return {**fixed, "python": [t.python_version],
                **({"suite": t.suite} if runner == "docker" else {})}

    outcomes = rel.release(
        targets, root, where,
        build_one=lambda t: build(root, [t.cpu], env, pair_cli(t)),
        smoke_one=lambda wheel, t: test_wheel(wheel, t.cpu, env, suite=t.suite),
        fail_fast=fail_fast, runner=runner,
        settings={k: r.value for k, r in settings.values.items()}, env=env,
        python_matrix=matrix,
    )
    built = [o.cpu for o in outcomes if o.status == "ok"]
    if built and settings["check_reproducible"] == "true":
        second = pipeline.rebuild_and_compare(
            root, targets, built, fixed, settings["bazel_startup_options"], where,
            build=lambda cpu, cli: build(root, [cpu], env, cli))  # cli: the pair's
        rel.mark_irreproducible(outcomes, second, "a second build from clean caches")
    if built and compare_to is not None:
        rel.mark_irreproducible(outcomes, reproduce.compare(compare_to.resolve(), where, built),
                                str(compare_to))
    return where, outcomes


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


def fetch_python(cpus: list[str], env: Mapping[str, str], suite: str = "auto") -> dict[str, Path]:
    """Download each target's Python root (headers + interpreter) into the cache."""
    from cross_compiler.toolchain import debroot

    cache = config.cache_dir(env)
    chosen = (machine_suite(env) if suite in ("", "auto")
              else suites.choose_suite(suite, None, False, suite_catalogue(env))[0])
    return {t.cpu: debroot.fetch(t, chosen, cache) for t in suite_targets(cpus, env, chosen)
            if t.debian_python}


def sysroot(cpus: list[str], env: Mapping[str, str], suite: str) -> dict[str, Any]:
    """Assemble ``suite``'s sysroot (sysroots/<suite>.toml) for each cpu into the cache."""
    from cross_compiler.toolchain import sysroot as sr

    specs = sr.load_specs(resources.data_dir("sysroots"))
    if suite not in specs:
        raise ConfigError(f"no sysroot description for suite {suite!r}",
                          f"use one of: {', '.join(sorted(specs))}")
    targets = load_targets(cpus, config.toolchains_dir(env))
    for t in targets:  # every cpu checked before anything is fetched
        sr.check_arch(specs[suite], t)
    return {t.cpu: sr.assemble(specs[suite], t, config.cache_dir(env)) for t in targets}


__all__ = ["PACKAGE", "BuildResult", "RenderResult", "build", "fetch_python", "render", "retag"]
