"""Sysroots as data (sysroots/*.toml) and the pure parts of assembling one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cross_compiler import resources
from cross_compiler.errors import ConfigError, TargetError
from cross_compiler.toolchain import sysroot
from cross_compiler.toolchain.targets import load_targets


def test_shipped_specs() -> None:
    specs = sysroot.load_specs(resources.data_dir("sysroots"))
    assert specs["bullseye"].glibc == "2.31"
    assert "libstdc++-10-dev" in specs["bullseye"].packages
    assert specs["bookworm"].glibc == "2.36"


def test_a_bad_spec_names_the_field(tmp_path: Path) -> None:
    path = tmp_path / "bullseye.toml"
    with pytest.raises(TargetError, match=r"'glibc' must be like 2\.31"):
        sysroot.parse_spec({"suite": "bullseye", "glibc": "2.31;x", "arches": ["arm64"],
                            "packages": ["libc6"]}, path)
    with pytest.raises(TargetError, match="'packages'"):
        sysroot.parse_spec({"suite": "bullseye", "glibc": "2.31", "arches": ["arm64"],
                            "packages": ["libc6 ; rm"]}, path)


def test_an_arch_the_suite_lacks_is_said(tmp_path: Path) -> None:
    spec = sysroot.load_specs(resources.data_dir("sysroots"))["bullseye"]
    (ppc,) = load_targets(["ppc64le"], resources.toolchains_dir())
    with pytest.raises(ConfigError, match="Debian bullseye has no ppc64el here"):
        sysroot.assemble(spec, ppc, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_deb_names_give_package_versions() -> None:
    assert sysroot._deb_fields("libcrypt1_1%3a4.4.18-4_arm64.deb") == ("libcrypt1",
                                                                       "1:4.4.18-4")


def test_prune_keeps_what_compilers_read(tmp_path: Path) -> None:
    for rel in ("usr/include/stdio.h", "usr/lib/aarch64-linux-gnu/crt1.o", "usr/share/doc/x",
                "etc/ld.so.conf", "lib/aarch64-linux-gnu/libc.so.6"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x")
    (tmp_path / "usr/lib/dangling.so").symlink_to("nowhere.so")
    sysroot.prune(tmp_path)
    left = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")
                  if p.is_file() or p.is_symlink())
    assert left == ["lib/aarch64-linux-gnu/libc.so.6", "usr/include/stdio.h",
                    "usr/lib/aarch64-linux-gnu/crt1.o"]


def test_manifest_round_trip(tmp_path: Path) -> None:
    assert sysroot.read_manifest(tmp_path) is None
    (tmp_path / sysroot.MANIFEST).write_text(json.dumps(
        {"suite": "bullseye", "debian_arch": "arm64", "glibc": "2.31",
         "packages": {"libc6": "2.31-13"}}))
    made = sysroot.read_manifest(tmp_path)
    assert made is not None and made.packages == {"libc6": "2.31-13"}
    assert sysroot.repository_name("bullseye", "aarch64") == \
        "cross_compiler_sysroot_bullseye_aarch64"
