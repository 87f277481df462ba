"""The post-build checks on a real local build pay only for what changed: a no-op rebuild
reads no output and runs no aquery, an edited source is proven and checked again, and an
output replaced by a wrong-arch file of the same size is caught."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.conftest import have_bazel, require, run_cli

pytestmark = [pytest.mark.bazel, pytest.mark.slow]

# Bazel would otherwise notice the replaced output and link it again before the tool looks.
ARGS = ("build", "--cpu=aarch64", "--no-package", "--target=//cli:hello",
        "--target=//python/crossdemo:_native.so",
        "--bazel-flag=--noexperimental_check_output_files")
REUSED_HEADERS = re.compile(r"aarch64: (\d+) dependency files unchanged since their header "
                            r"proof: no aquery")
REUSED_OUTPUTS = re.compile(r"aarch64: (\d+) outputs unchanged since their last check")
PROVEN = re.compile(r"headers of (\d+) compile actions all from the target.s roots "
                    r"\((\d+) \.d files re-read, (\d+) unchanged")


def _build(ws: Path) -> str:
    result = run_cli(*ARGS, f"--workspace={ws}")
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stderr


def _hello(ws: Path) -> Path:
    # The exec root's own file (bazel-bin may point at another configuration's tree).
    (found,) = Path(ws / "bazel-out").resolve().glob("*/bin/cli/hello")
    return found


def test_a_no_op_rebuild_reuses_and_a_change_is_checked_again(
        example_ws: Path) -> None:
    require(have_bazel(), "bazel (bazel-bootstrap)")
    require(shutil.which("aarch64-linux-gnu-g++") is not None, "g++-aarch64-linux-gnu")
    first = _build(example_ws)
    assert PROVEN.search(first) and not REUSED_HEADERS.search(first)
    # The first build's check keeps no verdict of a file written in the last 100 ms before
    # it (verdicts.RACY_NS): the second build may check those once more; no later one does.
    _build(example_ws)
    for _ in range(2):
        log = _build(example_ws)
        headers, outputs = REUSED_HEADERS.search(log), REUSED_OUTPUTS.search(log)
        assert headers and int(headers[1]) >= 3, log[-2000:]
        assert outputs and int(outputs[1]) >= 2, log[-2000:]
        assert "headers of" not in log  # no aquery, no .d file read

    # A touched source: compiled again, its .d file proven again, alone; its output checked.
    source = example_ws / "cli" / "hello.cc"
    source.write_text(source.read_text() + "\n// edited\n")
    edited = _build(example_ws)
    proven = PROVEN.search(edited)
    assert proven and not REUSED_HEADERS.search(edited), edited[-2000:]
    assert int(proven[2]) == 1 and int(proven[3]) >= 2  # hello.d re-read, the rest not

    # An output replaced by a wrong-arch ELF of the same size: its inode and ctime changed.
    hello = _hello(example_ws)
    size = hello.stat().st_size
    wrong = Path("/bin/true").read_bytes()[:size].ljust(size, b"\0")  # the machine's x86-64
    hello.chmod(0o755)
    replacement = hello.with_name("hello.tmp")
    replacement.write_bytes(wrong)
    replacement.replace(hello)
    assert hello.stat().st_size == size
    caught = run_cli(*ARGS, f"--workspace={example_ws}")
    assert caught.returncode == 6, caught.stderr[-3000:]
    assert "cli/hello" in caught.stderr.strip().splitlines()[-1]
