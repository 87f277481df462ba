"""test-wheel's resolution for the target, over a table standing in for pip and Debian: markers
and extras the target's way, one version per name, conflicts and missing names in one line
naming every place looked, the Debian fallback; and the Debian closure and pip's argv."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from cross_compiler.wheel import debdeps, pipdownload
from cross_compiler.wheel.requires import Need, parse_requirement
from cross_compiler.wheel.resolve import (
    DebianHit,
    DependencyError,
    Inspected,
    Sources,
    resolve,
)
from tests.unit.test_requires import ARMV7

WHERE = "wheelhouse /wh and no index (--no-index)"


@dataclass
class Table:
    """A stand-in for pip and Debian: wheels by name as (version, Requires-Dist), Debian
    packages by name as their version; what pip was asked, round by round."""

    index: dict[str, tuple[str, tuple[str, ...]]]
    debs: dict[str, str] = field(default_factory=dict)
    asked: list[list[str]] = field(default_factory=list)

    def wheels(self, needs: Sequence[Need]) -> tuple[dict[str, Path], dict[str, str]]:
        self.asked.append([str(n) for n in needs])
        found = {}
        for n in needs:
            version = self.index.get(n.name, ("", ()))[0]
            if version and n.requirement.specifier.contains(version, prereleases=True):
                found[n.name] = Path(f"/wh/{n.name}-{version}-py3-none-any.whl")
        return found, {n.name: f"No matching distribution found for {n}" for n in needs
                       if n.name not in found}

    def inspect(self, wheel: Path) -> Inspected:
        name = wheel.name.rsplit("-", 4)[0]
        version, reqs = self.index[name]
        return Inspected(version, tuple(parse_requirement(r, f"{name} {version} Requires-Dist")
                                        for r in reqs))

    def debian(self, need: Need) -> DebianHit | str:
        version = self.debs.get(need.name)
        if version is None:
            return f"Debian bookworm has no python3-{need.name} for armhf"
        if not need.requirement.specifier.contains(version):
            return f"Debian bookworm's python3-{need.name} {version} does not satisfy"
        return DebianHit(f"python3-{need.name}", version, (Path(f"/deb/{need.name}"),))


def _needs(*texts: str) -> list[Need]:
    return [parse_requirement(t, "demo 1.0 Requires-Dist") for t in texts]


def _resolve(table: Table, *texts: str) -> list[str]:
    return [f"{c.name} {c.version}" for c in
            resolve(_needs(*texts), "demo", ARMV7, table, WHERE).chosen]


def test_transitive_requirements_with_the_targets_markers() -> None:
    table = Table({"app-dep": ("2.0", ("leaf>=1", 'winonly; os_name == "nt"',
                                       'x86only; platform_machine == "x86_64"')),
                   "leaf": ("1.5", ())})
    assert _resolve(table, "app-dep") == ["app-dep 2.0", "leaf 1.5"]
    assert table.asked == [["app-dep"], ["leaf>=1"]]  # never winonly or x86only


def test_one_round_merges_the_specifiers_of_a_name() -> None:
    table = Table({"a": ("1.0", ()), "b": ("1.0", ())})
    assert _resolve(table, "a>=0.5", "b", "a<2") == ["a 1.0", "b 1.0"]
    assert table.asked == [["a<2,>=0.5", "b"]]


def test_extras_pull_their_requirements() -> None:
    table = Table({"a": ("1.0", ('b; extra == "fast"', 'c; extra == "other"')),
                   "b": ("1.0", ()), "c": ("1.0", ())})
    assert _resolve(table, "a[fast]") == ["a 1.0", "b 1.0"]
    table = Table({"a": ("1.0", ('b; extra == "fast"',)), "b": ("1.0", ()),
                   "z": ("1.0", ("a[fast]",))})
    assert _resolve(table, "a", "z") == ["a 1.0", "z 1.0", "b 1.0"]


def test_the_wheel_itself_is_not_looked_up() -> None:
    table = Table({"a": ("1.0", ("demo[extra]",))})
    assert _resolve(table, "a", "demo") == ["a 1.0"]


def test_a_later_requirement_that_rejects_the_choice_is_one_line() -> None:
    table = Table({"numpy": ("2.2.6", ()), "old": ("1.0", ("numpy<2",))})
    with pytest.raises(DependencyError) as e:
        _resolve(table, "numpy", "old")
    assert str(e.value).startswith("numpy<2 (needed by old 1.0 Requires-Dist) conflicts with "
                                   "numpy 2.2.6 (numpy-2.2.6-py3-none-any.whl), chosen for "
                                   "demo 1.0 Requires-Dist")
    assert "\n" not in str(e.value)


def test_debian_is_the_fallback() -> None:
    table = Table({"dep": ("1.0", ())}, debs={"numpy": "1.24.2"})
    result = resolve(_needs("numpy>=1.22", "dep"), "demo", ARMV7, table, WHERE)
    assert [c.describe() for c in result.chosen] == [
        "numpy 1.24.2 (Debian python3-numpy)", "dep 1.0 (dep-1.0-py3-none-any.whl)"]
    assert result.wheels == [Path("/wh/dep-1.0-py3-none-any.whl")]
    assert result.debian_trees == [Path("/deb/numpy")]


def test_missing_everywhere_is_one_line_naming_it_and_the_places() -> None:
    table = Table({}, debs={"numpy": "1.24.2"})
    with pytest.raises(DependencyError) as e:
        _resolve(table, "numpy>=2")
    message = str(e.value)
    assert message.startswith(
        "numpy>=2 (needed by demo 1.0 Requires-Dist) not found for cp311 armv7l: looked in "
        "wheelhouse /wh and no index (--no-index); Debian bookworm's python3-numpy 1.24.2 "
        "does not satisfy")
    assert "--platform manylinux2014_armv7l --python-version 3.11" in message
    assert "\n" not in message
    assert e.value.exit_code == 3


def test_pips_own_reason_is_kept_when_it_is_not_the_usual_one() -> None:
    class Offline(Table):
        def wheels(self, needs: Sequence[Need]) -> tuple[dict[str, Path], dict[str, str]]:
            return {}, {n.name: "Could not fetch URL https://pypi.org/simple/x/" for n in needs}

    with pytest.raises(DependencyError, match=r"\(pip: Could not fetch URL"):
        resolve(_needs("x"), "demo", ARMV7, Offline({}), "the index")


def test_sources_describe_where_they_look(tmp_path: Path) -> None:
    assert Sources().where() == "the index"
    assert Sources((Path("/a"), Path("/b")), use_index=False).where() == (
        "wheelhouse /a, /b and no index (--no-index)")
    path = tmp_path / "r.txt"
    path.write_text("pytest\n")
    assert [str(n) for n in Sources(extra=("hypothesis>=6",),
                                    requirement_files=(path,)).needs()] == [
        "hypothesis>=6", "pytest"]


# pip's command, as assembled.

def test_pip_argv_offline_from_wheelhouses() -> None:
    needs = _needs("numpy>=1.22", "dep[x]")
    argv = pipdownload.pip_argv(needs, Sources((Path("/wh1"), Path("/wh2")), use_index=False),
                                ARMV7, Path("/tmp/d"))
    assert argv == [
        "timeout", "--kill-after=10", "600", sys.executable, "-m", "pip", "download",
        "--no-deps", "--dest", "/tmp/d", "--disable-pip-version-check", "--no-input",
        "--progress-bar", "off", "--timeout", "60", "--only-binary=:all:",
        "--python-version", "3.11", "--implementation", "cp", "--abi", "cp311",
        "--platform", "manylinux_2_17_armv7l", "--platform", "manylinux2014_armv7l",
        "--platform", "linux_armv7l", "--find-links", "/wh1", "--find-links", "/wh2",
        "--no-index", "--isolated", "--", "numpy>=1.22", "dep[x]"]


def test_pip_argv_with_the_index_keeps_the_users_pip_configuration() -> None:
    argv = pipdownload.pip_argv(_needs("numpy"), Sources(), ARMV7, Path("/d"))
    assert "--no-index" not in argv and "--isolated" not in argv
    assert argv[-2:] == ["--", "numpy"]


# The Debian closure, over apt-cache show's text.

SHOW = """\
Package: python3-numpy
Version: 1:1.24.2-1+deb12u1
Architecture: armhf
Depends: python3-pkg-resources, python3 (<< 3.12), python3.11:any, libblas3 | libblas.so.3,
 libc6 (>= 2.35), liblapack3 | liblapack.so.3
Description: fast array facility

Package: libblas3
Version: 3.11.0-2
Architecture: armhf
Depends: libc6 (>= 2.4), libgcc-s1 (>= 3.5)

Package: liblapack3
Version: 3.11.0-2
Architecture: armhf
Pre-Depends: libgfortran5 (>= 8)
Depends: libblas3 | libblas.so.3, libc6 (>= 2.29)

Package: libgfortran5
Version: 12.2.0-14+deb12u1
Architecture: armhf
Depends: gcc-12-base (= 12.2.0-14+deb12u1), libc6 (>= 2.34)

Package: python3-pkg-resources
Version: 66.1.1-1+deb12u2
Architecture: all
Depends: python3:any

Package: evil;rm
Version: 1
Architecture: armhf
"""


def test_stanzas_and_depends() -> None:
    stanzas = debdeps.parse_stanzas(SHOW)
    assert "evil;rm" not in stanzas
    numpy = stanzas["python3-numpy"]
    assert (numpy.version, numpy.architecture) == ("1:1.24.2-1+deb12u1", "armhf")
    assert numpy.depends[:3] == (("python3-pkg-resources",), ("python3",), ("python3.11",))
    assert stanzas["liblapack3"].depends[0] == ("libgfortran5",)  # Pre-Depends first


def test_closure_skips_the_root_and_the_interpreter() -> None:
    stanzas = debdeps.parse_stanzas(SHOW)
    asked: list[list[str]] = []

    def show(names: list[str]) -> dict[str, debdeps.Stanza]:
        asked.append(names)
        return {n: stanzas[n] for n in names if n in stanzas}

    root = {"libc6", "libgcc-s1", "python3-numpy"}
    provided = lambda name: name in root or name.startswith("python3.") or name == "python3"  # noqa: E731
    found = [s.package for s in debdeps.closure(stanzas["python3-numpy"], show, provided)]
    assert found == ["python3-numpy", "python3-pkg-resources", "libblas3", "liblapack3",
                     "libgfortran5"]  # gcc-12-base: no stanza, a warning, nothing to fetch
    assert all("libc6" not in names for names in asked)


def test_library_and_site_dirs_of_unpacked_trees(tmp_path: Path) -> None:
    tree = tmp_path / "libblas3"
    for rel in ("usr/lib/arm-linux-gnueabihf/blas/libblas.so.3",
                "usr/lib/arm-linux-gnueabihf/libgfortran.so.5.0.0",
                "usr/lib/python3/dist-packages/numpy/core/_umath.cpython-311-arm.so",
                "usr/share/doc/libblas3/copyright"):
        (tree / rel).parent.mkdir(parents=True, exist_ok=True)
        (tree / rel).write_bytes(b"")
    lib = tree / "usr/lib/arm-linux-gnueabihf"
    assert debdeps.library_dirs([tree]) == [lib, lib / "blas"]
    assert debdeps.site_dirs([tree]) == [tree / "usr/lib/python3/dist-packages"]
