"""What a failed Bazel command said, read from its Build Event Protocol stream. Pure.

Bazel's own output scrolls past (Debian's Bazel 4.2.3 alone prints thousands of sandbox
lines); the tool ends a failure with its ERROR lines, each with the Starlark traceback that
names the cause (a repository rule's ``fail()``, its file and line), and, when Bazel could
not download something (offline, air-gapped), the repository and the setting that fixes it.
"""

from __future__ import annotations

import json
import re

MAX_ERROR_LINES = 20
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_FETCH = (
    re.compile(r"error occurred during the fetch of repository '@*([^']+)'"),
    re.compile(r"no such package '@+([^/']+)//"),
    re.compile(r"Failed to fetch registry file \S*/modules/([^/]+)/"),
    re.compile(r"Repository '?@*([A-Za-z0-9_.~+-]+)'? .*(?:Unknown host|download)"),
)
# Where error_lines is: outside a failure, right after an ERROR line, in a traceback's
# frames, after a frame (its source line may follow), in the error message that ends it.
_OUTSIDE, _AFTER_ERROR, _FRAMES, _CODE, _MESSAGE = range(5)
_TRACEBACK = "Traceback (most recent call last):"
_FRAME = re.compile(r'File "[^"]*", line \d+')
_MESSAGE_LINES = 5  # of a fail() message after its first line
_FRAMES_KEPT = 3  # of a traceback, the innermost
_STARLARK_ERROR = re.compile(r"Error(?: in [\w.]+)?: ")
# Lines of Bazel's own, never part of a fail() message.
_BAZEL_LINE = re.compile(r"(?:INFO|WARNING|DEBUG|FAILED|Loading|Analyzing|Computing|Target "
                         r"|Starting|Use --|\[\d)")
_OFFLINE = ("Unknown host", "Error downloading", "Error accessing registry",
            "java.net.UnknownHostException", "Network is unreachable")


def progress_text(bep_json_lines: str) -> str:
    """The stderr and stdout Bazel printed, as recorded in its event stream."""
    chunks: list[str] = []
    for line in bep_json_lines.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        progress = event.get("progress") if isinstance(event, dict) else None
        if isinstance(progress, dict):
            chunks += [str(progress.get(k, "")) for k in ("stderr", "stdout")]
    return _ANSI.sub("", "".join(chunks))


def error_lines(text: str) -> list[str]:
    """Bazel's ERROR lines, each with the Starlark traceback after it (``Traceback``, its
    ``File "…", line N`` frames and their code, ``Error in fail: …``), first ones first,
    each ERROR line and each traceback once, at most MAX_ERROR_LINES lines."""
    kept: list[str] = []
    errors: set[str] = set()
    traces: set[tuple[str, ...]] = set()
    trace: list[str] = []  # the traceback being read, after an ERROR line
    state, message_lines = _OUTSIDE, 0

    def close() -> None:
        body = tuple(line for line in trace if line.strip() != _TRACEBACK)
        if body and body not in traces:  # Bazel 4 prints a failed fetch's traceback twice
            traces.add(body)
            kept.extend(_innermost_frames(trace))
        trace.clear()

    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("ERROR:"):
            close()
            if line not in errors:
                errors.add(line)
                kept.append(line)
            state = _FRAMES if line.endswith(_TRACEBACK) else _AFTER_ERROR
        elif state == _AFTER_ERROR and line == _TRACEBACK:
            trace.append(f"  {line}")
            state = _FRAMES
        elif state in (_FRAMES, _CODE) and _FRAME.match(line):
            trace.append(f"    {line}")
            state = _CODE
        elif state == _CODE and line and raw.startswith(("\t\t", "      ")):
            trace.append(f"      {line}")  # the frame's source line
            state = _FRAMES
        elif state in (_AFTER_ERROR, _FRAMES, _CODE) and _STARLARK_ERROR.match(line):
            trace.append(f"  {line}")
            state, message_lines = _MESSAGE, 0
        elif (state == _MESSAGE and line and not _BAZEL_LINE.match(line)
              and message_lines < _MESSAGE_LINES):
            trace.append(f"  {line}")  # a fail() message of several lines
            message_lines += 1
        else:
            close()
            state = _OUTSIDE
    close()
    return kept[:MAX_ERROR_LINES]


def _innermost_frames(trace: list[str]) -> list[str]:
    """A traceback with only its last _FRAMES_KEPT frames: the innermost name the cause."""
    starts = [i for i, line in enumerate(trace) if line.startswith("    File ")]
    if len(starts) <= _FRAMES_KEPT:
        return trace
    first, cut = starts[0], starts[-_FRAMES_KEPT]
    return [*trace[:first], f"    … {len(starts) - _FRAMES_KEPT} outer frames", *trace[cut:]]


def fetch_failure(text: str) -> str:
    """The repository or module Bazel could not download, or "" if that was not the error."""
    if not any(marker in text for marker in _OFFLINE):
        return ""
    for pattern in _FETCH:
        match = pattern.search(text)
        if match:
            return match[1].removesuffix("+")
    return ""


def failure_hint(text: str, log_file: str) -> str:
    name = fetch_failure(text)
    where = f"full log: {log_file}"
    if name:
        return (f"Bazel could not download {name!r} (no network?): give it a local copy with "
                f'repository_overrides = ["{name}=/path/to/{name}"] (module_overrides for a '
                f"bzlmod module, distdirs for archives) in cross_compiler.toml; {where}")
    return f"see the ERROR lines above; {where}"
