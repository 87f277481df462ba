"""The warm server: one builder container kept running between commands, each command
``docker exec``'d into it, so Bazel's server (and its analysis) survives. Pure: the key,
the long-lived container's request, its idle loop; docker/container.py runs them.

Like Bazel's own client/server: a server is reused only when everything that shapes it is
the same (the key), it removes itself after ``server_idle_seconds`` without a command (its
PID 1 watches a heartbeat file the host touches while a command runs), and
``cross-compiler shutdown`` removes it at once.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Literal

from cross_compiler.docker.image import LABEL
from cross_compiler.docker.plan import CacheLayout, ContainerRequest

SERVER_LABEL = f"{LABEL}.server"  # the key
ROOT_LABEL = f"{LABEL}.output_root"  # the cache layout whose Bazel output bases it uses
WORKSPACE_LABEL = f"{LABEL}.workspace"
NAME_PREFIX = "cross-compiler-server-"

Mode = Literal["warm", "one-shot"]


def server_mode(setting: str, env: Mapping[str, str], command: str, dry_run: bool) -> Mode:
    """warm or one-shot: a dry run asks a fresh container; CI (``CI=true``) leaves nothing
    behind; ``auto`` is warm otherwise (release passes one-shot itself)."""
    if dry_run or setting == "one-shot":
        return "one-shot"
    if setting == "warm":
        return "warm"
    ci = env.get("CI", "").strip().lower() in ("1", "true", "yes")
    return "one-shot" if ci else "warm"


def server_key(request: ContainerRequest, image_id: str, cpus: Collection[str],
               per_command: Collection[str]) -> str:
    """What a reused server must share with this command: the image (by id: a rebuilt
    image is another server), the workspace, the cpus, every mount, the user, the network,
    the names of all variables and of the secrets (never their values), and the values of
    every variable but ``per_command`` ones (Bazel reads those with each command: targets,
    flags, the result file), so that a changed suite, Python, toolchain route, startup
    option or mount set starts a fresh server, never a stale one."""
    env = request.env
    shape = {
        "image_id": image_id,
        "workspace": request.working_dir,
        "cpus": sorted(cpus),
        "mounts": sorted([m.source, m.target, m.read_only] for m in request.mounts),
        "user": request.user or "",
        "network": request.network_mode,
        "env_names": sorted(env),
        "env": {k: v for k, v in sorted(env.items()) if k not in per_command},
        "secret_names": sorted(request.stdin_env),
    }
    return hashlib.sha256(json.dumps(shape, sort_keys=True).encode()).hexdigest()


def heartbeat_file(layout: CacheLayout, key: str) -> Path:
    """Touched by the host while a command runs; the server's PID 1 exits once it is older
    than the idle timeout. In the cache layout, mounted at the same path."""
    return layout.root / "servers" / f"{key[:32]}.heartbeat"


def idle_loop(heartbeat: Path, idle_seconds: int) -> tuple[str, ...]:
    """The server's command: wake every few seconds, exit (and the container with it: it
    is auto-removed) once the heartbeat is ``idle_seconds`` old, or gone."""
    step = max(1, min(5, idle_seconds // 3))
    script = ('hb="$1"; idle="$2"; step="$3"; '
              'while sleep "$step"; do '
              'last=$(stat -c %Y "$hb" 2>/dev/null || echo 0); '
              '[ $(( $(date +%s) - last )) -ge "$idle" ] && exit 0; '
              'done')
    return ("sh", "-c", script, "cross-compiler-server", str(heartbeat), str(idle_seconds),
            str(step))


def server_name(key: str) -> str:
    return NAME_PREFIX + key[:24]


def server_request(request: ContainerRequest, key: str, layout: CacheLayout,
                   idle_seconds: int, per_command: Collection[str]) -> ContainerRequest:
    """The long-lived container: the command's mounts, user, network and working directory;
    its environment without the per-command values (each exec brings its own) and without
    any secret (those only ever travel over an exec's stdin); no owner pid (it outlives the
    command that started it); labelled with its key."""
    labels = {k: v for k, v in request.labels.items()
              if k not in (f"{LABEL}.host", f"{LABEL}.pid")}
    return dataclasses.replace(
        request,
        command=idle_loop(heartbeat_file(layout, key), idle_seconds),
        env={k: v for k, v in request.env.items() if k not in per_command},
        labels={**labels, SERVER_LABEL: key, ROOT_LABEL: str(layout.root),
                f"{LABEL}.idle_seconds": str(idle_seconds)},
        stdin_env={},
    )


def reusable(heartbeat_age: float | None, idle_seconds: int) -> bool:
    """A running server whose heartbeat is this old (seconds; None: no heartbeat) is safe
    to exec into: far enough from its idle timeout that its loop cannot be deciding to exit
    while the command starts."""
    if heartbeat_age is None:
        return False
    margin = min(10, idle_seconds // 2)
    return heartbeat_age < idle_seconds - margin
