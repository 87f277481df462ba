"""A target-architecture Debian root with Python (headers + interpreter), from apt, cached.

``apt-get download`` + ``dpkg -x`` into ``<cache>/debroot/<debian arch>``: nothing is
installed system-wide, so host and target package versions never have to agree.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path

from cross_compiler import proc
from cross_compiler.errors import ToolMissingError
from cross_compiler.targets import Target

log = logging.getLogger(__name__)


def packages(target: Target) -> list[str]:
    v = target.python_version
    names = [
        f"python{v}-minimal", f"libpython{v}-minimal", f"libpython{v}-stdlib",
        f"libpython{v}", f"libpython{v}-dev",
        "libc6", "libgcc-s1", "libstdc++6", "libexpat1", "zlib1g", "libffi8",
        "libbz2-1.0", "liblzma5", "libcrypt1", "libuuid1", "libssl3", "libsqlite3-0",
        "libncursesw6", "libtinfo6", "libreadline8", "libdb5.3", "libnsl2", "libtirpc3",
        "libzstd1",
    ]
    return [f"{name}:{target.debian_arch}" for name in names]


def root_dir(target: Target, cache_dir: Path) -> Path:
    return cache_dir / "debroot" / target.debian_arch


def interpreter(target: Target, cache_dir: Path) -> Path:
    return root_dir(target, cache_dir) / "usr" / "bin" / f"python{target.python_version}"


def relativize_symlinks(root: Path) -> None:
    """Point absolute symlinks (``/lib64/ld64.so.2 -> /lib/...``) inside ``root``.

    qemu-user's ``-L`` prefix and compilers' ``--sysroot`` follow links on the host file
    system, where an absolute target would resolve to the build machine's own files.
    """
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            link = Path(dirpath) / name
            if link.is_symlink():
                target = os.readlink(link)
                if target.startswith("/"):
                    link.unlink()
                    link.symlink_to(os.path.relpath(root / target.lstrip("/"), link.parent))


def fetch(target: Target, cache_dir: Path) -> Path:
    """Download and unpack the target's Python root (once); returns the root directory."""
    dest = root_dir(target, cache_dir)
    if interpreter(target, cache_dir).exists():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=f".{dest.name}.") as tmp:
        debs, root = Path(tmp) / "debs", Path(tmp) / "root"
        debs.mkdir()
        root.mkdir()
        log.info("%s: downloading %d Debian packages for %s", target.cpu,
                 len(packages(target)), target.debian_arch)
        result = proc.run(["apt-get", "download", *packages(target)], cwd=debs,
                          missing_hint="this needs a Debian or Ubuntu machine with apt")
        if result.returncode != 0:
            last = (result.stderr.strip().splitlines() or ["apt-get download failed"])[-1]
            raise ToolMissingError(
                f"cannot download Python packages for {target.debian_arch}: {last}",
                f"run `dpkg --add-architecture {target.debian_arch} && apt-get update` as root "
                "(scripts/setup.sh does), or set sysroot in the toolchain file",
            )
        for deb in sorted(debs.glob("*.deb")):
            unpacked = proc.run(["dpkg", "-x", str(deb), str(root)])
            if unpacked.returncode != 0:
                raise ToolMissingError(f"dpkg -x {deb.name} failed: {unpacked.stderr.strip()}")
        relativize_symlinks(root)
        if dest.exists():
            shutil.rmtree(dest)
        root.rename(dest)
    return dest
