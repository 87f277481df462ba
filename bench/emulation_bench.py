"""Cross compiling vs compiling natively under emulation (what qemu-based tools do).

Compiles the example's C++ sources (-O2, to assembly: the compiler proper, cc1plus, is the
cost) with Debian's aarch64 cross g++, and with Debian's native aarch64 g++ run under
qemu-user. Both are the same GCC 12 release. Prints both times and the ratio last.
Target (issue 5): cross >= 8x faster.

Usage: python bench/emulation_bench.py [repeat]   (needs scripts/setup.sh's packages)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples/pyext"
SOURCES = ["lib/mathlib.cc", "cli/hello.cc", "python/crossdemo/native.cc"]
NATIVE_PACKAGES = [
    "g++-12", "gcc-12", "cpp-12", "libstdc++-12-dev", "libgcc-12-dev", "libc6-dev",
    "linux-libc-dev", "libc6", "libstdc++6", "libgcc-s1", "libisl23", "libmpc3", "libmpfr6",
    "libgmp10", "libzstd1", "zlib1g", "libpython3.11-dev", "libpython3.11",
]


def native_root(cache: Path) -> Path:
    """Debian's arm64 g++ unpacked (apt-get download + dpkg -x), cached."""
    root = cache / "native-gcc-arm64"
    if (root / "usr/bin/aarch64-linux-gnu-g++-12").exists():
        return root
    debs = Path(tempfile.mkdtemp())
    subprocess.run(["apt-get", "download", *[f"{p}:arm64" for p in NATIVE_PACKAGES]],
                   cwd=debs, check=True, capture_output=True)
    tmp = root.with_name(root.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    for deb in debs.glob("*.deb"):
        subprocess.run(["dpkg", "-x", str(deb), str(tmp)], check=True)
    sys.path.insert(0, str(ROOT))
    from cross_compiler.toolchain.debroot import relativize_symlinks

    relativize_symlinks(tmp)
    tmp.rename(root)
    shutil.rmtree(debs)
    return root


def register_binfmt() -> None:
    """The emulated driver execs cc1plus, an aarch64 binary: the kernel must hand it to
    qemu (binfmt_misc), as it does for emulation-based build tools."""
    misc = Path("/proc/sys/fs/binfmt_misc")
    if not (misc / "register").exists():
        subprocess.run(["mount", "-t", "binfmt_misc", "binfmt_misc", str(misc)], check=True)
    if not (misc / "qemu-aarch64").exists():
        line = Path("/usr/lib/binfmt.d/qemu-aarch64.conf").read_text().strip()
        (misc / "register").write_text(line)


def compile_all(argv_prefix: list[str], include: Path, out: Path, repeat: int,
                env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    for i in range(repeat):
        for source in SOURCES:
            subprocess.run([*argv_prefix, "-std=c++17", "-O2", "-S", f"-I{EXAMPLE}",
                            f"-I{include}", str(EXAMPLE / source), "-o",
                            str(out / f"{i}-{Path(source).stem}.s")], check=True,
                           env={**os.environ, **(env or {})})
    return time.perf_counter() - start


def main() -> None:
    repeat = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "cross_compiler"
    root = native_root(cache)
    # The target's Python headers with its own pyconfig.h (as //cross_compiler renders them).
    include = Path(tempfile.mkdtemp()) / "python3.11"
    shutil.copytree(root / "usr/include/python3.11", include)
    shutil.copy(root / "usr/include/aarch64-linux-gnu/python3.11/pyconfig.h", include)
    out = Path(tempfile.mkdtemp())
    try:
        cross = compile_all(["aarch64-linux-gnu-g++"], include, out, repeat)
        register_binfmt()
        native = compile_all(
            [str(root / "usr/bin/aarch64-linux-gnu-g++-12"),
             f"-B{root}/usr/lib/gcc/aarch64-linux-gnu/12/", f"--sysroot={root}"],
            include, out, repeat, env={"QEMU_LD_PREFIX": str(root)})
        n = repeat * len(SOURCES)
        print(f"{n} compiles of the example's C++ sources (-O2 -S)")
        print(f"cross (x86_64 host, aarch64 target): {cross:7.2f} s")
        print(f"native aarch64 g++ under qemu-user:  {native:7.2f} s")
        print(f"cross is {native / cross:.1f}x faster (target >= 8x)")
    finally:
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
