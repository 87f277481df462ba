"""test-wheel's host-side check of a wheel: everything that can be judged without the
target (every member readable, safe paths, RECORD right), and the validated names of the
modules to import, so a damaged or hostile archive is one line, not a traceback from the
target. Module names are data: validated as dotted Python names.
"""

from __future__ import annotations

import csv
import io
import keyword
import zipfile
from dataclasses import dataclass
from email.parser import Parser
from email.policy import compat32
from pathlib import Path, PurePosixPath

from installer.exceptions import InstallerError
from installer.sources import WheelFile
from packaging.utils import canonicalize_name

from cross_compiler.wheel.requires import Need, RequirementError, requires_dist
from cross_compiler.wheel.retag import TEXT_LIMIT, check_archive, unsafe_path
from cross_compiler.wheel.tags import (
    WheelError,
    WheelName,
    check_tags_agree,
    parse_wheel_metadata,
)

TOP_LEVEL_LIMIT = 1 << 20  # top_level.txt is a few names; more than this is not one
MAX_MODULES = 1000
# Top-level entries that are installed but are not modules to import: auditwheel's bundled
# libraries (numpy.libs/), PEP 561 stub-only packages (foo-stubs/), bytecode caches.
_NOT_MODULES = (".libs", "-stubs", ".dist-info", ".data")
_MODULE_SUFFIXES = (".py", ".pyc", ".so")


@dataclass(frozen=True)
class CheckedWheel:
    """A wheel that passed the host-side checks, the modules to import from it and what it
    requires (its METADATA's Requires-Dist, validated; markers not evaluated yet)."""

    path: Path
    dist_info: str
    modules: tuple[str, ...]
    name: WheelName
    requires: tuple[Need, ...] = ()


def is_module_name(name: str) -> bool:
    """A dotted Python module name (``a``, ``a.b``): identifiers, no keywords."""
    parts = name.split(".")
    return all(p.isidentifier() and not keyword.iskeyword(p) for p in parts)


def _module_of(path: str) -> str | None:
    """The top-level module a wheel member installs, or None when it installs none."""
    parts = PurePosixPath(path).parts
    if len(parts) > 2 and parts[0].endswith(".data") and parts[1] in ("purelib", "platlib"):
        parts = parts[2:]  # installed into site-packages like the wheel's root
    if not parts or parts[0].endswith(_NOT_MODULES) or parts[0] == "__pycache__":
        return None
    if len(parts) > 1:
        return parts[0] if is_module_name(parts[0]) else None
    if not parts[0].endswith(_MODULE_SUFFIXES):
        return None  # .pth files, data files at the root
    stem = parts[0].split(".", 1)[0]  # mod.cpython-311-aarch64-linux-gnu.so -> mod
    return stem if is_module_name(stem) else None


def _top_level_txt(text: str, wheel: str) -> list[str]:
    modules = []
    for line in text.splitlines():
        name = line.strip()
        if not name or name.endswith(_NOT_MODULES):
            continue
        if not is_module_name(name):
            raise WheelError(f"{wheel}: top_level.txt names {name[:80]!r}, which is not a "
                             "Python module name", "fix top_level.txt in the wheel")
        modules.append(name)
    return modules


def _read_small(zf: zipfile.ZipFile, name: str, limit: int, wheel: str) -> str:
    info = zf.getinfo(name)
    if info.file_size > limit:
        raise WheelError(f"{wheel}: {name} declares {info.file_size} bytes, more than {limit}",
                         "the wheel is damaged or hostile")
    with zf.open(info) as f:
        data = f.read(limit + 1)
    try:
        return data[:limit].decode("utf-8")
    except UnicodeDecodeError as e:
        raise WheelError(f"{wheel}: {name} is not UTF-8 text") from e


def _check_record(text: str, record: str, wheel: str) -> None:
    """Every RECORD row has three fields and a safe relative path."""
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error as e:
        raise WheelError(f"{wheel}: {record} is not a readable RECORD ({e})") from e
    for row in rows:
        if not row:
            continue
        if len(row) != 3:
            raise WheelError(f"{wheel}: {record} row {row[:3]!r} does not have 3 fields",
                             "rebuild the wheel")
        if row[0] in ("", ".") or unsafe_path(row[0].replace("\\", "/")):
            raise WheelError(f"{wheel}: {record} lists the unsafe path {row[0][:200]!r}",
                             "refusing to install it")


def _requires(zf: zipfile.ZipFile, metadata: str, wheel: str, name: WheelName
              ) -> tuple[Need, ...]:
    """Requires-Dist of METADATA, whose Name must be the file name's distribution."""
    text = _read_small(zf, metadata, TOP_LEVEL_LIMIT, wheel)
    declared = str(Parser(policy=compat32).parsestr(text, headersonly=True).get("Name") or "")
    if canonicalize_name(declared) != canonicalize_name(name.distribution):
        raise WheelError(f"{wheel}: METADATA names the distribution {declared[:80]!r}, not "
                         f"{name.distribution!r}", "the wheel is inconsistent; rebuild it")
    try:
        return tuple(requires_dist(text, f"{name.distribution} {name.version}"))
    except RequirementError as e:
        raise WheelError(e.message, "the wheel's METADATA is damaged or hostile") from e


def check_wheel(wheel: Path) -> CheckedWheel:
    """Everything test-wheel can check without the target: a readable archive (every
    member's CRC), a valid name, one dist-info, WHEEL tags matching the name, RECORD
    matching the members, the validated names of the modules to import and its validated
    requirements. Raises WheelError (one line)."""
    if not wheel.is_file():
        raise WheelError(f"{wheel}: no such wheel file")
    name = WheelName.parse(wheel.name)
    names = check_archive(wheel)
    try:
        with zipfile.ZipFile(wheel) as zf:
            source = WheelFile(zf)
            dist_info = source.dist_info_dir
            record, metadata = f"{dist_info}/RECORD", f"{dist_info}/WHEEL"
            for needed in (record, metadata):
                if needed not in names:
                    raise WheelError(f"{wheel.name}: missing {needed}", "the wheel is incomplete")
            text = _read_small(zf, metadata, TOP_LEVEL_LIMIT, wheel.name)
            check_tags_agree(name, parse_wheel_metadata(text.encode(), metadata), metadata)
            _check_record(_read_small(zf, record, TEXT_LIMIT, wheel.name), record, wheel.name)
            source.validate_record()
            top_level = f"{dist_info}/top_level.txt"
            modules = (_top_level_txt(_read_small(zf, top_level, TOP_LEVEL_LIMIT, wheel.name),
                                      wheel.name) if top_level in names
                       else [m for m in map(_module_of, names) if m])
            requires = (_requires(zf, f"{dist_info}/METADATA", wheel.name, name)
                        if f"{dist_info}/METADATA" in names else ())
    except InstallerError as e:
        detail = "; ".join(getattr(e, "issues", None) or [str(e)])
        raise WheelError(f"{wheel.name}: {detail.splitlines()[0][:300]}",
                         "the wheel is damaged or inconsistent; rebuild it") from e
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as e:
        raise WheelError(f"{wheel.name}: cannot read it ({type(e).__name__}: {e})") from e
    unique = tuple(sorted(set(modules)))
    if len(unique) > MAX_MODULES:
        raise WheelError(f"{wheel.name}: {len(unique)} top-level modules (more than "
                         f"{MAX_MODULES})", "the wheel is damaged or hostile")
    return CheckedWheel(wheel, dist_info, unique, name, requires)


def top_level_modules(wheel: Path) -> list[str]:
    """Importable top-level names: top_level.txt if present, else derived from the members."""
    return list(check_wheel(wheel).modules)
