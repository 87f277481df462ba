"""The only subprocess wrapper: run a program, capture or stream its output."""

from __future__ import annotations

import logging
import os
import shlex
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from cross_compiler.errors import ToolMissingError
from cross_compiler.redact import mask_argv

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Result:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


# How long a child (Bazel) gets to stop cleanly after Ctrl-C or SIGTERM before it is killed.
INTERRUPT_GRACE_SECONDS = 60


def _signal_group(child: subprocess.Popen[bytes], signum: int) -> None:
    try:
        os.killpg(child.pid, signum)
    except ProcessLookupError:
        pass  # the whole group has exited already


def stop(child: subprocess.Popen[bytes], grace: float = INTERRUPT_GRACE_SECONDS) -> None:
    """Interrupt the child's process group (SIGINT: Bazel's clean stop), wait up to
    ``grace`` seconds, then kill the group; a second interrupt kills it at once."""
    _signal_group(child, signal.SIGINT)
    try:
        child.wait(timeout=grace)
    except (subprocess.TimeoutExpired, KeyboardInterrupt):
        _signal_group(child, signal.SIGKILL)
        child.wait()


def _stream(argv: Sequence[str], cwd: Path | None, env: Mapping[str, str] | None,
            to_stdout: bool = False) -> int:
    """Run with output to our stderr, in a process group of its own.

    Its own group, so that an interrupt reaches it once and from us, however we got it: a
    terminal's Ctrl-C, a SIGINT or SIGTERM sent to this process alone (docker kill, CI
    cancellation) or the host going away (container builds). Without that a SIGTERM left
    Bazel's client running as an orphan, and inside a container Bazel never heard of it.
    """
    child = subprocess.Popen(list(argv), cwd=cwd, env=None if env is None else dict(env),
                             stdout=sys.stdout if to_stdout else sys.stderr, stderr=sys.stderr,
                             process_group=0)
    try:
        return child.wait()
    except KeyboardInterrupt:  # Ctrl-C, or SIGTERM (errors.Terminated)
        stop(child)
        raise


def run(
    argv: Sequence[str],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    stream: bool = False,
    stdin: str | None = None,
    missing_hint: str = "",
    to_stdout: bool = False,
    timeout: float | None = None,
) -> Result:
    """Run ``argv``; with ``stream`` its output goes straight to our stderr (live progress),
    or with ``to_stdout`` too, its stdout to ours (a program the user runs).

    Never raises on a non-zero exit (callers decide); raises ToolMissingError when the
    program does not exist. A captured run past ``timeout`` seconds is killed and reported
    as exit code 124 (as coreutils' timeout does).
    """
    log.debug("run: %s", shlex.join(mask_argv(argv)))
    try:
        if stream:
            sys.stdout.flush()
            return Result(tuple(argv), _stream(argv, cwd, env, to_stdout), "", "")
        completed = subprocess.run(
            list(argv), cwd=cwd, env=None if env is None else dict(env),
            capture_output=True, text=True, check=False, input=stdin, timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return Result(tuple(argv), 124, "", f"{argv[0]} ran longer than {timeout} s")
    except FileNotFoundError as e:
        raise ToolMissingError(f"program not found: {argv[0]}", missing_hint) from e
    except PermissionError as e:  # a directory, or a file without the exec bit
        raise ToolMissingError(f"cannot run {argv[0]}: {e.strerror}",
                               missing_hint or "point the setting at an executable program") from e
    return Result(tuple(argv), completed.returncode, completed.stdout, completed.stderr)
