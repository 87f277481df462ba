"""The only subprocess wrapper: run a program, capture or stream its output."""

from __future__ import annotations

import logging
import shlex
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from cross_compiler.errors import ToolMissingError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Result:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


# How long a child (Bazel) gets to stop cleanly after Ctrl-C before it is killed.
INTERRUPT_GRACE_SECONDS = 60


def _stream(argv: Sequence[str], cwd: Path | None, env: Mapping[str, str] | None) -> int:
    """Run with output to our stderr. On Ctrl-C the child (in our process group, so it
    got the SIGINT too) is given time to stop cleanly, then the interrupt propagates."""
    child = subprocess.Popen(list(argv), cwd=cwd, env=None if env is None else dict(env),
                             stdout=sys.stderr, stderr=sys.stderr)
    try:
        return child.wait()
    except KeyboardInterrupt:
        try:
            child.wait(timeout=INTERRUPT_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        raise


def run(
    argv: Sequence[str],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    stream: bool = False,
    stdin: str | None = None,
    missing_hint: str = "",
) -> Result:
    """Run ``argv``; with ``stream`` its output goes straight to our stderr (live progress).

    Never raises on a non-zero exit (callers decide); raises ToolMissingError when the
    program does not exist.
    """
    log.debug("run: %s", shlex.join(argv))
    try:
        if stream:
            return Result(tuple(argv), _stream(argv, cwd, env), "", "")
        completed = subprocess.run(
            list(argv), cwd=cwd, env=None if env is None else dict(env),
            capture_output=True, text=True, check=False, input=stdin,
        )
    except FileNotFoundError as e:
        raise ToolMissingError(f"program not found: {argv[0]}", missing_hint) from e
    return Result(tuple(argv), completed.returncode, completed.stdout, completed.stderr)
