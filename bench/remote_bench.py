"""Local vs remote execution of the example, side by side in one run.

Starts the test's REAPI service on 127.0.0.1 (tests/reapi/stack.py: PostgreSQL +
BuildGrid 0.4.4 + the test worker with 2 bots) and builds, each in a fresh copy of the
example with N generated C++ files (a fresh Bazel output base, so nothing is reused):
  1. local execution (the local runner, no cache);
  2. remote execution, cold (empty CAS and action cache);
  3. remote execution from another fresh workspace, the "second machine": all actions
     answered from BuildGrid's action cache.
The executor here is the same 2-core machine, so (2) measures the protocol's overhead
(uploads, scheduling, downloads), not a farm's parallelism. Prints the ratios last.

Usage: python bench/remote_bench.py [extra_sources]   (needs scripts/setup.sh's BuildGrid)
"""

from __future__ import annotations

import re
import shutil
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
  out << names[x % 3] << x;
  return out.str();
}}
}}  // namespace gen{n}
"""


def workspace(tmp: Path, name: str, extra: int) -> Path:
    ws = tmp / name
    shutil.copytree(ROOT / "examples/pyext", ws,
                    ignore=shutil.ignore_patterns("bazel-*", "cross_compiler", "dist"))
    (ws / "gen").mkdir()
    for n in range(extra):
        (ws / f"gen/gen{n}.cc").write_text(SOURCE.format(n=n))
    (ws / "gen/BUILD.bazel").write_text(
        'cc_library(name = "gen", srcs = glob(["*.cc"]), visibility = ["//visibility:public"])\n')
    return ws


def build(ws: Path, *extra: str) -> tuple[float, str]:
    """Seconds for one cold build through the tool, and Bazel's process summary."""
    argv = [CLI, "build", "--runner=local", "--cpu=aarch64", f"--workspace={ws}",
            "--no-package", "--target=//gen", "--target=//cli:hello",
            "--target=//python/crossdemo:_native.so", *extra]
    start = time.perf_counter()
    r = subprocess.run(argv, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    subprocess.run(["bazel", "shutdown"], cwd=ws, capture_output=True, check=False)
    if r.returncode != 0:
        sys.exit(f"build failed ({r.returncode}):\n{r.stderr[-3000:]}")
    lines = re.findall(r"INFO: \d+ processes?: (.*)\.$", r.stderr, re.M)
    return seconds, lines[-1] if lines else "?"


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from tests.reapi.stack import buildgrid_stack

    extra = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    tmp = Path(tempfile.mkdtemp(prefix="remote-bench-"))
    try:
        local, local_kinds = build(workspace(tmp, "local", extra))
        start = time.perf_counter()
        with buildgrid_stack(tmp / "reapi", jobs=2) as stack:
            startup = time.perf_counter() - start
            flag = f"--remote-executor={stack.endpoint}"
            remote, remote_kinds = build(workspace(tmp, "remote", extra), flag)
            hits, hit_kinds = build(workspace(tmp, "second", extra), flag)
        print(f"workspace: example + {extra} generated C++ files, aarch64, local runner, "
              "2-core machine")
        print(f"service start (PostgreSQL + BuildGrid + worker): {startup:6.2f} s")
        print(f"local execution:                  {local:6.2f} s  ({local_kinds})")
        print(f"remote execution, cold:           {remote:6.2f} s  ({remote_kinds})")
        print(f"remote, second fresh workspace:   {hits:6.2f} s  ({hit_kinds})")
        print(f"remote/local = {remote / local:.2f}; second/local = {hits / local:.2f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
