"""Extension module names against the wheel's tags and the target (honest tags)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cross_compiler.wheel.extnames import ExtensionTagError, check_extension_names

OK_MEMBERS = ["pkg/__init__.py", "pkg/_a.cpython-313-aarch64-linux-gnu.so", "pkg/_b.so",
              "pkg.libs/libfoo-1234.so.1", "pkg/_c.abi3.so"]


def test_matching_names_pass() -> None:
    check_extension_names("w.whl", OK_MEMBERS, {"cp313-cp313"}, "3.13", "aarch64-linux-gnu")
    # ctypes libraries in a py3-none platform wheel are legitimate.
    check_extension_names("w.whl", ["pkg/libx.so", "pkg/__init__.py"], {"py3-none"}, "3.13",
                          "aarch64-linux-gnu")


@pytest.mark.parametrize(("members", "tags", "message"), [
    (["m/_x.cpython-311-aarch64-linux-gnu.so"], {"cp313-cp313"},
     r"m/_x\.cpython-311-aarch64-linux-gnu\.so is a CPython 3\.11 extension .*target's Python "
     r"is 3\.13"),
    (["m/_x.cpython-313-x86_64-linux-gnu.so"], {"cp313-cp313"},
     r"extension for x86_64-linux-gnu \(its EXT_SUFFIX\), the target is aarch64-linux-gnu"),
    (["m/_x.cpython-313-aarch64-linux-gnu.so"], {"py3-none"},
     r"tagged py3-none \(any Python\) but holds the CPython extension m/_x"),
    (["m/_x.abi3.so"], {"py2.py3-none"}, r"tagged py2\.py3-none"),
])
def test_contradictions_are_refused_naming_both(members: list[str], tags: set[str],
                                                message: str) -> None:
    with pytest.raises(ExtensionTagError, match=message) as e:
        check_extension_names("w.whl", members, tags, "3.13", "aarch64-linux-gnu")
    assert e.value.exit_code == 6 and "\n" not in str(e.value)


def test_bazel_built_wheels_are_found_and_stamped_names_refused(tmp_path: Path) -> None:
    from cross_compiler.errors import BuildError
    from cross_compiler.wheel.packaging import bazel_wheels

    for name in ("a-1.0-cp311-cp311-linux_x86_64.whl", "lib.so", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "dir.whl").mkdir()
    assert bazel_wheels(sorted(tmp_path.iterdir())) == [
        tmp_path / "a-1.0-cp311-cp311-linux_x86_64.whl"]
    stamped = tmp_path / "a-{BUILD_EMBED_LABEL}-py3-none-any.whl"
    stamped.write_bytes(b"")
    with pytest.raises(BuildError, match=r"placeholders.*':<name>\.dist'"):
        bazel_wheels([stamped])
