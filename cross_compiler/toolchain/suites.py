"""Debian suites as data: ``suites/<name>.toml`` -> frozen ``Suite``; which one a build uses.

A suite fixes what a builder image holds: its Bazel (Debian's ``bazel-bootstrap``), its
Python version (the target Pythons' headers, and the interpreter that packages wheels),
the package names of a target root (``*t64`` renames) and where qemu-user comes from.
Pure: the callers read the workspace files and the host's os-release.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cross_compiler.datafile import load_toml
from cross_compiler.errors import ConfigError, TargetError
from cross_compiler.toolchain.targets import Target, _field, _unknown_keys

_STR_FIELDS = ("suite", "bazel_version", "python_version", "glibc", "qemu_package")
_LIST_FIELDS = ("bazel_packages", "python_packages", "runtime_packages", "numpy_packages",
                "no_python_arches", "extra_pythons")
_SAFE = re.compile(r"^[a-z0-9][a-z0-9.+{}-]*$")


@dataclass(frozen=True)
class Suite:
    name: str
    bazel_version: str
    python_version: str
    glibc: str  # the suite's libc6 (a lower bound: sid moves), for target wheel tags
    bazel_packages: tuple[str, ...]
    python_packages: tuple[str, ...]  # "{v}" stands for python_version
    runtime_packages: tuple[str, ...]
    numpy_packages: tuple[str, ...]
    no_python_arches: tuple[str, ...]  # Debian architectures without Python in this suite
    qemu_package: str
    source: Path
    # More CPython versions the suite ships (sid: 3.14, 3.15): target roots, and in the
    # builder image the build machine's python3.X that packages and runs repository rules.
    extra_pythons: tuple[str, ...] = ()
    # CPythons of older suites this builder also builds for ({"3.9": "bullseye"}): their
    # python3.X installed in the image from that suite (apt, pinned low), target roots of
    # that suite's Python with this suite's newer libc (what the cross compiler needs).
    foreign_pythons: Mapping[str, str] = field(default_factory=dict)

    @property
    def pythons(self) -> tuple[str, ...]:
        """Every CPython version this suite builds for, its default first."""
        return (self.python_version, *self.extra_pythons, *self.foreign_pythons)

    @property
    def builder(self) -> bool:
        """False for a suite that only lends its Python (bullseye): no Bazel, no image."""
        return bool(self.bazel_version)

    @property
    def bazel_major(self) -> int:
        return int(self.bazel_version.split(".")[0]) if self.bazel_version else 0

    @property
    def base_image(self) -> str:
        return f"debian:{self.name}"

    def root_packages(self, debian_arch: str) -> list[str]:
        """``name:arch`` of every package a target root unpacks: every CPython the suite
        builds for (one root per architecture holds them all), the runtime, numpy."""
        names = [p.replace("{v}", v) for v in (self.python_version, *self.extra_pythons)
                 for p in self.python_packages]
        return [f"{n}:{debian_arch}"
                for n in (*names, *self.runtime_packages, *self.numpy_packages)]

    def has_python(self, debian_arch: str) -> bool:
        return debian_arch not in self.no_python_arches


def parse_suite(data: dict[str, Any], source: Path) -> Suite:
    where = str(source)
    _unknown_keys(data, (*_STR_FIELDS, *_LIST_FIELDS, "foreign_pythons"), where)
    strings = {name: _field(data, name, str, where) for name in _STR_FIELDS}
    lists: dict[str, tuple[str, ...]] = {}
    for name in _LIST_FIELDS:
        value = _field(data, name, list, where, default=[])
        if not all(isinstance(v, str) and _SAFE.match(v) for v in value):
            raise TargetError(f"{where}: field {name!r} must be a list of Debian package or "
                              "architecture names")
        lists[name] = tuple(value)
    for name, value in strings.items():
        if not _SAFE.match(value) and not (name == "bazel_version" and value == ""):
            raise TargetError(f"{where}: field {name!r} has an invalid value {value!r}")
    if strings["suite"] != source.stem:
        raise TargetError(f"{where}: field 'suite' is {strings['suite']!r} but the file is "
                          f"named {source.name!r}")
    if strings["bazel_version"] and not re.fullmatch(r"\d+\.\d+\.\d+",
                                                      strings["bazel_version"]):
        raise TargetError(f"{where}: field 'bazel_version' must be like 7.7.1 (\"\": no "
                          "builder, a suite that only lends its Python)")
    foreign = data.get("foreign_pythons", {})
    if not isinstance(foreign, dict) or not all(
            isinstance(k, str) and re.fullmatch(r"3\.\d+", k) and isinstance(v, str)
            and _SAFE.match(v) for k, v in foreign.items()):
        raise TargetError(f"{where}: field 'foreign_pythons' must be a table like "
                          '{"3.9" = "bullseye"}')
    if not re.fullmatch(r"3\.\d+", strings["python_version"]):
        raise TargetError(f"{where}: field 'python_version' must be like 3.13")
    bad = [v for v in lists["extra_pythons"]
           if not re.fullmatch(r"3\.\d+", v) or v == strings["python_version"]]
    if bad:
        raise TargetError(f"{where}: field 'extra_pythons' has {bad[0]!r}",
                          "list other versions like 3.14, not the suite's python_version")
    if not re.fullmatch(r"2\.\d+", strings["glibc"]):
        raise TargetError(f"{where}: field 'glibc' must be like 2.36")
    return Suite(
        name=strings["suite"], bazel_version=strings["bazel_version"],
        python_version=strings["python_version"], glibc=strings["glibc"],
        qemu_package=strings["qemu_package"],
        bazel_packages=lists["bazel_packages"], python_packages=lists["python_packages"],
        runtime_packages=lists["runtime_packages"], numpy_packages=lists["numpy_packages"],
        no_python_arches=lists["no_python_arches"],
        source=source, extra_pythons=lists["extra_pythons"], foreign_pythons=dict(foreign),
    )


def load_suites(directory: Path) -> dict[str, Suite]:
    suites: dict[str, Suite] = {}
    for path in sorted(directory.glob("*.toml")):
        suites[path.stem] = parse_suite(load_toml(path, "suite"), path)
    return suites


def _available(suites: dict[str, Suite]) -> str:
    return ", ".join(f"Bazel {s.bazel_version} ({s.name})" for s in suites.values())


def read_bazelversion(text: str) -> str:
    """The first non-comment line of ``.bazelversion`` (bazelisk's convention)."""
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            return line
    return ""


def suite_for_bazel_version(wanted: str, suites: dict[str, Suite]) -> Suite:
    """The suite whose Bazel has the major version ``.bazelversion`` asks for.

    Debian packages one release per major line; a workspace pinned to 7.4.0 builds with
    7.7.1 (bazelisk users do the same with ``7.x``). Forks (``user/7.1.0``) and bazelisk's
    ``latest``/``rolling`` names cannot be matched to an image and are refused.
    """
    match = re.fullmatch(r"(\d+)(?:\.(?:\d+|x|\*))*(?:[-rc.\w]*)", wanted)
    if not match:
        raise ConfigError(
            f".bazelversion asks for {wanted!r}, which no builder image provides",
            f"available: {_available(suites)}; write one of those versions, or pass --suite",
        )
    major = int(match[1])
    for suite in sorted(suites.values(), key=lambda s: s.name):
        if suite.bazel_major == major:
            return suite
    raise ConfigError(
        f".bazelversion asks for Bazel {wanted}, which no builder image provides",
        f"available: {_available(suites)}; change .bazelversion or pass --suite",
    )


def choose_suite(requested: str, bazelversion: str | None, has_module: bool,
                 suites: dict[str, Suite], default: str = "bookworm") -> tuple[Suite, str]:
    """(suite, why): a named suite, else ``.bazelversion``'s Bazel, else the newest Bazel
    (bzlmod-capable) for a workspace with a MODULE.bazel, with or without a WORKSPACE
    (Bazel 4 ignores MODULE.bazel, or cannot build the workspace at all), else ``default``."""
    if requested not in ("", "auto"):
        builders = sorted(n for n, s in suites.items() if s.builder)
        if requested not in suites or not suites[requested].builder:
            what = (f"suite {requested!r} has no builder (it only lends its Python)"
                    if requested in suites else f"unknown suite {requested!r}")
            raise ConfigError(what, f"use auto or one of: {', '.join(builders)}")
        return suites[requested], "set by suite"
    if bazelversion:
        return suite_for_bazel_version(bazelversion, suites), f".bazelversion says {bazelversion}"
    if has_module:
        newest = max(sorted(suites.values(), key=lambda s: s.name), key=lambda s: s.bazel_major)
        return newest, (f"the workspace has MODULE.bazel: bzlmod needs Bazel "
                        f"{newest.bazel_major}; a .bazelversion or --suite picks another")
    return suites[default], "default"


def host_suite(os_release: str, suites: dict[str, Suite], default: str = "bookworm") -> str:
    """The catalogue suite matching /etc/os-release (sid calls itself the next codename)."""
    values = dict(
        (k, v.strip('"')) for k, _, v in (line.partition("=") for line in os_release.splitlines())
    )
    codename = values.get("VERSION_CODENAME", "")
    if codename in suites:
        return codename
    if "sid" in values.get("PRETTY_NAME", "") and "sid" in suites:
        return "sid"
    return default


def for_suite(target: Target, suite: Suite, python: str = "") -> Target:
    """The target as built in ``suite`` for CPython ``python`` (default: the suite's), and
    whether the suite has that Python for its architecture."""
    version = python or suite.python_version
    return dataclasses.replace(target, python_version=version, glibc=suite.glibc,
                               debian_python=(suite.has_python(target.debian_arch)
                                              and version in suite.pythons),
                               suite=suite.name,
                               python_source=suite.foreign_pythons.get(version, ""))


def foreign_root_packages(source: Suite, version: str, debian_arch: str) -> list[str]:
    """``name:arch`` of a root for ``source``'s CPython ``version`` inside a newer builder:
    its Python packages and the runtime it names; apt (the builder's suite pinned first)
    takes each name the builder's suite has from there (libc6: the newer one)."""
    names = [p.replace("{v}", version) for p in source.python_packages]
    runtime = [p for p in source.runtime_packages if p != "base-files"]
    return [f"{n}:{debian_arch}" for n in (*names, *runtime)]


def has_python(suite: Suite, version: str, debian_arch: str, suites: dict[str, Suite]) -> bool:
    """Whether ``suite`` builds ``debian_arch`` for CPython ``version``: its own or extra
    Python for an architecture it has, or a lent one whose suite has that architecture."""
    if version not in suite.pythons or not suite.has_python(debian_arch):
        return False
    source = suite.foreign_pythons.get(version)
    return source is None or (source in suites and suites[source].has_python(debian_arch))


def python_table(suites: dict[str, Suite], debian_arches: dict[str, str],
                 ) -> dict[str, dict[str, list[str]]]:
    """``{python: {cpu: [suite, ...]}}``: which suites build which cpu for which CPython."""
    table: dict[str, dict[str, list[str]]] = {}
    for suite in sorted((s for s in suites.values() if s.builder),
                        key=lambda s: (s.bazel_major, s.name)):
        for version in suite.pythons:
            for cpu, arch in debian_arches.items():
                if has_python(suite, version, arch, suites):
                    table.setdefault(version, {}).setdefault(cpu, []).append(suite.name)
    return dict(sorted(table.items(), key=lambda kv: tuple(int(p) for p in kv[0].split("."))))


def python_suite(version: str, bazel_major: int, cpus: dict[str, str],
                 suites: dict[str, Suite], prefer: str = "") -> tuple[Suite, str, str]:
    """The builder suite with Bazel ``bazel_major`` that builds every cpu in ``cpus``
    (cpu -> Debian arch) for CPython ``version`` ("" = the default), and why.

    Default: the suite of that Bazel whose own Python every cpu has (bookworm), else the
    nearest version that every cpu has (riscv64 on Bazel 4: trixie's 3.13). Bad input is
    one line: an unknown version, a version no suite of that Bazel has for a cpu (listing
    what exists per cpu), a version only another Bazel has."""
    first = prefer or _DEFAULT_SUITE.get(bazel_major, "")
    same = sorted((s for s in suites.values() if s.bazel_major == bazel_major),
                  key=lambda s: (s.name != first, s.name))
    every = {v for s in suites.values() for v in s.pythons}

    def serves(suite: Suite, v: str) -> bool:
        return all(has_python(suite, v, a, suites) for a in cpus.values())

    if version:
        if not re.fullmatch(r"\d+\.\d+", version):
            raise ConfigError(f"python {version!r} is not a CPython version like 3.13",
                              f"use one of: {', '.join(_sorted_versions(every))}")
        native = [s for s in same if s.python_version == version and serves(s, version)]
        found = native or [s for s in same if serves(s, version)]
        if found:
            return found[0], version, f"Python {version}"
        raise ConfigError(f"no Bazel {bazel_major} builder has CPython {version} for "
                          f"{', '.join(cpus)}", _what_exists(bazel_major, cpus, suites))
    for suite in same[:1]:  # the default suite's own Python
        if serves(suite, suite.python_version):
            return suite, suite.python_version, "default"
    versions = _sorted_versions({v for s in same for v in s.pythons})
    default = same[0].python_version if same else ""
    nearest = sorted(versions, key=lambda v: (abs(_minor(v) - _minor(default)), -_minor(v)))
    for v in nearest:
        found = [s for s in same if s.python_version == v and serves(s, v)] or [
            s for s in same if serves(s, v)]
        if found:
            return found[0], v, f"the nearest to {default} that {', '.join(cpus)} has"
    raise ConfigError(f"no Bazel {bazel_major} builder has a Python for {', '.join(cpus)}",
                      _what_exists(bazel_major, cpus, suites))


_DEFAULT_SUITE = {4: "bookworm"}


def _minor(version: str) -> int:
    return int(version.split(".")[1]) if version.count(".") == 1 else 0


def _sorted_versions(versions: set[str]) -> list[str]:
    return sorted(versions, key=_minor)


def _what_exists(bazel_major: int, cpus: dict[str, str], suites: dict[str, Suite]) -> str:
    parts = []
    for cpu, arch in cpus.items():
        have = sorted({f"{v} (Bazel {s.bazel_major}, {s.name})" for s in suites.values()
                       for v in s.pythons if s.builder and has_python(s, v, arch, suites)},
                      key=lambda x: (_minor(x.split()[0]), x))
        parts.append(f"{cpu}: {', '.join(have) or 'none'}")
    return "; ".join(parts)


def python_table_markdown(suites: dict[str, Suite], debian_arches: dict[str, str]) -> str:
    """The README's Python x cpu table: for each CPython, the suites that build each cpu
    for it, **bold** where it is that cpu's default on that Bazel."""
    table = python_table(suites, debian_arches)
    defaults: set[tuple[str, str, str]] = set()
    for major in sorted({s.bazel_major for s in suites.values()}):
        for cpu, arch in debian_arches.items():
            try:
                suite, version, _ = python_suite("", major, {cpu: arch}, suites)
            except ConfigError:
                continue
            defaults.add((version, cpu, suite.name))
    cpus = list(debian_arches)
    lines = ["| CPython | " + " | ".join(cpus) + " |", "|---" * (len(cpus) + 1) + "|"]
    for version, per_cpu in table.items():
        cells = []
        for cpu in cpus:
            names = [f"**{n}**" if (version, cpu, n) in defaults else n
                     for n in per_cpu.get(cpu, [])]
            cells.append(", ".join(names) or "—")
        lines.append(f"| {version} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def lent_packaging_dir(version: str) -> str:
    """Where a builder image unpacks a lent CPython's own setuptools, wheel and distutils
    (its suite's: the builder's setuptools does not work with it)."""
    return f"/opt/cross_compiler/lent/python{version}"


def lent_packaging_path(version: str) -> list[str]:
    """The PYTHONPATH entries of lent_packaging_dir that exist on this machine."""
    root = lent_packaging_dir(version)
    dirs = [f"{root}/usr/lib/python3/dist-packages"]
    return [d for d in dirs if os.path.isdir(d)]
