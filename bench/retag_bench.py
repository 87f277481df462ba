"""Retag speed on a large wheel: cp vs ours vs `wheel tags`, measured side by side in one run.

Usage: python bench/retag_bench.py [WHEEL] [--synthetic] [--runs N]

Without WHEEL it tries `pip download tensorflow-cpu` (274 MB, 15 632 members); when that
fails (offline) or with --synthetic it builds a wheel of the same shape (about 40 s): 15 632
members of which 2 620 empty directories, 1.29 GB that deflate to ~280 MB, its dist-info
first as TensorFlow's is (so every later record moves), 78 x86_64 ELF members (one of
600 MB) whose data is one part in 16 incompressible. The wheel is read once before timing
(warm cache); cp and ours run --runs times, interleaved, each into a fresh file on one file
system; `wheel tags` once (it takes tens of seconds). Figures are the best run (median
beside it); ours is timed as a whole process (interpreter start and imports included, as a
user runs it) and as the retag call alone; peak memory is that process's VmHWM.
Targets (issue 22): ours <= 4x cp, >= 80x faster than `wheel tags`, peak <= 100 MB.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MEMBERS, ELVES, DIRS = 15_632, 78, 2_620  # as in tensorflow_cpu-2.21.0
TIME = (2024, 1, 2, 3, 4, 6)
TARGETS = {"ours_over_cp": 4.0, "tags_over_ours": 80.0, "peak_mb": 100.0}

# Runs in a fresh interpreter: the tool's own entry point, timed around the call too.
OURS = """
import json, sys, time
start = time.perf_counter()
from pathlib import Path
from cross_compiler import api
call = time.perf_counter()
api.retag([Path(sys.argv[1])], "", {}, platform=sys.argv[2], out_dir=Path(sys.argv[3]))
done = time.perf_counter()
hwm = [l for l in Path("/proc/self/status").read_text().splitlines() if l.startswith("VmHWM:")]
print(json.dumps({"call": done - call, "imports": call - start,
                  "peak_mb": int(hwm[0].split()[1]) / 1024}))
"""


def _record_hash(digest: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class Synthetic:
    """A TensorFlow-shaped wheel, generated block by block from seeds (never held whole):
    ELF members of machine-code-like data (mostly compressible text, one block in 16
    random), the rest source text. TensorFlow's: 1.27 GB uncompressed, 270 MB stored."""

    BLOCK = 64 << 10

    def __init__(self) -> None:
        rng = random.Random(22)
        words = [rng.randbytes(4).hex()[:rng.randint(3, 8)] for _ in range(20)]
        self.text = " ".join(rng.choice(words) + ("\n" if rng.random() < 0.1 else "")
                             for _ in range(400_000)).encode()
        self.members: list[tuple[str, int, int]] = []  # (name, size, seed)
        self.members.append(("synth/python/_big.so", 600 << 20, 0))
        for i in range(1, ELVES):
            self.members.append((f"synth/python/_lib{i}.so", 5 << 20, i))
        for i in range(MEMBERS - 6 - DIRS - ELVES):  # 6: dist-info/, RECORD and 4 more
            suffix = (".h", ".py", ".inc", ".hpp", ".h", ".h")[i % 6]
            self.members.append((f"synth/pkg{i % 97}/mod{i}{suffix}",
                                 random.Random(i).randint(1000, 38_000), ELVES + i))

    def blocks(self, name: str, size: int, seed: int) -> Iterator[bytes]:
        rng = random.Random(seed)
        header = b""
        if name.endswith(".so"):  # an x86_64 shared object's ELF header
            header = (b"\x7fELF\x02\x01\x01" + bytes(9) + (3).to_bytes(2, "little")
                      + (62).to_bytes(2, "little") + bytes(44))
            yield header
        left = size - len(header)
        while left > 0:
            n = min(self.BLOCK, left)
            if name.endswith(".so") and rng.random() < 1 / 16:
                yield rng.randbytes(n)
            else:
                at = rng.randrange(len(self.text) - n)
                yield self.text[at:at + n]
            left -= n


def build_synthetic(directory: Path) -> Path:
    """Write the synthetic wheel (see Synthetic), its dist-info first as TensorFlow's is."""
    synth = Synthetic()
    dist_info = "synth-1.0.dist-info"
    wheel_text = (b"Wheel-Version: 1.0\nGenerator: retag_bench\nRoot-Is-Purelib: false\n"
                  b"Tag: cp311-cp311-manylinux_2_27_x86_64\n\n")
    meta = {f"{dist_info}/entry_points.txt": b"[console_scripts]\nsynth = synth:main\n",
            f"{dist_info}/METADATA": b"Metadata-Version: 2.1\nName: synth\nVersion: 1.0\n\n",
            f"{dist_info}/top_level.txt": b"synth\n",
            f"{dist_info}/WHEEL": wheel_text}
    rows = [f"{n},{_record_hash(hashlib.sha256(d).digest())},{len(d)}" for n, d in meta.items()]
    for name, size, seed in synth.members:
        digest = hashlib.sha256()
        for block in synth.blocks(name, size, seed):
            digest.update(block)
        rows.append(f"{name},{_record_hash(digest.digest())},{size}")
    record = "\n".join([*rows, f"{dist_info}/RECORD,,", ""]).encode()
    path = directory / "synth-1.0-cp311-cp311-manylinux_2_27_x86_64.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(zipfile.ZipInfo(f"{dist_info}/", TIME), b"")
        for name, data in [(f"{dist_info}/RECORD", record), *meta.items()]:
            zf.writestr(zipfile.ZipInfo(name, TIME), data, zipfile.ZIP_DEFLATED)
        for n, (name, size, seed) in enumerate(synth.members):
            info = zipfile.ZipInfo(name, TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            info.file_size = size
            with zf.open(info, "w") as w:
                for block in synth.blocks(name, size, seed):
                    w.write(block)
            if (n + 1) * DIRS // len(synth.members) > n * DIRS // len(synth.members):
                zf.writestr(zipfile.ZipInfo(f"synth/dir{n}/", TIME), b"")  # stored, empty
    return path


def _download(directory: Path) -> Path | None:
    done = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d",
                           str(directory), "--only-binary=:all:", "tensorflow-cpu"],
                          capture_output=True, text=True, check=False)
    found = sorted(directory.glob("*.whl"))
    return found[0] if done.returncode == 0 and found else None


def _timed(argv: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(argv, check=True, capture_output=True, text=True, cwd=ROOT)
    return time.perf_counter() - start, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wheel", nargs="?", type=Path)
    parser.add_argument("--synthetic", action="store_true", help="build the synthetic wheel")
    parser.add_argument("--runs", type=int, default=7, help="runs of cp and of ours")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="retag-bench-"))
    try:
        wheel = args.wheel.resolve() if args.wheel else None
        if wheel is None and not args.synthetic:
            (work / "in").mkdir()
            wheel = _download(work / "in")
        if wheel is None:
            start = time.perf_counter()
            wheel = build_synthetic(work)
            print(f"built a synthetic wheel in {time.perf_counter() - start:.0f} s")
        with zipfile.ZipFile(wheel) as zf:
            count = len(zf.infolist())
        arch = "x86_64" if "x86_64" in wheel.name else wheel.stem.rsplit("_", 1)[-1]
        new_tag = f"manylinux_2_28_{arch}"
        print(f"wheel: {wheel.name} ({wheel.stat().st_size / 1e6:.0f} MB, {count} members) "
              f"-> platform {new_tag}")
        with wheel.open("rb") as f:  # warm the page cache
            while f.read(16 << 20):
                pass
        os.sync()  # no writeback of earlier writes (the synthetic wheel's) during timing

        cp_s: list[float] = []
        ours_s: list[float] = []
        calls: list[float] = []
        imports: list[float] = []
        peaks: list[float] = []
        for _ in range(args.runs):
            copy = work / "copy.whl"
            cp_s.append(_timed(["cp", str(wheel), str(copy)])[0])
            copy.unlink()
            out = work / "ours"
            elapsed, stdout = _timed([sys.executable, "-c", OURS, str(wheel), new_tag,
                                      str(out)])
            report = json.loads(stdout.splitlines()[-1])
            ours_s.append(elapsed)
            calls.append(report["call"])
            imports.append(report["imports"])
            peaks.append(report["peak_mb"])
            shutil.rmtree(out)
        tags_dir = work / "tags"
        tags_dir.mkdir()
        shutil.copy(wheel, tags_dir / wheel.name)
        tags_s, _ = _timed([sys.executable, "-m", "wheel", "tags", "--platform-tag", new_tag,
                            str(tags_dir / wheel.name)])

        def best(values: list[float]) -> str:
            return f"{min(values):7.3f} s (median {statistics.median(values):.3f} s)"

        print(f"cp:                     {best(cp_s)}")
        print(f"ours, whole process:    {best(ours_s)}")
        print(f"  of which the retag call {best(calls)}; interpreter start and imports "
              f"{min(imports):.3f} s")
        print(f"wheel tags:             {tags_s:7.3f} s (one run)")
        print(f"peak memory (ours):     {max(peaks):7.1f} MB (VmHWM, interpreter included)")
        over_cp, call_over_cp = min(ours_s) / min(cp_s), min(calls) / min(cp_s)
        faster = tags_s / min(ours_s)
        print(f"ours / cp = {over_cp:.1f}x (target <= {TARGETS['ours_over_cp']:.0f}x; the "
              f"retag call alone {call_over_cp:.1f}x); wheel tags / ours = {faster:.0f}x "
              f"(target >= {TARGETS['tags_over_ours']:.0f}x); peak {max(peaks):.0f} MB "
              f"(target <= {TARGETS['peak_mb']:.0f} MB)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
