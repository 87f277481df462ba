"""Pins win, where offline Bazel can honour them: the repositories a WORKSPACE declares
itself, read with Python's parser (Starlark's WORKSPACE syntax is Python's for calls,
strings and lists), and whether offline Bazel can fetch each one: a local repository
always, an archive when its file is in a distdir or its sha256 in the repository cache,
a git repository never. A declared repository offline Bazel cannot fetch gets the packaged
stand-in instead, and the build says so in one line naming what to add. Pure but for
``stat`` of the few candidate paths."""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

MAX_WORKSPACE_BYTES = 4 << 20  # a WORKSPACE file larger than this is not read as one
LOCAL_RULES = frozenset({"local_repository", "new_local_repository"})
GIT_RULES = frozenset({"git_repository", "new_git_repository"})
_SHA256 = re.compile(r"[0-9a-f]{64}")
_DECLARED_NAME = re.compile(r"""\bname\s*=\s*["']([A-Za-z0-9_.~+-]+)["']""")


def declared_repositories(workspace_text: str) -> set[str]:
    """Repository names a WORKSPACE file declares itself: every ``name = "…"`` of a call in
    it (http_archive, git_repository, local_repository, a macro given a name), comments
    ignored. Repositories its macros declare are not seen (they are the macros' choice)."""
    text = "\n".join(line.split("#", 1)[0] for line in workspace_text.splitlines())
    return set(_DECLARED_NAME.findall(text))


@dataclass(frozen=True)
class Declaration:
    name: str
    rule: str  # the rule or macro called ("" when the file could not be parsed)
    urls: tuple[str, ...] = ()
    sha256: str = ""


def _callee(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    return node.attr if isinstance(node, ast.Attribute) else ""


def _strings(node: ast.expr | None) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.List | ast.Tuple):
        return [e.value for e in node.elts
                if isinstance(e, ast.Constant) and isinstance(e.value, str)]
    return []


def parse_declarations(text: str) -> dict[str, Declaration]:
    """Each ``name = "…"`` call of a WORKSPACE text, with its rule (``maybe(http_archive,
    …)`` counts as http_archive), urls and sha256. Text Python cannot parse falls back to
    the names alone (their rules unknown)."""
    try:
        tree = ast.parse(text[:MAX_WORKSPACE_BYTES])
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return {n: Declaration(n, "") for n in declared_repositories(text)}
    found: dict[str, Declaration] = {}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        keywords = {k.arg: k.value for k in node.keywords if k.arg}
        names = _strings(keywords.get("name"))
        if len(names) != 1:
            continue
        rule = _callee(node.func)
        if rule == "maybe" and node.args:
            rule = _callee(node.args[0])
        urls = (*_strings(keywords.get("urls")), *_strings(keywords.get("url")))
        sha256 = "".join(_strings(keywords.get("sha256")))
        found.setdefault(names[0], Declaration(names[0], rule, urls, sha256))
    return found


def workspace_file(root: Path, bzlmod: bool) -> Path | None:
    """The WORKSPACE file Bazel reads: WORKSPACE.bazel, else WORKSPACE; under bzlmod,
    WORKSPACE.bzlmod instead when there is one."""
    order = ("WORKSPACE.bzlmod", "WORKSPACE.bazel", "WORKSPACE") if bzlmod else (
        "WORKSPACE.bazel", "WORKSPACE")
    return next((root / n for n in order if (root / n).is_file()), None)


def declarations(root: Path, bzlmod: bool) -> dict[str, Declaration]:
    path = workspace_file(root, bzlmod)
    if path is None:
        return {}
    with path.open("rb") as f:
        return parse_declarations(f.read(MAX_WORKSPACE_BYTES).decode("utf-8", "replace"))


def repository_cache(flags: Sequence[str], startup: Sequence[str],
                     env: Mapping[str, str]) -> Path | None:
    """Where Bazel's repository cache is: the last --repository_cache, else the default
    under the output user root (--output_user_root, else ~/.cache/bazel/_bazel_$USER)."""
    given = [f.partition("=")[2] for f in flags if f.startswith("--repository_cache=")]
    if given:
        return Path(given[-1]) if given[-1] else None
    roots = [f.partition("=")[2] for f in startup if f.startswith("--output_user_root=")]
    if roots:
        return Path(roots[-1]) / "cache" / "repos" / "v1"
    home, user = env.get("HOME"), env.get("USER") or env.get("LOGNAME")
    if not home or not user:
        return None
    return Path(home) / ".cache" / "bazel" / f"_bazel_{user}" / "cache" / "repos" / "v1"


def _file_name(url: str) -> str:
    name = url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    return "" if name in ("", ".", "..") else name


def offline_source(declaration: Declaration, distdirs: Sequence[Path],
                   cache: Path | None) -> str | None:
    """Where offline Bazel finds the declared repository, or None when it cannot."""
    rule = declaration.rule
    if rule in LOCAL_RULES:
        return "a local repository"
    if rule in GIT_RULES:
        return None
    if not declaration.urls:
        return f"its own {rule or 'rule'}"  # a macro or custom rule: its choice, not ours
    if cache is not None and _SHA256.fullmatch(declaration.sha256):
        if (cache / "content_addressable" / "sha256" / declaration.sha256 / "file").is_file():
            return "the repository cache"
    for directory in distdirs:
        for url in declaration.urls:
            name = _file_name(url)
            if name and (directory / name).is_file():
                return f"the distdir {directory}"
    return None


def unfetchable_reason(declaration: Declaration) -> str:
    """Why offline Bazel cannot fetch it, and what to add: one clause."""
    if declaration.rule in GIT_RULES:
        return f"its {declaration.rule} cannot be cloned offline"
    names = sorted({n for n in map(_file_name, declaration.urls) if n})
    archive = ", ".join(names) or "its archive"
    return (f"its {declaration.rule} is in no distdir ({archive}) nor the repository cache; "
            "add the archive to distdirs to keep your own")


def split_pins(declared: Mapping[str, Declaration], distdirs: Sequence[Path],
               cache: Path | None) -> tuple[frozenset[str], dict[str, str]]:
    """The declared names offline Bazel can fetch (the pins that win), and for the others
    why not (they get the packaged stand-in when there is one)."""
    kept, lost = set(), {}
    for name, declaration in declared.items():
        if offline_source(declaration, distdirs, cache):
            kept.add(name)
        else:
            lost[name] = unfetchable_reason(declaration)
    return frozenset(kept), lost
