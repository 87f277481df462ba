"""The Debian fallback of test-wheel: a requirement no wheel meets for the target (PyPI has no
armv7l numpy) is met by the target suite's ``python3-<name>`` package, when its version
satisfies the requirement.

The package and what it depends on (first alternative of each ``|``, apt's closure
computed here) are fetched with the suite's private apt state (toolchain/debroot.py) and
unpacked, one cached tree per package and version under
``<cache>/debdeps/<suite>/<debian arch>/``. What the target root already holds (its
``usr/share/doc/<package>``) and the interpreter packages themselves are not fetched. Nothing
is installed: maintainer scripts do not run, so the libraries that ``update-alternatives``
would link (``blas/libblas.so.3``) are found through the guest's library path instead.
"""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from packaging.version import InvalidVersion, Version

from cross_compiler import proc
from cross_compiler.errors import ToolMissingError
from cross_compiler.toolchain import debroot
from cross_compiler.toolchain.debianwheel import find_project
from cross_compiler.toolchain.suites import Suite
from cross_compiler.toolchain.targets import Target
from cross_compiler.wheel.requires import Need, debian_package, debian_upstream_version
from cross_compiler.wheel.resolve import DebianHit

log = logging.getLogger(__name__)

MAX_PACKAGES = 100
_PACKAGE = re.compile(r"[a-z0-9][a-z0-9.+-]*")
_VERSION = re.compile(r"[A-Za-z0-9.+~:-]+")
_ARCH = re.compile(r"[a-z0-9]+")
# The target root is the interpreter: its Debian packages are never fetched again.
_INTERPRETER = re.compile(r"(lib)?python3(\.\d+)?(-minimal|-stdlib)?")


@dataclass(frozen=True)
class Stanza:
    """One package of ``apt-cache show``: name, version, architecture and its Depends and
    Pre-Depends as groups of alternatives (names only)."""

    package: str
    version: str
    architecture: str
    depends: tuple[tuple[str, ...], ...]


def parse_depends(field: str) -> tuple[tuple[str, ...], ...]:
    """``a (>= 1) | b:any, c`` -> ((a, b), (c,)): versions and arch qualifiers dropped."""
    groups = []
    for group in field.split(","):
        names = tuple(alt.split()[0].split(":")[0] for alt in group.split("|") if alt.strip())
        if names:
            groups.append(names)
    return tuple(groups)


def parse_stanzas(text: str) -> dict[str, Stanza]:
    """Packages of ``apt-cache show`` output by name; a stanza with a field outside Debian's
    alphabet (a damaged list) is left out."""
    found: dict[str, Stanza] = {}
    for block in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        key = ""
        for line in block.splitlines():
            if line[:1].isspace() and key:  # a folded field goes on
                fields[key] += " " + line.strip()
                continue
            key, sep, value = line.partition(":")
            key = key if sep else ""
            if key:
                fields[key] = value.strip()
        name, version, arch = (fields.get(k, "") for k in ("Package", "Version", "Architecture"))
        if not (_PACKAGE.fullmatch(name) and _VERSION.fullmatch(version)
                and _ARCH.fullmatch(arch)):
            continue
        depends = parse_depends(", ".join(fields[k] for k in ("Pre-Depends", "Depends")
                                          if fields.get(k)))
        if all(_PACKAGE.fullmatch(n) for g in depends for n in g):
            found.setdefault(name, Stanza(name, version, arch, depends))
    return found


def closure(start: Stanza, show: Callable[[list[str]], dict[str, Stanza]],
            provided: Callable[[str], bool]) -> list[Stanza]:
    """``start`` and every package it needs that ``provided`` does not, breadth first; of
    each group of alternatives one already there, else the first that exists."""
    chosen = {start.package: start}
    queue = [start]
    while queue:
        groups = [g for s in queue for g in s.depends]
        ask = sorted({a for g in groups for a in g if a not in chosen and not provided(a)})
        known = show(ask) if ask else {}
        queue = []
        for group in groups:
            if any(a in chosen or provided(a) for a in group):
                continue
            pick = next((a for a in group if a in known), None)
            if pick is None:  # only virtual packages: nothing to fetch for it
                log.warning("Debian: no package for %s (needed by the closure of %s)",
                            " | ".join(group), start.package)
                continue
            chosen[pick] = known[pick]
            queue.append(known[pick])
            if len(chosen) > MAX_PACKAGES:
                raise ToolMissingError(
                    f"Debian {start.package} needs more than {MAX_PACKAGES} packages",
                    "install a wheel for it from a --find-links wheelhouse instead")
    return list(chosen.values())


def tree_dir(stanza: Stanza, target: Target, cache_dir: Path) -> Path:
    version = stanza.version.replace(":", "%3a")  # apt's own spelling of an epoch
    return (cache_dir / "debdeps" / target.suite / target.debian_arch
            / f"{stanza.package}_{version}_{stanza.architecture}")


def site_dirs(trees: Iterable[Path]) -> list[Path]:
    """Debian's dist-packages directories in unpacked trees."""
    return [d for t in trees for d in sorted((t / "usr" / "lib").glob("python3*/dist-packages"))
            if d.is_dir()]


def library_dirs(trees: Iterable[Path]) -> list[Path]:
    """Every directory of unpacked trees that holds a shared library, Python packages'
    own directories left out (their extensions are found by path, not by the loader)."""
    found: set[Path] = set()
    for tree in trees:
        for lib in (tree / "lib", tree / "usr" / "lib"):
            for so in [*lib.rglob("*.so"), *lib.rglob("*.so.*")]:
                if not any(p.endswith("-packages") for p in so.relative_to(lib).parts):
                    found.add(so.parent)
    return sorted(found)


class DebianSource:
    """The suite's Debian packages for one target, with the target root they add to."""

    def __init__(self, target: Target, suite: Suite, cache_dir: Path) -> None:
        self.target, self.suite, self.cache_dir = target, suite, cache_dir
        self.root = debroot.root_dir(target, cache_dir)
        self._options: list[str] | None = None

    def _apt(self, refresh: bool = False) -> list[str]:
        if self._options is None or refresh:
            self._options = debroot._apt_state(self.suite, self.target.debian_arch,
                                               self.cache_dir, refresh=refresh)
        return self._options

    def provided(self, package: str) -> bool:
        """In the target root (its doc directory; a link to another package's counts), or
        an interpreter package."""
        doc = self.root / "usr" / "share" / "doc" / package
        return bool(_INTERPRETER.fullmatch(package)) or doc.exists() or doc.is_symlink()

    def show(self, packages: list[str]) -> dict[str, Stanza]:
        """What the suite's lists say about ``packages`` (this arch's, else arch all)."""
        arch = self.target.debian_arch
        names = [f"{p}:{a}" for p in packages if _PACKAGE.fullmatch(p) for a in (arch, "all")]
        if not names:
            return {}
        result = proc.run(["apt-cache", *self._apt(), "show", "--no-all-versions", *names])
        return parse_stanzas(result.stdout)  # unknown names are left out, or all: exit 100

    def fetch(self, stanzas: list[Stanza]) -> list[Path]:
        """The unpacked tree of each package (downloaded once, then from the cache)."""
        trees = [tree_dir(s, self.target, self.cache_dir) for s in stanzas]
        todo = [s for s, t in zip(stanzas, trees, strict=True) if not t.is_dir()]
        if not todo:
            return trees
        top = trees[0].parent
        top.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=top, prefix=".fetch-") as tmp:
            wanted = [f"{s.package}:{s.architecture}={s.version}" for s in todo]
            log.info("%s: downloading Debian %s packages %s", self.target.cpu, self.suite.name,
                     " ".join(s.package for s in todo))
            result = proc.run(["apt-get", *self._apt(), "-q", "download", *wanted], cwd=Path(tmp))
            if result.returncode != 0:  # lists older than the mirror: read them again, once
                result = proc.run(["apt-get", *self._apt(refresh=True), "-q", "download",
                                   *wanted], cwd=Path(tmp))
            if result.returncode != 0:
                last = (result.stderr.strip().splitlines() or ["apt-get download failed"])[-1]
                raise ToolMissingError(
                    f"cannot download {' '.join(s.package for s in todo)} from Debian "
                    f"{self.suite.name}: {last}", f"check that {debroot.MIRROR} is reachable")
            for stanza in todo:
                debs = list(Path(tmp).glob(f"{stanza.package}_*.deb"))
                if len(debs) != 1:
                    raise ToolMissingError(f"apt-get download left {len(debs)} files for "
                                           f"{stanza.package}", "retry")
                (deb,) = debs
                unpacked = Path(tmp) / f"tree-{stanza.package}"
                done = proc.run(["dpkg", "-x", str(deb), str(unpacked)])
                if done.returncode != 0:
                    raise ToolMissingError(f"dpkg -x {deb.name} failed: "
                                                   f"{done.stderr.strip()[:200]}")
                debroot.relativize_symlinks(unpacked)
                final = tree_dir(stanza, self.target, self.cache_dir)
                if not final.exists():  # another run may have unpacked it meanwhile
                    unpacked.rename(final)
                else:
                    shutil.rmtree(unpacked)
        return trees

    def lookup(self, need: Need) -> DebianHit | str:
        """The Debian package meeting ``need`` with the trees it needs fetched, or why not."""
        package, arch, suite = debian_package(need.name), self.target.debian_arch, self.suite.name
        if not self.suite.has_python(arch):
            return f"Debian {suite} has no Python for {arch}"
        stanza = self.show([package]).get(package)
        if stanza is None:
            return f"Debian {suite} has no {package} for {arch}"
        upstream = debian_upstream_version(stanza.version)
        if upstream is None or not need.requirement.specifier.contains(upstream,
                                                                       prereleases=True):
            return (f"Debian {suite}'s {package} {stanza.version} does not satisfy "
                    f"{need.requirement.name}{need.requirement.specifier}")
        needed = [s for s in closure(stanza, self.show, self.provided)
                  if not self.provided(s.package)]
        trees = tuple(self.fetch(needed))
        found = next(filter(None, (find_project(t, need.name) for t in (self.root, *trees))),
                     None)
        try:
            version = Version(found.version) if found else None
        except InvalidVersion:
            version = None
        if version is None:
            return f"Debian {suite}'s {package} carries no {need.requirement.name} metadata"
        if not need.requirement.specifier.contains(version, prereleases=True):
            return (f"Debian {suite}'s {package} holds {need.requirement.name} {version}, "
                    f"which does not satisfy {need.requirement.specifier}")
        return DebianHit(package, str(version), trees)
