"""Retag never loses or mislabels data: inputs are never overwritten, a platform tag that
is not for the target is refused wherever it comes from, names are kept byte for byte,
and one bad wheel means no output at all."""

from __future__ import annotations

import errno
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest

from cross_compiler import api, resources
from cross_compiler.errors import ConfigError, CrossCompilerError
from cross_compiler.toolchain.targets import load_targets
from cross_compiler.wheel import zipio
from cross_compiler.wheel.retag import retag_wheel, retag_wheels
from cross_compiler.wheel.tags import WheelError
from tests.wheels import (
    AARCH64_SO,
    VALIDATE_RECORD,
    X86_64_SO,
    make_wheel,
    raw_entry,
    record_for,
    wheel_text,
    write_raw_zip,
)

TARGETS = {t.cpu: t for t in load_targets(["all"], resources.toolchains_dir())}
A64 = TARGETS["aarch64"]
NAME = "demo-1.0-cp311-cp311-linux_x86_64.whl"
TAGS = ["cp311-cp311-linux_x86_64"]


def _wheel(directory: Path, so: bytes = AARCH64_SO, name: str = NAME,
           extra: dict[str, bytes] | None = None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    tags = [name[len("demo-1.0-"):-len(".whl")]]
    return make_wheel(directory, name, {"demo/__init__.py": b"", "demo/_n.so": so,
                                        **(extra or {})}, tags)


def _files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


# --- 2: one platform-tag check, for build and retag alike ---------------------------

@pytest.mark.parametrize(("cpu", "platform", "message"), [
    ("aarch64", "manylinux_2_17_x86_64", "is for x86_64, not for aarch64"),
    ("armv7hf", "manylinux_2_17_aarch64", "is for aarch64, not for armv7hf"),
    ("aarch64", "../../x_aarch64", "not a valid Linux wheel platform tag"),
    ("aarch64", "linux/aarch64", "not a valid"),
    ("aarch64", "foo-bar_aarch64", "not a valid"),
    ("aarch64", "linux_aarch64 ", "not a valid"),
    ("aarch64", "", "not a valid"),
])
def test_retag_wheel_itself_refuses_a_wrong_platform(tmp_path: Path, cpu: str, platform: str,
                                                     message: str) -> None:
    """The build's packaging path calls retag_wheel with settings["platform"] directly."""
    wheel = _wheel(tmp_path / "in")
    with pytest.raises(ConfigError, match=message) as e:
        retag_wheel(wheel, tmp_path / "dist", TARGETS[cpu], platform=platform)
    assert "\n" not in str(e.value)
    assert _files(tmp_path / "dist") == []


@pytest.mark.parametrize("platform", ["linux_aarch64", "manylinux2014_aarch64",
                                      "manylinux_2_28_aarch64", "musllinux_1_2_aarch64"])
def test_valid_platform_tags_pass(tmp_path: Path, platform: str) -> None:
    result = retag_wheel(_wheel(tmp_path / "in"), tmp_path / "dist", A64, platform=platform)
    assert result.path.name == f"demo-1.0-cp311-cp311-{platform}.whl"


def test_retag_infers_the_cpu_from_the_platform_tag(tmp_path: Path) -> None:
    wheel = _wheel(tmp_path / "in", so=X86_64_SO, name="demo-1.0-cp311-cp311-linux_aarch64.whl")
    (result,) = api.retag([wheel], "", {}, platform="linux_x86_64", out_dir=tmp_path / "out")
    assert result.path.name == "demo-1.0-cp311-cp311-linux_x86_64.whl"
    with pytest.raises(ConfigError, match="is for x86_64, not for aarch64"):
        api.retag([wheel], "aarch64", {}, platform="linux_x86_64", out_dir=tmp_path / "o2")


# --- 4: member names kept byte for byte (cp437 / Info-ZIP names without the UTF-8 flag) ---

@pytest.mark.parametrize("raw", [b"demo/caf\x82.py",  # cp437 'é', as DOS tools write it
                                 b"demo/caf\xc3\xa9.py"])  # UTF-8 bytes, no flag: Info-ZIP
def test_names_without_the_utf8_flag_survive(tmp_path: Path, raw: bytes) -> None:
    files = {"demo/__init__.py": b"", raw.decode("cp437"): b"x = 1\n",
             "demo-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n\n",
             "demo-1.0.dist-info/WHEEL": wheel_text(["py3-none-any"]).encode()}
    record = record_for(files, "demo-1.0.dist-info")
    entries = [raw_entry(n.encode("cp437") if n == raw.decode("cp437") else n.encode(), d)
               for n, d in files.items()]
    wheel = write_raw_zip(tmp_path / "demo-1.0-py3-none-any.whl",
                          [*entries, raw_entry(b"demo-1.0.dist-info/RECORD", record)])
    _installs(wheel, tmp_path / "inst-in")  # the input is a valid wheel
    result = retag_wheel(wheel, tmp_path / "out", A64)
    _installs(result.path, tmp_path / "inst-out")
    with zipfile.ZipFile(wheel) as a, zipfile.ZipFile(result.path) as b:
        assert [i.filename for i in b.infolist()] == [i.filename for i in a.infolist()]
        assert b.testzip() is None
    with zipfile.ZipFile(result.path) as zf, result.path.open("rb") as f:
        for info in zf.infolist():
            raw_name = info.orig_filename.encode(
                "utf-8" if info.flag_bits & zipio.FLAG_UTF8 else "cp437")
            f.seek(info.header_offset + 6)
            local_flags = int.from_bytes(f.read(2), "little")
            f.seek(info.header_offset + 26)
            n = int.from_bytes(f.read(2), "little")
            f.seek(info.header_offset + 30)
            assert f.read(n) == raw_name
            assert (local_flags ^ info.flag_bits) & zipio.FLAG_UTF8 == 0
    assert raw in result.path.read_bytes()


def _installs(wheel: Path, dest: Path) -> None:
    valid = subprocess.run([sys.executable, "-c", VALIDATE_RECORD, str(wheel)],
                           capture_output=True, text=True, check=False)
    assert valid.returncode == 0, valid.stderr
    done = subprocess.run([sys.executable, "-m", "installer", "--destdir", str(dest),
                           str(wheel)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


# --- 5 and 8: outputs checked against every input before any write; all or nothing -----

def test_an_output_that_is_another_input_is_refused_before_any_write(tmp_path: Path) -> None:
    a = _wheel(tmp_path)
    b = _wheel(tmp_path / "b", name="demo-1.0-cp311-cp311-linux_aarch64.whl")
    b = b.rename(tmp_path / b.name)  # b is exactly where a's output would go
    before = {p: p.read_bytes() for p in (a, b)}
    with pytest.raises(WheelError, match="which it would overwrite") as e:
        retag_wheels([a, b], None, A64, platform="linux_aarch64")
    assert "\n" not in str(e.value)
    assert {p: p.read_bytes() for p in (a, b)} == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == sorted([a.name, b.name])


def test_two_inputs_with_one_output_name_are_refused(tmp_path: Path) -> None:
    one, two = _wheel(tmp_path / "one"), _wheel(tmp_path / "two")
    with pytest.raises(WheelError, match="would both be written as"):
        retag_wheels([one, two], tmp_path / "out", A64, platform="linux_aarch64")
    assert _files(tmp_path / "out") == []


@pytest.mark.parametrize("bad_at", [0, 1, 2])
def test_one_bad_wheel_leaves_no_outputs(tmp_path: Path, bad_at: int) -> None:
    wheels = [_wheel(tmp_path / f"w{i}", name=f"demo-1.0-cp3{i}-cp3{i}-linux_x86_64.whl")
              for i in range(3)]
    bad = wheels[bad_at]
    data = bytearray(bad.read_bytes())
    with zipfile.ZipFile(bad) as zf:
        at = zf.getinfo("demo/__init__.py").header_offset
    data[at:at + 4] = b"XXXX"  # a damaged local header: found only while copying
    bad.write_bytes(bytes(data))
    with pytest.raises(WheelError, match="no valid local header"):
        retag_wheels(wheels, tmp_path / "out", A64, platform="linux_aarch64")
    assert _files(tmp_path / "out") == []


def test_one_wrong_arch_wheel_leaves_no_outputs(tmp_path: Path) -> None:
    good = _wheel(tmp_path / "good")
    bad = _wheel(tmp_path / "bad", so=X86_64_SO, name="demo-1.0-cp312-cp312-linux_x86_64.whl")
    with pytest.raises(WheelError, match="is x86_64"):
        retag_wheels([good, bad], tmp_path / "out", A64, platform="linux_aarch64")
    assert _files(tmp_path / "out") == []


# --- 6: a renamed extension must not collide with a member already there ------------

def test_rename_onto_an_existing_member_is_refused(tmp_path: Path) -> None:
    wheel = _wheel(tmp_path / "in", extra={
        "demo/_x.cpython-311-x86_64-linux-gnu.so": AARCH64_SO,
        "demo/_x.cpython-311-aarch64-linux-gnu.so": AARCH64_SO,
    })
    with pytest.raises(WheelError, match=r"renaming demo/_x\.cpython-311-x86_64-linux-gnu\.so"
                       r" to demo/_x\.cpython-311-aarch64-linux-gnu\.so would clash"):
        retag_wheel(wheel, tmp_path / "out", A64, platform="linux_aarch64")
    assert _files(tmp_path / "out") == []


# --- the output directory: a file, under a file, not writable, full ------------------

def test_out_dir_that_is_a_file_or_under_one(tmp_path: Path) -> None:
    wheel = _wheel(tmp_path / "in")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    for out in (blocker, blocker / "sub"):
        with pytest.raises(ConfigError, match="output directory") as e:
            retag_wheel(wheel, out, A64, platform="linux_aarch64")
        assert "\n" not in str(e.value)
    assert blocker.read_text() == "x"


@pytest.mark.parametrize("code", [errno.EACCES, errno.EROFS])
def test_out_dir_not_writable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                              code: int) -> None:
    def refuse(*args: object, **kwargs: object) -> tuple[int, str]:
        raise OSError(code, "denied")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)  # root ignores a 0555 directory
    with pytest.raises(ConfigError, match="cannot write into"):
        retag_wheel(_wheel(tmp_path / "in"), tmp_path / "out", A64, platform="linux_aarch64")


def test_disk_full_while_writing_leaves_nothing(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    def full(self: object, comment: bytes = b"") -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(zipio.RawZipWriter, "finish", full)
    with pytest.raises(ConfigError, match="No space left"):
        retag_wheel(_wheel(tmp_path / "in"), tmp_path / "out", A64, platform="linux_aarch64")
    assert _files(tmp_path / "out") == []


def test_disk_full_while_the_records_are_copied_leaves_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The records are copied in a background thread; its error is the call's."""
    def full(*args: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(zipio, "copy_range", full)
    with pytest.raises(ConfigError, match="No space left"):
        retag_wheel(_wheel(tmp_path / "in"), tmp_path / "out", A64, platform="linux_aarch64")
    assert _files(tmp_path / "out") == []


def test_an_input_cut_short_after_its_check_leaves_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cross_compiler.wheel import retag

    wheel = _wheel(tmp_path / "in", extra={"demo/big.bin": bytes(range(256)) * 400})
    plan = retag.plan_retag(wheel, tmp_path / "out", A64, platform="linux_aarch64")
    wheel.write_bytes(wheel.read_bytes()[:200])  # the copy meets the end of the file
    monkeypatch.setattr(retag, "plan_retag", lambda *args, **kwargs: plan)
    with pytest.raises(WheelError, match="truncated"):
        retag_wheel(wheel, tmp_path / "out", A64, platform="linux_aarch64")
    assert _files(tmp_path / "out") == []


# --- shifted and truncated archives: one line, no traceback ----------------------------

@pytest.mark.parametrize("cut", [1, 10, 30, 100])
def test_archive_missing_its_start(tmp_path: Path, cut: int) -> None:
    wheel = _wheel(tmp_path / "in")
    wheel.write_bytes(wheel.read_bytes()[cut:])  # every offset now points too far
    with pytest.raises(CrossCompilerError) as e:
        retag_wheel(wheel, tmp_path / "out", A64, platform="linux_aarch64")
    assert e.value.exit_code == 7 and "\n" not in str(e.value)
    assert _files(tmp_path / "out") == []
