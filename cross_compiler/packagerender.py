"""Render the Bazel package //cross_compiler for targets into a workspace (or compare it
with what is there): the toolchains' inputs, the host's constraints, the files written."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cross_compiler import config
from cross_compiler.builderchoice import machine_suite, suite_targets
from cross_compiler.toolchain.targets import Target, available_cpus
from cross_compiler.workspace import check_workspace

if TYPE_CHECKING:
    from cross_compiler.toolchain import portable
    from cross_compiler.toolchain.packagetree import TreeChanges


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
