"""Patterns of real workspaces, zero manual steps: an external repository given as a local
copy outside the workspace (offline), `test` and `run` under qemu, readable failures."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from cross_compiler import resources
from cross_compiler.bazel import targetrun
from cross_compiler.config import cache_dir
from cross_compiler.toolchain import debroot
from cross_compiler.toolchain.targets import load_targets
from tests.conftest import ROOT, have_bazel, have_engine, require, run_cli, shutdown_bazel

pytestmark = [pytest.mark.bazel, pytest.mark.qemu, pytest.mark.slow]

WORKSPACES = ROOT / "tests" / "workspaces"


@pytest.fixture
def offline_ws(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """The workspace, and an environment naming its dependency's copy (a sibling dir)."""
    ws, dep = tmp_path / "ws", tmp_path / "greeting"
    shutil.copytree(WORKSPACES / "offline_dep", ws)
    shutil.copytree(WORKSPACES / "greeting", dep)
    yield ws, {"CROSS_COMPILER_REPOSITORY_OVERRIDES": f"greeting={dep}"}
    shutdown_bazel(ws)


def test_offline_fetch_failure_names_the_repository_and_the_setting(
        offline_ws: tuple[Path, dict[str, str]]) -> None:
    require(have_bazel(), "bazel (bazel-bootstrap)")
    ws, _ = offline_ws
    result = run_cli("build", "--cpu=aarch64", f"--workspace={ws}", "--target=//app:hello")
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert "Bazel could not download 'greeting'" in last
    assert 'repository_overrides = ["greeting=/path/to/greeting"]' in last
    log_file = Path(last.rsplit("full log: ", 1)[1])
    assert "Unknown host" in log_file.read_text()
    # Bazel's own ERROR lines come right before the tool's last line.
    assert any(line.startswith("ERROR:") for line in result.stderr.splitlines()[-6:-1])


def test_local_runner_test_and_run_under_qemu(
        offline_ws: tuple[Path, dict[str, str]]) -> None:
    require(have_bazel(), "bazel (bazel-bootstrap)")
    ws, env = offline_ws
    ran = run_cli("run", "--cpu=s390x", f"--workspace={ws}", "//app:hello", env=env)
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert ran.stdout == "hello, offline\n"
    for cpu in ("armv7hf", "s390x"):
        tested = run_cli("test", f"--cpu={cpu}", f"--workspace={ws}", "//app:all", env=env)
        assert tested.returncode == 0, tested.stderr[-3000:]
        assert "1 test passes" in tested.stderr
    failing = run_cli("test", "--cpu=armv7hf", f"--workspace={ws}", "//app:all",
                      "--bazel-flag=--test_env=FAIL_GREETING_TEST=1", env=env)
    assert failing.returncode == 3  # Bazel's own "tests failed"
    assert "1 fails locally" in failing.stderr


def test_docker_runner_mounts_the_local_copy_and_runs_tests(
        offline_ws: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    require(have_engine(), "a running Docker engine (docker.io + dockerd)")
    ws, env = offline_ws
    cache = tmp_path / "cache"
    docker = [f"--workspace={ws}", "--runner=docker", f"--cache-dir={cache}"]
    tested = run_cli("test", "--cpu=aarch64", "//app:all", *docker, env=env)
    assert tested.returncode == 0, tested.stderr[-3000:]
    assert "1 test passes" in tested.stderr
    ran = run_cli("run", "--cpu=aarch64", "//app:hello", *docker, env=env)
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert ran.stdout.endswith("hello, offline\n")
    assert os.listdir(tmp_path / "greeting") == os.listdir(WORKSPACES / "greeting")


def test_which_python3_and_numpy_rules_get_the_targets_headers_locally(tmp_path: Path) -> None:
    """The local runner (Bazel 4.2.3, Python 3.11) on the workspace test_bazel7.py builds
    in the sid image: repository rules running `python3` from PATH see the target's
    pyconfig.h and numpy."""
    require(have_bazel(), "bazel (bazel-bootstrap)")
    ws = tmp_path / "legacy_python"
    shutil.copytree(WORKSPACES / "legacy_python", ws)
    try:
        result = run_cli("build", "--cpu=aarch64", f"--workspace={ws}", "--target=//ext:sizes.so")
        assert result.returncode == 0, result.stderr[-3000:]
        assert ".bazelversion asks for Bazel 7.x; the local runner uses" in result.stderr
        (target,) = load_targets(["aarch64"], resources.toolchains_dir())
        cache = cache_dir(dict(os.environ))
        site = tmp_path / "site"
        site.mkdir()
        so = next(line.split("\t")[1] for line in result.stdout.splitlines()
                  if line.endswith("sizes.so"))
        shutil.copy(so, site / "sizes.so")
        code = f"import sys; sys.path.insert(0, {str(site)!r}); import sizes; print(sizes.sizes())"
        ran = subprocess.run([targetrun.qemu_program(target), "-L",
                              str(debroot.root_dir(target, cache)),
                              str(debroot.interpreter(target, cache)), "-c", code],
                             capture_output=True, text=True, check=False, timeout=120)
        assert ran.stdout.strip() == "(8, 8, 0, 8)", ran.stderr
    finally:
        shutdown_bazel(ws)


def test_switching_cpus_in_one_workspace_keeps_each_cpus_python(tmp_path: Path) -> None:
    """aarch64, then armv7hf alone, then aarch64 again in one workspace: a repository rule
    that ran python3 for one cpu still finds that cpu's rendered wrappers (a render for
    another cpu no longer deletes them)."""
    require(have_bazel(), "bazel (bazel-bootstrap)")
    ws = tmp_path / "legacy_python"
    shutil.copytree(WORKSPACES / "legacy_python", ws)
    try:
        for cpu in ("aarch64", "armv7hf", "aarch64"):
            result = run_cli("build", f"--cpu={cpu}", f"--workspace={ws}",
                             "--target=//ext:sizes.so")
            assert result.returncode == 0, (cpu, result.stderr[-3000:])
        assert (ws / "cross_compiler/python/armv7hf/bin/python3").is_file()
        assert (ws / "cross_compiler/python/aarch64/bin/python3").is_file()
    finally:
        shutdown_bazel(ws)
