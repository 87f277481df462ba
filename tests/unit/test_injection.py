"""Toolchain fields and image settings are held to their grammar before reaching any file."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from cross_compiler import resources
from cross_compiler.docker.image import check_image_settings
from cross_compiler.errors import ConfigError, TargetError
from cross_compiler.toolchain.targets import parse_target

AARCH64 = resources.toolchains_dir() / "aarch64.toml"


def _parse(**changes: object) -> None:
    data = tomllib.loads(AARCH64.read_text())
    data.update(changes)
    parse_target(data, AARCH64)


@pytest.mark.parametrize(("field", "value"), [
    ("triple", 'aarch64-linux-gnu\nfail("injected")'),
    ("triple", "aarch64 linux"),
    ("tool_prefix", "aarch64-linux-gnu-;rm -rf /"),
    ("compiler_package", "g++-aarch64-linux-gnu \\\nRUN curl x | sh"),
    ("debian_arch", "arm64\n"),
    ("wheel_arch", "aarch64/../x"),
    ("qemu", "qemu-aarch64-static $(id)"),
    ("sysroot", "/opt/sys\nroot"),
    ("constraint_values", ['@platforms//cpu:aarch64"]\nfail("x")']),
    ("compile_flags", ["-O2\nfail()"]),
])
def test_a_toolchain_field_outside_its_grammar_is_refused_naming_it(field: str,
                                                                     value: object) -> None:
    with pytest.raises(TargetError, match=f"field '{field}' has an invalid value"):
        _parse(**{field: value})


def test_every_shipped_toolchain_is_valid() -> None:
    for path in sorted(Path(resources.toolchains_dir()).rglob("*.toml")):
        parse_target(tomllib.loads(path.read_text()), path)


@pytest.mark.parametrize("ref", ["debian:bookworm", "debian", "docker.io/library/debian:12",
                                 "registry.example:5000/team/debian:12-slim",
                                 "debian@sha256:" + "a" * 64])
def test_valid_image_references(ref: str) -> None:
    check_image_settings(ref, ["cmake", "libfoo-dev:arm64", "zlib1g-dev=1:1.2.13.dfsg-1"])


@pytest.mark.parametrize("ref", ["Debian:Bookworm", " ", "debian:bookworm\nRUN id",
                                 "debian;id", "debian:", "-debian", "a" * 256])
def test_invalid_image_reference_is_one_line_naming_the_setting(ref: str) -> None:
    with pytest.raises(ConfigError, match=r"^base_image .* is not a Docker image reference") as e:
        check_image_settings(ref, [])
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("package", ["cmake;id", "cmake \\\nRUN id", "CMake", "c", "-x",
                                     "cmake=1 2"])
def test_invalid_extra_package_is_refused(package: str) -> None:
    with pytest.raises(ConfigError, match=r"^extra_packages: .* is not a Debian package name"):
        check_image_settings("debian:bookworm", [package])
