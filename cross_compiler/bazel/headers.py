"""Header provenance proof: every header a target compile read lies in an allowed root.

Pure: the caller reads the ``.d`` files (listed by ``bazel aquery``) and passes their text,
and passes ``os.path.realpath`` as the resolver so symlinked roots and repositories resolve.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any, Literal

from cross_compiler.errors import ArchMismatchError, BuildError

# A .d file lists each header once; even huge translation units stay far below this.
MAX_DEP_FILE_BYTES = 16 * 1024 * 1024

Resolver = Callable[[str], str]
ViolationKind = Literal["host-python", "host-compiler", "host-multiarch", "other-arch", "outside"]

# (cause, hint) per kind; "{dir}" is the forbidden directory that matched.
_CAUSES: dict[ViolationKind, tuple[str, str]] = {
    "host-python": (
        "a repository rule found the build machine's python3 (PYTHON_BIN_PATH / "
        "which('python3')) and its include dir {dir}",
        "the tool points PYTHON_BIN_PATH and PATH at the target's Python; make the rule use "
        "them instead of a fixed interpreter path",
    ),
    "host-compiler": (
        "the build machine's own compiler headers {dir} were used",
        "build with the target platform (--platforms) so the cross toolchain compiles",
    ),
    "host-multiarch": (
        "the compiler searched the build machine's {dir}",
        "remove -I/-isystem flags naming host include dirs from copts, or set a sysroot",
    ),
    "other-arch": (
        "a header for another architecture came from {dir}",
        "remove -I/-isystem flags naming other architectures' include dirs from copts",
    ),
    "outside": (
        "the header is outside the target toolchain's include dirs, the sysroot, the "
        "workspace and the external repositories",
        "point copts/includes at the workspace, an external repository, or the sysroot",
    ),
}
_PYTHON_DIR = re.compile(
    r"^/usr(?:/local)?/include/(?:([a-z0-9_]+-linux-[a-z0-9_]+)/)?python\d[^/]*")
_TRIPLE_DIR = re.compile(
    r"^/usr/(?:local/include/|include/|lib/gcc-cross/|lib/gcc/|lib/)?"
    r"([a-z0-9_]+-linux-[a-z0-9_]+)(?=/|$)"
)
_TOKEN = re.compile(r"(\\+)([ \t])|\\#|\$\$|[ \t]+|:(?=[ \t]|$)|#|[^\\$ \t:#]+|.")


class DepFileError(BuildError):
    """A .d file, or the aquery list of them, could not be read."""


@dataclass(frozen=True)
class Violation:
    """A header outside every allowed root, or inside a forbidden one."""

    header: str  # as the .d file wrote it
    resolved: str  # the absolute path that decided
    dep_file: str  # exec-root-relative .d path
    output: str  # the compile action's object file (the .d file's first target)
    kind: ViolationKind
    cause: str

    @property
    def hint(self) -> str:
        return _CAUSES[self.kind][1]


class HeaderProvenanceError(ArchMismatchError):
    """A target compile read a header from the build machine or another architecture."""

    def __init__(self, violations: list[Violation]) -> None:
        first = violations[0]
        more = f" (+{len(violations) - 1} more)" if len(violations) > 1 else ""
        shown = first.header if first.header == first.resolved else (
            f"{first.header} (= {first.resolved})")
        super().__init__(f"{first.output} includes {shown}: {first.cause}{more}", first.hint)
        self.violations = violations


@dataclass(frozen=True)
class AllowedRoots:
    """Where target headers may come from (the exec root is passed to check_dep_files)."""

    include_dirs: tuple[str, ...]  # the cross compiler's discovered dirs; may hold %sysroot%
    sysroot: str  # "" if none
    python_include: str  # workspace-relative, e.g. cross_compiler/python/aarch64/include
    workspace: str  # absolute
    output_base: str  # absolute; its external/ holds the fetched repositories

    def paths(self, exec_root: str) -> list[str]:
        dirs = [self.sysroot] if self.sysroot else []
        for entry in self.include_dirs:
            if entry.startswith("%sysroot%"):
                if not self.sysroot:
                    continue
                entry = self.sysroot.rstrip("/") + entry[len("%sysroot%"):]
            dirs.append(entry)
        dirs += [
            posixpath.join(self.workspace, self.python_include),
            posixpath.join(exec_root, self.python_include),
            self.workspace, exec_root, posixpath.join(self.output_base, "external"),
            # --experimental_sibling_repository_layout puts repositories at ../<repo>.
            posixpath.dirname(exec_root.rstrip("/")),
        ]
        return [posixpath.normpath(d) for d in dirs]


@dataclass(frozen=True)
class ForbiddenRoots:
    """The build machine's headers: never right for a target compile."""

    target_triple: str  # aarch64-linux-gnu
    host_triple: str  # x86_64-linux-gnu
    # The host interpreters' include dirs beyond /usr{,/local}/include/python3*: a venv's
    # include, sysconfig's include/platinclude of the python3 that repository rules may run.
    python_includes: tuple[str, ...] = ()

    def match(self, path: str) -> tuple[ViolationKind, str] | None:
        """The kind of forbidden dir ``path`` (absolute, normalized) lies in, and that dir."""
        for root in self.python_includes:
            if _under(path, posixpath.normpath(root)):
                return "host-python", root
        m = _PYTHON_DIR.match(path)
        if m and m.group(1) != self.target_triple:
            return "host-python", m.group(0)
        m = _TRIPLE_DIR.match(path)
        if m and m.group(1) != self.target_triple:
            if m.group(1) != self.host_triple:
                return "other-arch", m.group(0)
            return ("host-compiler" if "/lib/gcc" in m.group(0) else "host-multiarch"), m.group(0)
        return None


def _under(path: str, root: str) -> bool:
    return root == "/" or path == root or path.startswith(root + "/")


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


def _rules(text: str, max_bytes: int) -> list[tuple[list[str], list[str]]]:
    if len(text) > max_bytes or len(text.encode("utf-8", "surrogatepass")) > max_bytes:
        raise DepFileError(
            f"dependency file is larger than {max_bytes} bytes",
            "this is not a compiler's .d file; check the aquery output that named it",
        )
    return [rule for line in _logical_lines(text) if (rule := _tokens(line)) is not None]


def parse_dep_file(text: str, max_bytes: int = MAX_DEP_FILE_BYTES) -> list[str]:
    """Every prerequisite (source and headers) of a gcc/clang .d file, in order, once each."""
    deps: dict[str, None] = {}
    for _targets, prereqs in _rules(text, max_bytes):
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
                        if c.get("isTool") or _is_tool_config(str(c.get("mnemonic", "")))}
        found: set[str] = set()
        for action in graph.get("actions", []):
            if not include_tool_configs and int(action.get("configurationId", 0)) in tool_configs:
                continue
            for out in action.get("outputIds", []):
                path = paths[int(out)]
                parts = PurePath(path).parts
                exec_cfg = len(parts) > 1 and parts[0] == "bazel-out" and _is_tool_config(parts[1])
                if path.endswith(".d") and (include_tool_configs or not exec_cfg):
                    found.add(path)
    except (ValueError, TypeError, KeyError, AttributeError) as e:
        raise DepFileError(
            f"cannot read bazel aquery --output=jsonproto output: {e}",
            "run the aquery by hand and check that it prints an action graph",
        ) from e
    return sorted(found)


def _is_tool_config(mnemonic: str) -> bool:
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


def check_dep_files(
    dep_files: Mapping[str, str],
    roots: AllowedRoots,
    exec_root: PurePath,
    forbidden: ForbiddenRoots,
    resolve: Resolver = posixpath.normpath,
    max_bytes: int = MAX_DEP_FILE_BYTES,
) -> list[Violation]:
    """Violations in ``{exec-root-relative .d path: text}``, one per distinct header.

    A header passes when its resolved form (or its lexical form, if that names the same file)
    lies under an allowed root, taken lexically or resolved, and neither lies in a forbidden
    dir. ``resolve`` is ``os.path.realpath`` in real use.
    """
    root = posixpath.normpath(str(exec_root))
    allowed = roots.paths(root)
    allowed = list(dict.fromkeys(allowed + [posixpath.normpath(resolve(a)) for a in allowed]))
    seen: set[str] = set()
    violations: list[Violation] = []
    for dep_file in sorted(dep_files):
        rules = _rules(dep_files[dep_file], max_bytes)
        output = rules[0][0][0] if rules and rules[0][0] else dep_file
        for _targets, prereqs in rules:
            for header in prereqs:
                if header in seen:
                    continue
                seen.add(header)
                raw = posixpath.join(root, header)  # absolute headers stay as written
                real = posixpath.normpath(resolve(raw))
                lexical = posixpath.normpath(raw)
                # The lexical form only counts if its ".." did not climb out of a symlink.
                forms = [real] if posixpath.normpath(resolve(lexical)) != real else [
                    lexical, real]
                found = _judge(forms, allowed, forbidden)
                if found is not None:
                    kind, where, decided = found
                    cause = _CAUSES[kind][0].format(dir=where)
                    violations.append(Violation(header, decided, dep_file, output, kind, cause))
    return violations


def _judge(forms: list[str], allowed: list[str],
           forbidden: ForbiddenRoots) -> tuple[ViolationKind, str, str] | None:
    for form in forms:
        hit = forbidden.match(form)
        if hit is not None:
            return hit[0], hit[1], form
    if any(_under(form, a) for form in forms for a in allowed):
        return None
    return "outside", "", forms[-1]


def prove_header_provenance(
    dep_files: Mapping[str, str],
    roots: AllowedRoots,
    exec_root: PurePath,
    forbidden: ForbiddenRoots,
    resolve: Resolver = posixpath.normpath,
) -> None:
    """Raise HeaderProvenanceError if any target compile read a forbidden header."""
    violations = check_dep_files(dep_files, roots, exec_root, forbidden, resolve)
    if violations:
        raise HeaderProvenanceError(violations)
