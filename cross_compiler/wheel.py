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
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from cross_compiler import elf
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
from cross_compiler.zipio import (
    FLAG_ENCRYPTED,
    Member,
    RawZipWriter,
    ZipIOError,
    read_head,
    verbatim_ok,
)

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
    if name.startswith("/") or "\\" in name or ".." in name.split("/") or (
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


def _heads(path: Path, zf: zipfile.ZipFile, members: list[Member]) -> Iterator[
        tuple[Member, elf.ElfHeader]]:
    """Each ELF member with its header, read from the raw archive (one cheap read each)."""
    with path.open("rb") as f:
        for m in members:
            if m.name.endswith("/") or m.file_size < 52:
                continue
            try:
                head = read_head(f, m)
            except ZipIOError as e:
                raise WheelError(f"{path.name}: {e.message}") from e
            if head is None:
                head = _read(zf, m.name, path.name, 64)
            header = elf.parse_header(head)
            if header is not None:
                yield m, header


def verify_binaries(path: Path, zf: zipfile.ZipFile, members: list[Member],
                    target: Target) -> list[str]:
    """Every ELF member must be for the target; returns the ELF member names."""
    elves, wheel = [], path.name
    for m, header in _heads(path, zf, members):
        problem = elf.mismatch(header, target.elf)
        if problem:
            raise WheelError(f"{wheel}: {m.name} {problem}",
                             f"the wheel was not built for {target.cpu}; "
                             "use --no-verify only if you know better")
        elves.append(m.name)
    return elves


def infer_platform(zf: zipfile.ZipFile, elves: list[str], target: Target,
                   wheel: str) -> tuple[str, str]:
    from cross_compiler import manylinux  # pyelftools: only when inferring

    needs = []
    for name in elves:
        try:
            needs.append(manylinux.read_needs(io.BytesIO(_read(zf, name, wheel))))
        except ValueError as e:
            return f"linux_{target.wheel_arch}", f"{name}: {e}"
    bundled = {PurePosixPath(n).name for n in elves}
    choice = manylinux.choose_platform(needs, target.wheel_arch, bundled)
    return choice.tag, choice.reason


def _central_start(zf: zipfile.ZipFile) -> int:
    return int(zf.start_dir)  # where the central directory begins: the end of the records


def _write_members(writer: RawZipWriter, src: BinaryIO, members: list[Member],
                   records_end: int, replaced: dict[str, bytes], renames: dict[str, str],
                   dropped: set[str]) -> None:
    """Members in file order; consecutive unchanged ones go out as one verbatim range."""
    ordered = sorted(members, key=lambda m: m.header_offset)
    ends = [m.header_offset for m in ordered[1:]] + [records_end]
    run: list[Member] = []
    run_end = 0

    def flush() -> None:
        nonlocal run
        if run:
            writer.copy_records(src, run, run_end)
            run = []

    for m, end in zip(ordered, ends, strict=True):
        if end < m.header_offset:
            raise ZipIOError(f"member {m.name!r} overlaps the next one")
        unchanged = m.name not in replaced and m.name not in renames and m.name not in dropped
        if unchanged and verbatim_ok(src, m, end):
            if run and run_end != m.header_offset:
                flush()
            run.append(m)
            run_end = end
            continue
        flush()
        if m.name in dropped:
            continue
        if m.name in replaced:
            writer.write_new(m, replaced[m.name])
        elif m.name in renames:
            writer.rename_raw(src, m, renames[m.name])
        else:
            writer.copy_raw(src, m)
    flush()


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
        elves = (verify_binaries(path, zf, members, target) if verify
                 else [m.name for m, _ in _heads(path, zf, members)])
        if platform == "auto":
            choice_tag, reason = infer_platform(zf, elves, target, path.name)
        else:
            choice_tag, reason = platform, "requested"
        log.info("%s: platform %s (%s)", path.name, choice_tag, reason)
        was_pure = name.platforms == ("any",)
        new_name = name.with_platforms([choice_tag])
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
            # Unbuffered: runs of unchanged records are copied by the kernel at its offset.
            with os.fdopen(fd, "wb", buffering=0) as out, path.open("rb") as src:
                writer = RawZipWriter(out)
                replaced = {wheel_member: new_wheel, record_member: record}
                _write_members(writer, src, members, _central_start(zf), replaced,
                               renames, dropped)
                writer.finish(zf.comment)
            os.chmod(tmp, 0o644)
            os.replace(tmp, dest)
        except ZipIOError as e:
            Path(tmp).unlink(missing_ok=True)
            raise WheelError(f"{path.name}: {e.message}") from e
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return RetagResult(dest, choice_tag, reason, renames, tuple(elves))
