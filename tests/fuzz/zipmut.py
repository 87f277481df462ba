"""Archive-level mutation families: each takes a seeded Random and a seed wheel and returns
(file name, archive bytes)."""

from __future__ import annotations

import dataclasses
import random
import struct
import zlib
from collections.abc import Callable

from tests.fuzz.archive import DEFLATED, Entry, Seed, build_zip, entry
from tests.wheels import zero_bomb_entry

Mutation = Callable[[random.Random, Seed], tuple[str, bytes]]

INTERESTING = (0, 1, 2, 7, 8, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x10000,
               0x7FFFFFFF, 0x80000000, 0xFFFFFFFE, 0xFFFFFFFF)
# (offset, width) of each field after the signature, local and central header.
LOCAL_FIELDS = [(4, 2), (6, 2), (8, 2), (10, 2), (12, 2), (14, 4), (18, 4), (22, 4), (26, 2),
                (28, 2)]
CENTRAL_FIELDS = [(4, 2), (6, 2), (8, 2), (10, 2), (12, 2), (14, 2), (16, 4), (20, 4), (24, 4),
                  (28, 2), (30, 2), (32, 2), (34, 2), (36, 2), (38, 4), (42, 4)]
EOCD_FIELDS = [(4, 2), (6, 2), (8, 2), (10, 2), (12, 4), (16, 4), (20, 2)]


def _layout(entries: list[Entry]) -> tuple[list[tuple[int, int]], list[tuple[int, int]], int]:
    """(local header start, length) and (central entry start, length) per member, EOCD start."""
    local, central, at = [], [], 0
    for e in entries:
        name = e.name if e.local_name is None else e.local_name
        local.append((at, 30 + len(name) + len(e.extra)))
        at += 30 + len(name) + len(e.extra) + len(e.stored)
    for e in entries:
        central.append((at, 46 + len(e.name) + len(e.extra)))
        at += 46 + len(e.name) + len(e.extra)
    return local, central, at


def _value(rng: random.Random, width: int, near: int = 0) -> int:
    choice = rng.random()
    if choice < 0.5:
        v = rng.choice(INTERESTING)
    elif choice < 0.75:
        v = near + rng.randint(-64, 64)
    else:
        v = rng.getrandbits(8 * width)
    return v % (1 << (8 * width))


def _set(data: bytearray, at: int, width: int, value: int) -> None:
    data[at:at + width] = value.to_bytes(width, "little")


def _flip(rng: random.Random, data: bytearray, lo: int, hi: int) -> None:
    for _ in range(rng.randint(1, 4)):
        i = rng.randrange(lo, hi)
        data[i] ^= rng.randint(1, 255)


def _field_or_flip(rng: random.Random, data: bytearray, start: int, length: int,
                   fields: list[tuple[int, int]]) -> None:
    if rng.random() < 0.6:
        off, width = rng.choice(fields)
        old = int.from_bytes(data[start + off:start + off + width], "little")
        _set(data, start + off, width, _value(rng, width, old))
    else:
        _flip(rng, data, start, start + length)


def local_flip(rng: random.Random, seed: Seed) -> tuple[str, bytes]:
    entries = seed.entries()
    local, _, _ = _layout(entries)
    data = bytearray(build_zip(entries))
    start, length = rng.choice(local)
    _field_or_flip(rng, data, start, length, LOCAL_FIELDS)
    return seed.filename, bytes(data)


def central_flip(rng: random.Random, seed: Seed) -> tuple[str, bytes]:
    entries = seed.entries()
    _, central, eocd = _layout(entries)
    data = bytearray(build_zip(entries))
    if rng.random() < 0.25:
        _field_or_flip(rng, data, eocd, 22, EOCD_FIELDS)
    else:
        start, length = rng.choice(central)
        _field_or_flip(rng, data, start, length, CENTRAL_FIELDS)
    return seed.filename, bytes(data)


def truncate(rng: random.Random, seed: Seed) -> tuple[str, bytes]:
    data = seed.archive()
    how = rng.random()
    if how < 0.5:
        return seed.filename, data[:rng.randrange(len(data))]
    if how < 0.8:  # a slice cut out of the middle
        lo = rng.randrange(len(data))
        hi = min(len(data), lo + rng.randint(1, 200))
        return seed.filename, data[:lo] + data[hi:]
    return seed.filename, data + rng.randbytes(rng.randint(1, 100))


def shifted_offsets(rng: random.Random, seed: Seed) -> tuple[str, bytes]:
    entries = seed.entries()
    local, central, eocd = _layout(entries)
    data = bytearray(build_zip(entries))
    how = rng.randrange(4)
    if how == 0:  # bytes before the archive (a self-extractor's stub)
        return seed.filename, rng.randbytes(rng.randint(1, 300)) + bytes(data)
    if how == 1:  # bytes inserted between members
        at = rng.choice(local)[0]
        return seed.filename, bytes(data[:at] + rng.randbytes(rng.randint(1, 64)) + data[at:])
    if how == 2:  # one member's header offset moved
        start, _ = rng.choice(central)
        old = int.from_bytes(data[start + 42:start + 46], "little")
        _set(data, start + 42, 4, (old + rng.choice([-1, 1]) * rng.randint(1, 4096)) % 2**32)
    else:  # the central directory's offset moved
        old = int.from_bytes(data[eocd + 16:eocd + 20], "little")
        _set(data, eocd + 16, 4, (old + rng.randint(-2000, 2000)) % 2**32)
    return seed.filename, bytes(data)


def duplicates(rng: random.Random, seed: Seed) -> tuple[str, bytes]:
    entries = seed.entries()
    how = rng.randrange(4)
    i = rng.randrange(len(entries))
    if how == 0:  # the same member twice
        entries.insert(rng.randrange(len(entries) + 1), entries[i])
    elif how == 1:  # a second member of that name, other content
        entries.insert(rng.randrange(len(entries) + 1),
                       entry(entries[i].name, rng.randbytes(20), seed.method))
    elif how == 2:  # names differing only in case
        entries.append(entry(entries[i].name.upper(), b"x", seed.method))
    else:  # a host-suffixed extension beside its target-suffixed twin: rename clash
        files = dict(seed.files)
        files["demo/_n.cpython-311-x86_64-linux-gnu.so"] = files.get(
            seed.elf_member, b"\x7fELF") if seed.elf_member else b"\x7fELF"
        files["demo/_n.cpython-311-aarch64-linux-gnu.so"] = b"other"
        entries = seed.entries(files)
    return seed.filename, build_zip(entries)


HOSTILE_NAMES = ["../evil.py", "/etc/evil.py", "demo/../../evil.py", "a\0b.py", "x" * 5000,
                 "demo\\..\\evil.py", "C:evil.py", "c:/evil.py", "./demo/x.py", "demo//x.py",
                 ".", "..", "demo/.", "demo/", "", " ", "demo/\u202egnp.py", "~/x.py",
                 "demo/" + "a/" * 300 + "x.py", "demo-1.0.dist-info/../../x"]


def hostile_names(rng: random.Random, seed: Seed) -> tuple[str, bytes]:
    name = rng.choice(HOSTILE_NAMES)
    files = dict(seed.files)
    if rng.random() < 0.5 or not files:
        files[name] = b"x = 1\n"
    else:  # an existing member renamed
        old = rng.choice(sorted(files))
        files[name] = files.pop(old)
    entries = seed.entries(files)
    if rng.random() < 0.3:  # RECORD leaves it out: only the member is hostile
        entries = [e for e in entries if not e.name.endswith(b"RECORD")] + [
            entry(f"{seed.dist_info}/RECORD",
                  seed.contents(seed.files)[f"{seed.dist_info}/RECORD"], seed.method)]
    return seed.filename, build_zip(entries)


NON_ASCII = ["demo/caf\u00e9.py", "demo/\u65e5\u672c.py", "demo/\u00fcber/__init__.py",
             "demo/\U0001f600.txt"]
FLAG_UTF8 = 0x800


def name_encodings(rng: random.Random, seed: Seed) -> tuple[str, bytes]:
    name = rng.choice(NON_ASCII)
    files = {**seed.files, name: b"# text\n"}
    entries = seed.entries(files)
    i = next(k for k, e in enumerate(entries) if e.name == name.encode())
    e = entries[i]
    how = rng.randrange(6)
    if how == 0:  # UTF-8 flagged: the normal case
        e = dataclasses.replace(e, flags=FLAG_UTF8)
    elif how == 1:  # Info-ZIP style: cp437 bytes, no flag (RECORD names the decoded name)
        try:
            raw = name.encode("cp437")
        except UnicodeEncodeError:
            raw = name.encode("utf-8")
        e = dataclasses.replace(e, name=raw)
        if raw != name.encode("utf-8"):
            decoded = raw.decode("cp437")
            files = {**seed.files, decoded: b"# text\n"}
            entries = seed.entries(files)
            i = next(k for k, x in enumerate(entries) if x.name == decoded.encode())
            e = dataclasses.replace(entries[i], name=raw)
    elif how == 2:  # UTF-8 bytes without the flag (read as cp437 mojibake)
        pass
    elif how == 3:  # the flag on invalid UTF-8
        e = dataclasses.replace(e, name=b"demo/\xff\xfe\x80.py", flags=FLAG_UTF8)
    elif how == 4:  # local and central names or flags disagree
        e = dataclasses.replace(e, flags=FLAG_UTF8,
                                local_name=e.name if rng.random() < 0.5 else e.name + b"x",
                                local_flags=0)
    else:  # an Info-ZIP Unicode Path extra field, right or wrong
        path = name.encode() if rng.random() < 0.5 else rng.randbytes(8)
        body = b"\x01" + struct.pack("<I", zlib.crc32(e.name)) + path
        cut = len(body) if rng.random() < 0.7 else rng.randrange(len(body))
        e = dataclasses.replace(e, extra=struct.pack("<HH", 0x7075, len(body)) + body[:cut])
    entries[i] = e
    return seed.filename, build_zip(entries)


def symlink_attrs(rng: random.Random, seed: Seed) -> tuple[str, bytes]:
    files = dict(seed.files)
    if rng.random() < 0.5:
        files["demo/link.py"] = rng.choice([b"../../../etc/passwd", b"/etc/passwd", b"__init__.py"])
    entries = seed.entries(files)
    i = rng.randrange(len(entries))
    attr = rng.choice([0o120777 << 16, 0o040755 << 16 | 0x10, 0o104755 << 16, 0o170777 << 16,
                       0xFFFFFFFF, 0x10, 0])
    entries[i] = dataclasses.replace(entries[i], external_attr=attr,
                                     create_system=rng.choice([0, 3, 3, 19, 255]))
    return seed.filename, build_zip(entries)


def size_bombs(rng: random.Random, seed: Seed) -> tuple[str, bytes]:
    entries = seed.entries()
    how = rng.random()
    if how < 0.08 and seed.elf_member:  # a real bomb: an ELF head, then many MiB of zeros
        content = dict(seed.contents())
        head = content[seed.elf_member]
        bomb = zero_bomb_entry(seed.elf_member.encode(), head, rng.randint(8, 48), b"")
        stored = b"".join(bomb.chunks)
        i = next(k for k, e in enumerate(entries) if e.name == seed.elf_member.encode())
        entries[i] = Entry(bomb.name, stored, bomb.crc, bomb.file_size, DEFLATED)
        return seed.filename, build_zip(entries)
    i = rng.randrange(len(entries))
    huge = rng.choice([0xFFFFFFFF, 0xFFFFFFFE, 0x80000000, 1 << 30, (1 << 30) + 1, 65 << 20])
    e = entries[i]
    if rng.random() < 0.5:
        entries[i] = dataclasses.replace(e, declared_size=huge)
    else:  # local and central both say so
        entries[i] = dataclasses.replace(e, file_size=huge)
    return seed.filename, build_zip(entries)


def metadata_disagreements(rng: random.Random, seed: Seed) -> tuple[str, bytes]:
    contents = seed.contents()
    wheel, record = f"{seed.dist_info}/WHEEL", f"{seed.dist_info}/RECORD"
    filename = seed.filename
    how = rng.randrange(14)
    if how == 0:  # WHEEL's tag names another platform
        contents[wheel] = contents[wheel].replace(b"aarch64", b"x86_64").replace(b"any", b"x")
    elif how == 1:  # the file name's platform differs from WHEEL
        filename = filename.replace("linux_", "manylinux_2_28_").replace("-any", "-linux_armv7l")
    elif how == 2:  # a RECORD hash is wrong
        contents[record] = contents[record].replace(b"sha256=", b"sha256=A", 1)
    elif how == 3:  # a RECORD size is wrong
        lines = contents[record].split(b"\n")
        lines[0] = lines[0].rsplit(b",", 1)[0] + b",999999"
        contents[record] = b"\n".join(lines)
    elif how == 4:  # a member missing from RECORD
        lines = contents[record].split(b"\n")
        contents[record] = b"\n".join(lines[1:])
    elif how == 5:  # RECORD names a file not in the archive, or '.', or '..'
        contents[record] += rng.choice([b"ghost.py,,\n", b".,,\n", b"../x,,\n", b"/abs,,\n"])
    elif how == 6:  # RECORD is not CSV / not UTF-8 / wrong field count
        contents[record] = rng.choice([b'"unterminated\n', b"\xff\xfe\n", b"a,b\n", b"a,b,c,d\n",
                                       b"\0\0\0", b""])
    elif how == 7:  # WHEEL lacks Tag or Wheel-Version, or is not UTF-8
        contents[wheel] = rng.choice([b"Wheel-Version: 1.0\n", b"Tag: py3-none-any\n", b"\xff",
                                      b"", b"Wheel-Version 1.0\nTag\n"])
    elif how == 8:  # a Build line disagreeing with the file name
        contents[wheel] += b"Build: 9\n"
    elif how == 9:  # the dist-info directory names another project, or there are two
        other = "other-1.0.dist-info"
        moved = {k.replace(seed.dist_info, other): v for k, v in contents.items()}
        contents = moved if rng.random() < 0.5 else {**contents, f"{other}/METADATA": b""}
    elif how == 10:  # WHEEL or RECORD missing
        del contents[rng.choice([wheel, record])]
    elif how == 11:  # an invalid file name
        filename = rng.choice(["demo.whl", "demo-1.0.whl", "demo-1.0-py3-none-any.zip",
                               "de mo-1.0-py3-none-any.whl", "demo-1.0-x-py3-none-any.whl",
                               "demo-1.0-cp311-cp311-linux_aarch64-extra.whl"])
    elif how == 12:  # signature files and a RECORD without its own row
        contents[f"{seed.dist_info}/RECORD.jws"] = b"{}"
        contents[record] = contents[record].replace(
            f"{seed.dist_info}/RECORD,,\n".encode(), b"")
    else:  # WHEEL with repeated or many tags
        contents[wheel] += b"Tag: py3-none-any\n" * rng.randint(1, 50)
    return filename, build_zip([entry(n, d, seed.method) for n, d in contents.items()])


ZIP_FAMILIES: dict[str, Mutation] = {
    "local_header": local_flip, "central_directory": central_flip, "truncation": truncate,
    "shifted_offsets": shifted_offsets, "duplicate_names": duplicates,
    "hostile_names": hostile_names, "name_encodings": name_encodings,
    "symlink_attrs": symlink_attrs, "size_bombs": size_bombs,
    "metadata_disagreements": metadata_disagreements,
}
