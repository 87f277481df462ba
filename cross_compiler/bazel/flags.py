"""Bazel version -> flag set (legacy crosstool or platforms). Pure."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from cross_compiler.errors import ConfigError
from cross_compiler.redact import Secret, is_secret_arg, mask_arg, mask_argv, mask_url
from cross_compiler.toolchain.render import PACKAGE
from cross_compiler.toolchain.targets import Target


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
    # Options that must never be on a command line (``ps``) nor in Bazel's server log
    # (java.log records each command's arguments, rc-file options included): remote
    # headers, URL passwords. They go in a private bazelrc that exists only while Bazel
    # runs (secretrc.py), with that log's config from ``server_log`` (see server_log_flags).
    secret_flags: tuple[Secret, ...] = ()
    server_log: Path | None = None
    # Environment for the launcher, e.g. Debian's /usr/bin/bazel wrapper, which otherwise
    # refuses a workspace whose .bazelversion names another version than the installed one.
    launcher_env: tuple[tuple[str, str], ...] = ()

    def environ(self, base: Mapping[str, str]) -> dict[str, str] | None:
        """The environment to run it in (None: inherit unchanged)."""
        return {**base, **dict(self.launcher_env)} if self.launcher_env else None

    def argv(self, secret_rc: Path | None = None) -> list[str]:
        """The command line; with secret flags, ``secret_rc`` is the bazelrc holding them."""
        startup = list(self.startup)
        if self.secret_flags:
            if secret_rc is None or self.server_log is None:
                raise ValueError("a command with secret flags runs through secretrc.argv()")
            startup = [f"--bazelrc={secret_rc}", *server_log_flags(self.server_log), *startup]
        return [self.bazel, *startup, self.command, *self.flags, "--", *self.targets]

    def display(self) -> list[str]:
        """argv for printing: secrets masked, the private bazelrc shown by what it holds."""
        startup = list(self.startup)
        if self.secret_flags:
            held = " ".join(f"{f.value.split('=', 1)[0]}=..." for f in self.secret_flags)
            startup = [f"--bazelrc=<private 0600 file: {held}>",
                       *(server_log_flags(self.server_log) if self.server_log else ()),
                       *startup]
        return mask_argv([self.bazel, *startup, self.command, *self.flags, "--",
                          *self.targets])


def mask_secret(arg: str) -> str:
    return mask_arg(arg)


def remote_flags(cache: str, upload: bool, executor: str, instance: str,
                 header: str, properties: Sequence[str] = ()) -> tuple[str, ...]:
    """Bazel's own remote protocol: a shared cache, and remote execution passed through."""
    if executor and cache.startswith(("http://", "https://")):
        # Bazel refuses the pair, and only after starting the build.
        raise ConfigError(
            f"an HTTP remote cache ({mask_url(cache)}) cannot be combined with gRPC remote "
            "execution", "drop remote_cache (the executor's CAS is the cache) or use the "
            "executor's grpc:// endpoint for both")
    flags: list[str] = []
    if cache:
        flags += [f"--remote_cache={cache}",
                  f"--remote_upload_local_results={'true' if upload else 'false'}"]
    if executor:
        flags.append(f"--remote_executor={executor}")
    if instance:
        flags.append(f"--remote_instance_name={instance}")
    for prop in properties:
        if not re.fullmatch(r"[A-Za-z0-9_.:-]+=\S*", prop):
            raise ConfigError(f"remote_exec_properties: {prop!r} is not KEY=VALUE",
                              "e.g. OSFamily=Linux or container-image=docker://IMAGE")
        if executor:  # only an executor reads them
            flags.append(f"--remote_default_exec_properties={prop}")
    if header and (cache or executor):
        flags.append(f"--remote_header={header}")
    return tuple(flags)


def split_secret_flags(flags: Sequence[str]) -> tuple[tuple[str, ...], tuple[Secret, ...]]:
    """(flags for the command line, flags that must stay off it)."""
    public = tuple(f for f in flags if not is_secret_arg(f))
    secret = tuple(Secret(f) for f in flags if is_secret_arg(f))
    if secret:
        # Bazel prints every rc option with --announce_rc: never ours.
        public = (*public, "--noannounce_rc")
    return public, secret


def _rc_word(arg: str) -> str:
    """One bazelrc word: Bazel's rc tokenizer takes double quotes and backslash escapes."""
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


def secret_bazelrc(flags: Sequence[Secret]) -> str:
    """The private bazelrc's text (read by every command that inherits build's options:
    build, test, cquery, aquery, info)."""
    return "".join(f"build {_rc_word(f.value)}\n" for f in flags)


def server_log_dir(startup: Sequence[str], workspace: Path, cache: Path) -> Path:
    """Where Bazel's server log goes when a command has secret flags: a stable place (a new
    path would restart the server every build) under the output user root, else ours."""
    root = cache / "bazel-server-log"
    for option in startup:
        if option.startswith("--output_user_root="):
            root = Path(option.split("=", 1)[1]) / "cross_compiler-server-log"
    return root / hashlib.sha256(str(workspace).encode()).hexdigest()[:16]


def server_log_flags(directory: Path) -> tuple[str, ...]:
    return (f"--host_jvm_args=-Djava.util.logging.config.file={directory}/javalog.properties",)


def server_log_properties(directory: Path) -> str:
    """Bazel's own java.log settings (its client writes the same), except that the class
    that logs every command's arguments, secret rc options included, logs warnings only."""
    handler = "com.google.devtools.build.lib.util.SimpleLogHandler"
    return (f"handlers={handler}\n.level=INFO\n{handler}.level=INFO\n"
            f"{handler}.prefix={directory}/java.log\n{handler}.limit=1024000\n"
            f"{handler}.total_limit=20971520\n"
            f"{handler}.formatter=com.google.devtools.build.lib.util.SingleLineFormatter\n"
            "com.google.devtools.build.lib.server.GrpcServerImpl.level=WARNING\n")


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
