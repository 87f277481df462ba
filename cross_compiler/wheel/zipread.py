"""One member's uncompressed bytes, streamed from the raw archive in bounded pieces.

What ``zipfile``'s member reader does (stored, deflate, bzip2 and LZMA; the output cut at
the declared size; the CRC checked at the end), without parsing the central directory
again for it: the caller knows where the member's data starts. Memory stays bounded
whatever a member's sizes claim (every decompressor gets a maximum output length).
"""

from __future__ import annotations

import bz2
import io
import lzma
import os
import struct
import zlib
from typing import TYPE_CHECKING, Protocol

from cross_compiler.wheel.zipio import BZIP2, DEFLATED, LZMA, STORED, Member, ZipIOError

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

_CHUNK = 64 << 10  # compressed bytes read at a time
_ERRORS = (zlib.error, lzma.LZMAError, OSError, EOFError, ValueError, struct.error)


class _Decompressor(Protocol):
    """bz2's and lzma's decompressors (zlib's has another interface)."""

    @property
    def eof(self) -> bool: ...

    @property
    def needs_input(self) -> bool: ...

    def decompress(self, data: bytes, max_length: int = -1) -> bytes: ...


class _ZipLzma:
    """LZMA as zip stores it: a 4-byte header (version, properties size), the LZMA1
    properties, then a raw LZMA1 stream."""

    def __init__(self) -> None:
        self._head = b""
        self._inner: lzma.LZMADecompressor | None = None
        self.eof = False

    def decompress(self, data: bytes, max_length: int = -1) -> bytes:
        if self._inner is None:
            self._head += data
            if len(self._head) < 4:
                return b""
            (size,) = struct.unpack_from("<H", self._head, 2)
            if len(self._head) < 4 + size:
                return b""
            props = self._head[4:4 + size]
            if len(props) < 5:
                raise lzma.LZMAError("LZMA properties are too short")
            lc_lp_pb, dict_size = props[0], int.from_bytes(props[1:5], "little")
            pb, rest = divmod(lc_lp_pb, 45)
            lp, lc = divmod(rest, 9)
            self._inner = lzma.LZMADecompressor(lzma.FORMAT_RAW, filters=[{
                "id": lzma.FILTER_LZMA1, "dict_size": dict_size, "lc": lc, "lp": lp,
                "pb": pb}])
            data, self._head = self._head[4 + size:], b""
        out = self._inner.decompress(data, max_length)
        self.eof = self._inner.eof
        return out

    @property
    def needs_input(self) -> bool:
        return self._inner is None or self._inner.needs_input


class MemberReader(io.RawIOBase):
    """A readable stream of ``member``'s uncompressed bytes, whose stored data starts at
    ``data_offset`` of the open file ``fd`` (read with pread: the file's position is not
    used). Raises ZipIOError on damaged data or a bad CRC."""

    def __init__(self, fd: int, member: Member, data_offset: int) -> None:
        super().__init__()
        if member.method not in (STORED, DEFLATED, BZIP2, LZMA):
            raise ZipIOError(f"member {member.name!r} uses compression method "
                             f"{member.method}, which wheel installers cannot read")
        if member.flags & 0x20:
            raise ZipIOError(f"member {member.name!r} holds compressed patched data")
        if member.flags & 0x41:
            raise ZipIOError(f"member {member.name!r} is encrypted")
        self._fd, self._member = fd, member
        self._at = data_offset
        self._compress_left = member.compress_size
        self._left = member.file_size
        self._crc = 0
        self._pending = b""  # compressed bytes read but not yet inflated (deflate)
        self._done = False
        self._inflate = zlib.decompressobj(-15) if member.method == DEFLATED else None
        self._other: _Decompressor | None = (
            bz2.BZ2Decompressor() if member.method == BZIP2
            else _ZipLzma() if member.method == LZMA else None)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        data = self._next(len(view))
        view[:len(data)] = data
        return len(data)

    def _raw(self, size: int) -> bytes:
        want = min(size, self._compress_left)
        data = os.pread(self._fd, want, self._at) if want > 0 else b""
        if want > 0 and not data:
            raise ZipIOError(f"member {self._member.name!r} is damaged (the archive ends "
                             "inside it)")
        self._at += len(data)
        self._compress_left -= len(data)
        return data

    def _next(self, size: int) -> bytes:
        """Up to ``size`` more bytes; b"" at the end (after the CRC check)."""
        try:
            while not self._done:
                if self._left <= 0:
                    self._done = True
                    break
                data = self._step(min(size, self._left))[:self._left]
                self._left -= len(data)
                self._crc = zlib.crc32(data, self._crc)
                if data:
                    return data
        except _ERRORS as e:
            raise ZipIOError(f"member {self._member.name!r} is damaged "
                             f"({(str(e).strip().splitlines() or [type(e).__name__])[0]})"
                             ) from e
        if self._crc != self._member.crc:
            raise ZipIOError(f"member {self._member.name!r} is damaged (bad CRC-32)")
        return b""

    def _step(self, size: int) -> bytes:
        """Read or decompress a piece; sets ``_done`` when the member's data is over."""
        if self._inflate is not None:
            d = self._inflate
            if not self._pending and self._compress_left > 0:
                self._pending = self._raw(_CHUNK)
            data = d.decompress(self._pending, size)
            self._pending = d.unconsumed_tail
            self._done = d.eof or (self._compress_left <= 0 and not self._pending)
            return data + d.flush() if self._done else data
        if self._other is None:
            data = self._raw(size)
            self._done = self._compress_left <= 0
            return data
        wants_input = self._other.needs_input
        feed = self._raw(_CHUNK) if wants_input else b""
        if wants_input and not feed:
            self._done = True  # the stored data is over: the CRC says whether all came
            return b""
        data = self._other.decompress(feed, size)
        self._done = self._other.eof
        return data


def open_member(fd: int, member: Member, data_offset: int) -> io.BufferedReader:
    """A buffered stream of ``member``'s uncompressed bytes (see MemberReader)."""
    return io.BufferedReader(MemberReader(fd, member, data_offset), _CHUNK)


def read_member(fd: int, member: Member, data_offset: int, limit: int = -1) -> bytes:
    """Up to ``limit`` (all: -1) uncompressed bytes of ``member``."""
    with open_member(fd, member, data_offset) as f:
        return f.read(limit)
