"""A zip archive's central directory, parsed once with ``struct``, and its local records
checked in one pass: what ``zipfile`` reads and checks before it opens a member, without a
ZipInfo (or a seek and read) per member more than needed.

The end records are found as zipfile finds them (the same EOCD search, ZIP64 locator and
"concat" offset), so both read the same members from one archive.
"""

from __future__ import annotations

import os
import struct
import zlib
from dataclasses import dataclass

from cross_compiler.wheel.zipio import (
    DEFLATED,
    FLAG_DATA_DESCRIPTOR,
    FLAG_UTF8,
    MAX32,
    STORED,
    ZIP64_EXTRA,
    Member,
    ZipIOError,
    strip_extra,
)
from cross_compiler.wheel.zipread import read_member

_EOCD = struct.Struct("<4s4H2LH")  # end of central directory record
_LOCATOR = struct.Struct("<4sLQL")  # ZIP64 end of central directory locator
_EOCD64 = struct.Struct("<4sQ2H2L4Q")  # ZIP64 end of central directory record
_CENTRAL = struct.Struct("<4s4B4H3L5H2L")  # central directory entry, fixed part
# Local file header, fixed part: signature, flags, method, name and extra length.
_LOCAL = struct.Struct("<4s2xHH16xHH")
_EOCD_SIG, _LOCATOR_SIG, _EOCD64_SIG = b"PK\x05\x06", b"PK\x06\x07", b"PK\x06\x06"
_CENTRAL_SIG, _LOCAL_SIG = b"PK\x01\x02", b"PK\x03\x04"
MAX_EXTRACT_VERSION = 63  # zipfile refuses archives needing a newer version
MAX_MEMBERS = 1 << 20  # far above any real wheel (TensorFlow's has 15 632)
# Bytes read with each local header to find what a member's data starts with: enough for
# a deflate stream's code tables and its first bytes; a member that needs more is read again.
_HEAD_READ = 1024
_HEAD_SIZE = 64
_DESCRIPTOR_SIZES = (12, 16, 20, 24)  # with or without signature, 32- or 64-bit sizes


@dataclass(frozen=True)
class ZipIndex:
    """The members in central directory order, and where their local records end."""

    members: tuple[Member, ...]
    records_end: int  # where the central directory starts
    comment: bytes


@dataclass(frozen=True)
class Records:
    """What the local records add to the central directory, per member index."""

    order: tuple[int, ...]  # member indices in file order
    data_offsets: tuple[int, ...]  # where each member's stored data starts
    ends: tuple[int, ...]  # where each member's record ends (the next one's start)
    # Whether the whole record [header_offset, end) can be copied as is: exactly its
    # local header (in the central directory's name encoding), data, at most a descriptor.
    verbatim: tuple[bool, ...]
    # For the members asked about: the first bytes of those whose data starts with the
    # magic asked for (or the error that reading them met).
    heads: dict[int, bytes | ZipIOError]


def find_end(fd: int) -> tuple[int, int, int, bytes, bool]:
    """The end records, as zipfile finds them: (where the EOCD record is, the central
    directory's size, its stated offset, the archive comment, whether ZIP64). Raises
    ZipIOError when there is none."""
    size = os.fstat(fd).st_size
    if size < _EOCD.size:
        raise ZipIOError("File is not a zip file")
    tail = os.pread(fd, _EOCD.size, size - _EOCD.size)
    if tail[:4] == _EOCD_SIG and tail[-2:] == b"\0\0":
        at, record = size - _EOCD.size, tail
    else:
        # An archive comment follows the record: the last signature in the last 64 KiB.
        search = max(size - (1 << 16) - _EOCD.size, 0)
        data = os.pread(fd, size - search, search)
        found = data.rfind(_EOCD_SIG)
        if found < 0 or len(data) - found < _EOCD.size:
            raise ZipIOError("File is not a zip file")
        at, record = search + found, data[found:found + _EOCD.size]
    fields = _EOCD.unpack(record)
    cd_size, cd_offset, comment_len = fields[5], fields[6], fields[7]
    comment = os.pread(fd, comment_len, at + _EOCD.size) if comment_len else b""
    if at < _LOCATOR.size:
        return at, cd_size, cd_offset, comment, False
    locator = _LOCATOR.unpack(os.pread(fd, _LOCATOR.size, at - _LOCATOR.size))
    if locator[0] != _LOCATOR_SIG:
        return at, cd_size, cd_offset, comment, False
    if locator[1] != 0 or locator[3] > 1:
        raise ZipIOError("zipfiles that span multiple disks are not supported")
    if at < _LOCATOR.size + _EOCD64.size:
        return at, cd_size, cd_offset, comment, False
    # As zipfile: the ZIP64 record right before its locator (no extensible data).
    record64 = _EOCD64.unpack(os.pread(fd, _EOCD64.size, at - _LOCATOR.size - _EOCD64.size))
    if record64[0] != _EOCD64_SIG:
        return at, cd_size, cd_offset, comment, False
    return at, record64[8], record64[9], comment, True


def _zip64(extra: bytes, name: str, file_size: int, compress_size: int,
           offset: int) -> tuple[int, int, int]:
    """The sizes and offset with ZIP64 values in place of the 32-bit ones that ask for
    them; raises on a torn extra field, as zipfile does."""
    at = 0
    while len(extra) - at >= 4:
        tag, size = struct.unpack_from("<HH", extra, at)
        if at + 4 + size > len(extra):
            raise ZipIOError(f"corrupt extra field {tag:04x} (size={size}) of {name!r}")
        if tag == ZIP64_EXTRA:
            data, pos = extra[at + 4:at + 4 + size], 0
            wanted = [file_size == MAX32, compress_size == MAX32, offset == MAX32]
            values = [file_size, compress_size, offset]
            for i, want in enumerate(wanted):
                if want:
                    if pos + 8 > len(data):
                        raise ZipIOError(f"corrupt ZIP64 extra field of {name!r}")
                    (values[i],) = struct.unpack_from("<Q", data, pos)
                    pos += 8
            file_size, compress_size, offset = values
        at += 4 + size
    return file_size, compress_size, offset


def read_index(fd: int) -> ZipIndex:
    """The central directory of the archive open as ``fd``. Raises ZipIOError."""
    size = os.fstat(fd).st_size
    at, cd_size, cd_offset, comment, zip64 = find_end(fd)
    concat = at - cd_size - cd_offset - (76 if zip64 else 0)
    start = cd_offset + concat
    if start < 0:
        raise ZipIOError("bad offset for central directory")
    cd = os.pread(fd, min(cd_size, max(size - start, 0)), start)
    members: list[Member] = []
    append, unpack, end, pos = members.append, _CENTRAL.unpack_from, len(cd), 0
    while pos < cd_size:
        if pos + 46 > end:
            raise ZipIOError("truncated central directory")
        (sig, _, system, version, _, flags, method, time, date, crc, csize, usize, name_len,
         extra_len, comment_len, _, _, attr, offset) = unpack(cd, pos)
        if sig != _CENTRAL_SIG:
            raise ZipIOError("bad magic number for central directory")
        if version > MAX_EXTRACT_VERSION:
            raise ZipIOError(f"zip file version {version / 10:.1f}")
        name_end = pos + 46 + name_len
        stop = name_end + extra_len + comment_len
        entry = cd[pos:stop]
        if stop > end:
            # The last entry runs past the directory: zipfile reads what is there (a short
            # name) and stops, so this does too; the entry will be written anew.
            name_end, entry = min(name_end, end), b""
        raw = cd[pos + 46:name_end]
        # ASCII reads alike in both encodings, and UTF-8 has the fast decoder.
        name = raw.decode() if flags & FLAG_UTF8 or raw.isascii() else raw.decode("cp437")
        extra = b""
        if extra_len:
            extra = cd[name_end:name_end + extra_len]
            usize, csize, offset = _zip64(extra, name, usize, csize, offset)
            extra = strip_extra(extra, {ZIP64_EXTRA})
        append(Member(name, raw, flags, method, time, date, crc, csize, usize,
                      offset + concat, attr, system, extra, entry))
        pos = stop
        if len(members) > MAX_MEMBERS:
            raise ZipIOError(f"more than {MAX_MEMBERS} members")
    return ZipIndex(tuple(members), start, comment)


def scan_records(fd: int, index: ZipIndex, magic: bytes = b"", min_size: int = 1) -> Records:
    """Check every member's local header against the central directory (signature, name
    bytes and encoding, method: what zipfile checks as it opens a member) and that its data
    ends before the next record; one read each, in file order. With ``magic``, also reads
    the first bytes of each member of at least ``min_size`` bytes (not a directory) and
    keeps those that start with it."""
    members = index.members
    count = len(members)
    offsets = [m.header_offset for m in members]
    order = sorted(range(count), key=offsets.__getitem__)
    data_offsets, ends, verbatim = [0] * count, [0] * count, [False] * count
    heads: dict[int, bytes | ZipIOError] = {}
    sniffing = bool(magic)
    pread, unpack, inflater = os.pread, _LOCAL.unpack_from, zlib.decompressobj
    for k, i in enumerate(order):
        m = members[i]
        start = m.header_offset
        end = offsets[order[k + 1]] if k + 1 < count else index.records_end
        if start >= index.records_end:
            raise ZipIOError(f"member {m.name!r} starts inside the central directory "
                             "(damaged archive)")
        name_len = len(m.raw_name)
        sniffed = sniffing and m.file_size >= min_size and not m.name.endswith("/")
        block = pread(fd, 30 + name_len + (_HEAD_READ if sniffed else 0), start)
        if len(block) < 30 + name_len or block[:4] != _LOCAL_SIG:
            raise ZipIOError(f"member {m.name!r} has no valid local header "
                             "(truncated archive?)")
        _, flags, method, local_name_len, extra_len = unpack(block)
        if (local_name_len != name_len or block[30:30 + name_len] != m.raw_name
                or method != m.method
                or ((flags ^ m.flags) & FLAG_UTF8 and not m.raw_name.isascii())):
            raise ZipIOError(f"member {m.name!r}: its local header disagrees with the "
                             "central directory (damaged archive)")
        data = start + 30 + name_len + extra_len
        slack = end - data - m.compress_size
        if slack < 0:
            raise ZipIOError(f"member {m.name!r} overlaps the next one (damaged archive)")
        data_offsets[i], ends[i] = data, end
        verbatim[i] = not (flags ^ m.flags) & FLAG_UTF8 and (
            slack in _DESCRIPTOR_SIZES if m.flags & FLAG_DATA_DESCRIPTOR else slack == 0)
        if sniffed:
            stored = block[30 + name_len + extra_len:30 + name_len + extra_len
                           + m.compress_size]
            if method == DEFLATED and len(stored) == min(m.compress_size, _HEAD_READ):
                # Most members are not what is looked for: their first bytes tell.
                try:  # a deflate block's code tables and first bytes: 512 bytes, mostly
                    first = inflater(-15).decompress(stored[:512], len(magic))
                except zlib.error:
                    first = magic  # read again below, to report it
                if len(first) == len(magic) and first != magic:
                    continue
            head = _head(fd, m, data, stored, magic)
            if head is not None:
                heads[i] = head
    return Records(tuple(order), tuple(data_offsets), tuple(ends), tuple(verbatim), heads)


def _head(fd: int, m: Member, data: int, stored: bytes, magic: bytes
          ) -> bytes | ZipIOError | None:
    """The first bytes of ``m`` when they start with ``magic``, from ``stored`` (the
    member's stored bytes read so far, maybe none) or a second read; else None."""
    try:
        if m.method == STORED:
            want = min(m.compress_size, _HEAD_SIZE)
            head = stored[:want] if len(stored) >= want else os.pread(fd, want, data)
        elif m.method == DEFLATED:
            head = zlib.decompressobj(-15).decompress(
                os.pread(fd, min(m.compress_size, 4096), data), _HEAD_SIZE)
        else:
            head = read_member(fd, m, data, _HEAD_SIZE)
    except zlib.error as e:
        return ZipIOError(f"member {m.name!r} is damaged ({e})")
    except ZipIOError as e:
        return e
    return head if head.startswith(magic) else None
