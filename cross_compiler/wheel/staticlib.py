"""Static archives (``ar``, what ``cc_library`` makes as ``lib*.a``): the name and first
bytes of every member, read from untrusted input with bounds. Pure over a stream.

Every size and offset comes from the file: member count, long-name table and name lengths
have ceilings, a member must lie inside the file, and only a member's first bytes are read.
A thin archive (``!<thin>``) holds no members' bytes, only paths: it yields nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO

AR_MAGIC = b"!<arch>\n"
THIN_MAGIC = b"!<thin>\n"
HEADER_SIZE = 60
MAX_MEMBERS = 1 << 16
MAX_NAME_TABLE = 16 << 20  # GNU's "//" member: every long member name
MAX_BSD_NAME = 4096  # BSD's "#1/<len>" names stored before the member's bytes
HEAD_BYTES = 64  # enough for an ELF header


class ArchiveFormatError(ValueError):
    """The archive is malformed or beyond the reader's bounds."""


def is_archive(head: bytes) -> bool:
    return head.startswith(AR_MAGIC)


def _member_name(raw: bytes, names: bytes) -> str:
    text = raw.decode("latin-1").rstrip(" ")
    if text.startswith("/") and text[1:].isdigit():  # GNU: offset into the "//" table
        offset = int(text[1:])
        if offset >= len(names):
            raise ArchiveFormatError(f"a member name lies outside the name table ({text})")
        end = names.find(b"\n", offset)
        text = names[offset:end if end >= 0 else len(names)].decode("utf-8", "replace")
    return text.removesuffix("/")


def members(stream: IO[bytes], file_size: int) -> Iterator[tuple[str, bytes]]:
    """``(name, first bytes)`` of every regular member, in archive order (the symbol
    tables and the long-name table are not members)."""
    stream.seek(0)
    magic = stream.read(len(AR_MAGIC))
    if magic == THIN_MAGIC:
        return
    if magic != AR_MAGIC:
        raise ArchiveFormatError("not an ar archive")
    offset = len(AR_MAGIC)
    names = b""
    count = 0
    while offset < file_size:
        stream.seek(offset)
        header = stream.read(HEADER_SIZE)
        if len(header) == 1 and header == b"\n":
            break  # a final padding byte
        if len(header) < HEADER_SIZE or header[58:60] != b"`\n":
            raise ArchiveFormatError(f"a member header at byte {offset} is malformed")
        size_field = header[48:58].decode("latin-1").strip()
        if not size_field.isdigit():
            raise ArchiveFormatError(f"a member size at byte {offset} is not a number")
        size = int(size_field)
        data = offset + HEADER_SIZE
        if data + size > file_size:
            raise ArchiveFormatError(f"a member at byte {offset} extends past the end")
        count += 1
        if count > MAX_MEMBERS:
            raise ArchiveFormatError(f"more than {MAX_MEMBERS} members")
        raw = header[:16]
        if raw.rstrip(b" ") == b"//":
            if size > MAX_NAME_TABLE:
                raise ArchiveFormatError(f"a name table larger than {MAX_NAME_TABLE >> 20} MiB")
            names = stream.read(size)
        elif raw.rstrip(b" ") in (b"/", b"/SYM64/", b"__.SYMDEF", b"__.SYMDEF SORTED"):
            pass  # symbol tables
        elif raw.startswith(b"#1/"):  # BSD: the name precedes the member's bytes
            length_field = raw[3:].decode("latin-1").strip()
            if not length_field.isdigit() or int(length_field) > min(size, MAX_BSD_NAME):
                raise ArchiveFormatError(f"a member name at byte {offset} is malformed")
            length = int(length_field)
            name = stream.read(length).rstrip(b"\0").decode("utf-8", "replace")
            if not name.startswith("__.SYMDEF"):
                yield name, stream.read(min(HEAD_BYTES, size - length))
        else:
            yield _member_name(raw, names), stream.read(min(HEAD_BYTES, size))
        offset = data + size + (size & 1)
