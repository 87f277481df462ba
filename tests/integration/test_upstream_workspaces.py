"""A real upstream Bazel workspace, zero edits: abseil-cpp from Debian's source package, built
and tested for aarch64 and armv7hf on Debian sid's offline Bazel 7.7.1 (docker runner).

The sources are Debian trixie's (a stable release, so CI does not drift with sid): sid's
abseil 20260526 loads ``@rules_cc//cc/compiler:emscripten``, which Debian's packaged rules_cc
(0.0.11) lacks. abseil's bazel_deps that Debian's /etc/bazel/bazelrc does not resolve are
given as a user would, with module_overrides: googletest and re2 (googletest's bazel_dep,
never built here) from their Debian source packages, and pybind11_bazel (re2's bazel_dep;
Debian does not package it) as an empty module the build never loads. abseil's own
dev_dependency (google_benchmark) is left out with Bazel's --ignore_dev_dependency."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import have_engine, require, run_cli
from tests.upstream import file_digests, upstream_workspace

pytestmark = [pytest.mark.docker, pytest.mark.bazel, pytest.mark.qemu, pytest.mark.slow]

SUITE = "trixie"  # of the sources; the builder is sid's (Bazel 7.7.1)
TEST = "//absl/strings:ascii_test"
TARGETS = ("//absl/strings:strings", TEST)
TRIPLES = {"aarch64": "aarch64-linux-gnu", "armv7hf": "arm-linux-gnueabihf"}
QEMU = {"aarch64": "qemu-aarch64", "armv7hf": "qemu-arm"}
Upstream = tuple[Path, dict[str, str], Path, dict[str, str]]


@pytest.fixture(scope="module")
def abseil(tmp_path_factory: pytest.TempPathFactory) -> Upstream:
    """abseil-cpp's workspace, the environment naming its modules' copies, a cache dir and
    the digests of abseil's own files as unpacked."""
    require(have_engine(), "a running Docker engine (docker.io + dockerd)")
    root = tmp_path_factory.mktemp("upstream")
    ws = upstream_workspace("abseil", SUITE, root)
    googletest = upstream_workspace("googletest", SUITE, root)
    re2 = upstream_workspace("re2", SUITE, root)
    pybind11_bazel = root / "pybind11_bazel"
    pybind11_bazel.mkdir()
    (pybind11_bazel / "MODULE.bazel").write_text('module(name = "pybind11_bazel")\n')
    (pybind11_bazel / "BUILD.bazel").write_text("")
    overrides = f"googletest={googletest} re2={re2} pybind11_bazel={pybind11_bazel}"
    return ws, {"CROSS_COMPILER_MODULE_OVERRIDES": overrides}, root / "cache", file_digests(ws)


@pytest.mark.parametrize("cpu", sorted(TRIPLES))
def test_abseil_builds_and_tests_for_the_target(
        abseil: Upstream, cpu: str) -> None:
    ws, env, cache, before = abseil
    common = [f"--cpu={cpu}", "--runner=docker", "--suite=sid", f"--workspace={ws}",
              f"--cache-dir={cache}", "--bazel-flag=--ignore_dev_dependency"]
    built = run_cli("build", *common, *(f"--target={t}" for t in TARGETS), env=env)
    assert built.returncode == 0, built.stderr[-4000:]
    assert "Bazel 7.7.1" in built.stderr
    for output in ("libstrings.so", "ascii_test"):  # each checked to be the target's
        assert f"/{output} ok ({TRIPLES[cpu]})" in built.stderr, built.stderr[-4000:]
    tested = run_cli("test", *common, TEST, env=env)
    assert tested.returncode == 0, tested.stderr[-4000:]
    # Each test through the launcher, whose target ELFs run under the cpu's qemu-user.
    (launch,) = [ln for ln in tested.stderr.splitlines() if "bazel test, each test through" in ln]
    assert f" /usr/bin/{QEMU[cpu]} " in launch
    assert f"{TEST} " in tested.stderr and "PASSED" in tested.stderr
    assert "1 test passes" in tested.stderr
    after = file_digests(ws)
    assert {name: after.get(name) for name in before} == before  # zero edits to its files
