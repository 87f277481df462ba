"""Fixed render inputs for the golden files, and the explicit refresh (`invoke update-golden`).

The inputs mirror Debian 12's cross gcc 12 layout, so the golden files read like a real
render but do not depend on what this machine has installed.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from pathlib import Path

from cross_compiler import resources
from cross_compiler.toolchain import families, sysroot
from cross_compiler.toolchain.render import RenderRequest, ToolchainInputs, render_toolchain
from cross_compiler.toolchain.targets import available_cpus, load_targets

GOLDEN_DIR = Path(__file__).parent / "golden"
GOLDEN_FILES = ("BUILD.bazel", "cc_toolchain_config.bzl", "platform_mappings")  # every cpu
# Golden sets of other compiler families: directory -> (cpu, family, sysroot suite).
VARIANTS = {"clang-aarch64": ("aarch64", "clang", "bullseye"),
            "zig-aarch64": ("aarch64", "zig", "")}
# The glibc baseline of a family that takes one from its route (zig).
GOLDEN_GLIBC = {"zig": "2.17"}
# Where zig "is" (PyPI's ziglang in a venv): never run, only named.
GOLDEN_ZIG = "/venv/lib/python3.11/site-packages/ziglang"
# Where the golden clang sysroot "is": never read, only named.
GOLDEN_SYSROOT_CACHE = "/cache/cross_compiler"


def _include_dirs(triple: str, family: str) -> tuple[str, ...]:
    if family == "zig":  # its own libc++ and glibc headers, whatever the baseline
        return tuple(f"{GOLDEN_ZIG}/lib/{d}" for d in (
            "libcxx/include", "libcxxabi/include", "include", f"libc/include/{triple}",
            "libc/include/generic-glibc", "libc/include/aarch64-linux-any",
            "libc/include/any-linux-any", "libunwind/include"))
    if family == "clang":  # clang 14 against a bullseye sysroot (gcc 10's libstdc++)
        return (
            "%sysroot%/usr/include/c++/10",
            f"%sysroot%/usr/include/{triple}/c++/10",
            "%sysroot%/usr/include/c++/10/backward",
            "/usr/lib/clang/14.0.6/include",
            "/usr/lib/llvm-14/lib/clang/14.0.6/include",
            f"%sysroot%/usr/include/{triple}",
            "%sysroot%/usr/include",
        )
    return (
        f"/usr/lib/gcc-cross/{triple}/12/include",
        f"/usr/{triple}/include",
        f"/usr/{triple}/include/c++/12",
        f"/usr/{triple}/include/c++/12/{triple}",
        f"/usr/{triple}/include/c++/12/backward",
        "/usr/include",
    )


def golden_request(cpu: str, family: str = families.DEFAULT, suite: str = "") -> RenderRequest:
    (target,) = load_targets([cpu], resources.toolchains_dir())
    toolchain = families.shipped(family).resolve(target, GOLDEN_GLIBC.get(family, ""),
                                                  GOLDEN_SYSROOT_CACHE)
    where_is = {"zig": f"{GOLDEN_ZIG}/zig"}
    repository = ""
    if suite:
        where = sysroot.sysroot_dir(suite, target.debian_arch, Path(GOLDEN_SYSROOT_CACHE))
        target = dataclasses.replace(target, sysroot=str(where))
        repository = sysroot.repository_name(suite, target.cpu)
    headers = {} if cpu == "riscv64" else {"Python.h": b"/* golden */\n"}
    reason = "" if headers else f"no Python 3.11 headers for {cpu}"
    inputs = ToolchainInputs(
        target=target,
        tool_paths={name: where_is.get(program, program if os.path.isabs(program)
                                       else f"/usr/bin/{program}")
                    for name, program in toolchain.tools.items()},
        include_dirs=_include_dirs(target.triple, family),
        python_headers=headers,
        python_missing_reason=reason,
        toolchain=toolchain,
        sysroot_repository=repository,
    )
    return RenderRequest(
        toolchains=(inputs,),
        exec_constraints=("@platforms//cpu:x86_64", "@platforms//os:linux"),
        host_system_name="x86_64-linux-gnu",
    )


def rendered_golden_files(name: str) -> dict[str, bytes]:
    """Every rendered file but the copied Python headers, for a cpu or a VARIANTS name."""
    cpu, family, suite = VARIANTS.get(name, (name, families.DEFAULT, ""))
    files = render_toolchain(golden_request(cpu, family, suite))
    return {name: data for name, data in files.items() if "/include/" not in name}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--update", action="store_true", required=True)
    parser.add_argument("--cpu", default="all")
    args = parser.parse_args()
    cpus = ([*available_cpus(resources.toolchains_dir()), *VARIANTS] if args.cpu == "all"
            else args.cpu.split(","))
    for cpu in cpus:
        for name, content in rendered_golden_files(cpu).items():
            path = GOLDEN_DIR / cpu / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
            print(f"wrote {path}")


if __name__ == "__main__":
    main()
