from __future__ import annotations

import json
import os
import posixpath
from pathlib import Path, PurePosixPath

import pytest

from cross_compiler.bazel.headers import (
    MAX_DEP_FILE_BYTES,
    AllowedRoots,
    DepFileError,
    ForbiddenRoots,
    HeaderProvenanceError,
    Resolver,
    Violation,
    check_dep_files,
    parse_aquery_dep_files,
    parse_dep_file,
    prove_header_provenance,
)
from cross_compiler.errors import ArchMismatchError, CrossCompilerError

# What Debian's gcc 12 wrote for `#include "a.h"` + `#include <stdio.h>` under Bazel 4.2.3.
REAL_D = """\
bazel-out/k8-fastbuild/bin/_objs/a/a.pic.o: a.cc \\
 /usr/include/stdc-predef.h a.h /usr/include/stdio.h \\
 /usr/include/x86_64-linux-gnu/bits/libc-header-start.h \\
 /usr/lib/gcc/x86_64-linux-gnu/12/include/stddef.h
"""
CROSS = "/usr/lib/gcc-cross/aarch64-linux-gnu/12/../../../../aarch64-linux-gnu/include"
EXEC_ROOT = PurePosixPath("/cache/ob/execroot/_main")
ROOTS = AllowedRoots(
    include_dirs=("/usr/lib/gcc-cross/aarch64-linux-gnu/12/include",
                  "/usr/aarch64-linux-gnu/include", "/usr/include"),
    sysroot="",
    python_include="cross_compiler/python/aarch64/include",
    workspace="/home/u/ws",
    output_base="/cache/ob",
)
AARCH64 = ForbiddenRoots(target_triple="aarch64-linux-gnu", host_triple="x86_64-linux-gnu",
                         python_includes=("/home/u/.venv/include",))
OUT = "bazel-out/aarch64-fastbuild/bin/_objs/ext/ext.pic.o"


def _d(*deps: str, out: str = OUT) -> str:
    return f"{out}: " + " \\\n ".join(deps) + "\n"


def _check(*deps: str, roots: AllowedRoots = ROOTS, resolve: Resolver = posixpath.normpath,
           ) -> list[Violation]:
    dep_file = OUT[:-2] + ".d"
    return check_dep_files({dep_file: _d(*deps)}, roots, EXEC_ROOT, AARCH64, resolve)


# --- parse_dep_file --------------------------------------------------------------------------

def test_real_gcc_dep_file() -> None:
    assert parse_dep_file(REAL_D) == [
        "a.cc", "/usr/include/stdc-predef.h", "a.h", "/usr/include/stdio.h",
        "/usr/include/x86_64-linux-gnu/bits/libc-header-start.h",
        "/usr/lib/gcc/x86_64-linux-gnu/12/include/stddef.h",
    ]


def test_escapes_dollars_and_comments() -> None:
    text = "o.o: my\\ dir/a\\ b.h c$$d.h e\\#f.h x\\\\\\ y.h # comment h.h\n"
    assert parse_dep_file(text) == ["my dir/a b.h", "c$d.h", "e#f.h", "x\\ y.h"]


def test_several_rules_phony_targets_and_crlf() -> None:
    text = ("a.o a.d: a.c \\\r\n  inc/a.h\r\n\r\n"
            "b.o: b.c inc/a.h\r\n"
            "inc/a.h:\r\n")
    assert parse_dep_file(text) == ["a.c", "inc/a.h", "b.c"]


def test_empty_and_malformed() -> None:
    assert parse_dep_file("") == []
    assert parse_dep_file("\n\n# only a comment\n") == []
    with pytest.raises(DepFileError, match="not a make rule"):
        parse_dep_file("just words here\n")


def test_oversized_dep_file_is_refused() -> None:
    with pytest.raises(DepFileError, match="larger than 64 bytes"):
        parse_dep_file("o.o: " + "x.h " * 100, max_bytes=64)
    with pytest.raises(DepFileError) as e:
        parse_dep_file("o.o: " + "a" * MAX_DEP_FILE_BYTES)
    assert isinstance(e.value, CrossCompilerError)
    # The cap counts bytes, not characters.
    with pytest.raises(DepFileError):
        parse_dep_file("o.o: \u00e9\u00e9\u00e9.h", max_bytes=12)


# --- parse_aquery_dep_files ------------------------------------------------------------------

def _fragments(*paths: str) -> tuple[list[dict[str, object]], dict[str, int]]:
    """pathFragments as Bazel writes them (children point at parents; top level has no
    parentId) and {path: id of its last fragment}."""
    frags: list[dict[str, object]] = []
    ids: dict[str, int] = {}
    for path in paths:
        parent = 0
        parts = path.split("/")
        for i in range(len(parts)):
            prefix = "/".join(parts[: i + 1])
            if prefix not in ids:
                ids[prefix] = len(ids) + 1
                frag: dict[str, object] = {"id": ids[prefix], "label": parts[i]}
                if parent:
                    frag["parentId"] = parent
                frags.append(frag)
            parent = ids[prefix]
    return frags, ids


def test_aquery_path_fragments_bazel4_and_later() -> None:
    # The shape of Bazel 4.2.3's output (no isTool), trimmed; ids as Bazel numbered them.
    sample = {
        "artifacts": [{"id": 1, "pathFragmentId": 1}, {"id": 2, "pathFragmentId": 6},
                      {"id": 5, "pathFragmentId": 16}, {"id": 6, "pathFragmentId": 20},
                      {"id": 7, "pathFragmentId": 21}],
        "actions": [
            {"targetId": 1, "mnemonic": "CppCompile", "configurationId": 1,
             "arguments": ["/usr/bin/gcc", "-MD", "-MF",
                           "bazel-out/k8-fastbuild/bin/_objs/a/a.pic.d"],
             "inputDepSetIds": [1], "outputIds": [5, 6], "discoversInputs": True,
             "primaryOutputId": 5},
            # A tool built for the build machine: its host headers are right; left out.
            {"targetId": 2, "mnemonic": "CppCompile", "configurationId": 2,
             "outputIds": [7]},
        ],
        "configuration": [{"id": 1, "mnemonic": "k8-fastbuild", "platformName": "k8"},
                          {"id": 2, "mnemonic": "k8-opt-exec-2B5CBBC6"}],
        "pathFragments": [
            {"id": 5, "label": "bazel-out"},
            {"id": 1, "label": "a.cc"},
            {"id": 6, "label": "a.h"},
            {"id": 15, "label": "k8-fastbuild", "parentId": 5},
            {"id": 19, "label": "bin", "parentId": 15},
            {"id": 18, "label": "_objs", "parentId": 19},
            {"id": 17, "label": "a", "parentId": 18},
            {"id": 16, "label": "a.pic.o", "parentId": 17},
            {"id": 20, "label": "a.pic.d", "parentId": 17},
            {"id": 21, "label": "tool.d", "parentId": 17},
        ],
    }
    text = json.dumps(sample)
    assert parse_aquery_dep_files(text) == ["bazel-out/k8-fastbuild/bin/_objs/a/a.pic.d"]
    assert len(parse_aquery_dep_files(text, include_tool_configs=True)) == 2


def test_aquery_bazel7_is_tool_and_exec_paths() -> None:
    frags, ids = _fragments(
        "bazel-out/aarch64-fastbuild/bin/external/zlib/_objs/z/adler32.pic.d",
        "bazel-out/aarch64-fastbuild/bin/external/zlib/_objs/z/adler32.pic.o",
        "bazel-out/k8-opt-exec-ST-d57f47055a04/bin/_objs/gen/gen.d",
        "bazel-out/x86_64-opt/bin/_objs/gen/other.d",
    )
    paths = list(ids)
    sample = {
        "artifacts": [{"id": n, "pathFragmentId": ids[p]} for n, p in enumerate(paths, 1)],
        "actions": [{"mnemonic": "CppCompile", "configurationId": 1,
                     "outputIds": list(range(1, len(paths) + 1))},
                    {"mnemonic": "CppCompile", "configurationId": 2, "outputIds": [1]}],
        "configuration": [{"id": 1, "mnemonic": "aarch64-fastbuild"},
                          {"id": 2, "mnemonic": "x86_64-opt", "isTool": True}],
        "pathFragments": frags,
    }
    # The exec-configuration .d is recognized by its bazel-out/<config> directory too.
    assert parse_aquery_dep_files(json.dumps(sample)) == [
        "bazel-out/aarch64-fastbuild/bin/external/zlib/_objs/z/adler32.pic.d",
        "bazel-out/x86_64-opt/bin/_objs/gen/other.d",
    ]


def test_aquery_exec_path_form() -> None:
    # Before path fragments, each artifact carried its execPath.
    sample = {
        "artifacts": [{"id": 1, "execPath": "bazel-out/aarch64-fastbuild/bin/_objs/a/a.o"},
                      {"id": 2, "execPath": "bazel-out/aarch64-fastbuild/bin/_objs/a/a.d"},
                      {"id": 3, "execPath": "bazel-out/host/bin/_objs/t/t.d"}],
        "actions": [{"mnemonic": "CppCompile", "configurationId": 1, "outputIds": [1, 2]},
                    {"mnemonic": "CppCompile", "configurationId": 2, "outputIds": [3]}],
        "configuration": [{"id": 1, "mnemonic": "aarch64-fastbuild"},
                          {"id": 2, "mnemonic": "host"}],
    }
    assert parse_aquery_dep_files(json.dumps(sample)) == [
        "bazel-out/aarch64-fastbuild/bin/_objs/a/a.d"]


def test_aquery_bad_input() -> None:
    assert parse_aquery_dep_files("") == []
    assert parse_aquery_dep_files("{}") == []
    for bad in ("not json", "[1]", '{"actions": [{"outputIds": [9]}]}',
                '{"artifacts": [{"id": 1, "pathFragmentId": 1}], "actions": [{"outputIds": [1]}],'
                ' "pathFragments": [{"id": 1, "label": "x", "parentId": 1}]}'):
        with pytest.raises(DepFileError, match="cannot read bazel aquery"):
            parse_aquery_dep_files(bad)


# --- check_dep_files -------------------------------------------------------------------------

def test_target_headers_pass() -> None:
    assert _check(
        "ext/ext.c",  # relative to the exec root
        "cross_compiler/python/aarch64/include/Python.h",  # the target Python, relative
        "/home/u/ws/cross_compiler/python/aarch64/include/pyconfig.h",  # and absolute
        "external/zlib/zlib.h",
        "bazel-out/aarch64-fastbuild/bin/gen/version.h",
        f"{CROSS}/stdio.h",  # gcc's lexical "../" form
        "/usr/lib/gcc-cross/aarch64-linux-gnu/12/include/stddef.h",
        "/usr/include/zlib.h",  # Debian's cross gcc searches /usr/include last
        "/usr/include/aarch64-linux-gnu/python3.11/pyconfig.h",  # the target's own multiarch
        "/cache/ob/external/zlib/zconf.h",
        "../zlib/crc32.h",  # Bazel 7's sibling repository layout
    ) == []


@pytest.mark.parametrize(("header", "kind", "cause"), [
    ("/usr/include/python3.11/pyconfig.h", "host-python",
     "a repository rule found the build machine's python3"),
    ("/usr/local/include/python3.12/Python.h", "host-python", "/usr/local/include/python3.12"),
    ("/usr/include/x86_64-linux-gnu/python3.11/pyconfig.h", "host-python", "PYTHON_BIN_PATH"),
    ("/home/u/.venv/include/site/python3.11/greenlet.h", "host-python", "/home/u/.venv/include"),
    ("/usr/include/x86_64-linux-gnu/bits/foo.h", "host-multiarch",
     "the compiler searched the build machine's /usr/include/x86_64-linux-gnu"),
    ("/usr/lib/x86_64-linux-gnu/glib-2.0/include/glibconfig.h", "host-multiarch",
     "/usr/lib/x86_64-linux-gnu"),
    ("/usr/lib/gcc/x86_64-linux-gnu/12/include/stddef.h", "host-compiler",
     "/usr/lib/gcc/x86_64-linux-gnu"),
    ("/usr/include/arm-linux-gnueabihf/bits/wordsize.h", "other-arch",
     "/usr/include/arm-linux-gnueabihf"),
    ("/usr/s390x-linux-gnu/include/stdio.h", "other-arch", "/usr/s390x-linux-gnu"),
    ("/opt/vendor/include/v.h", "outside", "outside the target toolchain's include dirs"),
    # ".." climbing out of the exec root to the host's Python.
    ("external/py/../../../../../../usr/include/python3.11/Python.h", "host-python", "python3"),
])
def test_host_and_foreign_headers_fail(header: str, kind: str, cause: str) -> None:
    (v,) = _check("ext/ext.c", header)
    assert (v.header, v.kind, v.output) == (header, kind, OUT)
    assert v.dep_file == OUT[:-2] + ".d"
    assert cause in v.cause


def test_plain_usr_include_needs_the_toolchain_to_search_it() -> None:
    sysroot_roots = AllowedRoots(
        include_dirs=("%sysroot%/usr/include", "%sysroot%/usr/include/aarch64-linux-gnu"),
        sysroot="/opt/sr", python_include="cross_compiler/python/aarch64/include",
        workspace="/home/u/ws", output_base="/cache/ob")
    assert _check("/opt/sr/usr/include/zlib.h",
                  "/opt/sr/usr/include/aarch64-linux-gnu/python3.11/pyconfig.h",
                  roots=sysroot_roots) == []
    (v,) = _check("/usr/include/zlib.h", roots=sysroot_roots)
    assert v.kind == "outside"


def test_fake_resolver_sees_a_repository_symlinked_to_host_python() -> None:
    links = {"/cache/ob/execroot/_main/external": "/cache/ob/external",
             "/cache/ob/external/local_config_python/python_include": "/usr/include/python3.11"}
    header = "external/local_config_python/python_include/pyconfig.h"
    (v,) = _check(header, "external/local_config_python/python_include/../BUILD.h",
                  resolve=_fake_realpath(links))
    assert (v.header, v.resolved, v.kind) == (header, "/usr/include/python3.11/pyconfig.h",
                                              "host-python")


def test_one_violation_per_header_from_the_first_dep_file() -> None:
    text = _d("a.c", "/usr/include/python3.11/Python.h")
    found = check_dep_files({"b.d": text, "a.d": text}, ROOTS, EXEC_ROOT, AARCH64)
    assert [(v.dep_file, v.header) for v in found] == [("a.d", "/usr/include/python3.11/Python.h")]


def test_error_is_one_line_with_count() -> None:
    deps = {"a.d": _d("a.c", "/usr/include/python3.11/pyconfig.h",
                      "/usr/include/x86_64-linux-gnu/bits/foo.h")}
    with pytest.raises(HeaderProvenanceError) as e:
        prove_header_provenance(deps, ROOTS, EXEC_ROOT, AARCH64)
    assert isinstance(e.value, ArchMismatchError)
    assert e.value.exit_code == 6
    assert e.value.message == (
        f"{OUT} includes /usr/include/python3.11/pyconfig.h: a repository rule found the build "
        "machine's python3 (PYTHON_BIN_PATH / which('python3')) and its include dir "
        "/usr/include/python3.11 (+1 more)")
    assert "target's Python" in e.value.hint
    assert "\n" not in str(e.value)
    assert len(e.value.violations) == 2
    prove_header_provenance({"a.d": _d("a.c", "a.h")}, ROOTS, EXEC_ROOT, AARCH64)


# --- real symlinks ---------------------------------------------------------------------------

def _tree(tmp_path: Path) -> tuple[AllowedRoots, ForbiddenRoots, Path]:
    """A workspace behind a symlink, an exec root that links into it, and external repos."""
    real_ws = tmp_path / "real_ws"
    (real_ws / "pkg").mkdir(parents=True)
    (real_ws / "pkg/a.h").write_text("")
    (tmp_path / "ws").symlink_to(real_ws)
    ob = tmp_path / "ob"
    exec_root = ob / "execroot/_main"
    exec_root.mkdir(parents=True)
    (exec_root / "pkg").symlink_to(real_ws / "pkg")
    (ob / "external/zlib").mkdir(parents=True)
    (ob / "external/zlib/zlib.h").write_text("")
    (exec_root / "external").symlink_to(ob / "external")
    hostpy = tmp_path / "hostpy/include/python3.11"
    hostpy.mkdir(parents=True)
    (hostpy / "pyconfig.h").write_text("")
    (ob / "external/local_config_python").mkdir()
    (ob / "external/local_config_python/python_include").symlink_to(hostpy)
    elsewhere = tmp_path / "elsewhere/a"
    (elsewhere / "repo").mkdir(parents=True)
    (elsewhere / "secret.h").write_text("")
    (ob / "external/repo").symlink_to(elsewhere / "repo")
    roots = AllowedRoots(include_dirs=("/usr/aarch64-linux-gnu/include",), sysroot="",
                         python_include="cross_compiler/python/aarch64/include",
                         workspace=str(tmp_path / "ws"), output_base=str(ob))
    forbidden = ForbiddenRoots("aarch64-linux-gnu", "x86_64-linux-gnu",
                               python_includes=(str(tmp_path / "hostpy/include"),))
    return roots, forbidden, exec_root


def test_symlinked_roots_with_realpath(tmp_path: Path) -> None:
    roots, forbidden, exec_root = _tree(tmp_path)
    ok = _d("pkg/a.h", str(tmp_path / "real_ws/pkg/a.h"), str(tmp_path / "ws/pkg/a.h"),
            "external/zlib/zlib.h", "external/zlib/../zlib/zlib.h")
    assert check_dep_files({"a.d": ok}, roots, exec_root, forbidden, os.path.realpath) == []

    bad = _d("external/local_config_python/python_include/pyconfig.h",
             "external/repo/../secret.h")
    host, escaped = check_dep_files({"a.d": bad}, roots, exec_root, forbidden,
                                    os.path.realpath)
    assert host.kind == "host-python"
    assert host.resolved == str(tmp_path / "hostpy/include/python3.11/pyconfig.h")
    # Lexically external/secret.h, but ".." left the symlinked repository for elsewhere/.
    assert (escaped.kind, escaped.resolved, escaped.repository) == (
        "foreign-repository", str(tmp_path / "elsewhere/a/secret.h"), "@repo")


def _fake_realpath(links: dict[str, str]) -> Resolver:
    """os.path.realpath over a symlink table instead of a file system."""
    def resolve(path: str) -> str:
        done: list[str] = []
        todo = path.strip("/").split("/")
        while todo:
            part = todo.pop(0)
            if part == "..":
                if done:
                    done.pop()
                continue
            current = "/" + "/".join([*done, part])
            if current in links:
                done = links[current].strip("/").split("/")
            elif part not in ("", "."):
                done.append(part)
        return "/" + "/".join(done)
    return resolve


def test_host_python_includes_never_forbid_a_whole_prefix() -> None:
    from cross_compiler.bazel.headercheck import host_python_includes

    for path in host_python_includes():
        assert "python3" in path.rsplit("/", 1)[-1], path  # never /usr/include itself
