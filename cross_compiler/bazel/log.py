"""What a failed Bazel command said, read from its Build Event Protocol stream. Pure.

Bazel's own output scrolls past (Debian's Bazel 4.2.3 alone prints thousands of sandbox
lines); the tool ends a failure with its ERROR lines and, when Bazel could not download
something (offline, air-gapped), the repository and the setting that fixes it.
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
    """Bazel's ERROR lines, first ones first, each once, at most MAX_ERROR_LINES."""
    seen: dict[str, None] = {}
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("ERROR:") and line not in seen:
            seen[line] = None
    return list(seen)[:MAX_ERROR_LINES]


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
