"""The image commands: build (or reuse) the builder image for a workspace's settings, and
list or remove the tool's containers, images and volumes."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cross_compiler import config
from cross_compiler.builderchoice import suite_catalogue, workspace_suite
from cross_compiler.toolchain import suites
from cross_compiler.workspace import check_workspace


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
