"""Real Bazel, real cross compilers, outputs run under qemu-user: acceptance of the build."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from cross_compiler import resources
from cross_compiler.config import cache_dir
from cross_compiler.toolchain import debroot
from cross_compiler.toolchain.targets import Target, load_targets
from tests.conftest import have_bazel, require, run_cli, shutdown_bazel

pytestmark = [pytest.mark.bazel, pytest.mark.qemu, pytest.mark.slow]

TARGETS = {t.cpu: t for t in load_targets(["all"], resources.toolchains_dir())}
COMPILED_FOR = {"aarch64": "aarch64", "armv7hf": "arm", "riscv64": "riscv64",
                "ppc64le": "ppc64le", "s390x": "s390x"}
WITH_PYTHON = ["aarch64", "armv7hf", "ppc64le", "s390x"]  # Debian 12 has no riscv64


def _require_tools(target: Target) -> None:
    require(have_bazel(), "bazel (bazel-bootstrap)")
    require(shutil.which(target.tool("g++")) is not None, target.compiler_package)
    require(shutil.which(target.qemu) is not None, "qemu-user-static")


def _outputs(stdout: str, cpu: str) -> dict[str, Path]:
    rows = [line.split("\t") for line in stdout.splitlines() if line.startswith(cpu + "\t")]
    return {Path(row[1]).name: Path(row[1]) for row in rows if len(row) == 2}


def _run_on_target(target: Target, argv: list[str], root: str) -> str:
    result = subprocess.run([target.qemu, "-L", root, *argv], capture_output=True, text=True,
                            check=False, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


def _import_extension(target: Target, so: Path, tmp: Path) -> str:
    """Import the built module in the target's own CPython, run under qemu-user."""
    root = debroot.root_dir(target, cache_dir(dict(os.environ)))
    require(debroot.interpreter(target, cache_dir(dict(os.environ))).exists(),
            f"target Python for {target.cpu} (cross-compiler fetch-python)")
    pkg = tmp / "site" / "crossdemo"
    pkg.mkdir(parents=True, exist_ok=True)
    shutil.copy(resources.example_workspace() / "python/crossdemo/__init__.py", pkg)
    shutil.copy(so, pkg / "_native.so")
    code = (f"import sys; sys.path.insert(0, {str(tmp / 'site')!r}); import crossdemo; "
            "print(crossdemo.fib(90), crossdemo.compiled_for())")
    return _run_on_target(target, [str(debroot.interpreter(target, cache_dir(dict(os.environ)))),
                                   "-c", code], str(root))


@pytest.mark.parametrize("cpu", sorted(TARGETS))
def test_example_builds_and_runs_on_target_in_both_modes(
    cpu: str, example_ws: Path, tmp_path: Path
) -> None:
    target = TARGETS[cpu]
    _require_tools(target)
    extra = [] if cpu in WITH_PYTHON else ["--target=//cli:hello", "--no-package"]
    for mode in ("legacy", "platforms"):
        result = run_cli("build", f"--cpu={cpu}", f"--workspace={example_ws}",
                         f"--bazel-mode={mode}", *extra)
        assert result.returncode == 0, result.stderr[-3000:]
        assert f"({mode} mode" in result.stderr
        outputs = _outputs(result.stdout, cpu)
        assert "hello" in outputs, result.stdout
        out = _run_on_target(target, [str(outputs["hello"]), "50"], f"/usr/{target.triple}")
        assert out == f"hello from {COMPILED_FOR[cpu]}: fib(50) = 12586269025\n"
        if cpu in WITH_PYTHON:
            assert "_native.so" in outputs
            got = _import_extension(target, outputs["_native.so"], tmp_path / mode)
            assert got == f"2880067194370816120 {COMPILED_FOR[cpu]}\n"
    if cpu in WITH_PYTHON:
        _check_dist_wheel(target, example_ws, result.stdout)


def _check_dist_wheel(target: Target, ws: Path, stdout: str) -> None:
    """The packaging step left one retagged wheel in dist/ that works on the target."""
    (wheel,) = (ws / "dist").glob("*.whl")
    assert re.fullmatch(rf"crossdemo-1\.0\.0-cp311-cp311-(manylinux_2_\d+|linux)_"
                        rf"{target.wheel_arch}\.whl", wheel.name), wheel.name
    rows = [line.split("\t") for line in stdout.splitlines()]
    (row,) = [r for r in rows if len(r) == 4 and r[1] == str(wheel)]
    assert row[2] in wheel.name and row[3]  # the tag, and the reason it was chosen
    check = ("import crossdemo; assert crossdemo.fib(90) == 2880067194370816120; "
             "print(crossdemo.compiled_for())")
    result = run_cli("test-wheel", str(wheel), f"--cpu={target.cpu}", f"--command={check}")
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"ok on {target.cpu}" in result.stdout
    assert f"cross_compiler: {COMPILED_FOR[target.cpu]}\n" in result.stderr


def test_several_cpus_in_one_workspace(example_ws: Path) -> None:
    for cpu in ("aarch64", "armv7hf"):
        _require_tools(TARGETS[cpu])
    result = run_cli("build", "--cpu=aarch64,armv7hf", f"--workspace={example_ws}",
                     "--target=//cli:hello", "--no-package")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "hello" in _outputs(result.stdout, "aarch64")
    assert "hello" in _outputs(result.stdout, "armv7hf")
    build = (example_ws / "cross_compiler/BUILD.bazel").read_text()
    assert '"aarch64|gcc"' in build and '"armv7hf|gcc"' in build


def test_seed_command_line_works_against_the_rendered_package(example_ws: Path) -> None:
    """The hand-written command users have today, pointed at our //cross_compiler."""
    target = TARGETS["aarch64"]
    _require_tools(target)
    assert run_cli("toolchain", "--cpu=aarch64", f"--workspace={example_ws}").returncode == 0
    plan = run_cli("build", "--cpu=aarch64", f"--workspace={example_ws}", "--dry-run")
    overrides = [a for a in plan.stdout.split() if a.startswith("--override_repository")]
    seed = ["bazel", "build", *overrides, "--crosstool_top=//cross_compiler:toolchain",
            "--cpu=aarch64", "--host_crosstool_top=@bazel_tools//tools/cpp:toolchain",
            "--distinct_host_configuration=true", "//cli:hello"]
    result = subprocess.run(seed, cwd=example_ws, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    out = _run_on_target(target, [str(example_ws / "bazel-bin/cli/hello"), "10"],
                         f"/usr/{target.triple}")
    assert out == "hello from aarch64: fib(10) = 55\n"


def test_any_workspace_with_a_cc_binary(tmp_path: Path) -> None:
    target = TARGETS["aarch64"]
    _require_tools(target)
    ws = tmp_path / "other"
    (ws / "tools").mkdir(parents=True)
    (ws / "WORKSPACE").write_text('workspace(name = "other")\n')
    (ws / "tools/BUILD").write_text('cc_binary(name = "tool", srcs = ["tool.c"])\n')
    (ws / "tools/tool.c").write_text(
        '#include <stdio.h>\nint main(void) { printf("tool %d\\n", (int)sizeof(long)); }\n')
    try:
        result = run_cli("build", "--cpu=aarch64", f"--workspace={ws}", "--target=//tools:tool")
        assert result.returncode == 0, result.stderr[-3000:]
        tool = _outputs(result.stdout, "aarch64")["tool"]
        assert _run_on_target(target, [str(tool)], f"/usr/{target.triple}") == "tool 8\n"
    finally:
        shutdown_bazel(ws)


def test_bazel_failure_is_one_line_with_bazels_exit_code(example_ws: Path) -> None:
    _require_tools(TARGETS["aarch64"])
    (example_ws / "lib/mathlib.cc").write_text("this is not C++\n")
    result = run_cli("build", "--cpu=aarch64", f"--workspace={example_ws}")
    assert result.returncode == 1  # Bazel's "build failed"
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("cross_compiler: error: bazel build for aarch64 failed with exit "
                                "code 1; see the ERROR lines above; full log: ")
    # Bazel's own first ERROR line comes right before, however long its output was.
    assert any(line.startswith("ERROR:") and "mathlib" in line for line in lines[-21:-1])
    assert "this is not C++" in Path(lines[-1].rsplit("full log: ", 1)[1]).read_text()


def test_a_failing_cpu_leaves_no_wheel_of_the_others(example_ws: Path) -> None:
    """All cpus' wheels reach dist/ together: riscv64 has no Python on bookworm, so its
    extension fails after aarch64's wheel was made."""
    _require_tools(TARGETS["aarch64"])
    result = run_cli("build", "--cpu=aarch64,riscv64", f"--workspace={example_ws}")
    assert result.returncode == 1, result.stderr[-2000:]
    assert "aarch64: packaging" in result.stderr  # aarch64 was built and packaged first
    assert list((example_ws / "dist").iterdir()) == []


PYTHON_CONFIGURE = '''
def _impl(ctx):
    python = ctx.os.environ.get("PYTHON_BIN_PATH") or str(ctx.which("python3"))
    result = ctx.execute([python, "-c",
                          "import sysconfig; print(sysconfig.get_paths()['include'])"])
    if result.return_code:
        fail("cannot ask " + python + ": " + result.stderr)
    ctx.symlink(result.stdout.strip(), "python_include")
    ctx.file("BUILD", """cc_library(
    name = "python_headers",
    hdrs = glob(["python_include/**/*.h"]),
    includes = ["python_include"],
    visibility = ["//visibility:public"],
)
""")

python_configure = repository_rule(implementation = _impl, environ = ["PYTHON_BIN_PATH"])
'''


def test_tensorflow_style_python_configure_gets_the_targets_headers(tmp_path: Path) -> None:
    """A repository rule that asks $PYTHON_BIN_PATH for Python's include dir (TensorFlow's
    python_configure does) must see the target's headers, not the build machine's."""
    target = TARGETS["aarch64"]
    _require_tools(target)
    ws = tmp_path / "tfstyle"
    (ws / "third_party").mkdir(parents=True)
    (ws / "WORKSPACE").write_text(
        'workspace(name = "tfstyle")\n'
        'load("//third_party:python_configure.bzl", "python_configure")\n'
        'python_configure(name = "local_config_python")\n')
    (ws / "third_party/BUILD").write_text("")
    (ws / "third_party/python_configure.bzl").write_text(PYTHON_CONFIGURE)
    (ws / "BUILD").write_text(
        'cc_binary(name = "ext.so", srcs = ["ext.cc"], linkshared = 1,\n'
        '          deps = ["@local_config_python//:python_headers"])\n')
    (ws / "ext.cc").write_text(
        "#include <Python.h>\n"
        "#ifdef HAVE_GCC_ASM_FOR_X87\n"
        '#error "compiled against the build machine\'s x86_64 pyconfig.h"\n'
        "#endif\n"
        "static_assert(SIZEOF_VOID_P == 8, \"aarch64 is LP64\");\n"
        "PyMODINIT_FUNC PyInit_ext(void) { return nullptr; }\n")
    try:
        result = run_cli("build", "--cpu=aarch64", f"--workspace={ws}", "--target=//:ext.so")
        assert result.returncode == 0, result.stderr[-3000:]
        assert "ext.so" in _outputs(result.stdout, "aarch64")
        link = ws / "bazel-tfstyle/external/local_config_python/python_include"
        assert link.resolve() == (ws / "cross_compiler/python/aarch64/include").resolve()
    finally:
        shutdown_bazel(ws)


def test_outputs_from_cquery_when_the_event_stream_cannot_say(
    example_ws: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fallback path: real cquery (starlark output on Bazel < 5.3) finds the outputs."""
    from cross_compiler import api
    from cross_compiler.bazel import localbuild

    _require_tools(TARGETS["aarch64"])
    monkeypatch.setattr(localbuild, "bep_output_files", lambda events: None)
    result = api.build(example_ws, ["aarch64"], {**os.environ, "CROSS_COMPILER_RUNNER": "local"},
                       {"targets": ["//cli:hello"], "package_command": ""})
    assert [p.name for p in result.outputs["aarch64"]] == ["hello"]
