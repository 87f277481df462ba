"""The struct-based central directory reader and member reader agree with zipfile: the
same members (names, sizes, offsets, CRCs) from one archive, the same bytes from a member,
the same refusals of a bad CRC; the cheap all-names test never passes an unsafe name."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cross_compiler.wheel.archive import maybe_unsafe, unsafe_path
from cross_compiler.wheel.zipindex import read_index, scan_records
from cross_compiler.wheel.zipio import ZipIOError
from cross_compiler.wheel.zipread import read_member
from tests.wheels import FIXED_TIME


def _zip(path: Path, members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED,
         comment: bytes = b"", force_zip64: bool = False, prefix: bytes = b"") -> Path:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as zf:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, FIXED_TIME)
            info.compress_type = method
            info.comment = b"about " + name.encode()
            with zf.open(info, "w", force_zip64=force_zip64) as w:
                w.write(data)
        zf.comment = comment
    path.write_bytes(prefix + buffer.getvalue())
    return path


MEMBERS = {"a/x.py": b"x = 1\n" * 100, "a/caf\u00e9.txt": b"\0" * 5000, "a/empty": b"",
           "a/dir/": b""}


@pytest.mark.parametrize("method", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED,
                                    zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])
@pytest.mark.parametrize(("comment", "zip64", "prefix"), [
    (b"", False, b""), (b"an archive comment", False, b""), (b"", True, b""),
    (b"", False, b"#!/bin/sh\nexit 0\n"),  # data before the archive: zipfile's "concat"
])
def test_index_and_members_agree_with_zipfile(tmp_path: Path, method: int, comment: bytes,
                                              zip64: bool, prefix: bytes) -> None:
    path = _zip(tmp_path / "t.zip", MEMBERS, method, comment, zip64, prefix)
    fd = os.open(path, os.O_RDONLY)
    try:
        index = read_index(fd)
        records = scan_records(fd, index)
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            assert index.comment == zf.comment and index.records_end == zf.start_dir
            assert len(index.members) == len(infos)
            for m, info, data_offset in zip(index.members, infos, records.data_offsets,
                                            strict=True):
                assert (m.name, m.flags, m.method, m.crc, m.compress_size, m.file_size,
                        m.header_offset, m.external_attr) == (
                    info.filename, info.flag_bits, info.compress_type, info.CRC,
                    info.compress_size, info.file_size, info.header_offset,
                    info.external_attr)
                assert read_member(fd, m, data_offset) == zf.read(info)
                assert read_member(fd, m, data_offset, 10) == zf.read(info)[:10]
    finally:
        os.close(fd)


def test_a_bad_crc_is_refused_like_zipfile(tmp_path: Path) -> None:
    path = _zip(tmp_path / "t.zip", {"x": b"hello" * 100}, zipfile.ZIP_STORED)
    data = bytearray(path.read_bytes())
    at = data.find(b"hello")
    data[at] = ord("j")
    path.write_bytes(bytes(data))
    with zipfile.ZipFile(path) as zf, pytest.raises(zipfile.BadZipFile, match="CRC"):
        zf.read("x")
    fd = os.open(path, os.O_RDONLY)
    try:
        index = read_index(fd)
        offsets = scan_records(fd, index).data_offsets
        with pytest.raises(ZipIOError, match=r"member 'x' is damaged \(bad CRC-32\)"):
            read_member(fd, index.members[0], offsets[0])
    finally:
        os.close(fd)


def test_not_a_zip_and_a_truncated_directory(tmp_path: Path) -> None:
    path = tmp_path / "t.zip"
    for blob in (b"", b"PK\x05\x06 short", b"not a zip at all" * 10):
        path.write_bytes(blob)
        fd = os.open(path, os.O_RDONLY)
        try:
            with pytest.raises(ZipIOError, match="not a zip file"):
                read_index(fd)
        finally:
            os.close(fd)


def test_each_stored_entry_is_kept_for_copying(tmp_path: Path) -> None:
    """Central entries are kept as stored (comments included), so a copied one is exact."""
    path = _zip(tmp_path / "t.zip", MEMBERS)
    raw = path.read_bytes()
    fd = os.open(path, os.O_RDONLY)
    try:
        index = read_index(fd)
    finally:
        os.close(fd)
    assert b"".join(m.central for m in index.members) == raw[index.records_end:-22]
    assert all(b"about " in m.central for m in index.members)


@given(st.lists(st.text(alphabet="a./\\:\0\n\u00e9", max_size=8), min_size=1, max_size=4))
def test_the_all_names_test_never_passes_an_unsafe_name(names: list[str]) -> None:
    if any(unsafe_path(n) for n in names):
        assert maybe_unsafe(names)


def test_the_all_names_test_passes_safe_names() -> None:
    assert not maybe_unsafe(["a/b.py", "a/", "a/.hidden", "a/...", "a/b..c", "x.dist-info/"])


def test_zipdiff_sees_the_extra_fields_zipfile_sees(tmp_path: Path) -> None:
    """zipdiff reads the same index: its "extra" fact is zipfile's ZipInfo.extra (the ZIP64
    field included), and identical archives have no differences."""
    from cross_compiler.wheel.zipdiff import _extra, diff_zips

    path = _zip(tmp_path / "t.zip", MEMBERS, force_zip64=True)
    fd = os.open(path, os.O_RDONLY)
    try:
        members = read_index(fd).members
    finally:
        os.close(fd)
    with zipfile.ZipFile(path) as zf:
        assert [_extra(m) for m in members] == [i.extra for i in zf.infolist()]
    assert diff_zips(path, path) == []
