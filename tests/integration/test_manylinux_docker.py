"""--manylinux with the docker runner (the builder image's Bazel 4.2.3): the image gains what
the chosen route needs and nothing else — zig (PyPI's ziglang) for manylinux2014 on aarch64,
clang + lld + a Debian bullseye sysroot baked in for manylinux_2_31 on armv7hf — the outputs
are provably within the baseline (readelf -V) and run under qemu-user; a baseline the
builder image's own gcc meets uses today's image; an unreachable one fails before any
image."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from cross_compiler.config import cache_dir
from cross_compiler.toolchain import sysroot
from tests.conftest import ROOT, have_engine, require, run_cli
from tests.integration.test_docker import (
    _tool_containers,
    builder_image,  # noqa: F401 (shared fixture)
)
from tests.integration.test_manylinux import EXPECTED, _versions

pytestmark = [pytest.mark.docker, pytest.mark.bazel, pytest.mark.qemu, pytest.mark.slow]

WORKSPACE = ROOT / "tests" / "workspaces" / "portable"
LABELS = ("-t", "//cli:sumtool", "-t", "//ext:_portable.so")
EXPECTED_RUN = EXPECTED


def _outputs(stdout: str, cpu: str, ws: Path) -> dict[str, Path]:
    """The outputs a build printed (relative to the workspace)."""
    return {Path(row.split("\t")[1]).name: ws / row.split("\t")[1]
            for row in stdout.splitlines() if row.startswith(f"{cpu}\t")}


def _image_of(stderr: str) -> str:
    """The builder image a run built or reused, from its log."""
    match = re.search(r"builder image (cross-compiler-builder:\S+) (?:is up to date|\()",
                      stderr)
    assert match, stderr[-3000:]
    return match[1]


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Path]:
    require(have_engine(), "a running Docker engine (docker.io + dockerd)")
    copy = tmp_path / "ws"
    shutil.copytree(WORKSPACE, copy)
    yield copy
    # Bazel ran in the build's container, which is gone with its server: none left.
    assert _tool_containers(tmp_path) == []


def test_aarch64_manylinux2014_with_zig_in_the_builder_image(ws: Path) -> None:
    require(shutil.which("qemu-aarch64-static") is not None, "qemu-user-static")
    result = run_cli("build", "--runner=docker", "--cpu=aarch64", "-w", str(ws), *LABELS,
                     "--manylinux=2014", "--no-package", cwd=ws)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "aarch64: manylinux_2_17 via zig, glibc 2.17" in result.stderr
    assert _image_of(result.stderr).startswith("cross-compiler-builder:bookworm-zig-")
    outputs = _outputs(result.stdout, "aarch64", ws)
    assert set(outputs) == {"sumtool", "_portable.so"}
    for path in outputs.values():
        assert max(_versions(path, "GLIBC")) <= (2, 17), path
        assert _versions(path, "GLIBCXX") == [], path  # libc++, linked in statically
    # glibc is backward compatible: Debian 12's cross libc (2.36) runs it.
    run = subprocess.run(["qemu-aarch64-static", "-L", "/usr/aarch64-linux-gnu",
                          str(outputs["sumtool"]), "1000"], capture_output=True, text=True,
                         check=False, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == EXPECTED_RUN
    # zig's cache persists on the host, in the docker cache root, written as this user.
    zig_cache = cache_dir(dict(os.environ)) / "docker" / "tool-cache" / "zig"
    assert any(zig_cache.iterdir())
    assert zig_cache.stat().st_uid == os.getuid()


def test_armv7hf_manylinux_2_31_with_clang_and_a_baked_bullseye_sysroot(ws: Path) -> None:
    require(shutil.which("qemu-arm-static") is not None, "qemu-user-static")
    result = run_cli("build", "--runner=docker", "--cpu=armv7hf", "-w", str(ws), *LABELS,
                     "--manylinux=2_31", "--no-package", cwd=ws)
    assert result.returncode == 0, result.stderr[-3000:]
    assert ("armv7hf: manylinux_2_31 via clang + Debian bullseye sysroot, glibc 2.31"
            in result.stderr)
    assert _image_of(result.stderr).startswith("cross-compiler-builder:bookworm-clang-")
    # Assembled here at most once, baked into the image: the tool inside downloads nothing
    # (its cache is read-only: it could not).
    assert result.stderr.count("assembling a Debian bullseye sysroot") <= 1
    outputs = _outputs(result.stdout, "armv7hf", ws)
    assert set(outputs) == {"sumtool", "_portable.so"}
    for path in outputs.values():
        assert max(_versions(path, "GLIBC")) <= (2, 31), path
        assert max(_versions(path, "GLIBCXX")) <= (3, 4, 28), path  # bullseye's libstdc++
    # The host's copy of the sysroot the image holds is a complete bullseye root.
    root = sysroot.sysroot_dir("bullseye", "armhf", cache_dir(dict(os.environ)))
    manifest = sysroot.read_manifest(root)
    assert manifest is not None and manifest.packages["libc6"].startswith("2.31-")
    run = subprocess.run(["qemu-arm-static", "-L", str(root), str(outputs["sumtool"]),
                          "1000"], capture_output=True, text=True, check=False, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == EXPECTED_RUN
    # The preprocessor is `clang -E`: no clang version in the rendered toolchain.
    cpp = (ws / "cross_compiler" / "tools" / "armv7hf" / "bin" / "cpp").read_text()
    assert cpp.endswith('exec /usr/bin/clang -E "$@"\n')


def test_release_records_the_route_the_container_used(ws: Path) -> None:
    require(shutil.which("qemu-aarch64-static") is not None, "qemu-user-static")
    out = ws.parent / "release"
    result = run_cli("release", "--runner=docker", "--cpu=aarch64", "-w", str(ws),
                     "--manylinux=2014", f"--out-dir={out}", cwd=ws)
    assert result.returncode == 0, result.stderr[-3000:]
    (artifact,) = [a for a in json.loads((out / "manifest.json").read_text())["artifacts"]
                   if a["path"].endswith(".whl")]
    assert artifact["platform"] == "manylinux_2_17_aarch64"  # smoke-tested under qemu
    toolchain = artifact["provenance"]["toolchain"]
    assert toolchain["family"] == "zig" and toolchain["baseline"] == "manylinux_2_17"


def test_a_baseline_gcc_meets_uses_todays_image(builder_image: str,  # noqa: F811
                                                ws: Path) -> None:
    for extra in ((), ("--manylinux=2_36",)):
        result = run_cli("build", "--runner=docker", "--cpu=aarch64", "-w", str(ws), *LABELS,
                         "--dry-run", *extra, cwd=ws)
        assert result.returncode == 0, result.stderr[-3000:]
        assert f"image: {builder_image}" in result.stdout, extra
    zig = run_cli("build", "--runner=docker", "--cpu=aarch64", "-w", str(ws), *LABELS,
                  "--dry-run", "--manylinux=2014", cwd=ws)
    assert zig.returncode == 0, zig.stderr[-3000:]
    assert "image: cross-compiler-builder:bookworm-zig-" in zig.stdout
    assert "mount: " in zig.stdout and "-> /opt/cross_compiler/cache/zig" in zig.stdout


def test_an_unreachable_baseline_fails_before_any_image(ws: Path) -> None:
    result = run_cli("build", "--runner=docker", "--cpu=ppc64le", "-w", str(ws), *LABELS,
                     "--manylinux=2014", cwd=ws)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[-1].startswith("cross_compiler: error: ppc64le: cannot build for "
                                "manylinux_2_17_ppc64le (glibc 2.17)"), lines[-1]
    assert not (ws / "cross_compiler").exists() and not list(ws.glob("bazel-*"))


def test_a_bzlmod_workspace_on_bazel_7_meets_2_31_with_zig_and_runs_its_test(
        tmp_path: Path) -> None:
    """Bazel 7 with MODULE.bazel only (the sid image): a sysroot repository would not be
    visible there, so 2_31 is met by zig; the cc_test Bazel links against the workspace's
    own library is built and checked (statically linked with zig) and runs under qemu;
    asking for clang is one line."""
    require(have_engine(), "a running Docker engine (docker.io + dockerd)")
    ws = tmp_path / "bzlmod"
    shutil.copytree(ROOT / "tests" / "workspaces" / "bzlmod", ws)
    result = run_cli("build", "--runner=docker", "--cpu=armv7hf", "-w", str(ws),
                     "--manylinux=2_31", cwd=ws)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "armv7hf: manylinux_2_31 via zig, glibc 2.17" in result.stderr
    assert _image_of(result.stderr).startswith("cross-compiler-builder:sid-zig-")
    outputs = _outputs(result.stdout, "armv7hf", ws)
    assert {"arch_test", "whoami"} <= set(outputs), outputs
    for path in outputs.values():
        assert max(_versions(path, "GLIBC")) <= (2, 17), path
    tested = run_cli("test", "//app:arch_test", "--runner=docker", "--cpu=armv7hf", "-w",
                     str(ws), "--manylinux=2_31", cwd=ws)
    assert tested.returncode == 0, tested.stderr[-3000:]
    assert "1 test passes" in tested.stderr + tested.stdout
    refused = run_cli("build", "--runner=docker", "--cpu=armv7hf", "-w", str(ws),
                      "--toolchain=clang", cwd=ws)
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines()[-1].startswith(
        "cross_compiler: error: armv7hf: no clang route in manylinux.toml usable here")
    assert _tool_containers(tmp_path) == []
