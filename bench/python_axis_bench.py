"""Compile once per cpu: what building one cpu for three Pythons costs against one pair.

On the docker runner (sid image, Bazel 7.7.1), aarch64, examples/pyext (its targets, no
packaging), each measurement in a fresh copy of the workspace and a fresh docker cache
directory (cold Bazel, no disk cache hits from earlier runs):
  one    --python=3.13
  three  --python=3.13,3.14,3.15: the three Pythons of one suite in one container (one
         Bazel server, one cache), so only the actions that include Python headers should
         run again.
Also printed: how many compile actions each of the three ran (Bazel's "N processes" line),
which says what was a cache hit. The image is built (untimed) first. Nothing is asserted.

Usage: python bench/python_axis_bench.py [--cpu aarch64] [--pythons 3.13,3.14,3.15]
Prints one row per run, then the ratio three/one last.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLI = str(Path(sys.executable).parent / "cross-compiler")
EXAMPLE = ROOT / "examples" / "pyext"


def run(ws: Path, cache: Path, cpu: str, pythons: str) -> tuple[float, list[str]]:
    start = time.monotonic()
    result = subprocess.run(
        [CLI, "build", "--runner=docker", f"--cpu={cpu}", f"--workspace={ws}",
         f"--cache-dir={cache}", f"--python={pythons}", "--no-package"],
        capture_output=True, text=True, check=False)
    seconds = time.monotonic() - start
    if result.returncode != 0:
        sys.exit(f"build failed ({pythons}):\n{result.stderr[-3000:]}")
    processes = re.findall(r"INFO: (\d+ processes[^\n]*)", result.stderr)
    return seconds, processes


def fresh(tmp: Path, name: str) -> Path:
    ws = tmp / name
    shutil.copytree(EXAMPLE, ws, ignore=shutil.ignore_patterns("bazel-*", "cross_compiler",
                                                                 "dist"))
    (ws / ".bazelversion").write_text("7.7.1\n")
    return ws


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu", default="aarch64")
    parser.add_argument("--pythons", default="3.13,3.14,3.15")
    args = parser.parse_args()
    first = args.pythons.split(",")[0]
    with tempfile.TemporaryDirectory(prefix="python-axis-bench-") as tmp:
        base = Path(tmp)
        warm = fresh(base, "warmup")
        run(warm, base / "cache-warmup", args.cpu, first)  # builds the image, untimed
        one, one_p = run(fresh(base, "one"), base / "cache-one", args.cpu, first)
        three, three_p = run(fresh(base, "three"), base / "cache-three", args.cpu,
                             args.pythons)
    print(f"one   {args.cpu} x {first}: {one:7.1f} s  ({'; '.join(one_p)})")
    print(f"three {args.cpu} x {args.pythons}: {three:7.1f} s  ({'; '.join(three_p)})")
    print(f"ratio three/one: {three / one:.2f}x (goal <= 1.3x)")


if __name__ == "__main__":
    main()
