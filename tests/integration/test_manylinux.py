"""--manylinux with real Bazel 4.2.3 (local runner), clang + lld 14 and a Debian bullseye
sysroot the tool assembles: real C++ in a Python extension and a CLI, provably within
glibc 2.31 (readelf -V), the CLI run under qemu-user on bullseye's own root; zig (PyPI's
ziglang) for manylinux2014 (glibc 2.17); an unreachable baseline fails before anything
builds."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from cross_compiler import sysroot
from cross_compiler.config import cache_dir
from tests.conftest import ROOT, have_bazel, require, run_cli, shutdown_bazel

pytestmark = [pytest.mark.bazel, pytest.mark.qemu, pytest.mark.slow]

WORKSPACE = ROOT / "tests" / "workspaces" / "portable"
LABELS = ("-t", "//cli:sumtool", "-t", "//ext:_portable.so")


def _max_version(path: Path, namespace: str) -> tuple[int, ...]:
    """The newest ``<namespace>_x.y`` symbol version ``path`` requires, by readelf -V."""
    text = subprocess.run(["readelf", "-V", str(path)], capture_output=True, text=True,
                          check=True).stdout
    found = re.findall(rf"Name: {namespace}_([0-9.]+)", text)
    assert found, f"{path} requires no {namespace} symbol version?\n{text}"
    return max(tuple(int(x) for x in v.split(".")) for v in found)


@pytest.fixture
def ws(tmp_path: Path):  # type: ignore[no-untyped-def]
    copy = tmp_path / "ws"
    shutil.copytree(WORKSPACE, copy)
    yield copy
    shutdown_bazel(copy)


def test_aarch64_manylinux_2_31_with_clang_and_a_bullseye_sysroot(ws: Path) -> None:
    require(have_bazel(), "bazel (bazel-bootstrap)")
    for program, package in (("clang", "clang"), ("ld.lld", "lld"), ("llvm-ar", "llvm"),
                             ("qemu-aarch64-static", "qemu-user-static")):
        require(shutil.which(program) is not None, package)
    result = run_cli("build", "--cpu=aarch64", "-w", str(ws), *LABELS, "--manylinux=2_31",
                     "--runner=local", "--no-package", cwd=ws)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "manylinux_2_31 via clang + Debian bullseye sysroot, glibc 2.31" in result.stderr
    outputs = {Path(row.split("\t")[1]).name: ws / row.split("\t")[1]
               for row in result.stdout.splitlines() if row.startswith("aarch64\t")}
    assert set(outputs) == {"sumtool", "_portable.so"}
    for path in outputs.values():
        assert _max_version(path, "GLIBC") <= (2, 31), path
        assert _max_version(path, "GLIBCXX") <= (3, 4, 28), path  # bullseye's libstdc++

    # The sysroot the build used is a complete bullseye root: the CLI runs on it.
    root = sysroot.sysroot_dir("bullseye", "arm64", cache_dir(dict(os.environ)))
    manifest = sysroot.read_manifest(root)
    assert manifest is not None and manifest.packages["libc6"].startswith("2.31-")
    run = subprocess.run(["qemu-aarch64-static", "-L", str(root), str(outputs["sumtool"]),
                          "1000"], capture_output=True, text=True, check=False, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == ["sum(1000)=500500",
                                       "sum(-1)=error: n must not be negative"]
    # The rendered toolchain declares the sysroot's files to Bazel.
    build = (ws / "cross_compiler" / "BUILD.bazel").read_text()
    assert 'compiler_files = "@cross_compiler_sysroot_bullseye_aarch64//:files"' in build


def test_aarch64_manylinux2014_with_zig(ws: Path) -> None:
    require(have_bazel(), "bazel (bazel-bootstrap)")
    require(importlib.util.find_spec("ziglang") is not None, "ziglang (the zig extra)")
    require(shutil.which("qemu-aarch64-static") is not None, "qemu-user-static")
    # zig's cache (ZIG_GLOBAL_CACHE_DIR) lives in the tool's cache: a rerun is warm.
    result = run_cli("build", "--cpu=aarch64", "-w", str(ws), *LABELS, "--manylinux=2014",
                     "--runner=local", "--no-package", cwd=ws)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "aarch64: manylinux_2_17 via zig, glibc 2.17" in result.stderr
    outputs = {Path(row.split("\t")[1]).name: ws / row.split("\t")[1]
               for row in result.stdout.splitlines() if row.startswith("aarch64\t")}
    assert set(outputs) == {"sumtool", "_portable.so"}
    for path in outputs.values():
        assert _max_version(path, "GLIBC") <= (2, 17), path
        # libc++ is linked in statically: no libstdc++ symbol versions at all.
        assert "GLIBCXX" not in subprocess.run(["readelf", "-V", str(path)],
                                               capture_output=True, text=True).stdout
    # glibc is backward compatible: the build machine's cross libc (2.36) runs it.
    run = subprocess.run(["qemu-aarch64-static", "-L", "/usr/aarch64-linux-gnu",
                          str(outputs["sumtool"]), "1000"], capture_output=True, text=True,
                         check=False, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == ["sum(1000)=500500",
                                       "sum(-1)=error: n must not be negative"]
    # The wrappers Bazel runs are rendered into the package, executable and declared.
    package = ws / "cross_compiler"
    assert os.access(package / "tools" / "aarch64" / "bin" / "gcc", os.X_OK)
    assert 'compiler_files = ":tool_files_aarch64"' in (package / "BUILD.bazel").read_text()


def test_ppc64le_manylinux2014_fails_before_building(ws: Path) -> None:
    result = run_cli("build", "--cpu=ppc64le", "-w", str(ws), *LABELS, "--manylinux=2014",
                     "--runner=local", cwd=ws)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("cross_compiler: error: ppc64le: cannot build for "
                               "manylinux_2_17_ppc64le (glibc 2.17); the lowest reachable "
                               "baseline is manylinux_2_36"), lines[0]
    assert "bullseye has no ppc64el" in lines[0]
    # Nothing rendered, nothing built.
    assert not (ws / "cross_compiler").exists()
    assert not list(ws.glob("bazel-*"))
