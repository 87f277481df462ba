"""Retag a wheel for a target: verify its binaries, then rewrite only WHEEL and RECORD.

The central directory is read once (wheel/zipindex.py); the local records of unchanged
members are copied as whole byte ranges by the kernel (behind the new WHEEL, in a thread
while RECORD is deflated), and their central entries as stored (only the offset patched
when a record moves). Every wheel of a call is checked, and every output name compared
with every input, before anything is written; outputs go to temporary files renamed into
place at the end; inputs are never modified.
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cross_compiler.errors import ConfigError
from cross_compiler.toolchain.targets import Target
from cross_compiler.wheel.archive import (
    TEXT_LIMIT,
    WheelArchive,
    check_archive,
    dist_info_dir,
    open_archive,
    unsafe_path,
)
from cross_compiler.wheel.binaries import (
    check_requested_platform,
    elf_members,
    infer_platform,
    verify_binaries,
)
from cross_compiler.wheel.platformtag import check_platform
from cross_compiler.wheel.pyabi import check_python_abi
from cross_compiler.wheel.tags import (
    WheelError,
    WheelName,
    check_tags_agree,
    extension_rename,
    new_record,
    new_wheel_metadata,
    parse_wheel_metadata,
)
from cross_compiler.wheel.zipio import Member, RawZipWriter, ZipIOError

__all__ = ["TEXT_LIMIT", "CopyRun", "Fresh", "RetagPlan", "RetagResult", "check_archive",
           "plan_retag", "retag_wheel", "retag_wheels", "unsafe_path"]

log = logging.getLogger(__name__)

SIGNATURES = ("RECORD.jws", "RECORD.p7s")


@dataclass(frozen=True)
class RetagResult:
    path: Path
    platform: str
    reason: str
    renamed: dict[str, str]
    elf_members: tuple[str, ...]
    python: str = ""  # the target CPython the build that made it compiled for, when known


@dataclass(frozen=True)
class CopyRun:
    """Consecutive unchanged local records, copied as one byte range ending at ``end``."""

    members: tuple[Member, ...]
    end: int


@dataclass(frozen=True)
class Fresh:
    """One member behind a new local header: its stored bytes copied from ``data_offset``
    (a renamed member, or a record that cannot be copied whole), or ``data`` deflated."""

    member: Member
    data_offset: int = -1
    data: bytes | None = None


@dataclass(frozen=True)
class RetagPlan:
    """Everything a retag will write, computed (and checked) before any write. The output
    holds the new WHEEL, the runs (the kernel copies them while the rest is made), then
    the other fresh members; its central directory keeps the input's order."""

    source: Path
    dest: Path
    platform: str
    reason: str
    runs: tuple[CopyRun, ...]  # in file order
    fresh: tuple[Fresh, ...]  # in file order
    comment: bytes
    renames: dict[str, str]
    elf_members: tuple[str, ...]

    def result(self) -> RetagResult:
        return RetagResult(self.dest, self.platform, self.reason, self.renames,
                           self.elf_members)


def _one_line(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]


def _renames(members: tuple[Member, ...], target: Target, wheel: str) -> dict[str, str]:
    """Host-suffixed extensions -> the target's suffix; refused when that name is taken."""
    renames: dict[str, str] = {}
    taken: dict[str, str] | None = None
    for m in members:
        # extension_rename only matches names ending in ".so" (its "$" also before a "\n").
        if not m.name.endswith((".so", ".so\n")):
            continue
        new = extension_rename(m.name, target.triple)
        if new is None:
            continue
        if taken is None:
            taken = {m.name: m.name for m in members}
        if new in taken:
            raise WheelError(f"{wheel}: renaming {m.name} to {new} would clash with "
                             f"{taken[new]}", "the wheel holds extensions for two platforms; "
                             "remove one")
        taken[new] = m.name
        renames[m.name] = new
    return renames


def _layout(archive: WheelArchive, replaced: dict[str, bytes], renames: dict[str, str],
            dropped: frozenset[str]) -> tuple[tuple[CopyRun, ...], tuple[Fresh, ...]]:
    """Runs of records copied whole and members written anew, each in file order."""
    members, records = archive.members, archive.records
    runs: list[CopyRun] = []
    fresh: list[Fresh] = []
    run: list[Member] = []
    run_end = 0
    for i in records.order:
        m = members[i]
        if m.name in replaced or m.name in renames or m.name in dropped:
            pass
        elif records.verbatim[i]:
            run.append(m)
            run_end = records.ends[i]
            continue
        if run:
            runs.append(CopyRun(tuple(run), run_end))
            run = []
        if m.name in dropped:
            continue
        if m.name in replaced:
            fresh.append(Fresh(m, data=replaced[m.name]))
        elif m.name in renames:
            fresh.append(Fresh(m.renamed(renames[m.name]), records.data_offsets[i]))
        else:
            fresh.append(Fresh(m, records.data_offsets[i]))
    if run:
        runs.append(CopyRun(tuple(run), run_end))
    return tuple(runs), tuple(fresh)


def plan_retag(path: Path, out_dir: Path, target: Target, platform: str = "auto",
               verify: bool = True) -> RetagPlan:
    """Read and check ``path``; compute its new name, WHEEL and RECORD. Writes nothing."""
    check_platform(platform, target.wheel_arch, target.cpu)
    if not path.is_file():
        raise WheelError(f"{path}: no such wheel file")
    name = WheelName.parse(path.name)
    with open_archive(path, sniff_elf=True) as archive:
        members, by_name = archive.members, archive.by_name
        dist_info = dist_info_dir(members, name, path.name)
        wheel_member, record_member = f"{dist_info}/WHEEL", f"{dist_info}/RECORD"
        for needed in (wheel_member, record_member):
            if needed not in by_name:
                raise WheelError(f"{path.name}: missing {needed}", "the wheel is incomplete")
        metadata = parse_wheel_metadata(archive.read_text(by_name[wheel_member]),
                                        wheel_member)
        check_tags_agree(name, metadata, wheel_member)
        elves = (verify_binaries(archive, target) if verify
                 else [i for i, _ in elf_members(archive)])
        if verify:
            check_python_abi(archive, elves, name)
        if platform == "auto":
            choice_tag, reason = infer_platform(archive, elves, target)
        else:
            if verify:
                check_requested_platform(archive, elves, target, platform)
            choice_tag, reason = platform, "requested"
        was_pure = name.platforms == ("any",)
        new_name = name.with_platforms([choice_tag])
        renames = _renames(members, target, path.name)
        new_wheel = new_wheel_metadata(metadata, new_name, pure_to_platform=was_pure)
        dropped = frozenset(f"{dist_info}/{s}" for s in SIGNATURES)
        record = new_record(archive.read_text(by_name[record_member]), renames,
                            {wheel_member: new_wheel}, set(dropped), record_member)
        runs, fresh = _layout(archive, {wheel_member: new_wheel, record_member: record},
                              renames, dropped)
        return RetagPlan(
            source=path, dest=out_dir / new_name.filename(), platform=choice_tag,
            reason=reason, runs=runs, fresh=fresh, comment=archive.index.comment,
            renames=renames, elf_members=tuple(members[i].name for i in elves),
        )


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
        # Unbuffered: records are copied by the kernel at the descriptor's offset.
        with (os.fdopen(fd, "wb", buffering=0) as out, plan.source.open("rb") as src,
              RawZipWriter(out) as writer):
            # The smallest new member (WHEEL) goes first, padded to place the copy well.
            lead = min((f for f in plan.fresh if f.data is not None),
                       key=lambda f: len(f.data or b""), default=None)
            writer.copy_runs(plan.source, tmp, [(list(r.members), r.end) for r in plan.runs],
                             (lead.member, lead.data) if lead and lead.data is not None
                             else None)
            for step in plan.fresh:
                if step is lead:
                    continue
                if step.data is not None:
                    writer.write_new(step.member, step.data)
                else:
                    writer.copy_raw(src, step.member, step.data_offset)
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
