"""Debian's offline Bazel: what every command needs so that it never reaches the network.

Debian's ``bazel-bootstrap`` cannot download anything its defaults name. 4.2.3 (bookworm)
needs its default repositories overridden; 7.x (sid) wires Debian's packaged rules through
``/etc/bazel/bazelrc`` (``--override_module``) but its built-in ``bazel_tools`` module
still depends on modules Debian does not package, and WORKSPACE builds still name
http_archives. Pure: the caller reads the files and says what the workspace is.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from cross_compiler.errors import ConfigError

# bazel_tools (Bazel 7) depends on these; Debian ships none of them. Empty local modules
# stand in: offline builds of C/C++ never load them.
STUB_MODULES = ("apple_support", "buildozer", "protobuf", "zlib")


class WorkspaceKind(Enum):
    WORKSPACE = "workspace"  # WORKSPACE only
    BZLMOD = "bzlmod"  # MODULE.bazel only
    HYBRID = "hybrid"  # both: bzlmod with the WORKSPACE as fallback (Bazel 7's default)


WORKSPACE_FILES = ("WORKSPACE", "WORKSPACE.bazel", "WORKSPACE.bzlmod")


def workspace_kind(root: Path) -> WorkspaceKind:
    has_module = (root / "MODULE.bazel").is_file()
    has_workspace = any((root / n).is_file() for n in WORKSPACE_FILES)
    if has_module and has_workspace:
        return WorkspaceKind.HYBRID
    return WorkspaceKind.BZLMOD if has_module else WorkspaceKind.WORKSPACE


_OVERRIDE_MODULE = re.compile(r"^\s*common\s+--override_module=([A-Za-z0-9_.-]+)=(\S+)\s*$")


def debian_module_overrides(bazelrc: str) -> dict[str, str]:
    """``{module: directory}`` from Debian's /etc/bazel/bazelrc ``--override_module`` lines."""
    found: dict[str, str] = {}
    for line in bazelrc.splitlines():
        match = _OVERRIDE_MODULE.match(line)
        if match:
            found[match[1]] = match[2]
    return found


def split_fallbacks(overrides: Mapping[str, Path | str], declared: set[str]
                    ) -> tuple[dict[str, Path | str], list[str]]:
    """Pins win: the packaged stand-ins for the repositories the workspace does not declare
    (the fallbacks), and the names it declares itself (its own are used)."""
    used = {name: path for name, path in overrides.items() if name not in declared}
    return used, sorted(name for name in overrides if name in declared)


_BAZEL_DEP = re.compile(r"""bazel_dep\s*\(\s*name\s*=\s*["']([A-Za-z0-9_.-]+)["']""")


def declared_modules(module_bazel: str) -> set[str]:
    """Names of the root module's ``bazel_dep``s (comments ignored)."""
    text = "\n".join(line.split("#", 1)[0] for line in module_bazel.splitlines())
    return set(_BAZEL_DEP.findall(text))


def check_module_deps(module_bazel: str, needed: tuple[str, ...]) -> None:
    """The rendered package names @platforms (and @rules_cc on Bazel 8): under bzlmod the
    root module sees only the repositories it declares."""
    missing = [name for name in needed if name not in declared_modules(module_bazel)]
    if missing:
        add = "; ".join(f'bazel_dep(name = "{name}", version = "{_KNOWN_VERSIONS[name]}")'
                        for name in missing)
        raise ConfigError(
            f"MODULE.bazel does not declare {', '.join(missing)}, which the rendered "
            "//cross_compiler package uses",
            f"add to MODULE.bazel: {add}",
        )


_KNOWN_VERSIONS = {"platforms": "0.0.10", "rules_cc": "0.0.11"}


def needed_modules(bazel_major: int) -> tuple[str, ...]:
    """What the rendered package loads: @platforms, and @rules_cc from Bazel 8 on."""
    return ("platforms", "rules_cc") if bazel_major >= 8 else ("platforms",)


@dataclass(frozen=True)
class OfflineBazel7:
    """Flags for Debian's Bazel >= 7 (from the distribution, never online Bazel)."""

    stub_dir: Path  # holds <module>/MODULE.bazel for STUB_MODULES
    debian_modules: Mapping[str, str]  # from /etc/bazel/bazelrc

    def flags(self, kind: WorkspaceKind, declared: frozenset[str] = frozenset()
              ) -> tuple[str, ...]:
        """``declared``: the repositories the workspace's WORKSPACE declares itself, which
        Debian's packaged rules never replace (pins win)."""
        flags: list[str] = []
        if kind is not WorkspaceKind.WORKSPACE:
            flags += [f"--override_module={name}={self.stub_dir / name}" for name in STUB_MODULES]
            # The stubs must never end up in the workspace's own MODULE.bazel.lock.
            flags.append("--lockfile_mode=off")
        if kind is WorkspaceKind.BZLMOD:
            flags.append("--noenable_workspace")
        if kind is WorkspaceKind.WORKSPACE:
            # WORKSPACE's default repositories are http_archives: point them at Debian's.
            flags.append("--noenable_bzlmod")
        if kind is not WorkspaceKind.BZLMOD:
            flags += [f"--override_repository={name}={path}"
                      for name, path in sorted(self.debian_modules.items())
                      if name not in declared]
        return tuple(flags)


def fallback_lines(used: Mapping[str, Path | str], pinned: list[str],
                   module_replaced: Mapping[str, str] = {},
                   unfetchable: Mapping[str, str] = {}) -> list[str]:
    """One line per packaged stand-in a build uses (``unfetchable``: declared ones offline
    Bazel cannot fetch, and why), and per pin that wins over one."""
    lines = [f"@{name}: the workspace declares it but {unfetchable[name]}; offline Bazel "
             f"uses the packaged copy at {path}" if name in unfetchable else
             f"@{name}: the workspace does not declare it; offline Bazel uses the packaged "
             f"copy at {path}" for name, path in sorted(used.items())]
    lines += [f"@{name}: the workspace's own (its WORKSPACE declares it), not the packaged "
              "copy" for name in pinned]
    lines += [f"@{name}: MODULE.bazel's bazel_dep is resolved to Debian's packaged copy at "
              f"{path} (/etc/bazel/bazelrc; offline there is no registry to fetch it from; "
              "a module_overrides entry picks another)"
              for name, path in sorted(module_replaced.items())]
    return lines
