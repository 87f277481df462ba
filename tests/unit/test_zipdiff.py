"""What differs between two builds: the wheel member summary and release comparison."""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

import pytest

from cross_compiler.errors import ConfigError
from cross_compiler.release.publish import TargetOutcome, mark_irreproducible, sums_line
from cross_compiler.release.reproduce import compare, parse_sums
from cross_compiler.wheel.zipdiff import MemberDiff, diff_zips, summary

WHEN = (2024, 1, 2, 3, 4, 6)


def _zip(path: Path, members: list[tuple[str, bytes, tuple[int, ...], int]]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data, when, mode in members:
            info = zipfile.ZipInfo(name, when)  # type: ignore[arg-type]
            info.external_attr = (0o100000 | mode) << 16
            zf.writestr(info, data)
    return path


BASE = [("demo/__init__.py", b"x = 1\n", WHEN, 0o644), ("demo/_n.so", b"\x7fELF", WHEN, 0o755)]


def test_identical_archives_have_no_summary(tmp_path: Path) -> None:
    a, b = _zip(tmp_path / "a.zip", BASE), _zip(tmp_path / "b.zip", BASE)
    assert diff_zips(a, b) == [] and summary(a, b) == []


def test_timestamp_is_named_with_both_values(tmp_path: Path) -> None:
    a = _zip(tmp_path / "a.zip", BASE)
    b = _zip(tmp_path / "b.zip", [(BASE[0][0], BASE[0][1], (2026, 5, 6, 7, 8, 10), 0o644),
                                  BASE[1]])
    assert diff_zips(a, b) == [MemberDiff("demo/__init__.py", ("timestamp",),
                                          "2024-01-02 03:04:06", "2026-05-06 07:08:10")]
    assert summary(a, b) == ["first differing member demo/__init__.py: timestamp "
                             "(2024-01-02 03:04:06 -> 2026-05-06 07:08:10)"]


def test_content_size_and_mode(tmp_path: Path) -> None:
    a = _zip(tmp_path / "a.zip", BASE)
    b = _zip(tmp_path / "b.zip", [BASE[0], ("demo/_n.so", b"\x7fELF!", WHEN, 0o644)])
    (diff,) = diff_zips(a, b)
    assert diff.member == "demo/_n.so"
    assert diff.what[:3] == ("size", "content", "mode")
    assert diff.first.startswith("4; crc ") and "0o755" in diff.first and "0o644" in diff.second


def test_members_only_in_one_and_order(tmp_path: Path) -> None:
    a = _zip(tmp_path / "a.zip", BASE)
    b = _zip(tmp_path / "b.zip", [BASE[0], ("demo/extra.txt", b"", WHEN, 0o644)])
    assert [(d.member, d.what) for d in diff_zips(a, b)] == [
        ("demo/_n.so", ("only in first",)), ("demo/extra.txt", ("only in second",))]
    swapped = _zip(tmp_path / "c.zip", BASE[::-1])
    assert [(d.member, d.what) for d in diff_zips(a, swapped)] == [
        ("demo/__init__.py", ("order",))]


def test_not_a_zip_gives_the_first_differing_byte(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_bytes(b"\x7fELF\x02\x01")
    b.write_bytes(b"\x7fELF\x02\x02tail")
    assert summary(a, b) == ["bytes differ from offset 5 (sizes 6 and 10)"]


def test_damaged_archive_is_reported_not_raised(tmp_path: Path) -> None:
    a = _zip(tmp_path / "a.whl", BASE)
    b = tmp_path / "b.whl"
    b.write_bytes(a.read_bytes()[:-30] + b"PK\x05\x06" + b"\xff" * 26)
    assert summary(a, b)  # something is said; nothing raised


def _release(root: Path, files: dict[str, bytes]) -> Path:
    import hashlib

    root.mkdir()
    lines = []
    for path, data in sorted(files.items()):
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)
        lines.append(sums_line(hashlib.sha256(data).hexdigest(), path))
    (root / "SHA256SUMS").write_text("".join(lines))
    return root


def test_compare_names_every_differing_artifact_and_the_member(tmp_path: Path) -> None:
    wheel_a = _zip(tmp_path / "wa.whl", BASE).read_bytes()
    wheel_b = _zip(tmp_path / "wb.whl", [(BASE[0][0], b"x = 2\n", WHEN, 0o644),
                                         BASE[1]]).read_bytes()
    old = _release(tmp_path / "old", {"aarch64/demo.whl": wheel_a, "aarch64/hello": b"a",
                                      "s390x/hello": b"s", "armv7hf/hello": b"z"})
    new = _release(tmp_path / "new", {"aarch64/demo.whl": wheel_b, "aarch64/hello": b"a",
                                      "s390x/hello": b"S"})
    diffs = compare(old, new, ["aarch64", "s390x"])  # armv7hf was not built: not compared
    assert [d.path for d in diffs] == ["aarch64/demo.whl", "s390x/hello"]
    crc_a, crc_b = zlib.crc32(b"x = 1\n"), zlib.crc32(b"x = 2\n")
    assert diffs[0].details == ("first differing member demo/__init__.py: content "
                                f"(crc {crc_a:08x} -> crc {crc_b:08x})",)
    assert diffs[1].details == ("bytes differ from offset 0 (sizes 1 and 1)",)
    outcomes = [TargetOutcome("aarch64", "ok"), TargetOutcome("s390x", "ok")]
    mark_irreproducible(outcomes, diffs, "old")
    assert [o.status for o in outcomes] == ["irreproducible", "irreproducible"]
    assert "aarch64/demo.whl: first differing member demo/__init__.py" in outcomes[0].error


def test_compare_with_sums_only_and_missing_artifacts(tmp_path: Path) -> None:
    old = _release(tmp_path / "old", {"aarch64/a": b"1", "aarch64/gone": b"2"})
    (old / "aarch64" / "a").unlink()  # only SHA256SUMS of the baseline is at hand
    new = _release(tmp_path / "new", {"aarch64/a": b"3", "aarch64/added": b"4"})
    assert [(d.path, d.details[0].split(" ")[0]) for d in compare(old, new, ["aarch64"])] == [
        ("aarch64/a", "sha256"), ("aarch64/added", "not"), ("aarch64/gone", "missing")]


def test_parse_sums_reads_sha256sum_escapes_and_refuses_junk() -> None:
    digest = "ab" * 32
    text = sums_line(digest, "a/b c") + sums_line(digest, "odd\\name\nx")
    assert parse_sums(text) == {"a/b c": digest, "odd\\name\nx": digest}
    with pytest.raises(ConfigError, match="line 1 is not"):
        parse_sums("not a checksum line\n")


def test_a_restamped_big_wheel_names_eight_members_and_counts_the_rest(tmp_path: Path) -> None:
    names = [f"pkg/m{i:03d}.py" for i in range(20)]
    a = _zip(tmp_path / "a.zip", [(n, b"", WHEN, 0o644) for n in names])
    b = _zip(tmp_path / "b.zip", [(n, b"", (2030, 1, 1, 0, 0, 0), 0o644) for n in names])
    lines = summary(a, b)
    assert len(lines) == 9 and lines[-1] == "and 12 more members differ"
    assert lines[0].startswith("first differing member pkg/m000.py: timestamp")
