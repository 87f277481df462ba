"""Bad wheels: one clear error each, no output file; and a fuzz run over corrupted archives."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cross_compiler import resources
from cross_compiler.errors import CrossCompilerError
from cross_compiler.toolchain.targets import load_targets
from cross_compiler.wheel.retag import retag_wheel
from cross_compiler.wheel.tags import WheelError
from tests.wheels import AARCH64_SO, make_wheel, wheel_text

(A64,) = load_targets(["aarch64"], resources.toolchains_dir())
NAME = "demo-1.0-cp311-cp311-linux_x86_64.whl"
TAGS = ["cp311-cp311-linux_x86_64"]


def _refused(wheel: Path, out: Path, pattern: str) -> None:
    with pytest.raises(WheelError, match=pattern) as e:
        retag_wheel(wheel, out, A64, platform="linux_aarch64")
    assert "\n" not in str(e.value)
    assert not out.exists() or list(out.iterdir()) == []


def _good(tmp_path: Path) -> Path:
    return make_wheel(tmp_path, NAME, {"demo/_n.so": AARCH64_SO, "demo/__init__.py": b""}, TAGS)


def test_not_a_zip(tmp_path: Path) -> None:
    (tmp_path / NAME).write_bytes(b"PK but not really a zip file at all")
    _refused(tmp_path / NAME, tmp_path / "out", "not a valid zip archive")


def test_truncated(tmp_path: Path) -> None:
    wheel = _good(tmp_path)
    wheel.write_bytes(wheel.read_bytes()[:-40])
    _refused(wheel, tmp_path / "out", "not a valid zip archive")


def test_truncated_member_data(tmp_path: Path) -> None:
    wheel = _good(tmp_path)
    data = bytearray(wheel.read_bytes())
    with zipfile.ZipFile(wheel) as zf:
        info = zf.getinfo("demo/_n.so")
    data[info.header_offset + 30 + len(info.filename): info.header_offset + 60] = b"\xff" * (
        30 - len(info.filename))
    wheel.write_bytes(bytes(data))
    with pytest.raises(CrossCompilerError):
        retag_wheel(wheel, tmp_path / "out", A64, platform="linux_aarch64")


# Names that alias another name ("demo//x.py" and "./demo/x.py" are "demo/x.py") would let
# one archive hold the same installed file twice.
@pytest.mark.parametrize("member", ["../evil.py", "/etc/evil.py", "demo/../../evil.py",
                                    "demo//x.py", "./demo/x.py", "demo/./x.py", "."])
def test_unsafe_paths(tmp_path: Path, member: str) -> None:
    wheel = make_wheel(tmp_path, NAME, {"demo/__init__.py": b""}, TAGS,
                       extra_members=[(member, b"x")])
    _refused(wheel, tmp_path / "out", "unsafe member path")


def test_duplicate_names(tmp_path: Path) -> None:
    with pytest.warns(UserWarning, match="Duplicate name"):  # zipfile warns as it writes it
        wheel = make_wheel(tmp_path, NAME, {"demo/__init__.py": b""}, TAGS,
                           extra_members=[("demo/__init__.py", b"again")])
    _refused(wheel, tmp_path / "out", "duplicate member 'demo/__init__.py'")


def test_missing_wheel_file(tmp_path: Path) -> None:
    wheel = tmp_path / NAME
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("demo/__init__.py", b"")
        zf.writestr("demo-1.0.dist-info/RECORD", b"")
    _refused(wheel, tmp_path / "out", "missing demo-1.0.dist-info/WHEEL")


def test_malformed_wheel_file(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, NAME, {"demo/__init__.py": b""}, TAGS,
                       wheel_override=b"\xff\xfe garbage")
    _refused(wheel, tmp_path / "out", "WHEEL is not UTF-8|WHEEL is malformed")
    wheel = make_wheel(tmp_path, NAME, {"demo/__init__.py": b""}, TAGS,
                       wheel_override=b"Generator: x\n\n")
    _refused(wheel, tmp_path / "out", "WHEEL is malformed")


def test_filename_tags_differ_from_wheel_tags(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, NAME, {"demo/__init__.py": b""}, TAGS,
                       wheel_override=wheel_text(["cp310-cp310-linux_x86_64"]).encode())
    _refused(wheel, tmp_path / "out", "do not match the file name's tags")


def test_invalid_file_name(tmp_path: Path) -> None:
    bad = tmp_path / "demo.whl"
    bad.write_bytes(_good(tmp_path).read_bytes())
    _refused(bad, tmp_path / "out", "not a valid wheel file name")


def test_encrypted_member(tmp_path: Path) -> None:
    wheel = _good(tmp_path)
    data = bytearray(wheel.read_bytes())
    with zipfile.ZipFile(wheel) as zf:
        info = zf.getinfo("demo/_n.so")
    # Set the "encrypted" flag in the local header and in the central directory entry.
    data[info.header_offset + 6] |= 1
    start, patched = 0, 0
    while (pos := data.find(b"PK\x01\x02", start)) != -1:
        name_len = int.from_bytes(data[pos + 28:pos + 30], "little")
        if data[pos + 46:pos + 46 + name_len] == b"demo/_n.so":
            data[pos + 8] |= 1
            patched += 1
        start = pos + 4
    assert patched == 1
    wheel.write_bytes(bytes(data))
    _refused(wheel, tmp_path / "out", "is encrypted")


@settings(max_examples=3000, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_corrupted_archives_only_raise_our_errors(tmp_path: Path, data: st.DataObject) -> None:
    original = _FUZZ_BASE.read_bytes()
    edits = data.draw(st.lists(st.tuples(st.integers(0, len(original) - 1), st.integers(0, 255)),
                               min_size=1, max_size=8))
    blob = bytearray(original)
    for pos, value in edits:
        blob[pos] = value
    cut = data.draw(st.one_of(st.none(), st.integers(0, len(blob))))
    if cut is not None:
        blob = blob[:cut]
    case = tmp_path / "fuzz" / NAME
    case.parent.mkdir(exist_ok=True)
    case.write_bytes(bytes(blob))
    out = tmp_path / "fuzz-out"
    try:
        result = retag_wheel(case, out, A64, platform="linux_aarch64")
    except CrossCompilerError as e:
        assert str(e) and "\n" not in e.message
        assert not list(out.glob("*.tmp")) if out.exists() else True
    else:
        with zipfile.ZipFile(result.path) as zf:
            assert len(zf.infolist()) >= 3
        result.path.unlink()


_FUZZ_BASE = Path(__file__).parent / "_fuzz_base.whl"


@pytest.fixture(autouse=True, scope="module")
def _fuzz_base(tmp_path_factory: pytest.TempPathFactory) -> None:
    global _FUZZ_BASE
    directory = tmp_path_factory.mktemp("base")
    _FUZZ_BASE = make_wheel(directory, NAME, {"demo/_n.so": AARCH64_SO[:200],
                                              "demo/__init__.py": b"x = 1\n"}, TAGS)


def _patch_local(wheel: Path, member: str, offset: int, value: bytes) -> None:
    """Overwrite bytes of ``member``'s local header (not its central directory entry)."""
    data = bytearray(wheel.read_bytes())
    with zipfile.ZipFile(wheel) as zf:
        start = zf.getinfo(member).header_offset
    data[start + offset:start + offset + len(value)] = value
    wheel.write_bytes(bytes(data))


def test_local_name_differs_from_central_name(tmp_path: Path) -> None:
    wheel = _good(tmp_path)
    _patch_local(wheel, "demo/_n.so", 30, b"demo/_X.so")
    _refused(wheel, tmp_path / "out", "local header disagrees with the central directory")


def test_local_method_differs_from_central_method(tmp_path: Path) -> None:
    wheel = _good(tmp_path)
    _patch_local(wheel, "demo/__init__.py", 8, (0).to_bytes(2, "little"))
    _refused(wheel, tmp_path / "out", "local header disagrees with the central directory")


def test_unreadable_compression_method(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, NAME, {"demo/__init__.py": b"x = 1\n"}, TAGS,
                       compression=zipfile.ZIP_STORED)
    data = bytearray(wheel.read_bytes())
    with zipfile.ZipFile(wheel) as zf:
        start = zf.getinfo("demo/__init__.py").header_offset
    data[start + 8:start + 10] = (97).to_bytes(2, "little")
    central = data.find(b"PK\x01\x02")  # the first entry: demo/__init__.py
    assert data[central + 46:central + 62] == b"demo/__init__.py"
    data[central + 10:central + 12] = (97).to_bytes(2, "little")
    wheel.write_bytes(bytes(data))
    _refused(wheel, tmp_path / "out", "compression method 97")


@pytest.mark.parametrize("method", [0, 8])
def test_an_elf_member_behind_a_large_local_extra_field_is_still_checked(
        tmp_path: Path, method: int) -> None:
    """The first read of a local header takes the data's first KiB with it; an ELF member
    whose extra field is longer than that is read again, not waved through."""
    from tests.fuzz.archive import build_zip, entry
    from tests.wheels import X86_64_SO, record_for

    files = {"demo/_n.so": X86_64_SO, "demo/__init__.py": b"",
             "demo-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: demo\n"
                                            b"Version: 1.0\n\n",
             "demo-1.0.dist-info/WHEEL": wheel_text(TAGS).encode()}
    big_extra = (0xCAFE).to_bytes(2, "little") + (3000).to_bytes(2, "little") + bytes(3000)
    entries = [entry(n, d, method, extra=big_extra) if n.endswith(".so") else entry(n, d)
               for n, d in files.items()]
    entries.append(entry("demo-1.0.dist-info/RECORD", record_for(files, "demo-1.0.dist-info")))
    wheel = tmp_path / NAME
    wheel.write_bytes(build_zip(entries))
    _refused(wheel, tmp_path / "out", r"demo/_n\.so is x86_64 64-bit")
