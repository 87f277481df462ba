"""--manylinux with real Bazel 4.2.3 (local runner) on tests/workspaces/portable (C++
shared_ptr, thread, iostream and exceptions in a Python extension and a CLI, packaged into a
wheel): clang + lld 14 with a Debian bullseye sysroot the tool assembles (manylinux_2_31),
zig from PyPI's ziglang (manylinux2014). Each output is confirmed independently: readelf -V
for the symbol versions, auditwheel's own `show` for the wheel's tag, `test-wheel` (the
target's CPython under qemu imports the package, whose import runs the C++), and the CLI
under qemu-user on a root older than this machine's (bullseye's), armhf on a core without
NEON or d16-d31. Unreachable baselines fail before anything builds."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cross_compiler.config import cache_dir
from cross_compiler.toolchain import sysroot
from cross_compiler.toolchain.targets import load_targets
from tests.conftest import ROOT, have_bazel, require, run_cli, shutdown_bazel

pytestmark = [pytest.mark.bazel, pytest.mark.qemu, pytest.mark.slow]

WORKSPACE = ROOT / "tests" / "workspaces" / "portable"
TARGETS = {t.cpu: t for t in load_targets(["all"], ROOT / "toolchains")}
# qemu's cortex-r5f: VFPv3-D16 and no NEON, Debian armhf's baseline. A NEON instruction or
# a d16-d31 register is SIGILL there (zig's default armhf cpu output dies on it).
ARMHF_BASELINE_CPU = ("-cpu", "cortex-r5f")
EXPECTED = ["sum(1000)=500500", "sum(-1)=error: n must not be negative"]


def _versions(path: Path, namespace: str) -> list[tuple[int, ...]]:
    text = subprocess.run(["readelf", "-V", str(path)], capture_output=True, text=True,
                          check=True).stdout
    return [tuple(int(x) for x in v.split("."))
            for v in re.findall(rf"Name: {namespace}_([0-9.]+)", text)]


def _dynamic(path: Path) -> str:
    return subprocess.run(["readelf", "-d", str(path)], capture_output=True, text=True,
                          check=True).stdout


def _auditwheel_tag(wheel: Path) -> str:
    """The platform tag auditwheel's own `show` says the wheel is consistent with."""
    auditwheel = Path(sys.executable).with_name("auditwheel")
    result = subprocess.run([str(auditwheel), "show", str(wheel)], capture_output=True,
                            text=True, check=False, timeout=300)
    assert result.returncode == 0, result.stderr
    match = re.search(r'consistent\s+with\s+the\s+following\s+platform\s+tag:\s+"([^"]+)"',
                      result.stdout)
    assert match, result.stdout
    return match[1]


def _qemu(cpu: str) -> str:
    program = TARGETS[cpu].qemu
    require(shutil.which(program) is not None, "qemu-user-static")
    return program


def _older_root(cpu: str) -> Path:
    """bullseye's root (glibc 2.31, older than this machine's 2.36), assembled by the tool's
    own `sysroot` command; s390x has no older suite on this mirror: bookworm's cross root."""
    if cpu == "s390x":
        return Path("/usr/s390x-linux-gnu")
    result = run_cli("sysroot", f"--cpu={cpu}", "--suite=bullseye")
    assert result.returncode == 0, result.stderr
    root = sysroot.sysroot_dir("bullseye", TARGETS[cpu].debian_arch, cache_dir(dict(os.environ)))
    manifest = sysroot.read_manifest(root)
    assert manifest is not None and manifest.packages["libc6"].startswith("2.31-")
    return root


def _build(ws: Path, cpus: str, *flags: str) -> tuple[dict[str, dict[str, Path]], dict[str, str],
                                                     str]:
    """Build and package; -> {cpu: {output name: path}}, {cpu: wheel path}, stderr."""
    result = run_cli("build", f"--cpu={cpus}", "-w", str(ws), "--runner=local", *flags, cwd=ws)
    assert result.returncode == 0, result.stderr[-3000:]
    outputs: dict[str, dict[str, Path]] = {}
    wheels: dict[str, str] = {}
    for row in result.stdout.splitlines():
        fields = row.split("\t")
        if len(fields) == 2:
            outputs.setdefault(fields[0], {})[Path(fields[1]).name] = ws / fields[1]
        elif len(fields) == 4:
            wheels[fields[0]] = fields[1]
    return outputs, wheels, result.stderr


def _check_everywhere(ws: Path, cpu: str, outputs: dict[str, Path], wheel: str,
                      glibc: tuple[int, int], glibcxx: tuple[int, ...] | None) -> None:
    # work_test: with gcc and clang linked against the build's own libwork.so ($ORIGIN
    # RUNPATH, Bazel's cc_test default), which is checked too, not refused as a system
    # library; with zig linked statically (--dynamic_mode=off, families/zig.toml).
    assert {"sumtool", "_portable.so", "work_test"} <= set(outputs), outputs
    for path in outputs.values():
        found = _versions(path, "GLIBC")
        assert found and max(found) <= glibc, (path, max(found))
        cxx = _versions(path, "GLIBCXX")
        if glibcxx is None:  # zig: libc++ linked in, no libstdc++ symbol versions at all
            assert not cxx, (path, cxx)
        else:
            assert not cxx or max(cxx) <= glibcxx, (path, max(cxx))
    # The wheel's tag is what auditwheel says, and no newer than asked for.
    path = ws / wheel
    platform = path.name.rsplit("-", 1)[1].removesuffix(".whl")
    assert _auditwheel_tag(path) == platform
    major, minor = (int(x) for x in re.fullmatch(r"manylinux_(\d+)_(\d+)_\w+", platform)
                    .groups())  # type: ignore[union-attr]
    assert (major, minor) <= glibc and platform.endswith("_" + TARGETS[cpu].wheel_arch)
    # The extension on the target: install + import under qemu (the import runs the C++).
    tested = run_cli("test-wheel", str(path))
    assert tested.returncode == 0, tested.stderr[-2000:]
    assert f"ok on {cpu} (imported portable)" in tested.stdout
    # The CLI on an older root; armhf on a core without NEON.
    extra = ARMHF_BASELINE_CPU if cpu == "armv7hf" else ()
    run = subprocess.run([_qemu(cpu), *extra, "-L", str(_older_root(cpu)),
                          str(outputs["sumtool"]), "1000"], capture_output=True, text=True,
                         check=False, timeout=300)
    assert run.returncode == 0, (cpu, run.stderr)
    assert run.stdout.splitlines() == EXPECTED


@pytest.fixture
def ws(tmp_path: Path):  # type: ignore[no-untyped-def]
    copy = tmp_path / "ws"
    shutil.copytree(WORKSPACE, copy)
    yield copy
    shutdown_bazel(copy)


def test_manylinux_2_31_with_clang_and_a_bullseye_sysroot(ws: Path) -> None:
    require(have_bazel(), "bazel (bazel-bootstrap)")
    for program, package in (("clang", "clang"), ("ld.lld", "lld"), ("llvm-ar", "llvm")):
        require(shutil.which(program) is not None, package)
    outputs, wheels, stderr = _build(ws, "aarch64,armv7hf", "--manylinux=2_31")
    for cpu in ("aarch64", "armv7hf"):
        assert f"{cpu}: manylinux_2_31 via clang + Debian bullseye sysroot, glibc 2.31" in stderr
        # bullseye's libstdc++ (gcc 10): GLIBCXX_3.4.28 at most; its ABI is kept.
        _check_everywhere(ws, cpu, outputs[cpu], wheels[cpu], (2, 31), (3, 4, 28))
    # The dynamically linked cc_test runs under qemu through Bazel, libwork.so beside it.
    assert "_Slibwork.so" in _dynamic(outputs["aarch64"]["work_test"])
    tested = run_cli("test", "//lib:work_test", "--cpu=aarch64", "-w", str(ws),
                     "--manylinux=2_31", "--runner=local", cwd=ws)
    assert tested.returncode == 0, tested.stderr[-3000:]
    assert "1 test passes" in tested.stderr + tested.stdout
    # The rendered toolchain declares the sysroot's files to Bazel (directly, or in the
    # filegroup that also holds the family's wrapper scripts).
    build = (ws / "cross_compiler" / "BUILD.bazel").read_text()
    assert '"@cross_compiler_sysroot_bullseye_aarch64//:files"' in build
    assert 'compiler_files = ":empty"' not in build


def test_manylinux2014_with_zig(ws: Path) -> None:
    require(have_bazel(), "bazel (bazel-bootstrap)")
    require(importlib.util.find_spec("ziglang") is not None, "ziglang (the zig extra)")
    # zig's cache (ZIG_GLOBAL_CACHE_DIR) lives in the tool's cache: a rerun is warm.
    outputs, wheels, stderr = _build(ws, "aarch64,armv7hf,s390x", "--manylinux=2014")
    for cpu in ("aarch64", "armv7hf", "s390x"):
        assert f"{cpu}: manylinux_2_17 via zig, glibc 2.17" in stderr
        assert "manylinux_2_17_" in wheels[cpu]
        _check_everywhere(ws, cpu, outputs[cpu], wheels[cpu], (2, 17), None)
    # The wrappers Bazel runs are rendered into the package, executable and declared.
    package = ws / "cross_compiler"
    assert os.access(package / "tools" / "aarch64" / "bin" / "gcc", os.X_OK)
    assert 'compiler_files = ":tool_files_aarch64"' in (package / "BUILD.bazel").read_text()
    # The cc_test runs under qemu through Bazel (`cross-compiler test`): its exception from
    # libwork crosses no shared-object boundary, so zig's per-object libc++ catches it.
    assert "_Slibwork.so" not in _dynamic(outputs["armv7hf"]["work_test"])
    tested = run_cli("test", "//lib:work_test", "--cpu=armv7hf", "-w", str(ws),
                     "--manylinux=2014", "--runner=local", cwd=ws)
    assert tested.returncode == 0, tested.stderr[-3000:]
    assert "1 test passes" in tested.stderr + tested.stdout


@pytest.mark.parametrize(("cpu", "lowest", "why"), [
    ("ppc64le", "manylinux_2_34 (zig, glibc 2.32)", "__printfieee128"),
    ("riscv64", "manylinux_2_31 (zig, glibc 2.27)", "zig cannot target glibc < 2.27"),
])
def test_manylinux2014_fails_before_building_where_unreachable(ws: Path, cpu: str, lowest: str,
                                                               why: str) -> None:
    result = run_cli("build", f"--cpu={cpu}", "-w", str(ws), "--manylinux=2014",
                     "--runner=local", cwd=ws)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"cross_compiler: error: {cpu}: cannot build for manylinux_2_17_"
                               f"{TARGETS[cpu].wheel_arch} (glibc 2.17); the lowest reachable "
                               f"baseline is {lowest}"), lines[0]
    assert why in lines[0]
    # Nothing rendered, nothing built.
    assert not (ws / "cross_compiler").exists()
    assert not list(ws.glob("bazel-*"))


def test_a_family_without_a_route_for_the_cpu_is_one_line(ws: Path) -> None:
    result = run_cli("build", "--cpu=s390x", "-w", str(ws), "--toolchain=clang",
                     "--runner=local", cwd=ws)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [
        "cross_compiler: error: s390x: no clang route in manylinux.toml; "
        "use --toolchain=gcc or zig"]
    assert not (ws / "cross_compiler").exists()
