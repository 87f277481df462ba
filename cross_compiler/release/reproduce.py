"""Compare two releases artifact by artifact: by their SHA256SUMS, then, where both files
are at hand, what differs inside (zipdiff)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cross_compiler.errors import ConfigError
from cross_compiler.wheel import zipdiff
from cross_compiler.wheel.retag import unsafe_path

SUMS = "SHA256SUMS"


@dataclass(frozen=True)
class ArtifactDiff:
    path: str  # relative to the release directory
    details: tuple[str, ...]  # what differs, most telling first

    def line(self) -> str:
        return f"{self.path}: {self.details[0]}" if self.details else self.path


def parse_sums(text: str) -> dict[str, str]:
    """{path: sha256} from ``sha256sum`` output (escaped names included). Pure."""
    sums: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        escaped = raw.startswith("\\")
        line = raw[1:] if escaped else raw
        digest, sep, path = line.partition("  ")
        if not sep or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise ConfigError(f"{SUMS} line {number} is not '<sha256>  <path>': {raw[:80]!r}",
                              "point --compare-to at a release directory")
        if escaped:
            path = path.replace("\\\\", "\0").replace("\\n", "\n").replace("\\r", "\r")
            path = path.replace("\0", "\\")
        sums[path] = digest
    return sums


def read_sums(release_dir: Path) -> dict[str, str]:
    path = release_dir / SUMS
    try:
        return parse_sums(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read {path}: {e}",
                          "point --compare-to at a release directory") from e


def compare(baseline: Path, new: Path, cpus: list[str]) -> list[ArtifactDiff]:
    """Every artifact of ``cpus`` whose bytes differ between the ``baseline`` release and
    the ``new`` one (or that only one of them has), by path."""
    old_sums = {p: d for p, d in read_sums(baseline).items() if p.split("/")[0] in cpus}
    new_sums = {p: d for p, d in read_sums(new).items() if p.split("/")[0] in cpus}
    diffs = []
    for path in sorted(old_sums.keys() | new_sums.keys()):
        if path not in new_sums:
            diffs.append(ArtifactDiff(path, ("missing from this release",)))
        elif path not in old_sums:
            diffs.append(ArtifactDiff(path, (f"not in {baseline / SUMS}",)))
        elif old_sums[path] != new_sums[path]:
            old_file, new_file = baseline / path, new / path
            details: list[str] = []
            if not unsafe_path(path) and old_file.is_file() and new_file.is_file():
                details = zipdiff.summary(old_file, new_file)
            details = details or [f"sha256 {old_sums[path][:12]}… -> {new_sums[path][:12]}…"]
            diffs.append(ArtifactDiff(path, tuple(details)))
    return diffs
