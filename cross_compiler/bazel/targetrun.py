"""Running target binaries: Bazel tests through the launcher (--run_under), and one binary."""

from __future__ import annotations

import dataclasses
import shlex
import shutil
from pathlib import Path

from cross_compiler.bazel.flags import BazelCommand
from cross_compiler.errors import ToolMissingError
from cross_compiler.toolchain.targets import Target


def qemu_program(target: Target) -> str:
    """qemu-user for the target: bookworm's ``qemu-<arch>-static`` or sid's ``qemu-<arch>``."""
    for name in dict.fromkeys((target.qemu, target.qemu.removesuffix("-static"))):
        found = shutil.which(name)
        if found:
            return found
    raise ToolMissingError(f"{target.qemu} not found, nor {target.qemu.removesuffix('-static')}",
                           "apt-get install qemu-user-static (Debian 12) or qemu-user (13+)")


def runtime_root(target: Target) -> str:
    """The C/C++ runtime that matches the cross compiler on this machine: its sysroot, else
    Debian's /usr/<triple> (the cross libc and libstdc++ the compiler linked against)."""
    root = target.sysroot or f"/usr/{target.triple}"
    if not Path(root).is_dir():
        raise ToolMissingError(f"no runtime for {target.cpu} at {root}",
                               f"apt-get install {target.compiler_package}")
    return root


def elf_word(target: Target) -> str:
    """``MACHINE:CLASS:DATA`` of the target's ELF files, as the exec shim compares them."""
    elf = target.elf
    return f"{elf.machine}:{1 if elf.bits == 32 else 2}:{1 if elf.endianness == 'little' else 2}"


def run_under(target: Target, launcher: Path, root: str | None = None) -> str:
    """The --run_under value: the launcher (shims/run-under.sh) with qemu, the runtime root
    and the target's ELF word. Bazel splits it on spaces, so no part may hold one."""
    parts = [str(launcher), qemu_program(target), root or runtime_root(target),
             elf_word(target)]
    if any(not p or any(c.isspace() for c in p) for p in parts):
        raise ToolMissingError(f"a path with a space cannot be used with --run_under: {parts}",
                               "install qemu and the runtime at paths without spaces")
    return " ".join(parts)


def test_command(build: BazelCommand, labels: tuple[str, ...], prefix: str) -> BazelCommand:
    """``bazel test`` with the build's flags, each test run through the launcher ``prefix``:
    a target ELF under qemu-user, a script natively (the target ELFs it runs under qemu)."""
    return dataclasses.replace(
        build, command="test", targets=labels,
        flags=(*build.flags, f"--run_under={prefix}", "--test_output=errors"))


def run_argv(target: Target, binary: Path, args: list[str], root: str) -> list[str]:
    return [qemu_program(target), "-L", root, str(binary), *args]


def display(argv: list[str]) -> str:
    return shlex.join(argv)
