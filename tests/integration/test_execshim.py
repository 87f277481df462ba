"""The exec shim, built with the host's C compiler and run for real: what it runs under
qemu (a target ELF, however it is started) and what it leaves to the host (a script, a
host ELF, a truncated or garbage file, an ELF of another class or machine)."""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from cross_compiler.bazel import execshim
from tests.conftest import require

pytestmark = [pytest.mark.qemu]

AARCH64 = "183:2:1"


def elf_header(elf_class: int, data: int, machine: int) -> bytes:
    """The first 20 bytes of an ELF file: magic, class, data, version, type, machine."""
    order = "<" if data == 1 else ">"
    return (b"\x7fELF" + bytes([elf_class, data, 1]) + bytes(9)
            + struct.pack(f"{order}HH", 2, machine) + bytes(44))


@pytest.fixture(scope="module")
def launcher(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require(shutil.which("cc") is not None or shutil.which("gcc") is not None,
            "a host C compiler (gcc)")
    return execshim.ensure_launcher(tmp_path_factory.mktemp("cache"), {})


@pytest.fixture
def files(tmp_path: Path) -> Path:
    """A fake qemu that says how it was called, and one file of each kind."""
    def put(name: str, content: bytes) -> None:
        (tmp_path / name).write_bytes(content)
        (tmp_path / name).chmod(0o755)

    put("qemu", b'#!/bin/sh\necho "QEMU $*"\n')
    put("target", elf_header(2, 1, 183))
    put("s390x", elf_header(2, 2, 22))
    put("elf32", elf_header(1, 1, 183))
    put("truncated", elf_header(2, 1, 183)[:19])
    put("garbage", b"\x00\x01garbage\n")
    put("script.sh", b'#!/bin/sh\necho "script $1"\n./target from-script\n')
    shutil.copy(shutil.which("true") or "/bin/true", tmp_path / "host")
    return tmp_path


def run(launcher: Path, files: Path, *argv: str, word: str = AARCH64,
        path: str = "/usr/bin:/bin") -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(launcher), str(files / "qemu"), "/the/root", word, *argv],
                          cwd=files, capture_output=True, text=True, check=False,
                          env={"PATH": path}, timeout=60)


def test_a_target_elf_runs_under_qemu_with_its_argv0_and_no_preload(
        launcher: Path, files: Path) -> None:
    done = run(launcher, files, "./target", "a b", "c")
    assert done.stdout == "QEMU -L /the/root -U LD_PRELOAD -0 ./target ./target a b c\n"
    big = run(launcher, files, "./s390x", "x", word="22:2:2")
    assert big.stdout == "QEMU -L /the/root -U LD_PRELOAD -0 ./s390x ./s390x x\n"


def test_a_script_runs_natively_and_the_target_elf_it_calls_under_qemu(
        launcher: Path, files: Path) -> None:
    done = run(launcher, files, "./script.sh", "arg")
    assert done.returncode == 0, done.stderr
    assert done.stdout == ("script arg\n"
                           "QEMU -L /the/root -U LD_PRELOAD -0 ./target ./target from-script\n")


def test_target_elves_started_by_path_lookup_and_by_python_run_under_qemu(
        launcher: Path, files: Path) -> None:
    (files / "bin").mkdir()
    (files / "target").rename(files / "bin" / "tgt")
    by_path = run(launcher, files, "/bin/sh", "-c", "tgt one; env tgt two",
                  path=f"{files / 'bin'}:/usr/bin:/bin")
    assert by_path.stdout.splitlines() == [
        f"QEMU -L /the/root -U LD_PRELOAD -0 tgt {files}/bin/tgt one",
        f"QEMU -L /the/root -U LD_PRELOAD -0 tgt {files}/bin/tgt two"]
    code = ("import os, subprocess, sys; sys.stdout.flush(); "
            "subprocess.run(['bin/tgt', 'spawned']); os.execv('bin/tgt', ['t', 'execv'])")
    python = run(launcher, files, shutil.which("python3") or "/usr/bin/python3", "-c", code)
    assert python.stdout.splitlines() == [
        "QEMU -L /the/root -U LD_PRELOAD -0 bin/tgt bin/tgt spawned",
        "QEMU -L /the/root -U LD_PRELOAD -0 t bin/tgt execv"]


@pytest.mark.parametrize("name", ["host", "elf32", "truncated", "garbage", "s390x"])
def test_anything_else_is_left_to_the_host(launcher: Path, files: Path, name: str) -> None:
    done = run(launcher, files, f"./{name}")
    assert "QEMU" not in done.stdout + done.stderr
    if name == "host":
        assert done.returncode == 0
    else:  # the kernel's (or sh's) own refusal, as without the shim
        assert done.returncode != 0


def test_a_real_target_binary_runs_under_real_qemu(launcher: Path, tmp_path: Path) -> None:
    cc, qemu = shutil.which("aarch64-linux-gnu-gcc"), shutil.which("qemu-aarch64-static")
    require(cc is not None and qemu is not None,
            "aarch64-linux-gnu-gcc and qemu-aarch64-static")
    assert cc is not None and qemu is not None
    (tmp_path / "hello.c").write_text(
        '#include <stdio.h>\nint main(int c, char **v) { printf("%s %d\\n", v[0], c); }\n')
    subprocess.run([cc, "-o", str(tmp_path / "hello"), str(tmp_path / "hello.c")], check=True)
    (tmp_path / "calls.sh").write_text('#!/bin/sh\nout=$(./hello x)\necho "said: $out"\n')
    (tmp_path / "calls.sh").chmod(0o755)
    done = subprocess.run([str(launcher), qemu, "/usr/aarch64-linux-gnu", AARCH64,
                           "./calls.sh"], cwd=tmp_path, capture_output=True, text=True,
                          check=False, timeout=120)
    assert (done.returncode, done.stdout, done.stderr) == (0, "said: ./hello 2\n", "")
