"""The target Python as its own axis: which builder suite builds which (cpu, CPython) pair
for each Bazel, the default per cpu, and bad input in one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from cross_compiler import config, resources
from cross_compiler.api import python_groups
from cross_compiler.errors import ConfigError
from cross_compiler.toolchain import suites
from cross_compiler.toolchain.targets import load_targets

CATALOGUE = suites.load_suites(resources.data_dir("suites"))
ARCHES = {t.cpu: t.debian_arch for t in load_targets(["all"], resources.toolchains_dir())}


def _pairs(tmp_path: Path, cpus: list[str], builder: str, **values: object,
           ) -> list[tuple[str, str, str]]:
    settings = config.resolve({}, "", {}, dict(values))
    groups = python_groups(tmp_path, cpus, settings, {}, CATALOGUE[builder])
    return [(t.cpu, t.python_version, s.name) for s, targets in groups for t in targets
            if t.debian_python]


def test_default_is_the_builders_python_else_the_nearest_the_cpu_has(tmp_path: Path) -> None:
    assert _pairs(tmp_path, ["aarch64", "riscv64"], "bookworm") == [
        ("aarch64", "3.11", "bookworm"), ("riscv64", "3.13", "trixie")]
    assert _pairs(tmp_path, ["riscv64", "s390x"], "sid") == [
        ("riscv64", "3.13", "sid"), ("s390x", "3.13", "sid")]


def test_a_python_picks_the_suite_of_the_same_bazel_that_has_it(tmp_path: Path) -> None:
    assert _pairs(tmp_path, ["aarch64"], "bookworm", python=["3.13"]) == [
        ("aarch64", "3.13", "trixie")]
    assert _pairs(tmp_path, ["aarch64"], "sid", python=["3.13,3.14"]) == [
        ("aarch64", "3.13", "sid"), ("aarch64", "3.14", "sid")]
    assert _pairs(tmp_path, ["armv7hf"], "sid", python=["all"]) == [
        ("armv7hf", v, "sid") for v in ("3.13", "3.14", "3.15")]
    assert _pairs(tmp_path, ["aarch64", "riscv64"], "bookworm", python=["all"]) == [
        ("aarch64", "3.11", "bookworm"), ("aarch64", "3.13", "trixie"),
        ("riscv64", "3.13", "trixie")]


@pytest.mark.parametrize(("builder", "python", "cpus", "message"), [
    ("bookworm", "3.14", ["aarch64"],
     r"no Bazel 4 builder has CPython 3\.14 for aarch64.*aarch64: 3\.9 \(Bazel 4, bookworm\)"
     r".*3\.11 \(Bazel 4, bookworm\).*3\.14 \(Bazel 7, sid\)"),
    ("bookworm", "3.11", ["riscv64"], r"no Bazel 4 builder has CPython 3\.11 for riscv64"),
    ("sid", "3.x", ["aarch64"], r"python '3\.x' is not a CPython version"),
    ("sid", "3", ["aarch64"], r"python '3' is not a CPython version like 3\.13; use one of: "
                             r"3\.9, 3\.11, 3\.13, 3\.14, 3\.15"),
    ("sid", "2.7", ["aarch64"], r"no Bazel 7 builder has CPython 2\.7"),
    ("sid", "3.10", ["aarch64"], r"no Bazel 7 builder has CPython 3\.10 for aarch64"),
    ("bookworm", "3.9", ["riscv64"], r"no Bazel 4 builder has CPython 3\.9 for riscv64"),
])
def test_bad_pythons_are_one_line(tmp_path: Path, builder: str, python: str, cpus: list[str],
                                  message: str) -> None:
    with pytest.raises(ConfigError, match=message) as e:
        _pairs(tmp_path, cpus, builder, python=[python])
    assert "\n" not in str(e.value)


def test_a_named_suite_is_the_only_candidate(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no Bazel 4 builder has a Python for riscv64"):
        _pairs(tmp_path, ["riscv64"], "bookworm", suite="bookworm")


def test_python_table_and_sid_roots_hold_every_python() -> None:
    table = suites.python_table(CATALOGUE, ARCHES)
    assert list(table) == ["3.9", "3.11", "3.13", "3.14", "3.15"]
    assert table["3.9"] == {"aarch64": ["bookworm", "sid"], "armv7hf": ["bookworm", "sid"]}
    assert table["3.13"]["riscv64"] == ["trixie", "sid"]
    assert "riscv64" not in table["3.11"]
    packages = CATALOGUE["sid"].root_packages("arm64")
    assert {"python3.13-minimal:arm64", "python3.14-minimal:arm64",
            "python3.15-minimal:arm64"} <= set(packages)
    (target,) = load_targets(["riscv64"], resources.toolchains_dir())
    assert suites.for_suite(target, CATALOGUE["sid"], "3.15").debian_python
    assert not suites.for_suite(target, CATALOGUE["bookworm"]).debian_python
    (armhf,) = load_targets(["armv7hf"], resources.toolchains_dir())
    lent = suites.for_suite(armhf, CATALOGUE["bookworm"], "3.9")
    assert (lent.python_source, lent.suite) == ("bullseye", "bookworm")
    assert "libssl1.1:armhf" in suites.foreign_root_packages(CATALOGUE["bullseye"], "3.9",
                                                             "armhf")
    assert not CATALOGUE["bullseye"].builder


def test_the_readme_table_is_the_one_the_data_makes() -> None:
    """Refresh with `invoke update-python-table` after changing suites/ or toolchains/."""
    from tests.readme_tables import README, python_table, readme_table

    assert readme_table(README.read_text()) == python_table()
