from __future__ import annotations

import io
import struct
import sys
import sysconfig
from pathlib import Path

import pytest
from elftools.elf.dynamic import DynamicSection
from elftools.elf.elffile import ELFFile
from elftools.elf.gnuversions import GNUVerNeedSection

from cross_compiler import resources
from cross_compiler.errors import ArchMismatchError
from cross_compiler.toolchain.targets import load_targets
from cross_compiler.wheel import elf
from tests.wheels import make_elf, set_section_field

TARGETS = {t.cpu: t for t in load_targets(["all"], resources.toolchains_dir())}


def make_header(bits: int, endian: str, machine: int, flags: int = 0) -> bytes:
    ident = b"\x7fELF" + bytes([1 if bits == 32 else 2, 1 if endian == "little" else 2, 1])
    ident = ident.ljust(16, b"\0")
    order = "little" if endian == "little" else "big"
    body = bytearray(64 - 16)
    body[0:2] = (3).to_bytes(2, order)  # e_type ET_DYN
    body[2:4] = machine.to_bytes(2, order)
    flags_at = (36 if bits == 32 else 48) - 16
    body[flags_at:flags_at + 4] = flags.to_bytes(4, order)
    return ident + bytes(body)


@pytest.mark.parametrize("cpu", sorted(TARGETS))
def test_each_target_accepts_its_own_header(cpu: str) -> None:
    spec = TARGETS[cpu].elf
    header = elf.parse_header(make_header(spec.bits, spec.endianness, spec.machine, 0x5000400))
    assert header is not None
    assert elf.mismatch(header, spec) is None


def test_x86_64_is_refused_for_aarch64() -> None:
    header = elf.parse_header(make_header(64, "little", 62))
    assert header is not None
    assert elf.mismatch(header, TARGETS["aarch64"].elf) == (
        "is x86_64 64-bit little-endian, expected aarch64 64-bit little-endian"
    )


def test_big_endian_ppc64_is_refused_for_ppc64le() -> None:
    header = elf.parse_header(make_header(64, "big", 21))
    assert header is not None
    assert "big-endian" in (elf.mismatch(header, TARGETS["ppc64le"].elf) or "")


def test_soft_float_arm_is_refused_for_armhf() -> None:
    header = elf.parse_header(make_header(32, "little", 40, elf.EF_ARM_ABI_FLOAT_SOFT))
    assert header is not None
    assert "soft-float" in (elf.mismatch(header, TARGETS["armv7hf"].elf) or "")


def test_not_elf() -> None:
    assert elf.parse_header(b"#!/bin/sh\n" + b"\0" * 60) is None
    assert elf.parse_header(b"\x7fELF") is None


def test_check_files_names_the_offending_file(tmp_path: Path) -> None:
    good = tmp_path / "good.so"
    good.write_bytes(make_header(64, "little", 183))
    script = tmp_path / "run.sh"
    script.write_text("#!/bin/sh\n")
    bad = tmp_path / "bad.so"
    bad.write_bytes(make_header(64, "little", 62))
    assert elf.check_files([good, script], TARGETS["aarch64"]) == [good]
    with pytest.raises(ArchMismatchError, match=r"bad\.so is x86_64"):
        elf.check_files([good, bad], TARGETS["aarch64"])


# The bounded reader of the dynamic section and version requirements (manylinux inference).

def _pyelftools(data: bytes) -> tuple[tuple[str, ...], tuple[tuple[str, tuple[str, ...]], ...]]:
    """The same facts read by pyelftools (what auditwheel uses), as the oracle."""
    needed: list[str] = []
    versions: list[tuple[str, tuple[str, ...]]] = []
    for section in ELFFile(io.BytesIO(data)).iter_sections():
        if isinstance(section, DynamicSection):
            needed += [str(t.needed) for t in section.iter_tags() if t.entry.d_tag == "DT_NEEDED"]
        elif isinstance(section, GNUVerNeedSection):
            versions += [(str(v.name), tuple(str(a.name) for a in aux))
                         for v, aux in section.iter_versions()]
    return tuple(needed), tuple(versions)


def _read(data: bytes) -> elf.DynamicInfo:
    return elf.read_dynamic(lambda: io.BytesIO(data))


@pytest.mark.parametrize(("bits", "endian"), [(64, "little"), (64, "big"), (32, "little"),
                                              (32, "big")])
def test_dynamic_reader_agrees_with_pyelftools(bits: int, endian: str) -> None:
    data = make_elf(bits=bits, endian=endian, needed=("libm.so.6", "libc.so.6"),
                    versions=(("libm.so.6", ("GLIBC_2.17", "GLIBC_2.29")),
                              ("libc.so.6", ("GLIBC_2.34",))))
    info = _read(data)
    assert info.needed == ("libm.so.6", "libc.so.6")
    assert info.version_needs == (("libm.so.6", ("GLIBC_2.17", "GLIBC_2.29")),
                                  ("libc.so.6", ("GLIBC_2.34",)))
    assert (info.needed, info.version_needs) == _pyelftools(data)


def test_dynamic_reader_agrees_with_pyelftools_on_real_binaries() -> None:
    lib = Path(sysconfig.get_paths()["stdlib"]) / "lib-dynload"
    paths = [Path(sys.executable).resolve(), *sorted(lib.glob("*.so"))[:40]]
    checked = 0
    for path in paths:
        data = path.read_bytes()
        if elf.parse_header(data[:64]) is None:
            continue
        info = elf.read_dynamic(lambda path=path: path.open("rb"))  # type: ignore[misc]
        assert (info.needed, info.version_needs) == _pyelftools(data), path
        checked += 1
    assert checked >= 1


def test_large_string_tables_are_read_by_window_with_the_same_result(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """TensorFlow's libtensorflow_cc.so.2 has an 82 MB .dynstr: it is not read whole, only
    a window at each name; the answer is the same as reading it whole."""
    lib = Path(sysconfig.get_paths()["stdlib"]) / "lib-dynload"
    paths = [Path(sys.executable).resolve(), *sorted(lib.glob("*.so"))[:10]]
    crafted = make_elf(needed=("libm.so.6", "libc.so.6"),
                       versions=(("libm.so.6", ("GLIBC_2.17", "GLIBC_2.29")),
                                 ("libc.so.6", ("GLIBC_2.34",))))
    whole = [elf.read_dynamic(lambda p=p: p.open("rb")) for p in paths]  # type: ignore[misc]
    whole.append(_read(crafted))
    monkeypatch.setattr(elf, "MAX_WHOLE_STRINGS", 0)
    windowed = [elf.read_dynamic(lambda p=p: p.open("rb")) for p in paths]  # type: ignore[misc]
    windowed.append(_read(crafted))
    assert windowed == whole
    monkeypatch.setattr(elf, "MAX_WINDOWS", 2)
    with pytest.raises(elf.ElfFormatError, match="more than 2 names in a large string table"):
        _read(crafted)


def test_huge_version_need_count_is_bounded() -> None:
    """sh_info = 0xFFFFFFFF entries (pyelftools loops for hours over them)."""
    data = set_section_field(make_elf(), 3, "info", 0xFFFFFFFF)
    assert _read(data).version_needs == (("libc.so.6", ("GLIBC_2.17",)),)


@pytest.mark.parametrize(("index", "field", "value", "message"), [
    (2, "size", 0xFFFFFFFF, "larger than 64 MiB"),
    (2, "offset", 0x7FFFFFFF, "past the end"),
    (3, "offset", 0xFFFFFFFFFFFF, "past the end"),
    (3, "link", 77, "links to no string table"),
    (1, "size", 1, "outside its string table"),
    (0, "size", 0xFFFFFFFF, None),  # e_shnum stays 5: section 0's size means nothing
])
def test_hostile_fields_raise_one_line(index: int, field: str, value: int,
                                       message: str | None) -> None:
    data = set_section_field(make_elf(), index, field, value)
    if message is None:
        assert _read(data).needed == ("libc.so.6",)
        return
    with pytest.raises(elf.ElfFormatError, match=message) as e:
        _read(data)
    assert "\n" not in str(e.value)


def test_extended_section_count_is_bounded() -> None:
    data = bytearray(set_section_field(make_elf(), 0, "size", 0xFFFFFFFF))
    data[60:62] = b"\0\0"  # e_shnum = 0: the count is section 0's sh_size
    with pytest.raises(elf.ElfFormatError, match="section headers"):
        _read(bytes(data))


def test_version_chain_leaving_its_section_is_refused() -> None:
    data = bytearray(make_elf(versions=(("libc.so.6", ("GLIBC_2.17", "GLIBC_2.28")),)))
    info = _read(bytes(data))
    assert info.version_needs == (("libc.so.6", ("GLIBC_2.17", "GLIBC_2.28")),)
    at = data.find(struct.pack("<HHI", 1, 2, 1))  # vn_version, vn_cnt, vn_file ("libc.so.6")
    assert at > 0
    struct.pack_into("<I", data, at + 8, 0x7FFFFFF0)  # vn_aux far outside the section
    with pytest.raises(elf.ElfFormatError, match=r"outside \.gnu\.version_r"):
        _read(bytes(data))


def test_no_section_headers_means_no_needs() -> None:
    data = bytearray(make_elf())
    data[40:48] = bytes(8)  # e_shoff = 0, as sstrip leaves it
    assert _read(bytes(data)) == elf.DynamicInfo((), ())
