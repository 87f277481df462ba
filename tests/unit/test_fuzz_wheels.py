"""The wheel fuzzer's CI subset: every mutation family, a few dozen cases each, through
retag and test-wheel's archive check. Zero defects allowed (bench/fuzz_bench.py is the long
run, with counts and peak memory)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from tests.fuzz.run import FAMILIES, OUTCOMES, make_case, run_case

CASES_PER_FAMILY = 40


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_family_has_no_defects(family: str, tmp_path: Path) -> None:
    outcomes: Counter[str] = Counter()
    defects = []
    for index in range(CASES_PER_FAMILY):
        result = run_case(make_case(index, family), tmp_path, limit=30)
        outcomes[result.outcome] += 1
        if result.outcome == "DEFECT":
            defects.append(f"case {index}: {result.detail}")
    assert set(outcomes) <= set(OUTCOMES)
    assert sum(outcomes.values()) == CASES_PER_FAMILY
    assert defects == []


def test_families_cover_the_issue() -> None:
    assert len(FAMILIES) >= 10
    assert {"local_header", "central_directory", "truncation", "shifted_offsets",
            "duplicate_names", "hostile_names", "name_encodings", "symlink_attrs",
            "size_bombs", "metadata_disagreements", "elf_header", "elf_sections",
            "elf_program_headers", "elf_versions", "elf_dynamic"} <= set(FAMILIES)


def test_a_case_is_deterministic() -> None:
    assert make_case(7).data == make_case(7).data
    assert make_case(7, "elf_versions").family == "elf_versions"
