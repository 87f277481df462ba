"""invoke release against the real engine: wheels smoke-tested, checksums, manifest, and a
failing target reported without stopping the others."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import fresh_example, run_cli
from tests.integration.test_docker import builder_image  # noqa: F401 (shared fixture)

pytestmark = [pytest.mark.docker, pytest.mark.bazel, pytest.mark.qemu, pytest.mark.slow]


def test_release_matrix(builder_image: str, tmp_path: Path) -> None:  # noqa: F811
    """release --cpu=all of the example with no other flag: every cpu has a Python by
    default (riscv64 trixie's 3.13 on Bazel 4.2.3), one tested wheel each."""
    ws = fresh_example(tmp_path)
    out = tmp_path / "release"
    result = run_cli("release", "--cpu=all", f"--workspace={ws}",
                     f"--out-dir={out}", "--json", "--runner=docker",
                     f"--cache-dir={tmp_path / 'cache'}")
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout)
    status = {row["target"]: row["status"] for row in summary["targets"]}
    assert status == dict.fromkeys(["aarch64", "armv7hf", "riscv64", "ppc64le", "s390x"], "ok")
    assert summary["ok"] is True
    wheels = sorted(p.name for p in out.rglob("*.whl"))
    assert sorted(w.rsplit("_", 1)[-1] for w in wheels) == [
        "aarch64.whl", "armv7l.whl", "ppc64le.whl", "riscv64.whl", "s390x.whl"]
    assert [w.split("-")[2] for w in wheels if w.endswith("riscv64.whl")] == ["cp313"]
    check = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=out, capture_output=True,
                           text=True, check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    artifact = next(a for a in manifest["artifacts"] if a["path"].endswith("_aarch64.whl"))
    prov = artifact["provenance"]
    assert prov["builder_image_id"].startswith("sha256:")
    assert prov["bazel_version"] == "4.2.3" and "--cpu=aarch64" in prov["bazel_argv"]
    assert len(prov["toolchain_sha256"]) == 64 and prov["started"] <= prov["finished"]
    assert "git_revision" in prov and "git_dirty" in prov


@pytest.mark.parametrize("bazel", ["4.2.3", "7.7.1"])
def test_release_over_two_pythons(builder_image: str, tmp_path: Path,  # noqa: F811
                                  bazel: str) -> None:
    """One wheel per (cpu, Python) on either Bazel: 3.11 and 3.13 for aarch64 and armv7hf
    (Bazel 4.2.3: bookworm's and trixie's images; Bazel 7.7.1: sid's image, 3.11 lent by
    bookworm, both Pythons in one container), each through test-wheel with its own
    interpreter (release does that); every wheel in <cpu>/, the binaries per Python in
    <cpu>/py<X.Y>/, SHA256SUMS verifying."""
    ws = fresh_example(tmp_path)
    (ws / ".bazelversion").write_text(f"{bazel}\n")
    out = tmp_path / "release"
    result = run_cli("release", "--cpu=aarch64,armv7hf", "--python=3.11,3.13",
                     f"--workspace={ws}", f"--out-dir={out}", "--json", "--runner=docker",
                     f"--cache-dir={tmp_path / 'cache'}")
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout)
    assert sorted((r["target"], r["python"], r["status"]) for r in summary["targets"]) == [
        ("aarch64-py3.11", "3.11", "ok"), ("aarch64-py3.13", "3.13", "ok"),
        ("armv7hf-py3.11", "3.11", "ok"), ("armv7hf-py3.13", "3.13", "ok")]
    wheels = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.whl"))
    assert [w.split("/")[0] + ":" + w.split("-")[2] for w in wheels] == [
        "aarch64:cp311", "aarch64:cp313", "armv7hf:cp311", "armv7hf:cp313"], wheels
    for cpu in ("aarch64", "armv7hf"):
        for python in ("3.11", "3.13"):
            assert (out / cpu / f"py{python}" / "hello").is_file()
    check = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=out, capture_output=True,
                           text=True, check=False)
    assert check.returncode == 0, check.stdout + check.stderr
