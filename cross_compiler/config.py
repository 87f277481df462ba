"""Settings: defaults < workspace ``cross_compiler.toml`` < environment < CLI. Pure.

Every setting knows where its value came from, for error messages and ``config --show``.
"""

from __future__ import annotations

import difflib
import os
import re
import shlex
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cross_compiler.display import shown
from cross_compiler.errors import ConfigError
from cross_compiler.manylinuxpolicy import parse_baseline

CONFIG_FILE = "cross_compiler.toml"
ENV_PREFIX = "CROSS_COMPILER_"


@dataclass(frozen=True)
class Setting:
    key: str
    kind: type  # str or list
    default: Any
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("targets", list, ["//..."], "Bazel labels to build (default //...)"),
    Setting("bazel", str, "bazel", "Bazel program"),
    Setting("bazel_mode", str, "auto", "auto, legacy (--crosstool_top) or platforms"),
    Setting("compilation_mode", str, "opt", "Bazel --compilation_mode: opt, dbg or fastbuild"),
    Setting("bazel_flags", list, [], "extra flags for every Bazel build"),
    Setting("bazel_startup_options", list, [], "Bazel startup options, e.g. --output_user_root=…"),
    Setting("runner", str, "auto",
            "where Bazel runs: docker, local, or auto (docker when an engine answers)"),
    Setting("suite", str, "auto",
            "Debian suite of the builder image (bookworm: Bazel 4.2.3, sid: Bazel 7.7.1); "
            "auto: from .bazelversion, else sid for a workspace with MODULE.bazel (with or "
            "without WORKSPACE), else bookworm; the local runner uses the machine's own"),
    Setting("python", list, [],
            "target CPython X.Y (comma-separated, or all): its headers, its python3 for "
            "packaging and repository rules; one wheel per (cpu, version), each built in the "
            "image of the suite that has it (3.11: bookworm, 3.13: sid); default the builder "
            "suite's, else the nearest the cpu has (riscv64 on Bazel 4: 3.13)"),
    Setting("base_image", str, "", "base of the builder image (default debian:<suite>)"),
    Setting("extra_packages", list, [], "more Debian packages for the builder image"),
    Setting("image_cpus", str, "all", "cpus the builder image holds toolchains for"),
    Setting("env", list, [], "environment passed into the container: NAME or NAME=value"),
    Setting("cache_dir", str, "",
            "persistent Bazel caches for the docker runner (default <user cache>/docker)"),
    Setting("server", str, "auto",
            "docker runner: warm keeps the builder container and its Bazel server between "
            "commands (docker exec), one-shot runs each command in a fresh container; auto: "
            "warm, but one-shot under CI=true and for release"),
    Setting("server_idle_seconds", str, "300",
            "docker runner: a warm server unused this long removes itself (Bazel's "
            "--max_idle_secs too)"),
    Setting("network", str, "bridge",
            "container network: bridge or host (host is chosen for a loopback remote cache)"),
    Setting("remote_cache", str, "", "Bazel remote cache URL (http(s):// or grpc(s)://)"),
    Setting("remote_header_env", str, "",
            "name of an environment variable holding a header for the remote cache/executor, "
            "e.g. 'Authorization=Bearer …' (its value is never printed)"),
    Setting("remote_upload", str, "true", "upload local results to the remote cache"),
    Setting("remote_executor", str, "", "Bazel remote executor URL (grpc://…)"),
    Setting("remote_instance_name", str, "", "remote execution instance name"),
    Setting("remote_exec_properties", list, [],
            "KEY=VALUE platform properties for remote execution "
            "(--remote_default_exec_properties), e.g. container-image=docker://<builder image>:"
            " they describe the machine that runs the actions, never the target"),
    Setting("repository_overrides", list, [],
            "NAME=DIR: use a local copy for an external repository (offline, air-gapped); "
            "the docker runner mounts DIR read-only"),
    Setting("module_overrides", list, [],
            "NAME=DIR: use a local copy for a bzlmod module (Bazel 7; refused on Bazel 4), "
            "mounted like above"),
    Setting("distdirs", list, [],
            "directories of downloaded archives Bazel may use instead of the network"),
    Setting("wheelhouses", list, [],
            "directories of target wheels for pip in repository rules (pip_parse, pip.parse, "
            "a rule running `python3 -m pip`): used instead of the index (offline), each "
            "mounted read-only in docker; pip always resolves the target's wheels"),
    Setting("header_roots", list, [],
            "directories outside the workspace whose headers are arch-neutral source (a "
            "local_repository of a sibling checkout): the header proof accepts them, still "
            "checking wheel tags and ABI macros"),
    Setting("package_command", str, "",
            "shell command (sh -c, from the workspace root) run after the build to make "
            "wheels into {out}, which becomes that directory as one quoted word, e.g. "
            "bazel-bin/pkg/build {out} && cp extra/*.whl {out}"),
    Setting("dist_dir", str, "dist",
            "where retagged wheels and the checked outputs go, relative to the workspace"),
    Setting("dist_layout", str, "auto",
            "where in dist_dir the checked binaries and libraries go: cpu (dist/<cpu>/), "
            "cpu-python (dist/<cpu>/py<X.Y>/), or auto: cpu-python when a cpu is built for "
            "several Pythons (their extensions differ), else cpu"),
    Setting("platform", str, "auto", "wheel platform tag: auto or e.g. manylinux_2_28_aarch64"),
    Setting("manylinux", str, "",
            "glibc baseline every output must run on: 2014, 2_17, 2_28, 2_31, …; picks the "
            "compiler family and sysroot that meet it, or fails before building"),
    Setting("toolchain", str, "auto",
            "compiler family: gcc (Debian's cross gcc), clang (clang + lld + a Debian sysroot) "
            "or zig; auto: gcc, or the family --manylinux needs"),
    Setting("source_date_epoch", str, "",
            "SOURCE_DATE_EPOCH (seconds) for the packaging command; default: the workspace's "
            "last commit time, else 315532800 (1980-01-01)"),
    Setting("check_reproducible", str, "false",
            "release: build every target again from clean caches and fail on any difference"),
)
_BY_KEY = {s.key: s for s in SETTINGS}
_CHOICES = {
    "bazel_mode": ("auto", "legacy", "platforms"),
    "compilation_mode": ("opt", "dbg", "fastbuild"),
    "runner": ("auto", "local", "docker"),
    "network": ("bridge", "host"),
    "server": ("auto", "warm", "one-shot"),
    "remote_upload": ("true", "false"),
    "check_reproducible": ("true", "false"),
}


@dataclass(frozen=True)
class ResolvedSetting:
    value: Any
    source: str  # "default", "<file>", "env NAME" or "command line"


@dataclass(frozen=True)
class Settings:
    values: Mapping[str, ResolvedSetting]

    def __getitem__(self, key: str) -> Any:
        return self.values[key].value


def setting(key: str) -> Setting:
    """The setting named ``key`` (an unknown key is refused with a "did you mean")."""
    return _check_key(key, "settings")


def _check_key(key: str, where: str) -> Setting:
    if key not in _BY_KEY:
        close = difflib.get_close_matches(key, list(_BY_KEY), n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"valid keys: {', '.join(_BY_KEY)}"
        raise ConfigError(f"{shown(where)}: unknown setting {key!r}", hint)
    return _BY_KEY[key]


def _coerce(setting: Setting, value: Any, where: str) -> Any:
    if setting.kind is list:
        if isinstance(value, str):
            try:
                value = shlex.split(value)
            except ValueError as e:  # "No closing quotation"
                raise ConfigError(f"{shown(where)}: {setting.key}: {e} in {value!r}",
                                  "balance the quotes, or quote the value for a shell") from e
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{shown(where)}: {setting.key} must be a list of strings")
    elif not isinstance(value, str):
        raise ConfigError(f"{shown(where)}: {setting.key} must be a string, got "
                          f"{type(value).__name__}")
    if setting.key == "source_date_epoch" and value and not (value.isascii() and value.isdigit()):
        raise ConfigError(f"{shown(where)}: source_date_epoch must be whole seconds since "
                          f"1970, got {value!r}", "e.g. the output of `git log -1 --format=%ct`")
    if setting.key == "server_idle_seconds" and not (
            value.isascii() and value.isdigit() and 0 < int(value) <= 86400):
        raise ConfigError(f"{shown(where)}: server_idle_seconds must be whole seconds from 1 "
                          f"to 86400, got {value!r}", "e.g. 300 (five minutes)")
    if setting.key == "manylinux" and value:
        try:
            parse_baseline(value)
        except ConfigError as e:
            raise ConfigError(f"{shown(where)}: {e.message}", e.hint) from e
    choices = _CHOICES.get(setting.key)
    if choices and value not in choices:
        raise ConfigError(
            f"{shown(where)}: {setting.key} must be one of {', '.join(choices)}, got {value!r}"
        )
    return value


def read_config_file(workspace: Path) -> tuple[dict[str, Any], str]:
    """The ``[build]`` table of the workspace's config file (empty if there is none)."""
    path = workspace / CONFIG_FILE
    if not path.is_file():
        return {}, str(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{shown(path)}: not valid TOML: {e}", "write it as UTF-8 TOML") from e
    except OSError as e:
        raise ConfigError(f"{shown(path)}: cannot read: {e.strerror}") from e
    for table in data:
        if table != "build":
            raise ConfigError(f"{shown(path)}: unknown table [{shown(table)}]",
                              "settings go under [build]")
    build = data.get("build", {})
    if not isinstance(build, dict):
        raise ConfigError(f"{shown(path)}: [build] must be a table")
    return build, str(path)


def resolve(
    file_values: Mapping[str, Any],
    file_name: str,
    env: Mapping[str, str],
    cli: Mapping[str, Any],
) -> Settings:
    """Merge the layers; ``cli`` holds only flags the user actually gave."""
    for key in file_values:
        _check_key(key, file_name)
    for key in cli:
        _check_key(key, "command line")
    resolved: dict[str, ResolvedSetting] = {}
    for s in SETTINGS:
        value, source = s.default, "default"
        if s.key in file_values:
            value, source = _coerce(s, file_values[s.key], file_name), file_name
        env_name = ENV_PREFIX + s.key.upper()
        if env_name in env:  # set, even to "": an empty value clears a file's setting
            value, source = _coerce(s, env[env_name], f"env {env_name}"), f"env {env_name}"
        if s.key in cli and cli[s.key] is not None:
            value, source = _coerce(s, cli[s.key], "command line"), "command line"
        resolved[s.key] = ResolvedSetting(value, source)
    return Settings(resolved)


def with_value(settings: Settings, key: str, value: Any, source: str) -> Settings:
    """``settings`` with one value replaced (a default the tool computed, and from where)."""
    return Settings({**settings.values, key: ResolvedSetting(value, source)})


_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.~+-]*$")


def local_paths(settings: Settings) -> list[tuple[str, str, Path]]:
    """(setting, name, directory) of every override and distdir, validated: absolute,
    existing directories, names Bazel accepts."""
    found: list[tuple[str, str, Path]] = []
    for key in ("repository_overrides", "module_overrides"):
        for entry in settings[key]:
            name, sep, directory = entry.partition("=")
            if not sep or not _NAME.match(name):
                raise ConfigError(f"{key}: {entry!r} is not NAME=DIR",
                                  'write e.g. "zlib=/srv/bazel/zlib"')
            found.append((key, name, _local_dir(key, directory)))
    for key in ("distdirs", "wheelhouses"):
        found += [(key, "", _local_dir(key, d)) for d in settings[key]]
    return found


def _local_dir(key: str, text: str) -> Path:
    path = Path(text).expanduser()
    if not path.is_absolute() or "\n" in text or "," in text:
        raise ConfigError(f"{key}: {text!r} must be an absolute directory path")
    if not path.is_dir():
        raise ConfigError(f"{key}: {shown(text)} is not a directory", "fix the path")
    return path


def toolchains_dir(env: Mapping[str, str]) -> Path:
    """Target catalogue: $CROSS_COMPILER_TOOLCHAINS (your own toml files), else the shipped one."""
    if env.get("CROSS_COMPILER_TOOLCHAINS"):
        return Path(env["CROSS_COMPILER_TOOLCHAINS"])
    from cross_compiler.resources import toolchains_dir as shipped

    return shipped()


def suites_dir(env: Mapping[str, str]) -> Path:
    """Suite catalogue: $CROSS_COMPILER_SUITES, else the shipped one."""
    if env.get("CROSS_COMPILER_SUITES"):
        return Path(env["CROSS_COMPILER_SUITES"])
    from cross_compiler.resources import data_dir

    return data_dir("suites")


def cache_dir(env: Mapping[str, str]) -> Path:
    """Where fetched target roots live: $CROSS_COMPILER_CACHE, else the XDG cache dir."""
    if env.get("CROSS_COMPILER_CACHE"):
        return Path(env["CROSS_COMPILER_CACHE"])
    base = env.get("XDG_CACHE_HOME") or os.path.join(env.get("HOME", "/tmp"), ".cache")
    return Path(base) / "cross_compiler"
