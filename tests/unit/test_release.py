"""Release orchestration: isolation of failures, fail-fast, checksums and manifest."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest

from cross_compiler import resources
from cross_compiler.bazel.flags import mask_secret, remote_flags
from cross_compiler.bazel.localbuild import BuildResult
from cross_compiler.errors import BuildError, ConfigError
from cross_compiler.release.publish import MARKER, release, summary_json, summary_table
from cross_compiler.toolchain.targets import Target, load_targets
from cross_compiler.wheel.retag import RetagResult

TARGETS = load_targets(["aarch64", "armv7hf", "s390x"], resources.toolchains_dir())


def _builder(tmp_path: Path, failing: set[str]):  # type: ignore[no-untyped-def]
    def build_one(target: Target) -> BuildResult:
        if target.cpu in failing:
            raise BuildError(f"bazel build for {target.cpu} failed with exit code 1")
        out = tmp_path / "built" / target.cpu
        out.mkdir(parents=True, exist_ok=True)
        wheel = out / f"demo-1.0-cp311-cp311-linux_{target.wheel_arch}.whl"
        wheel.write_bytes(b"wheel for " + target.cpu.encode())
        binary = out / "hello"
        binary.write_bytes(b"\x7fELF " + target.cpu.encode())
        result = BuildResult()
        result.outputs[target.cpu] = [binary]
        result.wheels[target.cpu] = [RetagResult(wheel, f"linux_{target.wheel_arch}", "r",
                                                 {}, ())]
        result.bazel[target.cpu] = {"bazel_version": "4.2.3", "bazel_argv": ["bazel", "build"]}
        return result
    return build_one


def test_a_failing_target_does_not_stop_the_others(tmp_path: Path) -> None:
    (tmp_path / "ws").mkdir()
    out = tmp_path / "release"
    smoked: list[str] = []
    outcomes = release(TARGETS, tmp_path / "ws", out, _builder(tmp_path, {"armv7hf"}),
                       lambda wheel, t: smoked.append(t.cpu), runner="local")
    assert [(o.cpu, o.status) for o in outcomes] == [
        ("aarch64", "ok"), ("armv7hf", "failed"), ("s390x", "ok")]
    assert smoked == ["aarch64", "s390x"]
    check = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=out, capture_output=True,
                           text=True, check=False)
    assert check.returncode == 0 and check.stdout.count(": OK") == 4
    manifest = json.loads((out / "manifest.json").read_text())
    (wheel,) = [a for a in manifest["artifacts"] if a["path"].startswith("s390x/demo")]
    assert wheel["platform"] == "linux_s390x" and wheel["triple"] == "s390x-linux-gnu"
    assert wheel["size"] == len(b"wheel for s390x")
    for key in ("tool_version", "toolchain_sha256", "builder_image_id", "bazel_version",
                "bazel_argv", "git_revision", "git_dirty", "started", "finished"):
        assert key in wheel["provenance"]
    table = summary_table(outcomes)
    assert table.splitlines()[0].split() == ["target", "status", "wheel", "seconds"]
    assert "armv7hf: bazel build for armv7hf failed" in table
    assert json.loads(summary_json(outcomes))["ok"] is False


def test_fail_fast_skips_the_rest(tmp_path: Path) -> None:
    (tmp_path / "ws").mkdir()
    outcomes = release(TARGETS, tmp_path / "ws", tmp_path / "release",
                       _builder(tmp_path, {"aarch64"}), lambda w, t: None, fail_fast=True)
    assert [o.status for o in outcomes] == ["failed", "skipped", "skipped"]


def test_smoke_failure_fails_the_target(tmp_path: Path) -> None:
    (tmp_path / "ws").mkdir()

    def smoke(wheel: Path, target: Target) -> None:
        if target.cpu == "s390x":
            raise BuildError("demo failed on s390x: ImportError")

    outcomes = release(TARGETS, tmp_path / "ws", tmp_path / "release", _builder(tmp_path, set()),
                       smoke)
    assert [o.status for o in outcomes] == ["ok", "ok", "failed"]
    manifest = json.loads((tmp_path / "release/manifest.json").read_text())
    assert not any(a["cpu"] == "s390x" for a in manifest["artifacts"])


@pytest.mark.parametrize(("cache", "executor", "expected"), [
    ("http://127.0.0.1:8080", "", ["--remote_cache=http://127.0.0.1:8080",
                                  "--remote_upload_local_results=true",
                                  "--remote_header=Authorization=Bearer s3cret"]),
    ("", "grpc://rbe:8980", ["--remote_executor=grpc://rbe:8980",
                             "--remote_instance_name=main",
                             "--remote_header=Authorization=Bearer s3cret"]),
])
def test_remote_flags(cache: str, executor: str, expected: list[str]) -> None:
    flags = remote_flags(cache, True, executor, "main" if executor else "",
                         "Authorization=Bearer s3cret")
    assert list(flags) == expected
    assert [mask_secret(f) for f in flags][-1] == "--remote_header=***"


# --- the release directory: only what the tool made and marked is ever replaced ---------

def _release(tmp_path: Path, out: Path, failing: set[str] | None = None,
             workspace: Path | None = None) -> list[str]:
    ws = workspace or tmp_path / "ws"
    ws.mkdir(exist_ok=True)
    outcomes = release(TARGETS[:1], ws, out, _builder(tmp_path, failing or set()),
                       lambda w, t: None)
    return [o.status for o in outcomes]


def _tree(directory: Path) -> dict[str, bytes]:
    return {p.relative_to(directory).as_posix(): p.read_bytes()
            for p in sorted(directory.rglob("*")) if p.is_file()}


def _sums_ok(directory: Path) -> bool:
    done = subprocess.run(["sha256sum", "-c", "--strict", "SHA256SUMS"], cwd=directory,
                          capture_output=True, check=False)
    return done.returncode == 0


# Never parametrize this with "/" or any directory outside tmp_path: run against a
# regressed release.py, the test itself would delete it.
@pytest.mark.parametrize("where", ["workspace", "parent", "grandparent"])
def test_out_dir_that_is_or_holds_the_workspace_is_refused(tmp_path: Path, where: str) -> None:
    ws = tmp_path / "a" / "ws"
    ws.mkdir(parents=True)
    (ws / "BUILD").write_text("sources")
    out = {"workspace": ws, "parent": ws.parent, "grandparent": tmp_path}[where]
    with pytest.raises(ConfigError, match="is the workspace or contains it") as e:
        _release(tmp_path, out, workspace=ws)
    assert "\n" not in str(e.value)
    assert (ws / "BUILD").read_text() == "sources"


def test_an_existing_directory_without_the_marker_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "release"
    out.mkdir()
    (out / "NOTES.md").write_text("the repository's own release notes")
    with pytest.raises(ConfigError, match="not empty and no release made it"):
        _release(tmp_path, out)
    assert _tree(out) == {"NOTES.md": b"the repository's own release notes"}
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ConfigError, match="not a directory"):
        _release(tmp_path, blocker)
    with pytest.raises(ConfigError, match="cannot create release directory"):
        _release(tmp_path, blocker / "sub")
    assert blocker.read_text() == "x"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "release", "ws"]  # no build


def test_a_release_replaces_only_its_own_marked_release(tmp_path: Path) -> None:
    out = tmp_path / "release"
    out.mkdir()  # empty: fine to use
    assert _release(tmp_path, out) == ["ok"]
    assert (out / MARKER).is_file() and _sums_ok(out)
    (out / "stale.txt").write_text("from the first release")
    assert _release(tmp_path, out) == ["ok"]
    assert "stale.txt" not in _tree(out) and (out / MARKER).is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["built", "release", "ws"]


def test_when_every_target_fails_the_previous_release_stays(tmp_path: Path) -> None:
    out = tmp_path / "release"
    assert _release(tmp_path, out) == ["ok"]
    before = _tree(out)
    assert _release(tmp_path, out, failing={"aarch64"}) == ["failed"]
    assert _tree(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["built", "release", "ws"]
    assert _release(tmp_path, tmp_path / "new", failing={"aarch64"}) == ["failed"]
    assert not (tmp_path / "new").exists()


def test_release_directory_has_the_umask_mode(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        _release(tmp_path, tmp_path / "release")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "release").stat().st_mode) == 0o755
    assert stat.S_IMODE((tmp_path / "release" / "SHA256SUMS").stat().st_mode) == 0o644


def _builder_with(tmp_path: Path, outputs: list[str]):  # type: ignore[no-untyped-def]
    def build_one(target: Target) -> BuildResult:
        result = BuildResult()
        paths = []
        for i, rel in enumerate(outputs):
            path = tmp_path / "bazel-bin" / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(f"output {i}".encode())
            paths.append(path)
        result.outputs[target.cpu] = paths
        return result
    return build_one


def test_outputs_sharing_a_file_name_are_all_kept(tmp_path: Path) -> None:
    (tmp_path / "ws").mkdir()
    out = tmp_path / "release"
    release(TARGETS[:1], tmp_path / "ws", out,
            _builder_with(tmp_path, ["a/hello", "b/tools/hello", "c/other"]), lambda w, t: None)
    assert _tree(out / "aarch64") == {"a/hello": b"output 0", "b/tools/hello": b"output 1",
                                      "other": b"output 2"}
    assert _sums_ok(out)
    manifest = json.loads((out / "manifest.json").read_text())
    assert sorted(a["path"] for a in manifest["artifacts"]) == [
        "aarch64/a/hello", "aarch64/b/tools/hello", "aarch64/other"]


def test_checksums_of_awkward_names_pass_sha256sum(tmp_path: Path) -> None:
    (tmp_path / "ws").mkdir()
    out = tmp_path / "release"
    release(TARGETS[:1], tmp_path / "ws", out,
            _builder_with(tmp_path, ["back\\slash", "new\nline", "sp ace", "car\rriage"]),
            lambda w, t: None)
    assert len(_tree(out / "aarch64")) == 4
    assert _sums_ok(out)


def test_released_programs_stay_executable(tmp_path: Path) -> None:
    def build_one(target: Target) -> BuildResult:
        result = _builder(tmp_path, set())(target)
        result.outputs[target.cpu][0].chmod(0o555)  # as Bazel leaves its outputs
        return result

    (tmp_path / "ws").mkdir()
    out = tmp_path / "release"
    release(TARGETS[:1], tmp_path / "ws", out, build_one, lambda w, t: None)
    assert stat.S_IMODE((out / "aarch64/hello").stat().st_mode) == 0o755
    wheel = next((out / "aarch64").glob("*.whl"))
    assert stat.S_IMODE(wheel.stat().st_mode) & 0o111 == 0


def test_a_python_matrix_release_names_targets_by_cpu_and_python(tmp_path: Path) -> None:
    from cross_compiler.toolchain.suites import for_suite, load_suites

    sid = load_suites(resources.data_dir("suites"))["sid"]
    (ws := tmp_path / "ws").mkdir()
    out = tmp_path / "release"
    pairs = [TARGETS[0], for_suite(TARGETS[0], sid)]
    outcomes = release(pairs, ws, out, _builder(tmp_path, set()), lambda w, t: None,
                       python_matrix=True)
    assert [o.cpu for o in outcomes] == ["aarch64-py3.11", "aarch64-py3.13"]
    # Wheels of every Python in <cpu>/, binaries (which may differ per Python) below it.
    assert (out / "aarch64" / "py3.13" / "hello").is_file() and _sums_ok(out)
    assert (out / "aarch64" / "py3.11" / "hello").is_file()
    assert "python" in summary_table(outcomes).splitlines()[0]
    manifest = json.loads((out / "manifest.json").read_text())
    assert {a["python"] for a in manifest["artifacts"]} == {"3.11", "3.13"}


def test_the_manifest_records_the_compiler_family_and_sysroot_packages(tmp_path: Path) -> None:
    """--manylinux/--toolchain: which family, glibc and sysroot package versions built it,
    in manifest.json and in the provenance statement."""
    from cross_compiler.manylinuxpolicy import parse_baseline
    from cross_compiler.toolchain import baseline, families, portable
    from cross_compiler.toolchain.sysroot import Sysroot

    made = Sysroot(tmp_path / "sysroot", "bullseye", "arm64",
                   {"libc6": "2.31-13+deb11u11", "libstdc++6": "10.2.1-6"})
    target = TARGETS[0]
    choice = portable.Choice(target, baseline.Route("clang", "bullseye", "2.31"),
                             parse_baseline("2_31"),
                             families.default_flags(target), "repo", made)
    described = portable.describe(choice)
    assert described == {"family": "clang", "glibc": "2.31", "baseline": "manylinux_2_31",
                         "sysroot": {"suite": "bullseye", "debian_arch": "arm64",
                                     "packages": {"libc6": "2.31-13+deb11u11",
                                                  "libstdc++6": "10.2.1-6"}}}
    build = _builder(tmp_path, set())

    def build_one(t: Target) -> BuildResult:
        result = build(t)
        result.toolchains[t.cpu] = described
        return result

    (tmp_path / "ws").mkdir()
    out = tmp_path / "release"
    release(TARGETS[:1], tmp_path / "ws", out, build_one, lambda wheel, t: None)
    manifest = json.loads((out / "manifest.json").read_text())
    assert {a["provenance"]["toolchain"]["sysroot"]["packages"]["libc6"]
            for a in manifest["artifacts"]} == {"2.31-13+deb11u11"}
    statement = json.loads((out / "provenance.intoto.jsonl").read_text())
    assert "2.31-13+deb11u11" in json.dumps(statement)


def test_a_rebuild_leaves_the_workspace_links_as_they_were(tmp_path: Path) -> None:
    """--check-reproducible's second build (a temporary output root) repoints bazel-*;
    afterwards they point where they did, links it made alone go, others stay."""
    from cross_compiler.release.pipeline import convenience_links_kept

    ws, tmp, before = tmp_path / "ws", tmp_path / "rebuild", tmp_path / "root"
    ws.mkdir()
    tmp.mkdir()
    (ws / "bazel-bin").symlink_to(before / "bin")
    (ws / "bazel-mine").symlink_to(tmp_path / "elsewhere")  # the user's, not into tmp
    with convenience_links_kept(ws, tmp):
        (ws / "bazel-bin").unlink()
        (ws / "bazel-bin").symlink_to(tmp / "bin")
        (ws / "bazel-out").symlink_to(tmp / "out")
        (ws / "bazel-mine").unlink()
        (ws / "bazel-mine").symlink_to(tmp_path / "other")
    assert os.readlink(ws / "bazel-bin") == str(before / "bin")
    assert not (ws / "bazel-out").is_symlink()
    assert os.readlink(ws / "bazel-mine") == str(tmp_path / "other")
    assert sorted(p.name for p in ws.iterdir()) == ["bazel-bin", "bazel-mine"]
