"""A wheel's archive, checked once: the central directory and every local header read with
``struct`` (no ZipInfo per member), member names safe and unique, no encryption, methods
an installer reads. Retag and test-wheel open wheels through here, so both judge an
archive alike.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO

from cross_compiler.display import shown
from cross_compiler.wheel.elf import ELF_MAGIC
from cross_compiler.wheel.tags import WheelError, WheelName
from cross_compiler.wheel.zipindex import Records, ZipIndex, read_index, scan_records
from cross_compiler.wheel.zipio import FLAG_ENCRYPTED, READABLE_METHODS, Member, ZipIOError
from cross_compiler.wheel.zipread import open_member, read_member

TEXT_LIMIT = 64 << 20  # WHEEL and RECORD are read whole: a declared size above this is a bomb
_ELF_MIN = 52  # the smallest ELF header (32-bit)
# Substrings one of which any unsafe name (see unsafe_path) shows once every name is
# framed by NULs: a cheap test over all names at once; only a hit looks at each name.
# The "." or ".." parts all show "/." or "\0.", so only those look for them.
_UNSAFE_MARKS = ("\\", ":", "\0/", "//", "\0\0")
_DOT_MARKS = ("\0./", "\0../", "/./", "/../", "\0.\0", "\0..\0", "/.\0", "/..\0")


def _one_line(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]


def unsafe_path(name: str) -> bool:
    """Would ``name`` land outside the directory a wheel is installed into (absolute, a
    drive, ``..``, a backslash or NUL), or alias another name (``.`` or an empty part:
    ``a//b`` and ``./a/b`` are ``a/b``), or name nothing at all?"""
    parts = (name[:-1] if name.endswith("/") else name).split("/")
    return (not name or name.startswith("/") or "\\" in name or "\0" in name
            or any(p in ("", ".", "..") for p in parts) or (len(name) > 1 and name[1] == ":"))


def maybe_unsafe(names: list[str]) -> bool:
    """False only when no name is unsafe_path (one scan of them all; True may be wrong)."""
    framed = "\0" + "\0".join(names) + "\0"
    return (framed.count("\0") != len(names) + 1 or any(s in framed for s in _UNSAFE_MARKS)
            or (("/." in framed or "\0." in framed)
                and any(s in framed for s in _DOT_MARKS)))


@dataclass
class WheelArchive:
    """An open, checked wheel archive (a context manager: it holds the file open)."""

    path: Path
    fd: int
    index: ZipIndex
    records: Records
    by_name: dict[str, int] = field(default_factory=dict)

    @property
    def members(self) -> tuple[Member, ...]:
        return self.index.members

    def __enter__(self) -> WheelArchive:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        os.close(self.fd)

    def opener(self, i: int) -> Callable[[], IO[bytes]]:
        """A function opening member ``i``'s uncompressed bytes as a fresh stream."""
        return lambda: open_member(self.fd, self.members[i], self.records.data_offsets[i])

    def read(self, i: int, limit: int = -1) -> bytes:
        try:
            return read_member(self.fd, self.members[i], self.records.data_offsets[i], limit)
        except ZipIOError as e:
            raise WheelError(f"{shown(self.path.name)}: {e.message}") from e

    def read_text(self, i: int) -> bytes:
        """A small text member (WHEEL, RECORD) whole; a declared size over TEXT_LIMIT is
        refused before any read."""
        m = self.members[i]
        if m.file_size > TEXT_LIMIT:
            raise WheelError(f"{shown(self.path.name)}: {shown(m.name)} declares "
                             f"{m.file_size} bytes, more than {TEXT_LIMIT >> 20} MiB",
                             "the wheel is damaged or hostile")
        data = self.read(i, TEXT_LIMIT + 1)
        if len(data) > TEXT_LIMIT:
            raise WheelError(f"{shown(self.path.name)}: {shown(m.name)} is larger than "
                             f"{TEXT_LIMIT >> 20} MiB")
        return data


def _check_members(members: tuple[Member, ...], wheel: str) -> None:
    """Names safe and unique, no encryption, readable methods, offsets inside the file:
    tested over all members at once; only a failing archive is walked member by member,
    to name the first offender."""
    names = [m.name for m in members]
    if (not maybe_unsafe(names) and len(set(names)) == len(names)
            and not any(m.flags & FLAG_ENCRYPTED for m in members)
            and min((m.header_offset for m in members), default=0) >= 0
            and {m.method for m in members} <= READABLE_METHODS):
        return
    seen: set[str] = set()
    for m in members:
        if unsafe_path(m.name):
            raise WheelError(f"{shown(wheel)}: unsafe member path "
                             f"{m.name.split(chr(0))[0][:200]!r}",
                             "refusing to process it")
        if m.name in seen:
            raise WheelError(f"{shown(wheel)}: duplicate member {m.name!r}")
        seen.add(m.name)
        if m.flags & FLAG_ENCRYPTED:
            raise WheelError(f"{shown(wheel)}: member {m.name!r} is encrypted",
                             "wheels cannot contain encrypted members")
        if m.header_offset < 0:
            raise WheelError(f"{shown(wheel)}: member {m.name!r} starts before the archive "
                             "(shifted or truncated archive)", "re-download or rebuild it")
    for m in members:
        if m.method not in READABLE_METHODS:
            raise WheelError(f"{shown(wheel)}: member {m.name!r} is damaged or exotic: it uses "
                             f"compression method {m.method}, which wheel installers "
                             "cannot read",
                             "re-download or rebuild it")


def open_archive(path: Path, sniff_elf: bool = False) -> WheelArchive:
    """Open and check the wheel archive ``path``; with ``sniff_elf``, also find each ELF
    member's header (``records.heads``). Raises WheelError."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError as e:
        raise WheelError(f"{shown(path)}: no such file") from e
    except OSError as e:
        raise WheelError(f"{shown(path)}: cannot read it ({e.strerror or _one_line(e)})") from e
    try:
        try:
            index = read_index(fd)
        except ZipIOError as e:
            raise WheelError(f"{shown(path)}: not a valid zip archive ({e.message})",
                             "re-download or rebuild it") from e
        except (OSError, ValueError, OverflowError) as e:  # UnicodeDecodeError: a name
            raise WheelError(f"{shown(path)}: not a valid zip archive ({_one_line(e)})",
                             "re-download or rebuild it") from e
        _check_members(index.members, path.name)
        try:
            records = scan_records(fd, index, ELF_MAGIC if sniff_elf else b"", _ELF_MIN)
        except ZipIOError as e:
            raise WheelError(f"{shown(path.name)}: {e.message}", "re-download or rebuild it") from e
        except (OSError, OverflowError) as e:
            raise WheelError(f"{shown(path.name)}: cannot read it ({_one_line(e)})",
                             "re-download or rebuild it") from e
        return WheelArchive(path, fd, index, records,
                            {m.name: i for i, m in enumerate(index.members)})
    except BaseException:
        os.close(fd)
        raise


def dist_info_dir(members: tuple[Member, ...], name: WheelName, wheel: str) -> str:
    """The one ``<distribution>-*.dist-info`` directory of the wheel."""
    # Only a name holding ".dist-info/" can start with such a directory.
    dirs = {m.name.split("/", 1)[0] for m in members if ".dist-info/" in m.name}
    candidates = sorted(d for d in dirs if d.endswith(".dist-info")
                        and d.split("-")[0].lower().replace(".", "_")
                        == name.distribution.lower().replace(".", "_"))
    if len(candidates) != 1:
        raise WheelError(f"{shown(wheel)}: expected one {name.distribution}-*.dist-info "
                         f"directory, found {candidates or 'none'}")
    return candidates[0]


def check_archive(path: Path) -> list[str]:
    """Every member readable (its local header agreeing with the central directory), with
    a good CRC (streamed, constant memory); returns the member names. For test-wheel,
    before a wheel goes to the installer."""
    with open_archive(path) as archive:
        for i in range(len(archive.members)):
            try:
                with archive.opener(i)() as f:
                    while f.read(1 << 20):
                        pass
            except ZipIOError as e:
                raise WheelError(f"{shown(path.name)}: {e.message}",
                                 "re-download or rebuild the wheel") from e
        return [m.name for m in archive.members]
