from __future__ import annotations

import os
from pathlib import Path

import pytest

from cross_compiler import resources
from cross_compiler.errors import ToolMissingError
from cross_compiler.toolchain import probe
from cross_compiler.toolchain.targets import load_targets

(AARCH64,) = load_targets(["aarch64"], resources.toolchains_dir())

GCC_V = """\
ignoring nonexistent directory "/usr/local/include/aarch64-linux-gnu"
#include "..." search starts here:
#include <...> search starts here:
 /usr/lib/gcc-cross/aarch64-linux-gnu/12/../../../../aarch64-linux-gnu/include/c++/12
 /usr/lib/gcc-cross/aarch64-linux-gnu/12/include
 /usr/include
End of search list.
"""


def test_parse_search_dirs_keeps_order() -> None:
    assert probe.parse_search_dirs(GCC_V) == [
        "/usr/lib/gcc-cross/aarch64-linux-gnu/12/../../../../aarch64-linux-gnu/include/c++/12",
        "/usr/lib/gcc-cross/aarch64-linux-gnu/12/include",
        "/usr/include",
    ]


def test_normalize_is_lexical_and_sysroot_aware() -> None:
    dirs = probe.normalize_include_dirs(
        ["/usr/lib/gcc-cross/x/12/../../../../x/include", "/opt/sr/usr/include"], "/opt/sr"
    )
    assert dirs[0] == "/usr/x/include"
    assert "%sysroot%/usr/include" in dirs
    assert "/opt/sr/usr/include" not in dirs


def test_host_dirs_before_target_dirs_are_refused() -> None:
    with pytest.raises(probe.IncludeOrderError, match="searches host headers /usr/include before"):
        probe.check_include_order(AARCH64, ["/usr/include", "/usr/aarch64-linux-gnu/include"])
    probe.check_include_order(AARCH64, ["/usr/aarch64-linux-gnu/include", "/usr/include"])


def test_missing_cross_compiler_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(ToolMissingError) as e:
        probe.tool_paths(AARCH64)
    assert "aarch64-linux-gnu-" in str(e.value)
    assert "apt-get install g++-aarch64-linux-gnu" in str(e.value)


def _fake_root(root: Path, triple: str, pyconfig: bytes) -> None:
    inc = root / "usr/include/python3.11"
    (inc / "cpython").mkdir(parents=True)
    (inc / "Python.h").write_bytes(b"#include \"pyconfig.h\"\n")
    (inc / "cpython/object.h").write_bytes(b"/* obj */\n")
    # Debian's dispatching wrapper, which must never be used as the target's pyconfig.h.
    (inc / "pyconfig.h").write_bytes(b"# include <x86_64-linux-gnu/python3.11/pyconfig.h>\n")
    arch = root / "usr/include" / triple / "python3.11"
    arch.mkdir(parents=True)
    (arch / "pyconfig.h").write_bytes(pyconfig)


def test_python_headers_come_from_the_target_root(tmp_path: Path) -> None:
    _fake_root(tmp_path / "debroot/bookworm/arm64", "aarch64-linux-gnu", b"#define SIZEOF_LONG 8\n")
    found = probe.find_python_headers(AARCH64, tmp_path)
    assert found is not None
    headers = probe.read_python_headers(found)
    assert headers["pyconfig.h"] == b"#define SIZEOF_LONG 8\n"
    assert headers["cpython/object.h"] == b"/* obj */\n"
    assert "Python.h" in headers


@pytest.mark.skipif(not os.path.exists("/usr/bin/aarch64-linux-gnu-gcc"),
                    reason="needs g++-aarch64-linux-gnu (scripts/setup.sh installs it)")
def test_discovered_include_dirs_are_the_targets() -> None:
    dirs = probe.discover_include_dirs(AARCH64, "/usr/bin/aarch64-linux-gnu-gcc")
    assert "/usr/aarch64-linux-gnu/include" in dirs
    assert any(d.startswith("/usr/aarch64-linux-gnu/include/c++/") for d in dirs)
    assert all(".." not in d for d in dirs)
    host = [i for i, d in enumerate(dirs) if d in probe.HOST_INCLUDE_DIRS]
    assert all(i > j for i in host for j, d in enumerate(dirs) if d not in probe.HOST_INCLUDE_DIRS)


def test_absolute_symlinks_in_a_target_root_are_made_relative(tmp_path: Path) -> None:
    from cross_compiler.toolchain.debroot import relativize_symlinks

    (tmp_path / "lib/ppc").mkdir(parents=True)
    (tmp_path / "lib/ppc/ld64.so.2").write_bytes(b"loader")
    (tmp_path / "lib64").mkdir()
    (tmp_path / "lib64/ld64.so.2").symlink_to("/lib/ppc/ld64.so.2")
    relativize_symlinks(tmp_path)
    assert os.readlink(tmp_path / "lib64/ld64.so.2") == "../lib/ppc/ld64.so.2"
    assert (tmp_path / "lib64/ld64.so.2").read_bytes() == b"loader"
