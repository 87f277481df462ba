"""Bad input through the real console script: one line, non-zero exit, nothing written."""

from __future__ import annotations

import shutil
from pathlib import Path

from cross_compiler import resources
from tests.conftest import require, run_cli


def _one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith("cross_compiler: error:")]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def test_unknown_cpu_lists_the_valid_ones(tmp_path: Path) -> None:
    result = run_cli("build", "--cpu=arm64", f"--workspace={tmp_path}", "--dry-run")
    assert result.returncode == 2
    line = _one_error_line(result.stderr)
    assert "arm64" in line and "aarch64, armv7hf, ppc64le, riscv64, s390x" in line


def test_not_a_bazel_workspace(tmp_path: Path) -> None:
    result = run_cli("toolchain", "--cpu=aarch64", f"--workspace={tmp_path}")
    assert result.returncode == 2
    assert "is not a Bazel workspace" in _one_error_line(result.stderr)
    assert list(tmp_path.iterdir()) == []


def test_malformed_toolchain_file(tmp_path: Path) -> None:
    catalogue = tmp_path / "toolchains"
    shutil.copytree(resources.toolchains_dir(), catalogue)
    (catalogue / "aarch64.toml").write_text('cpu = "aarch64"\ntriple = 42\n')
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "WORKSPACE").write_text("")
    result = run_cli("toolchain", "--cpu=aarch64", f"--workspace={ws}",
                     env={"CROSS_COMPILER_TOOLCHAINS": str(catalogue)})
    assert result.returncode == 2
    assert "aarch64.toml: field 'triple' must be a str" in _one_error_line(result.stderr)
    assert not (ws / "cross_compiler").exists()


def test_missing_cross_compiler_names_the_package(tmp_path: Path) -> None:
    (tmp_path / "WORKSPACE").write_text("")
    result = run_cli("toolchain", "--cpu=s390x", f"--workspace={tmp_path}",
                     env={"PATH": "/nonexistent"})
    assert result.returncode == 3
    assert "apt-get install g++-s390x-linux-gnu" in _one_error_line(result.stderr)
    assert not (tmp_path / "cross_compiler").exists()


def test_bad_config_value(tmp_path: Path) -> None:
    (tmp_path / "WORKSPACE").write_text("")
    (tmp_path / "cross_compiler.toml").write_text('[build]\nbazel_mod = "legacy"\n')
    result = run_cli("build", "--cpu=aarch64", f"--workspace={tmp_path}", "--dry-run")
    assert result.returncode == 2
    assert "did you mean 'bazel_mode'" in _one_error_line(result.stderr)


def test_render_check_and_dry_run(tmp_path: Path) -> None:
    require(shutil.which("aarch64-linux-gnu-gcc") is not None, "g++-aarch64-linux-gnu")
    (tmp_path / "WORKSPACE").write_text("")
    dry = run_cli("toolchain", "--cpu=aarch64", f"--workspace={tmp_path}", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "would write" in dry.stdout and not (tmp_path / "cross_compiler").exists()
    assert run_cli("toolchain", "--cpu=aarch64", f"--workspace={tmp_path}",
                   "--check").returncode == 4

    first = run_cli("toolchain", "--cpu=aarch64", f"--workspace={tmp_path}")
    assert first.returncode == 0, first.stderr
    again = run_cli("toolchain", "--cpu=aarch64", f"--workspace={tmp_path}")
    assert again.stdout.strip().endswith(" 0 written, 0 removed, " + again.stdout.split()[-2]
                                         + " unchanged")
    assert run_cli("toolchain", "--cpu=aarch64", f"--workspace={tmp_path}",
                   "--check").returncode == 0

    (tmp_path / "cross_compiler/BUILD.bazel").write_text(
        (tmp_path / "cross_compiler/BUILD.bazel").read_text() + "# edited\n")
    check = run_cli("toolchain", "--cpu=aarch64", f"--workspace={tmp_path}", "--check")
    assert check.returncode == 4
    assert "out of date" in _one_error_line(check.stderr) and "BUILD.bazel" in check.stderr


def test_docker_build_for_a_cpu_the_image_lacks(tmp_path: Path) -> None:
    (tmp_path / "WORKSPACE").write_text("")
    result = run_cli("build", "--runner=docker", "--cpu=armv7hf", f"--workspace={tmp_path}",
                     "--dry-run", env={"CROSS_COMPILER_IMAGE_CPUS": "aarch64"})
    assert result.returncode == 2
    assert "holds toolchains for aarch64, not for armv7hf" in _one_error_line(result.stderr)


def _ws(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "WORKSPACE").write_text("")
    return ws


def test_unbalanced_quotes_in_a_list_setting(tmp_path: Path) -> None:
    ws = _ws(tmp_path)
    result = run_cli("build", "--cpu=aarch64", f"--workspace={ws}", "--dry-run",
                     env={"CROSS_COMPILER_BAZEL_FLAGS": "--copt='-DX"})
    assert result.returncode == 2
    line = _one_error_line(result.stderr)
    assert "bazel_flags: No closing quotation" in line and "CROSS_COMPILER_BAZEL_FLAGS" in line


def test_non_utf8_config_and_toolchain_files(tmp_path: Path) -> None:
    ws = _ws(tmp_path)
    (ws / "cross_compiler.toml").write_bytes(b'[build]\ntargets = ["\xff"]\n')
    result = run_cli("build", "--cpu=aarch64", f"--workspace={ws}", "--dry-run")
    assert result.returncode == 2
    assert "cross_compiler.toml: not valid TOML" in _one_error_line(result.stderr)
    catalogue = tmp_path / "toolchains"
    shutil.copytree(resources.toolchains_dir(), catalogue)
    (catalogue / "aarch64.toml").write_bytes(b'cpu = "\xff"\n')
    (ws / "cross_compiler.toml").unlink()
    result = run_cli("toolchain", "--cpu=aarch64", f"--workspace={ws}",
                     env={"CROSS_COMPILER_TOOLCHAINS": str(catalogue)})
    assert result.returncode == 2
    assert "aarch64.toml: not valid TOML" in _one_error_line(result.stderr)


def test_bazel_that_cannot_be_run(tmp_path: Path) -> None:
    ws = _ws(tmp_path)
    not_executable = tmp_path / "bazel"
    not_executable.write_text("#!/bin/sh\n")
    for program in (tmp_path, not_executable):  # a directory, a file without the exec bit
        result = run_cli("build", "--cpu=aarch64", f"--workspace={ws}", "--runner=local",
                         env={"CROSS_COMPILER_BAZEL": str(program)})
        assert result.returncode == 3
        assert f"cannot run {program}: Permission denied" in _one_error_line(result.stderr)


def test_package_dir_that_is_a_file(tmp_path: Path) -> None:
    require(shutil.which("aarch64-linux-gnu-gcc") is not None, "g++-aarch64-linux-gnu")
    ws = _ws(tmp_path)
    (ws / "cross_compiler").write_text("mine\n")
    result = run_cli("toolchain", "--cpu=aarch64", f"--workspace={ws}")
    assert result.returncode == 2
    assert "is a file, where cross_compiler renders" in _one_error_line(result.stderr)
    assert (ws / "cross_compiler").read_text() == "mine\n"


def test_an_engine_that_never_answers_is_one_line(tmp_path: Path) -> None:
    import socket

    ws = _ws(tmp_path)
    path = tmp_path / "docker.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(8)  # accepts (the kernel does), never answers
    try:
        result = run_cli("build", "--cpu=aarch64", f"--workspace={ws}", "--runner=docker",
                         env={"DOCKER_HOST": f"unix://{path}"})
    finally:
        server.close()
    assert result.returncode == 3
    assert "no Docker engine answers" in _one_error_line(result.stderr)
