"""A Bazel command's secret options in a private bazelrc that exists only while it runs."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cross_compiler.bazel.flags import BazelCommand, secret_bazelrc, server_log_properties

# A tmpfs (never written to a disk) when there is one; in a container its own /dev/shm,
# never the bind-mounted workspace or cache.
_TMPFS = Path("/dev/shm")


def _private_dir() -> str | None:
    return str(_TMPFS) if _TMPFS.is_dir() and os.access(_TMPFS, os.W_OK | os.X_OK) else None


def _write_if_changed(path: Path, text: str) -> None:
    if path.is_file() and path.read_text() == text:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


@contextmanager
def argv(command: BazelCommand) -> Iterator[list[str]]:
    """The command's argv; with secret flags, they are in a 0600 file in a fresh 0700
    directory, deleted when the block ends (however it ends)."""
    if not command.secret_flags:
        yield command.argv()
        return
    assert command.server_log is not None
    _write_if_changed(command.server_log / "javalog.properties",
                      server_log_properties(command.server_log))
    with tempfile.TemporaryDirectory(prefix="cross_compiler-secret-", dir=_private_dir()) as tmp:
        rc = Path(tmp) / "secret.bazelrc"
        fd = os.open(rc, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secret_bazelrc(command.secret_flags))
        yield command.argv(rc)
