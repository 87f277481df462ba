"""Wires the pure core (targets, render, bazel flags) to the edges (probe, proc, files)."""

from __future__ import annotations

import functools
import json
import logging
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cross_compiler import config, debroot, probe, resources
from cross_compiler.errors import ConfigError
from cross_compiler.localbuild import BuildResult, build_local, plan_build, probe_bazel
from cross_compiler.render import PACKAGE, RenderRequest, python_wrapper, render_toolchain
from cross_compiler.targets import load_target_file, load_targets
from cross_compiler.wheel import RetagResult, retag_wheel
from cross_compiler.workspace import (
    TreeChanges,
    check_workspace,
    package_dir,
    plan_tree,
    write_tree,
)

log = logging.getLogger(__name__)



def _is_generated(rel: Path) -> bool:
    """Made in a workspace by a build; never part of the example's sources."""
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


@dataclass(frozen=True)
class RenderResult:
    workspace: Path
    files: dict[str, bytes]
    changes: TreeChanges


def render(
    workspace: Path, cpus: list[str], env: Mapping[str, str], *, check: bool = False,
    dry_run: bool = False,
) -> RenderResult:
    """Render //cross_compiler for ``cpus`` into ``workspace`` (or only compare, with check)."""
    targets = load_targets(cpus, config.toolchains_dir(env))
    root = check_workspace(workspace)
    cache = config.cache_dir(env)
    request = RenderRequest(
        toolchains=tuple(probe.toolchain_inputs(t, cache) for t in targets),
        exec_constraints=probe.host_exec_constraints(),
        host_system_name=probe.host_system_name(),
        host_python=probe.host_python(),
    )
    files = render_toolchain(request)
    directory = package_dir(root)
    if check or dry_run:
        changes = plan_tree(directory, files)
    else:
        changes = write_tree(directory, files)
    return RenderResult(root, files, changes)


def choose_runner(requested: str, env: Mapping[str, str]) -> str:
    """docker or local; ``auto`` is docker when an engine answers (never inside the builder)."""
    if requested in ("local", "docker"):
        return requested
    if env.get("CROSS_COMPILER_IN_CONTAINER"):
        return "local"
    from cross_compiler import container

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
    targets = load_targets(cpus, config.toolchains_dir(env))
    cache = config.cache_dir(env)
    root = check_workspace(workspace or default_workspace(cache))
    file_values, file_name = config.read_config_file(root)
    settings = config.resolve(file_values, file_name, env, cli)
    result = BuildResult()
    if choose_runner(settings["runner"], env) == "docker":
        from cross_compiler import dockerrun

        dockerrun.build_in_container(root, targets, settings, env, result, dry_run)
        if result_json is not None and not dry_run:
            write_result_json(result, result_json)
        return result
    setup = probe_bazel(settings["bazel"])
    rendered = render(root, [t.cpu for t in targets], env, dry_run=dry_run)
    result.plans = [
        plan_build(root, t, settings, setup, env,
                   python_bin=(root / PACKAGE / python_wrapper(t.cpu)
                               if python_wrapper(t.cpu) in rendered.files else None))
        for t in targets
    ]
    result.rendered = sorted(rendered.files)
    result.changed = list(rendered.changes.written)
    if not dry_run:
        build_local(root, targets, settings, env, result)
    if result_json is not None:
        write_result_json(result, result_json)
    return result


def write_result_json(result: BuildResult, path: Path) -> None:
    """What a build made, for the host side of a container build."""
    data = {
        "outputs": {cpu: [str(p) for p in paths] for cpu, paths in result.outputs.items()},
        "wheels": {cpu: [{"path": str(w.path), "platform": w.platform, "reason": w.reason,
                          "renamed": w.renamed} for w in wheels]
                   for cpu, wheels in result.wheels.items()},
        "bazel": result.bazel,
    }
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2))
    tmp.replace(path)


def builder_image(workspace: Path | None, env: Mapping[str, str],
                  cli: Mapping[str, Any]) -> tuple[str, str]:
    """Build or reuse the builder image; returns (tag, what happened)."""
    from cross_compiler import container, dockerrun

    file_values, file_name = ({}, "") if workspace is None else config.read_config_file(
        check_workspace(workspace))
    settings = config.resolve(file_values, file_name, env, cli)
    spec = dockerrun.builder_image(settings, env)
    prepare = functools.partial(dockerrun.download_wheels, spec.requirements)
    return spec.tag, container.build_image(container.connect(), spec, prepare)


def clean(remove: bool) -> dict[str, list[str]]:
    from cross_compiler import container

    client = container.connect()
    found = container.tool_resources(client)
    if remove:
        container.remove_tool_resources(client)
    return found


def show_config(workspace: Path | None, env: Mapping[str, str],
                cli: Mapping[str, Any]) -> list[tuple[str, Any, str]]:
    """(key, value, where it came from) for every setting."""
    root = check_workspace(workspace or default_workspace(config.cache_dir(env)))
    file_values, file_name = config.read_config_file(root)
    settings = config.resolve(file_values, file_name, env, cli)
    return [(key, r.value, r.source) for key, r in settings.values.items()]


def release(
    workspace: Path | None, cpus: list[str], env: Mapping[str, str], cli: Mapping[str, Any],
    *, out_dir: Path | None = None, fail_fast: bool = False,
) -> tuple[Path, list[Any]]:
    """Build, retag and smoke-test every target into ``out_dir`` (default <ws>/release)."""
    from cross_compiler import release as rel

    targets = load_targets(cpus, config.toolchains_dir(env))
    root = check_workspace(workspace or default_workspace(config.cache_dir(env)))
    file_values, file_name = config.read_config_file(root)
    runner = choose_runner(config.resolve(file_values, file_name, env, cli)["runner"], env)
    fixed = {**cli, "runner": runner}
    outcomes = rel.release(
        targets, root, (out_dir or root / "release").resolve(),
        build_one=lambda t: build(root, [t.cpu], env, fixed),
        smoke_one=lambda wheel, t: test_wheel(wheel, t.cpu, env),
        fail_fast=fail_fast, runner=runner,
    )
    return (out_dir or root / "release").resolve(), outcomes


def retag(
    wheels: list[Path], cpu: str, env: Mapping[str, str], *, platform: str = "auto",
    out_dir: Path | None = None, verify: bool = True,
) -> list[RetagResult]:
    """Retag each wheel for ``cpu``; all are checked before any output is written."""
    catalogue = config.toolchains_dir(env)
    native = catalogue / "native" / f"{cpu}.toml"
    # The build machine's own arch is no cross target, but its wheels can be retagged too.
    target = load_target_file(native) if native.is_file() else load_targets([cpu], catalogue)[0]
    if not wheels:
        raise ConfigError("no wheel given", "pass the path of a .whl file")
    if platform != "auto" and not platform.endswith("_" + target.wheel_arch):
        raise ConfigError(
            f"--platform={platform} is not a {target.cpu} platform tag",
            f"use auto or a tag ending in _{target.wheel_arch}, e.g. linux_{target.wheel_arch}",
        )
    return [
        retag_wheel(w, out_dir or w.parent, target, platform=platform, verify=verify)
        for w in wheels
    ]


def test_wheel(wheel: Path, cpu: str, env: Mapping[str, str], command: str = "") -> list[str]:
    """Install and import ``wheel`` in the target's CPython under qemu-user."""
    from cross_compiler import smoke  # imports PyPI's installer: only for this command

    (target,) = load_targets([cpu], config.toolchains_dir(env))
    return smoke.smoke_test(wheel, target, config.cache_dir(env), command)


def fetch_python(cpus: list[str], env: Mapping[str, str]) -> dict[str, Path]:
    """Download each target's Python root (headers + interpreter) into the cache."""
    cache = config.cache_dir(env)
    targets = load_targets(cpus, config.toolchains_dir(env))
    return {t.cpu: debroot.fetch(t, cache) for t in targets}


__all__ = ["PACKAGE", "BuildResult", "RenderResult", "build", "fetch_python", "render", "retag"]
