"""What the routes of a ``--manylinux`` (or ``--toolchain``) build add to the builder image:
their families' Debian packages and Python packages, the sysroots they build against (baked
in where the tool inside looks for them) and the directories their tools write (mounted from
the host's cache). Pure: the sysroots are assembled and hashed by the caller.

A build whose routes need nothing the image lacks (gcc, today's toolchain) gets no extras,
so its image, tag and caches are exactly today's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path, PurePosixPath

from cross_compiler.docker.image import IMAGE_CACHE, BakedSysroot, ImageExtras
from cross_compiler.docker.plan import Mount
from cross_compiler.toolchain import families
from cross_compiler.toolchain.baseline import Route
from cross_compiler.toolchain.targets import Target

# Under the docker cache root: what the families' tools write, shared by every image (zig's
# cache is content-addressed, so a new tool version keeps it warm).
TOOL_CACHE = "tool-cache"


def needed_sysroots(routes: Iterable[tuple[Target, Route]]) -> list[tuple[str, Target]]:
    """(suite, target) of every sysroot the routes build against, once per Debian arch."""
    seen: dict[tuple[str, str], tuple[str, Target]] = {}
    for target, route in routes:
        if route.sysroot:
            seen.setdefault((route.sysroot, target.debian_arch), (route.sysroot, target))
    return [seen[key] for key in sorted(seen)]


def image_extras(routes: Iterable[tuple[Target, Route]], base_packages: Iterable[str],
                 pin: Callable[[str], str],
                 sysroots: Mapping[tuple[str, str], BakedSysroot]) -> ImageExtras:
    """The extras of ``routes`` over an image that has ``base_packages``; ``pin`` names a
    Python package with its version; ``sysroots``: (suite, Debian arch) -> baked sysroot."""
    have = set(base_packages)
    added: set[str] = set()
    packages: set[str] = set()
    requirements: set[str] = set()
    baked: dict[str, BakedSysroot] = {}
    writable: set[str] = set()
    for target, route in routes:
        flags = families.shipped(route.family).resolve(target, route.glibc, IMAGE_CACHE)
        # A family's programs come from PyPI (python_package) or from Debian (packages).
        new = ({pin(flags.python_package)} if flags.python_package
               else set(flags.packages.split()) - have)
        (requirements if flags.python_package else packages).update(new)
        found = sysroots.get((route.sysroot, target.debian_arch)) if route.sysroot else None
        if found is not None:
            baked[found.context_path] = found
        writable.update(flags.writable_dirs)
        if new or found is not None or flags.writable_dirs:
            added.add(route.family)
    return ImageExtras(families=tuple(sorted(added)), packages=tuple(sorted(packages)),
                       requirements=tuple(sorted(requirements)),
                       sysroots=tuple(baked[k] for k in sorted(baked)),
                       writable_dirs=tuple(sorted(writable)))


def tool_cache_dir(container_path: str, cache_root: Path) -> Path:
    """The host directory mounted at ``container_path`` (under the image's cache)."""
    path = PurePosixPath(container_path)
    rel = path.relative_to(IMAGE_CACHE) if path.is_relative_to(IMAGE_CACHE) else \
        path.relative_to("/")
    return cache_root / TOOL_CACHE / rel


def writable_mounts(extras: ImageExtras, cache_root: Path) -> tuple[Mount, ...]:
    """The families' writable directories: the image's are read-only for the build's user."""
    return tuple(Mount(str(tool_cache_dir(d, cache_root)), d) for d in extras.writable_dirs)
