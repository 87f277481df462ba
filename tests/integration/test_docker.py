"""The docker runner against the real engine: image, caches, hygiene, ownership."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import CLI, fresh_example, have_engine, require, run_cli

pytestmark = [pytest.mark.docker, pytest.mark.bazel, pytest.mark.slow]

EXPECTED_HELLO = "hello from aarch64: fib(50) = 12586269025\n"


def _tool_containers(under: Path) -> list[str]:
    """The tool's containers (running or stopped) that mount something under ``under``:
    this test's own, whatever other builds share the engine."""
    import docker

    client = docker.from_env()
    return [str(c.name) for c in client.containers.list(all=True,
                                                         filters={"label": "cross_compiler"})
            if any(Path(m.get("Source", "/")).is_relative_to(under)
                   for m in c.attrs.get("Mounts", []))]


@pytest.fixture(scope="session")
def builder_image() -> str:
    """Built once per run (the first run bootstraps the base image) and shared."""
    require(have_engine(), "a running Docker engine (docker.io + dockerd)")
    result = run_cli("image")
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.split()[0]


@pytest.fixture
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("docker-cache")


@pytest.fixture(autouse=True)
def _no_container_left_behind(tmp_path: Path) -> Iterator[None]:
    yield
    if have_engine():
        assert _tool_containers(tmp_path) == []


def _docker_build(ws: Path, cache: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return run_cli("build", "--runner=docker", "--cpu=aarch64", f"--workspace={ws}",
                   f"--cache-dir={cache}", *extra)


def _compiles(stderr: str) -> list[str]:
    """Compile actions Bazel really executed: with --subcommands it announces each one."""
    found = re.findall(r"^SUBCOMMAND: .*\[action 'Compiling ([^']+)'", stderr, re.M)
    assert "Build completed successfully" in stderr
    return sorted(found)


def test_build_in_container_then_warm_and_incremental(
    builder_image: str, tmp_path: Path, cache_dir: Path
) -> None:
    require(shutil.which("qemu-aarch64-static") is not None, "qemu-user-static")
    ws = fresh_example(tmp_path)
    first = _docker_build(ws, cache_dir)
    assert first.returncode == 0, first.stderr[-3000:]
    rows = [line.split("\t") for line in first.stdout.splitlines()]
    # Checked binaries are copied out of bazel-out into dist/<cpu>/ (the rows name them).
    hello = next(Path(r[1]) for r in rows if len(r) == 2 and r[1].endswith("/aarch64/hello"))
    assert hello == ws / "dist" / "aarch64" / "hello"
    run = subprocess.run(["qemu-aarch64-static", "-L", "/usr/aarch64-linux-gnu", str(hello),
                          "50"], capture_output=True, text=True, check=True)
    assert run.stdout == EXPECTED_HELLO
    (wheel,) = (ws / "dist").glob("*.whl")
    check = "import crossdemo; assert crossdemo.fib(90) == 2880067194370816120"
    smoke = run_cli("test-wheel", str(wheel), "--cpu=aarch64", f"--command={check}")
    assert smoke.returncode == 0, smoke.stderr[-2000:]

    # A new container, the same caches: nothing to compile.
    warm = _docker_build(ws, cache_dir, "--bazel-flag=--subcommands")
    assert warm.returncode == 0, warm.stderr[-3000:]
    assert _compiles(warm.stderr) == []

    # A one-line change recompiles only the file that changed (PIC and non-PIC objects).
    source = ws / "lib/mathlib.cc"
    source.write_text(source.read_text().replace("return seq[n];", "return seq.at(n);"))
    again = _docker_build(ws, cache_dir, "--bazel-flag=--subcommands")
    assert again.returncode == 0, again.stderr[-3000:]
    compiled = _compiles(again.stderr)
    assert compiled and set(compiled) == {"lib/mathlib.cc"}, compiled


def test_failed_build_exits_non_zero_and_leaves_no_container(
    builder_image: str, tmp_path: Path, cache_dir: Path
) -> None:
    ws = fresh_example(tmp_path)
    (ws / "lib/mathlib.cc").write_text("not C++ at all\n")
    result = _docker_build(ws, cache_dir, "--no-package")
    assert result.returncode == 1  # Bazel's "build failed", passed on through the container
    assert "failed with exit code" in result.stderr.strip().splitlines()[-1]


def test_sigint_mid_build_removes_the_container(
    builder_image: str, tmp_path: Path, cache_dir: Path
) -> None:
    ws = fresh_example(tmp_path)
    (ws / "slow").mkdir()
    (ws / "slow/BUILD.bazel").write_text(
        'genrule(name = "slow", outs = ["slow.txt"], cmd = "sleep 300; touch $@")\n')
    merged = {**os.environ, "CROSS_COMPILER_RUNNER": "docker"}
    child = subprocess.Popen(
        [CLI, "build", "--cpu=aarch64", f"--workspace={ws}", f"--cache-dir={cache_dir}",
         "--target=//slow", "--no-package"],
        env=merged, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and not _running_genrule(ws):
        assert child.poll() is None, child.communicate()[1][-3000:]
        time.sleep(1)
    assert _tool_containers(tmp_path), "the build container never started"
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=120)
    assert child.returncode != 0
    assert "interrupted" in err.strip().splitlines()[-1]
    assert _tool_containers(tmp_path) == []


def _running_genrule(ws: Path) -> bool:
    # Bazel's convenience symlink appears once the build has started executing.
    return (ws / "bazel-out").exists() and bool(_tool_containers(ws))


def test_files_created_by_the_build_belong_to_the_invoking_user(builder_image: str) -> None:
    uid = gid = 4242
    # Outside pytest's root-only temp dir, so the unprivileged user can reach it.
    tmp_path = Path(tempfile.mkdtemp(prefix="cross_compiler-nonroot-"))
    tmp_path.chmod(0o755)
    ws = fresh_example(tmp_path)
    home = tmp_path / "home"
    home.mkdir()
    for path in [tmp_path, home, *ws.rglob("*"), ws]:
        os.lchown(path, uid, gid)
    import grp

    docker_gid = grp.getgrnam("docker").gr_gid if _has_group("docker") else None
    require(docker_gid is not None and shutil.which("setpriv") is not None,
            "the docker group and setpriv")
    env = {**os.environ, "HOME": str(home), "CROSS_COMPILER_CACHE": str(home / "cache"),
           "CROSS_COMPILER_RUNNER": "docker"}
    env.pop("XDG_CACHE_HOME", None)
    with _traversable_by_others(Path(CLI).resolve().parent, Path(__file__).resolve().parent):
        result = subprocess.run(
            ["setpriv", f"--reuid={uid}", f"--regid={gid}", f"--groups={docker_gid}", CLI,
             "build", "--cpu=aarch64", f"--workspace={ws}", "--no-package",
             "--target=//cli:hello"],
            env=env, capture_output=True, text=True, check=False, cwd=ws,
        )
    assert result.returncode == 0, result.stderr[-3000:]
    foreign = [str(p) for p in [ws, *ws.rglob("*")] if os.lstat(p).st_uid != uid]
    assert foreign == []
    assert (ws / "bazel-out").is_symlink() and (ws / "cross_compiler/BUILD.bazel").is_file()
    subprocess.run(["bash", "-c", f"cd {ws} && bazel shutdown"], check=False,
                   capture_output=True)
    shutil.rmtree(tmp_path, ignore_errors=True)


@contextlib.contextmanager
def _traversable_by_others(*paths: Path) -> Iterator[None]:
    """The second user must reach the checkout and its venv, wherever CI cloned them
    (e.g. under a 0700 home): grant o+x on the way there, and take it back after."""
    changed: list[tuple[Path, int]] = []
    try:
        for path in paths:
            for directory in [*reversed(path.parents), path]:
                mode = directory.stat().st_mode
                if not mode & stat.S_IXOTH:
                    directory.chmod(mode | stat.S_IXOTH)
                    changed.append((directory, mode))
        yield
    finally:
        for directory, mode in reversed(changed):
            directory.chmod(mode)


def _has_group(name: str) -> bool:
    import grp

    try:
        grp.getgrnam(name)
    except KeyError:
        return False
    return True


def test_dry_run_prints_the_container_request(builder_image: str, tmp_path: Path,
                                              cache_dir: Path) -> None:
    ws = fresh_example(tmp_path)
    result = _docker_build(ws, cache_dir, "--dry-run", "--env=FOO=bar")
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert f"image: {builder_image}" in out
    assert f"mount: {ws} -> {ws}" in out and "env: FOO=bar" in out
    assert "--crosstool_top=//cross_compiler:toolchain" in out  # the inner Bazel argv
    assert not (ws / "cross_compiler").exists() and not (ws / "bazel-out").exists()


def test_docker_runner_without_an_engine_says_how_to_start_one(tmp_path: Path) -> None:
    ws = fresh_example(tmp_path)
    result = run_cli("build", "--runner=docker", "--cpu=aarch64", f"--workspace={ws}",
                     env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"})
    assert result.returncode == 3
    assert "no Docker engine answers; start one" in result.stderr.strip().splitlines()[-1]
