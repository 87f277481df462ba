"""A target wheel made from a Debian package in the target's root: the fallback for PyPI
packages that publish no wheel for the target (numpy has none for armv7l).

Debian's ``python3-numpy:armhf`` unpacked in the target root holds the package's files in
``usr/lib/python3/dist-packages`` and its metadata in an ``.egg-info`` (or ``.dist-info``);
this repacks them as ``numpy-<version>-cpXY-cpXY-linux_<arch>.whl`` (RECORD with hashes,
fixed timestamps, so the same root gives the same bytes). Symlinks into the root (numpy 2's
include dir links to ``/usr/lib/<triple>/python3-numpy``) are followed inside the root only.
The wheel is made once per root and version and kept in the tool's cache.
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import os
import re
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from cross_compiler.toolchain.targets import Target

log = logging.getLogger(__name__)

DIST_PACKAGES = Path("usr/lib/python3/dist-packages")
_META = re.compile(r"^(?P<name>[A-Za-z0-9_.]+)-(?P<version>[0-9][A-Za-z0-9_.+!]*)\."
                   r"(?:egg|dist)-info$")
_EPOCH_1980 = (1980, 1, 1, 0, 0, 0)
MAX_FILES = 20_000  # a Python package in Debian; more than this is not one
MAX_BYTES = 512 << 20
FORMAT = "v2"  # of the cached wheels: a change in how they are made makes new ones


@dataclass(frozen=True)
class DebianPackage:
    """A Python project installed in a target root."""

    project: str  # as the metadata directory names it: numpy
    version: str  # 1.24.2
    metadata_dir: Path
    top_level: tuple[str, ...]


def find_project(root: Path, project: str) -> DebianPackage | None:
    """``project`` (a distribution name, e.g. numpy) as Debian installed it in ``root``."""
    site = root / DIST_PACKAGES
    wanted = re.sub(r"[-_.]+", "_", project).lower()
    try:
        entries = sorted(site.iterdir())
    except OSError:
        return None
    for entry in entries:
        m = _META.match(entry.name)
        if m and re.sub(r"[-_.]+", "_", m["name"]).lower() == wanted and entry.is_dir():
            top = entry / "top_level.txt"
            names = (tuple(n.strip() for n in top.read_text(errors="replace").splitlines()
                           if n.strip() and "/" not in n and not n.startswith("."))
                     if top.is_file() else (m["name"],))
            return DebianPackage(m["name"], m["version"], entry, names)
    return None


def wheel_name(package: DebianPackage, target: Target) -> str:
    tag = "cp" + target.python_version.replace(".", "")
    name = re.sub(r"[-_.]+", "_", package.project)
    return f"{name}-{package.version}-{tag}-{tag}-linux_{target.wheel_arch}.whl"


def _inside(root: Path, path: Path) -> Path | None:
    """``path`` with its symlinks resolved as if ``root`` were ``/``; None if it leaves it."""
    real = root
    for part in path.relative_to(root).parts:
        candidate = real / part
        for _ in range(40):
            if not candidate.is_symlink():
                break
            link = os.readlink(candidate)
            candidate = (root / link.lstrip("/")) if link.startswith("/") else (
                candidate.parent / link)
            candidate = Path(os.path.normpath(candidate))
        real = candidate
    try:
        real.relative_to(root)
    except ValueError:
        return None
    return real


def _members(root: Path, package: DebianPackage) -> list[tuple[str, Path]]:
    """(path in the wheel, real file) of every file under the package's top-level names,
    links resolved as the target would (inside ``root``), bytecode caches left out."""
    site = root / DIST_PACKAGES
    found: dict[str, Path] = {}
    todo: list[tuple[str, Path]] = []
    for name in package.top_level:
        for entry in sorted(site.glob(f"{name}*")):
            if entry.name == name or entry.name.startswith(f"{name}."):
                todo.append((entry.name, entry))
    seen: set[Path] = set()
    while todo:
        arc, path = todo.pop()
        real = _inside(root, path)
        if real is None or "__pycache__" in arc.split("/"):
            continue
        if real.is_dir():
            if real in seen:
                continue  # a link cycle
            seen.add(real)
            todo += [(f"{arc}/{child.name}", child) for child in sorted(real.iterdir())]
        elif real.is_file() and not arc.endswith(".pyc"):
            found[arc] = real
            if len(found) > MAX_FILES:
                raise ValueError(f"{package.project} has more than {MAX_FILES} files")
    return sorted(found.items())


def build_wheel(root: Path, package: DebianPackage, target: Target,
                members: list[tuple[str, Path]] | None = None) -> bytes:
    """The wheel's bytes: the package's files (``members``, default: found in ``root``),
    METADATA from Debian's, WHEEL, RECORD."""
    name = wheel_name(package, target)
    dist_info = f"{name.split('-')[0]}-{package.version}.dist-info"
    meta_dir = package.metadata_dir
    metadata = (meta_dir / "PKG-INFO") if (meta_dir / "PKG-INFO").is_file() else (
        meta_dir / "METADATA")
    tag = name[:-4].split("-", 2)[2]
    extra = {
        f"{dist_info}/METADATA": metadata.read_bytes() if metadata.is_file() else (
            f"Metadata-Version: 2.1\nName: {package.project}\nVersion: {package.version}\n"
        ).encode(),
        f"{dist_info}/WHEEL": (f"Wheel-Version: 1.0\nGenerator: cross_compiler (from Debian's "
                               f"{target.debian_arch} package)\nRoot-Is-Purelib: false\n"
                               f"Tag: {tag}\n").encode(),
        f"{dist_info}/top_level.txt": "".join(f"{n}\n" for n in package.top_level).encode(),
    }
    buffer = io.BytesIO()
    record: list[str] = []
    total = 0
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        items = [(arc, path.read_bytes())
                 for arc, path in (members if members is not None else _members(root, package))]
        for arc, data in [*items, *sorted(extra.items())]:
            total += len(data)
            if total > MAX_BYTES:
                raise ValueError(f"{package.project} is larger than {MAX_BYTES} bytes")
            info = zipfile.ZipInfo(arc, _EPOCH_1980)
            info.external_attr = (0o755 if arc.endswith(".so") else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            record.append(f"{arc},sha256={digest.decode()},{len(data)}")
        record.append(f"{dist_info}/RECORD,,")
        info = zipfile.ZipInfo(f"{dist_info}/RECORD", _EPOCH_1980)
        info.external_attr = 0o644 << 16
        zf.writestr(info, "\n".join(record) + "\n", zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def debian_wheels(target: Target, root: Path, projects: tuple[str, ...],
                  cache_dir: Path) -> dict[str, bytes]:
    """``{wheel file name: bytes}`` of every project in ``projects`` the root has, made once
    and kept under ``cache_dir`` (written through a temporary file and a rename)."""
    wheels: dict[str, bytes] = {}
    for project in projects:
        package = find_project(root, project)
        if package is None:
            continue
        name = wheel_name(package, target)
        cached = cache_dir / "debian-wheels" / FORMAT / target.suite / target.debian_arch / name
        if cached.is_file():  # made (and judged) once: no walk of the root on each render
            wheels[name] = cached.read_bytes()
            continue
        suffix = f".cpython-{target.python_version.replace('.', '')}-{target.triple}.so"
        try:
            members = _members(root, package)
            extensions = [a for a, _ in members if ".cpython-" in a and a.endswith(".so")]
            if extensions and not any(a.endswith(suffix) for a in extensions):
                # Debian built it for other Pythons only (sid's numpy: 3.14, 3.15, not
                # 3.13): a wheel of it would import nowhere; pip then says it has none.
                log.info("%s: Debian's %s has no %s extensions: no fallback wheel",
                         target.cpu, project, suffix)
                continue
            data = build_wheel(root, package, target, members)
        except (OSError, ValueError) as e:
            log.warning("%s: no wheel from Debian's %s (%s)", target.cpu, project, e)
            continue
        log.info("%s: made %s from the target's Debian package", target.cpu, name)
        wheels[name] = data
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=cached.parent, prefix=".tmp-")
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, cached)
        except OSError as e:  # a read-only cache (the builder image's): made again next time
            log.debug("not caching %s: %s", name, e)
    return wheels


def member_names(wheel: bytes) -> list[str]:
    """The member names of a wheel made here (for tests and the log)."""
    with zipfile.ZipFile(io.BytesIO(wheel)) as zf:
        return [PurePosixPath(n).as_posix() for n in zf.namelist()]
