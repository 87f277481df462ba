"""The command line's layer: which settings the flags give, and the task signatures made
from the option groups."""

from __future__ import annotations

import inspect

from cross_compiler import cli, config, options


def test_only_given_flags_give_settings_and_a_switch_wins() -> None:
    flags = options.flags_of(options.WORKSPACE, options.BUILD, options.REMOTE)
    values = {f.name: f.default for f in flags}
    assert options.given_settings(flags, values) == {}
    values.update(target=["//a:b"], package_command="make {out}", no_package=True,
                  no_remote_upload=True, workspace="/ws")
    assert options.given_settings(flags, values) == {
        "targets": ["//a:b"], "package_command": "", "remote_upload": "false"}


def test_every_setting_flag_names_a_setting_and_takes_its_help() -> None:
    for group in (options.BUILD, options.DOCKER, options.REMOTE, options.TARGET_RUN,
                  options.IMAGE):
        for flag in group:
            setting = config.setting(flag.setting)
            assert flag.text == flag.help or flag.text.startswith(setting.help), flag.name


def test_a_task_signature_is_made_from_its_groups() -> None:
    params = inspect.signature(cli.build.body).parameters
    names = [f.name for f in options.flags_of(options.BUILD, options.DOCKER, options.REMOTE)]
    assert set(names) <= set(params)
    assert params["target"].default is None and params["no_package"].default is False
    assert params["cpu"].default == "aarch64" and params["workspace"].default == ""
    assert list(inspect.signature(cli.test_targets.body).parameters)[:2] == ["c", "labels"]
    assert set(cli.ns["build"].iterable) >= {"target", "bazel_flag", "env"}
