"""The docker runner's speed, side by side in one run.

Prints: cold build (empty caches), warm rebuild in a fresh container (caches kept), and a
no-op build through the tool vs the same Bazel command in a raw `docker run`.
Targets (issue 3): warm <= 15% of cold; tool overhead <= 1 s over raw.

Usage: python bench/docker_bench.py [extra_sources]   (needs a Docker engine)
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

# Enough C++ that the cold build is a real build, as in the workspaces users bring.
SOURCE = """#include <map>
#include <regex>
#include <sstream>
#include <string>
namespace gen{n} {{
std::string Describe(int x) {{
  std::map<int, std::string> names{{{{1, "one"}}, {{2, "two"}}}};
  std::regex digits("[0-9]+");
  std::ostringstream out;
  out << names[x % 3] << std::regex_replace(std::to_string(x), digits, "#");
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
        (ws / f"gen/gen{n}.cc").write_text(SOURCE.format(n=n))
    (ws / "gen/BUILD.bazel").write_text(
        'cc_library(name = "gen", srcs = glob(["*.cc"]), visibility = ["//visibility:public"])\n')
    return ws


def timed(argv: list[str], **kwargs: object) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   **kwargs)  # type: ignore[call-overload]
    return time.perf_counter() - start


def main() -> None:
    extra = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    tmp = Path(tempfile.mkdtemp(prefix="docker-bench-"))
    try:
        ws, cache = workspace(tmp, extra), tmp / "cache"
        report = tmp / "result.json"
        tool = [CLI, "build", "--runner=docker", "--cpu=aarch64", f"--workspace={ws}",
                f"--cache-dir={cache}", "--no-package", "--target=//gen", "--target=//cli:hello",
                "--target=//python/crossdemo:_native.so", f"--result-json={report}"]
        subprocess.run([CLI, "image"], check=True, stdout=subprocess.DEVNULL)
        cold = timed(tool)
        warm = timed(tool)
        # The same Bazel command in a raw container: same image, mounts, user and caches.
        argv = json.loads(report.read_text())["bazel"]["aarch64"]["bazel_argv"]
        (layout,) = (p for p in cache.iterdir() if p.is_dir())
        image = "cross-compiler-builder:" + layout.name
        raw = ["docker", "run", "--rm", "--init", "-u", f"{os.getuid()}:{os.getgid()}",
               "-e", f"HOME={layout / 'home'}", "-e", f"USER=u{os.getuid()}",
               "-v", f"{ws}:{ws}", "-v", f"{layout}:{layout}", "-w", str(ws), image, *argv]
        # No-op builds alternate between the two, the median of five each (noisy machine).
        tool_runs, raw_runs = [], []
        for _ in range(5):
            tool_runs.append(timed(tool))
            raw_runs.append(timed(raw))
        noop_tool, noop_raw = statistics.median(tool_runs), statistics.median(raw_runs)
        print(f"workspace: example + {extra} generated C++ files, aarch64, docker runner")
        print(f"cold build (empty caches):          {cold:7.2f} s")
        print(f"warm rebuild in a fresh container:  {warm:7.2f} s")
        print(f"no-op build via the tool:           {noop_tool:7.2f} s (median of 5)")
        print(f"no-op build, raw docker run bazel:  {noop_raw:7.2f} s (median of 5)")
        print(f"warm/cold = {100 * warm / cold:.0f}% (target <= 15%); "
              f"tool overhead = {noop_tool - noop_raw:+.2f} s (target <= 1 s)")
    finally:
        subprocess.run(["bash", "-c", f"chmod -R u+w {tmp}; rm -rf {tmp}"], check=False)


if __name__ == "__main__":
    main()
