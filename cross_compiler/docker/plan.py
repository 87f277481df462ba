"""The container request for a build, assembled in full before anything runs. Pure."""

from __future__ import annotations

import os
import shlex
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cross_compiler.docker.image import LABEL
from cross_compiler.errors import ConfigError
from cross_compiler.hostlink import LINK_ENV
from cross_compiler.redact import MASK, mask_argv, mask_url


@dataclass(frozen=True)
class Mount:
    source: str
    target: str
    read_only: bool = False


# Raw Bazel flags (bazel_flags) whose value names a host path: a local copy the build reads
# (NAME=PATH for the overrides, a file:// URL for a registry), or a cache Bazel writes.
_PATH_FLAGS = {"--override_repository": "named", "--override_module": "named",
               "--distdir": "path", "--registry": "url",
               "--repository_cache": "cache", "--disk_cache": "cache"}


@dataclass(frozen=True)
class FlagPath:
    """A host path named by a raw Bazel flag."""

    flag: str  # as given, for messages
    path: Path  # absolute (a relative one is the workspace's, as Bazel reads it)
    writable: bool  # one of Bazel's caches, which it writes


def flag_paths(flags: Sequence[str], workspace: Path) -> list[FlagPath]:
    """The host paths ``flags`` name (``--distdir=/p`` and ``--distdir /p`` alike; a
    ``%workspace%`` prefix is the workspace; a registry only as a ``file://`` URL)."""
    found: list[FlagPath] = []
    for i, word in enumerate(flags):
        name, sep, value = word.partition("=")
        kind = _PATH_FLAGS.get(name)
        if kind is None:
            continue
        flag = word
        if not sep:
            if i + 1 >= len(flags):
                continue
            value = flags[i + 1]
            flag = f"{word} {value}"
        if kind == "named":
            value = value.partition("=")[2]
        elif kind == "url":
            url = urllib.parse.urlsplit(value)
            if url.scheme != "file":
                continue
            value = urllib.parse.unquote(url.path)
        value = value.replace("%workspace%", str(workspace))
        if value:
            found.append(FlagPath(flag, Path(os.path.normpath(workspace / value)),
                                  kind == "cache"))
    return found


@dataclass(frozen=True)
class ContainerRequest:
    image: str
    command: tuple[str, ...]
    mounts: tuple[Mount, ...]
    env: Mapping[str, str]
    user: str | None
    working_dir: str
    labels: Mapping[str, str]
    network_mode: str = "bridge"
    # Sent over the container's stdin (hostlink.py), never put in its environment, which
    # `docker inspect` shows to anyone who can reach the engine.
    stdin_env: Mapping[str, str] = field(default_factory=dict, repr=False)

    def describe(self) -> list[str]:
        """Human-readable lines for --dry-run (secrets masked)."""
        lines = [f"image: {self.image}", f"user: {self.user or 'image default (root)'}",
                 f"network: {self.network_mode}", f"workdir: {self.working_dir}"]
        lines += [f"mount: {m.source} -> {m.target}{' (ro)' if m.read_only else ''}"
                  for m in self.mounts]
        lines += [f"env: {k}={mask_url(v)}" for k, v in sorted(self.env.items())]
        lines += [f"stdin: {k}={MASK}" for k in sorted(self.stdin_env)]
        lines += [f"label: {k}={v}" for k, v in sorted(self.labels.items())]
        lines.append("command: " + shlex.join(mask_argv(self.command)))
        return lines


@dataclass(frozen=True)
class CacheLayout:
    """Persistent Bazel state for one builder image, at stable absolute paths."""

    root: Path

    @property
    def output_user_root(self) -> Path:
        return self.root / "bazel"

    @property
    def disk_cache(self) -> Path:
        return self.root / "disk"

    @property
    def repository_cache(self) -> Path:
        return self.root / "repo"

    @property
    def home(self) -> Path:
        return self.root / "home"

    def dirs(self) -> list[Path]:
        return [self.output_user_root, self.disk_cache, self.repository_cache, self.home]


def cache_layout(cache_root: Path, image_tag: str) -> CacheLayout:
    # Keyed by image: a different compiler set never reads another's outputs.
    return CacheLayout(cache_root / image_tag.split(":")[-1])


def allowed_env(entries: Sequence[str], host_env: Mapping[str, str]) -> dict[str, str]:
    """``NAME`` takes the host's value, ``NAME=value`` sets one; nothing else passes."""
    env: dict[str, str] = {}
    for entry in entries:
        name, sep, value = entry.partition("=")
        if not name or not name.replace("_", "a").isalnum() or name[0].isdigit():
            raise ConfigError(f"--env {entry!r}: not a valid variable name",
                              "use NAME or NAME=value")
        if sep:
            env[name] = value
        elif name in host_env:
            env[name] = host_env[name]
        else:
            raise ConfigError(f"--env {name}: not set in this environment",
                              f"export {name} or pass {name}=value")
    return env


def container_request(
    *,
    image: str,
    workspace: Path,
    layout: CacheLayout,
    inner_command: Sequence[str],
    settings_env: Mapping[str, str],
    passed_env: Mapping[str, str],
    uid: int,
    gid: int,
    rootless: bool,
    network_mode: str = "bridge",
    stdin_env: Mapping[str, str] | None = None,
    owner: tuple[str, int] = ("", 0),
) -> ContainerRequest:
    """Workspace and caches at the same absolute paths as on the host; the invoking user's
    uid:gid on a rootful engine (so nothing in the workspace becomes root-owned).
    ``stdin_env``: secrets, sent over stdin; ``owner``: this host's name and the tool's pid
    (a later run removes the container if it outlived them)."""
    as_user = None if (rootless or uid == 0) else f"{uid}:{gid}"
    secret = dict(stdin_env or {})
    env = {
        **{k: v for k, v in passed_env.items() if k not in secret},
        **{k: v for k, v in settings_env.items() if k not in secret},
        "HOME": str(layout.home),
        # The uid may have no passwd entry in the image; Bazel needs a user name.
        "USER": f"u{uid}" if as_user else "root",
        "CROSS_COMPILER_IN_CONTAINER": "1",
        LINK_ENV: "stdin",
    }
    mounts = (Mount(str(workspace), str(workspace)), Mount(str(layout.root), str(layout.root)))
    return ContainerRequest(
        image=image, command=tuple(inner_command), mounts=mounts, env=env, user=as_user,
        working_dir=str(workspace),
        labels={LABEL: "1", f"{LABEL}.workspace": str(workspace),
                f"{LABEL}.host": owner[0], f"{LABEL}.pid": str(owner[1])},
        network_mode=network_mode, stdin_env=secret,
    )
