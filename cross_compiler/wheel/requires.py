"""What a wheel needs on its target, as data: validated requirements, environment markers
evaluated for the TARGET's interpreter, and pip's options that select the target's wheels.
Pure.

Every name, extra and version comes from a wheel's METADATA, a requirements file or the
command line, and may be hostile: a requirement is parsed (PEP 508), refused when it is a
direct URL or spells anything outside a small alphabet, and rebuilt from its parts before
it reaches pip's argv, so what pip sees is always ``name[extras]specifiers``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from email.parser import Parser
from email.policy import compat32
from pathlib import Path

from packaging.markers import InvalidMarker, UndefinedComparison, UndefinedEnvironmentName
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from cross_compiler.display import shown
from cross_compiler.errors import ConfigError

MAX_REQUIREMENTS = 500  # Requires-Dist lines of one wheel, or lines of one requirements file
MAX_NAME = 100
MAX_SPEC = 300
REQUIREMENTS_FILE_LIMIT = 1 << 20
_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")
# What a rebuilt requirement may contain: PEP 440 versions, operators, commas, brackets.
_ARG = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\-\[\],<>=!~*+]*")
# The marker variables of PEP 508, which the target reports (never this machine's values).
MARKER_KEYS = ("implementation_name", "implementation_version", "os_name", "platform_machine",
               "platform_release", "platform_system", "platform_version",
               "python_full_version", "platform_python_implementation", "python_version",
               "sys_platform")


class RequirementError(ConfigError):
    """A requirement that cannot be used as it is written (malformed, a URL, hostile)."""


@dataclass(frozen=True)
class Need:
    """One requirement and who asked for it (``demo 1.0``, ``--with``, ``req.txt:3``)."""

    requirement: Requirement
    by: str

    @property
    def name(self) -> str:
        return canonicalize_name(self.requirement.name)

    def __str__(self) -> str:
        return requirement_arg(self.requirement)


@dataclass(frozen=True)
class TargetPython:
    """The target interpreter as it reports itself under qemu (PEP 508 marker values), and
    the wheel platform tags it takes, most specific first."""

    markers: Mapping[str, str] = field(hash=False)
    platforms: tuple[str, ...]

    @property
    def machine(self) -> str:
        return self.markers["platform_machine"]

    @property
    def python_version(self) -> str:
        return self.markers["python_version"]


def parse_target_report(text: str, platforms: Sequence[str]) -> TargetPython:
    """The JSON of marker values the target's interpreter printed, every key a string.
    Raises ConfigError when it says anything else."""
    try:
        data = json.loads(text)
        markers = {k: data[k] for k in MARKER_KEYS}
    except (ValueError, KeyError, TypeError) as e:
        raise ConfigError(f"the target Python's report is not readable: {text[:200]!r}") from e
    if not all(isinstance(v, str) for v in markers.values()):
        raise ConfigError(f"the target Python's report is not readable: {text[:200]!r}")
    if not re.fullmatch(r"[a-z0-9_]+", markers["platform_machine"]) or not re.fullmatch(
            r"\d+\.\d+", markers["python_version"]):
        raise ConfigError(f"the target Python reports machine {markers['platform_machine']!r} "
                          f"and Python {markers['python_version']!r}")
    return TargetPython(markers, tuple(platforms))


def pip_target_args(target: TargetPython) -> list[str]:
    """pip's options that select wheels for the target instead of this machine."""
    version = target.python_version
    args = ["--only-binary=:all:", "--python-version", version, "--implementation", "cp",
            "--abi", f"cp{version.replace('.', '')}"]
    for tag in target.platforms:
        args += ["--platform", tag]
    return args


def parse_requirement(text: str, by: str) -> Need:
    """A validated requirement, or a one-line RequirementError naming it and ``by``."""
    shown = text.strip()[:120]
    try:
        requirement = Requirement(text.strip())
    except InvalidRequirement as e:
        raise RequirementError(f"{by}: {shown!r} is not a valid requirement "
                               f"({str(e).splitlines()[0][:120]})") from e
    if requirement.url:
        raise RequirementError(f"{by}: {shown!r} names a URL",
                               "test-wheel takes wheels from --find-links and the index only")
    names = [requirement.name, *requirement.extras]
    if not all(len(n) <= MAX_NAME and _NAME.fullmatch(n) for n in names):
        raise RequirementError(f"{by}: {shown!r} has a name that is not a package name")
    if any(s.operator == "===" for s in requirement.specifier):
        raise RequirementError(f"{by}: {shown!r} uses '===', which test-wheel does not take",
                               "use == with a PEP 440 version")
    arg = requirement_arg(requirement)
    if len(arg) > MAX_SPEC or not _ARG.fullmatch(arg):
        raise RequirementError(f"{by}: {shown!r} spells a version outside PEP 440")
    return Need(requirement, by)


def requirement_arg(requirement: Requirement) -> str:
    """``name[extra,…]spec,…`` rebuilt from the parsed parts (the marker is left out: it
    was evaluated for the target already)."""
    extras = f"[{','.join(sorted(requirement.extras))}]" if requirement.extras else ""
    return f"{requirement.name}{extras}{requirement.specifier}"


def applies(need: Need, target: TargetPython, extras: Iterable[str] = ()) -> bool:
    """Whether the requirement's marker holds on the target, for the base install or one of
    ``extras`` (as pip does); a marker the target cannot evaluate is a RequirementError."""
    marker = need.requirement.marker
    if marker is None:
        return True
    try:
        return any(marker.evaluate({**target.markers, "extra": extra})
                   for extra in ("", *sorted(extras)))
    except (InvalidMarker, UndefinedComparison, UndefinedEnvironmentName) as e:
        raise RequirementError(f"{need.by}: marker {str(marker)[:120]!r} cannot be evaluated "
                               f"for the target ({e})") from e


def requires_dist(metadata: str, by: str) -> list[Need]:
    """The Requires-Dist lines of a METADATA file, each validated."""
    lines = Parser(policy=compat32).parsestr(metadata, headersonly=True).get_all(
        "Requires-Dist") or []
    if len(lines) > MAX_REQUIREMENTS:
        raise RequirementError(f"{by}: {len(lines)} Requires-Dist lines (more than "
                               f"{MAX_REQUIREMENTS})", "the wheel is damaged or hostile")
    return [parse_requirement(str(line), f"{by} Requires-Dist") for line in lines]


def read_requirements_file(path: Path) -> list[Need]:
    """Requirement lines of a requirements file (comments, blank lines and ``\\``
    continuations allowed); a pip option line is refused, naming the line."""
    try:
        if path.stat().st_size > REQUIREMENTS_FILE_LIMIT:
            raise RequirementError(f"{shown(path)}: larger than {REQUIREMENTS_FILE_LIMIT} bytes")
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise RequirementError(f"cannot read the requirements file {shown(path)}: "
                               f"{shown(e)}") from e
    needs: list[Need] = []
    lines = text.replace("\\\n", "").splitlines()
    for number, line in enumerate(lines, 1):
        line = re.sub(r"(^|\s)#.*$", "", line).strip()
        if not line:
            continue
        where = f"{shown(path)}:{number}"
        if line.startswith("-"):
            raise RequirementError(f"{where}: pip option {line[:60]!r} is not read here",
                                   "name wheelhouses with --find-links; one requirement a line")
        needs.append(parse_requirement(line, where))
        if len(needs) > MAX_REQUIREMENTS:
            raise RequirementError(f"{shown(path)}: more than {MAX_REQUIREMENTS} requirements")
    return needs


def debian_package(name: str) -> str:
    """Debian's name for a Python distribution's package: ``python3-<normalized name>``."""
    return f"python3-{canonicalize_name(name)}"


def debian_upstream_version(version: str) -> Version | None:
    """The upstream release in a Debian version (``1:1.24.2-1+deb12u1`` -> 1.24.2), or
    None when it does not start with one."""
    upstream = re.sub(r"^\d+:", "", version).rsplit("-", 1)[0]
    match = re.match(r"\d+(?:\.\d+)*", upstream)
    try:
        return Version(match[0]) if match else None
    except InvalidVersion:
        return None
