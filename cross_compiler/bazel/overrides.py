"""What the chosen toolchains (toolchain/portable.py) add to a Bazel run: each sysroot as a
repository by ``--override_repository``, the families' flags and the directories their tools
write; and whether such a repository is visible to the workspace at all."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path

from cross_compiler.bazel import offline
from cross_compiler.bazel.localbuild import BazelSetup
from cross_compiler.toolchain.portable import Choice


def sysroot_routes_usable(workspace: Path, bazel_major: int) -> bool:
    """A sysroot is a repository given by --override_repository: Bazel 7 and newer make it
    visible to the main repository only in WORKSPACE mode (bzlmod off)."""
    return bazel_major < 7 or offline.workspace_kind(workspace) is offline.WorkspaceKind.WORKSPACE


def with_overrides(setup: BazelSetup, choices: Mapping[str, Choice]) -> BazelSetup:
    """``--override_repository`` NAME=DIR for every sysroot, in every cpu's build (legacy
    mode's cc_toolchain_suite analyses every cpu's toolchain), and the directories the
    families' tools write (zig's cache) writable in Bazel's sandbox."""
    sysroots = {c.repository: c.sysroot.path for c in choices.values()
                if c.repository and c.sysroot is not None}
    writable = tuple(sorted({d for c in choices.values() for d in c.toolchain.writable_dirs}))
    flags = tuple(dict.fromkeys(f for c in choices.values() for f in c.toolchain.bazel_flags))
    if sysroots and setup.version.major >= 7 and "--noenable_bzlmod" not in setup.family_flags:
        # Sysroot routes are chosen only for WORKSPACE-only workspaces there
        # (sysroot_routes_usable); Bazel 7 turns bzlmod on by default even for those, and
        # then the overridden repository is invisible. (Debian's offline Bazel gets it from
        # offline.py already; a second copy is harmless.)
        flags = (*flags, "--noenable_bzlmod")
    if not sysroots and not writable and not flags:
        return setup
    return dataclasses.replace(setup, overrides={**setup.overrides, **sysroots},
                               writable_dirs=(*setup.writable_dirs, *writable),
                               family_flags=(*setup.family_flags, *flags))
