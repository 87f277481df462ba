"""Retag a wheel for a target: verify its binaries, then rewrite only WHEEL and RECORD.

Every other member's compressed bytes are copied raw; output goes to a temporary file
renamed into place; the input is never modified.
"""

from __future__ import annotations

import io
import logging
import os
import struct
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from cross_compiler import elf, manylinux
from cross_compiler.targets import Target
from cross_compiler.wheeltags import (
    WheelError,
    WheelName,
    check_tags_agree,
    extension_rename,
    new_record,
    new_wheel_metadata,
    parse_wheel_metadata,
)
from cross_compiler.zipio import FLAG_ENCRYPTED, Member, RawZipWriter, ZipIOError

log = logging.getLogger(__name__)

SIGNATURES = ("RECORD.jws", "RECORD.p7s")


@dataclass(frozen=True)
class RetagResult:
    path: Path
    platform: str
    reason: str
    renamed: dict[str, str]
    elf_members: tuple[str, ...]


def _safe_name(name: str, wheel: str) -> None:
    path = PurePosixPath(name)
    if name.startswith("/") or "\\" in name or ".." in path.parts or (
        len(name) > 1 and name[1] == ":"
    ):
        raise WheelError(f"{wheel}: unsafe member path {name!r}", "refusing to process it")


def _open(path: Path) -> tuple[zipfile.ZipFile, list[Member]]:
    try:
        zf = zipfile.ZipFile(path)
    except FileNotFoundError as e:
        raise WheelError(f"{path}: no such file") from e
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError,
            struct.error, UnicodeDecodeError) as e:
        raise WheelError(
            f"{path}: not a valid zip archive ({e})", "re-download or rebuild it"
        ) from e
    infos = zf.infolist()
    seen: set[str] = set()
    for info in infos:
        _safe_name(info.filename, path.name)
        if info.filename in seen:
            raise WheelError(f"{path.name}: duplicate member {info.filename!r}")
        seen.add(info.filename)
        if info.flag_bits & FLAG_ENCRYPTED:
            raise WheelError(f"{path.name}: member {info.filename!r} is encrypted",
                             "wheels cannot contain encrypted members")
    return zf, [Member.from_info(i) for i in infos]


def _read(zf: zipfile.ZipFile, name: str, wheel: str, limit: int = -1) -> bytes:
    try:
        with zf.open(name) as f:
            return f.read(limit)
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError,
            NotImplementedError) as e:
        raise WheelError(f"{wheel}: member {name!r} is damaged ({e})") from e


def _dist_info(members: list[Member], name: WheelName, wheel: str) -> str:
    dirs = {m.name.split("/", 1)[0] for m in members if "/" in m.name}
    candidates = sorted(d for d in dirs if d.endswith(".dist-info")
                        and d.split("-")[0].lower().replace(".", "_")
                        == name.distribution.lower().replace(".", "_"))
    if len(candidates) != 1:
        raise WheelError(f"{wheel}: expected one {name.distribution}-*.dist-info directory, "
                         f"found {candidates or 'none'}")
    return candidates[0]


def verify_binaries(zf: zipfile.ZipFile, members: list[Member], target: Target,
                    wheel: str) -> list[str]:
    """Every ELF member must be for the target; returns the ELF member names."""
    elves = []
    for m in members:
        if m.name.endswith("/"):
            continue
        header = elf.parse_header(_read(zf, m.name, wheel, 64))
        if header is None:
            continue
        problem = elf.mismatch(header, target.elf)
        if problem:
            raise WheelError(f"{wheel}: {m.name} {problem}",
                             f"the wheel was not built for {target.cpu}; "
                             "use --no-verify only if you know better")
        elves.append(m.name)
    return elves


def infer_platform(zf: zipfile.ZipFile, elves: list[str], target: Target,
                   wheel: str) -> manylinux.PlatformChoice:
    needs = []
    for name in elves:
        try:
            needs.append(manylinux.read_needs(io.BytesIO(_read(zf, name, wheel))))
        except ValueError as e:
            return manylinux.PlatformChoice(f"linux_{target.wheel_arch}", f"{name}: {e}")
    bundled = {PurePosixPath(n).name for n in elves}
    return manylinux.choose_platform(needs, target.wheel_arch, bundled)


def retag_wheel(path: Path, out_dir: Path, target: Target, platform: str = "auto",
                verify: bool = True) -> RetagResult:
    """Write ``path`` retagged for ``target`` into ``out_dir``; returns where and why."""
    if not path.is_file():
        raise WheelError(f"{path}: no such wheel file")
    name = WheelName.parse(path.name)
    zf, members = _open(path)
    with zf:
        dist_info = _dist_info(members, name, path.name)
        by_name = {m.name: m for m in members}
        wheel_member, record_member = f"{dist_info}/WHEEL", f"{dist_info}/RECORD"
        for needed in (wheel_member, record_member):
            if needed not in by_name:
                raise WheelError(f"{path.name}: missing {needed}", "the wheel is incomplete")
        metadata = parse_wheel_metadata(_read(zf, wheel_member, path.name), wheel_member)
        check_tags_agree(name, metadata, wheel_member)
        elves = verify_binaries(zf, members, target, path.name) if verify else [
            m.name for m in members if elf.parse_header(_read(zf, m.name, path.name, 64))
        ]
        if platform == "auto":
            choice = infer_platform(zf, elves, target, path.name)
        else:
            choice = manylinux.PlatformChoice(platform, "requested")
        log.info("%s: platform %s (%s)", path.name, choice.tag, choice.reason)
        was_pure = name.platforms == ("any",)
        new_name = name.with_platforms([choice.tag])
        renames = {m.name: r for m in members
                   if (r := extension_rename(m.name, target.triple)) is not None}
        new_wheel = new_wheel_metadata(metadata, new_name, pure_to_platform=was_pure)
        dropped = {f"{dist_info}/{s}" for s in SIGNATURES}
        record = new_record(_read(zf, record_member, path.name), renames,
                            {wheel_member: new_wheel}, dropped, record_member)
        out_dir.mkdir(parents=True, exist_ok=True)
        dest = out_dir / new_name.filename()
        if dest.resolve() == path.resolve():
            raise WheelError(f"{path}: retagging would overwrite the input",
                             "pass a different --out-dir")
        fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=f".{new_name.filename()}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as out, path.open("rb") as src:
                writer = RawZipWriter(out)
                for m in members:
                    if m.name in dropped:
                        continue
                    if m.name == wheel_member:
                        writer.write_new(m, new_wheel)
                    elif m.name == record_member:
                        writer.write_new(m, record)
                    elif m.name in renames:
                        writer.rename_raw(src, m, renames[m.name])
                    else:
                        writer.copy_raw(src, m)
                writer.finish(zf.comment)
            os.chmod(tmp, 0o644)
            os.replace(tmp, dest)
        except ZipIOError as e:
            Path(tmp).unlink(missing_ok=True)
            raise WheelError(f"{path.name}: {e.message}") from e
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return RetagResult(dest, choice.tag, choice.reason, renames, tuple(elves))
