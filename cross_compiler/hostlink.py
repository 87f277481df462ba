"""Inside a container build: the link to the host over the container's stdin.

The host writes one JSON line, ``{"env": {...}}``: values it never puts on a command line nor
in the container's environment (the remote header, a remote cache URL with a password).
Then it keeps stdin open, so EOF means the host is gone, even SIGKILLed: the build then
stops as on SIGTERM, and the container exits instead of building on. Later lines are
signals, ``{"signal": "SIGINT"}``: a command ``docker exec``'d in a warm server has no
``docker kill`` of its own, so the host's Ctrl-C reaches it this way.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
from collections.abc import Mapping
from typing import BinaryIO

from cross_compiler.errors import Terminated

log = logging.getLogger(__name__)

# Tells the tool inside that the host's secrets, then EOF when the host is gone, come on
# its stdin (the container request, docker/plan.py, sets it).
LINK_ENV = "CROSS_COMPILER_HOST_LINK"

_MAX_LINE = 1 << 20


# The only signals a host may send; anything else on the link is ignored.
SIGNALS = {"SIGINT": signal.SIGINT, "SIGTERM": signal.SIGTERM}


def encode(env: Mapping[str, str]) -> bytes:
    return json.dumps({"env": dict(env)}).encode() + b"\n"


def encode_signal(name: str) -> bytes:
    if name not in SIGNALS:
        raise ValueError(f"not a signal the link carries: {name}")
    return json.dumps({"signal": name}).encode() + b"\n"


def signal_of(line: bytes) -> signal.Signals | None:
    """The signal a later line of the link asks for (None for anything else)."""
    try:
        data = json.loads(line)
    except ValueError:
        return None
    name = data.get("signal") if isinstance(data, dict) else None
    return SIGNALS.get(name) if isinstance(name, str) else None


def decode(line: bytes) -> dict[str, str]:
    """The host's values; a partial line means the host died before sending it."""
    if not line.endswith(b"\n"):
        raise Terminated()
    data = json.loads(line)
    env = data.get("env", {}) if isinstance(data, dict) else {}
    return {str(k): str(v) for k, v in env.items()}


def _read_line(fd: int) -> tuple[bytes, bytes]:
    """The first line (with its newline, unless the stream ended first) and what came
    after it, read from the raw descriptor: a buffered reader would keep a signal line
    sent right behind it where the watchdog never sees it."""
    data = b""
    while b"\n" not in data and len(data) <= _MAX_LINE:
        chunk = os.read(fd, 65536)
        if not chunk:
            return data, b""
        data += chunk
    line, sep, rest = data.partition(b"\n")
    return line + sep, rest


def _watch(fd: int, pending: bytes = b"") -> None:
    # The raw descriptor: a thread blocked in a buffered read holds its lock, and the
    # interpreter cannot exit while it does.
    while True:
        *lines, pending = pending.split(b"\n")
        for line in lines:
            signum = signal_of(line)
            if signum is not None:
                log.warning("the host asks the build to stop (%s)", signum.name)
                os.kill(os.getpid(), signum)
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        pending = (pending + chunk)[-_MAX_LINE:]
    log.warning("the host went away: stopping the build")
    os.kill(os.getpid(), signal.SIGTERM)


_received: dict[str, str] | None = None


def attach(env: Mapping[str, str], stream: BinaryIO) -> dict[str, str]:
    """``env`` with the host's values added (never to os.environ: Bazel inherits that),
    and a watchdog that sends us SIGTERM when the host goes away. Without a link: ``env``."""
    global _received
    if env.get(LINK_ENV) != "stdin":
        return dict(env)
    if _received is None:  # once per process: the line is read only once
        line, rest = _read_line(stream.fileno())
        _received = decode(line)
        watchdog = threading.Thread(target=_watch, args=(stream.fileno(), rest),
                                    name="host-link", daemon=True)
        watchdog.start()
    return {**env, **_received}
