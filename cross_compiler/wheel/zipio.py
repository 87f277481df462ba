"""Raw ZIP member copying: compressed bytes go from input to output untouched.

``zipfile`` can only inflate and deflate again; a retag changes two small members, so
everything else is copied as stored bytes (near ``cp`` speed, constant memory). Writes
ZIP64 records whenever a size, offset or count needs them; never writes data descriptors.
"""

from __future__ import annotations

import dataclasses
import os
import struct
import zipfile
import zlib
from dataclasses import dataclass
from typing import BinaryIO

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
UNICODE_PATH = 0x7075  # Info-ZIP Unicode Path extra field
READABLE_METHODS = frozenset({zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2,
                              zipfile.ZIP_LZMA})
_COPY_CHUNK = 1 << 20


class ZipIOError(CrossCompilerError):
    """A damaged or unsafe archive."""

    exit_code = 7


@dataclass(frozen=True)
class Member:
    """One archive member, as the central directory describes it."""

    name: str
    method: int
    flags: int
    dos_time: int
    dos_date: int
    crc: int
    compress_size: int
    file_size: int
    header_offset: int
    external_attr: int
    create_system: int
    # The name's bytes exactly as stored (UTF-8 with flag 0x800, else cp437 as Info-ZIP
    # writes them) and the central extra fields other than ZIP64's: copied unchanged,
    # so readers see the very names (and Unicode Path fields) the input had.
    raw_name: bytes
    extra: bytes

    @classmethod
    def from_info(cls, info: zipfile.ZipInfo) -> Member:
        y, mo, d, h, mi, s = info.date_time
        encoding = "utf-8" if info.flag_bits & FLAG_UTF8 else "cp437"
        return cls(
            name=info.filename, method=info.compress_type, flags=info.flag_bits,
            dos_time=(h << 11) | (mi << 5) | (s // 2),
            dos_date=((max(y, 1980) - 1980) << 9) | (mo << 5) | d,
            crc=info.CRC, compress_size=info.compress_size, file_size=info.file_size,
            header_offset=info.header_offset, external_attr=info.external_attr,
            create_system=info.create_system,
            raw_name=info.orig_filename.encode(encoding), extra=strip_extra(info.extra, {1}),
        )

    def renamed(self, name: str) -> Member:
        """This member under a new name: UTF-8 (flagged when not ASCII), and without the
        Unicode Path field that would describe the old name."""
        flags = (self.flags | FLAG_UTF8) if not name.isascii() else (self.flags & ~FLAG_UTF8)
        return dataclasses.replace(self, name=name, raw_name=name.encode("utf-8"),
                                   flags=flags, extra=strip_extra(self.extra, {UNICODE_PATH}))


def strip_extra(extra: bytes, drop: set[int]) -> bytes:
    """``extra`` without the fields whose ids are in ``drop`` (and without a torn tail)."""
    kept, at = [], 0
    while at + 4 <= len(extra):
        tag, size = struct.unpack("<HH", extra[at:at + 4])
        if at + 4 + size > len(extra):
            break
        if tag not in drop:
            kept.append(extra[at:at + 4 + size])
        at += 4 + size
    return b"".join(kept)


def _local_header(f: BinaryIO, member: Member) -> tuple[int, bytes, int, int]:
    """(data offset, stored name, flags, method) of the member's local header."""
    if member.header_offset < 0 or member.compress_size < 0:
        raise ZipIOError(f"member {member.name!r} has a negative offset or size "
                         "(shifted or truncated archive?)")
    f.seek(member.header_offset)
    header = f.read(30)
    if len(header) != 30 or struct.unpack("<I", header[:4])[0] != LOCAL_SIG:
        raise ZipIOError(f"member {member.name!r} has no valid local header (truncated archive?)")
    flags, method = struct.unpack("<HH", header[6:10])
    name_len, extra_len = struct.unpack("<HH", header[26:30])
    return (member.header_offset + 30 + int(name_len) + int(extra_len),
            f.read(int(name_len)), int(flags), int(method))


def check_local_header(f: BinaryIO, member: Member) -> None:
    """The member's local header agrees with the central directory (name bytes, name
    encoding, method) and its method is one wheel installers read: what zipfile (and so
    pip) demands of each member it opens. A retag must not turn a member nobody can read
    into one with a different name (it writes the central directory's)."""
    if member.method not in READABLE_METHODS:
        raise ZipIOError(f"member {member.name!r} uses compression method {member.method}, "
                         "which wheel installers cannot read")
    _, name, flags, method = _local_header(f, member)
    if name != member.raw_name or method != member.method or (
            (flags ^ member.flags) & FLAG_UTF8 and not name.isascii()):
        raise ZipIOError(f"member {member.name!r}: its local header disagrees with the "
                         "central directory (damaged archive)")


def data_offset(f: BinaryIO, member: Member) -> int:
    """Where the member's stored bytes start (after its local header)."""
    return _local_header(f, member)[0]


def verbatim_ok(f: BinaryIO, member: Member, record_end: int) -> bool:
    """Can the member's whole local record, [header_offset, record_end), be copied as is?

    Yes when it holds exactly its local header (the central directory's name bytes and
    name encoding), its data and at most a data descriptor: then only its offset changes.
    Raises when the data does not fit before ``record_end``.
    """
    start, local_name, local_flags, _ = _local_header(f, member)
    data_end = start + member.compress_size
    slack = record_end - data_end
    if slack < 0:
        raise ZipIOError(f"member {member.name!r} overlaps the next one (damaged archive)")
    if local_name != member.raw_name or (local_flags ^ member.flags) & FLAG_UTF8:
        return False
    if member.flags & FLAG_DATA_DESCRIPTOR:
        return slack in (12, 16, 20, 24)
    return slack == 0


def copy_range(src: BinaryIO, dst: BinaryIO, start: int, length: int) -> None:
    """Copy bytes between files in the kernel where it can (copy_file_range), else by chunks.
    ``dst`` must be unbuffered so its position stays that of its descriptor."""
    src_fd, dst_fd = src.fileno(), dst.fileno()
    offset, left = start, length
    try:
        while left:
            copied = os.copy_file_range(src_fd, dst_fd, left, offset_src=offset)
            if copied == 0:
                raise ZipIOError("the archive ends inside a member (truncated)")
            offset += copied
            left -= copied
        return
    except OSError:
        pass  # not supported here (old kernel, other file system): copy through user space
    src.seek(offset)
    while left:
        chunk = src.read(min(_COPY_CHUNK, left))
        if not chunk:
            raise ZipIOError("the archive ends inside a member (truncated)")
        dst.write(chunk)
        left -= len(chunk)


def read_head(f: BinaryIO, member: Member, size: int = 64) -> bytes | None:
    """The first ``size`` uncompressed bytes, straight from the stored data (no zipfile
    overhead: a wheel can have tens of thousands of members). None for methods other
    than stored and deflated, which the caller reads the slow way."""
    if member.method not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        return None
    f.seek(data_offset(f, member))
    raw = f.read(min(member.compress_size, 4096))
    if member.method == zipfile.ZIP_STORED:
        return raw[:size]
    try:
        return zlib.decompressobj(-15).decompress(raw, size)
    except zlib.error as e:
        raise ZipIOError(f"member {member.name!r} is damaged ({e})") from e


def deflate(data: bytes) -> tuple[bytes, int]:
    """Raw-deflate ``data`` the way zipfile does; returns (compressed, crc)."""
    compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush(), zlib.crc32(data)


class RawZipWriter:
    """Appends members (raw or new) to a binary stream, then writes the central directory."""

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self._central: list[bytes] = []

    def _local_header(self, m: Member, name: bytes, zip64: bool) -> bytes:
        extra = struct.pack("<HHQQ", 1, 16, m.file_size, m.compress_size) if zip64 else b""
        return struct.pack(
            "<IHHHHHIIIHH", LOCAL_SIG, 45 if zip64 else 20, m.flags, m.method, m.dos_time,
            m.dos_date, m.crc, MAX32 if zip64 else m.compress_size,
            MAX32 if zip64 else m.file_size, len(name), len(extra),
        ) + name + extra

    def _start(self, m: Member) -> None:
        """Write a fresh local header for ``m`` here and remember its central entry."""
        placed = dataclasses.replace(m, flags=m.flags & ~FLAG_DATA_DESCRIPTOR,
                                     header_offset=self._out.tell())
        zip64 = m.file_size >= MAX32 or m.compress_size >= MAX32
        self._out.write(self._local_header(placed, m.raw_name, zip64))
        self._central.append(self._central_header(placed))

    def _central_header(self, m: Member) -> bytes:
        fields, sizes = [], [m.file_size, m.compress_size, m.header_offset]
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

    def copy_raw(self, src: BinaryIO, m: Member) -> None:
        """Copy a member's stored bytes unchanged, behind a new local header."""
        start = data_offset(src, m)
        self._start(m)
        copy_range(src, self._out, start, m.compress_size)

    def copy_records(self, src: BinaryIO, run: list[Member], end: int) -> None:
        """Copy the whole local records of consecutive members verbatim, one range."""
        start, base = run[0].header_offset, self._out.tell()
        for m in run:
            placed = dataclasses.replace(m, header_offset=base + m.header_offset - start)
            self._central.append(self._central_header(placed))
        copy_range(src, self._out, start, end - start)

    def rename_raw(self, src: BinaryIO, m: Member, new_name: str) -> None:
        self.copy_raw(src, m.renamed(new_name))

    def write_new(self, like: Member, data: bytes) -> None:
        """A new deflated member taking its metadata (time, attributes) from ``like``."""
        compressed, crc = deflate(data)
        m = dataclasses.replace(like, method=zipfile.ZIP_DEFLATED, crc=crc,
                                compress_size=len(compressed), file_size=len(data),
                                flags=like.flags & ~0x6)
        self._start(m)
        self._out.write(compressed)

    def finish(self, comment: bytes = b"") -> None:
        cd_offset = self._out.tell()
        self._out.write(b"".join(self._central))
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


