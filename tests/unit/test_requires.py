"""test-wheel's requirement data: markers evaluated for the target (never this machine), the
target's report and pip's target options, hostile requirement text refused before any argv,
requirements files, Debian versions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cross_compiler.errors import ConfigError
from cross_compiler.wheel import requires
from cross_compiler.wheel.requires import (
    RequirementError,
    TargetPython,
    applies,
    parse_requirement,
    parse_target_report,
)

ARMHF = {"implementation_name": "cpython", "implementation_version": "3.11.2",
         "os_name": "posix", "platform_machine": "armv7l", "platform_release": "6.1.0",
         "platform_system": "Linux", "platform_version": "#1 SMP",
         "python_full_version": "3.11.2", "platform_python_implementation": "CPython",
         "python_version": "3.11", "sys_platform": "linux"}
PLATFORMS = ("manylinux_2_17_armv7l", "manylinux2014_armv7l", "linux_armv7l")
ARMV7 = TargetPython(ARMHF, PLATFORMS)


def _applies(text: str, extras: tuple[str, ...] = ()) -> bool:
    return applies(parse_requirement(text, "test"), ARMV7, extras)


# Markers: the target's values, whatever this machine is.

@pytest.mark.parametrize(("text", "expected"), [
    ('numpy; platform_machine == "armv7l"', True),
    ('numpy; platform_machine == "x86_64"', False),  # this machine's arch: not the target's
    ('numpy; platform_machine != "x86_64" and sys_platform == "linux"', True),
    ('tomli; python_version < "3.11"', False),
    ('exceptiongroup; python_full_version < "3.11.0"', False),
    ('pywin32; os_name == "nt"', False),
    ("plain", True),
])
def test_markers_are_the_targets(text: str, expected: bool) -> None:
    assert _applies(text) is expected


def test_extras_apply_only_when_asked_for() -> None:
    assert not _applies('pytest; extra == "test"')
    assert _applies('pytest; extra == "test"', ("test",))
    assert _applies('numpy; extra == "test" or platform_machine == "armv7l"')


def test_the_target_report_is_read_and_checked() -> None:
    target = parse_target_report(json.dumps(ARMHF), PLATFORMS)
    assert (target.machine, target.python_version, target.platforms) == (
        "armv7l", "3.11", PLATFORMS)
    with pytest.raises(ConfigError, match="not readable"):
        parse_target_report("Traceback", PLATFORMS)
    with pytest.raises(ConfigError, match="not readable"):
        parse_target_report(json.dumps({**ARMHF, "os_name": 7}), PLATFORMS)
    with pytest.raises(ConfigError, match="machine"):
        parse_target_report(json.dumps({**ARMHF, "platform_machine": "arm v7"}), PLATFORMS)


def test_pip_target_args() -> None:
    assert requires.pip_target_args(ARMV7) == [
        "--only-binary=:all:", "--python-version", "3.11", "--implementation", "cp",
        "--abi", "cp311", "--platform", "manylinux_2_17_armv7l",
        "--platform", "manylinux2014_armv7l", "--platform", "linux_armv7l"]


# Requirement text from wheels, files and flags: parsed, refused or rebuilt.

@pytest.mark.parametrize(("text", "arg"), [
    ("numpy", "numpy"),
    ("numpy >=1.22, <3 ; python_version >= '3.9'", "numpy<3,>=1.22"),
    ("Foo_Bar[b,a]~=1.4.2", "Foo_Bar[a,b]~=1.4.2"),
    ("x==1.*", "x==1.*"),
    ("torch==2.3.0+cpu", "torch==2.3.0+cpu"),
])
def test_requirements_are_rebuilt_from_their_parts(text: str, arg: str) -> None:
    assert str(parse_requirement(text, "test")) == arg


@pytest.mark.parametrize(("text", "pattern"), [
    ("--index-url=http://evil/simple", "not a valid requirement"),
    ("-e .", "not a valid requirement"),
    ("foo @ file:///etc/passwd", "names a URL"),
    ("foo @ https://evil.example/foo.whl", "names a URL"),
    ("foo===$(rm -rf ~)", "not a valid requirement|'==='"),
    ("foo===1.0", "'==='"),
    ("foo; os.system('x')", "not a valid requirement"),
    ("a" * 101, "not a package name"),
    ("foo\nbar", "not a valid requirement"),
])
def test_hostile_requirements_are_refused(text: str, pattern: str) -> None:
    with pytest.raises(RequirementError, match=pattern) as e:
        parse_requirement(text, "demo 1.0 Requires-Dist")
    assert "\n" not in str(e.value)
    assert str(e.value).startswith("demo 1.0 Requires-Dist: ")


def test_requires_dist_from_metadata() -> None:
    metadata = ("Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n"
                "Requires-Dist: numpy>=1.22\nRequires-Dist: pytest; extra == 'test'\n\n"
                "Requires-Dist: not-a-header, this is the description\n")
    needs = requires.requires_dist(metadata, "demo 1.0")
    assert [str(n) for n in needs] == ["numpy>=1.22", "pytest"]
    assert needs[0].by == "demo 1.0 Requires-Dist"


def test_too_many_requires_dist_lines() -> None:
    metadata = "Name: demo\n" + "Requires-Dist: x\n" * (requires.MAX_REQUIREMENTS + 1)
    with pytest.raises(RequirementError, match="damaged or hostile"):
        requires.requires_dist(metadata, "demo 1.0")


def test_requirements_file(tmp_path: Path) -> None:
    path = tmp_path / "test-requirements.txt"
    path.write_text("# test only\npytest>=7  # the runner\n\nhypothesis \\\n  >=6\n")
    needs = requires.read_requirements_file(path)
    assert [(str(n), n.by) for n in needs] == [("pytest>=7", f"{path}:2"),
                                               ("hypothesis>=6", f"{path}:4")]


@pytest.mark.parametrize("line", ["--extra-index-url http://evil/simple", "-r other.txt",
                                  "-e git+https://x/y"])
def test_requirements_file_refuses_pip_options(tmp_path: Path, line: str) -> None:
    path = tmp_path / "r.txt"
    path.write_text(f"pytest\n{line}\n")
    with pytest.raises(RequirementError, match=r"r\.txt:2: pip option") as e:
        requires.read_requirements_file(path)
    assert "\n" not in str(e.value)


def test_requirements_file_missing(tmp_path: Path) -> None:
    with pytest.raises(RequirementError, match="cannot read the requirements file"):
        requires.read_requirements_file(tmp_path / "nope.txt")


# Debian's names and versions.

def test_debian_package_names() -> None:
    assert requires.debian_package("NumPy") == "python3-numpy"
    assert requires.debian_package("typing_extensions") == "python3-typing-extensions"


@pytest.mark.parametrize(("debian", "upstream"), [
    ("1:1.24.2-1+deb12u1", "1.24.2"), ("66.1.1-1+deb12u2", "66.1.1"), ("2.2.4+ds-1", "2.2.4"),
    ("3.0", "3.0"), ("1.26.4+ds-13~bpo12+1", "1.26.4"), ("git20200101-1", None),
])
def test_debian_upstream_version(debian: str, upstream: str | None) -> None:
    found = requires.debian_upstream_version(debian)
    assert (str(found) if found else None) == upstream
