"""Debian's offline Bazel 7: flags per workspace kind, bzlmod checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from cross_compiler import config, resources
from cross_compiler.bazel import pins
from cross_compiler.bazel.flags import BazelVersion
from cross_compiler.bazel.localbuild import BazelSetup, plan_build
from cross_compiler.bazel.offline import (
    OfflineBazel7,
    WorkspaceKind,
    check_module_deps,
    debian_module_overrides,
    declared_modules,
    fallback_lines,
    split_fallbacks,
    workspace_kind,
)
from cross_compiler.errors import ConfigError
from cross_compiler.toolchain.targets import load_targets

A64 = load_targets(["aarch64"], resources.toolchains_dir())[0]
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


WORKSPACE_TEXT = """workspace(name = "own")
load("@bazel_tools//tools/build_defs/repo:http.bzl", "http_archive")
http_archive(
    name = "rules_cc",  # the workspace's pin
    urls = ["https://example.invalid/rules_cc-0.1.5.tar.gz"],
)
local_repository(name='rules_python', path = "third_party/rules_python")
# http_archive(name = "bazel_skylib")  (commented out: not declared)
"""


def test_pins_win_over_the_packaged_rules(tmp_path: Path) -> None:
    assert pins.declared_repositories(WORKSPACE_TEXT) == {"own", "rules_cc", "rules_python"}
    (tmp_path / "WORKSPACE.bazel").write_text(WORKSPACE_TEXT)
    (tmp_path / "WORKSPACE.bzlmod").write_text('local_repository(name = "platforms", path = "p")')
    (tmp_path / "WORKSPACE").write_text('local_repository(name = "old", path = "o")')
    # Bazel reads WORKSPACE.bazel before WORKSPACE; with bzlmod on, WORKSPACE.bzlmod alone.
    assert set(pins.declarations(tmp_path, bzlmod=True)) == {"platforms"}
    declared = set(pins.declarations(tmp_path, bzlmod=False))
    assert declared == {"own", "rules_cc", "rules_python"}
    (tmp_path / "WORKSPACE.bazel").unlink()
    assert set(pins.declarations(tmp_path, bzlmod=False)) == {"old"}
    declared |= {"platforms"}
    offline = OfflineBazel7(Path("/stubs"), debian_module_overrides(DEBIAN_BAZELRC))
    for kind in (WorkspaceKind.WORKSPACE, WorkspaceKind.HYBRID):
        flags = offline.flags(kind, frozenset(declared))
        assert not any(f.startswith("--override_repository") for f in flags)
    assert "--override_repository=rules_cc=/usr/share/bazel/rules/cc" in offline.flags(
        WorkspaceKind.WORKSPACE, frozenset({"platforms"}))
    used, pinned = split_fallbacks({"rules_cc": "/a", "rules_java": "/b"}, declared)
    assert used == {"rules_java": "/b"} and pinned == ["rules_cc"]
    lines = fallback_lines(used, pinned, {"rules_python": "/usr/share/bazel/rules/python"})
    assert lines == [
        "@rules_java: the workspace does not declare it; offline Bazel uses the packaged copy "
        "at /b",
        "@rules_cc: the workspace's own (its WORKSPACE declares it), not the packaged copy",
        "@rules_python: MODULE.bazel's bazel_dep is resolved to Debian's packaged copy at "
        "/usr/share/bazel/rules/python (/etc/bazel/bazelrc; offline there is no registry to "
        "fetch it from; a module_overrides entry picks another)"]


def _planned_flags(ws: Path, setup: BazelSetup, values: dict[str, object] | None = None
                   ) -> tuple[str, ...]:
    """The build flags plan_build gives ``ws`` (its own cache dir beside it)."""
    settings = config.resolve(values or {}, "cross_compiler.toml", {}, {})
    env = {"PATH": "/usr/bin", "CROSS_COMPILER_CACHE": str(ws.parent / "cache")}
    return plan_build(ws, A64, settings, setup, env).build.flags


def _pinned_workspace(tmp_path: Path) -> tuple[Path, dict[str, object]]:
    """WORKSPACE_TEXT's workspace, and settings whose distdir holds its rules_cc archive
    (so offline Bazel can fetch that pin)."""
    distdir = tmp_path / "distdir"
    distdir.mkdir()
    (distdir / "rules_cc-0.1.5.tar.gz").write_bytes(b"")
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "WORKSPACE").write_text(WORKSPACE_TEXT)
    return ws, {"distdirs": [str(distdir)]}


SEVEN = BazelSetup("bazel", BazelVersion(7, 7, 1), {}, OfflineBazel7(
    Path("/stubs"), debian_module_overrides(DEBIAN_BAZELRC)))


def test_a_build_plan_keeps_the_workspace_pins_and_says_each_fallback(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    ws, values = _pinned_workspace(tmp_path)
    four = BazelSetup("bazel", BazelVersion(4, 2, 3),
                      {"rules_cc": Path("/own/rules_cc"), "rules_java": Path("/java")})
    with caplog.at_level("INFO"):
        flags = _planned_flags(ws, four, values)
    assert "--override_repository=rules_java=/java" in flags
    assert not any(f.startswith("--override_repository=rules_cc=") for f in flags)
    assert "@rules_cc: the workspace's own (its WORKSPACE declares it)" in caplog.text
    assert "@rules_java: the workspace does not declare it" in caplog.text
    flags = _planned_flags(ws, SEVEN, values)
    assert "--override_repository=platforms=/usr/share/bazel/tools/platforms" in flags
    assert not any(f.startswith("--override_repository=rules_cc=") for f in flags)


def test_bazel_7_reads_workspace_bzlmod_instead_of_workspace(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """abseil-cpp's layout: a WORKSPACE pinning rules, an empty WORKSPACE.bzlmod and a
    MODULE.bazel. Under bzlmod (Bazel 7) the WORKSPACE is not read: its pins are not kept
    (nor said to be); Bazel 4 still reads it."""
    ws, values = _pinned_workspace(tmp_path)
    (ws / "WORKSPACE.bzlmod").write_text("# bzlmod: see MODULE.bazel\n")
    (ws / "MODULE.bazel").write_text('module(name = "m")\nbazel_dep(name = "platforms")\n')
    with caplog.at_level("INFO"):
        flags = _planned_flags(ws, SEVEN, values)
    assert "--override_repository=rules_cc=/usr/share/bazel/rules/cc" in flags
    assert "the workspace's own" not in caplog.text
    assert "@platforms: MODULE.bazel's bazel_dep is resolved to Debian's packaged" in caplog.text
    caplog.clear()
    four = BazelSetup("bazel", BazelVersion(4, 2, 3), {"rules_cc": Path("/own/rules_cc")})
    with caplog.at_level("INFO"):
        flags = _planned_flags(ws, four, values)
    assert not any(f.startswith("--override_repository=rules_cc=") for f in flags)
    assert "@rules_cc: the workspace's own (its WORKSPACE declares it)" in caplog.text


def test_a_pin_offline_bazel_cannot_fetch_gets_the_stand_in_and_says_what_to_add(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """rules_python's own README pattern: an http_archive of a release. Offline, with the
    archive in no distdir and its sha256 not in the repository cache, Debian's packaged
    copy stands in (one line naming the archive); with the sha256 cached, the pin wins."""
    sha = "a" * 64
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "WORKSPACE").write_text(
        'load("@bazel_tools//tools/build_defs/repo:http.bzl", "http_archive")\n'
        f'http_archive(name = "rules_cc", sha256 = "{sha}",\n'
        '    url = "https://example.invalid/rules_cc-0.1.5.tar.gz?x=1")\n')
    cache = tmp_path / "repo-cache"
    values: dict[str, object] = {"bazel_flags": [f"--repository_cache={cache}"]}
    with caplog.at_level("INFO"):
        flags = _planned_flags(ws, SEVEN, values)
    assert "--override_repository=rules_cc=/usr/share/bazel/rules/cc" in flags
    assert ("@rules_cc: the workspace declares it but its http_archive is in no distdir "
            "(rules_cc-0.1.5.tar.gz) nor the repository cache; add the archive to distdirs "
            "to keep your own; offline Bazel uses the packaged copy at "
            "/usr/share/bazel/rules/cc") in caplog.text
    (cache / "content_addressable" / "sha256" / sha).mkdir(parents=True)
    (cache / "content_addressable" / "sha256" / sha / "file").write_bytes(b"")
    flags = _planned_flags(ws, SEVEN, values)
    assert not any(f.startswith("--override_repository=rules_cc=") for f in flags)


def test_declarations_are_parsed_with_their_rules_and_sources(tmp_path: Path) -> None:
    text = (WORKSPACE_TEXT + 'maybe(http_archive, name = "skylib", urls = ["https://x/s.tgz"])\n'
            'git_repository(name = "g", remote = "https://x/g.git", commit = "0" * 40)\n'
            'my_macro(name = "own_rule")\n')
    found = pins.parse_declarations(text)
    assert found["rules_python"].rule == "local_repository"
    assert found["skylib"] == pins.Declaration("skylib", "http_archive", ("https://x/s.tgz",))
    assert pins.offline_source(found["rules_python"], [], None) == "a local repository"
    assert pins.offline_source(found["g"], [], None) is None
    assert "cannot be cloned offline" in pins.unfetchable_reason(found["g"])
    assert pins.offline_source(found["own_rule"], [], None) == "its own my_macro"
    (tmp_path / "s.tgz").write_bytes(b"")
    assert pins.offline_source(found["skylib"], [tmp_path], None) == f"the distdir {tmp_path}"
    # A sha256 that is not one never becomes a path.
    bad = pins.Declaration("x", "http_archive", ("https://x/y.tgz",), "../../etc")
    assert pins.offline_source(bad, [], tmp_path) is None
    # Not Python (Starlark only): the names alone, rules unknown (their own choice).
    assert pins.parse_declarations('x = {"a": 1 for}\nhttp_archive(name = "n")') == {
        "n": pins.Declaration("n", "")}
    env = {"HOME": "/h", "USER": "u"}
    assert pins.repository_cache([], [], env) == Path("/h/.cache/bazel/_bazel_u/cache/repos/v1")
    assert pins.repository_cache([], ["--output_user_root=/o"], env) == Path(
        "/o/cache/repos/v1")
    assert pins.repository_cache(["--repository_cache=/r"], [], env) == Path("/r")
