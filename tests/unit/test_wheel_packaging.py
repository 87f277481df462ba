"""The build's packaging step retags all its wheels as one call: two wheels that would get
one output name are refused before either is written."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from cross_compiler import config, resources
from cross_compiler.errors import BuildError
from cross_compiler.toolchain.targets import load_targets
from cross_compiler.wheel import packaging
from cross_compiler.wheel.tags import WheelError
from tests.wheels import AARCH64_SO, make_wheel

(A64,) = load_targets(["aarch64"], resources.toolchains_dir())

COPY_WHEELS = "import shutil, sys\nfor w in sys.argv[2:]: shutil.copy(w, sys.argv[1])\n"


def _package(tmp_path: Path, wheels: list[Path]) -> list[Path]:
    script = tmp_path / "package.py"
    script.write_text(COPY_WHEELS)
    command = shlex.join([sys.executable, str(script), "{out}", *map(str, wheels)])
    settings = config.resolve({"package_command": command, "dist_dir": "dist",
                               "platform": "linux_aarch64"}, "test", {}, {})
    results = packaging.package_and_retag(tmp_path, A64, settings, {})
    return [r.path for r in results]


def test_two_wheels_one_output_name_are_refused_before_any_write(tmp_path: Path) -> None:
    made = tmp_path / "made"
    made.mkdir()
    files = {"demo/_n.so": AARCH64_SO}
    wheels = [make_wheel(made, "demo-1.0-cp311-cp311-linux_x86_64.whl", files,
                         ["cp311-cp311-linux_x86_64"]),
              make_wheel(made, "demo-1.0-cp311-cp311-linux_armv7l.whl", files,
                         ["cp311-cp311-linux_armv7l"])]
    with pytest.raises(WheelError, match="would both be written as"):
        _package(tmp_path, wheels)
    assert not (tmp_path / "dist").exists() or list((tmp_path / "dist").iterdir()) == []


def test_wheels_with_distinct_names_are_all_written(tmp_path: Path) -> None:
    made = tmp_path / "made"
    made.mkdir()
    files = {"demo/_n.so": AARCH64_SO}
    wheels = [make_wheel(made, "demo-1.0-cp311-cp311-linux_x86_64.whl", files,
                         ["cp311-cp311-linux_x86_64"]),
              make_wheel(made, "other-1.0-cp311-cp311-linux_x86_64.whl",
                         {"other/_n.so": AARCH64_SO}, ["cp311-cp311-linux_x86_64"])]
    written = _package(tmp_path, wheels)
    assert [p.name for p in written] == ["demo-1.0-cp311-cp311-linux_aarch64.whl",
                                         "other-1.0-cp311-cp311-linux_aarch64.whl"]
    assert all(p.is_file() and p.parent == tmp_path / "dist" for p in written)


def test_the_packaging_command_is_a_shell_script_with_out_as_one_quoted_word() -> None:
    out = Path("/tmp/wheels dir/it's $(here)")
    quoted = "'/tmp/wheels dir/it'\"'\"'s $(here)'"
    command = "cd pkg && ./build {out} > build.log 2>&1 && cp extra/*.whl {out}"
    assert packaging.package_argv(command, out) == [
        "/bin/sh", "-c", f"cd pkg && ./build {quoted} > build.log 2>&1 && cp extra/*.whl {quoted}"]
    assert packaging.package_argv("make wheels", Path("/o")) == ["/bin/sh", "-c", "make wheels /o"]
    assert packaging.package_argv("bazel-bin/pip_package/build {out}", Path("/tmp/x")) == [
        "/bin/sh", "-c", "bazel-bin/pip_package/build /tmp/x"]


def test_the_shell_runs_it_in_the_workspace_and_out_stays_one_word(tmp_path: Path) -> None:
    ws, out = tmp_path / "ws", tmp_path / "out $(touch pwned); dir"
    (ws / "made").mkdir(parents=True)
    out.mkdir()
    for name in ("a.whl", "b.whl", "notes.txt"):
        (ws / "made" / name).write_text(name)
    argv = packaging.package_argv(
        "mkdir -p build && cp made/*.whl {out} && ls {out} > build/listing.txt", out)
    subprocess.run(argv, cwd=ws, check=True)
    assert sorted(p.name for p in out.iterdir()) == ["a.whl", "b.whl"]
    assert (ws / "build" / "listing.txt").read_text() == "a.whl\nb.whl\n"
    assert not (ws / "pwned").exists() and not (tmp_path / "pwned").exists()


def test_a_shell_command_with_and_a_glob_and_a_redirection_packages(tmp_path: Path) -> None:
    made = tmp_path / "made"
    made.mkdir()
    make_wheel(made, "demo-1.0-cp311-cp311-linux_x86_64.whl", {"demo/_n.so": AARCH64_SO},
               ["cp311-cp311-linux_x86_64"])
    settings = config.resolve({"package_command": "echo packaging > log.txt && cp made/*.whl",
                               "dist_dir": "dist", "platform": "linux_aarch64"}, "test", {}, {})
    (written,) = packaging.package_and_retag(tmp_path, A64, settings, {})
    assert written.path == tmp_path / "dist" / "demo-1.0-cp311-cp311-linux_aarch64.whl"
    assert (tmp_path / "log.txt").read_text() == "packaging\n"


def test_a_missing_program_is_exit_127_said_so(tmp_path: Path) -> None:
    settings = config.resolve({"package_command": "no-such-packager-xyz {out}"}, "test", {}, {})
    with pytest.raises(BuildError, match=r"exit code 127: no-such-packager-xyz .*sh could not "
                                         r"find a program it names"):
        packaging.package_and_retag(tmp_path, A64, settings, {})
