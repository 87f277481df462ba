"""Wires the pure core (targets, render, bazel flags) to the edges (probe, proc, files)."""

from __future__ import annotations

import logging
import shlex
import shutil
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cross_compiler import bazel, config, debroot, elf, probe, proc, resources, smoke
from cross_compiler.bazel import BazelCommand, BazelMode, BazelVersion
from cross_compiler.errors import BuildError, ConfigError, ToolMissingError
from cross_compiler.render import PACKAGE, RenderRequest, render_toolchain
from cross_compiler.targets import Target, load_targets
from cross_compiler.wheel import RetagResult, retag_wheel
from cross_compiler.workspace import (
    TreeChanges,
    check_workspace,
    package_dir,
    plan_tree,
    write_tree,
)

log = logging.getLogger(__name__)

DEBIAN_RULES_JAVA = Path("/usr/share/bazel/rules/java")


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
    )
    files = render_toolchain(request)
    directory = package_dir(root)
    if check or dry_run:
        changes = plan_tree(directory, files)
    else:
        changes = write_tree(directory, files)
    return RenderResult(root, files, changes)


@dataclass(frozen=True)
class BazelSetup:
    program: str
    version: BazelVersion
    overrides: Mapping[str, Path]


def probe_bazel(program: str) -> BazelSetup:
    """Bazel's version and, for Debian's offline bazel-bootstrap, the repository overrides."""
    hint = "install Bazel (Debian: apt-get install bazel-bootstrap bazel-rules-java)"
    result = proc.run([program, "--version"], missing_hint=hint)
    if result.returncode != 0:
        raise ToolMissingError(f"`{program} --version` failed: {result.stderr.strip()}", hint)
    version = bazel.parse_version(result.stdout)
    overrides: dict[str, Path] = {}
    if version is None and "no_version" in result.stdout:
        # Debian's bazel-bootstrap is a no_version build; its package knows the version.
        pkg = proc.run(["dpkg-query", "-W", "-f=${Version}", "bazel-bootstrap"])
        version = bazel.parse_version(pkg.stdout) if pkg.returncode == 0 else None
        if version is not None:
            if not DEBIAN_RULES_JAVA.is_dir():
                raise ToolMissingError(
                    f"offline Bazel {version} needs rules_java at {DEBIAN_RULES_JAVA}",
                    "apt-get install bazel-rules-java",
                )
            own = resources.bazel_overrides_dir()
            overrides = {
                "rules_java": DEBIAN_RULES_JAVA,
                "rules_cc": own / "rules_cc",
                "remote_coverage_tools": own / "remote_coverage_tools",
            }
    if version is None:
        raise ToolMissingError(
            f"cannot tell the Bazel version from {result.stdout.strip()!r}", hint
        )
    return BazelSetup(program, version, overrides)


@dataclass(frozen=True)
class BuildPlan:
    """Everything a build will do, computed before anything runs (what --dry-run prints)."""

    workspace: Path
    target: Target
    mode: BazelMode
    build: BazelCommand
    cquery: BazelCommand
    info: BazelCommand


def plan_build(
    workspace: Path, target: Target, settings: config.Settings, setup: BazelSetup,
) -> BuildPlan:
    mode = bazel.choose_mode(setup.version, settings["bazel_mode"])
    flags = bazel.build_flags(
        target, mode, setup.version, setup.overrides, settings["compilation_mode"],
        settings["bazel_flags"],
    )
    startup = tuple(settings["bazel_startup_options"])
    labels = tuple(settings["targets"])
    return BuildPlan(
        workspace=workspace,
        target=target,
        mode=mode,
        build=BazelCommand(setup.program, "build", flags, labels, startup),
        cquery=BazelCommand(
            setup.program, "cquery", (*flags, *bazel.cquery_files_flags(setup.version)),
            (" + ".join(labels),), startup,
        ),
        info=BazelCommand(setup.program, "info", flags, ("execution_root",), startup),
    )


@dataclass
class BuildResult:
    plans: list[BuildPlan] = field(default_factory=list)
    render: RenderResult | None = None
    outputs: dict[str, list[Path]] = field(default_factory=dict)  # cpu -> ELF files checked
    wheels: dict[str, list[RetagResult]] = field(default_factory=dict)  # cpu -> dist wheels


def package_argv(command: str, out: Path) -> list[str]:
    """The packaging command with ``{out}`` replaced (appended when it has no ``{out}``)."""
    argv = shlex.split(command)
    if not any("{out}" in a for a in argv):
        argv.append(str(out))
    return [a.replace("{out}", str(out)) for a in argv]


def package_and_retag(root: Path, target: Target, settings: config.Settings,
                      env: Mapping[str, str]) -> list[RetagResult]:
    """Run the packaging command, then retag each wheel it made into the dist dir."""
    dist = root / settings["dist_dir"]
    with tempfile.TemporaryDirectory(prefix="cross_compiler-wheels-") as tmp:
        argv = package_argv(settings["package_command"], Path(tmp))
        log.info("==> %s: packaging: %s", target.cpu, shlex.join(argv))
        # TensorFlow's convention: the packaging script builds the wheel with the host
        # Python named by PYTHON_BIN_PATH (ours, which has setuptools and wheel).
        run_env = {**env, "PYTHON_BIN_PATH": env.get("PYTHON_BIN_PATH", sys.executable)}
        result = proc.run(argv, cwd=root, env=run_env, stream=True,
                          missing_hint="check package_command in cross_compiler.toml")
        if result.returncode != 0:
            raise BuildError(f"packaging command for {target.cpu} failed with exit code "
                             f"{result.returncode}: {shlex.join(argv)}", "see its output above")
        wheels = sorted(Path(tmp).glob("*.whl"))
        if not wheels:
            raise BuildError(f"packaging command for {target.cpu} made no .whl in {{out}}",
                             "it must write its wheels into the directory it is given")
        retagged = [retag_wheel(w, dist, target, platform=settings["platform"]) for w in wheels]
    for r in retagged:
        log.info("%s: %s (%s: %s)", target.cpu, r.path, r.platform, r.reason)
    return retagged


def _run_bazel(command: BazelCommand, workspace: Path, what: str) -> proc.Result:
    argv = command.argv()
    if command.command == "info":
        argv = argv[: argv.index("--")] + list(command.targets)  # `info` takes no "--"
    result = proc.run(argv, cwd=workspace, stream=command.command == "build")
    if result.returncode != 0:
        detail = "" if command.command == "build" else f": {result.stderr.strip()[-500:]}"
        raise BuildError(
            f"{what} failed with exit code {result.returncode}{detail}",
            "see the Bazel output above",
        )
    return result


def build(
    workspace: Path | None, cpus: list[str], env: Mapping[str, str], cli: Mapping[str, Any],
    *, dry_run: bool = False,
) -> BuildResult:
    """Render, build with Bazel, find the outputs, and check every ELF is for the target."""
    targets = load_targets(cpus, config.toolchains_dir(env))
    cache = config.cache_dir(env)
    root = check_workspace(workspace or default_workspace(cache))
    file_values, file_name = config.read_config_file(root)
    settings = config.resolve(file_values, file_name, env, cli)
    setup = probe_bazel(settings["bazel"])
    result = BuildResult()
    result.plans = [plan_build(root, t, settings, setup) for t in targets]
    result.render = render(root, [t.cpu for t in targets], env, dry_run=dry_run)
    if dry_run:
        return result
    for plan in result.plans:
        cpu = plan.target.cpu
        log.info("==> %s: bazel build (%s mode, Bazel %s)", cpu, plan.mode.value, setup.version)
        _run_bazel(plan.build, root, f"bazel build for {cpu}")
        files = _run_bazel(plan.cquery, root, f"bazel cquery for {cpu}").stdout.split()
        execroot = Path(_run_bazel(plan.info, root, "bazel info").stdout.strip())
        paths = [execroot / f for f in files]
        result.outputs[cpu] = elf.check_files(paths, plan.target)
        if not result.outputs[cpu]:
            log.warning("%s: the build produced no ELF files to check", cpu)
        for path in result.outputs[cpu]:
            log.info("%s: %s ok (%s)", cpu, path.relative_to(execroot), plan.target.triple)
        if settings["package_command"]:
            result.wheels[cpu] = package_and_retag(root, plan.target, settings, env)
    return result


def retag(
    wheels: list[Path], cpu: str, env: Mapping[str, str], *, platform: str = "auto",
    out_dir: Path | None = None, verify: bool = True,
) -> list[RetagResult]:
    """Retag each wheel for ``cpu``; all are checked before any output is written."""
    (target,) = load_targets([cpu], config.toolchains_dir(env))
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
    (target,) = load_targets([cpu], config.toolchains_dir(env))
    return smoke.smoke_test(wheel, target, config.cache_dir(env), command)


def fetch_python(cpus: list[str], env: Mapping[str, str]) -> dict[str, Path]:
    """Download each target's Python root (headers + interpreter) into the cache."""
    cache = config.cache_dir(env)
    targets = load_targets(cpus, config.toolchains_dir(env))
    return {t.cpu: debroot.fetch(t, cache) for t in targets}


__all__ = ["PACKAGE", "BuildResult", "RenderResult", "build", "fetch_python", "render"]
