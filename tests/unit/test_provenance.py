"""The release's SLSA provenance: an in-toto Statement v1 with a SLSA Provenance v1
predicate, checked field by field against the two specifications' required structure."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from cross_compiler import resources
from cross_compiler.release.provenance import (
    BUILD_TYPE,
    FILE_NAME,
    Facts,
    builder_id,
    invocation_id,
    jsonl,
    statement,
)
from cross_compiler.release.publish import release
from cross_compiler.release.reproduce import read_sums
from cross_compiler.toolchain.targets import load_targets
from tests.unit.test_release import _builder

SHA256 = re.compile(r"^[0-9a-f]{64}$")
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$")


def check_statement(s: dict[str, Any]) -> list[str]:
    """Problems with ``s`` as an in-toto Statement v1 / SLSA Provenance v1 (by hand: the
    required fields, their types, digest and time formats)."""
    problems = []
    if s.get("_type") != "https://in-toto.io/Statement/v1":
        problems.append("_type")
    subjects = s.get("subject")
    if not isinstance(subjects, list) or not subjects:
        problems.append("subject: a non-empty list")
    for subject in subjects or []:
        digest = subject.get("digest")
        if not isinstance(subject.get("name"), str) or not isinstance(digest, dict) or not (
                digest and all(isinstance(v, str) for v in digest.values())):
            problems.append(f"subject {subject}: name and a digest set")
        elif "sha256" in digest and not SHA256.match(digest["sha256"]):
            problems.append(f"subject {subject['name']}: sha256 is 64 lowercase hex")
    if s.get("predicateType") != "https://slsa.dev/provenance/v1":
        problems.append("predicateType")
    predicate = s.get("predicate") or {}
    definition = predicate.get("buildDefinition") or {}
    if not isinstance(definition.get("buildType"), str) or not URI.match(
            definition["buildType"]):
        problems.append("buildDefinition.buildType: a URI")
    if not isinstance(definition.get("externalParameters"), dict):
        problems.append("buildDefinition.externalParameters: an object")
    for key in ("internalParameters",):
        if key in definition and not isinstance(definition[key], dict):
            problems.append(f"buildDefinition.{key}: an object")
    for dep in definition.get("resolvedDependencies", []):
        if not any(k in dep for k in ("uri", "digest", "content")):
            problems.append(f"resolvedDependency {dep}: uri, digest or content")
        if "uri" in dep and not URI.match(dep["uri"]):
            problems.append(f"resolvedDependency uri {dep['uri']!r}")
    run = predicate.get("runDetails") or {}
    if not isinstance((run.get("builder") or {}).get("id"), str) or not URI.match(
            run["builder"]["id"]):
        problems.append("runDetails.builder.id: a URI")
    metadata = run.get("metadata", {})
    for key in ("startedOn", "finishedOn"):
        if key in metadata and not RFC3339.match(metadata[key]):
            problems.append(f"runDetails.metadata.{key}: RFC 3339")
    return problems


FACTS = Facts(
    subjects=(("aarch64/demo.whl", "a" * 64),), workspace="/src/ws", cpus=("aarch64",),
    settings={"targets": ["//..."], "compilation_mode": "opt", "runner": "docker",
              "bazel_flags": ["--remote_header=Authorization=Bearer s3cret"],
              "remote_cache": "https://user:pw@cache.example/", "remote_upload": "true",
              "repository_overrides": ["zlib=/srv/zlib"], "distdirs": ["/srv/dist"],
              "source_date_epoch": "1700000000", "cache_dir": "/not/an/output/setting"},
    tool_version="0.1.0", runner="docker",
    git={"git_revision": "c" * 40, "git_dirty": True, "git_uri": "https://tok@host/r.git"},
    per_target={"aarch64": {"bazelArgv": ["bazel", "build", "--remote_header=X=y"]}},
    builder_id="urn:cross-compiler:builder:docker:h", invocation_id="id-1",
    started="2026-01-01T00:00:00+00:00", finished="2026-01-01T00:01:00+00:00",
    suites=("bookworm",), images=("sha256:" + "b" * 64,),
)


def test_statement_shape_and_what_a_verifier_needs_to_see() -> None:
    s = statement(FACTS)
    assert check_statement(s) == []
    definition = s["predicate"]["buildDefinition"]
    assert definition["buildType"] == BUILD_TYPE
    external = definition["externalParameters"]
    assert external["cpus"] == ["aarch64"] and external["settings"]["source_date_epoch"] \
        == "1700000000" and "cache_dir" not in external["settings"]
    internal = definition["internalParameters"]
    assert internal["workspaceDirty"] is True and internal["localOverrides"] is True
    assert internal["remoteCache"] is True
    deps = {d["name"]: d for d in definition["resolvedDependencies"]}
    assert deps["workspace"]["digest"] == {"gitCommit": "c" * 40}
    assert deps["workspace"]["annotations"]["dirty"] is True
    assert deps["builder-image"]["digest"] == {"sha256": "b" * 64}
    assert deps["repository_overrides:zlib"]["uri"] == "file:///srv/zlib"
    assert deps["distdirs"]["annotations"] == {"localOverride": True}
    assert deps["debian-suite"]["annotations"] == {"suite": "bookworm"}
    text = jsonl([s])
    for secret in ("s3cret", "pw@", "tok@", "X=y"):
        assert secret not in text
    assert text.count("\n") == 1 and json.loads(text) == s


def test_bad_digest_is_refused_and_checker_catches_shapes() -> None:
    import dataclasses

    with pytest.raises(ValueError, match="not a sha256"):
        statement(dataclasses.replace(FACTS, subjects=(("x", "XYZ"),)))
    broken = statement(FACTS)
    broken["subject"][0]["digest"]["sha256"] = "ABC"
    del broken["predicate"]["runDetails"]["builder"]
    assert check_statement(broken) == ["subject aarch64/demo.whl: sha256 is 64 lowercase hex",
                                       "runDetails.builder.id: a URI"]


def test_ci_builder_and_invocation() -> None:
    env = {"GITHUB_ACTIONS": "true", "GITHUB_SERVER_URL": "https://github.com",
           "GITHUB_WORKFLOW_REF": "o/r/.github/workflows/release.yml@refs/tags/v1",
           "GITHUB_REPOSITORY": "o/r", "GITHUB_RUN_ID": "42", "GITHUB_RUN_ATTEMPT": "2"}
    assert builder_id(env, "docker", "h") == \
        "https://github.com/o/r/.github/workflows/release.yml@refs/tags/v1"
    assert invocation_id(env, "x") == "https://github.com/o/r/actions/runs/42/attempts/2"
    assert builder_id({}, "local", "h") == "urn:cross-compiler:builder:local:h"


def test_release_writes_one_statement_whose_subjects_are_sha256sums(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    (tmp_path / "ws").mkdir()
    out = tmp_path / "release"
    targets = load_targets(["aarch64", "s390x"], resources.toolchains_dir())
    release(targets, tmp_path / "ws", out, _builder(tmp_path, set()), lambda w, t: None,
            runner="docker", settings={"targets": ["//..."], "source_date_epoch": "315532800"},
            env={})
    (line,) = (out / FILE_NAME).read_text().splitlines()
    s = json.loads(line)
    assert check_statement(s) == []
    assert {x["name"]: x["digest"]["sha256"] for x in s["subject"]} == read_sums(out)
    workspace = s["predicate"]["buildDefinition"]["resolvedDependencies"][0]
    assert workspace["name"] == "workspace" and workspace["annotations"]["git"] is False
    argv = s["predicate"]["buildDefinition"]["internalParameters"]["targets"]["s390x"]
    assert argv["bazelArgv"] == ["bazel", "build"] and argv["bazelVersion"] == "4.2.3"
