"""The command line a person meets: the console script run as a subprocess, for help,
flags and pipes; the result rows it prints after a build."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from cross_compiler import __version__, cli
from cross_compiler.bazel.localbuild import BuildResult
from tests.conftest import CLI, ROOT

SUBCOMMANDS = sorted(cli.ns.task_names)
# Each subcommand with its required positional arguments filled in, as a user would type.
WITH_POSITIONALS = {"retag": ["dist/x.whl"], "test-wheel": ["x.whl"], "test": ["//..."],
                    "run": ["//cli:hello"]}
KEPT_CORE = {"--help", "--version", "--list", "--list-format", "--complete",
             "--print-completion-script"}
INVOKE_CORE = {"--prompt-for-sudo-password", "--pty", "--hide", "--warn-only", "--write-pyc",
               "--echo", "--dry", "--config", "--debug", "--command-timeout", "--list-depth"}


def _cli(*args: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    # If help handling ever broke, a subcommand must not reach Docker, the user's caches
    # or the network: local runner, caches under tmp, nothing on PATH but the venv.
    env = {"CROSS_COMPILER_RUNNER": "local", "CROSS_COMPILER_CACHE": str(tmp / "cache"),
           "HOME": str(tmp), "PATH": str(Path(CLI).parent), "LANG": "C.UTF-8",
           # This checkout's code (a git worktree shares the venv of another).
           "PYTHONPATH": str(ROOT)}
    return subprocess.run([CLI, *args], cwd=tmp, env=env, capture_output=True, text=True,
                          check=False, timeout=60)


def _flags(help_text: str) -> list[str]:
    """Every flag spelling in the Options/Core options columns (`-c STRING, --cpu=STRING`)."""
    flags = []
    for line in help_text.splitlines():
        if re.match(r"^  -", line):
            column = re.split(r"\s{2,}", line.strip())[0]
            flags += [f.split("=")[0].split(" ")[0].split("[")[0] for f in column.split(", ")]
    return flags


@pytest.mark.parametrize("spelling", ["-h", "--help"])
def test_top_level_help_lists_subcommands_and_only_the_kept_core_options(
    spelling: str, tmp_path: Path
) -> None:
    result = _cli(spelling, tmp=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Usage: cross-compiler ")
    flags = set(_flags(result.stdout))
    assert {f for f in flags if f.startswith("--")} == KEPT_CORE
    assert not flags & INVOKE_CORE
    for name in SUBCOMMANDS:
        assert re.search(rf"^  {name}\s", result.stdout, re.M), name
    assert result.stderr == ""


@pytest.mark.parametrize("name", SUBCOMMANDS)
@pytest.mark.parametrize("spelling", ["-h", "--help"])
@pytest.mark.parametrize("filled", [False, True], ids=["bare", "with-positionals"])
def test_every_subcommand_prints_its_help(name: str, spelling: str, filled: bool,
                                          tmp_path: Path) -> None:
    positionals = WITH_POSITIONALS.get(name, []) if filled else []
    result = _cli(name, *positionals, spelling, tmp=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"Usage: cross-compiler {name} [--options]"), result.stdout
    assert "Options:" in result.stdout
    assert result.stderr == ""  # nothing ran: no log lines, no error
    assert not (tmp_path / "cache").exists()


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_help_before_the_positional_is_help_too(name: str, tmp_path: Path) -> None:
    result = _cli(name, "--help", *WITH_POSITIONALS.get(name, []), tmp=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"Usage: cross-compiler {name} ")


def test_retag_help_is_help_not_a_missing_wheel(tmp_path: Path) -> None:
    result = _cli("retag", "--help", tmp=tmp_path)
    assert "no such wheel" not in result.stdout + result.stderr
    assert result.stdout.startswith("Usage: cross-compiler retag [--options] WHEELS\n")


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_flags_are_long_but_for_cpu_workspace_target(name: str, tmp_path: Path) -> None:
    text = _cli(name, "--help", tmp=tmp_path).stdout
    flags = _flags(text)
    assert "--=" not in text and "--" not in flags
    short = {f for f in flags if re.fullmatch(r"-[A-Za-z]", f)}
    assert short <= {"-c", "-w", "-t"}, short
    for letter, long in (("-c", "--cpu"), ("-w", "--workspace"), ("-t", "--target")):
        assert (letter in short) == (long in flags), (letter, long)


def test_short_flags_are_declared_for_exactly_the_flags_people_type() -> None:
    for t in cli.ns.tasks.values():
        for arg in t.get_arguments():
            short = [n for n in arg.names if len(n) == 1]
            assert short == ([cli.SHORT_FLAGS[arg.name]] if arg.name in cli.SHORT_FLAGS
                             and not arg.positional else []), (t.name, arg.names)


def test_first_docstring_lines_are_whole_sentences_that_fit_the_list() -> None:
    for t in cli.ns.tasks.values():
        first, *rest = (t.__doc__ or "").strip().split("\n")
        assert first.endswith("."), (t.name, first)
        assert len(first) <= 80, (t.name, first)
        assert not rest or rest[0].strip() == "", (t.name, "a blank line after the first")


def test_list_shows_whole_first_lines(tmp_path: Path) -> None:
    result = _cli("--list", tmp=tmp_path)
    assert result.returncode == 0, result.stderr
    listed = re.sub(r"-\s+", "-", " ".join(result.stdout.split()))  # textwrap breaks at -
    for t in cli.ns.tasks.values():
        assert " ".join((t.__doc__ or "").strip().split("\n")[0].split()) in listed


def test_version(tmp_path: Path) -> None:
    result = _cli("--version", tmp=tmp_path)
    assert (result.returncode, result.stdout) == (0, f"cross-compiler {__version__}\n")


@pytest.mark.parametrize("argv", [["--help"], ["build", "--help"], ["retag", "--help"],
                                  ["--list"]])
def test_a_closed_pipe_ends_quietly(argv: list[str], tmp_path: Path) -> None:
    # `cross-compiler --help | head -1`: the reader is gone before the help is written.
    env = {**os.environ, "CROSS_COMPILER_CACHE": str(tmp_path / "cache")}
    r, w = os.pipe()
    os.close(r)
    try:
        proc = subprocess.run([CLI, *argv], stdout=w, stderr=subprocess.PIPE, env=env,
                              cwd=tmp_path, text=True, check=False, timeout=60)
    finally:
        os.close(w)
    assert "Traceback" not in proc.stderr and "BrokenPipeError" not in proc.stderr, proc.stderr
    assert proc.stderr == ""
    assert proc.returncode == 141  # like a process SIGPIPE ended (128 + 13)


def test_head_sees_the_first_line(tmp_path: Path) -> None:
    shell = subprocess.run(f"'{CLI}' build --help | head -1; echo \"${{PIPESTATUS[0]}}\"",
                           shell=True, executable="/bin/bash", capture_output=True, text=True,
                           check=False, cwd=tmp_path, timeout=60)
    first, code = shell.stdout.splitlines()
    assert first.startswith("Usage: cross-compiler build")
    assert code in ("0", "141") and shell.stderr == ""


def test_invoke_in_the_checkout_keeps_the_same_flags(tmp_path: Path) -> None:
    invoke = str(Path(CLI).parent / "invoke")
    listed = subprocess.run([invoke, "--list"], cwd=ROOT, capture_output=True, text=True,
                            check=False, timeout=60)
    assert listed.returncode == 0 and "update-golden" in listed.stdout, listed.stderr
    build = subprocess.run([invoke, "build", "--help"], cwd=ROOT, capture_output=True,
                           text=True, check=False, timeout=60)
    assert build.returncode == 0, build.stderr
    assert "-c STRING, --cpu=STRING" in build.stdout and "--=" not in build.stdout
    retag = subprocess.run([invoke, "retag", "--help"], cwd=ROOT, capture_output=True,
                           text=True, check=False, timeout=60)
    assert retag.stdout.startswith("Usage: invoke retag [--options] WHEELS"), retag.stderr


# --- the rows printed after a build -------------------------------------------------------

def _bazel_tree(tmp: Path) -> tuple[Path, Path]:
    """A workspace whose bazel-bin/bazel-out symlinks point into a deep output base."""
    out = tmp / "cache/bazel/0123/execroot/_main/bazel-out"
    binary = out / "aarch64-opt/bin/cli/hello"
    binary.parent.mkdir(parents=True)
    binary.write_bytes(b"\x7fELF")
    ws = tmp / "ws"
    ws.mkdir()
    (ws / "bazel-out").symlink_to(out)
    (ws / "bazel-bin").symlink_to(out / "aarch64-opt/bin")
    return ws, binary


def test_outputs_are_named_through_bazel_bin(tmp_path: Path) -> None:
    ws, binary = _bazel_tree(tmp_path)
    assert cli.short_path(binary, ws, ws) == "bazel-bin/cli/hello"
    assert cli.short_path(binary, ws, tmp_path) == "ws/bazel-bin/cli/hello"
    # Run from elsewhere: the same short name, absolute, so it still opens.
    assert cli.short_path(binary, ws, tmp_path / "cache") == str(ws / "bazel-bin/cli/hello")


def test_bazel_out_when_bazel_bin_is_another_configuration(tmp_path: Path) -> None:
    ws, binary = _bazel_tree(tmp_path)
    other = binary.parents[3] / "armv7hf-opt/bin"
    (other / "cli").mkdir(parents=True)
    (other / "cli/hello").write_bytes(b"\x7fELF")
    (ws / "bazel-bin").unlink()
    (ws / "bazel-bin").symlink_to(other)  # the last cpu built
    assert cli.short_path(binary, ws, ws) == "bazel-out/aarch64-opt/bin/cli/hello"


def test_full_path_when_no_symlink_reaches_the_file(tmp_path: Path) -> None:
    ws, binary = _bazel_tree(tmp_path)
    (ws / "bazel-bin").unlink()
    (ws / "bazel-out").unlink()
    assert cli.short_path(binary, ws, ws) == str(binary)
    elsewhere = tmp_path / "plain/hello"
    assert cli.short_path(elsewhere, ws, ws) == str(elsewhere)


def test_result_rows(tmp_path: Path) -> None:
    ws, binary = _bazel_tree(tmp_path)
    result = BuildResult(outputs={"aarch64": [binary]})
    assert cli.result_rows(result, ws, ws) == ["aarch64\tbazel-bin/cli/hello"]


def test_the_tool_in_a_builder_container_leaves_the_rows_to_the_host(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ws, binary = _bazel_tree(tmp_path)
    monkeypatch.setattr(cli.api, "build", lambda *a, **k: BuildResult(
        outputs={"aarch64": [binary]}))
    body = cli.build.body.__wrapped__  # the task itself, without the signal/logging set-up
    monkeypatch.setenv("CROSS_COMPILER_IN_CONTAINER", "1")
    body(None, workspace=str(ws), result_json=str(tmp_path / "r.json"))
    assert capsys.readouterr().out == ""
    monkeypatch.delenv("CROSS_COMPILER_IN_CONTAINER")
    monkeypatch.chdir(ws)
    body(None, workspace=str(ws))
    assert capsys.readouterr().out == "aarch64\tbazel-bin/cli/hello\n"


def test_wheels_are_named_relative_to_the_current_directory(tmp_path: Path) -> None:
    from cross_compiler.wheel.retag import RetagResult

    ws, _ = _bazel_tree(tmp_path)
    wheel = ws / "dist/m-1.0-cp311-cp311-manylinux_2_17_aarch64.whl"
    result = BuildResult(wheels={"aarch64": [RetagResult(
        wheel, "manylinux_2_17_aarch64", "fits", {}, ())]})
    assert cli.result_rows(result, ws, ws) == [
        f"aarch64\tdist/{wheel.name}\tmanylinux_2_17_aarch64\tfits"]
    assert cli.result_rows(result, ws, tmp_path / "cache") == [
        f"aarch64\t{wheel}\tmanylinux_2_17_aarch64\tfits"]


def _readme_commands() -> list[tuple[str, list[str]]]:
    """Each `cross-compiler SUB …` / `invoke SUB …` the README shows: its flags, up to
    `--` (the program's own arguments) or a comment."""
    found = []
    text = (ROOT / "README.md").read_text()
    for match in re.finditer(r"(?:cross-compiler|invoke) ([a-z][a-z-]*)([^`\n]*)", text):
        words = match.group(2).split(" -- ")[0].split("#")[0].split()
        flags = [re.split(r"[=\[]", w.strip("[]"))[0] for w in words
                 if re.match(r"\[?-", w) and w != "--"]
        found.append((match.group(1), flags))
    return found


# tasks.py's own (invoke in a checkout), not the console script's.
DEVELOPER_TASKS = {"update-golden", "update-python-table"}


def test_readme_commands_use_real_subcommands_and_flags() -> None:
    commands = _readme_commands()
    assert len(commands) > 10
    for name, flags in commands:
        assert name in cli.ns.task_names or name in DEVELOPER_TASKS, name
        if name in DEVELOPER_TASKS:
            continue
        known = {f"--{n}" if len(n) > 1 else f"-{n}"
                 for arg in cli.ns[name].get_arguments() for n in arg.names}
        assert set(flags) <= known | {"-h", "--help"}, (name, set(flags) - known)


def test_readme_commands_print_their_help(tmp_path: Path) -> None:
    for name in sorted({name for name, _ in _readme_commands()} - DEVELOPER_TASKS):
        result = _cli(name, "--help", tmp=tmp_path)
        assert result.returncode == 0 and result.stdout.startswith(
            f"Usage: cross-compiler {name} "), (name, result.stderr)


def test_without_workspace_the_cli_uses_the_one_it_stands_in_and_says_so_first(
        tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    (ws / "lib" / "src").mkdir(parents=True)
    (ws / "WORKSPACE").write_text("")
    (ws / "cross_compiler.toml").write_text('[build]\ntargets = ["//lib:mine"]\n')
    env = {"CROSS_COMPILER_RUNNER": "local", "CROSS_COMPILER_CACHE": str(tmp_path / "cache"),
           "HOME": str(tmp_path), "PATH": str(Path(CLI).parent), "LANG": "C.UTF-8"}
    result = subprocess.run([CLI, "config", "--show"], cwd=ws / "lib" / "src", env=env,
                            capture_output=True, text=True, check=False, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[0] == (
        f"cross_compiler: workspace {ws}: the Bazel workspace containing the current directory "
        "(its WORKSPACE); --workspace picks another")
    assert re.search(r"^targets\s+//lib:mine\s+\(.*ws/cross_compiler.toml\)$", result.stdout,
                     re.M), result.stdout
    elsewhere = _cli("config", "--show", tmp=tmp_path)  # tmp_path: no workspace up to /
    assert elsewhere.stderr.splitlines()[0].startswith(
        f"cross_compiler: workspace {tmp_path}/cache/example/pyext: the embedded example")
