"""A wheel over 4 GiB uncompressed (ZIP64) comes out right, with its big member copied raw."""

from __future__ import annotations

import shutil
import zipfile
import zlib
from pathlib import Path

import pytest

from cross_compiler import resources
from cross_compiler.toolchain.targets import load_targets
from cross_compiler.wheel.retag import retag_wheel
from cross_compiler.wheel.tags import record_hash
from tests.wheels import AARCH64_SO, FIXED_TIME, wheel_text

pytestmark = pytest.mark.slow

(A64,) = load_targets(["aarch64"], resources.toolchains_dir())
BIG = (1 << 32) + (1 << 20)  # 4 GiB + 1 MiB of zeros: compresses to a few MiB
CHUNK = b"\0" * (64 << 20)


def _big_wheel(path: Path) -> int:
    """Stream the big member so the test never holds it in memory; returns its CRC."""
    crc = 0
    dist_info = "big-1.0.dist-info"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        info = zipfile.ZipInfo("big/blob.bin", FIXED_TIME)
        info.compress_type = zipfile.ZIP_DEFLATED
        with zf.open(info, "w", force_zip64=True) as w:
            left = BIG
            while left:
                piece = CHUNK[: min(len(CHUNK), left)]
                w.write(piece)
                crc = zlib.crc32(piece, crc)
                left -= len(piece)
        small = {"big/_n.so": AARCH64_SO,
                 f"{dist_info}/WHEEL": wheel_text(["cp311-cp311-linux_x86_64"]).encode()}
        for name, data in small.items():
            zf.writestr(zipfile.ZipInfo(name, FIXED_TIME), data, zipfile.ZIP_DEFLATED)
        # The blob's RECORD hash is not checked here (installer would inflate 4 GiB to disk).
        record = f"big/blob.bin,sha256=unchecked,{BIG}\n" + "".join(
            f"{n},{record_hash(d)},{len(d)}\n" for n, d in small.items()
        ) + f"{dist_info}/RECORD,,\n"
        zf.writestr(zipfile.ZipInfo(f"{dist_info}/RECORD", FIXED_TIME), record)
    return crc


def test_zip64_wheel(tmp_path: Path) -> None:
    if shutil.disk_usage(tmp_path).free < 1 << 30:
        pytest.skip("needs 1 GiB of free disk")
    source = tmp_path / "big-1.0-cp311-cp311-linux_x86_64.whl"
    crc = _big_wheel(source)
    result = retag_wheel(source, tmp_path / "out", A64, platform="linux_aarch64")
    assert result.path.name == "big-1.0-cp311-cp311-linux_aarch64.whl"
    with zipfile.ZipFile(source) as a, zipfile.ZipFile(result.path) as b:
        big_in, big_out = a.getinfo("big/blob.bin"), b.getinfo("big/blob.bin")
        assert big_out.file_size == BIG and big_out.CRC == crc
        assert big_out.compress_size == big_in.compress_size
        assert b.read("big-1.0.dist-info/WHEEL").decode().count("linux_aarch64") == 1
        # Inflate the big member once, through zipfile's own CRC check.
        with b.open("big/blob.bin") as f:
            total = 0
            while chunk := f.read(64 << 20):
                total += len(chunk)
        assert total == BIG
