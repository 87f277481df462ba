"""Debian's offline Bazel 7: flags per workspace kind, bzlmod checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from cross_compiler.bazel.offline import (
    OfflineBazel7,
    WorkspaceKind,
    check_module_deps,
    debian_module_overrides,
    declared_modules,
    workspace_kind,
)
from cross_compiler.errors import ConfigError

DEBIAN_BAZELRC = """try-import /etc/bazel.bazelrc
startup --install_base=/usr/share/bazel
build --sandbox_debug
# Bzlmod offline system overrides
common --override_module=platforms=/usr/share/bazel/tools/platforms
common --override_module=rules_cc=/usr/share/bazel/rules/cc
"""


def test_debian_overrides_are_read_from_its_bazelrc() -> None:
    assert debian_module_overrides(DEBIAN_BAZELRC) == {
        "platforms": "/usr/share/bazel/tools/platforms", "rules_cc": "/usr/share/bazel/rules/cc"}


def test_workspace_kind(tmp_path: Path) -> None:
    assert workspace_kind(tmp_path) is WorkspaceKind.WORKSPACE
    (tmp_path / "MODULE.bazel").write_text("")
    assert workspace_kind(tmp_path) is WorkspaceKind.BZLMOD
    (tmp_path / "WORKSPACE.bazel").write_text("")
    assert workspace_kind(tmp_path) is WorkspaceKind.HYBRID


def test_flags_per_kind() -> None:
    offline = OfflineBazel7(Path("/stubs"), debian_module_overrides(DEBIAN_BAZELRC))
    bzlmod = offline.flags(WorkspaceKind.BZLMOD)
    assert "--override_module=zlib=/stubs/zlib" in bzlmod and "--noenable_workspace" in bzlmod
    assert "--lockfile_mode=off" in bzlmod
    assert not any(f.startswith("--override_repository") for f in bzlmod)
    legacy = offline.flags(WorkspaceKind.WORKSPACE)
    assert "--noenable_bzlmod" in legacy and "--noenable_workspace" not in legacy
    assert "--override_repository=rules_cc=/usr/share/bazel/rules/cc" in legacy
    assert not any(f.startswith("--override_module") for f in legacy)
    hybrid = offline.flags(WorkspaceKind.HYBRID)
    assert "--override_module=zlib=/stubs/zlib" in hybrid
    assert "--override_repository=platforms=/usr/share/bazel/tools/platforms" in hybrid
    assert "--noenable_workspace" not in hybrid and "--noenable_bzlmod" not in hybrid


def test_declared_modules_ignore_comments() -> None:
    text = 'module(name = "x")\n# bazel_dep(name = "rules_cc")\nbazel_dep(name="platforms",\n' \
           '  version = "0.0.10")\n'
    assert declared_modules(text) == {"platforms"}


def test_missing_platforms_dep_says_what_to_add() -> None:
    with pytest.raises(ConfigError) as e:
        check_module_deps('module(name = "x")\n', ("platforms",))
    assert 'add to MODULE.bazel: bazel_dep(name = "platforms", version = "0.0.10")' in str(e.value)
    check_module_deps('bazel_dep(name = "platforms", version = "0.0.9")\n', ("platforms",))
