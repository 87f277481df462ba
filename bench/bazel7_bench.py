"""Bazel 7.7.1 (sid image) beside Bazel 4.2.3 (bookworm image), side by side in one run.

For each suite: the builder image's size, a cold build of the example (empty caches, fresh
container) and a warm rebuild in a fresh container (caches kept), both through the tool's
docker runner for aarch64. Prints the figures, then the ratios last.

The example gets N generated C++ sources (default 20, as docker_bench.py) so that the cold
build compiles something real.

Usage: python bench/bazel7_bench.py [N]   (needs a Docker engine; builds both images once)
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from docker_bench import workspace

ROOT = Path(__file__).resolve().parents[1]
CLI = str(Path(sys.executable).parent / "cross-compiler")


def run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, check=True, capture_output=True, text=True)


def image_size(suite: str) -> tuple[str, float]:
    tag = run([CLI, "image", f"--suite={suite}"]).stdout.split()[0]
    size = float(run(["docker", "image", "inspect", "--format", "{{.Size}}", tag]).stdout)
    return tag, size / 1e9


def timed_build(ws: Path, cache: Path, suite: str) -> float:
    start = time.perf_counter()
    run([CLI, "build", "--runner=docker", "--cpu=aarch64", f"--workspace={ws}",
         f"--cache-dir={cache}", f"--suite={suite}", "--target=//gen", "--target=//cli:hello",
         "--no-package"])
    return time.perf_counter() - start


def main() -> None:
    extra = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    figures: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="bazel7-bench-") as tmp:
        for suite in ("bookworm", "sid"):
            tag, size = image_size(suite)
            ws = workspace(Path(tmp) / suite, extra)
            cache = Path(tmp) / suite / "cache"
            cold = timed_build(ws, cache, suite)
            warm = timed_build(ws, cache, suite)
            figures[suite] = {"size_gb": size, "cold_s": cold, "warm_s": warm}
            print(f"{suite:9} {tag}: image {size:.2f} GB, cold {cold:.1f} s, warm {warm:.1f} s")
    b, s = figures["bookworm"], figures["sid"]
    print(f"warm/cold: bookworm {b['warm_s'] / b['cold_s']:.2f}, "
          f"sid {s['warm_s'] / s['cold_s']:.2f}")
    print(f"sid/bookworm: cold {s['cold_s'] / b['cold_s']:.2f}x, warm "
          f"{s['warm_s'] / b['warm_s']:.2f}x, image size {s['size_gb'] / b['size_gb']:.2f}x")


if __name__ == "__main__":
    main()
