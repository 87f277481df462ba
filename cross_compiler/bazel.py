"""Bazel version -> flag set (legacy crosstool or platforms). Pure."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from cross_compiler.errors import ConfigError
from cross_compiler.render import PACKAGE
from cross_compiler.targets import Target


class BazelMode(Enum):
    LEGACY = "legacy"
    PLATFORMS = "platforms"


@dataclass(frozen=True, order=True)
class BazelVersion:
    major: int
    minor: int
    patch: int

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"


def parse_version(text: str) -> BazelVersion | None:
    """``bazel 6.4.0`` / ``4.2.3+ds-9`` / ``release 7.1.0rc1`` -> version; None if absent."""
    match = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", text)
    if not match:
        return None
    return BazelVersion(int(match[1]), int(match[2]), int(match[3] or 0))


def default_mode(version: BazelVersion) -> BazelMode:
    """Bazel <= 6: the crosstool flags every such workspace (TensorFlow's) is tested with."""
    return BazelMode.PLATFORMS if version.major >= 7 else BazelMode.LEGACY


def choose_mode(version: BazelVersion, requested: str) -> BazelMode:
    if requested == "auto":
        return default_mode(version)
    try:
        mode = BazelMode(requested)
    except ValueError as e:
        raise ConfigError(
            f"unknown --bazel-mode {requested!r}", "use auto, legacy or platforms"
        ) from e
    if mode is BazelMode.LEGACY and version.major >= 7:
        raise ConfigError(
            f"Bazel {version} selects C++ toolchains by platform only; --bazel-mode=legacy "
            "cannot work",
            "use --bazel-mode=platforms (or auto)",
        )
    return mode


def toolchain_flags(target: Target, mode: BazelMode, version: BazelVersion) -> tuple[str, ...]:
    """The flags that make Bazel build for ``target`` with the rendered toolchain."""
    # In both modes: the mappings give --cpu=<target> its platform (so select() on
    # @platforms constraints sees the target, never the host), and the registered
    # toolchain is what C++ toolchain resolution then finds for that platform.
    common = (
        f"--platform_mappings={PACKAGE}/platform_mappings",
        f"--extra_toolchains=//{PACKAGE}:cc_toolchain_{target.cpu}",
    )
    if mode is BazelMode.LEGACY:
        flags = [
            f"--crosstool_top=//{PACKAGE}:toolchain",
            f"--cpu={target.cpu}",
            "--host_crosstool_top=@bazel_tools//tools/cpp:toolchain",
        ]
        if version.major <= 6:
            # Keep host tools (genrule tools, protoc) on the host compiler, never the cross one.
            flags.append("--distinct_host_configuration=true")
        return (*flags, *common)
    flags = []
    if version.major < 7:
        flags.append("--incompatible_enable_cc_toolchain_resolution")
    flags.append(f"--platforms=//{PACKAGE}:linux_{target.cpu}")
    return (*flags, *common)


def override_flags(overrides: Mapping[str, Path]) -> tuple[str, ...]:
    return tuple(f"--override_repository={name}={path}" for name, path in sorted(overrides.items()))


@dataclass(frozen=True)
class BazelCommand:
    """One Bazel invocation, assembled in full before anything runs."""

    bazel: str
    command: str
    flags: tuple[str, ...]
    targets: tuple[str, ...]
    startup: tuple[str, ...] = ()

    def argv(self) -> list[str]:
        return [self.bazel, *self.startup, self.command, *self.flags, "--", *self.targets]

    def display(self) -> list[str]:
        """argv for printing: secret values (remote headers) masked."""
        return [mask_secret(a) for a in self.argv()]


SECRET_FLAGS = ("--remote_header=", "--remote_cache_header=", "--remote_exec_header=")


def mask_secret(arg: str) -> str:
    for prefix in SECRET_FLAGS:
        if arg.startswith(prefix):
            return prefix + "***"
    return arg


def remote_flags(cache: str, upload: bool, executor: str, instance: str,
                 header: str) -> tuple[str, ...]:
    """Bazel's own remote protocol: a shared cache, and remote execution passed through."""
    flags: list[str] = []
    if cache:
        flags += [f"--remote_cache={cache}",
                  f"--remote_upload_local_results={'true' if upload else 'false'}"]
    if executor:
        flags.append(f"--remote_executor={executor}")
    if instance:
        flags.append(f"--remote_instance_name={instance}")
    if header and (cache or executor):
        flags.append(f"--remote_header={header}")
    return tuple(flags)


def build_flags(
    target: Target,
    mode: BazelMode,
    version: BazelVersion,
    overrides: Mapping[str, Path],
    compilation_mode: str,
    extra: Sequence[str] = (),
) -> tuple[str, ...]:
    return (
        *override_flags(overrides),
        *toolchain_flags(target, mode, version),
        f"--compilation_mode={compilation_mode}",
        *extra,
    )


# Printed one path per line; works on Bazel 4+ (``--output=files`` needs 5.3).
_FILES_EXPR = "'\\n'.join([f.path for f in target.files.to_list()])"


def cquery_files_flags(version: BazelVersion) -> tuple[str, ...]:
    if version >= BazelVersion(5, 3, 0):
        return ("--output=files",)
    return ("--output=starlark", f"--starlark:expr={_FILES_EXPR}")
