"""Fixed render inputs for the golden files, and the explicit refresh (`invoke update-golden`).

The inputs mirror Debian 12's cross gcc 12 layout, so the golden files read like a real
render but do not depend on what this machine has installed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from cross_compiler import resources
from cross_compiler.render import RenderRequest, ToolchainInputs, render_toolchain
from cross_compiler.targets import available_cpus, load_targets

GOLDEN_DIR = Path(__file__).parent / "golden"
GOLDEN_FILES = ("BUILD.bazel", "cc_toolchain_config.bzl", "platform_mappings")  # every cpu
_TOOLS = ("ar", "cpp", "dwp", "gcc", "gcov", "ld", "nm", "objcopy", "objdump", "strip")


def golden_request(cpu: str) -> RenderRequest:
    (target,) = load_targets([cpu], resources.toolchains_dir())
    triple = target.triple
    include_dirs = (
        f"/usr/lib/gcc-cross/{triple}/12/include",
        f"/usr/{triple}/include",
        f"/usr/{triple}/include/c++/12",
        f"/usr/{triple}/include/c++/12/{triple}",
        f"/usr/{triple}/include/c++/12/backward",
        "/usr/include",
    )
    headers = {} if cpu == "riscv64" else {"Python.h": b"/* golden */\n"}
    reason = "" if headers else f"no Python 3.11 headers for {cpu}"
    inputs = ToolchainInputs(
        target=target,
        tool_paths={name: f"/usr/bin/{target.tool(name)}" for name in _TOOLS},
        include_dirs=include_dirs,
        python_headers=headers,
        python_missing_reason=reason,
    )
    return RenderRequest(
        toolchains=(inputs,),
        exec_constraints=("@platforms//cpu:x86_64", "@platforms//os:linux"),
        host_system_name="x86_64-linux-gnu",
    )


def rendered_golden_files(cpu: str) -> dict[str, bytes]:
    """Every rendered file but the copied Python headers."""
    files = render_toolchain(golden_request(cpu))
    return {name: data for name, data in files.items() if "/include/" not in name}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--update", action="store_true", required=True)
    parser.add_argument("--cpu", default="all")
    args = parser.parse_args()
    cpus = available_cpus(resources.toolchains_dir()) if args.cpu == "all" else args.cpu.split(",")
    for cpu in cpus:
        for name, content in rendered_golden_files(cpu).items():
            path = GOLDEN_DIR / cpu / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
            print(f"wrote {path}")


if __name__ == "__main__":
    main()
