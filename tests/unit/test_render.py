from __future__ import annotations

import pytest

from cross_compiler import resources
from cross_compiler.toolchain.render import RenderRequest, render_toolchain
from tests.golden_inputs import (
    GOLDEN_DIR,
    GOLDEN_FILES,
    VARIANTS,
    golden_request,
    rendered_golden_files,
)

CPUS = ["aarch64", "armv7hf", "ppc64le", "riscv64", "s390x"]


@pytest.mark.parametrize("cpu", [*CPUS, *VARIANTS])
def test_rendered_files_match_golden(cpu: str) -> None:
    """Refresh with `invoke update-golden` after an intended template change."""
    for name, content in rendered_golden_files(cpu).items():
        assert content == (GOLDEN_DIR / cpu / name).read_bytes(), f"{cpu}/{name} drifted"


def test_golden_set_is_complete() -> None:
    assert sorted(p.name for p in GOLDEN_DIR.iterdir()) == sorted([*CPUS, *VARIANTS])
    for cpu in CPUS:
        golden = {p.relative_to(GOLDEN_DIR / cpu).as_posix()
                  for p in (GOLDEN_DIR / cpu).rglob("*") if p.is_file()}
        assert golden == set(rendered_golden_files(cpu))
        assert set(GOLDEN_FILES) <= golden
        assert (f"python/{cpu}/bin/python3" in golden) == (cpu != "riscv64")


def test_several_cpus_in_one_package() -> None:
    a, b = golden_request("aarch64"), golden_request("armv7hf")
    files = render_toolchain(RenderRequest(a.toolchains + b.toolchains, a.exec_constraints,
                                           a.host_system_name))
    build = files["BUILD.bazel"].decode()
    for key in ('"aarch64": ":cc_compiler_aarch64"', '"armv7hf|gcc": ":cc_compiler_armv7hf"'):
        assert key in build
    assert build.count("cc_toolchain_config(") == 2
    assert 'name = "linux_armv7hf"' in build
    assert "python/aarch64/include/Python.h" in files
    assert "python/armv7hf/include/Python.h" in files


def test_templates_ship_with_the_package() -> None:
    names = {p.name for p in (resources.templates_dir() / "bazel").iterdir()}
    assert {"BUILD.bazel.j2", "cc_toolchain_config.bzl.j2", "platform_mappings.j2"} <= names


def test_bazel_8_gets_no_cc_toolchain_suite_and_rules_cc_loads() -> None:
    request = golden_request("aarch64")
    files = render_toolchain(RenderRequest(request.toolchains, request.exec_constraints,
                                           request.host_system_name, bazel_major=8))
    build = files["BUILD.bazel"].decode()
    assert "cc_toolchain_suite(" not in build
    assert 'load("@rules_cc//cc:defs.bzl", "cc_library", "cc_toolchain")' in build
    assert "--crosstool_top" not in files["platform_mappings"].decode()
    assert "cc_toolchain_suite(" in render_toolchain(request)["BUILD.bazel"].decode()


def test_python_wrappers_name_no_machine_path() -> None:
    """The same files whichever machine (host or builder container) renders them."""
    files = render_toolchain(golden_request("aarch64"))
    for name in ("python", "python3", "python3.11"):
        wrapper = files[f"python/aarch64/bin/{name}"].decode()
        assert "for name in python3.11 python3" in wrapper and "/usr/bin" not in wrapper
        assert 'EXT_SUFFIX=".cpython-311-aarch64-linux-gnu.so"' in wrapper
    config = files["python/aarch64/bin/python3-config"].decode()
    assert '--extension-suffix) echo ".cpython-311-aarch64-linux-gnu.so"' in config


def test_target_numpy_headers_and_get_include_stand_in() -> None:
    import dataclasses
    import subprocess
    import sys

    request = golden_request("armv7hf")
    inputs = dataclasses.replace(request.toolchains[0],
                                 numpy_headers={"numpy/_numpyconfig.h": b"#define X 4\n"},
                                 numpy_version="1.24.2")
    files = render_toolchain(dataclasses.replace(request, toolchains=(inputs,)))
    assert files["python/armv7hf/numpy/include/numpy/_numpyconfig.h"] == b"#define X 4\n"
    wrapper = files["python/armv7hf/bin/python3"].decode()
    assert 'PYTHONPATH="$here/numpy:$here/../site' in wrapper
    init = files["python/armv7hf/numpy/numpy/__init__.py"].decode()
    shim = subprocess.run([sys.executable, "-c", init + "\nprint(__version__)"],
                          capture_output=True, text=True, check=True)
    assert shim.stdout.strip() == "1.24.2"
    # Without target numpy nothing of it is rendered and the golden wrappers stay as they are.
    assert not any("numpy" in name for name in render_toolchain(request))
