"""Bazel 7.7.1 (Debian sid's bazel-bootstrap, offline) in the sid builder image.

Every cpu is built on Bazel 7 at least once: the example (a WORKSPACE workspace pinned by
.bazelversion) for all five, packaged and smoke-tested with sid's CPython 3.13 (riscv64
included); a MODULE.bazel-only workspace (no .bazelversion) for all five, its CLI run
under qemu with sid's runtime; a WORKSPACE workspace whose repository rule finds Python
with which("python3") for two. One image and one Bazel cache serve the whole module.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from cross_compiler import resources
from cross_compiler.config import cache_dir
from cross_compiler.toolchain import debroot, suites
from cross_compiler.toolchain.targets import Target, load_targets
from tests.conftest import ROOT, fresh_example, have_engine, require, run_cli

pytestmark = [pytest.mark.docker, pytest.mark.bazel, pytest.mark.qemu, pytest.mark.slow]

SID = suites.load_suites(resources.data_dir("suites"))["sid"]
TARGETS = {t.cpu: suites.for_suite(t, SID)
           for t in load_targets(["all"], resources.toolchains_dir())}
WORKSPACES = ROOT / "tests" / "workspaces"
EXPECTED_ARCH = {"aarch64": "aarch64 64", "armv7hf": "armv7 32", "riscv64": "riscv64 64",
                 "ppc64le": "ppc64le 64", "s390x": "s390x 64"}


@pytest.fixture(scope="module")
def sid_image() -> str:
    require(have_engine(), "a running Docker engine (docker.io + dockerd)")
    result = run_cli("image", "--suite=sid")
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.startswith("cross-compiler-builder:sid-")
    return result.stdout.split()[0]


@pytest.fixture(scope="module")
def bazel7_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bazel7-cache")


def _build(ws: Path, cache: Path, cpus: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return run_cli("build", "--runner=docker", f"--cpu={cpus}", f"--workspace={ws}",
                   f"--cache-dir={cache}", *extra)


def _outputs(stdout: str, cpu: str) -> dict[str, Path]:
    rows = [line.split("\t") for line in stdout.splitlines() if line.startswith(cpu + "\t")]
    return {Path(row[1]).name: Path(row[1]) for row in rows if len(row) == 2}


def _sid_root(target: Target) -> str:
    """sid's runtime for ``target`` (what built the binary must run it)."""
    cache = cache_dir(dict(os.environ))
    debroot.fetch(target, SID, cache)
    return str(debroot.root_dir(target, cache))


def _qemu(target: Target) -> str:
    found = shutil.which(target.qemu) or shutil.which(target.qemu.removesuffix("-static"))
    require(found is not None, "qemu-user-static")
    return str(found)


def _run_on_target(target: Target, argv: list[str]) -> str:
    result = subprocess.run([_qemu(target), "-L", _sid_root(target), *argv],
                            capture_output=True, text=True, check=False, timeout=180)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_release_on_bazel_7_makes_five_wheels_that_pass_test_wheel(
        sid_image: str, tmp_path: Path, bazel7_cache: Path) -> None:
    ws = fresh_example(tmp_path)
    (ws / ".bazelversion").write_text("7.7.0\n")  # same major: the sid image's 7.7.1
    out = tmp_path / "release"
    # release builds, retags and runs test-wheel on every target (sid's CPython 3.13).
    result = run_cli("release", "--cpu=all", f"--workspace={ws}", f"--out-dir={out}",
                     "--json", "--runner=docker", f"--cache-dir={bazel7_cache}")
    assert result.returncode == 0, result.stderr[-4000:]
    assert "Debian sid with Bazel 7.7.1 (.bazelversion says 7.7.0)" in result.stderr
    summary = json.loads(result.stdout)
    assert {row["target"]: row["status"] for row in summary["targets"]} == {
        cpu: "ok" for cpu in TARGETS}
    wheels = sorted(out.rglob("*.whl"))
    assert len(wheels) == 5, [w.name for w in wheels]
    for wheel in wheels:
        assert "-cp313-cp313-" in wheel.name, wheel.name  # the headers' Python, not 3.14
    manifest = json.loads((out / "manifest.json").read_text())
    assert {a["provenance"]["bazel_version"] for a in manifest["artifacts"]} == {"7.7.1"}
    check = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=out, capture_output=True,
                           text=True, check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    for cpu, target in TARGETS.items():
        (hello,) = [p for p in out.rglob("hello") if f"/{cpu}/" in str(p)]
        assert "fib(50) = 12586269025" in _run_on_target(target, [str(hello), "50"])
    assert not (ws / "MODULE.bazel").exists()  # Bazel 7 was never let to create one


def test_bzlmod_workspace_all_cpus_runs_under_qemu(
        sid_image: str, tmp_path: Path, bazel7_cache: Path) -> None:
    ws = tmp_path / "bzlmod"
    shutil.copytree(WORKSPACES / "bzlmod", ws)
    result = _build(ws, bazel7_cache, "all", "--target=//app:whoami", "--target=//app:arch_test")
    assert result.returncode == 0, result.stderr[-4000:]
    assert "the workspace has MODULE.bazel: bzlmod needs Bazel 7" in result.stderr
    for cpu, target in TARGETS.items():
        whoami = _outputs(result.stdout, cpu)["whoami"]
        assert _run_on_target(target, [str(whoami)]).strip() == EXPECTED_ARCH[cpu]
    assert not (ws / "MODULE.bazel.lock").exists()  # the stub modules stay out of it


def test_bzlmod_workspace_without_platforms_dep_is_one_line(
        sid_image: str, tmp_path: Path, bazel7_cache: Path) -> None:
    ws = tmp_path / "bzlmod"
    shutil.copytree(WORKSPACES / "bzlmod", ws)
    module = ws / "MODULE.bazel"
    module.write_text(module.read_text().replace('bazel_dep(name = "platforms"', "#"))
    before = module.read_bytes()
    result = _build(ws, bazel7_cache, "aarch64", "--target=//app:whoami")
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert 'add to MODULE.bazel: bazel_dep(name = "platforms", version = "0.0.10")' in last
    assert module.read_bytes() == before and not (ws / "cross_compiler").exists()
    tested = run_cli("test", "--runner=docker", "--cpu=aarch64", f"--workspace={ws}",
                     f"--cache-dir={bazel7_cache}", "//app:all")
    assert tested.returncode == 2
    assert 'bazel_dep(name = "platforms"' in tested.stderr.strip().splitlines()[-1]
    assert "is up to date" not in tested.stderr  # refused before any image or container


def test_which_python3_repository_rule_gets_the_target_headers(
        sid_image: str, tmp_path: Path, bazel7_cache: Path) -> None:
    ws = tmp_path / "legacy_python"
    shutil.copytree(WORKSPACES / "legacy_python", ws)
    result = _build(ws, bazel7_cache, "all", "--target=//ext:sizes.so")
    assert result.returncode == 0, result.stderr[-4000:]
    cache = cache_dir(dict(os.environ))
    for cpu in TARGETS:
        long_size = 4 if cpu == "armv7hf" else 8
        target = TARGETS[cpu]
        site = tmp_path / f"site-{cpu}"
        site.mkdir()
        shutil.copy(_outputs(result.stdout, cpu)["sizes.so"], site / "sizes.so")
        _sid_root(target)
        python = str(debroot.interpreter(target, cache))
        code = f"import sys; sys.path.insert(0, {str(site)!r}); import sizes; print(sizes.sizes())"
        out = _run_on_target(target, [python, "-c", code])
        # The target's pyconfig.h (its SIZEOF_LONG, no x87: the build machine's has it) and
        # the target's numpy configuration (its NPY_SIZEOF_LONG).
        assert out.strip() == f"({long_size}, {long_size}, 0, {long_size})"
    # Then one cpu at a time in the same workspace and Bazel output base, switching back: a
    # repository rule that ran one cpu's python3 still finds that cpu's rendered wrappers.
    for cpu in ("armv7hf", "aarch64"):
        alone = _build(ws, bazel7_cache, cpu, "--target=//ext:sizes.so")
        assert alone.returncode == 0, (cpu, alone.stderr[-3000:])
        assert "sizes.so" in _outputs(alone.stdout, cpu)


def test_bazelversion_no_image_provides_is_one_line(tmp_path: Path) -> None:
    ws = fresh_example(tmp_path)
    (ws / ".bazelversion").write_text("6.5.0\n")
    result = run_cli("build", "--runner=docker", "--cpu=aarch64", f"--workspace={ws}")
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert "6.5.0" in line and "4.2.3 (bookworm)" in line and "7.7.1 (sid)" in line
    assert not (ws / "cross_compiler").exists()
