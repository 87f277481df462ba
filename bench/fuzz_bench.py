"""Long wheel-fuzz run: N cases (default 30000) through retag and test-wheel's archive check.

Usage: python bench/fuzz_bench.py [N] [--limit SECONDS] [--start INDEX]

Cases run in worker processes (one for the size-bomb family, so its peak RSS is its own,
one for the rest); each case has a time limit inside the worker (SIGALRM), and the worker
is killed and replaced if it does not answer within the limit plus a margin (a hang).
Prints counts per family and outcome, the defects, the workers' peak RSS, and last a
summary line. Issue 11's targets: 0 defects; peak RSS on the bomb cases <= 100 MB.
"""

from __future__ import annotations

import argparse
import json
import resource
import select
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MARGIN = 15  # seconds past the in-worker limit before the worker counts as hung


def worker(limit: int) -> None:
    """Read case indices on stdin, answer one JSON line each on stdout."""
    sys.path.insert(0, str(ROOT))
    from tests.fuzz.run import make_case, run_case

    work = Path(tempfile.mkdtemp(prefix="fuzz-bench-"))
    try:
        for line in sys.stdin:
            index = int(line)
            result = run_case(make_case(index), work, limit)
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(json.dumps({"family": result.family, "outcome": result.outcome,
                              "detail": result.detail, "check": result.check,
                              "rss_mb": rss}), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


class Worker:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.peak_mb = 0.0
        self._start()

    def _start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--worker", "--limit", str(self.limit)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)

    def run(self, index: int) -> dict[str, object]:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(f"{index}\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], self.limit + MARGIN)
        line = self.proc.stdout.readline() if ready else ""
        if not line:  # hung past the limit, or died: a defect either way
            self.proc.kill()
            self.proc.wait()
            self._start()
            return {"outcome": "DEFECT", "detail": "hang or worker death", "check": "skipped",
                    "rss_mb": 0.0}
        answer: dict[str, object] = json.loads(line)
        self.peak_mb = max(self.peak_mb, float(answer["rss_mb"]))  # type: ignore[arg-type]
        return answer

    def close(self) -> None:
        assert self.proc.stdin
        self.proc.stdin.close()
        self.proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="?", type=int, default=30000)
    parser.add_argument("--limit", type=int, default=20, help="seconds per case")
    parser.add_argument("--start", type=int, default=0, help="first case index")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.limit)
        return
    sys.path.insert(0, str(ROOT))
    from tests.fuzz.run import FAMILIES, OUTCOMES

    names = sorted(FAMILIES)
    workers = {"bombs": Worker(args.limit), "other": Worker(args.limit)}
    counts: Counter[tuple[str, str]] = Counter()
    checks: Counter[str] = Counter()
    defects: list[str] = []
    started = time.perf_counter()
    for index in range(args.start, args.start + args.cases):
        family = names[index % len(names)]
        answer = workers["bombs" if family == "size_bombs" else "other"].run(index)
        counts[(family, str(answer["outcome"]))] += 1
        checks[str(answer["check"])] += 1
        if answer["outcome"] == "DEFECT":
            defects.append(f"case {index} ({family}): {answer['detail']}")
        if (index - args.start + 1) % 5000 == 0:
            print(f"... {index - args.start + 1} cases, {len(defects)} defects, "
                  f"{time.perf_counter() - started:.0f} s", flush=True)
    elapsed = time.perf_counter() - started
    for w in workers.values():
        w.close()

    print(f"{'family':<24}" + "".join(f"{o:>13}" for o in OUTCOMES) + f"{'total':>8}")
    for family in names:
        row = [counts[(family, o)] for o in OUTCOMES]
        print(f"{family:<24}" + "".join(f"{n:>13}" for n in row) + f"{sum(row):>8}")
    totals = [sum(counts[(f, o)] for f in names) for o in OUTCOMES]
    print(f"{'all':<24}" + "".join(f"{n:>13}" for n in totals) + f"{sum(totals):>8}")
    print("test-wheel archive check: " + ", ".join(f"{k} {v}" for k, v in sorted(checks.items())))
    for line in defects[:30]:
        print("DEFECT", line)
    bomb_mb, other_mb = workers["bombs"].peak_mb, workers["other"].peak_mb
    print(f"peak RSS: size_bombs worker {bomb_mb:.1f} MB, other families' worker "
          f"{other_mb:.1f} MB; {elapsed:.0f} s, {1000 * elapsed / args.cases:.1f} ms/case")
    print(f"SUMMARY cases={args.cases} defects={len(defects)} "
          f"defect_ratio={len(defects)}/{args.cases} error={totals[0]} valid={totals[1]} "
          f"passthrough={totals[2]} bomb_peak_rss_mb={bomb_mb:.1f} "
          f"peak_rss_mb={max(bomb_mb, other_mb):.1f}")


if __name__ == "__main__":
    main()
