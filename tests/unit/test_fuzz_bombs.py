"""Hostile sizes and counts: a zip bomb's ELF member is never held in memory, and an ELF
with a huge entry count does not hang. Memory is measured in a fresh interpreter (its
peak RSS from getrusage), not by timing."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.wheels import (
    RawEntry,
    elf_parts,
    make_elf,
    raw_entry,
    record_for,
    set_section_field,
    wheel_text,
    write_raw_zip,
    zero_bomb_entry,
)

RSS_LIMIT_MB = 100
NAME = "demo-1.0-cp311-cp311-linux_x86_64.whl"


def _wheel(directory: Path, entry: RawEntry) -> Path:
    """A wheel with ``entry`` (an ELF member) among valid members; RECORD leaves it out,
    which retag does not check."""
    files = {"demo/__init__.py": b"",
             "demo-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: demo\n"
                                            b"Version: 1.0\n\n",
             "demo-1.0.dist-info/WHEEL": wheel_text(["cp311-cp311-linux_x86_64"]).encode()}
    record = record_for(files, "demo-1.0.dist-info")
    entries = [raw_entry(n.encode(), d) for n, d in files.items()]
    return write_raw_zip(directory / NAME, [*entries[:1], entry, *entries[1:],
                                            raw_entry(b"demo-1.0.dist-info/RECORD", record)])


def _run_retag(wheel: Path, out: Path, platform: str, timeout: float = 300) -> dict[str, object]:
    """retag in a fresh interpreter: its outcome (or one-line error) and peak RSS in MB."""
    script = textwrap.dedent(f"""
        import json, resource
        from pathlib import Path
        from cross_compiler import resources
        from cross_compiler.errors import CrossCompilerError
        from cross_compiler.toolchain.targets import load_targets
        from cross_compiler.wheel.retag import retag_wheel
        (target,) = load_targets(["aarch64"], resources.toolchains_dir())
        try:
            r = retag_wheel(Path({str(wheel)!r}), Path({str(out)!r}), target, {platform!r})
            outcome = {{"platform": r.platform, "path": str(r.path)}}
        except CrossCompilerError as e:
            outcome = {{"error": str(e), "exit_code": e.exit_code}}
        # VmHWM: this process image's own peak. getrusage's ru_maxrss starts from the
        # parent's size at fork (a big pytest process would count against us).
        hwm = [l for l in Path("/proc/self/status").read_text().splitlines()
               if l.startswith("VmHWM:")]
        outcome["rss_mb"] = (int(hwm[0].split()[1]) if hwm else
                             resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) / 1024
        print(json.dumps(outcome))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=timeout, check=True, cwd=Path(__file__).parents[2])
    result: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return result


def test_two_gib_elf_member_in_a_two_mb_wheel(tmp_path: Path) -> None:
    head, _, tail = elf_parts(gap=0)
    bomb = zero_bomb_entry(b"demo/_n.so", head, 2048, tail)  # 2 GiB of zeros inside
    wheel = _wheel(tmp_path, bomb)
    assert wheel.stat().st_size < 3 << 20
    inferred = _run_retag(wheel, tmp_path / "out", "auto")
    assert "more than the 1 GiB inspected" in str(inferred["error"])
    assert inferred["exit_code"] == 7 and "\n" not in str(inferred["error"])
    given = _run_retag(wheel, tmp_path / "out", "linux_aarch64")
    assert given["platform"] == "linux_aarch64"
    for outcome in (inferred, given):
        assert float(outcome["rss_mb"]) < RSS_LIMIT_MB, outcome  # type: ignore[arg-type]


def test_elf_member_larger_than_memory_budget_is_streamed(tmp_path: Path) -> None:
    """300 MiB with the section headers and tables at its end: read without holding it."""
    head, gap, tail = elf_parts(gap=300 << 20)
    entry = zero_bomb_entry(b"demo/_n.so", head, gap >> 20, tail)
    wheel = _wheel(tmp_path, entry)
    outcome = _run_retag(wheel, tmp_path / "out", "auto")
    assert outcome.get("platform") == "manylinux_2_17_aarch64", outcome
    assert float(outcome["rss_mb"]) < RSS_LIMIT_MB, outcome  # type: ignore[arg-type]


def test_version_need_count_of_four_billion_does_not_hang(tmp_path: Path) -> None:
    """A 3 KB wheel whose .gnu.version_r claims 0xFFFFFFFF entries (pyelftools looped for
    hours); the timeout only turns a hang into a failure."""
    elf = set_section_field(make_elf(), 3, "info", 0xFFFFFFFF)
    wheel = _wheel(tmp_path, raw_entry(b"demo/_n.so", elf))
    assert wheel.stat().st_size < 4096
    outcome = _run_retag(wheel, tmp_path / "out", "auto", timeout=120)
    assert outcome.get("platform") == "manylinux_2_17_aarch64", outcome
