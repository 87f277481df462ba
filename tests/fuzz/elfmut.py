"""ELF mutation families: the seed's ELF member is changed (header, program-header fields,
section headers, version sections, dynamic section) and the wheel rebuilt with a RECORD
that is right for it, so every case reaches the ELF reader."""

from __future__ import annotations

import random
import struct

from tests.fuzz.archive import Seed, build_zip
from tests.fuzz.zipmut import Mutation, _value
from tests.wheels import SECTION_FIELDS, set_section_field

SHT_GNU_VERDEF, SHT_GNU_VERNEED, SHT_DYNAMIC = 0x6FFFFFFD, 0x6FFFFFFE, 6
# 64-bit header fields (offset, width) and their 32-bit offsets.
HEADER64 = {"e_type": (16, 2), "e_machine": (18, 2), "e_version": (20, 4), "e_entry": (24, 8),
            "e_phoff": (32, 8), "e_shoff": (40, 8), "e_flags": (48, 4), "e_ehsize": (52, 2),
            "e_phentsize": (54, 2), "e_phnum": (56, 2), "e_shentsize": (58, 2),
            "e_shnum": (60, 2), "e_shstrndx": (62, 2)}
PROGRAM_FIELDS = ("e_phoff", "e_phentsize", "e_phnum", "e_entry", "e_type")


def _sections(elf: bytes) -> list[tuple[int, ...]]:
    o = "<" if elf[5] == 1 else ">"
    shoff, = struct.unpack_from(f"{o}Q", elf, 40)
    shnum, = struct.unpack_from(f"{o}H", elf, 60)
    return [struct.unpack_from(f"{o}IIQQQQIIQQ", elf, shoff + 64 * i) for i in range(shnum)]


def _wheel(seed: Seed, elf: bytes) -> tuple[str, bytes]:
    files = {**seed.files, seed.elf_member: elf}
    return seed.filename, build_zip(seed.entries(files))


def _set_field(rng: random.Random, elf: bytes, name: str) -> bytes:
    off, width = HEADER64[name]
    out = bytearray(elf)
    old = int.from_bytes(out[off:off + width], "little")
    value = _value(rng, width, old if rng.random() < 0.5 else len(elf))
    out[off:off + width] = value.to_bytes(width, "little")
    return bytes(out)


def elf_header(rng: random.Random, seed: Seed) -> tuple[str, bytes]:
    elf = bytearray(seed.files[seed.elf_member])
    if rng.random() < 0.3:  # e_ident: class, data, version, OS ABI
        elf[rng.choice([4, 5, 6, 7])] = rng.choice([0, 1, 2, 3, 0xFF])
        return _wheel(seed, bytes(elf))
    name = rng.choice(sorted(set(HEADER64) - set(PROGRAM_FIELDS)))
    return _wheel(seed, _set_field(rng, bytes(elf), name))


def elf_program_headers(rng: random.Random, seed: Seed) -> tuple[str, bytes]:
    elf = seed.files[seed.elf_member]
    for name in rng.sample(PROGRAM_FIELDS, rng.randint(1, 3)):
        elf = _set_field(rng, elf, name)
    return _wheel(seed, elf)


def elf_sections(rng: random.Random, seed: Seed) -> tuple[str, bytes]:
    elf = seed.files[seed.elf_member]
    for _ in range(rng.randint(1, 3)):
        index = rng.randrange(len(_sections(elf)))
        field = rng.choice(SECTION_FIELDS)
        row = _sections(elf)[index]
        old = row[SECTION_FIELDS.index(field)]
        width = 4 if field in ("name", "type", "link", "info") else 8
        elf = set_section_field(elf, index, field, _value(rng, width, int(old)))
    return _wheel(seed, elf)


def elf_versions(rng: random.Random, seed: Seed) -> tuple[str, bytes]:
    elf = seed.files[seed.elf_member]
    sections = _sections(elf)
    index = next(i for i, s in enumerate(sections) if s[1] == SHT_GNU_VERNEED)
    how = rng.randrange(4)
    if how == 0:  # the entry count (sh_info)
        return _wheel(seed, set_section_field(elf, index, "info",
                                              _value(rng, 4, int(sections[index][7]))))
    if how == 1:  # the section becomes a verdef (or another version section)
        kind = rng.choice([SHT_GNU_VERDEF, 0x6FFFFFFF, SHT_GNU_VERNEED])
        elf = set_section_field(elf, index, "type", kind)
        return _wheel(seed, set_section_field(elf, index, "info", _value(rng, 4, 2)))
    # Fields of a Verneed (vn_version, vn_cnt, vn_file, vn_aux, vn_next) or a Vernaux
    # (vna_hash, vna_flags, vna_other, vna_name, vna_next) entry.
    start, size = int(sections[index][4]), int(sections[index][5])
    out = bytearray(elf)
    fields = [(0, 2), (2, 2), (4, 4), (8, 4), (12, 4)] if how == 2 else [
        (0, 4), (4, 2), (6, 2), (8, 4), (12, 4)]
    at = start + 16 * rng.randrange(max(1, size // 16))
    off, width = rng.choice(fields)
    old = int.from_bytes(out[at + off:at + off + width], "little")
    out[at + off:at + off + width] = _value(rng, width, old).to_bytes(width, "little")
    return _wheel(seed, bytes(out))


def elf_dynamic(rng: random.Random, seed: Seed) -> tuple[str, bytes]:
    elf = seed.files[seed.elf_member]
    sections = _sections(elf)
    index = next(i for i, s in enumerate(sections) if s[1] == SHT_DYNAMIC)
    start, size = int(sections[index][4]), int(sections[index][5])
    how = rng.randrange(4)
    if how == 0:  # the section's size, entry size or string table link
        field = rng.choice(["size", "entsize", "link", "offset"])
        old = sections[index][SECTION_FIELDS.index(field)]
        width = 4 if field == "link" else 8
        return _wheel(seed, set_section_field(elf, index, field, _value(rng, width, int(old))))
    out = bytearray(elf)
    at = start + 16 * rng.randrange(size // 16)
    if how == 1:  # an entry's tag (DT_NULL removed, DT_NEEDED added, unknown tags)
        tag = rng.choice([0, 1, 1, 5, 10, 14, 15, 29, 0x6FFFFFFE, 0x6FFFFFFF, -1, 2**62])
        out[at:at + 8] = (tag % 2**64).to_bytes(8, "little")
    elif how == 2:  # an entry's value (a DT_NEEDED string offset)
        out[at + 8:at + 16] = _value(rng, 8, 0).to_bytes(8, "little")
    else:  # every entry DT_NEEDED, no terminator
        for k in range(size // 16):
            out[start + 16 * k:start + 16 * k + 8] = (1).to_bytes(8, "little")
    return _wheel(seed, bytes(out))


ELF_FAMILIES: dict[str, Mutation] = {
    "elf_header": elf_header, "elf_program_headers": elf_program_headers,
    "elf_sections": elf_sections, "elf_versions": elf_versions, "elf_dynamic": elf_dynamic,
}
