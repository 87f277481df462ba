"""Retag speed on a real large wheel: cp vs `wheel tags` vs ours, side by side in one run.

Usage: python bench/retag_bench.py [WHEEL]   (default: downloads tensorflow-cpu from PyPI)
Targets (issue 4): ours <= 10x cp, >= 40x faster than `wheel tags`, peak memory <= 100 MB.
"""

from __future__ import annotations

import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def timed(argv: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one child process."""
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    elapsed = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return elapsed, peak_kb / 1024


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="retag-bench-"))
    try:
        if len(sys.argv) > 1:
            wheel = Path(sys.argv[1]).resolve()
        else:
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d",
                            str(work / "in"), "tensorflow-cpu"], check=True)
            (wheel,) = (work / "in").glob("*.whl")
        arch = wheel.stem.rsplit("_", 1)[-1] if "x86_64" not in wheel.name else "x86_64"
        new_tag = f"manylinux_2_28_{arch}"
        size_mb = wheel.stat().st_size / 1e6
        print(f"wheel: {wheel.name} ({size_mb:.0f} MB) -> platform {new_tag}")

        # Memory is measured per tool in a fresh process (ru_maxrss of children is a max).
        cp_s, _ = timed(["cp", str(wheel), str(work / "copy.whl")])
        tags_dir = work / "tags"
        tags_dir.mkdir()
        shutil.copy(wheel, tags_dir / wheel.name)
        tags_s, _ = timed([sys.executable, "-m", "wheel", "tags", "--platform-tag", new_tag,
                           str(tags_dir / wheel.name)])
        ours_code = (
            "import sys, resource; from pathlib import Path; from cross_compiler import api; "
            f"api.retag([Path({str(wheel)!r})], 'x86_64', {{}}, platform={new_tag!r}, "
            f"out_dir=Path({str(work / 'ours')!r})); "
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
        )
        start = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", ours_code], check=True,
                             capture_output=True, text=True).stdout
        ours_s = time.perf_counter() - start
        ours_mb = int(out.split()[-1]) / 1024
        print(f"cp:          {cp_s:8.2f} s")
        print(f"wheel tags:  {tags_s:8.2f} s")
        print(f"ours:        {ours_s:8.2f} s (peak memory {ours_mb:.0f} MB, incl. interpreter)")
        print(f"ours / cp = {ours_s / cp_s:.1f}x (target <= 10x); "
              f"wheel tags / ours = {tags_s / ours_s:.1f}x (target >= 40x); "
              f"peak {ours_mb:.0f} MB (target <= 100 MB)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
