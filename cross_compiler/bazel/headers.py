"""Header provenance proof: every header a target compile read is the target's.

Layers, each able to fail a header on its own: the header's *real* path (symlinks resolved)
must lie in an allowed root (the target toolchain's dirs and sysroot, the target Python, the
workspace, Bazel's repositories and target-configuration outputs, directories the user or the
tool declared) and in no forbidden one (the build machine's Python, compiler and multiarch
dirs, other architectures'); a repository whose files resolve elsewhere is foreign; a header
unpacked from a wheel for another architecture is foreign; a configuration header whose ABI
macros contradict the target fails wherever it came from (headercontent.py).

The caller reads the ``.d`` files (listed by ``bazel aquery``) and passes their text, and
passes ``os.path.realpath`` as the resolver so symlinked roots and repositories resolve.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import PurePath
from typing import Literal

from cross_compiler.bazel.depfiles import (  # re-exported: the proof's one import
    MAX_DEP_FILE_BYTES,
    DepFileError,
    is_tool_config,
    parse_aquery_dep_files,
    parse_dep_file,
    rules_of,
)
from cross_compiler.bazel.headercontent import ContentJudge, foreign_tags
from cross_compiler.errors import ArchMismatchError

__all__ = ["MAX_DEP_FILE_BYTES", "AllowedRoots", "DepFileError", "ForbiddenRoots",
           "HeaderProvenanceError", "Resolver", "Violation", "check_dep_files",
           "parse_aquery_dep_files", "parse_dep_file", "prove_header_provenance"]

Resolver = Callable[[str], str]
ViolationKind = Literal["host-python", "host-compiler", "host-multiarch", "other-arch", "outside",
                        "foreign-repository", "foreign-wheel", "abi-mismatch", "host-output"]

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
    "foreign-repository": (
        "its files resolve into {dir}, a directory of the build machine outside the target's "
        "roots (a repository rule symlinked or new_local_repository'd a host install)",
        "point the repository at the target's files (the tool's PYTHON_BIN_PATH and "
        "python3 report the target Python; target wheels for PyPI packages); if {dir} holds "
        "only arch-neutral source, list it in header_roots (cross_compiler.toml or "
        "CROSS_COMPILER_HEADER_ROOTS)",
    ),
    "foreign-wheel": (
        "it was unpacked from a wheel for another architecture ({dir})",
        "give the repository the target's wheel (pip_parse/pip.parse resolve target wheels "
        "through the tool's python3; offline: a wheelhouse holding them)",
    ),
    "abi-mismatch": (
        "{dir}",
        "this header was made for another architecture: take it from the target's Python, "
        "numpy or sysroot (the tool's PYTHON_BIN_PATH reports them), not the build machine's",
    ),
    "host-output": (
        "it is an output of the exec (build machine) configuration {dir}",
        "depend on the library in the target configuration (not through tools/exec_tools "
        "or cfg = \"exec\")",
    ),
}
_PRIORITY: tuple[ViolationKind, ...] = (
    "abi-mismatch", "foreign-wheel", "host-python", "foreign-repository", "host-compiler",
    "host-multiarch", "other-arch", "host-output", "outside")
_PYTHON_DIR = re.compile(
    r"^/usr(?:/local)?/include/(?:([a-z0-9_]+-linux-[a-z0-9_]+)/)?python\d[^/]*")
_TRIPLE_DIR = re.compile(
    r"^/usr/(?:local/include/|include/|lib/gcc-cross/|lib/gcc/|lib/)?"
    r"([a-z0-9_]+-linux-[a-z0-9_]+)(?=/|$)"
)


@dataclass(frozen=True)
class Violation:
    """A header outside every allowed root, or inside a forbidden one."""

    header: str  # as the .d file wrote it
    resolved: str  # the absolute path that decided
    dep_file: str  # exec-root-relative .d path
    output: str  # the compile action's object file (the .d file's first target)
    kind: ViolationKind
    cause: str
    repository: str = ""  # "@name", "the workspace", or "" when neither

    @property
    def hint(self) -> str:
        return _CAUSES[self.kind][1]


class HeaderProvenanceError(ArchMismatchError):
    """A target compile read a header from the build machine or another architecture."""

    def __init__(self, violations: list[Violation]) -> None:
        # The line names the strongest evidence: contradicting ABI macros, a foreign wheel,
        # a host Python, ... (stable: the first .d file's order among equals).
        first = min(violations, key=lambda v: _PRIORITY.index(v.kind))
        more = f" (+{len(violations) - 1} more)" if len(violations) > 1 else ""
        shown = first.header if first.header == first.resolved else (
            f"{first.header} (= {first.resolved})")
        origin = f" from {first.repository}" if first.repository else ""
        super().__init__(f"{first.output} includes {shown}{origin}: {first.cause}{more}",
                         first.hint)
        self.violations = violations


@dataclass(frozen=True)
class AllowedRoots:
    """Where target headers may come from (the exec root is passed to check_dep_files)."""

    include_dirs: tuple[str, ...]  # the cross compiler's discovered dirs; may hold %sysroot%
    sysroot: str  # "" if none
    python_include: str  # workspace-relative, e.g. cross_compiler/python/aarch64/include
    workspace: str  # absolute
    output_base: str  # absolute; its external/ holds the fetched repositories
    # Directories named on purpose: --override_repository/--override_module paths (the
    # user's, Debian's packaged rules, the tool's own) and the header_roots setting.
    declared: tuple[str, ...] = ()

    def system_paths(self) -> list[str]:
        """The target toolchain's own dirs and sysroot: the compiler searched them, so a
        header found there is the target's even when a distribution's symlink sends it
        elsewhere (sid's /usr/<triple>/include/asm -> /usr/lib/linux/uapi/<arch>/asm)."""
        dirs = [self.sysroot] if self.sysroot else []
        for entry in self.include_dirs:
            if entry.startswith("%sysroot%"):
                if not self.sysroot:
                    continue
                entry = self.sysroot.rstrip("/") + entry[len("%sysroot%"):]
            dirs.append(entry)
        return [posixpath.normpath(d) for d in dirs]

    def paths(self, exec_root: str) -> list[str]:
        dirs = self.system_paths()
        dirs += [
            posixpath.join(self.workspace, self.python_include),
            posixpath.join(exec_root, self.python_include),
            self.workspace, exec_root, posixpath.join(self.output_base, "external"),
            # --experimental_sibling_repository_layout puts repositories at ../<repo>.
            posixpath.dirname(exec_root.rstrip("/")),
            # @bazel_tools and Bazel's other embedded repositories live in the install base,
            # <output_user_root>/install/<hash>, beside the output base.
            posixpath.join(posixpath.dirname(self.output_base.rstrip("/")), "install"),
            *self.declared,
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


def check_dep_files(
    dep_files: Mapping[str, str],
    roots: AllowedRoots,
    exec_root: PurePath,
    forbidden: ForbiddenRoots,
    resolve: Resolver = posixpath.normpath,
    max_bytes: int = MAX_DEP_FILE_BYTES,
    content: ContentJudge | None = None,
) -> list[Violation]:
    """Violations in ``{exec-root-relative .d path: text}``, one per distinct header.

    A header passes when its real path (``resolve`` is ``os.path.realpath`` in real use) lies
    under an allowed root and no form of it in a forbidden dir, it is no output of the exec
    configuration, and, with ``content``, the wheel it was unpacked from is for the target
    and its ABI macros agree with the target.
    """
    root = posixpath.normpath(str(exec_root))
    allowed = roots.paths(root)
    allowed = list(dict.fromkeys(allowed + [posixpath.normpath(resolve(a)) for a in allowed]))
    seen: set[str] = set()
    violations: list[Violation] = []
    for dep_file in sorted(dep_files):
        rules = rules_of(dep_files[dep_file], max_bytes)
        output = rules[0][0][0] if rules and rules[0][0] else dep_file
        for _targets, prereqs in rules:
            for header in prereqs:
                if header in seen:
                    continue
                seen.add(header)
                found = _judge_header(header, root, roots, allowed, forbidden, resolve, content)
                if found is not None:
                    kind, where, decided, repository = found
                    cause = _CAUSES[kind][0].format(dir=where)
                    violations.append(Violation(header, decided, dep_file, output, kind, cause,
                                                repository))
    return violations


def _repository(header: str, exec_root: str, roots: AllowedRoots) -> str:
    """``@name`` of the external repository a header path (as the .d file wrote it) names,
    "the workspace" for the workspace's own files, else ""."""
    path = header
    for base in (posixpath.join(exec_root, ""), posixpath.join(roots.output_base, ""),
                 posixpath.join(posixpath.normpath(roots.workspace), "")):
        if header.startswith(base):
            path = header[len(base):]
            break
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if path.startswith("/") or not parts:
        return ""
    if len(parts) > 2 and parts[0] in ("external", ".."):
        return f"@{parts[1]}"
    return "" if parts[0] in ("bazel-out", "external", "..") else "the workspace"


def _judge_header(
    header: str, root: str, roots: AllowedRoots, allowed: list[str], forbidden: ForbiddenRoots,
    resolve: Resolver, content: ContentJudge | None,
) -> tuple[ViolationKind, str, str, str] | None:
    """(kind, the dir or detail for the cause, the path that decided, repository) or None."""
    raw = posixpath.join(root, header)  # absolute headers stay as written
    real = posixpath.normpath(resolve(raw))
    lexical = posixpath.normpath(raw)
    repository = _repository(header, root, roots)
    for form in (lexical, real):
        hit = forbidden.match(form)
        if hit is not None:
            return hit[0], hit[1], form, repository
    parts = PurePath(posixpath.relpath(lexical, root)).parts if _under(lexical, root) else ()
    if len(parts) > 1 and parts[0] == "bazel-out" and is_tool_config(parts[1]):
        return "host-output", f"bazel-out/{parts[1]}", lexical, repository
    if content is not None:  # contradicting ABI macros: the strongest evidence, wherever
        contradiction = content.contradictions(real)
        if contradiction is not None:
            entry, found = contradiction
            detail = f"{entry.what} is not for {content.abi.cpu}: " + "; ".join(found)
            return "abi-mismatch", detail, real, repository
    home = max((a for a in allowed if _under(real, a)), key=len, default=None)
    if home is None and not repository:
        home = next((d for d in roots.system_paths() if _under(lexical, d)), None)
    if home is None:
        lexically_allowed = any(_under(lexical, a) for a in allowed)
        if lexically_allowed and repository and real != lexical:
            return "foreign-repository", posixpath.dirname(real), real, repository
        return "outside", "", real, repository
    if content is not None:
        origin = content.wheel_origin(real, home)
        if origin is not None and foreign_tags(origin.tags, content.abi.wheel_arch):
            tags = ", ".join(origin.tags) or "no tags"
            return ("foreign-wheel", f"{posixpath.basename(origin.dist_info)}: {tags}", real,
                    repository)
    return None


def prove_header_provenance(
    dep_files: Mapping[str, str],
    roots: AllowedRoots,
    exec_root: PurePath,
    forbidden: ForbiddenRoots,
    resolve: Resolver = posixpath.normpath,
    content: ContentJudge | None = None,
) -> None:
    """Raise HeaderProvenanceError if any target compile read a forbidden header."""
    violations = check_dep_files(dep_files, roots, exec_root, forbidden, resolve,
                                 content=content)
    if violations:
        raise HeaderProvenanceError(violations)
