"""A target-architecture Debian root with Python (headers + interpreter), from apt, cached.

``apt-get download`` + ``dpkg -x`` into ``<cache>/debroot/<suite>/<debian arch>``, with a
private apt state (sources, lists, cache) per suite under ``<cache>/apt/<suite>``: any
suite's packages can be fetched on any Debian-like machine, without ``dpkg
--add-architecture`` or touching the machine's own apt configuration. Nothing is
installed system-wide, so host and target package versions never have to agree.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Protocol

from cross_compiler import proc
from cross_compiler.errors import ToolMissingError
from cross_compiler.toolchain.suites import Suite, foreign_root_packages
from cross_compiler.toolchain.targets import Target

log = logging.getLogger(__name__)

MIRROR = "http://deb.debian.org/debian"
APT_RETRIES = 4


def root_dir(target: Target, cache_dir: Path) -> Path:
    """The target root: one per (suite, arch); a CPython lent by an older suite has its own
    (``arm64-bullseye``: that suite's Python on this suite's libc)."""
    name = target.debian_arch + (f"-{target.python_source}" if target.python_source else "")
    return cache_dir / "debroot" / target.suite / name


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


PACKAGES_STAMP = ".cross_compiler-packages"  # what a root holds; another list refetches it


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def link_alternatives(root: Path, triple: str) -> None:
    """What dpkg's postinst would have linked: Debian's BLAS/LAPACK alternatives
    (``libblas.so.3 -> blas/libblas.so.3``), which numpy's extensions load by that name."""
    libdir = root / "usr" / "lib" / triple
    for kind in ("blas", "lapack"):
        for lib in sorted((libdir / kind).glob("lib*.so.3")):
            link = libdir / lib.name
            if not link.exists() and not link.is_symlink():
                link.symlink_to(f"{kind}/{lib.name}")


def apt_options(state: Path, arches: list[str]) -> list[str]:
    """apt-get options for a private state directory holding ``arches`` of one suite."""
    options = {
        "Dir::Etc::SourceList": str(state / "sources.list"),
        "Dir::Etc::SourceParts": "/dev/null",
        "Dir::Etc::Preferences": str(state / "preferences"),
        "Dir::Etc::PreferencesParts": "/dev/null",
        "Dir::State": str(state / "state"),
        "Dir::State::status": str(state / "state" / "status"),
        "Dir::Cache": str(state / "cache"),
        # Debian's mirrors sometimes serve a Release whose Valid-Until has passed.
        "Acquire::Check-Valid-Until": "false",
        "Debug::NoLocking": "1",
        "APT::Sandbox::User": "root" if os.getuid() == 0 else "",
    }
    argv = [f"-o{key}={value}" for key, value in options.items() if value]
    argv += [f"-oAPT::Architectures::={arch}" for arch in arches]
    return argv


class NamedSuite(Protocol):
    """A Debian suite by name: a builder suite or a sysroot's (sysroot.SysrootSpec)."""

    @property
    def name(self) -> str: ...


def _apt_state(suite: NamedSuite, arch: str, cache_dir: Path, refresh: bool = False,
               older: NamedSuite | None = None) -> list[str]:
    """A private apt state for ``suite`` that knows ``arch``: lists read once, and again
    with ``refresh`` (sid moves daily: cached lists name files the mirror has dropped).
    With ``older``, that suite too, pinned below: only names ``suite`` lacks come from it."""
    name = suite.name + (f"+{older.name}" if older else "")
    state = cache_dir / "apt" / name / arch
    (state / "state" / "lists" / "partial").mkdir(parents=True, exist_ok=True)
    (state / "cache" / "archives" / "partial").mkdir(parents=True, exist_ok=True)
    (state / "state" / "status").touch()
    lines = [f"deb [arch={arch}] {MIRROR} {s.name} main\n" for s in (suite, older) if s]
    (state / "sources.list").write_text("".join(lines))
    (state / "preferences").write_text(
        f"Package: *\nPin: release n={older.name}\nPin-Priority: 100\n" if older else "")
    options = apt_options(state, [arch])
    if refresh or not any((state / "state" / "lists").glob("*Packages*")):
        last = ""
        for attempt in range(1, APT_RETRIES + 1):
            result = proc.run(["apt-get", *options, "-q", "update"],
                              missing_hint="this needs a Debian or Ubuntu machine with apt")
            errors = [ln for ln in (result.stdout + result.stderr).splitlines()
                      if ln.startswith(("E:", "Err:"))]
            if result.returncode == 0 and not errors:
                break
            last = (errors or result.stderr.strip().splitlines() or ["apt-get update failed"])[-1]
            log.warning("apt-get update for %s/%s failed (attempt %d): %s", suite.name, arch,
                        attempt, last)
            time.sleep(2 * attempt)
        else:
            raise ToolMissingError(f"cannot read Debian {suite.name}'s package lists for {arch}:"
                                   f" {last}", f"check that {MIRROR} is reachable, then retry")
    return options


def fetch(target: Target, suite: Suite, cache_dir: Path, source: Suite | None = None) -> Path:
    """Download and unpack the target's Python root (once); returns the root directory.
    ``source``: the older suite that lends ``target``'s CPython (``target.python_source``)."""
    dest = root_dir(target, cache_dir)
    if target.python_source and (source is None or source.name != target.python_source):
        raise ToolMissingError(f"Python {target.python_version} for {target.cpu} comes from "
                               f"Debian {target.python_source}, whose suite file is missing",
                               f"add suites/{target.python_source}.toml")
    packages = (foreign_root_packages(source, target.python_version, target.debian_arch)
                if target.python_source and source else suite.root_packages(target.debian_arch))
    stamp = "".join(f"{p}\n" for p in sorted(packages))
    if interpreter(target, cache_dir).exists() and _read(dest / PACKAGES_STAMP) == stamp:
        return dest
    if not suite.has_python(target.debian_arch) or (
            source is not None and target.python_source and not source.has_python(
                target.debian_arch)):
        raise ToolMissingError(
            f"Debian {suite.name} has no Python for {target.debian_arch}",
            "use a suite that has one (e.g. --suite=sid) or set sysroot in the toolchain file",
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    older = source if target.python_source else None
    options = _apt_state(suite, target.debian_arch, cache_dir, older=older)
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=f".{dest.name}.") as tmp:
        debs, root = Path(tmp) / "debs", Path(tmp) / "root"
        debs.mkdir()
        root.mkdir()
        log.info("%s: downloading %d Debian %s packages for %s", target.cpu, len(packages),
                 suite.name, target.debian_arch)
        for attempt in range(1, APT_RETRIES + 1):
            result = proc.run(["apt-get", *options, "-q", "download", *packages], cwd=debs)
            if result.returncode == 0:
                break
            log.warning("apt-get download for %s failed (attempt %d), re-reading the package "
                        "lists", target.cpu, attempt)
            time.sleep(2 * attempt)
            options = _apt_state(suite, target.debian_arch, cache_dir, refresh=True,
                                 older=older)
        if result.returncode != 0:
            last = (result.stderr.strip().splitlines() or ["apt-get download failed"])[-1]
            raise ToolMissingError(
                f"cannot download Python packages for {target.debian_arch} from Debian "
                f"{suite.name}: {last}", f"check that {MIRROR} is reachable, then retry")
        for deb in sorted(debs.glob("*.deb")):
            unpacked = proc.run(["dpkg", "-x", str(deb), str(root)])
            if unpacked.returncode != 0:
                raise ToolMissingError(f"dpkg -x {deb.name} failed: {unpacked.stderr.strip()}")
        relativize_symlinks(root)
        link_alternatives(root, target.triple)
        (root / PACKAGES_STAMP).write_text(stamp)
        if dest.exists():
            shutil.rmtree(dest)  # an incomplete root of ours (no interpreter in it)
        root.rename(dest)
    return dest
