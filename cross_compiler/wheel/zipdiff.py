"""What differs between two builds of one wheel: a small diffoscope-style summary.

Reads only the central directories (names, times, sizes, CRCs, modes), with the struct
reader retag uses (wheel/zipindex.py): nothing is inflated, so a hostile archive costs no
more than its own size. Pure apart from reading the two files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cross_compiler.wheel.zipindex import MAX_MEMBERS, find_end, read_index
from cross_compiler.wheel.zipio import Member, ZipIOError

__all__ = ["MAX_MEMBERS", "MemberDiff", "diff_zips", "first_byte_difference", "summary"]

SHOWN = 8  # members named in a summary; a wheel of 10 000 restamped members says how many


@dataclass(frozen=True)
class MemberDiff:
    """One member that differs; ``what`` names the aspects, in a fixed order."""

    member: str
    what: tuple[str, ...]  # timestamp, size, content, mode, compression, extra, order, only in …
    first: str  # the first build's values of those aspects
    second: str

    def line(self) -> str:
        return f"{self.member}: {', '.join(self.what)} ({self.first} -> {self.second})"


def _extra(m: Member) -> bytes:
    """The member's central extra fields as stored (ZIP64's included)."""
    if len(m.central) < 46:
        return m.extra
    name_len, extra_len = (int.from_bytes(m.central[at:at + 2], "little") for at in (28, 30))
    return m.central[46 + name_len:46 + name_len + extra_len]


def _facts(m: Member) -> dict[str, str]:
    d, t = m.dos_date, m.dos_time
    return {
        "timestamp": f"{(d >> 9) + 1980:04d}-{(d >> 5) & 0xF:02d}-{d & 0x1F:02d} "
                     f"{t >> 11:02d}:{(t >> 5) & 0x3F:02d}:{(t & 0x1F) * 2:02d}",
        "size": str(m.file_size),
        "content": f"crc {m.crc:08x}",
        "mode": oct((m.external_attr >> 16) & 0o7777),
        "compression": f"method {m.method}, {m.compress_size} bytes",
        "extra": _extra(m).hex() or "none",
    }


def _members(path: Path) -> tuple[Member, ...] | str:
    """The central directory, or why it cannot be read."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as e:
        return f"not a readable zip ({e})"
    try:
        return read_index(fd).members
    except ZipIOError as e:
        return f"not a readable zip ({e.message})"
    except (OSError, ValueError, OverflowError) as e:
        return f"not a readable zip ({e})"
    finally:
        os.close(fd)


def _is_zip(path: Path) -> bool:
    """An end of central directory record can be found (as zipfile.is_zipfile)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        find_end(fd)
    except (ZipIOError, OSError):
        return False
    finally:
        os.close(fd)
    return True


def diff_zips(first: Path, second: Path) -> list[MemberDiff]:
    """Every member whose entry differs, in the first archive's order, then members only in
    the second. Empty when the entries agree (the bytes may still differ: see
    ``first_difference``)."""
    a, b = _members(first), _members(second)
    if isinstance(a, str) or isinstance(b, str):
        return [MemberDiff("(archive)", ("readable",), a if isinstance(a, str) else "ok",
                           b if isinstance(b, str) else "ok")]
    in_b = {m.name: m for m in b}
    names_a = [m.name for m in a]
    diffs: list[MemberDiff] = []
    for member in a:
        other = in_b.get(member.name)
        if other is None:
            diffs.append(MemberDiff(member.name, ("only in first",), "present", "absent"))
            continue
        if member.central == other.central:  # the same entry, byte for byte
            continue
        fa, fb = _facts(member), _facts(other)
        what = tuple(k for k in fa if fa[k] != fb[k])
        if what:
            diffs.append(MemberDiff(member.name, what, "; ".join(fa[k] for k in what),
                                    "; ".join(fb[k] for k in what)))
    in_a = set(names_a)
    diffs += [MemberDiff(m.name, ("only in second",), "absent", "present")
              for m in b if m.name not in in_a]
    common_b = [m.name for m in b if m.name in in_a]
    common_a = [n for n in names_a if n in in_b]
    if not diffs and common_a != common_b:
        at = next(i for i, (x, y) in enumerate(zip(common_a, common_b, strict=True)) if x != y)
        diffs.append(MemberDiff(common_a[at], ("order",), f"position {at}",
                                f"position {common_b.index(common_a[at])}"))
    return diffs


def first_byte_difference(first: Path, second: Path, chunk: int = 1 << 20) -> str:
    """Where two files first differ, for artifacts that are no zip (or zips whose entries
    agree): offset and sizes; "" when they are identical."""
    size_a, size_b = first.stat().st_size, second.stat().st_size
    with first.open("rb") as fa, second.open("rb") as fb:
        offset = 0
        while True:
            a, b = fa.read(chunk), fb.read(chunk)
            if a != b:
                pairs = enumerate(zip(a, b, strict=False))
                at = next((i for i, (x, y) in pairs if x != y), min(len(a), len(b)))
                return f"bytes differ from offset {offset + at} (sizes {size_a} and {size_b})"
            if not a:
                return ""
            offset += len(a)


def summary(first: Path, second: Path) -> list[str]:
    """Lines naming what differs: for zips, the first differing member and what about it
    (then a few more, and how many others), else the first differing byte. Empty when
    identical."""
    if _is_zip(first) and _is_zip(second):
        diffs = diff_zips(first, second)
        if diffs:
            lines = [f"first differing member {diffs[0].line()}"]
            lines += [f"also {d.line()}" for d in diffs[1:SHOWN]]
            more = len(diffs) - SHOWN
            return lines + ([f"and {more} more members differ"] if more > 0 else [])
        where = first_byte_difference(first, second)
        return [f"members agree, archive layout differs: {where}"] if where else []
    where = first_byte_difference(first, second)
    return [where] if where else []
