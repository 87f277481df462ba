"""What differs between two builds of one wheel: a small diffoscope-style summary.

Reads only the central directories (names, times, sizes, CRCs, modes): nothing is
inflated, so a hostile archive costs no more than its own size. Pure apart from reading
the two files.
"""

from __future__ import annotations

import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path

MAX_MEMBERS = 1 << 20  # a bound on what is listed, far above any real wheel
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


def _facts(info: zipfile.ZipInfo) -> dict[str, str]:
    y, mo, d, h, mi, s = info.date_time
    return {
        "timestamp": f"{y:04d}-{mo:02d}-{d:02d} {h:02d}:{mi:02d}:{s:02d}",
        "size": str(info.file_size),
        "content": f"crc {info.CRC:08x}",
        "mode": oct((info.external_attr >> 16) & 0o7777),
        "compression": f"method {info.compress_type}, {info.compress_size} bytes",
        "extra": info.extra.hex() or "none",
    }


def _members(path: Path) -> list[zipfile.ZipInfo] | str:
    """The central directory, or why it cannot be read."""
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError,
            struct.error, UnicodeDecodeError, OverflowError) as e:
        return f"not a readable zip ({e})"
    if len(infos) > MAX_MEMBERS:
        return f"more than {MAX_MEMBERS} members"
    return infos


def diff_zips(first: Path, second: Path) -> list[MemberDiff]:
    """Every member whose entry differs, in the first archive's order, then members only in
    the second. Empty when the entries agree (the bytes may still differ: see
    ``first_difference``)."""
    a, b = _members(first), _members(second)
    if isinstance(a, str) or isinstance(b, str):
        return [MemberDiff("(archive)", ("readable",), a if isinstance(a, str) else "ok",
                           b if isinstance(b, str) else "ok")]
    in_b = {i.filename: i for i in b}
    names_a = [i.filename for i in a]
    diffs: list[MemberDiff] = []
    for info in a:
        other = in_b.get(info.filename)
        if other is None:
            diffs.append(MemberDiff(info.filename, ("only in first",), "present", "absent"))
            continue
        fa, fb = _facts(info), _facts(other)
        what = tuple(k for k in fa if fa[k] != fb[k])
        if what:
            diffs.append(MemberDiff(info.filename, what, "; ".join(fa[k] for k in what),
                                    "; ".join(fb[k] for k in what)))
    in_a = set(names_a)
    diffs += [MemberDiff(i.filename, ("only in second",), "absent", "present")
              for i in b if i.filename not in in_a]
    common_b = [i.filename for i in b if i.filename in in_a]
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
    if zipfile.is_zipfile(first) and zipfile.is_zipfile(second):
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
