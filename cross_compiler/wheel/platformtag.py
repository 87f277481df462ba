"""Wheel platform tags: the one check that a requested tag is valid for a target. Pure.

Build (packaging) and ``retag`` both pass through :func:`check_platform`, so a tag for
another architecture, or a string that would make an invalid wheel file name (``/``,
``..``, ``-``, whitespace), is refused the same way everywhere.
"""

from __future__ import annotations

import re

from cross_compiler.errors import ConfigError

AUTO = "auto"
_FAMILY = r"linux|manylinux1|manylinux2010|manylinux2014|manylinux_\d+_\d+|musllinux_\d+_\d+"
_TAG = re.compile(rf"(?P<family>{_FAMILY})_(?P<arch>[a-z0-9]+(?:_[a-z0-9]+)*)")


def tag_arch(platform: str) -> str | None:
    """The architecture part of a well-formed Linux platform tag (``manylinux_2_17_x86_64``
    -> ``x86_64``), or None when ``platform`` is not one."""
    match = _TAG.fullmatch(platform)
    if match is None:
        return None
    return match["arch"]


_LEGACY = {"manylinux1": "manylinux_2_5", "manylinux2010": "manylinux_2_12",
           "manylinux2014": "manylinux_2_17"}


def manylinux_policy(platform: str) -> str | None:
    """The auditwheel policy a manylinux tag names (``manylinux2014_aarch64`` ->
    ``manylinux_2_17``), None for linux_/musllinux_ tags and ``auto``."""
    match = _TAG.fullmatch(platform)
    if match is None or not match["family"].startswith("manylinux"):
        return None
    return _LEGACY.get(match["family"], match["family"])


def check_platform(platform: str, wheel_arch: str, cpu: str) -> str:
    """``platform`` itself when it is ``auto`` or a Linux tag for ``wheel_arch``; else a
    one-line ConfigError naming the value and the tags that would do."""
    if platform == AUTO:
        return platform
    arch = tag_arch(platform)
    if arch == wheel_arch:
        return platform
    example = f"e.g. linux_{wheel_arch} or manylinux_2_17_{wheel_arch}"
    if arch is None:
        raise ConfigError(
            f"platform {platform!r} is not a valid Linux wheel platform tag",
            f"use auto or a tag like linux_{wheel_arch}, manylinux_2_X_{wheel_arch} or "
            f"musllinux_1_X_{wheel_arch}",
        )
    raise ConfigError(
        f"platform {platform!r} is for {arch}, not for {cpu} ({wheel_arch})",
        f"use auto or a tag ending in _{wheel_arch}, {example}",
    )
