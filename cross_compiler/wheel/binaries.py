"""A wheel's ELF members against a target: the machine of each (from the header the archive
scan found), and for manylinux tags what they need from the system (bounded reads)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import PurePosixPath
from typing import IO, TYPE_CHECKING, TypeVar

from cross_compiler.display import shown
from cross_compiler.errors import CrossCompilerError
from cross_compiler.manylinuxpolicy import policy_glibc
from cross_compiler.toolchain.targets import Target
from cross_compiler.wheel import elf
from cross_compiler.wheel.archive import WheelArchive
from cross_compiler.wheel.platformtag import manylinux_policy, tag_arch
from cross_compiler.wheel.tags import WheelError, WheelName
from cross_compiler.wheel.zipio import ZipIOError

if TYPE_CHECKING:
    from cross_compiler.wheel.manylinux import ElfNeeds

T = TypeVar("T")

# ELF members are streamed for platform inference; above this declared size (no real shared
# library comes close) it is a bomb, and the platform has to be given instead.
ELF_INSPECT_LIMIT = 1 << 30


def elf_members(archive: WheelArchive) -> list[tuple[int, elf.ElfHeader]]:
    """Each ELF member's index and header, in archive order (the archive must have been
    opened with ``sniff_elf``); raises on a member whose first bytes could not be read."""
    found = []
    for i in sorted(archive.records.heads):
        head = archive.records.heads[i]
        if isinstance(head, ZipIOError):
            raise WheelError(f"{shown(archive.path.name)}: {head.message}") from head
        header = elf.parse_header(head)
        if header is not None:
            found.append((i, header))
    return found


def verify_binaries(archive: WheelArchive, target: Target) -> list[int]:
    """Every ELF member must be for the target; returns the ELF members' indices."""
    elves = []
    for i, header in elf_members(archive):
        problem = elf.mismatch(header, target.elf)
        if problem:
            raise WheelError(f"{shown(archive.path.name)}: "
                             f"{shown(archive.members[i].name)} {problem}",
                             f"the wheel was not built for {target.cpu}; "
                             "use --no-verify only if you know better")
        elves.append(i)
    return elves


def read_elf_member(archive: WheelArchive, i: int,
                    reader: Callable[[Callable[[], IO[bytes]]], T], *, limit: int,
                    purpose: str, hint: str, error: type[CrossCompilerError] = WheelError) -> T:
    """``reader`` over ELF member ``i``'s stream, with the one-line errors of a wheel: a
    declared size over ``limit`` (a bomb) refused before any read, a malformed ELF, a
    damaged member."""
    m, wheel = archive.members[i], shown(archive.path.name)
    if m.file_size > limit:
        raise error(f"{wheel}: {shown(m.name)} declares {m.file_size} bytes, more than the "
                    f"{limit >> 30} GiB inspected {purpose}", hint)
    try:
        return reader(archive.opener(i))
    except elf.ElfFormatError as e:
        raise error(f"{wheel}: {shown(m.name)} is a malformed ELF file ({e})",
                    "rebuild the wheel") from e
    except ZipIOError as e:
        raise error(f"{wheel}: {e.message}") from e
    except (ValueError, OSError) as e:
        detail = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise error(f"{wheel}: member {m.name!r} is damaged ({detail})") from e


def _elf_needs(archive: WheelArchive, elves: list[int], target: Target) -> list[ElfNeeds]:
    """What each ELF member needs from the system (bounded reads)."""
    from cross_compiler.wheel import manylinux  # the auditwheel policy table: only when needed

    return [read_elf_member(archive, i, manylinux.read_needs, limit=ELF_INSPECT_LIMIT,
                            purpose="to infer the platform",
                            hint=f"pass the platform tag explicitly, e.g. "
                                 f"linux_{target.wheel_arch}")
            for i in elves]


def _bundled(archive: WheelArchive, elves: list[int]) -> set[str]:
    return {PurePosixPath(archive.members[i].name).name for i in elves}


def infer_platform(archive: WheelArchive, elves: list[int], target: Target) -> tuple[str, str]:
    """The oldest manylinux tag the ELF members meet (or linux_*), and why."""
    from cross_compiler.wheel import manylinux

    needs = _elf_needs(archive, elves, target)
    choice = manylinux.choose_platform(needs, target.wheel_arch, _bundled(archive, elves))
    return choice.tag, choice.reason


def check_requested_platform(archive: WheelArchive, elves: list[int], target: Target,
                             platform: str) -> None:
    """An explicit manylinux tag the binaries do not meet is refused, as ``auto`` would
    never choose it: naming what they need beyond it and the tag they do meet."""
    from cross_compiler.wheel import manylinux

    policy = manylinux_policy(platform)
    if policy is None or not elves:
        return
    wheel = archive.path.name
    # A wheel that already claims an older-or-equal manylinux baseline for this very arch
    # (an auditwheel-repaired wheel, TensorFlow's own) meets a newer one by that claim:
    # its 800 MB of libraries need not be inflated again to say so.
    claimed = [manylinux_policy(p) for p in WheelName.parse(wheel).platforms
               if tag_arch(p) == target.wheel_arch]
    if any(c is not None and policy_glibc(c) <= policy_glibc(policy)
           for c in claimed):
        return
    needs = _elf_needs(archive, elves, target)
    bundled = _bundled(archive, elves)
    blockers = manylinux.too_new_for_wheel(needs, target.wheel_arch, policy, bundled)
    if blockers:
        fits = manylinux.choose_platform(needs, target.wheel_arch, bundled).tag
        raise WheelError(f"{shown(wheel)}: its binaries need {', '.join(blockers[:5])}, more "
                         "than "
                         f"{platform} allows (they meet {fits})",
                         "pass --platform=auto, or rebuild with --manylinux for that baseline")
