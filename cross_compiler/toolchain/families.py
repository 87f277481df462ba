"""Compiler families as data: ``families/<name>.toml`` -> ``Family``; a family resolved for
one target -> ``ToolchainFlags`` (flag sets, tool programs, probe arguments). Pure.

A family is gcc (Debian's cross g++), clang (+ a sysroot) or any other file: rendering and
probing read only the resolved values, never the family's name. Program names and flags
may say ``{tool_prefix}``, ``{triple}`` and ``{compiler_package}``; a family whose tools
need arguments of their own (zig's ``c++ -target T``) lists them as ``[wrappers]``, which
may also say ``{glibc}`` (the route's baseline) and ``{cache_dir}`` (the tool's cache).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from cross_compiler.datafile import load_toml
from cross_compiler.errors import TargetError
from cross_compiler.toolchain.targets import Target, _unknown_keys

DEFAULT = "gcc"

_TOP_FIELDS = ("family", "compiler", "packages", "required", "optional_tools", "needs_sysroot",
               "base", "drop", "tools", "flags", "cpu", "python_package", "wrappers",
               "wrapper_env", "install_hint", "writable_dirs", "bazel_flags")
_CPU_FIELDS = ("triple", "drop", "required", "compile", "link")
_FLAG_SETS = ("compile", "cxx", "opt_compile", "dbg_compile", "unfiltered_compile", "link",
              "opt_link", "link_libs", "probe")
_TOOLS = ("ar", "cpp", "dwp", "gcc", "gcov", "ld", "nm", "objcopy", "objdump", "strip")
_PROGRAM = re.compile(r"[A-Za-z0-9_.{}+/-]+")
_FLAG = re.compile(r"[^\x00-\x1f\x7f]+")
_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")


@dataclass(frozen=True)
class FlagSets:
    """The flag lists of a cc_toolchain_config, in Bazel's feature order."""

    compile: tuple[str, ...] = ()
    cxx: tuple[str, ...] = ()
    opt_compile: tuple[str, ...] = ()
    dbg_compile: tuple[str, ...] = ()
    unfiltered_compile: tuple[str, ...] = ()
    link: tuple[str, ...] = ()
    opt_link: tuple[str, ...] = ()
    link_libs: tuple[str, ...] = ()
    probe: tuple[str, ...] = ()  # extra arguments of the include-dir probe


@dataclass(frozen=True)
class CpuOverride:
    triple: str = ""  # the compiler's --target, when it differs from the target's triple
    drop: tuple[str, ...] = ()
    required: tuple[str, ...] = ()
    compile: tuple[str, ...] = ()
    link: tuple[str, ...] = ()


@dataclass(frozen=True)
class Family:
    name: str
    compiler: str
    packages: str
    tools: Mapping[str, str]
    flags: FlagSets
    source: Path
    required: tuple[str, ...] = ()
    optional_tools: tuple[str, ...] = ()
    needs_sysroot: bool = False
    cpu: Mapping[str, CpuOverride] = field(default_factory=dict)
    python_package: str = ""  # programs not on PATH are looked for in its directory
    install_hint: str = ""  # how to install a missing tool, when not `apt-get install`
    writable_dirs: tuple[str, ...] = ()  # written by the tools outside Bazel's sandbox
    wrappers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    wrapper_env: Mapping[str, str] = field(default_factory=dict)
    bazel_flags: tuple[str, ...] = ()  # for every Bazel build and test with this family

    def resolve(self, target: Target, glibc: str = "", cache_dir: str = "") -> ToolchainFlags:
        """The family's values for ``target``, placeholders filled in (``glibc``: the
        route's baseline, ``cache_dir``: the tool's cache, for families that use them)."""
        override = self.cpu.get(target.cpu, CpuOverride())
        values = {"{tool_prefix}": target.tool_prefix,
                  "{triple}": override.triple or target.triple,
                  "{compiler_package}": target.compiler_package,
                  "{glibc}": glibc, "{cache_dir}": cache_dir}
        used = [*(a for args in self.wrappers.values() for a in args),
                *self.wrapper_env.values(), *self.writable_dirs]
        for key, value in (("{glibc}", glibc), ("{cache_dir}", cache_dir)):
            if not value and any(key in a for a in used):
                raise TargetError(f"compiler family {self.name!r} needs {key[1:-1]} to build "
                                  f"for {target.cpu}", "build it with --manylinux")

        def fill(text: str) -> str:
            for key, value in values.items():
                text = text.replace(key, value)
            return text

        def flag_set(name: str) -> tuple[str, ...]:
            items = [*getattr(self.flags, name), *getattr(override, name, ())]
            return tuple(fill(f) for f in items if f not in override.drop)

        return ToolchainFlags(
            family=self.name, compiler=self.compiler, packages=fill(self.packages),
            tools={name: fill(program) for name, program in sorted(self.tools.items())},
            required=tuple(fill(p) for p in (*self.required, *override.required)),
            optional_tools=self.optional_tools, needs_sysroot=self.needs_sysroot,
            flags=FlagSets(**{name: flag_set(name) for name in _FLAG_SETS}),
            python_package=self.python_package, install_hint=self.install_hint,
            writable_dirs=tuple(fill(d) for d in self.writable_dirs),
            wrappers={name: tuple(fill(a) for a in args)
                      for name, args in sorted(self.wrappers.items())},
            wrapper_env={name: fill(v) for name, v in sorted(self.wrapper_env.items())},
            bazel_flags=self.bazel_flags,
        )


@dataclass(frozen=True)
class ToolchainFlags:
    """One family resolved for one target: what probing and rendering use."""

    family: str
    compiler: str
    packages: str  # Debian packages that provide the programs
    tools: Mapping[str, str]  # Bazel tool_path name -> program name (or path)
    flags: FlagSets
    required: tuple[str, ...] = ()
    optional_tools: tuple[str, ...] = ()
    needs_sysroot: bool = False
    python_package: str = ""
    install_hint: str = ""  # default: apt-get install the packages
    writable_dirs: tuple[str, ...] = ()  # Bazel's sandbox lets the tools write there
    # Bazel tool_path name -> arguments before Bazel's: a script in the rendered package.
    wrappers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    wrapper_env: Mapping[str, str] = field(default_factory=dict)  # set by every wrapper
    bazel_flags: tuple[str, ...] = ()  # Bazel build/test flags the family needs


# A Bazel flag with an optional value, nothing a shell or Starlark would read twice.
_BAZEL_FLAG = re.compile(r"--[a-z_]+(?:=[A-Za-z0-9_.,:/+-]*)?")


def _strings(data: dict[str, Any], name: str, where: str, pattern: re.Pattern[str]
             ) -> tuple[str, ...]:
    value = data.get(name, [])
    if not isinstance(value, list) or not all(
            isinstance(v, str) and pattern.fullmatch(v) for v in value):
        raise TargetError(f"{where}: field {name!r} must be a list of strings without "
                          "control characters")
    return tuple(value)


def _string(data: dict[str, Any], name: str, where: str, default: str | None = None) -> str:
    value = data.get(name, default)
    if not isinstance(value, str) or not _PROGRAM.fullmatch(value.replace(" ", "")):
        raise TargetError(f"{where}: field {name!r} must be a name, got {value!r}")
    return value


def _flag_sets(data: Any, where: str) -> dict[str, tuple[str, ...]]:
    if not isinstance(data, dict):
        raise TargetError(f"{where}: must be a table")
    _unknown_keys(data, _FLAG_SETS, where)
    return {name: _strings(data, name, where, _FLAG) for name in _FLAG_SETS if name in data}


def parse_family(data: dict[str, Any], source: Path,
                 base: Family | None = None) -> Family:
    """Validate one parsed family file; ``base`` is the family its ``base`` field names."""
    where = str(source)
    _unknown_keys(data, _TOP_FIELDS, where)
    name = _string(data, "family", where)
    if name != source.stem:
        raise TargetError(f"{where}: field 'family' is {name!r} but the file is named "
                          f"{source.name!r}")
    tools = data.get("tools", dict(base.tools) if base else None)
    if not isinstance(tools, dict):
        raise TargetError(f"{where}: missing table [tools]", "see families/gcc.toml")
    _unknown_keys(tools, _TOOLS, f"{where}: [tools]")
    missing = [t for t in _TOOLS if t not in tools]
    if missing:
        raise TargetError(f"{where}: [tools] lacks {', '.join(missing)}")
    tools = {k: _string(tools, k, f"{where}: [tools]") for k in _TOOLS}
    added = _flag_sets(data.get("flags", {}), f"{where}: [flags]")
    drop = _strings(data, "drop", where, _FLAG)
    sets: dict[str, tuple[str, ...]] = {}
    for f in fields(FlagSets):
        inherited = getattr(base.flags, f.name) if base else ()
        sets[f.name] = (*(x for x in inherited if x not in drop), *added.get(f.name, ()))
    cpus: dict[str, CpuOverride] = {}
    cpu_table = data.get("cpu", {})
    if not isinstance(cpu_table, dict):
        raise TargetError(f"{where}: [cpu] must hold one table per cpu")
    for cpu, table in cpu_table.items():
        cpu_where = f"{where}: [cpu.{cpu}]"
        if not isinstance(table, dict):
            raise TargetError(f"{cpu_where}: must be a table")
        _unknown_keys(table, _CPU_FIELDS, cpu_where)
        cpus[cpu] = CpuOverride(
            triple=_string(table, "triple", cpu_where, "") if "triple" in table else "",
            **{k: _strings(table, k, cpu_where, _FLAG) for k in _CPU_FIELDS if k != "triple"})
    needs_sysroot = data.get("needs_sysroot", False)
    if not isinstance(needs_sysroot, bool):
        raise TargetError(f"{where}: field 'needs_sysroot' must be true or false")
    wrappers = data.get("wrappers", {})
    if not isinstance(wrappers, dict):
        raise TargetError(f"{where}: [wrappers] must map tool names to argument lists")
    _unknown_keys(wrappers, _TOOLS, f"{where}: [wrappers]")
    env = data.get("wrapper_env", {})
    if not isinstance(env, dict) or not all(
            isinstance(k, str) and _ENV_NAME.fullmatch(k) and isinstance(v, str)
            and _FLAG.fullmatch(v) for k, v in env.items()):
        raise TargetError(f"{where}: [wrapper_env] must map variable names to strings")
    return Family(
        name=name, compiler=_string(data, "compiler", where),
        packages=_string(data, "packages", where), tools=tools,
        flags=FlagSets(**sets), source=source,
        required=_strings(data, "required", where, _PROGRAM),
        optional_tools=_strings(data, "optional_tools", where, _PROGRAM),
        needs_sysroot=needs_sysroot, cpu=cpus,
        python_package=_string(data, "python_package", where, "")
        if "python_package" in data else "",
        wrappers={k: _strings(wrappers, k, f"{where}: [wrappers]", _FLAG) for k in wrappers},
        wrapper_env=dict(env),
        install_hint=_hint(data, where),
        writable_dirs=_strings(data, "writable_dirs", where, _FLAG),
        bazel_flags=_strings(data, "bazel_flags", where, _BAZEL_FLAG),
    )


def _hint(data: dict[str, Any], where: str) -> str:
    value = data.get("install_hint", "")
    if not isinstance(value, str) or not _FLAG.fullmatch(value or "x"):
        raise TargetError(f"{where}: field 'install_hint' must be one line of text")
    return value


def available_families(directory: Path) -> list[str]:
    return sorted(p.stem for p in directory.glob("*.toml"))


def load_family(name: str, directory: Path) -> Family:
    """Load ``<directory>/<name>.toml`` (and the family it builds on)."""
    names = available_families(directory)
    if name not in names:
        raise TargetError(f"unknown compiler family {name!r}",
                          f"valid families: {', '.join(names)}")
    path = directory / f"{name}.toml"
    data = load_toml(path, "family")
    base_name = data.get("base")
    if base_name is not None:
        if not isinstance(base_name, str) or base_name == name:
            raise TargetError(f"{path}: field 'base' must name another family")
        base = load_family(base_name, directory)
        if base.cpu:
            raise TargetError(f"{path}: base family {base_name!r} has [cpu] tables",
                              "a base family must be plain")
        return parse_family(data, path, base)
    return parse_family(data, path)


@functools.cache
def shipped(name: str = DEFAULT) -> Family:
    """A family from the shipped catalogue (``families/``)."""
    from cross_compiler.resources import data_dir

    return load_family(name, data_dir("families"))


def default_flags(target: Target) -> ToolchainFlags:
    """Today's toolchain: the default family (Debian's cross gcc) for ``target``."""
    return shipped(DEFAULT).resolve(target)


__all__ = ["DEFAULT", "Family", "FlagSets", "ToolchainFlags", "available_families",
           "default_flags", "load_family", "shipped"]
