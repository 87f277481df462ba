"""Inside a container build: the link to the host over the container's stdin.

The host writes one JSON line, ``{"env": {...}}``: values it never puts on a command line nor
in the container's environment (the remote header, a remote cache URL with a password).
Then it keeps stdin open and writes nothing more, so EOF means the host is gone, even
SIGKILLed: the build then stops as on SIGTERM, and the container exits instead of building on.
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


def encode(env: Mapping[str, str]) -> bytes:
    return json.dumps({"env": dict(env)}).encode() + b"\n"


def decode(line: bytes) -> dict[str, str]:
    """The host's values; a partial line means the host died before sending it."""
    if not line.endswith(b"\n"):
        raise Terminated()
    data = json.loads(line)
    env = data.get("env", {}) if isinstance(data, dict) else {}
    return {str(k): str(v) for k, v in env.items()}


def _watch(fd: int) -> None:
    # The raw descriptor: a thread blocked in a buffered read holds its lock, and the
    # interpreter cannot exit while it does. The host sends nothing after its line.
    while os.read(fd, 4096):
        pass
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
        _received = decode(stream.readline(_MAX_LINE))
        watchdog = threading.Thread(target=_watch, args=(stream.fileno(),), name="host-link",
                                    daemon=True)
        watchdog.start()
    return {**env, **_received}
