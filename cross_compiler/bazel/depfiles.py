"""Reading what Bazel's compile actions wrote: gcc/clang ``.d`` files, and the list of them in
``bazel aquery --output=jsonproto`` output. Pure and bounded: the caller reads the files."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from pathlib import PurePath
from typing import Any

from cross_compiler.errors import BuildError

# A .d file lists each header once; even huge translation units stay far below this.
MAX_DEP_FILE_BYTES = 16 * 1024 * 1024

_TOKEN = re.compile(r"(\\+)([ \t])|\\#|\$\$|[ \t]+|:(?=[ \t]|$)|#|[^\\$ \t:#]+|.")


class DepFileError(BuildError):
    """A .d file, or the aquery list of them, could not be read."""


def _logical_lines(text: str) -> Iterable[str]:
    parts: list[str] = []
    for line in text.replace("\r\n", "\n").split("\n"):
        tail = len(line) - len(line.rstrip("\\"))
        if tail % 2:  # an odd run of trailing backslashes continues the line
            parts.append(line[:-1])
            parts.append(" ")
            continue
        parts.append(line)
        yield "".join(parts)
        parts = []
    if parts:
        yield "".join(parts)


def _tokens(line: str) -> tuple[list[str], list[str]] | None:
    """(targets, prerequisites) of one logical line; None for blank or comment lines."""
    words: list[list[str]] = [[], []]
    word: list[str] = []
    side = 0
    for m in _TOKEN.finditer(line):
        tok = m.group(0)
        if m.group(1) is not None:  # make: 2N+1 backslashes + blank = N backslashes + blank
            n = len(m.group(1))
            word.append("\\" * (n // 2))
            if n % 2:
                word.append(m.group(2))
                continue
        elif tok == "\\#":
            word.append("#")
            continue
        elif tok == "$$":
            word.append("$")
            continue
        elif tok == "#":
            break
        elif not (tok.isspace() or (tok == ":" and side == 0)):
            word.append(tok)
            continue
        if word:
            words[side].append("".join(word))
            word = []
        if tok == ":":
            side = 1
    if word:
        words[side].append("".join(word))
    if not words[0] and not words[1]:
        return None
    if side == 0:
        raise DepFileError(
            f"not a make rule in a dependency file: {line.strip()[:120]!r}",
            "the file must be a .d file written by gcc/clang -MD/-MF",
        )
    return words[0], words[1]


def rules_of(text: str, max_bytes: int) -> list[tuple[list[str], list[str]]]:
    if len(text) > max_bytes or len(text.encode("utf-8", "surrogatepass")) > max_bytes:
        raise DepFileError(
            f"dependency file is larger than {max_bytes} bytes",
            "this is not a compiler's .d file; check the aquery output that named it",
        )
    return [rule for line in _logical_lines(text) if (rule := _tokens(line)) is not None]


def parse_dep_file(text: str, max_bytes: int = MAX_DEP_FILE_BYTES) -> list[str]:
    """Every prerequisite (source and headers) of a gcc/clang .d file, in order, once each."""
    deps: dict[str, None] = {}
    for _targets, prereqs in rules_of(text, max_bytes):
        deps.update(dict.fromkeys(prereqs))
    return list(deps)


def parse_aquery_dep_files(jsonproto_text: str, *, include_tool_configs: bool = False) -> list[str]:
    """Exec-root-relative .d outputs in ``bazel aquery --output=jsonproto`` output, sorted.

    Both artifact forms are read: ``pathFragmentId`` into ``pathFragments`` (Bazel 4 and
    later) and ``execPath`` (earlier). Exec-configuration actions (tools that run on the
    build machine, which rightly use its headers) are left out unless asked for.
    """
    try:
        graph = json.loads(jsonproto_text) if jsonproto_text.strip() else {}
        if not isinstance(graph, dict):
            raise TypeError(f"top level is {type(graph).__name__}, not an object")
        fragments = {int(f["id"]): f for f in graph.get("pathFragments", [])}
        paths = {int(a["id"]): _artifact_path(a, fragments) for a in graph.get("artifacts", [])}
        tool_configs = {int(c["id"]) for c in graph.get("configuration", [])
                        if c.get("isTool") or is_tool_config(str(c.get("mnemonic", "")))}
        found: set[str] = set()
        for action in graph.get("actions", []):
            if not include_tool_configs and int(action.get("configurationId", 0)) in tool_configs:
                continue
            for out in action.get("outputIds", []):
                path = paths[int(out)]
                parts = PurePath(path).parts
                exec_cfg = len(parts) > 1 and parts[0] == "bazel-out" and is_tool_config(parts[1])
                if path.endswith(".d") and (include_tool_configs or not exec_cfg):
                    found.add(path)
    except (ValueError, TypeError, KeyError, AttributeError) as e:
        raise DepFileError(
            f"cannot read bazel aquery --output=jsonproto output: {e}",
            "run the aquery by hand and check that it prints an action graph",
        ) from e
    return sorted(found)


def is_tool_config(mnemonic: str) -> bool:
    return mnemonic == "host" or "-exec-" in mnemonic or mnemonic.endswith("-exec")


def _artifact_path(artifact: Mapping[str, Any], fragments: Mapping[int, Any]) -> str:
    if "execPath" in artifact:
        return str(artifact["execPath"])
    labels: list[str] = []
    fid = int(artifact["pathFragmentId"])
    while fid:
        if len(labels) > len(fragments):
            raise ValueError(f"path fragment {fid} has a parent cycle")
        labels.append(str(fragments[fid]["label"]))
        fid = int(fragments[fid].get("parentId", 0))
    return "/".join(reversed(labels))
