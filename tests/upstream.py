"""Real upstream Bazel workspaces from Debian source packages, fetched at test time (never
committed): a package's upstream tarball (its ``.orig.tar.*``) is downloaded once per machine
with a private apt state (its own sources.list and state; the machine's apt is left alone)
into UPSTREAM, and later runs are offline."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path

from cross_compiler.toolchain.debroot import APT_RETRIES, MIRROR, apt_options
from tests.conftest import require

UPSTREAM = Path.home() / ".cache" / "cross_compiler" / "upstream"


def _apt_state(suite: str) -> list[str]:
    """apt-get options for a private state that knows ``suite``'s source packages; the
    lists are read when missing, and again when a download fails (a mirror mid-sync)."""
    state = UPSTREAM / "apt" / suite
    (state / "state" / "lists" / "partial").mkdir(parents=True, exist_ok=True)
    (state / "cache" / "archives" / "partial").mkdir(parents=True, exist_ok=True)
    (state / "state" / "status").touch()
    (state / "preferences").touch()
    (state / "sources.list").write_text(f"deb-src {MIRROR} {suite} main\n")
    return apt_options(state, [])


def _apt(options: list[str], *args: str, cwd: Path | None = None) -> str:
    """Run apt-get; "" when it succeeded, else its last error line."""
    result = subprocess.run(["apt-get", *options, "-q", *args], cwd=cwd, capture_output=True,
                            text=True, check=False)
    errors = [line for line in (result.stdout + result.stderr).splitlines()
              if line.startswith(("E:", "Err:"))]
    if result.returncode == 0 and not errors:
        return ""
    return (errors or result.stderr.strip().splitlines() or ["apt-get failed"])[-1]


def _origs(directory: Path, package: str) -> list[Path]:
    return sorted(p for p in directory.glob(f"{package}_*.orig.tar.*")
                  if not p.name.endswith(".asc"))


def orig_tarball(package: str, suite: str) -> Path:
    """The upstream tarball of Debian ``suite``'s source package ``package``, downloaded
    into UPSTREAM/<suite>/ the first time (fails under CI when it cannot be)."""
    dest = UPSTREAM / suite
    found = _origs(dest, package)
    if found:
        return found[-1]
    require(shutil.which("apt-get") is not None, "apt-get (a Debian machine)")
    options = _apt_state(suite)
    lists = UPSTREAM / "apt" / suite / "state" / "lists"
    last = ""
    for attempt in range(1, APT_RETRIES + 1):
        if attempt > 1 or not any(lists.glob("*Sources*")):
            last = _apt(options, "update")
            if last:
                time.sleep(2 * attempt)
                continue
        with tempfile.TemporaryDirectory() as tmp:
            last = _apt(options, "source", "--download-only", package, cwd=Path(tmp))
            got = _origs(Path(tmp), package)
            if not last and len(got) == 1:
                dest.mkdir(parents=True, exist_ok=True)
                # Moved in whole: a half-downloaded tarball is never found above.
                shutil.move(got[0], dest / got[0].name)
                return dest / got[0].name
        time.sleep(2 * attempt)
    require(False, f"Debian {suite}'s source package {package} from {MIRROR} ({last})")
    raise AssertionError("unreachable")


def unpack(tarball: Path, into: Path) -> Path:
    """Unpack an upstream tarball into ``into``; returns its one top directory."""
    into.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tarball) as archive:
        tops = {Path(name).parts[0] for name in archive.getnames() if name not in ("", ".")}
    # GNU tar (Debian's Python 3.11.2 has no extraction filters): no absolute or ../ names.
    subprocess.run(["tar", "-xf", str(tarball), "-C", str(into), "--no-same-owner"],
                   check=True)
    assert len(tops) == 1, f"{tarball.name} holds {sorted(tops)}, not one directory"
    return into / tops.pop()


def upstream_workspace(package: str, suite: str, into: Path) -> Path:
    """``package``'s upstream sources from Debian ``suite``, unpacked under ``into``."""
    return unpack(orig_tarball(package, suite), into)


def file_digests(root: Path) -> dict[str, str]:
    """sha256 of every regular file under ``root``, by path (symlinks not followed)."""
    found: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            found[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found
