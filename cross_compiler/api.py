"""Wires the pure core (targets, render, bazel flags) to the edges (probe, proc, files)."""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import json
import logging
import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cross_compiler import config, distnames, hostlink, resources
from cross_compiler.builderchoice import docker_suite as docker_suite
from cross_compiler.builderchoice import fetch_root as fetch_root
from cross_compiler.builderchoice import local_groups as local_groups
from cross_compiler.builderchoice import machine_suite as machine_suite
from cross_compiler.builderchoice import python_groups as python_groups
from cross_compiler.builderchoice import python_versions as python_versions
from cross_compiler.builderchoice import suite_catalogue as suite_catalogue
from cross_compiler.builderchoice import suite_targets as suite_targets
from cross_compiler.builderchoice import workspace_suite as workspace_suite
from cross_compiler.display import shown
from cross_compiler.errors import BuildError, ConfigError, CrossCompilerError
from cross_compiler.imagecommands import builder_image as builder_image
from cross_compiler.imagecommands import clean as clean
from cross_compiler.packagerender import RenderResult as RenderResult
from cross_compiler.packagerender import render as render
from cross_compiler.rootcommands import fetch_python as fetch_python
from cross_compiler.rootcommands import sysroot as sysroot
from cross_compiler.toolchain import suites
from cross_compiler.toolchain.targets import (
    Target,
    load_targets,
)
from cross_compiler.wheelcommands import retag as retag
from cross_compiler.wheelcommands import test_wheel as test_wheel
from cross_compiler.wheelcommands import wheel_cpu as wheel_cpu
from cross_compiler.wheelcommands import wheel_python as wheel_python
from cross_compiler.wheelcommands import wheel_suite as wheel_suite
from cross_compiler.workspace import check_workspace, enclosing_workspace

if TYPE_CHECKING:
    from cross_compiler.bazel.localbuild import BazelSetup, BuildPlan, BuildResult, Staging
    from cross_compiler.toolchain import portable
    from cross_compiler.toolchain.render import PACKAGE
    from cross_compiler.toolchain.suites import Suite

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


def probe_bazel(program: str, env: Mapping[str, str] | None = None) -> BazelSetup:
    """The Bazel this machine runs (bazel/localbuild.py), imported when a build needs it."""
    from cross_compiler.bazel.localbuild import probe_bazel as probe

    return probe(program, env)


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
        settings = _with_dist_layout(settings, [t for _s, group in groups for t in group])
        for suite, targets in containers(groups):
            # One container (one Bazel server) per suite and cpu set, building those cpus
            # for each of its Pythons in turn: only the actions that include Python's
            # headers run again for the second Python.
            one = config.with_value(settings, "python",
                                    list(dict.fromkeys(t.python_version for t in targets)),
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


def containers(groups: list[tuple[Suite, list[Target]]]) -> list[tuple[Suite, list[Target]]]:
    """The (suite, Python) groups merged per suite and cpu set: the Pythons of one suite
    that reach the same cpus are built in one container, one after another."""
    merged: dict[tuple[str, tuple[str, ...]], tuple[Suite, list[Target]]] = {}
    for suite, targets in groups:
        key = (suite.name, tuple(sorted(t.cpu for t in targets)))
        merged.setdefault(key, (suite, []))[1].extend(targets)
    return list(merged.values())


def _with_dist_layout(settings: config.Settings, pairs: list[Target]) -> config.Settings:
    layout = distnames.resolve_layout(settings["dist_layout"],
                                      [(t.cpu, t.python_version) for t in pairs])
    if layout == settings["dist_layout"]:
        return settings
    return config.with_value(settings, "dist_layout", layout, "from the (cpu, Python) pairs")


def _build_groups(root: Path, cpus: list[str], settings: config.Settings,
                  env: Mapping[str, str], result: BuildResult, staging: Staging,
                  dry_run: bool) -> None:
    from cross_compiler.bazel.localbuild import BuildResult
    from cross_compiler.toolchain import portable

    groups = local_groups(root, cpus, settings, env)
    settings = _with_dist_layout(settings, [t for group in groups for t in group])
    for group in groups:
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
    bazel_setup = probe_bazel(settings["bazel"], env)
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
    """``bazel test`` for the target: a test that is a target ELF runs under qemu-user, a
    script natively with the target ELFs it runs under qemu (bazel/execshim.py); a failing
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
    from cross_compiler.bazel import execshim, secretrc, targetrun
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
    launcher = execshim.ensure_launcher(config.cache_dir(env), env)
    for target, plan in pairs:
        prefix = targetrun.run_under(target, launcher)
        command = targetrun.test_command(plan.build, labels, prefix)
        log.info("==> %s: bazel test, each test through %s", target.cpu, prefix)
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
                          "renamed": w.renamed, "python": w.python} for w in wheels]
                   for cpu, wheels in result.wheels.items()},
        "bazel": result.bazel,
        "suite": result.suite,
        "toolchains": result.toolchains,
    }
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2))
    tmp.replace(path)


def shutdown(workspace: Path | None, env: Mapping[str, str], every: bool = False) -> list[str]:
    """Remove the warm servers (docker runner) of the workspace, or with ``every`` all of
    them, as `bazel shutdown` stops Bazel's; returns their names."""
    from cross_compiler.docker import container

    root = None if every else str(choose_workspace(workspace, env))
    return container.remove_servers(container.connect(), workspace=root)


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
    # One container per build (server one-shot): a release leaves nothing running.
    fixed = {**cli, "runner": runner, "source_date_epoch": settings["source_date_epoch"],
             "server": "one-shot"}
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

    # One build per cpu and builder suite, for all its Pythons in turn (one container, one
    # Bazel server: the C/C++ compiles once); each (cpu, Python) pair is then smoke-tested
    # and released on its own. A cpu's build that fails fails each of its pairs.
    units: dict[tuple[str, str], list[Target]] = {}
    for t in targets:
        units.setdefault((t.cpu, t.suite if runner == "docker" else ""), []).append(t)
    builds: dict[tuple[str, str], BuildResult | CrossCompilerError] = {}
    dist = (root / settings["dist_dir"]).resolve()

    def build_pair(t: Target) -> BuildResult:
        key = (t.cpu, t.suite if runner == "docker" else "")
        if key not in builds:
            pythons = [u.python_version for u in units[key]]
            try:
                builds[key] = build(root, [t.cpu], env, {
                    **fixed, "python": pythons,
                    "dist_layout": "cpu-python" if matrix else "cpu",
                    **({"suite": t.suite} if runner == "docker" else {})})
            except CrossCompilerError as e:
                builds[key] = e
        done = builds[key]
        if isinstance(done, CrossCompilerError):
            raise done
        if not matrix:
            return done
        view = dataclasses.replace(done)  # this pair's wheels and loose outputs only
        view.wheels = {t.cpu: [w for w in done.wheels.get(t.cpu, [])
                               if w.python in ("", t.python_version)]}
        mine = dist / t.cpu / f"py{t.python_version}"
        view.outputs = {t.cpu: [p for p in done.outputs.get(t.cpu, [])
                                if p.resolve().is_relative_to(mine)]}
        return view

    outcomes = rel.release(
        targets, root, where,
        build_one=build_pair,
        # A lent Python (sid's 3.11, bookworm's) runs with the runtime of the suite whose
        # own Python it is, as `test-wheel` of that wheel picks by itself.
        smoke_one=lambda wheel, t: test_wheel(wheel, t.cpu, env,
                                              suite="auto" if t.python_source else t.suite),
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


__all__ = ["PACKAGE", "BuildResult", "RenderResult", "build", "fetch_python", "render", "retag"]
