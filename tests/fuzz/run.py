"""One fuzz case: build it, put it through retag (and, for a subset, test-wheel's archive
check), and classify what happened.

Outcomes: ``error`` (a one-line CrossCompilerError, nothing written), ``valid`` (every
output passes installer's RECORD validation and packaging's name parser), ``passthrough``
(the output fails only what its input already failed: retag copies member bytes raw and
does not re-hash them), ``DEFECT`` (any other exception, a hang past the time limit, an
input modified, an output invalid where the input was not, a partial write).
"""

from __future__ import annotations

import hashlib
import itertools
import random
import shutil
import signal
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from installer.sources import WheelFile
from packaging.utils import parse_wheel_filename

from cross_compiler import resources
from cross_compiler.errors import CrossCompilerError
from cross_compiler.toolchain.targets import load_targets
from cross_compiler.wheel import wheelcheck
from cross_compiler.wheel.retag import retag_wheels
from tests.fuzz.archive import SEEDS
from tests.fuzz.elfmut import ELF_FAMILIES
from tests.fuzz.zipmut import ZIP_FAMILIES, Mutation

FAMILIES: dict[str, Mutation] = {**ZIP_FAMILIES, **ELF_FAMILIES}
OUTCOMES = ("error", "valid", "passthrough", "DEFECT")
(TARGET,) = load_targets(["aarch64"], resources.toolchains_dir())
PLATFORMS = ("auto", "auto", "linux_aarch64", "manylinux_2_17_aarch64")


class CaseTimeout(BaseException):
    """The per-case time limit passed (a BaseException: no ``except Exception`` eats it)."""


@contextmanager
def time_limit(seconds: int) -> Iterator[None]:
    def expire(signum: int, frame: FrameType | None) -> None:
        raise CaseTimeout(f"no result after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@dataclass(frozen=True)
class Case:
    index: int
    family: str
    filename: str
    data: bytes
    platform: str
    verify: bool
    check: bool  # also run test-wheel's archive check


@dataclass(frozen=True)
class Result:
    index: int
    family: str
    outcome: str
    detail: str
    check: str  # "error", "ok", "skipped" or "DEFECT"


def make_case(index: int, family: str | None = None) -> Case:
    """Case ``index`` (deterministic); families take turns unless one is given."""
    names = sorted(FAMILIES)
    family = family or names[index % len(names)]
    rng = random.Random(f"{family}:{index}")
    seeds = [s for s in SEEDS if s.elf_member] if family.startswith("elf_") else list(SEEDS)
    seed = rng.choice(seeds)
    filename, data = FAMILIES[family](rng, seed)
    elfish = family.startswith("elf_") or family == "size_bombs"
    platform = "auto" if elfish and rng.random() < 0.8 else rng.choice(PLATFORMS)
    return Case(index, family, filename, data, platform, verify=rng.random() < 0.7,
                check=index % 3 == 0)


def wheel_problem(path: Path) -> str | None:
    """Why ``path`` is not a valid wheel (packaging's name rules, CRCs, installer's RECORD
    validation, WHEEL tags = name tags), or None."""
    try:
        _, _, build, tags = parse_wheel_filename(path.name)
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            if len(names) != len(set(names)):
                return "duplicate member names"
            bad = zf.testzip()
            if bad is not None:
                return f"bad CRC in {bad!r}"
            source = WheelFile(zf)
            source.validate_record()
            wheel = source.read_dist_info("WHEEL")
        lines = [line.split(":", 1) for line in wheel.splitlines() if ":" in line]
        declared = {v.strip() for k, v in lines if k.strip() == "Tag"}
        if declared != {str(t) for t in tags}:
            return f"WHEEL tags {sorted(declared)} are not the name's {sorted(map(str, tags))}"
        build_line = [v.strip() for k, v in lines if k.strip() == "Build"]
        if build_line != ([f"{build[0]}{build[1]}"] if build else []):
            return f"WHEEL Build {build_line} is not the name's {build}"
    except Exception as e:
        return f"{type(e).__name__}: {str(e)[:200]}"
    return None


def _retag(case: Case, wheel: Path, out: Path) -> tuple[str, str]:
    try:
        results = retag_wheels([wheel], out, TARGET, platform=case.platform,
                               verify=case.verify)
    except CrossCompilerError as e:
        if "\n" in str(e):
            return "DEFECT", f"multi-line error: {str(e)[:300]!r}"
        leftovers = sorted(p.name for p in out.iterdir()) if out.is_dir() else []
        if leftovers:
            return "DEFECT", f"error ({e}) but wrote {leftovers}"
        return "error", f"{type(e).__name__}: {str(e)[:160]}"
    except Exception as e:
        return "DEFECT", f"{type(e).__name__}: {str(e)[:300]}"
    written = sorted(p.name for p in out.iterdir())
    if written != sorted(r.path.name for r in results) or any(r.path.parent != out
                                                               for r in results):
        return "DEFECT", f"wrote {written}, reported {[str(r.path) for r in results]}"
    for r in results:
        problem = wheel_problem(r.path)
        if problem is None:
            continue
        before = wheel_problem(wheel)
        if before is None:
            return "DEFECT", f"invalid output from a valid input: {problem}"
        return "passthrough", f"output: {problem}; input: {before}"
    return "valid", results[0].path.name


def _check(wheel: Path) -> tuple[str, str]:
    try:
        wheelcheck.check_wheel(wheel)
    except CrossCompilerError as e:
        if "\n" in str(e):
            return "DEFECT", f"check: multi-line error {str(e)[:300]!r}"
        return "error", ""
    except Exception as e:
        return "DEFECT", f"check: {type(e).__name__}: {str(e)[:300]}"
    problem = wheel_problem(wheel)
    if problem is not None:
        return "DEFECT", f"check passed an invalid wheel: {problem}"
    return "ok", ""


def run_case(case: Case, work: Path, limit: int = 20) -> Result:
    """Run ``case`` in a fresh directory under ``work`` (removed afterwards)."""
    folder = work / f"case-{case.index}"
    folder.mkdir()
    try:
        # A hostile name may not be a valid file name here: the case is then about retag
        # refusing what it is given, under a neutral name.
        wheel = folder / (case.filename if "/" not in case.filename and "\0" not in
                          case.filename and case.filename else "x.whl")
        wheel.write_bytes(case.data)
        digest = hashlib.sha256(case.data).hexdigest()
        check = "skipped"
        try:
            with time_limit(limit):
                outcome, detail = _retag(case, wheel, folder / "out")
                if case.check:
                    check, why = _check(wheel)
                    if check == "DEFECT":
                        outcome, detail = "DEFECT", why
        except CaseTimeout as e:
            outcome, detail = "DEFECT", f"hang: {e}"
        if hashlib.sha256(wheel.read_bytes()).hexdigest() != digest:
            outcome, detail = "DEFECT", "the input was modified"
        return Result(case.index, case.family, outcome, detail, check)
    finally:
        shutil.rmtree(folder)


def run_many(indices: range | list[int], work: Path, limit: int = 20) -> Iterator[Result]:
    for index in indices:
        yield run_case(make_case(index), work, limit)


def per_family(n: int) -> list[int]:
    """``n`` case indices for each family (indices cycle through the families)."""
    return list(itertools.islice(itertools.count(), n * len(FAMILIES)))
