"""Cold and warm build time of the example per compiler family, side by side in one run.

For aarch64 on the local runner, each family is picked with --manylinux (gcc: 2_36, clang
+ Debian bullseye sysroot: 2_31, zig: 2014) and the build's "aarch64: manylinux_2_X via
<family>" line must name it. Each family builds a fresh copy of examples/pyext (its
cross_compiler.toml targets, --no-package):
  cold  a fresh Bazel output user root and no disk cache, so every action runs;
  warm  the same output root (server still up), after one new function is appended to
        lib/mathlib.cc, so one compile and the links that use it rerun.
Every family gets its own tool cache (CROSS_COMPILER_CACHE, in a temp dir) seeded, untimed,
with copies of the aarch64 Python-header root (debroot) and, for clang, the assembled
bullseye sysroot from your cache, so no download is counted. zig's cache starts empty: its
first cold build includes zig's one-time cache fill; a second cold build (fresh output
root, zig cache kept) measures zig without it. Times include the tool's own work (probe,
render, output checks). Other builds on the machine add noise; no timing is asserted.

Usage: python bench/family_bench.py [--repeat N] [--families gcc,clang,zig]
Prints one row per family and run, then the ratios (of the medians) last.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLI = str(Path(sys.executable).parent / "cross-compiler")
MANYLINUX = {"gcc": "2_36", "clang": "2_31", "zig": "2014"}
# Copied from the user's cache into each run's own cache (read only there).
SEEDS = {"gcc": ["debroot/bookworm/arm64"],
         "clang": ["debroot/bookworm/arm64", "sysroot/bullseye/arm64"],
         "zig": ["debroot/bookworm/arm64"]}


@dataclass(frozen=True)
class Timed:
    seconds: float
    processes: str  # Bazel's last "INFO: N processes: ..." summary


def user_cache() -> Path:
    if os.environ.get("CROSS_COMPILER_CACHE"):
        return Path(os.environ["CROSS_COMPILER_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cross_compiler"


def seeded_cache(cache: Path, family: str) -> Path:
    for rel in SEEDS[family]:
        source = user_cache() / rel
        if not source.is_dir():
            sys.exit(f"{source} is missing: run `cross-compiler fetch-python --cpu=aarch64` "
                     "(and one --manylinux=2_31 build for clang) first")
        shutil.copytree(source, cache / rel, symlinks=True)
    return cache


def workspace(dest: Path) -> Path:
    shutil.copytree(ROOT / "examples/pyext", dest,
                    ignore=shutil.ignore_patterns("bazel-*", "cross_compiler", "dist"))
    return dest


def build(ws: Path, root: Path, cache: Path, family: str) -> Timed:
    argv = [CLI, "build", "--cpu=aarch64", "--runner=local", f"--workspace={ws}",
            "--no-package", f"--manylinux={MANYLINUX[family]}",
            f"--bazel-startup-option=--output_user_root={root}"]
    env = {**os.environ, "CROSS_COMPILER_CACHE": str(cache)}
    start = time.perf_counter()
    r = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    seconds = time.perf_counter() - start
    if r.returncode != 0:
        sys.exit(f"{family}: build failed ({r.returncode}):\n{r.stderr[-4000:]}")
    via = re.search(r"aarch64: manylinux_\S+ via (\w+)", r.stderr)
    if via is None or via.group(1) != family:
        sys.exit(f"{family}: the build ran {via.group(1) if via else 'no named family'}, "
                 f"not {family}:\n{r.stderr[-2000:]}")
    kinds = re.findall(r"INFO: \d+ processes?[^\n]*", r.stderr)
    return Timed(seconds, kinds[-1].removeprefix("INFO: ").rstrip(".") if kinds else "?")


def shutdown(ws: Path, root: Path) -> None:
    subprocess.run(["bazel", f"--output_user_root={root}", "shutdown"], cwd=ws,
                   capture_output=True, check=False)


def touch(ws: Path, n: int) -> None:
    # A new function, not a comment: the object file changes, so the links rerun too.
    with (ws / "lib/mathlib.cc").open("a") as f:
        f.write(f"\nint family_bench_touch_{n}() {{ return {n}; }}\n")


def one(tmp: Path, family: str) -> dict[str, Timed]:
    """This family's cold, warm (and for zig, cold with its cache already filled) builds."""
    cache = seeded_cache(tmp / "cache", family)
    ws, root = workspace(tmp / "ws"), tmp / "bazel"
    times: dict[str, Timed] = {}
    try:
        times["cold"] = build(ws, root, cache, family)
        touch(ws, 1)
        times["warm"] = build(ws, root, cache, family)
    finally:
        shutdown(ws, root)
    if family == "zig":
        ws2, root2 = workspace(tmp / "ws2"), tmp / "bazel2"
        try:
            times["cold_filled"] = build(ws2, root2, cache, family)
        finally:
            shutdown(ws2, root2)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="runs per family (medians)")
    parser.add_argument("--families", default="gcc,clang,zig",
                        help="comma-separated subset of gcc,clang,zig (ratios need gcc)")
    args = parser.parse_args()
    families = args.families.split(",")
    if unknown := set(families) - set(MANYLINUX):
        parser.error(f"unknown families {sorted(unknown)}; choose from {sorted(MANYLINUX)}")
    runs: dict[str, list[dict[str, Timed]]] = {f: [] for f in families}
    print(f"aarch64, examples/pyext, local runner, {os.cpu_count()} cores; seeded caches "
          "(no sysroot/python download counted); zig cold includes its cache fill")
    print(f"{'family':7} {'run':>3} {'cold s':>7} {'warm s':>7} {'warm/cold':>9}  "
          "Bazel processes (cold | warm)")
    for n in range(args.repeat):
        for family in families:
            with tempfile.TemporaryDirectory(prefix=f"family-bench-{family}-") as tmp:
                t = one(Path(tmp), family)
            runs[family].append(t)
            cold, warm = t["cold"], t["warm"]
            print(f"{family:7} {n + 1:>3} {cold.seconds:7.1f} {warm.seconds:7.1f} "
                  f"{warm.seconds / cold.seconds:9.2f}  {cold.processes} | {warm.processes}",
                  flush=True)
            if "cold_filled" in t:
                print(f"{'':7} {'':>3} {t['cold_filled'].seconds:7.1f} {'':>7} {'':>9}  "
                      f"zig cold again, its cache filled: {t['cold_filled'].processes}",
                      flush=True)

    def median(family: str, kind: str) -> float:
        return statistics.median(r[kind].seconds for r in runs[family])

    if "gcc" not in runs:
        return
    gcc = median("gcc", "cold")
    if "clang" in runs:
        print(f"clang/gcc cold: {median('clang', 'cold') / gcc:.2f}x")
    if "zig" in runs:
        print(f"zig/gcc cold (with zig's cache fill): {median('zig', 'cold') / gcc:.2f}x")
        print(f"zig/gcc cold (zig cache filled): {median('zig', 'cold_filled') / gcc:.2f}x")


if __name__ == "__main__":
    main()
