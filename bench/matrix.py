"""The full product of the test matrix, as a documented long run (CI covers every value of
every axis at least once; this covers every combination).

Axes: cpu (5) x runner and Bazel (local: this machine's Bazel 4.2.3; docker: bookworm's
4.2.3 and sid's 7.7.1, chosen with --suite) x the target Python that goes with the suite
(3.11, 3.13) x compiler family (--families=gcc,clang,zig, passed as --toolchain: clang +
the bullseye sysroot for aarch64 and armv7hf; zig for every cpu at its oldest glibc; a
family with no route for a cpu is n/a, as the tool says in one line). Each combination
builds the example (a fresh copy), and every wheel it makes must pass test-wheel. riscv64
on bookworm has no Python (no wheel is expected, the C/C++ outputs must build).

Usage: python bench/matrix.py [--cpus=all] [--families=gcc,clang,zig]
                              [--combos=local,bookworm,sid]
Prints one row per combination, then the pass count and ratio last.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLI = str(Path(sys.executable).parent / "cross-compiler")
CPUS = ["aarch64", "armv7hf", "riscv64", "ppc64le", "s390x"]
COMBOS = {"local": ["--runner=local"], "bookworm": ["--runner=docker", "--suite=bookworm"],
          "sid": ["--runner=docker", "--suite=sid"]}
CHECK = "import crossdemo; assert crossdemo.fib(90) == 2880067194370816120"


def one(tmp: Path, combo: str, cpu: str, family: str) -> tuple[str, float]:
    ws = tmp / f"{combo}-{cpu}-{family}" / "ws"
    shutil.copytree(ROOT / "examples/pyext", ws,
                    ignore=shutil.ignore_patterns("bazel-*", "cross_compiler", "dist"))
    extra = [f"--toolchain={family}"]
    start = time.perf_counter()
    argv = [CLI, "build", f"--cpu={cpu}", f"--workspace={ws}", *COMBOS[combo], *extra,
            f"--cache-dir={tmp / ('cache-' + combo)}"]
    if cpu == "riscv64" and combo != "sid":
        argv += ["--target=//cli:hello", "--no-package"]  # bookworm: no riscv64 Python
    built = subprocess.run(argv, capture_output=True, text=True, check=False)
    if built.returncode == 2 and f"no {family} route" in built.stderr:
        return f"n/a ({built.stderr.strip().splitlines()[-1][23:][:100]})", 0.0
    if built.returncode != 0:
        return f"build failed ({built.stderr.strip().splitlines()[-1][:120]})", 0.0
    for wheel in sorted((ws / "dist").glob("*.whl")):
        smoke = subprocess.run([CLI, "test-wheel", str(wheel), f"--cpu={cpu}",
                                f"--command={CHECK}"], capture_output=True, text=True,
                               check=False)
        if smoke.returncode != 0:
            return f"test-wheel failed ({smoke.stderr.strip().splitlines()[-1][:120]})", 0.0
    return "ok", time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpus", default="all")
    parser.add_argument("--families", default="gcc,clang,zig")
    parser.add_argument("--combos", default=",".join(COMBOS))
    args = parser.parse_args()
    cpus = CPUS if args.cpus == "all" else args.cpus.split(",")
    rows = []
    with tempfile.TemporaryDirectory(prefix="matrix-") as tmp:
        for combo in args.combos.split(","):
            for family in args.families.split(","):
                for cpu in cpus:
                    status, seconds = one(Path(tmp), combo, cpu, family)
                    rows.append((combo, cpu, family, status))
                    print(f"{combo:9} {cpu:8} {family:6} {seconds:6.1f} s  {status}", flush=True)
    passed = sum(1 for r in rows if r[3] == "ok")
    runnable = sum(1 for r in rows if not r[3].startswith("n/a"))
    print(f"{passed}/{runnable} combinations passed ({passed / max(runnable, 1):.2f})")


if __name__ == "__main__":
    main()
