"""test-wheel without qemu: host-side checks of damaged and hostile wheels, which modules are
imported, the fixed scripts (run here by this machine's Python), and requirements installed
from a wheelhouse with pip offline, this machine's Python standing in for the target's."""

from __future__ import annotations

import subprocess
import sys
import zipfile
import zlib
from pathlib import Path
from typing import Any

import pytest

from cross_compiler import proc, resources
from cross_compiler.errors import BuildError, CrossCompilerError
from cross_compiler.toolchain.targets import load_targets
from cross_compiler.wheel import smoke, wheelcheck
from cross_compiler.wheel.resolve import DependencyError, Sources
from cross_compiler.wheel.tags import WheelError
from tests.depwheels import dep_wheel
from tests.wheels import RawEntry, make_wheel, raw_entry, record_for, write_raw_zip

(A64,) = load_targets(["aarch64"], resources.toolchains_dir())
NAME = "demo-1.0-cp311-cp311-linux_aarch64.whl"
TAGS = ["cp311-cp311-linux_aarch64"]
DIST = "demo-1.0.dist-info"
EXT = "mod.cpython-311-aarch64-linux-gnu.so"


def _wheel(tmp_path: Path, files: dict[str, bytes], **kwargs: Any) -> Path:
    return make_wheel(tmp_path, NAME, files, TAGS, **kwargs)


def _refused(wheel: Path, pattern: str) -> None:
    with pytest.raises(WheelError, match=pattern) as e:
        wheelcheck.check_wheel(wheel)
    assert e.value.exit_code == 7
    assert "\n" not in str(e.value)


def _raw_wheel(tmp_path: Path, files: dict[str, bytes], patch: dict[str, RawEntry]) -> Path:
    """A wheel written field by field, with some entries replaced by hand-made ones."""
    members = {**files, f"{DIST}/WHEEL": b"Wheel-Version: 1.0\nTag: cp311-cp311-linux_aarch64\n"}
    members[f"{DIST}/RECORD"] = record_for(members, DIST)
    entries = [patch.get(n, raw_entry(n.encode(), d)) for n, d in members.items()]
    return write_raw_zip(tmp_path / NAME, entries)


# Damaged archives: one line, exit 7, never a traceback.

def test_zlib_error(tmp_path: Path) -> None:
    good = raw_entry(b"demo/__init__.py", b"x = 1\n" * 100)
    broken = RawEntry(good.name, [b"\xff" * len(good.chunks[0])], good.crc, good.file_size)
    _refused(_raw_wheel(tmp_path, {"demo/__init__.py": b"x = 1\n" * 100},
                        {"demo/__init__.py": broken}), "damaged")


def test_unsupported_compression(tmp_path: Path) -> None:
    data = b"x = 1\n"
    odd = RawEntry(b"demo/__init__.py", [data], zlib.crc32(data), len(data), method=97)
    _refused(_raw_wheel(tmp_path, {"demo/__init__.py": data}, {"demo/__init__.py": odd}),
             "damaged")


def test_encrypted_member(tmp_path: Path) -> None:
    data = b"x = 1\n"
    locked = raw_entry(b"demo/__init__.py", data, flags=0x1)
    _refused(_raw_wheel(tmp_path, {"demo/__init__.py": data}, {"demo/__init__.py": locked}),
             "encrypted")


def test_truncated(tmp_path: Path) -> None:
    wheel = _wheel(tmp_path, {"demo/__init__.py": b""})
    wheel.write_bytes(wheel.read_bytes()[:-30])
    _refused(wheel, "not a valid zip archive")


def test_truncated_inside_a_member(tmp_path: Path) -> None:
    wheel = _wheel(tmp_path, {"demo/__init__.py": b"x" * 5000})
    data = bytearray(wheel.read_bytes())
    with zipfile.ZipFile(wheel) as zf:
        info = zf.getinfo("demo/__init__.py")
    start = info.header_offset + 30 + len(info.filename)
    data[start:start + info.compress_size] = b"\0" * info.compress_size
    wheel.write_bytes(bytes(data))
    with pytest.raises(CrossCompilerError) as e:
        wheelcheck.check_wheel(wheel)
    assert "\n" not in str(e.value)


def test_record_row_dot(tmp_path: Path) -> None:
    wheel = _wheel(tmp_path, {"demo/__init__.py": b""})
    with zipfile.ZipFile(wheel) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    members[f"{DIST}/RECORD"] += b".,,\n"
    with zipfile.ZipFile(wheel, "w") as zf:
        for n, d in members.items():
            zf.writestr(n, d)
    _refused(wheel, r"unsafe path '\.'")


@pytest.mark.parametrize("row", ["../evil.py", "/etc/evil.py", "demo/../../x.py", "c:/x.py"])
def test_record_row_outside(tmp_path: Path, row: str) -> None:
    wheel = _wheel(tmp_path, {"demo/__init__.py": b""})
    with zipfile.ZipFile(wheel) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    members[f"{DIST}/RECORD"] += f"{row},,\n".encode()
    with zipfile.ZipFile(wheel, "w") as zf:
        for n, d in members.items():
            zf.writestr(n, d)
    _refused(wheel, "unsafe path")


@pytest.mark.parametrize("member", ["../evil.py", "/etc/evil.py", "demo/../../evil.py"])
def test_member_outside(tmp_path: Path, member: str) -> None:
    wheel = _wheel(tmp_path, {"demo/__init__.py": b""}, extra_members=[(member, b"x")])
    _refused(wheel, "unsafe member path")


def test_record_hash_mismatch(tmp_path: Path) -> None:
    files = {"demo/__init__.py": b"x = 1\n"}
    wheel = _raw_wheel(tmp_path, files,
                       {"demo/__init__.py": raw_entry(b"demo/__init__.py", b"x = 2\n")})
    _refused(wheel, "didn't match RECORD")


def test_member_missing_from_record(tmp_path: Path) -> None:
    wheel = _wheel(tmp_path, {"demo/__init__.py": b""}, extra_members=[("demo/extra.py", b"")])
    _refused(wheel, "not mentioned in RECORD")


def test_wheel_tags_differ_from_the_name(tmp_path: Path) -> None:
    wheel = _wheel(tmp_path, {"demo/__init__.py": b""},
                   wheel_override=b"Wheel-Version: 1.0\nTag: py3-none-any\n\n")
    _refused(wheel, "do not match the file name's tags")


def test_not_a_wheel_name(tmp_path: Path) -> None:
    wheel = _wheel(tmp_path, {"demo/__init__.py": b""}).rename(tmp_path / "demo.whl")
    _refused(wheel, "not a valid wheel file name")


def test_missing_file(tmp_path: Path) -> None:
    _refused(tmp_path / NAME, "no such wheel file")


# Which modules are imported.

def test_single_extension_module_at_the_root(tmp_path: Path) -> None:
    wheel = _wheel(tmp_path, {EXT: b"\x7fELF", "mod.pyi": b""})
    assert wheelcheck.check_wheel(wheel).modules == ("mod",)


def test_auditwheel_libs_pth_and_stubs_are_not_modules(tmp_path: Path) -> None:
    wheel = _wheel(tmp_path, {
        "demo/__init__.py": b"", "demo.libs/libgfortran-1a2b.so.5": b"\x7fELF",
        "demo.pth": b"import demo\n", "demo-stubs/__init__.pyi": b"", "six.py": b"",
        "README.txt": b"", "has-dash/data.txt": b"", "__pycache__/x.pyc": b"",
        "demo-1.0.data/platlib/fast.cpython-311-aarch64-linux-gnu.so": b"",
        "demo-1.0.data/scripts/tool": b"",
    })
    assert wheelcheck.check_wheel(wheel).modules == ("demo", "fast", "six")


def test_top_level_txt_wins_and_skips_stubs(tmp_path: Path) -> None:
    wheel = _wheel(tmp_path, {"demo/__init__.py": b"", "other.py": b"",
                              f"{DIST}/top_level.txt": b"demo\ndemo-stubs\n\n demo.sub \n"})
    assert wheelcheck.check_wheel(wheel).modules == ("demo", "demo.sub")


# "os\nimport sys": the first line is fine, the second is no module name.
@pytest.mark.parametrize("line", ["os;open('/tmp/pwned','w')", "os\nimport sys", "a b",
                                  "__import__('os').system('x')", "class", "a..b", ".a"])
def test_hostile_top_level_txt_is_refused(tmp_path: Path, line: str) -> None:
    wheel = _wheel(tmp_path, {"demo/__init__.py": b"",
                              f"{DIST}/top_level.txt": f"demo\n{line}\n".encode()})
    _refused(wheel, "not a Python module name")


def test_hostile_top_level_txt_runs_nothing(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    marker = tmp_path / "pwned"
    wheel = _wheel(tmp_path, {"demo/__init__.py": b"",
                              f"{DIST}/top_level.txt": f"os;open({str(marker)!r},'w')\n".encode()})

    def no_run(*args: Any, **kwargs: Any) -> proc.Result:
        raise AssertionError("nothing may run for a refused wheel")

    monkeypatch.setattr(smoke.proc, "run", no_run)
    with pytest.raises(WheelError, match="not a Python module name"):
        smoke.smoke_test(wheel, A64, tmp_path / "cache")
    assert not marker.exists()


# The import script, run by this machine's Python.

def _run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, cwd=cwd, check=False)


def test_import_script_imports_from_the_site_dir(tmp_path: Path) -> None:
    site = tmp_path / "site-packages"
    (site / "pkg").mkdir(parents=True)
    (site / "pkg" / "__init__.py").write_text("")
    (site / "single.py").write_text("")
    (site / "hook.pth").write_text("import sys; sys.from_pth = 1\n")
    (site / "check_pth.py").write_text("import sys; assert sys.from_pth == 1\n")
    result = _run(smoke.import_argv([sys.executable], ("check_pth", "pkg", "single"), [site]),
                  tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "imported: check_pth pkg single\n"


def test_import_script_takes_names_as_data(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    hostile = f"os;open({str(marker)!r},'w')"
    result = _run(smoke.import_argv([sys.executable], (hostile,), [tmp_path]), tmp_path)
    assert result.returncode == 1
    assert "ModuleNotFoundError" in result.stderr.splitlines()[-1]
    assert not marker.exists()


def test_import_script_names_the_failing_module(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("raise ImportError('needs libfoo.so.1')\n")
    result = _run(smoke.import_argv([sys.executable], ("broken",), [tmp_path]), tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == "import broken: ImportError: needs libfoo.so.1"


# The whole flow with this machine's Python standing in for the target's.

def _host_python(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(smoke, "target_python",
                        lambda target, cache, library_path=(): [sys.executable])


def test_single_module_wheel_installs_and_imports(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    _host_python(monkeypatch)
    wheel = _wheel(tmp_path, {"zz_single_mod.py": b"VALUE = 42\n",
                              "zz_single_mod.pth": b"# nothing\n",
                              "zz_single_mod-stubs/__init__.pyi": b""})
    assert smoke.smoke_test(wheel, A64, tmp_path / "cache",
                            "import zz_single_mod; assert zz_single_mod.VALUE == 42") == [
        "zz_single_mod"]


def test_import_failure_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _host_python(monkeypatch)
    wheel = _wheel(tmp_path, {"zz_bad_mod.py": b"import zz_no_such_dependency\n"})
    with pytest.raises(BuildError, match="import zz_bad_mod: ModuleNotFoundError") as e:
        smoke.smoke_test(wheel, A64, tmp_path / "cache")
    assert "\n" not in str(e.value)


def test_import_script_runs_the_command_after_the_imports(tmp_path: Path) -> None:
    (tmp_path / "mod.py").write_text("VALUE = 7\n")
    result = _run(smoke.import_argv([sys.executable], (), [tmp_path],
                                    "import mod, sys; print(mod.VALUE, __name__)"), tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "7 __main__\n"


def test_the_target_script_reports_what_markers_need(tmp_path: Path) -> None:
    target = smoke.query_target([sys.executable], tmp_path, ["linux_x86_64"])
    assert target.python_version == f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert target.markers["sys_platform"] == "linux" and target.platforms == ("linux_x86_64",)


# Requirements: from a wheelhouse, pip offline (--no-index), this machine's Python as target.

APP = "zz_app-1.0-py3-none-any.whl"


def _app(tmp_path: Path, *requires: str) -> Path:
    return dep_wheel(tmp_path / "dist", APP, {"zz_app/__init__.py": b"import zz_dep\n"},
                     requires=requires)


def _wheelhouse(tmp_path: Path) -> Path:
    house = tmp_path / "wheelhouse"
    dep_wheel(house, "zz_dep-1.2-py3-none-any.whl", {"zz_dep.py": b"VALUE = 12\n"},
              requires=("zz_leaf>=1", 'zz_never; platform_machine == "not-this-one"'))
    dep_wheel(house, "zz_leaf-1.0-py3-none-any.whl", {"zz_leaf.py": b""})
    dep_wheel(house, "zz_tool-3.0-py3-none-any.whl", {"zz_tool.py": b"T = 3\n"})
    return house


def test_requirements_come_from_the_wheelhouse(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    _host_python(monkeypatch)
    wheel = _app(tmp_path, "zz-dep>=1.1")
    sources = Sources((_wheelhouse(tmp_path),), use_index=False, extra=("zz_tool==3.0",))
    assert smoke.smoke_test(
        wheel, A64, tmp_path / "cache", "import zz_dep, zz_leaf, zz_tool; "
        "assert (zz_dep.VALUE, zz_tool.T) == (12, 3)", sources=sources) == ["zz_app"]


def test_a_missing_requirement_is_one_line_naming_it_and_where(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _host_python(monkeypatch)
    house = _wheelhouse(tmp_path)
    wheel = _app(tmp_path, "zz-dep", "zz-absent>=2")
    with pytest.raises(DependencyError) as e:
        smoke.smoke_test(wheel, A64, tmp_path / "cache",
                         sources=Sources((house,), use_index=False))
    message = str(e.value)
    assert message.startswith(f"zz-absent>=2 (needed by zz_app 1.0 Requires-Dist) not found "
                              f"for cp3{sys.version_info[1]} x86_64: looked in wheelhouse "
                              f"{house} and no index (--no-index); no Debian suite")
    assert "\n" not in message


def test_a_wheelhouse_that_is_not_there(tmp_path: Path) -> None:
    with pytest.raises(CrossCompilerError, match=r"--find-links .*nope: no such directory"):
        smoke.smoke_test(_app(tmp_path), A64, tmp_path / "cache",
                         sources=Sources((tmp_path / "nope",)))


@pytest.mark.parametrize("line", ["zz @ file:///etc/passwd", "--index-url=http://evil/",
                                  "zz; __import__('os').system('x')"])
def test_hostile_requires_dist_runs_nothing(tmp_path: Path, line: str,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    def no_run(*args: Any, **kwargs: Any) -> proc.Result:
        raise AssertionError("nothing may run for a refused wheel")

    monkeypatch.setattr(smoke.proc, "run", no_run)
    with pytest.raises(WheelError, match="Requires-Dist") as e:
        smoke.smoke_test(_app(tmp_path, line), A64, tmp_path / "cache")
    assert "\n" not in str(e.value)


def test_metadata_naming_another_distribution_is_refused(tmp_path: Path) -> None:
    wheel = dep_wheel(tmp_path, APP, {"zz_app/__init__.py": b""}, metadata_name="numpy")
    _refused(wheel, "METADATA names the distribution 'numpy', not 'zz_app'")


def test_numpy_abi_failure_says_what_to_do(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    _host_python(monkeypatch)
    message = ("A module that was compiled using NumPy 1.x cannot be run in NumPy 2.2.6 as it "
               "may crash.")
    wheel = _wheel(tmp_path, {"zz_np_ext.py": f"import sys; sys.stderr.write({message!r})\n"
                              "raise ImportError('numpy.core.multiarray failed to import')\n"
                              .encode()})
    with pytest.raises(BuildError, match=r"build it against numpy 2\.x headers"):
        smoke.smoke_test(wheel, A64, tmp_path / "cache")
