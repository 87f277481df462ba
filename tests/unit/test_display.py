"""Names from input are printed on one line: no control character reaches a message, a log
line or a result row as it is."""

from __future__ import annotations

import io
import logging
import os
import subprocess
from pathlib import Path

import pytest

from cross_compiler import cli
from cross_compiler.bazel.localbuild import BuildResult
from cross_compiler.display import EscapedArgs, shown
from cross_compiler.errors import CrossCompilerError
from cross_compiler.wheel.retag import RetagResult
from cross_compiler.wheel.tags import WheelName
from tests.conftest import CLI

FORGED = "x.whl\n: not a valid wheel file name"


@pytest.mark.parametrize(("name", "expected"), [
    (FORGED, "x.whl\\n: not a valid wheel file name"),
    ("a\r\tb", "a\\r\\tb"),
    ("red\x1b[31m", "red\\x1b[31m"),
    ("nul\x00del\x7fcsi\x9b", "nul\\x00del\\x7fcsi\\x9b"),
    ("line\u2028para\u2029", "line\\u2028para\\u2029"),
    ("evil\u202egnp.exe", "evil\\u202egnp.exe"),
    (os.fsdecode(b"caf\xe9.whl"), "caf\\xe9.whl"),  # an undecodable byte of a file name
    ("plain/ü/日本.whl", "plain/ü/日本.whl"),
])
def test_control_characters_are_escaped_the_rest_kept(name: str, expected: str) -> None:
    assert shown(name) == expected
    assert shown(shown(name)) == expected  # escaping twice changes nothing


def test_paths_and_other_values() -> None:
    assert shown(Path("/ws/a\nb")) == "/ws/a\\nb"
    assert shown(7) == "7"
    assert shown(ValueError("bad\nname")) == "bad\\nname"


def test_a_wheel_named_to_forge_a_line_is_one_line() -> None:
    with pytest.raises(CrossCompilerError) as caught:
        WheelName.parse(FORGED)
    assert "\n" not in str(caught.value)
    assert str(caught.value).startswith("x.whl\\n: not a valid wheel file name: ")


def test_log_arguments_are_escaped_the_format_is_not() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(EscapedArgs())
    logger = logging.getLogger("cross_compiler.test_display")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("%s: %d files\n%s", Path("/ws/a\nb"), 3, FORGED)
        logger.warning("%(name)s", {"name": "m\x1b]0;title\x07"})
    finally:
        logger.removeHandler(handler)
    assert stream.getvalue().splitlines() == [
        "/ws/a\\nb: 3 files", "x.whl\\n: not a valid wheel file name",
        "m\\x1b]0;title\\x07"]


def test_result_rows_escape_paths_and_tags(tmp_path: Path) -> None:
    result = BuildResult(outputs={"aarch64": [Path("/out/a\nb")]},
                         wheels={"aarch64": [RetagResult(tmp_path / "w\n.whl", "linux_aarch64",
                                                         "why\tnot", {}, ())]})
    rows = cli.result_rows(result, tmp_path / "ws", tmp_path)
    assert rows == ["aarch64\t/out/a\\nb", "aarch64\tw\\n.whl\tlinux_aarch64\twhy\\tnot"]


@pytest.mark.parametrize("command", ["retag", "test-wheel"])
def test_the_cli_prints_an_error_naming_a_forged_file_on_one_line(
        command: str, tmp_path: Path) -> None:
    # The last line of defence: whatever a message interpolated, the error is one line.
    env = {"CROSS_COMPILER_RUNNER": "local", "CROSS_COMPILER_CACHE": str(tmp_path / "cache"),
           "HOME": str(tmp_path), "PATH": str(Path(CLI).parent), "LANG": "C.UTF-8"}
    result = subprocess.run([CLI, command, FORGED], cwd=tmp_path, env=env,
                            capture_output=True, text=True, check=False, timeout=60)
    assert result.returncode != 0
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("cross_compiler: error: ") and "x.whl\\n: not a valid" in lines[0]
