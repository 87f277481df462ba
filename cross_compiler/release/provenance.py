"""A release's SLSA provenance: one in-toto Statement v1 with a SLSA Provenance v1
predicate, subjects = every artifact with its sha256. Pure: the caller gathers the facts.

Written as ``provenance.intoto.jsonl`` (one JSON line, the form ``cosign attest-blob``
and ``slsa-verifier`` take after signing); README "Reproducible, attested releases".
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cross_compiler.redact import mask_argv, mask_url

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://slsa.dev/provenance/v1"
# What a release's parameters mean is this tool's contract (README), versioned here.
BUILD_TYPE = "urn:cross-compiler:buildtype:release:v1"
FILE_NAME = "provenance.intoto.jsonl"
# Settings that change what a release contains (runner, caches and networks do not).
OUTPUT_SETTINGS = ("targets", "bazel_mode", "compilation_mode", "bazel_flags",
                   "bazel_startup_options", "package_command", "platform", "suite",
                   "base_image", "extra_packages", "image_cpus", "source_date_epoch",
                   "repository_overrides", "module_overrides", "distdirs", "manylinux")
LOCAL_OVERRIDES = ("repository_overrides", "module_overrides", "distdirs")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Facts:
    """What one release was, gathered by the caller."""

    subjects: tuple[tuple[str, str], ...]  # (path in the release, sha256 hex)
    workspace: str
    cpus: tuple[str, ...]
    settings: Mapping[str, Any]  # resolved settings (values)
    tool_version: str
    runner: str
    git: Mapping[str, Any]  # git_revision, git_dirty, git_uri (None outside a checkout)
    per_target: Mapping[str, Mapping[str, Any]]  # cpu -> bazel/toolchain/image facts
    builder_id: str
    invocation_id: str
    started: str
    finished: str
    suites: tuple[str, ...] = ()
    images: tuple[str, ...] = field(default=())  # builder image ids, "sha256:<hex>"


def _masked(value: Any) -> Any:
    if isinstance(value, str):
        return mask_url(value)
    if isinstance(value, list | tuple):
        return mask_argv(str(v) for v in value)
    return value


def _workspace_dependency(facts: Facts) -> dict[str, Any]:
    revision = facts.git.get("git_revision")
    if not revision:
        return {"name": "workspace", "uri": f"file://{facts.workspace}",
                "annotations": {"git": False, "dirty": None}}
    uri = facts.git.get("git_uri") or f"file://{facts.workspace}"
    return {"name": "workspace", "uri": f"git+{mask_url(uri)}",
            "digest": {"gitCommit": revision},
            "annotations": {"git": True, "dirty": bool(facts.git.get("git_dirty"))}}


def _dependencies(facts: Facts) -> list[dict[str, Any]]:
    deps = [_workspace_dependency(facts)]
    for image in facts.images:
        algorithm, _, hexdigest = image.partition(":")
        deps.append({"name": "builder-image", "digest": {algorithm: hexdigest}})
    deps += [{"name": "debian-suite", "uri": f"https://deb.debian.org/debian/dists/{suite}",
              "annotations": {"suite": suite}} for suite in facts.suites]
    for key in LOCAL_OVERRIDES:
        for entry in facts.settings.get(key, []):
            name, _, directory = (("", "", entry) if key == "distdirs"
                                  else entry.partition("="))
            deps.append({"name": f"{key}:{name}" if name else key,
                         "uri": f"file://{directory}", "annotations": {"localOverride": True}})
    if facts.settings.get("remote_cache") or facts.settings.get("remote_executor"):
        deps.append({"name": "remote-cache",
                     "uri": mask_url(facts.settings.get("remote_cache")
                                     or facts.settings.get("remote_executor", "")),
                     "annotations": {"upload": facts.settings.get("remote_upload") == "true",
                                     "remoteExecution": bool(facts.settings.get(
                                         "remote_executor"))}})
    return deps


def statement(facts: Facts) -> dict[str, Any]:
    """The in-toto Statement for a release."""
    for path, digest in facts.subjects:
        if not _SHA256.match(digest):
            raise ValueError(f"subject {path}: {digest!r} is not a sha256 hex digest")
    local = {k: list(facts.settings.get(k, [])) for k in LOCAL_OVERRIDES}
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": path, "digest": {"sha256": digest}}
                    for path, digest in facts.subjects],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "buildDefinition": {
                "buildType": BUILD_TYPE,
                "externalParameters": {
                    "workspace": facts.workspace,
                    "cpus": list(facts.cpus),
                    "targets": list(facts.settings.get("targets", [])),
                    "settings": {k: _masked(facts.settings[k]) for k in OUTPUT_SETTINGS
                                 if k in facts.settings},
                },
                "internalParameters": {
                    "toolVersion": facts.tool_version,
                    "runner": facts.runner,
                    "targets": {cpu: {k: _masked(v) for k, v in info.items()}
                                for cpu, info in facts.per_target.items()},
                    # What a verifier checks before trusting "from a clean commit".
                    "workspaceDirty": facts.git.get("git_dirty"),
                    "localOverrides": any(local.values()),
                    "remoteCache": bool(facts.settings.get("remote_cache")
                                        or facts.settings.get("remote_executor")),
                },
                "resolvedDependencies": _dependencies(facts),
            },
            "runDetails": {
                "builder": {"id": facts.builder_id,
                            "version": {"cross_compiler": facts.tool_version}},
                "metadata": {"invocationId": facts.invocation_id,
                             "startedOn": facts.started, "finishedOn": facts.finished},
            },
        },
    }


def jsonl(statements: Iterable[Mapping[str, Any]]) -> str:
    """One statement per line, keys sorted: the same facts always give the same text."""
    return "".join(json.dumps(s, sort_keys=True, separators=(",", ":")) + "\n"
                   for s in statements)


def builder_id(env: Mapping[str, str], runner: str, host: str) -> str:
    """The build platform: the CI workflow when one runs this (GitHub Actions), else this
    machine and runner."""
    if env.get("GITHUB_ACTIONS") == "true" and env.get("GITHUB_WORKFLOW_REF"):
        server = env.get("GITHUB_SERVER_URL", "https://github.com")
        return f"{server}/{env['GITHUB_WORKFLOW_REF']}"
    return f"urn:cross-compiler:builder:{runner}:{host}"


def invocation_id(env: Mapping[str, str], fallback: str) -> str:
    """The CI run when there is one (its URL), else ``fallback`` (a fresh UUID)."""
    if env.get("GITHUB_ACTIONS") == "true" and env.get("GITHUB_RUN_ID"):
        server = env.get("GITHUB_SERVER_URL", "https://github.com")
        return (f"{server}/{env.get('GITHUB_REPOSITORY', '')}/actions/runs/"
                f"{env['GITHUB_RUN_ID']}/attempts/{env.get('GITHUB_RUN_ATTEMPT', '1')}")
    return fallback
