"""Release orchestration: isolation of failures, fail-fast, checksums and manifest."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from cross_compiler import resources
from cross_compiler.bazel import mask_secret, remote_flags
from cross_compiler.errors import BuildError
from cross_compiler.localbuild import BuildResult
from cross_compiler.release import release, summary_json, summary_table
from cross_compiler.targets import Target, load_targets
from cross_compiler.wheel import RetagResult

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
