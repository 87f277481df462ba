"""Retag a wheel for a target: verify its binaries, then rewrite only WHEEL and RECORD.

Every other member's compressed bytes are copied raw; every wheel of a call is checked,
and every output name compared with every input, before anything is written; outputs go
to temporary files renamed into place at the end; inputs are never modified.
"""

from __future__ import annotations

import logging
import os
import struct
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING, BinaryIO

from cross_compiler.errors import ConfigError
from cross_compiler.toolchain.targets import Target
from cross_compiler.wheel import elf
from cross_compiler.wheel.platformtag import check_platform, manylinux_policy, tag_arch
from cross_compiler.wheel.tags import (
    WheelError,
    WheelName,
    check_tags_agree,
    extension_rename,
    new_record,
    new_wheel_metadata,
    parse_wheel_metadata,
)
from cross_compiler.wheel.zipio import (
    FLAG_ENCRYPTED,
    Member,
    RawZipWriter,
    ZipIOError,
    check_local_header,
    read_head,
    verbatim_ok,
)

if TYPE_CHECKING:
    from cross_compiler.wheel.manylinux import ElfNeeds

log = logging.getLogger(__name__)

SIGNATURES = ("RECORD.jws", "RECORD.p7s")
TEXT_LIMIT = 64 << 20  # WHEEL and RECORD are read whole: a declared size above this is a bomb
# ELF members are streamed for platform inference; above this declared size (no real shared
# library comes close) it is a bomb, and the platform has to be given instead.
ELF_INSPECT_LIMIT = 1 << 30
# What reading a member can raise on a damaged archive, besides our own errors.
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError,
               NotImplementedError, RuntimeError, struct.error, OverflowError)


@dataclass(frozen=True)
class RetagResult:
    path: Path
    platform: str
    reason: str
    renamed: dict[str, str]
    elf_members: tuple[str, ...]


@dataclass(frozen=True)
class RetagPlan:
    """Everything a retag will write, computed (and checked) before any write."""

    source: Path
    dest: Path
    platform: str
    reason: str
    members: tuple[Member, ...]
    records_end: int  # where the central directory begins: the end of the records
    comment: bytes
    replaced: dict[str, bytes]
    renames: dict[str, str]
    dropped: frozenset[str]
    elf_members: tuple[str, ...]

    def result(self) -> RetagResult:
        return RetagResult(self.dest, self.platform, self.reason, self.renames,
                           self.elf_members)


def _one_line(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]


def unsafe_path(name: str) -> bool:
    """Would ``name`` land outside the directory a wheel is installed into (absolute, a
    drive, ``..``, a backslash or NUL), or alias another name (``.`` or an empty part:
    ``a//b`` and ``./a/b`` are ``a/b``), or name nothing at all?"""
    parts = (name[:-1] if name.endswith("/") else name).split("/")
    return (not name or name.startswith("/") or "\\" in name or "\0" in name
            or any(p in ("", ".", "..") for p in parts) or (len(name) > 1 and name[1] == ":"))


def _safe_name(info: zipfile.ZipInfo, wheel: str) -> None:
    if unsafe_path(info.filename) or "\0" in info.orig_filename:
        raise WheelError(f"{wheel}: unsafe member path {info.filename[:200]!r}",
                         "refusing to process it")


def _open(path: Path) -> tuple[zipfile.ZipFile, list[Member]]:
    try:
        zf = zipfile.ZipFile(path)
    except FileNotFoundError as e:
        raise WheelError(f"{path}: no such file") from e
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError,
            struct.error, UnicodeDecodeError, OverflowError) as e:
        raise WheelError(
            f"{path}: not a valid zip archive ({_one_line(e)})", "re-download or rebuild it"
        ) from e
    try:
        infos = zf.infolist()
        seen: set[str] = set()
        for info in infos:
            _safe_name(info, path.name)
            if info.filename in seen:
                raise WheelError(f"{path.name}: duplicate member {info.filename!r}")
            seen.add(info.filename)
            if info.flag_bits & FLAG_ENCRYPTED:
                raise WheelError(f"{path.name}: member {info.filename!r} is encrypted",
                                 "wheels cannot contain encrypted members")
            if info.header_offset < 0:
                raise WheelError(f"{path.name}: member {info.filename!r} starts before the "
                                 "archive (shifted or truncated archive)",
                                 "re-download or rebuild it")
        return zf, [Member.from_info(i) for i in infos]
    except BaseException:
        zf.close()
        raise


def _read(zf: zipfile.ZipFile, name: str, wheel: str, limit: int = -1) -> bytes:
    try:
        with zf.open(name) as f:
            return f.read(limit)
    except _ZIP_ERRORS as e:
        raise WheelError(f"{wheel}: member {name!r} is damaged ({_one_line(e)})") from e


def _read_text(zf: zipfile.ZipFile, member: Member, wheel: str) -> bytes:
    if member.file_size > TEXT_LIMIT:
        raise WheelError(f"{wheel}: {member.name} declares {member.file_size} bytes, more than "
                         f"{TEXT_LIMIT >> 20} MiB", "the wheel is damaged or hostile")
    data = _read(zf, member.name, wheel, TEXT_LIMIT + 1)
    if len(data) > TEXT_LIMIT:
        raise WheelError(f"{wheel}: {member.name} is larger than {TEXT_LIMIT >> 20} MiB")
    return data


def check_archive(path: Path) -> list[str]:
    """Every member readable, with a good CRC (streamed, constant memory); returns the
    member names. For test-wheel, before a wheel goes to the installer."""
    zf, members = _open(path)
    with zf:
        for m in members:
            try:
                with zf.open(m.name) as f:
                    while f.read(1 << 20):
                        pass
            except _ZIP_ERRORS as e:
                raise WheelError(f"{path.name}: member {m.name!r} is damaged ({_one_line(e)})",
                                 "re-download or rebuild the wheel") from e
        return [m.name for m in members]


def _dist_info(members: list[Member], name: WheelName, wheel: str) -> str:
    dirs = {m.name.split("/", 1)[0] for m in members if "/" in m.name}
    candidates = sorted(d for d in dirs if d.endswith(".dist-info")
                        and d.split("-")[0].lower().replace(".", "_")
                        == name.distribution.lower().replace(".", "_"))
    if len(candidates) != 1:
        raise WheelError(f"{wheel}: expected one {name.distribution}-*.dist-info directory, "
                         f"found {candidates or 'none'}")
    return candidates[0]


def _check_local_headers(path: Path, members: list[Member]) -> None:
    """Every member's local header agrees with the central directory (one small read each)."""
    with path.open("rb") as f:
        for m in members:
            try:
                check_local_header(f, m)
            except ZipIOError as e:
                raise WheelError(f"{path.name}: {e.message}", "re-download or rebuild it") from e


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


def _elf_needs(zf: zipfile.ZipFile, elves: list[Member], target: Target,
               wheel: str) -> list[ElfNeeds]:
    """What each ELF member needs from the system (bounded reads)."""
    from cross_compiler.wheel import manylinux  # the auditwheel policy table: only when needed

    needs = []
    for m in elves:
        if m.file_size > ELF_INSPECT_LIMIT:
            raise WheelError(
                f"{wheel}: {m.name} declares {m.file_size} bytes, more than the "
                f"{ELF_INSPECT_LIMIT >> 30} GiB inspected to infer the platform",
                f"pass the platform tag explicitly, e.g. linux_{target.wheel_arch}")

        def open_member(name: str = m.name) -> IO[bytes]:
            return zf.open(name)

        try:
            needs.append(manylinux.read_needs(open_member))
        except elf.ElfFormatError as e:
            raise WheelError(f"{wheel}: {m.name} is a malformed ELF file ({e})",
                             "rebuild the wheel") from e
        except _ZIP_ERRORS as e:
            raise WheelError(f"{wheel}: member {m.name!r} is damaged ({_one_line(e)})") from e
    return needs


def infer_platform(zf: zipfile.ZipFile, elves: list[Member], target: Target,
                   wheel: str) -> tuple[str, str]:
    from cross_compiler.wheel import manylinux

    needs = _elf_needs(zf, elves, target, wheel)
    bundled = {PurePosixPath(m.name).name for m in elves}
    choice = manylinux.choose_platform(needs, target.wheel_arch, bundled)
    return choice.tag, choice.reason


def check_requested_platform(zf: zipfile.ZipFile, elves: list[Member], target: Target,
                             wheel: str, platform: str) -> None:
    """An explicit manylinux tag the binaries do not meet is refused, as ``auto`` would
    never choose it: naming what they need beyond it and the tag they do meet."""
    from cross_compiler.wheel import manylinux

    policy = manylinux_policy(platform)
    if policy is None or not elves:
        return
    # A wheel that already claims an older-or-equal manylinux baseline for this very arch
    # (an auditwheel-repaired wheel, TensorFlow's own) meets a newer one by that claim:
    # its 800 MB of libraries need not be inflated again to say so.
    claimed = [manylinux_policy(p) for p in WheelName.parse(wheel).platforms
               if tag_arch(p) == target.wheel_arch]
    if any(c is not None and manylinux.policy_glibc(c) <= manylinux.policy_glibc(policy)
           for c in claimed):
        return
    needs = _elf_needs(zf, elves, target, wheel)
    bundled = {PurePosixPath(m.name).name for m in elves}
    blockers = manylinux.too_new_for_wheel(needs, target.wheel_arch, policy, bundled)
    if blockers:
        fits = manylinux.choose_platform(needs, target.wheel_arch, bundled).tag
        raise WheelError(f"{wheel}: its binaries need {', '.join(blockers[:5])}, more than "
                         f"{platform} allows (they meet {fits})",
                         "pass --platform=auto, or rebuild with --manylinux for that baseline")


def _renames(members: list[Member], target: Target, wheel: str) -> dict[str, str]:
    """Host-suffixed extensions -> the target's suffix; refused when that name is taken."""
    renames: dict[str, str] = {}
    taken = {m.name: m.name for m in members}
    for m in members:
        new = extension_rename(m.name, target.triple)
        if new is None:
            continue
        if new in taken:
            raise WheelError(f"{wheel}: renaming {m.name} to {new} would clash with "
                             f"{taken[new]}", "the wheel holds extensions for two platforms; "
                             "remove one")
        taken[new] = m.name
        renames[m.name] = new
    return renames


def plan_retag(path: Path, out_dir: Path, target: Target, platform: str = "auto",
               verify: bool = True) -> RetagPlan:
    """Read and check ``path``; compute its new name, WHEEL and RECORD. Writes nothing."""
    check_platform(platform, target.wheel_arch, target.cpu)
    if not path.is_file():
        raise WheelError(f"{path}: no such wheel file")
    name = WheelName.parse(path.name)
    zf, members = _open(path)
    with zf:
        _check_local_headers(path, members)
        dist_info = _dist_info(members, name, path.name)
        by_name = {m.name: m for m in members}
        wheel_member, record_member = f"{dist_info}/WHEEL", f"{dist_info}/RECORD"
        for needed in (wheel_member, record_member):
            if needed not in by_name:
                raise WheelError(f"{path.name}: missing {needed}", "the wheel is incomplete")
        metadata = parse_wheel_metadata(_read_text(zf, by_name[wheel_member], path.name),
                                        wheel_member)
        check_tags_agree(name, metadata, wheel_member)
        elves = (verify_binaries(path, zf, members, target) if verify
                 else [m.name for m, _ in _heads(path, zf, members)])
        if platform == "auto":
            choice_tag, reason = infer_platform(zf, [by_name[n] for n in elves], target,
                                                path.name)
        else:
            if verify:
                check_requested_platform(zf, [by_name[n] for n in elves], target, path.name,
                                         platform)
            choice_tag, reason = platform, "requested"
        was_pure = name.platforms == ("any",)
        new_name = name.with_platforms([choice_tag])
        renames = _renames(members, target, path.name)
        new_wheel = new_wheel_metadata(metadata, new_name, pure_to_platform=was_pure)
        dropped = frozenset(f"{dist_info}/{s}" for s in SIGNATURES)
        record = new_record(_read_text(zf, by_name[record_member], path.name), renames,
                            {wheel_member: new_wheel}, set(dropped), record_member)
        return RetagPlan(
            source=path, dest=out_dir / new_name.filename(), platform=choice_tag,
            reason=reason, members=tuple(members), records_end=int(zf.start_dir),
            comment=zf.comment, replaced={wheel_member: new_wheel, record_member: record},
            renames=renames, dropped=dropped, elf_members=tuple(elves),
        )


def _write_members(writer: RawZipWriter, src: BinaryIO, plan: RetagPlan) -> None:
    """Members in file order; consecutive unchanged ones go out as one verbatim range."""
    ordered = sorted(plan.members, key=lambda m: m.header_offset)
    ends = [m.header_offset for m in ordered[1:]] + [plan.records_end]
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
        unchanged = (m.name not in plan.replaced and m.name not in plan.renames
                     and m.name not in plan.dropped)
        if unchanged and verbatim_ok(src, m, end):
            if run and run_end != m.header_offset:
                flush()
            run.append(m)
            run_end = end
            continue
        flush()
        if m.name in plan.dropped:
            continue
        if m.name in plan.replaced:
            writer.write_new(m, plan.replaced[m.name])
        elif m.name in plan.renames:
            writer.rename_raw(src, m, plan.renames[m.name])
        else:
            writer.copy_raw(src, m)
    flush()


def _same_file(a: Path, b: Path) -> bool:
    if a.resolve() == b.resolve():
        return True
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def _check_outputs(plans: list[RetagPlan], inputs: list[Path]) -> None:
    """No output may be an input (of any wheel of the call) or another wheel's output."""
    for i, plan in enumerate(plans):
        for source in inputs:
            if _same_file(plan.dest, source):
                raise WheelError(f"{plan.source}: its retagged name {plan.dest} is the input "
                                 f"{source}, which it would overwrite",
                                 "pass a different --out-dir")
        for other in plans[:i]:
            if _same_file(plan.dest, other.dest):
                raise WheelError(f"{other.source} and {plan.source} would both be written "
                                 f"as {plan.dest}", "retag them into different --out-dir")


def _make_dir(directory: Path) -> None:
    try:
        if directory.exists() and not directory.is_dir():
            raise ConfigError(f"output directory {directory} is not a directory",
                              "pass a directory (or a new path) as --out-dir")
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"cannot create output directory {directory}: "
                          f"{e.strerror or _one_line(e)}",
                          "pass a writable directory as --out-dir") from e


def _write(plan: RetagPlan) -> Path:
    """Write the plan to a temporary file beside its destination; returns that file."""
    try:
        fd, name = tempfile.mkstemp(dir=plan.dest.parent, prefix=f".{plan.dest.name}.",
                                    suffix=".tmp")
    except OSError as e:
        raise ConfigError(f"cannot write into {plan.dest.parent}: {e.strerror or _one_line(e)}",
                          "pass a writable directory as --out-dir") from e
    tmp = Path(name)
    try:
        # Unbuffered: runs of unchanged records are copied by the kernel at its offset.
        with os.fdopen(fd, "wb", buffering=0) as out, plan.source.open("rb") as src:
            writer = RawZipWriter(out)
            _write_members(writer, src, plan)
            writer.finish(plan.comment)
        os.chmod(tmp, 0o644)
    except ZipIOError as e:
        tmp.unlink(missing_ok=True)
        raise WheelError(f"{plan.source.name}: {e.message}", "re-download or rebuild it") from e
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise ConfigError(f"cannot write {plan.dest}: {e.strerror or _one_line(e)}",
                          "check the output directory's space and permissions") from e
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def retag_wheels(paths: list[Path], out_dir: Path | None, target: Target,
                 platform: str = "auto", verify: bool = True) -> list[RetagResult]:
    """Retag each wheel for ``target`` into ``out_dir`` (None: beside its input). All are
    checked, and their output names compared with every input, before any write; the
    outputs appear only when every one has been written."""
    plans = [plan_retag(p, out_dir or p.parent, target, platform, verify) for p in paths]
    _check_outputs(plans, paths)
    for plan in plans:
        log.info("%s: platform %s (%s)", plan.source.name, plan.platform, plan.reason)
        _make_dir(plan.dest.parent)
    written: list[Path] = []
    try:
        for plan in plans:
            written.append(_write(plan))
        for plan, tmp in zip(plans, written, strict=True):
            os.replace(tmp, plan.dest)
    except OSError as e:
        raise ConfigError(f"cannot write into {out_dir}: {e.strerror or _one_line(e)}") from e
    finally:
        for tmp in written:
            tmp.unlink(missing_ok=True)
    return [plan.result() for plan in plans]


def retag_wheel(path: Path, out_dir: Path, target: Target, platform: str = "auto",
                verify: bool = True) -> RetagResult:
    """Write ``path`` retagged for ``target`` into ``out_dir``; returns where and why."""
    return retag_wheels([path], out_dir, target, platform, verify)[0]
