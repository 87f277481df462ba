"""Release builds: every target built, retagged and smoke-tested, with checksums and a
manifest recording exactly how each artifact was made.

The tool deletes only what it made and marked: a release directory carries a marker file,
and an existing ``--out-dir`` is replaced only when it has that marker (or is empty).
"""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
import secrets
import shutil
import socket
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cross_compiler import __version__, proc
from cross_compiler.bazel.localbuild import BuildResult
from cross_compiler.distnames import artifact_names
from cross_compiler.errors import ConfigError, CrossCompilerError
from cross_compiler.redact import mask_argv, mask_url
from cross_compiler.release import provenance as slsa
from cross_compiler.release.reproduce import ArtifactDiff
from cross_compiler.toolchain.render import PACKAGE
from cross_compiler.toolchain.targets import Target

log = logging.getLogger(__name__)

MARKER = ".cross_compiler-release"
MARKER_TEXT = "Made by `cross-compiler release`: the next release replaces this directory.\n"
_PICK = "pick a new or empty --out-dir, or remove it yourself"


@dataclass
class Artifact:
    path: str  # relative to the release directory
    cpu: str
    triple: str
    platform: str  # wheel platform tag, or the triple for binaries
    size: int
    sha256: str
    provenance: dict[str, Any]
    python: str = ""  # the target Python, in a release over several (--python)


@dataclass
class TargetOutcome:
    cpu: str  # the release target: the cpu, or cpu-pyX.Y in a release over several Pythons
    status: str = "failed"  # ok | failed | skipped
    wheel: str = ""
    seconds: float = 0.0
    error: str = ""
    artifacts: list[Artifact] = field(default_factory=list)
    python: str = ""  # in a release over several Python versions


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


def git_uri(workspace: Path) -> str | None:
    """The workspace's ``origin`` remote (credentials masked), None without one."""
    result = proc.run(["git", "-C", str(workspace), "remote", "get-url", "origin"])
    return mask_url(result.stdout.strip()) if result.returncode == 0 and result.stdout.strip() \
        else None


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def label(target: Target, python_matrix: bool) -> str:
    """A release target's name and directory: ``aarch64``, or ``aarch64-py3.13`` when the
    release covers several Python versions."""
    return f"{target.cpu}-py{target.python_version}" if python_matrix else target.cpu


def collect(result: BuildResult, target: Target, staging: Path,
            provenance: dict[str, Any], python_matrix: bool = False) -> list[Artifact]:
    """Copy the target's wheels into ``staging/<cpu>/`` and its binaries there too (into
    ``<cpu>/py<X.Y>/`` in a release over several Pythons: an extension differs per Python)
    and describe them; outputs sharing a file name keep their distinct relative paths. A
    wheel another Python of the cpu already put there with the same bytes is one artifact."""
    out = staging / target.cpu
    loose = out / f"py{target.python_version}" if python_matrix else out
    artifacts: list[Artifact] = []
    wheels = [(w.path.resolve(), w.platform) for w in result.wheels.get(target.cpu, [])
              if w.python in ("", target.python_version)]
    outputs = [(p.resolve(), target.triple) for p in result.outputs.get(target.cpu, [])]
    outputs = [o for o in dict(outputs).items() if o[0] not in dict(wheels)]
    for sources, where in ((list(dict(wheels).items()), out), (outputs, loose)):
        names = artifact_names([source for source, _ in sources])
        for (source, platform), name in zip(sources, names, strict=True):
            dest = where / name
            if dest.exists():
                if sha256_file(dest) == sha256_file(source):
                    continue
                raise ConfigError(f"two different {target.cpu} files would be released as "
                                  f"{dest.relative_to(staging)}",
                                  "give the outputs different file names")
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, dest)
            if source.stat().st_mode & 0o111:
                dest.chmod(0o755)  # a released program stays runnable (Bazel's are 0555)
            artifacts.append(Artifact(
                path=dest.relative_to(staging).as_posix(), cpu=target.cpu,
                triple=target.triple, platform=platform, size=dest.stat().st_size,
                sha256=sha256_file(dest), provenance=provenance,
                python=target.python_version if python_matrix else "",
            ))
    return artifacts


def check_out_dir(out_dir: Path, workspace: Path) -> None:
    """Refuse a release directory the tool may not replace: the workspace or a directory
    containing it, a file, or a non-empty directory a release did not make."""
    out, ws = out_dir.resolve(), workspace.resolve()
    if ws == out or ws.is_relative_to(out):
        raise ConfigError(f"release directory {out} is the workspace or contains it", _PICK)
    try:
        if not out.exists():
            return
        if not out.is_dir():
            raise ConfigError(f"release directory {out} is not a directory", _PICK)
        if not (out / MARKER).is_file() and any(out.iterdir()):
            raise ConfigError(f"release directory {out} is not empty and no release made it",
                              _PICK)
    except OSError as e:
        raise ConfigError(f"cannot inspect release directory {out}: {e.strerror}", _PICK) from e


def _new_dir(parent: Path, prefix: str) -> Path:
    """A fresh directory with the umask's mode (mkdtemp's would be 0700)."""
    while True:
        path = parent / f"{prefix}{secrets.token_hex(4)}"
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue


def _publish(staging: Path, out_dir: Path, workspace: Path) -> None:
    """Put the marked ``staging`` at ``out_dir``; a previous release there goes only once
    the new one is in place."""
    check_out_dir(out_dir, workspace)
    (staging / MARKER).write_text(MARKER_TEXT)
    old: Path | None = None
    if out_dir.is_dir() and (out_dir / MARKER).is_file():
        old = _new_dir(out_dir.parent, f".{out_dir.name}.old.")
        out_dir.rename(old / "release")
    elif out_dir.is_dir():
        out_dir.rmdir()  # empty (checked): nothing of anyone's is lost
    try:
        staging.rename(out_dir)
    except OSError:
        if old is not None:
            (old / "release").rename(out_dir)
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def release(
    targets: list[Target],
    workspace: Path,
    out_dir: Path,
    build_one: Callable[[Target], BuildResult],
    smoke_one: Callable[[Path, Target], object],
    fail_fast: bool = False,
    runner: str = "",
    settings: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    python_matrix: bool = False,
) -> list[TargetOutcome]:
    """Build, retag and smoke-test each target; a failing target does not stop the others
    (unless ``fail_fast``). Outputs appear in ``out_dir`` all at once, at the end; when
    every target failed, ``out_dir`` (and any earlier release in it) is left as it was.
    ``settings`` (resolved values) and ``env`` feed the provenance statement."""
    out_dir = out_dir.resolve()
    release_started = _now()
    check_out_dir(out_dir, workspace)
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        staging = _new_dir(out_dir.parent, f".{out_dir.name}.")
    except OSError as e:
        raise ConfigError(f"cannot create release directory {out_dir}: {e.strerror}",
                          _PICK) from e
    outcomes: list[TargetOutcome] = []
    try:
        for target in targets:
            outcome = TargetOutcome(label(target, python_matrix),
                                    python=target.python_version if python_matrix else "")
            outcomes.append(outcome)
            if fail_fast and any(o.status == "failed" for o in outcomes[:-1]):
                outcome.status, outcome.error = "skipped", "an earlier target failed"
                continue
            started, clock = _now(), time.monotonic()
            try:
                log.info("==> release %s", outcome.cpu)
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
                    # Masked already where it was made; again here, as this is published.
                    "bazel_argv": (mask_argv(info["bazel_argv"]) if info.get("bazel_argv")
                                   else None),
                    **git_state(workspace),
                    "suite": result.suite or None,
                    # --manylinux/--toolchain: family, glibc, sysroot package versions
                    "toolchain": result.toolchains.get(target.cpu),
                    "started": started,
                    "finished": _now(),
                }
                outcome.artifacts = collect(result, target, staging, provenance, python_matrix)
                outcome.wheel = ", ".join(w.path.name for w in wheels)
                outcome.status = "ok"
            except CrossCompilerError as e:
                outcome.error = mask_url(str(e))
                log.error("%s: %s", outcome.cpu, e)
            outcome.seconds = round(time.monotonic() - clock, 1)
        if not any(o.status == "ok" for o in outcomes):
            log.error("no target succeeded: %s left as it was", out_dir)
            return outcomes
        failed = [o.cpu for o in outcomes if o.status == "failed"]
        if python_matrix and failed:
            # A matrix is released whole: a missing (cpu, Python) pair would look like a
            # wheel the project does not ship.
            log.error("%s failed: %s left as it was (a release over several Pythons is "
                      "published whole)", ", ".join(failed), out_dir)
            for o in outcomes:
                if o.status == "ok":
                    o.status, o.error = "skipped", f"not published: {', '.join(failed)} failed"
            return outcomes
        artifacts = [a for o in outcomes for a in o.artifacts]
        _write_index(staging, artifacts, outcomes)
        facts = release_facts(artifacts, workspace, [t.cpu for t in targets], settings or {},
                              env or {}, runner, release_started)
        (staging / slsa.FILE_NAME).write_text(
            slsa.jsonl([slsa.statement(facts)]))
        try:
            _publish(staging, out_dir, workspace)
        except OSError as e:
            raise ConfigError(f"cannot write release directory {out_dir}: {e.strerror}",
                              _PICK) from e
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # ours: made above, gone once published
    return outcomes


def release_facts(artifacts: list[Artifact], workspace: Path, cpus: list[str],
                  settings: Mapping[str, Any], env: Mapping[str, str], runner: str,
                  started: str) -> slsa.Facts:
    """The provenance statement's facts: the artifacts' own, plus how the release ran."""
    per_target: dict[str, dict[str, Any]] = {}
    for a in artifacts:
        p = a.provenance
        per_target[a.cpu] = {"bazelVersion": p.get("bazel_version"),
                             "bazelArgv": p.get("bazel_argv") or [],
                             "toolchainSha256": p.get("toolchain_sha256"),
                             "builderImage": p.get("builder_image_id"), "suite": p.get("suite"),
                             "toolchain": p.get("toolchain")}
    first = artifacts[0].provenance if artifacts else {}
    return slsa.Facts(
        subjects=tuple((a.path, a.sha256) for a in sorted(artifacts, key=lambda a: a.path)),
        workspace=str(workspace), cpus=tuple(cpus), settings=dict(settings),
        tool_version=__version__, runner=runner,
        git={"git_revision": first.get("git_revision"), "git_dirty": first.get("git_dirty"),
             "git_uri": git_uri(workspace) if first.get("git_revision") else None},
        per_target=per_target,
        builder_id=slsa.builder_id(env, runner or "local", socket.gethostname()),
        invocation_id=slsa.invocation_id(env, str(uuid.uuid4())),
        started=started, finished=_now(),
        suites=tuple(sorted({t["suite"] for t in per_target.values() if t["suite"]})),
        images=tuple(sorted({t["builderImage"] for t in per_target.values()
                             if t["builderImage"]})),
    )


def mark_irreproducible(outcomes: list[TargetOutcome], diffs: list[ArtifactDiff],
                        against: str) -> None:
    """Fail each target with an artifact that differs from ``against`` (another build, or
    a previous release), naming the artifacts; the details go to the log."""
    for diff in diffs:
        for detail in diff.details:
            log.error("%s differs from %s: %s", diff.path, against, detail)
    for outcome in outcomes:
        own = [d for d in diffs if d.path.split("/")[0] == outcome.cpu]
        if own:
            outcome.status = "irreproducible"
            note = f"differs from {against}: " + "; ".join(d.line() for d in own)
            outcome.error = f"{outcome.error}; {note}" if outcome.error else note


def sums_line(digest: str, path: str) -> str:
    """One SHA256SUMS line as ``sha256sum`` writes it (a name with a backslash, newline or
    carriage return is escaped, and the line starts with a backslash)."""
    if any(c in path for c in "\\\n\r"):
        escaped = path.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
        return f"\\{digest}  {escaped}\n"
    return f"{digest}  {path}\n"


def _write_index(staging: Path, artifacts: list[Artifact],
                 outcomes: list[TargetOutcome]) -> None:
    sums = "".join(sums_line(a.sha256, a.path) for a in sorted(artifacts, key=lambda a: a.path))
    (staging / "SHA256SUMS").write_text(sums)
    manifest = {
        "tool_version": __version__,
        "artifacts": [asdict(a) for a in artifacts],
        "targets": [summary_row(o) for o in outcomes],
    }
    (staging / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")


def summary_row(outcome: TargetOutcome) -> dict[str, Any]:
    row = {"target": outcome.cpu, "status": outcome.status, "wheel": outcome.wheel,
           "seconds": outcome.seconds, "error": outcome.error}
    return {**row, "python": outcome.python} if outcome.python else row


def summary_table(outcomes: list[TargetOutcome]) -> str:
    python = any(o.python for o in outcomes)
    rows = [("target", *(("python",) if python else ()), "status", "wheel", "seconds")]
    rows += [(o.cpu, *((o.python,) if python else ()), o.status, o.wheel or "-",
              f"{o.seconds:.1f}") for o in outcomes]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
             for row in rows]
    errors = [f"{o.cpu}: {o.error}" for o in outcomes if o.error]
    return "\n".join(lines + errors)


def summary_json(outcomes: list[TargetOutcome]) -> str:
    return json.dumps({"ok": all(o.status == "ok" for o in outcomes),
                       "targets": [summary_row(o) for o in outcomes]}, indent=2)

