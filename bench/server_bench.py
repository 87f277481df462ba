"""The docker runner's warm server against the local runner, side by side in one run.

On a copy of the example with N generated C++ files (default 200, so >= 200 compile
actions), aarch64, medians of 5: a no-op build through the docker runner (warm server),
through the local runner, and the same Bazel command in a raw `docker run`; then a
one-file edit rebuilt by each runner. Each runner's block starts with a warm-up build
(the two runners render //cross_compiler differently: alternating them would rebuild).
Ratios last. Targets (issue 22): docker no-op <= local no-op + 0.5 s; one-file edit
<= 1.2x the local runner's.

Usage: python bench/server_bench.py [extra_sources]   (needs a Docker engine and Bazel)
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLI = str(Path(sys.executable).parent / "cross-compiler")

SOURCE = """#include <map>
#include <sstream>
#include <string>
namespace gen{n} {{
std::string Describe(int x) {{
  std::map<int, std::string> names{{{{1, "one"}}, {{2, "two"}}}};
  std::ostringstream out;
  out << names[x % 3] << x << "{tag}";
  return out.str();
}}
}}  // namespace gen{n}
"""


def workspace(tmp: Path, extra: int) -> Path:
    ws = tmp / "ws"
    shutil.copytree(ROOT / "examples/pyext", ws,
                    ignore=shutil.ignore_patterns("bazel-*", "cross_compiler", "dist"))
    (ws / "gen").mkdir()
    for n in range(extra):
        (ws / f"gen/gen{n}.cc").write_text(SOURCE.format(n=n, tag=""))
    (ws / "gen/BUILD.bazel").write_text(
        'cc_library(name = "gen", srcs = glob(["*.cc"]), visibility = ["//visibility:public"])\n')
    return ws


def timed(argv: list[str], env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    r = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                       env=env, check=False)
    seconds = time.perf_counter() - start
    if r.returncode != 0:
        sys.exit(f"{argv[:3]} failed ({r.returncode}):\n{r.stderr[-3000:]}")
    return seconds


def median_of(runs: int, argv: list[str], before: object = None,
              env: dict[str, str] | None = None) -> float:
    times = []
    for i in range(runs):
        if callable(before):
            before(i)
        times.append(timed(argv, env))
    return statistics.median(times)


def main() -> None:
    extra = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    tmp = Path(tempfile.mkdtemp(prefix="server-bench-"))
    env = {**os.environ, "CI": "", "CROSS_COMPILER_SERVER": "warm"}
    ws = tmp / "ws"
    try:
        ws, cache = workspace(tmp, extra), tmp / "cache"
        report = tmp / "result.json"
        common = ["--cpu=aarch64", f"--workspace={ws}", "--no-package", "--target=//gen",
                  "--target=//cli:hello"]
        docker = [CLI, "build", "--runner=docker", f"--cache-dir={cache}",
                  f"--result-json={report}", *common]
        local = [CLI, "build", "--runner=local", *common]
        edited = ws / "gen/gen0.cc"

        def edit(i: int) -> None:
            edited.write_text(SOURCE.format(n=0, tag=f"edit{time.monotonic_ns()}-{i}"))

        subprocess.run([CLI, "image"], check=True, stdout=subprocess.DEVNULL, env=env)
        cold_docker = timed(docker, env)  # starts the warm server
        noop_docker = median_of(5, docker, env=env)
        edit_docker = median_of(5, docker, edit, env)
        timed(docker, env)
        subprocess.run([CLI, "shutdown", f"--workspace={ws}"], check=True,
                       stdout=subprocess.DEVNULL, env=env)
        # The same Bazel command in a raw container: same image, mounts, user and caches.
        argv = json.loads(report.read_text())["bazel"]["aarch64"]["bazel_argv"]
        argv = [a for a in argv if not a.startswith("--max_idle_secs")]
        (layout,) = (p for p in cache.iterdir() if p.is_dir())
        image = "cross-compiler-builder:" + layout.name
        raw = ["docker", "run", "--rm", "--init", "-u", f"{os.getuid()}:{os.getgid()}",
               "-e", f"HOME={layout / 'home'}", "-e", f"USER=u{os.getuid()}",
               "-v", f"{ws}:{ws}", "-v", f"{layout}:{layout}", "-w", str(ws), image, *argv]
        noop_raw = median_of(5, raw)
        cold_local = timed(local, env)  # the local render: rebuilds once
        noop_local = median_of(5, local, env=env)
        edit_local = median_of(5, local, edit, env)
        subprocess.run(["bazel", "shutdown"], cwd=ws, capture_output=True, check=False)
        print(f"workspace: example + {extra} generated C++ files, aarch64, "
              f"{os.cpu_count()}-core machine; medians of 5")
        print(f"first docker build (starts the server): {cold_docker:7.2f} s; first local "
              f"build after it: {cold_local:7.2f} s")
        print(f"no-op, docker runner (warm server):     {noop_docker:7.2f} s")
        print(f"no-op, local runner:                    {noop_local:7.2f} s")
        print(f"no-op, raw docker run bazel build:      {noop_raw:7.2f} s")
        print(f"one-file edit, docker runner (warm):    {edit_docker:7.2f} s")
        print(f"one-file edit, local runner:            {edit_local:7.2f} s")
        print(f"docker no-op - local no-op = {noop_docker - noop_local:+.2f} s (target <= "
              f"+0.5 s); docker/raw = {noop_docker / noop_raw:.2f}; one-file edit "
              f"docker/local = {edit_docker / edit_local:.2f} (target <= 1.2)")
    finally:
        subprocess.run([CLI, "shutdown", f"--workspace={ws}"], capture_output=True,
                       check=False, env=env)
        subprocess.run(["bash", "-c", f"chmod -R u+w {tmp}; rm -rf {tmp}"], check=False)


if __name__ == "__main__":
    main()
