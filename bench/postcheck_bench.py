"""The tool's own post-build work on a no-op build, with and without its kept verdicts.

On a copy of the example with N generated C++ files (default 200), aarch64, local runner,
medians of 5: a no-op `cross-compiler build` with no kept verdict (each run first removes
this workspace's record: every output and .d file read, `bazel aquery` run, as before
issue 22's reuse) and with the record the previous run kept (nothing read, no aquery); the
same Bazel build command run raw is the floor. The tool's overhead = its wall time - raw
Bazel's. Ratio (overhead after / before) last.

Usage: python bench/postcheck_bench.py [extra_sources]   (needs Bazel and the aarch64 g++)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from server_bench import CLI, median_of, timed, workspace

from cross_compiler import config

RUNS = 5


def main() -> None:
    extra = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    tmp = Path(tempfile.mkdtemp(prefix="postcheck-bench-"))
    env = {**os.environ, "CI": ""}
    records = config.cache_dir(env) / "verdicts"
    ws = workspace(tmp, extra)
    report = tmp / "result.json"
    tool = [CLI, "build", "--runner=local", "--cpu=aarch64", f"--workspace={ws}",
            "--no-package", "--target=//gen", "--target=//cli:hello", "--target=//lib:all",
            f"--result-json={report}"]
    try:
        start = time.time_ns()
        cold = timed(tool, env)
        timed(tool, env)  # keeps the verdicts of outputs older than the racy window

        def forget(_i: int) -> None:
            # This bench's record only: the ones written since it started.
            for record in records.glob("*.json"):
                if record.stat().st_mtime_ns >= start:
                    record.unlink()

        before = median_of(RUNS, tool, forget, env)
        timed(tool, env)
        after = median_of(RUNS, tool, env=env)
        argv = json.loads(report.read_text())["bazel"]["aarch64"]["bazel_argv"]
        raw = _raw(argv, ws)
        print(f"workspace: example + {extra} generated C++ files, aarch64, local runner, "
              f"{os.cpu_count()}-core machine; medians of {RUNS}")
        print(f"first build:                          {cold:7.2f} s")
        print(f"raw bazel build (no-op):              {raw:7.2f} s")
        print(f"no-op, no kept verdicts (before):     {before:7.2f} s  "
              f"(tool overhead {before - raw:5.2f} s)")
        print(f"no-op, kept verdicts (after):         {after:7.2f} s  "
              f"(tool overhead {after - raw:5.2f} s)")
        print(f"tool overhead after/before = {(after - raw) / (before - raw):.2f}; "
              f"no-op after/before = {after / before:.2f}")
    finally:
        subprocess.run(["bazel", "shutdown"], cwd=ws, capture_output=True, check=False)
        subprocess.run(["bash", "-c", f"chmod -R u+w {tmp}; rm -rf {tmp}"], check=False)


def _raw(argv: list[str], ws: Path) -> float:
    """The tool's own Bazel command, run raw in the workspace (medians of RUNS)."""
    times = []
    for _ in range(RUNS):
        begin = time.perf_counter()
        subprocess.run(argv, cwd=ws, capture_output=True, check=True)
        times.append(time.perf_counter() - begin)
    return sorted(times)[RUNS // 2]


if __name__ == "__main__":
    main()
