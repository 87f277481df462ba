"""Reproducible, attested releases with the real engine (bookworm image, aarch64 only):
two releases from clean caches are byte-identical, --check-reproducible passes, and a
changed source or a packaging step that stamps the clock is named, artifact and member."""

from __future__ import annotations

import json
import os
import subprocess
import zipfile
from pathlib import Path

import pytest

from tests.conftest import fresh_example, run_cli
from tests.integration.test_docker import builder_image  # noqa: F401 (shared fixture)

pytestmark = [pytest.mark.docker, pytest.mark.bazel, pytest.mark.qemu, pytest.mark.slow]

EPOCH = 1700000000  # 2023-11-14 22:13:20 UTC, the commit time of the example
WHEEL = "aarch64/crossdemo-1.0.0-cp311-cp311-manylinux_2_24_aarch64.whl"


def _committed_example(tmp_path: Path) -> tuple[Path, str]:
    ws = fresh_example(tmp_path)
    env = {**os.environ, "GIT_AUTHOR_DATE": f"@{EPOCH} +0000",
           "GIT_COMMITTER_DATE": f"@{EPOCH} +0000", "GIT_AUTHOR_NAME": "t",
           "GIT_AUTHOR_EMAIL": "t@example.invalid", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.invalid"}
    (ws / ".gitignore").write_text("/bazel-*\n/cross_compiler/\n/dist/\n")
    for argv in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "example"]):
        subprocess.run(["git", "-C", str(ws), *argv], env=env, check=True)
    rev = subprocess.run(["git", "-C", str(ws), "rev-parse", "HEAD"], capture_output=True,
                         text=True, check=True).stdout.strip()
    return ws, rev


def _release(ws: Path, out: Path, cache: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return run_cli("release", "--cpu=aarch64", f"--workspace={ws}", f"--out-dir={out}",
                   "--runner=docker", f"--cache-dir={cache}", "--json", *extra)


def test_reproducible_release_and_named_differences(builder_image: str,  # noqa: F811
                                                    tmp_path: Path) -> None:
    ws, rev = _committed_example(tmp_path)
    first, second = tmp_path / "r1", tmp_path / "r2"

    # Two builds from clean caches inside one run, then a third release from another clean
    # cache compared against the first.
    checked = _release(ws, first, tmp_path / "c1", "--check-reproducible")
    assert checked.returncode == 0, checked.stderr[-3000:]
    assert json.loads(checked.stdout)["ok"] is True
    # The second build's temporary caches are gone; the workspace's links are the first's.
    dangling = [p.name for p in ws.glob("bazel-*") if p.is_symlink() and not p.exists()]
    assert dangling == [], dangling
    again = _release(ws, second, tmp_path / "c2", f"--compare-to={first}")
    assert again.returncode == 0, again.stderr[-3000:]
    assert (first / "SHA256SUMS").read_bytes() == (second / "SHA256SUMS").read_bytes()
    assert WHEEL in (first / "SHA256SUMS").read_text()
    with zipfile.ZipFile(first / WHEEL) as zf:  # SOURCE_DATE_EPOCH from the commit
        assert {i.date_time for i in zf.infolist()} == {(2023, 11, 14, 22, 13, 20)}

    (line,) = (first / "provenance.intoto.jsonl").read_text().splitlines()
    statement = json.loads(line)
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["predicateType"] == "https://slsa.dev/provenance/v1"
    sums = dict(reversed(row.split("  ", 1))
                for row in (first / "SHA256SUMS").read_text().splitlines())
    assert {s["name"]: s["digest"]["sha256"] for s in statement["subject"]} == sums
    definition = statement["predicate"]["buildDefinition"]
    assert definition["externalParameters"]["settings"]["source_date_epoch"] == str(EPOCH)
    deps = {d["name"]: d for d in definition["resolvedDependencies"]}
    assert deps["workspace"]["digest"] == {"gitCommit": rev}
    assert deps["workspace"]["annotations"]["dirty"] is False
    assert deps["builder-image"]["digest"]["sha256"]
    assert deps["debian-suite"]["annotations"] == {"suite": "bookworm"}
    argv = definition["internalParameters"]["targets"]["aarch64"]["bazelArgv"]
    assert "--cpu=aarch64" in argv

    # A changed source (not committed: the workspace is dirty) against the first release.
    init = ws / "python" / "crossdemo" / "__init__.py"
    init.write_text(init.read_text() + "# changed\n")
    changed = _release(ws, tmp_path / "r3", tmp_path / "c2", f"--compare-to={first}")
    assert changed.returncode == 5, changed.stderr[-3000:]
    row = json.loads(changed.stdout)["targets"][0]
    assert row["status"] == "irreproducible"
    assert f"{WHEEL}: first differing member crossdemo/__init__.py: size, content" \
        in row["error"]
    assert f"{WHEEL} differs from {first}: first differing member crossdemo/__init__.py" \
        in changed.stderr
    assert "aarch64/hello" not in row["error"]  # what did not change is not named
    dirty = json.loads((tmp_path / "r3" / "provenance.intoto.jsonl").read_text())
    assert dirty["predicate"]["buildDefinition"]["internalParameters"]["workspaceDirty"] is True

    # A packaging step that ignores SOURCE_DATE_EPOCH stamps the clock into the wheel.
    clock = _release(ws, tmp_path / "r4", tmp_path / "c2", "--check-reproducible",
                     "--package-command=env -u SOURCE_DATE_EPOCH "
                     "bazel-bin/pip_package/build_pip_package {out}")
    assert clock.returncode == 5, clock.stderr[-3000:]
    row = json.loads(clock.stdout)["targets"][0]
    assert row["status"] == "irreproducible"
    assert f"{WHEEL}: first differing member crossdemo/__init__.py: timestamp" in row["error"]
