"""The command line's layer of the settings: which flags each command takes, grouped, and
what they give. Pure (no invoke): cli.py makes the tasks' signatures from these groups.

A flag that names a setting takes its help from ``config.SETTINGS``: a new option is one
``Setting`` there plus its ``Flag`` in a group here, and every command taking that group has
the flag, its help and its place in ``config --show``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cross_compiler import config


@dataclass(frozen=True)
class Flag:
    """One flag: ``name`` is its Python parameter (``bazel_flag`` is ``--bazel-flag``)."""

    name: str
    setting: str = ""  # the setting it gives; "" for a command's own argument
    kind: type = str  # str, bool (a switch) or list (repeatable)
    default: Any = ""  # "", False or None: not given (the other layers decide)
    help: str = ""  # a command's own argument's; a setting's flag has the setting's
    when_set: str | None = None  # a switch naming a setting: the value it gives
    positional: bool = False

    @property
    def text(self) -> str:
        """The help line ``--help`` shows."""
        if self.help or not self.setting:
            return self.help
        text = config.setting(self.setting).help
        return f"{text} (repeatable)" if self.kind is list else text


Group = tuple[Flag, ...]


def _flag(name: str, setting: str = "", kind: type = str, **kw: Any) -> Flag:
    default = {str: "", bool: False, list: None}[kind]
    return Flag(name, setting or name, kind, kw.pop("default", default), **kw)


WORKSPACE: Group = (Flag("workspace", help=(
    "Bazel workspace directory (default: the one containing the current directory, else "
    "the embedded example workspace)")),)
# What Bazel builds and how its outputs are held, packaged and tagged.
BUILD: Group = (
    _flag("runner"), _flag("target", "targets", list), _flag("bazel_mode"),
    _flag("compilation_mode"), _flag("bazel_flag", "bazel_flags", list),
    _flag("bazel_startup_option", "bazel_startup_options", list), _flag("package_command"),
    _flag("no_package", "package_command", bool, when_set="",
          help="skip the packaging command configured for the workspace"),
    _flag("dist_dir"), _flag("platform"), _flag("manylinux"), _flag("toolchain"),
    _flag("python"),
)
# The docker runner's builder image and container.
DOCKER: Group = (
    _flag("env", kind=list), _flag("cache_dir"), _flag("suite"), _flag("base_image"),
    _flag("extra_package", "extra_packages", list), _flag("network"),
)
# The docker runner's warm server (release is one-shot always: no flag there).
SERVER: Group = (_flag("server"), _flag("server_idle_seconds"))
# A remote cache and remote execution.
REMOTE: Group = (
    _flag("remote_cache"), _flag("remote_header_env"),
    _flag("no_remote_upload", "remote_upload", bool, when_set="false",
          help="read from the remote cache but do not upload local results"),
    _flag("remote_executor"), _flag("remote_instance_name"),
    _flag("remote_exec_property", "remote_exec_properties", list),
)
# `test` and `run`: the build settings that choose what runs the targets.
TARGET_RUN: Group = (
    _flag("runner"), _flag("bazel_flag", "bazel_flags", list), _flag("suite"),
    _flag("cache_dir"), _flag("manylinux"), _flag("toolchain"), _flag("python"),
    *SERVER,
)
# The builder image alone (`image`): its cpus, suite, base and the routes it holds.
IMAGE: Group = (
    _flag("cpu", "image_cpus"), _flag("base_image"),
    _flag("extra_package", "extra_packages", list), _flag("suite"), _flag("manylinux"),
    _flag("toolchain"),
)


def flags_of(*groups: Group) -> tuple[Flag, ...]:
    """The flags of ``groups`` in order, each name once (the first group's wins)."""
    seen: dict[str, Flag] = {}
    for group in groups:
        for flag in group:
            seen.setdefault(flag.name, flag)
    return tuple(seen.values())


def given_settings(flags: tuple[Flag, ...], values: Mapping[str, Any]) -> dict[str, Any]:
    """The settings the command line gave: a flag left at its default gives nothing, so the
    file, the environment and the defaults decide (``config.resolve`` merges them)."""
    given: dict[str, Any] = {}
    for flag in flags:
        value = values.get(flag.name)
        if flag.setting and value and flag.kind is not bool:
            given[flag.setting] = value
    # A switch (--no-package) wins over the value flag of the same setting.
    for flag in flags:
        if flag.kind is bool and flag.when_set is not None and values.get(flag.name):
            given[flag.setting] = flag.when_set
    return given


@dataclass(frozen=True)
class CommandLine:
    """What one command was given: every flag's value (its default when not given) and the
    settings those flags give, the command line's layer for ``config.resolve``."""

    values: Mapping[str, Any]
    settings: Mapping[str, Any]

    def __getitem__(self, name: str) -> Any:
        return self.values[name]


def command_line(flags: tuple[Flag, ...], values: Mapping[str, Any]) -> CommandLine:
    return CommandLine(dict(values), given_settings(flags, values))
