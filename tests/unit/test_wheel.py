from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from packaging.utils import parse_wheel_filename

from cross_compiler import resources
from cross_compiler.toolchain.targets import load_targets
from cross_compiler.wheel.retag import retag_wheel
from cross_compiler.wheel.tags import WheelError, WheelName, extension_rename
from tests.wheels import AARCH64_SO, VALIDATE_RECORD, X86_64_SO, elf_header, make_wheel

TARGETS = {t.cpu: t for t in load_targets(["all"], resources.toolchains_dir())}
A64 = TARGETS["aarch64"]
HOST_EXT = "demo/_native.cpython-311-x86_64-linux-gnu.so"


@pytest.fixture
def platform_wheel(tmp_path: Path) -> Path:
    return make_wheel(
        tmp_path, "demo-1.0-cp311-cp311-linux_x86_64.whl",
        {"demo/__init__.py": b"from ._native import *\n", HOST_EXT: AARCH64_SO},
        ["cp311-cp311-linux_x86_64"],
    )


def _members(path: Path) -> dict[str, zipfile.ZipInfo]:
    with zipfile.ZipFile(path) as zf:
        return {i.filename: i for i in zf.infolist()}


def _raw(path: Path, info: zipfile.ZipInfo) -> bytes:
    with path.open("rb") as f:
        f.seek(info.header_offset + 26)
        n, e = int.from_bytes(f.read(2), "little"), int.from_bytes(f.read(2), "little")
        f.seek(info.header_offset + 30 + n + e)
        return f.read(info.compress_size)


def test_retag_names_tags_record_and_extension(platform_wheel: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = retag_wheel(platform_wheel, out, A64, platform="linux_aarch64")
    assert result.path.name == "demo-1.0-cp311-cp311-linux_aarch64.whl"
    parse_wheel_filename(result.path.name)
    new_ext = "demo/_native.cpython-311-aarch64-linux-gnu.so"
    assert result.renamed == {HOST_EXT: new_ext}
    with zipfile.ZipFile(result.path) as zf:
        assert zf.testzip() is None
        wheel = zf.read("demo-1.0.dist-info/WHEEL").decode()
        assert "Tag: cp311-cp311-linux_aarch64\n" in wheel and "x86_64" not in wheel
        record = zf.read("demo-1.0.dist-info/RECORD").decode()
        assert new_ext in record and HOST_EXT not in record
        assert zf.read(new_ext) == AARCH64_SO
    # The oracle: PyPI's installer validates every RECORD row against the content.
    subprocess.run([sys.executable, "-c", VALIDATE_RECORD, str(result.path)], check=True,
                   capture_output=True)
    subprocess.run([sys.executable, "-m", "installer", "--destdir", str(tmp_path / "inst"),
                    str(result.path)], check=True, capture_output=True)


def test_unchanged_members_are_copied_raw(platform_wheel: Path, tmp_path: Path) -> None:
    result = retag_wheel(platform_wheel, tmp_path / "out", A64, platform="linux_aarch64")
    before, after = _members(platform_wheel), _members(result.path)
    for name in ("demo/__init__.py", "demo-1.0.dist-info/METADATA"):
        assert _raw(result.path, after[name]) == _raw(platform_wheel, before[name])
    new_ext = "demo/_native.cpython-311-aarch64-linux-gnu.so"
    assert _raw(result.path, after[new_ext]) == _raw(platform_wheel, before[HOST_EXT])


def test_same_input_same_bytes_and_input_untouched(platform_wheel: Path, tmp_path: Path) -> None:
    original = platform_wheel.read_bytes()
    a = retag_wheel(platform_wheel, tmp_path / "a", A64, platform="linux_aarch64")
    b = retag_wheel(platform_wheel, tmp_path / "b", A64, platform="linux_aarch64")
    assert a.path.read_bytes() == b.path.read_bytes()
    assert platform_wheel.read_bytes() == original
    assert [p.name for p in (tmp_path / "a").iterdir()] == [a.path.name]


def test_wheel_metadata_equals_wheel_tags(platform_wheel: Path, tmp_path: Path) -> None:
    """The WHEEL we write is the one `wheel tags` writes for the same request."""
    ours = retag_wheel(platform_wheel, tmp_path / "ours", A64, platform="manylinux_2_17_aarch64")
    theirs_dir = tmp_path / "theirs"
    theirs_dir.mkdir()
    copy = theirs_dir / platform_wheel.name
    copy.write_bytes(platform_wheel.read_bytes())
    subprocess.run([sys.executable, "-m", "wheel", "tags", "--platform-tag",
                    "manylinux_2_17_aarch64", str(copy)], check=True, capture_output=True)
    theirs = theirs_dir / ours.path.name
    with zipfile.ZipFile(ours.path) as a, zipfile.ZipFile(theirs) as b:
        name = "demo-1.0.dist-info/WHEEL"
        assert a.read(name) == b.read(name)


def test_x86_64_binary_is_refused_naming_it(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, "demo-1.0-cp311-cp311-linux_x86_64.whl",
                       {"demo/_native.so": X86_64_SO}, ["cp311-cp311-linux_x86_64"])
    with pytest.raises(WheelError, match=r"demo/_native\.so is x86_64 64-bit"):
        retag_wheel(wheel, tmp_path / "out", A64, platform="linux_aarch64")
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
    result = retag_wheel(wheel, tmp_path / "out", A64, platform="linux_aarch64", verify=False)
    assert result.path.exists()


def test_pure_wheel_becomes_platform_specific(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, "demo-1.0-py3-none-any.whl", {"demo/__init__.py": b""},
                       ["py3-none-any"], purelib=True)
    result = retag_wheel(wheel, tmp_path / "out", A64)
    assert result.path.name == "demo-1.0-py3-none-linux_aarch64.whl"
    assert result.reason == "no ELF files to inspect"
    with zipfile.ZipFile(result.path) as zf:
        assert "Root-Is-Purelib: false" in zf.read("demo-1.0.dist-info/WHEEL").decode()


def test_build_tag_and_compressed_tag_sets(tmp_path: Path) -> None:
    tags = ["cp310-abi3-linux_x86_64", "cp310-abi3-manylinux_2_17_x86_64"]
    wheel = make_wheel(tmp_path, "demo-1.0-7-cp310-abi3-linux_x86_64.manylinux_2_17_x86_64.whl",
                       {"demo/_n.abi3.so": AARCH64_SO}, tags, build="7")
    result = retag_wheel(wheel, tmp_path / "out", A64, platform="manylinux_2_28_aarch64")
    assert result.path.name == "demo-1.0-7-cp310-abi3-manylinux_2_28_aarch64.whl"
    with zipfile.ZipFile(result.path) as zf:
        text = zf.read("demo-1.0.dist-info/WHEEL").decode()
    assert "Tag: cp310-abi3-manylinux_2_28_aarch64\n" in text and "Build: 7\n" in text
    assert result.renamed == {}


def test_signatures_are_dropped(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, "demo-1.0-py3-none-any.whl", {"demo/__init__.py": b""},
                       ["py3-none-any"], extra_members=[("demo-1.0.dist-info/RECORD.jws", b"{}")])
    result = retag_wheel(wheel, tmp_path / "out", A64)
    assert "demo-1.0.dist-info/RECORD.jws" not in _members(result.path)


def test_32_bit_armhf(tmp_path: Path) -> None:
    so = elf_header(32, "little", 40, 0x5000400) + b"\0" * 100
    wheel = make_wheel(tmp_path, "demo-1.0-cp311-cp311-linux_x86_64.whl",
                       {"demo/_n.cpython-311-x86_64-linux-gnu.so": so},
                       ["cp311-cp311-linux_x86_64"])
    result = retag_wheel(wheel, tmp_path / "out", TARGETS["armv7hf"], platform="linux_armv7l")
    assert result.renamed == {
        "demo/_n.cpython-311-x86_64-linux-gnu.so": "demo/_n.cpython-311-arm-linux-gnueabihf.so"
    }


def test_stored_members_and_data_descriptors(tmp_path: Path) -> None:
    stored = make_wheel(tmp_path, "demo-1.0-py3-none-any.whl", {"demo/x.py": b"x = 1\n"},
                        ["py3-none-any"], compression=zipfile.ZIP_STORED)
    # Rewrite it through a non-seekable stream so zipfile uses data descriptors.
    streamed = tmp_path / "streamed" / stored.name
    streamed.parent.mkdir()

    class Unseekable:
        def __init__(self, f: object) -> None:
            self.f = f

        def write(self, b: bytes) -> int:
            return self.f.write(b)  # type: ignore[attr-defined, no-any-return]

        def flush(self) -> None:
            self.f.flush()  # type: ignore[attr-defined]

    with open(streamed, "wb") as raw, zipfile.ZipFile(Unseekable(raw), "w",  # type: ignore[arg-type]
                                                      zipfile.ZIP_DEFLATED) as out, \
            zipfile.ZipFile(stored) as src:
        for info in src.infolist():
            with out.open(info.filename, "w") as w:
                w.write(src.read(info))
    assert any(i.flag_bits & 0x8 for i in _members(streamed).values())
    for wheel in (stored, streamed):
        result = retag_wheel(wheel, tmp_path / f"out-{wheel.parent.name}", A64)
        with zipfile.ZipFile(result.path) as zf:
            assert zf.testzip() is None
            assert zf.read("demo/x.py") == b"x = 1\n"


def test_extension_rename() -> None:
    assert extension_rename("a/b.cpython-311-x86_64-linux-gnu.so", "aarch64-linux-gnu") == (
        "a/b.cpython-311-aarch64-linux-gnu.so")
    assert extension_rename("a/b.cpython-311-aarch64-linux-gnu.so", "aarch64-linux-gnu") is None
    assert extension_rename("a/b.abi3.so", "aarch64-linux-gnu") is None
    assert extension_rename("a/b.so", "aarch64-linux-gnu") is None


def test_wheel_name_round_trip() -> None:
    for name in ("a-1.0-py3-none-any.whl", "a_b-2.0-1-cp311-cp311-linux_x86_64.whl"):
        assert WheelName.parse(name).filename() == name


def _needing_wheel(tmp_path: Path, bundled: bool = False) -> Path:
    from tests.wheels import make_elf

    ext = make_elf(needed=("libfoo.so.1", "libc.so.6") if bundled else ("libc.so.6",),
                   versions=(("libc.so.6", ("GLIBC_2.17", "GLIBC_2.28")),))
    files = {"demo/_native.so": ext}
    if bundled:
        files["demo.libs/libfoo.so.1"] = make_elf()
    return make_wheel(tmp_path, "demo-1.0-cp311-cp311-linux_x86_64.whl", files,
                      ["cp311-cp311-linux_x86_64"])


@pytest.mark.parametrize("platform", ["manylinux_2_17_aarch64", "manylinux2014_aarch64",
                                      "manylinux_2_27_aarch64"])
def test_an_explicit_manylinux_tag_the_binaries_do_not_meet_is_refused(
        tmp_path: Path, platform: str) -> None:
    wheel = _needing_wheel(tmp_path)
    with pytest.raises(WheelError) as e:
        retag_wheel(wheel, tmp_path / "out", A64, platform=platform)
    assert e.value.exit_code == 7
    assert e.value.message == (f"demo-1.0-cp311-cp311-linux_x86_64.whl: its binaries need "
                            f"GLIBC_2.28, more than {platform} allows (they meet "
                            f"manylinux_2_28_aarch64)")
    assert not (tmp_path / "out").exists()


def test_an_explicit_tag_the_binaries_meet_or_no_verify_is_taken(tmp_path: Path) -> None:
    wheel = _needing_wheel(tmp_path)
    for platform in ("manylinux_2_28_aarch64", "manylinux_2_31_aarch64", "linux_aarch64",
                     "musllinux_1_2_aarch64"):
        result = retag_wheel(wheel, tmp_path / platform, A64, platform=platform)
        assert result.platform == platform and result.reason == "requested"
    forced = retag_wheel(wheel, tmp_path / "forced", A64, platform="manylinux2014_aarch64",
                         verify=False)
    assert forced.platform == "manylinux2014_aarch64"
    # A library shipped in the wheel itself is no system library the policy must allow.
    (tmp_path / "b").mkdir()
    bundled = _needing_wheel(tmp_path / "b", bundled=True)
    assert retag_wheel(bundled, tmp_path / "b" / "out", A64,
                       platform="manylinux_2_28_aarch64").platform == "manylinux_2_28_aarch64"


def test_a_wheel_s_own_older_manylinux_claim_for_the_arch_is_trusted(tmp_path: Path) -> None:
    """Retagging to a newer baseline than the wheel already claims for this arch is true by
    that claim (no re-inflating of its libraries); an older one is checked."""
    from tests.wheels import make_elf

    ext = make_elf(versions=(("libc.so.6", ("GLIBC_2.17", "GLIBC_2.28")),))
    wheel = make_wheel(tmp_path, "demo-1.0-cp311-cp311-manylinux_2_24_aarch64.whl",
                       {"demo/_native.so": ext}, ["cp311-cp311-manylinux_2_24_aarch64"])
    newer = retag_wheel(wheel, tmp_path / "newer", A64, platform="manylinux_2_26_aarch64")
    assert newer.platform == "manylinux_2_26_aarch64"
    with pytest.raises(WheelError, match="more than manylinux_2_17_aarch64 allows"):
        retag_wheel(wheel, tmp_path / "older", A64, platform="manylinux_2_17_aarch64")


def _central_entries(path: Path) -> dict[str, bytes]:
    """Each member's central directory entry as stored, by name."""
    import os

    from cross_compiler.wheel.zipindex import read_index

    fd = os.open(path, os.O_RDONLY)
    try:
        return {m.name: m.central for m in read_index(fd).members}
    finally:
        os.close(fd)


def _without_offset(entry: bytes) -> bytes:
    return entry[:42] + entry[46:]


def test_unchanged_members_keep_every_byte_but_their_offset(tmp_path: Path) -> None:
    """Local records copied whole; central entries as stored (a member's comment too), only
    the offset moved, here by the rename of the first member."""
    wheel = make_wheel(tmp_path, "demo-1.0-cp311-cp311-linux_x86_64.whl",
                       {HOST_EXT: AARCH64_SO, "demo/__init__.py": b"x = 1\n",
                        "demo/data.bin": bytes(range(256)) * 64},
                       ["cp311-cp311-linux_x86_64"])
    with zipfile.ZipFile(wheel, "a") as zf:
        info = zipfile.ZipInfo("demo/notes.txt", (2024, 1, 2, 3, 4, 6))
        info.comment = b"a member comment"
        zf.writestr(info, b"notes")
    result = retag_wheel(wheel, tmp_path / "out", A64, platform="linux_aarch64")
    before, after = _central_entries(wheel), _central_entries(result.path)
    infos_before, infos_after = _members(wheel), _members(result.path)
    moved = 0
    for name in ("demo/__init__.py", "demo/data.bin", "demo-1.0.dist-info/METADATA",
                 "demo/notes.txt"):
        assert _without_offset(after[name]) == _without_offset(before[name])
        moved += infos_after[name].header_offset != infos_before[name].header_offset
        a, b = infos_before[name], infos_after[name]
        size = 30 + len(a.filename.encode()) + a.compress_size
        with wheel.open("rb") as f, result.path.open("rb") as g:
            f.seek(a.header_offset)
            g.seek(b.header_offset)
            assert g.read(size) == f.read(size)
    assert moved == 4  # the renamed extension's name is one byte longer
    assert b"a member comment" in after["demo/notes.txt"]
    with zipfile.ZipFile(result.path) as zf:
        assert zf.testzip() is None


@pytest.mark.parametrize("compression", [zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])
def test_bzip2_and_lzma_members_are_read_for_their_elf_header(tmp_path: Path,
                                                              compression: int) -> None:
    good = make_wheel(tmp_path, "demo-1.0-cp311-cp311-linux_x86_64.whl",
                      {HOST_EXT: AARCH64_SO}, ["cp311-cp311-linux_x86_64"],
                      compression=compression)
    result = retag_wheel(good, tmp_path / "out", A64, platform="linux_aarch64")
    assert result.elf_members == (HOST_EXT,)
    with zipfile.ZipFile(result.path) as zf:
        assert zf.testzip() is None
    (tmp_path / "bad").mkdir()
    bad = make_wheel(tmp_path / "bad", "demo-1.0-cp311-cp311-linux_x86_64.whl",
                     {"demo/_native.so": X86_64_SO}, ["cp311-cp311-linux_x86_64"],
                     compression=compression)
    with pytest.raises(WheelError, match=r"demo/_native\.so is x86_64 64-bit"):
        retag_wheel(bad, tmp_path / "out2", A64, platform="linux_aarch64")


def test_bytes_before_the_archive_are_left_out(tmp_path: Path, platform_wheel: Path) -> None:
    """A wheel with bytes before its first record (zipfile's "concat") comes out as a
    plain archive whose records start at 0."""
    prefixed = tmp_path / "p" / platform_wheel.name
    prefixed.parent.mkdir()
    prefixed.write_bytes(b"#!/bin/sh\n" * 10 + platform_wheel.read_bytes())
    result = retag_wheel(prefixed, tmp_path / "out", A64, platform="linux_aarch64")
    plain = retag_wheel(platform_wheel, tmp_path / "plain", A64, platform="linux_aarch64")
    assert result.path.read_bytes() == plain.path.read_bytes()


def test_a_long_run_is_placed_where_the_kernel_copies_it_fast(tmp_path: Path) -> None:
    """The new WHEEL goes first, its local header padded (zipalign's extra field) so that a
    run of records of 16 MiB or more starts at its input offset within a page, in the first
    page of a 64 KiB block; the wheel stays valid. Small wheels get no padding."""
    wheel = make_wheel(tmp_path, "demo-1.0-cp311-cp311-linux_x86_64.whl",
                       {"demo/__init__.py": b"x = 1\n", "demo/big.bin": bytes(17 << 20)},
                       ["cp311-cp311-linux_x86_64"], compression=zipfile.ZIP_STORED)
    result = retag_wheel(wheel, tmp_path / "out", A64, platform="linux_aarch64")
    infos = _members(result.path)
    first = min(infos.values(), key=lambda i: i.header_offset)
    assert first.filename == "demo-1.0.dist-info/WHEEL"
    run_start = infos["demo/__init__.py"].header_offset
    assert run_start % 65536 == _members(wheel)["demo/__init__.py"].header_offset % 4096
    with result.path.open("rb") as f:
        head = f.read(run_start)
    assert b"\x35\xd9" in head[30:]  # the padding field's id, little-endian
    from installer.sources import WheelFile

    with zipfile.ZipFile(result.path) as zf:
        assert zf.testzip() is None
        WheelFile(zf).validate_record()  # PyPI's installer: every RECORD row, every byte
    (tmp_path / "small").mkdir()
    small = make_wheel(tmp_path / "small", "demo-1.0-cp311-cp311-linux_x86_64.whl",
                       {"demo/__init__.py": b"x = 1\n"}, ["cp311-cp311-linux_x86_64"])
    out = retag_wheel(small, tmp_path / "small-out", A64, platform="linux_aarch64")
    assert out.path.stat().st_size < small.stat().st_size + 100
