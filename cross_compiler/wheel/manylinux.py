"""Infer ``manylinux_2_X_<arch>`` from what the ELF files need, with auditwheel's policy table."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import IO

from cross_compiler.manylinuxpolicy import policies
from cross_compiler.wheel import elf


@dataclass
class ElfNeeds:
    """What one ELF file requires from the system."""

    libraries: set[str] = field(default_factory=set)
    runpath: tuple[str, ...] = ()  # where the binary looks for them first ($ORIGIN/…)
    # Version namespace (GLIBC, GLIBCXX, CXXABI, GCC, ...) -> versions like "2.17".
    versions: dict[str, set[str]] = field(default_factory=dict)


def is_dynamic_loader(soname: str) -> bool:
    """ld-linux-*.so, ld64.so.1 (s390x), ld64.so.2 (ppc64le): part of glibc, as auditwheel
    treats them (aarch64 takes ``__stack_chk_guard`` from the loader)."""
    return soname.startswith("ld-linux") or soname in ("ld64.so.1", "ld64.so.2")


def read_needs(open_stream: Callable[[], IO[bytes]]) -> ElfNeeds:
    """DT_NEEDED entries and versioned symbol requirements (``.gnu.version_r``) of the ELF
    file ``open_stream()`` reads; bounded (see elf.read_dynamic). Raises ValueError."""
    info = elf.read_dynamic(open_stream)
    needs = ElfNeeds(runpath=info.runpath)
    needs.libraries.update(n for n in info.needed if not is_dynamic_loader(n))
    for file_name, names in info.version_needs:
        if is_dynamic_loader(file_name):
            continue
        for name in names:
            namespace, _, version = name.partition("_")
            if version:
                needs.versions.setdefault(namespace, set()).add(version)
    return needs


@dataclass(frozen=True)
class PlatformChoice:
    tag: str
    reason: str  # why this tag (and not an older manylinux, or why no manylinux at all)


def _version_key(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in v.split(".") if x.isdigit())


def choose_platform(needs: Iterable[ElfNeeds], arch: str, bundled: set[str]) -> PlatformChoice:
    """The oldest (most compatible) manylinux policy that allows every library and version.

    ``bundled`` are library file names shipped inside the wheel itself.
    """
    needs = list(needs)
    if not needs:
        return PlatformChoice(f"linux_{arch}", "no ELF files to inspect")
    merged = merge_needs(needs, bundled)
    libraries, versions = merged.libraries, merged.versions
    blockers: list[str] = []
    for policy in policies():
        if policy["name"] == "linux" or arch not in policy["symbol_versions"]:
            continue
        allowed = policy["symbol_versions"][arch]
        missing_libs = sorted(libraries - set(policy["lib_whitelist"]))
        too_new = sorted(
            f"{ns}_{v}" for ns, vs in versions.items() if ns in allowed
            for v in vs if v not in allowed[ns]
        )
        if not missing_libs and not too_new:
            highest = ", ".join(
                f"{ns}_{max(vs, key=_version_key)}" for ns, vs in sorted(versions.items())
                if ns in allowed
            )
            return PlatformChoice(f"{policy['name']}_{arch}",
                                  f"highest symbol versions needed: {highest or 'none'}")
        blockers = missing_libs + too_new
    return PlatformChoice(
        f"linux_{arch}",
        "no manylinux policy allows: " + ", ".join(blockers[:5]) if blockers
        else f"auditwheel has no manylinux policy for {arch}",
    )


def too_new_for_wheel(needs: Iterable[ElfNeeds], arch: str, policy_name: str,
                      bundled: set[str]) -> list[str]:
    """What a wheel's binaries together need beyond ``policy_name`` (libraries shipped in
    the wheel itself, ``bundled``, are allowed), as :func:`too_new` says it."""
    return too_new(merge_needs(needs, bundled), arch, policy_name)


def merge_needs(needs: Iterable[ElfNeeds], bundled: set[str]) -> ElfNeeds:
    """What several ELF files of one wheel need together, less the libraries it ships."""
    merged = ElfNeeds()
    for n in needs:
        merged.libraries |= n.libraries
        for ns, vs in n.versions.items():
            merged.versions.setdefault(ns, set()).update(vs)
    merged.libraries -= bundled
    return merged


def too_new(needs: ElfNeeds, arch: str, policy_name: str) -> list[str]:
    """What ``needs`` requires beyond ``policy_name`` for ``arch`` (auditwheel's policy
    data: symbol versions of GLIBC, GLIBCXX, CXXABI, GCC…, and allowed libraries), as
    ``GLIBC_2.34`` / ``libfoo.so.1``; empty when it fits. ``bundled``: none, a binary's
    libraries come from the system."""
    policy = next((p for p in policies() if p["name"] == policy_name), None)
    if policy is None or arch not in policy["symbol_versions"]:
        return [f"no {policy_name} policy for {arch}"]
    allowed = policy["symbol_versions"][arch]
    found = sorted(needs.libraries - set(policy["lib_whitelist"]))
    found += sorted((f"{ns}_{v}" for ns, vs in needs.versions.items() if ns in allowed
                     for v in vs if v not in allowed[ns]), key=_symbol_key)
    return found


def _symbol_key(symbol: str) -> tuple[str, tuple[int, ...]]:
    namespace, _, version = symbol.partition("_")
    return namespace, _version_key(version)
