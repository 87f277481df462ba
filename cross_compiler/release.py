"""Release builds: every target built, retagged and smoke-tested, with checksums and a
manifest recording exactly how each artifact was made."""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cross_compiler import __version__, proc
from cross_compiler.errors import CrossCompilerError
from cross_compiler.localbuild import BuildResult
from cross_compiler.render import PACKAGE
from cross_compiler.targets import Target

log = logging.getLogger(__name__)


@dataclass
class Artifact:
    path: str  # relative to the release directory
    cpu: str
    triple: str
    platform: str  # wheel platform tag, or the triple for binaries
    size: int
    sha256: str
    provenance: dict[str, Any]


@dataclass
class TargetOutcome:
    cpu: str
    status: str = "failed"  # ok | failed | skipped
    wheel: str = ""
    seconds: float = 0.0
    error: str = ""
    artifacts: list[Artifact] = field(default_factory=list)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def toolchain_hash(workspace: Path) -> str:
    """One hash over the rendered //cross_compiler files (names and contents)."""
    digest = hashlib.sha256()
    package = workspace / PACKAGE
    for path in sorted(p for p in package.rglob("*") if p.is_file()):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def git_state(workspace: Path) -> dict[str, Any]:
    rev = proc.run(["git", "-C", str(workspace), "rev-parse", "HEAD"])
    if rev.returncode != 0:
        return {"git_revision": None, "git_dirty": None}
    status = proc.run(["git", "-C", str(workspace), "status", "--porcelain"])
    return {"git_revision": rev.stdout.strip(), "git_dirty": bool(status.stdout.strip())}


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def collect(result: BuildResult, target: Target, staging: Path,
            provenance: dict[str, Any]) -> list[Artifact]:
    """Copy the target's wheels and binaries into ``staging/<cpu>/`` and describe them."""
    out = staging / target.cpu
    out.mkdir(parents=True, exist_ok=True)
    artifacts: list[Artifact] = []
    sources = [(w.path, w.platform) for w in result.wheels.get(target.cpu, [])]
    sources += [(p, target.triple) for p in result.outputs.get(target.cpu, [])]
    for source, platform in sources:
        dest = out / source.name
        shutil.copyfile(source, dest)
        artifacts.append(Artifact(
            path=f"{target.cpu}/{source.name}", cpu=target.cpu, triple=target.triple,
            platform=platform, size=dest.stat().st_size, sha256=sha256_file(dest),
            provenance=provenance,
        ))
    return artifacts


def release(
    targets: list[Target],
    workspace: Path,
    out_dir: Path,
    build_one: Callable[[Target], BuildResult],
    smoke_one: Callable[[Path, Target], object],
    fail_fast: bool = False,
    runner: str = "",
) -> list[TargetOutcome]:
    """Build, retag and smoke-test each target; a failing target does not stop the others
    (unless ``fail_fast``). Outputs appear in ``out_dir`` all at once, at the end."""
    outcomes: list[TargetOutcome] = []
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        for target in targets:
            outcome = TargetOutcome(target.cpu)
            outcomes.append(outcome)
            if fail_fast and any(o.status == "failed" for o in outcomes[:-1]):
                outcome.status, outcome.error = "skipped", "an earlier target failed"
                continue
            started, clock = _now(), time.monotonic()
            try:
                log.info("==> release %s", target.cpu)
                result = build_one(target)
                wheels = result.wheels.get(target.cpu, [])
                for wheel in wheels:
                    smoke_one(wheel.path, target)
                info = result.bazel.get(target.cpu, {})
                provenance = {
                    "tool_version": __version__,
                    "toolchain_sha256": toolchain_hash(workspace),
                    "runner": runner,
                    "builder_image_id": result.image_id or None,
                    "bazel_version": info.get("bazel_version"),
                    "bazel_argv": info.get("bazel_argv"),
                    **git_state(workspace),
                    "started": started,
                    "finished": _now(),
                }
                outcome.artifacts = collect(result, target, staging, provenance)
                outcome.wheel = ", ".join(w.path.name for w in wheels)
                outcome.status = "ok"
            except CrossCompilerError as e:
                outcome.error = str(e)
                log.error("%s: %s", target.cpu, e)
            outcome.seconds = round(time.monotonic() - clock, 1)
        _write_index(staging, [a for o in outcomes for a in o.artifacts], outcomes)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        staging.rename(out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return outcomes


def _write_index(staging: Path, artifacts: list[Artifact],
                 outcomes: list[TargetOutcome]) -> None:
    sums = "".join(f"{a.sha256}  {a.path}\n" for a in sorted(artifacts, key=lambda a: a.path))
    (staging / "SHA256SUMS").write_text(sums)
    manifest = {
        "tool_version": __version__,
        "artifacts": [asdict(a) for a in artifacts],
        "targets": [summary_row(o) for o in outcomes],
    }
    (staging / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")


def summary_row(outcome: TargetOutcome) -> dict[str, Any]:
    return {"target": outcome.cpu, "status": outcome.status, "wheel": outcome.wheel,
            "seconds": outcome.seconds, "error": outcome.error}


def summary_table(outcomes: list[TargetOutcome]) -> str:
    rows = [("target", "status", "wheel", "seconds")]
    rows += [(o.cpu, o.status, o.wheel or "-", f"{o.seconds:.1f}") for o in outcomes]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
             for row in rows]
    errors = [f"{o.cpu}: {o.error}" for o in outcomes if o.error]
    return "\n".join(lines + errors)


def summary_json(outcomes: list[TargetOutcome]) -> str:
    return json.dumps({"ok": all(o.status == "ok" for o in outcomes),
                       "targets": [summary_row(o) for o in outcomes]}, indent=2)

