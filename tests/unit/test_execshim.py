"""The launcher `test` runs every test through: its --run_under value per target, and the
exec shim's build (once per source and compiler, atomic, refused on unusable paths). What
the shim decides for each kind of file is run for real in tests/integration/test_execshim.py
(it needs the host's C compiler)."""

from __future__ import annotations

import stat
import sys
from pathlib import Path

import pytest

from cross_compiler import resources
from cross_compiler.bazel import execshim, targetrun
from cross_compiler.bazel.flags import BazelCommand
from cross_compiler.errors import BuildError, ConfigError, ToolMissingError
from cross_compiler.toolchain.targets import load_targets

TARGETS = {t.cpu: t for t in load_targets(["aarch64", "armv7hf", "riscv64", "ppc64le",
                                           "s390x"], resources.toolchains_dir())}


def test_elf_word_is_machine_class_and_data_of_each_target() -> None:
    assert {cpu: targetrun.elf_word(t) for cpu, t in TARGETS.items()} == {
        "aarch64": "183:2:1", "armv7hf": "40:1:1", "riscv64": "243:2:1",
        "ppc64le": "21:2:1", "s390x": "22:2:2"}


def test_run_under_is_the_launcher_then_qemu_root_and_elf_word(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(targetrun.shutil, "which", lambda name: f"/usr/bin/{name}")
    value = targetrun.run_under(TARGETS["armv7hf"], Path("/c/execshim/k/run-under.sh"),
                                "/usr/arm-linux-gnueabihf")
    assert value == ("/c/execshim/k/run-under.sh /usr/bin/qemu-arm-static "
                     "/usr/arm-linux-gnueabihf 40:1:1")
    command = targetrun.test_command(BazelCommand("bazel", "build", ("--cpu=x",), ()),
                                     ("//a:t", "-//a:skip"), value)
    assert command.argv()[-5:] == [f"--run_under={value}", "--test_output=errors", "--",
                                   "//a:t", "-//a:skip"]
    with pytest.raises(ToolMissingError, match="space"):
        targetrun.run_under(TARGETS["aarch64"], Path("/c/my cache/run-under.sh"), "/r")


def fake_compiler(tmp_path: Path, fails: bool = False) -> tuple[Path, Path]:
    """A stand-in for cc: answers -dumpmachine/-dumpversion, writes -o's file, counts builds."""
    calls = tmp_path / "calls"
    cc = tmp_path / "fakecc"
    cc.write_text(f"""#!{sys.executable}
import sys
args = sys.argv[1:]
if args[0].startswith("-dump"):
    print("x86_64-linux-gnu" if args[0] == "-dumpmachine" else "12")
    sys.exit(0)
with open({str(calls)!r}, "a") as f:
    f.write(" ".join(args) + "\\n")
if {fails!r}:
    sys.stderr.write("execshim.c:1: error: dlfcn.h: No such file\\n")
    sys.exit(1)
open(args[args.index("-o") + 1], "wb").write(b"\\x7fELF shim")
""")
    cc.chmod(cc.stat().st_mode | stat.S_IXUSR)
    return cc, calls


def test_the_shim_is_built_once_per_source_and_compiler(tmp_path: Path) -> None:
    cc, calls = fake_compiler(tmp_path)
    cache = tmp_path / "cache"
    launcher = execshim.ensure_launcher(cache, {"CC": str(cc)})
    assert launcher.name == "run-under.sh" and launcher.stat().st_mode & 0o111
    assert launcher.read_bytes() == (resources.data_dir("shims") / "run-under.sh").read_bytes()
    assert (launcher.parent / "execshim.so").read_bytes() == b"\x7fELF shim"
    assert execshim.ensure_launcher(cache, {"CC": str(cc)}) == launcher
    assert len(calls.read_text().splitlines()) == 1  # the second call found it built
    assert "-shared" in calls.read_text() and "-ldl" in calls.read_text()
    # Only the finished directory is left: the build happened beside it, then renamed.
    assert [p.name for p in (cache / "execshim").iterdir()] == [launcher.parent.name]

    changed = tmp_path / "shims"
    changed.mkdir()
    for name in ("execshim.c", "run-under.sh"):
        (changed / name).write_bytes((resources.data_dir("shims") / name).read_bytes())
    (changed / "execshim.c").write_bytes(b"/* changed */\n" + (changed / "execshim.c")
                                         .read_bytes())
    other = execshim.ensure_launcher(cache, {"CC": str(cc)}, changed)
    assert other.parent != launcher.parent
    assert len(calls.read_text().splitlines()) == 2


def test_a_failing_compiler_names_its_error_and_leaves_nothing(tmp_path: Path) -> None:
    cc, _ = fake_compiler(tmp_path, fails=True)
    cache = tmp_path / "cache"
    with pytest.raises(BuildError, match=r"dlfcn\.h: No such file") as caught:
        execshim.ensure_launcher(cache, {"CC": str(cc)})
    assert "libc6-dev" in caught.value.hint
    assert list((cache / "execshim").iterdir()) == []


def test_a_cache_path_the_launcher_cannot_carry_is_refused(tmp_path: Path) -> None:
    cc, calls = fake_compiler(tmp_path)
    for bad in ("my cache", "a:b", "it's"):
        with pytest.raises(ConfigError, match="CROSS_COMPILER_CACHE"):
            execshim.ensure_launcher(tmp_path / bad, {"CC": str(cc)})
    assert not calls.exists()


def test_an_unwritable_cache_is_refused_naming_it(tmp_path: Path) -> None:
    cc, _ = fake_compiler(tmp_path)
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError, match="cannot build the exec shim in") as caught:
        execshim.ensure_launcher(tmp_path / "file", {"CC": str(cc)})
    assert "writable" in caught.value.hint


def test_no_host_compiler_is_a_missing_tool(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(execshim.shutil, "which", lambda name: None)
    with pytest.raises(ToolMissingError, match="cc or gcc") as caught:
        execshim.host_compiler({})
    assert "gcc" in caught.value.hint
