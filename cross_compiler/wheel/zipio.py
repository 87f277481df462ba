"""Raw ZIP member copying: compressed bytes go from input to output untouched.

``zipfile`` can only inflate and deflate again; a retag changes two small members, so
everything else is copied as stored bytes (near ``cp`` speed, constant memory): whole runs
of local records as kernel copies, their central directory entries as stored (only the
offset field patched when a record moves). Writes ZIP64 records whenever a size, offset or
count needs them; never writes data descriptors.
"""

from __future__ import annotations

import os
import struct
import threading
import zlib
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, NamedTuple

from cross_compiler.errors import CrossCompilerError

LOCAL_SIG = 0x04034B50
CENTRAL_SIG = 0x02014B50
ZIP64_EOCD_SIG = 0x06064B50
ZIP64_LOCATOR_SIG = 0x07064B50
EOCD_SIG = 0x06054B50
MAX32 = 0xFFFFFFFF
MAX16 = 0xFFFF
FLAG_ENCRYPTED = 0x1
FLAG_DATA_DESCRIPTOR = 0x8
FLAG_UTF8 = 0x800
STORED, DEFLATED, BZIP2, LZMA = 0, 8, 12, 14
READABLE_METHODS = frozenset({STORED, DEFLATED, BZIP2, LZMA})
ZIP64_EXTRA = 0x0001
UNICODE_PATH = 0x7075  # Info-ZIP Unicode Path extra field
CENTRAL_OFFSET_FIELD = 42  # where a central entry keeps its local header's offset
_COPY_CHUNK = 1 << 20
# The kernel copies a range 25-40 % slower (measured, Linux 6.18, ext4) unless it starts in
# the output at the same offset within a page as in the input, in the first page of a
# 64 KiB block; a run of records this long is placed so, behind a padded local header.
PAGE, BLOCK = 4096, 1 << 16
ALIGN_FROM = 16 << 20
PADDING_EXTRA = 0xD935  # the extra field Android's zipalign pads local headers with


class ZipIOError(CrossCompilerError):
    """A damaged or unsafe archive."""

    exit_code = 7


class Member(NamedTuple):
    """One archive member, as the central directory describes it (a tuple: a wheel can
    have tens of thousands, and each is built once)."""

    name: str
    # The name's bytes exactly as stored (UTF-8 with flag 0x800, else cp437 as Info-ZIP
    # writes them): written unchanged, so readers see the very names the input had.
    raw_name: bytes
    flags: int
    method: int
    dos_time: int
    dos_date: int
    crc: int
    compress_size: int
    file_size: int
    header_offset: int  # where its local header starts in the file
    external_attr: int
    create_system: int
    extra: bytes  # the central extra fields other than ZIP64's (Unicode Path, ...)
    # The central directory entry exactly as stored; b"" for an entry made anew.
    central: bytes

    def renamed(self, name: str) -> Member:
        """This member under a new name: UTF-8 (flagged when not ASCII), and without the
        Unicode Path field that would describe the old name."""
        flags = (self.flags | FLAG_UTF8) if not name.isascii() else (self.flags & ~FLAG_UTF8)
        return self._replace(name=name, raw_name=name.encode("utf-8"), flags=flags,
                             extra=strip_extra(self.extra, {UNICODE_PATH}), central=b"")


def strip_extra(extra: bytes, drop: set[int]) -> bytes:
    """``extra`` without the fields whose ids are in ``drop`` (and without a torn tail)."""
    kept, at = [], 0
    while at + 4 <= len(extra):
        tag, size = struct.unpack_from("<HH", extra, at)
        if at + 4 + size > len(extra):
            break
        if tag not in drop:
            kept.append(extra[at:at + 4 + size])
        at += 4 + size
    return b"".join(kept)


def copy_range(src: BinaryIO, dst: BinaryIO, start: int, length: int) -> None:
    """Copy bytes between files in the kernel where it can (copy_file_range, then
    sendfile), else by chunks. ``dst`` must be unbuffered so its position stays that of
    its descriptor."""
    src_fd, dst_fd = src.fileno(), dst.fileno()
    offset, left = start, length
    for kernel_copy in (_copy_file_range, _sendfile):
        try:
            while left:
                copied = kernel_copy(src_fd, dst_fd, left, offset)
                if copied == 0:
                    raise ZipIOError("the archive ends inside a member (truncated)")
                offset += copied
                left -= copied
            return
        except OSError:
            continue  # not supported here (old kernel, other file system): try the next
    src.seek(offset)
    while left:
        chunk = src.read(min(_COPY_CHUNK, left))
        if not chunk:
            raise ZipIOError("the archive ends inside a member (truncated)")
        dst.write(chunk)
        left -= len(chunk)


def _copy_file_range(src: int, dst: int, count: int, offset: int) -> int:
    return os.copy_file_range(src, dst, count, offset_src=offset)


def _sendfile(src: int, dst: int, count: int, offset: int) -> int:
    return os.sendfile(dst, src, offset, count)


def deflate(data: bytes) -> tuple[bytes, int]:
    """Raw-deflate ``data`` the way zipfile does; returns (compressed, crc)."""
    compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush(), zlib.crc32(data)


def moved_entry(member: Member, offset: int) -> bytes:
    """``member``'s central entry for a local record now at ``offset``: the stored entry
    with its offset field patched when that is all that changes, else written anew."""
    entry = member.central
    if entry:
        stored = int.from_bytes(entry[CENTRAL_OFFSET_FIELD:CENTRAL_OFFSET_FIELD + 4], "little")
        if stored == offset and stored != MAX32:
            return entry
        if stored != MAX32 and offset < MAX32:
            return (entry[:CENTRAL_OFFSET_FIELD] + offset.to_bytes(4, "little")
                    + entry[CENTRAL_OFFSET_FIELD + 4:])
    return central_entry(member, offset)


def central_entry(m: Member, offset: int) -> bytes:
    """A central directory entry for ``m`` with its local header at ``offset``."""
    fields, sizes = [], [m.file_size, m.compress_size, offset]
    for value in sizes:
        if value >= MAX32:
            fields.append(value)
    extra = struct.pack(f"<HH{len(fields)}Q", 1, 8 * len(fields), *fields) if fields else b""
    extra += m.extra
    if len(extra) > MAX16:
        raise ZipIOError(f"member {m.name!r} has too many extra fields")
    name = m.raw_name
    clamp = [MAX32 if v >= MAX32 else v for v in sizes]
    return struct.pack(
        "<IBBHHHHHIIIHHHHHII", CENTRAL_SIG, 45 if fields else 20, m.create_system,
        45 if fields else 20, m.flags, m.method, m.dos_time, m.dos_date, m.crc,
        clamp[1], clamp[0], len(name), len(extra), 0, 0, 0, m.external_attr, clamp[2],
    ) + name + extra


class _NewMember(NamedTuple):
    member: Member
    compressed: bytes


def _new_member(like: Member, data: bytes) -> _NewMember:
    """``data`` deflated, as a member taking its metadata (time, attributes) from ``like``."""
    compressed, crc = deflate(data)
    return _NewMember(like._replace(method=DEFLATED, crc=crc, compress_size=len(compressed),
                                    file_size=len(data), flags=like.flags & ~0x6, central=b""),
                      compressed)


class RawZipWriter:
    """Writes an archive to ``out`` (unbuffered, at its start): runs of whole records first,
    copied by the kernel in a background thread (so the members written anew, and the
    central directory, are made while it copies), then the members written anew. The
    central directory lists every member in the input's file order, wherever its record
    went. Use as a context manager: leaving it waits for the copy."""

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self._central: list[tuple[int, bytes]] = []  # (input offset: the order, entry)
        self._copier: threading.Thread | None = None
        self._copy_error: BaseException | None = None

    def __enter__(self) -> RawZipWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        if kind is None:
            self._wait()
        elif self._copier is not None:
            self._copier.join()  # the error in flight is the one to report

    def _local_header(self, m: Member, zip64: bool, padding: int = 0) -> bytes:
        extra = struct.pack("<HHQQ", 1, 16, m.file_size, m.compress_size) if zip64 else b""
        if padding:  # zipalign's field: its id, size, an alignment (none here), zeros
            extra += struct.pack("<HHH", PADDING_EXTRA, padding - 4, 0) + bytes(padding - 6)
        return struct.pack(
            "<IHHHHHIIIHH", LOCAL_SIG, 45 if zip64 else 20, m.flags, m.method, m.dos_time,
            m.dos_date, m.crc, MAX32 if zip64 else m.compress_size,
            MAX32 if zip64 else m.file_size, len(m.raw_name), len(extra),
        ) + m.raw_name + extra

    def _start(self, m: Member, padding: int = 0) -> None:
        """Write a fresh local header for ``m`` here and remember its central entry."""
        placed = m._replace(flags=m.flags & ~FLAG_DATA_DESCRIPTOR)
        offset = self._out.tell()
        zip64 = m.file_size >= MAX32 or m.compress_size >= MAX32
        self._out.write(self._local_header(placed, zip64, padding))
        self._central.append((m.header_offset, central_entry(placed, offset)))

    def copy_runs(self, source: Path, target: Path, runs: list[tuple[list[Member], int]],
                  lead: tuple[Member, bytes] | None = None) -> None:
        """Copy runs of consecutive records (each: its members, where its last record ends)
        from ``source`` to ``target`` (the file ``out`` writes) one after another from
        here, in a background thread; their central entries move with them. ``lead``, a
        small member written anew (as write_new), goes first: its local header padded so
        that the longest run lands where the kernel copies fastest (see ALIGN_FROM)."""
        sizes = [end - members[0].header_offset for members, end in runs]
        if lead is not None:
            like, data = lead
            m = _new_member(like, data)
            padding = 0
            longest = max(range(len(runs)), key=sizes.__getitem__, default=-1)
            if longest >= 0 and sizes[longest] >= ALIGN_FROM:
                zip64 = m.member.file_size >= MAX32 or m.member.compress_size >= MAX32
                header = self._local_header(m.member, zip64)
                lands = (self._out.tell() + len(header) + len(m.compressed)
                         + sum(sizes[:longest]))
                padding = (runs[longest][0][0].header_offset % PAGE - lands) % BLOCK
                extra_len = len(header) - 30 - len(m.member.raw_name)
                if padding < 6 or extra_len + padding > MAX16:
                    padding = 0  # no room for the field: the copy is only slower
            self._start(m.member, padding)
            self._out.write(m.compressed)
        at, jobs = self._out.tell(), []
        for (members, _), size in zip(runs, sizes, strict=True):
            jobs.append((members[0].header_offset, at, size))
            at += size
        if jobs:
            self._copier = threading.Thread(target=self._copy, args=(source, target, jobs),
                                            name="copy-records", daemon=True)
            self._copier.start()
        for (members, _), (start, placed, _) in zip(runs, jobs, strict=True):
            shift = placed - start
            self._central += [(m.header_offset, moved_entry(m, m.header_offset + shift))
                              for m in members]
        self._out.seek(at)

    def _copy(self, source: Path, target: Path, jobs: list[tuple[int, int, int]]) -> None:
        try:
            with source.open("rb") as src, target.open("r+b", buffering=0) as dst:
                for start, placed, length in jobs:
                    dst.seek(placed)
                    copy_range(src, dst, start, length)
        except BaseException as e:  # raised in the writing thread by _wait
            self._copy_error = e

    def _wait(self) -> None:
        if self._copier is not None:
            self._copier.join()
            self._copier = None
        error, self._copy_error = self._copy_error, None
        if error is not None:
            raise error

    def copy_raw(self, src: BinaryIO, m: Member, data_offset: int) -> None:
        """Copy a member's stored bytes (at ``data_offset``) unchanged, behind a new local
        header."""
        self._start(m)
        copy_range(src, self._out, data_offset, m.compress_size)

    def write_new(self, like: Member, data: bytes) -> None:
        """A new deflated member taking its metadata (time, attributes) from ``like``."""
        m = _new_member(like, data)
        self._start(m.member)
        self._out.write(m.compressed)

    def finish(self, comment: bytes = b"") -> None:
        """Write the central directory and end records, then wait for the copy."""
        cd_offset = self._out.tell()
        self._central.sort(key=lambda pair: pair[0])
        self._out.write(b"".join(entry for _, entry in self._central))
        cd_size = self._out.tell() - cd_offset
        count = len(self._central)
        if count >= MAX16 or cd_size >= MAX32 or cd_offset >= MAX32:
            eocd64_offset = self._out.tell()
            self._out.write(struct.pack("<IQHHIIQQQQ", ZIP64_EOCD_SIG, 44, 45, 45, 0, 0,
                                        count, count, cd_size, cd_offset))
            self._out.write(struct.pack("<IIQI", ZIP64_LOCATOR_SIG, 0, eocd64_offset, 1))
        self._out.write(struct.pack(
            "<IHHHHIIH", EOCD_SIG, 0, 0, min(count, MAX16), min(count, MAX16),
            min(cd_size, MAX32), min(cd_offset, MAX32), len(comment),
        ) + comment)
        self._wait()
