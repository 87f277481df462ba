"""The header proof's layers beyond paths, on crafted trees: repositories symlinked to host
dirs, repositories unpacked from foreign wheels, ABI headers whose macros contradict the
target, and arch-neutral headers that must pass."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from cross_compiler import resources
from cross_compiler.bazel.headercontent import (
    AbiHeader,
    ContentJudge,
    TargetAbi,
    abi_contradictions,
    effective_defines,
    foreign_tags,
    load_abi_headers,
)
from cross_compiler.bazel.headers import (
    AllowedRoots,
    ForbiddenRoots,
    HeaderProvenanceError,
    check_dep_files,
    prove_header_provenance,
)
from cross_compiler.errors import TargetError
from cross_compiler.toolchain.targets import load_targets

TABLE = load_abi_headers(resources.abi_headers_file())
PYCONFIG, NUMPY = TABLE


def _abi(cpu: str) -> TargetAbi:
    (target,) = load_targets([cpu], resources.toolchains_dir())
    return TargetAbi.of(target)


# Shaped like CPython's configure output on each machine (the lines the proof reads).
X86_64_PYCONFIG = """\
/* Define WORDS_BIGENDIAN to 1 if your processor stores words with the most
   significant byte first (like Motorola and SPARC, unlike Intel). */
#define HAVE_GCC_ASM_FOR_X87 1
#define SIZEOF_LONG 8
#define SIZEOF_SIZE_T 8
#define SIZEOF_VOID_P 8
#if defined AC_APPLE_UNIVERSAL_BUILD
# if defined __BIG_ENDIAN__
#  define WORDS_BIGENDIAN 1
# endif
#else
# ifndef WORDS_BIGENDIAN
/* #  undef WORDS_BIGENDIAN */
# endif
#endif
"""
S390X_PYCONFIG = (X86_64_PYCONFIG.replace("#define HAVE_GCC_ASM_FOR_X87 1",
                                          "/* #undef HAVE_GCC_ASM_FOR_X87 */")
                  .replace("/* #  undef WORDS_BIGENDIAN */", "#  define WORDS_BIGENDIAN 1"))
ARMHF_PYCONFIG = (X86_64_PYCONFIG.replace("#define HAVE_GCC_ASM_FOR_X87 1", "")
                  .replace(" 8\n", " 4\n"))
# Debian's /usr/include/python3.X/pyconfig.h: only picks the multiarch one.
WRAPPER = """\
#if defined(__x86_64__) && defined(__LP64__)
#  include <x86_64-linux-gnu/python3.11/pyconfig.h>
#elif defined(__aarch64__)
#  include <aarch64-linux-gnu/python3.11/pyconfig.h>
#endif
"""
NUMPY2_X86_64 = """\
#define NPY_SIZEOF_LONG 8
#define NPY_SIZEOF_PY_INTPTR_T 8
#define NPY_SIZEOF_INTP 8
#define NPY_SIZEOF_UINTP 8
"""
# numpy 1.x (setup.py builds): NPY_SIZEOF_LONG names pyconfig's macro; numpyconfig.h has
# an Apple-only block with both sizes.
NUMPY1_ARMHF = """\
#define NPY_SIZEOF_LONG SIZEOF_LONG
#define NPY_SIZEOF_PY_INTPTR_T 4
"""
NUMPYCONFIG_APPLE = """\
#ifdef __APPLE__
    #undef NPY_SIZEOF_LONG
    #ifdef __LP64__
        #define NPY_SIZEOF_LONG         8
    #else
        #define NPY_SIZEOF_LONG         4
    #endif
#endif
"""


@pytest.mark.parametrize(("cpu", "text", "expected"), [
    ("aarch64", X86_64_PYCONFIG, ["HAVE_GCC_ASM_FOR_X87 is defined, aarch64 is not x87"]),
    ("armv7hf", X86_64_PYCONFIG, ["SIZEOF_LONG is 8, armv7hf has 4",
                                  "SIZEOF_VOID_P is 8, armv7hf has 4",
                                  "SIZEOF_SIZE_T is 8, armv7hf has 4",
                                  "HAVE_GCC_ASM_FOR_X87 is defined, armv7hf is not x87"]),
    ("s390x", X86_64_PYCONFIG, ["WORDS_BIGENDIAN is not defined, s390x is big-endian",
                                "HAVE_GCC_ASM_FOR_X87 is defined, s390x is not x87"]),
    ("s390x", ARMHF_PYCONFIG, ["SIZEOF_LONG is 4, s390x has 8", "SIZEOF_VOID_P is 4, s390x has 8",
                               "SIZEOF_SIZE_T is 4, s390x has 8",
                               "WORDS_BIGENDIAN is not defined, s390x is big-endian"]),
    ("ppc64le", S390X_PYCONFIG, ["WORDS_BIGENDIAN is defined, ppc64le is not big-endian"]),
    ("s390x", S390X_PYCONFIG, []),
    ("armv7hf", ARMHF_PYCONFIG, []),
    ("riscv64", WRAPPER, []),  # arch-neutral: defines none of the macros
])
def test_pyconfig_against_the_target(cpu: str, text: str, expected: list[str]) -> None:
    assert abi_contradictions(PYCONFIG, text, _abi(cpu)) == expected


@pytest.mark.parametrize(("cpu", "text", "expected"), [
    ("armv7hf", NUMPY2_X86_64, ["NPY_SIZEOF_LONG is 8, armv7hf has 4",
                                "NPY_SIZEOF_INTP is 8, armv7hf has 4",
                                "NPY_SIZEOF_UINTP is 8, armv7hf has 4",
                                "NPY_SIZEOF_PY_INTPTR_T is 8, armv7hf has 4"]),
    ("aarch64", NUMPY2_X86_64, []),  # same sizes: the wheel layer tells these apart
    ("armv7hf", NUMPY1_ARMHF, []),  # SIZEOF_LONG is not defined here: not judged
    ("aarch64", NUMPY1_ARMHF, ["NPY_SIZEOF_PY_INTPTR_T is 4, aarch64 has 8"]),
    ("armv7hf", NUMPYCONFIG_APPLE, []),
])
def test_numpy_config_against_the_target(cpu: str, text: str, expected: list[str]) -> None:
    assert abi_contradictions(NUMPY, text, _abi(cpu)) == expected


def test_conditionals_decide_only_what_they_can() -> None:
    macros = effective_defines(
        "#define A 1\n#ifdef A\n#define B 2\n#else\n#define C 3\n#endif\n"
        "#if defined(__LP64__)\n#define D 8\n#else\n#define D 4\n#endif\n"
        "#if 0\n#define E 1\n#elif 1\n#define F 1\n#else\n#define G 1\n#endif\n"
        "#ifndef H\n#define H \\\n  5\n#endif\n#undef A\n/* #define I 1 */\n"
        "#define J(x) x\n")
    assert dict(macros.values) == {"B": "2", "F": "1", "H": "5", "J": "x"}
    assert macros.conditional == {"D"}


def test_target_facts_come_from_the_elf_spec() -> None:
    assert _abi("armv7hf").facts == {"long": 4, "pointer": 4, "size_t": 4,
                                     "big_endian": False, "x87": False}
    assert _abi("s390x").facts["big_endian"] is True
    assert _abi("riscv64").facts["long"] == 8


@pytest.mark.parametrize(("tags", "arch", "foreign"), [
    (("cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64",), "armv7l", True),
    (("cp311-cp311-manylinux_2_17_aarch64.manylinux2014_aarch64",), "aarch64", False),
    (("py3-none-any",), "s390x", False),
    (("cp313-cp313-linux_armv7l",), "armv7l", False),
    (("cp313-cp313-macosx_11_0_arm64",), "aarch64", True),
    ((), "aarch64", False),
])
def test_wheel_tags(tags: tuple[str, ...], arch: str, foreign: bool) -> None:
    assert foreign_tags(tags, arch) is foreign


@pytest.mark.parametrize(("text", "match"), [
    ("[[header]]\nnames = []\n", "names must be a list"),
    ('[[header]]\nnames = ["a.h"]\n[header.sizes]\nX = "wchar"\n', "sizes.X"),
    ('[[header]]\nnames = ["a.h"]\nwhere = 1\n', "fields are names"),
    ('[other]\n', "only \\[\\[header\\]\\]"),
])
def test_bad_table_names_the_entry(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "headers.toml"
    path.write_text(text)
    with pytest.raises(TargetError, match=match):
        load_abi_headers(path)


# --- the layers together, on a crafted Bazel tree ---------------------------------------------

def _tree(tmp_path: Path) -> tuple[AllowedRoots, ForbiddenRoots, Path]:
    ws = tmp_path / "ws"
    (ws / "ext").mkdir(parents=True)
    (ws / "ext/ext.c").write_text("")
    (ws / "ext/util.h").write_text("")
    ob = tmp_path / "ob"
    exec_root = ob / "execroot/_main"
    exec_root.mkdir(parents=True)
    (exec_root / "ext").symlink_to(ws / "ext")
    (exec_root / "external").symlink_to(ob / "external")
    ext = ob / "external"
    # A pyenv/conda-style host Python outside /usr, symlinked in by a repository rule.
    host = tmp_path / "opt/python3.11/include/python3.11"
    host.mkdir(parents=True)
    (host / "pyconfig.h").write_text(X86_64_PYCONFIG)
    (host / "Python.h").write_text("")
    (ext / "local_config_python").mkdir(parents=True)
    (ext / "local_config_python/python_include").symlink_to(host)
    # The same pyconfig.h copied (not linked) into a repository.
    (ext / "copied_python/include").mkdir(parents=True)
    (ext / "copied_python/include/pyconfig.h").write_text(X86_64_PYCONFIG)
    # pip_parse-style repositories of unpacked wheels: x86_64 and aarch64 numpy.
    for repo, arch in (("pypi_numpy_x86", "x86_64"), ("pypi_numpy", "aarch64")):
        site = ext / repo / "site-packages"
        inc = site / "numpy/_core/include/numpy"
        inc.mkdir(parents=True)
        (inc / "ndarrayobject.h").write_text("")
        (inc / "_numpyconfig.h").write_text(NUMPY2_X86_64)
        (site / "numpy-2.2.6.dist-info").mkdir()
        (site / "numpy-2.2.6.dist-info/WHEEL").write_text(
            f"Wheel-Version: 1.0\nRoot-Is-Purelib: false\n"
            f"Tag: cp311-cp311-manylinux_2_17_{arch}\n")
    # Arch-neutral: a pure-Python wheel's header, a source repository, a sibling checkout.
    (ext / "pybind11/include/pybind11").mkdir(parents=True)
    (ext / "pybind11/include/pybind11/pybind11.h").write_text("")
    (ext / "pybind11/pybind11-2.13.dist-info").mkdir()
    (ext / "pybind11/pybind11-2.13.dist-info/WHEEL").write_text("Tag: py3-none-any\n")
    sibling = tmp_path / "src/abseil"
    (sibling / "absl").mkdir(parents=True)
    (sibling / "absl/base.h").write_text("")
    (ext / "abseil").symlink_to(sibling)
    roots = AllowedRoots(include_dirs=("/usr/aarch64-linux-gnu/include",), sysroot="",
                         python_include="cross_compiler/python/aarch64/include",
                         workspace=str(ws), output_base=str(ob))
    return roots, ForbiddenRoots("aarch64-linux-gnu", "x86_64-linux-gnu"), exec_root


def _judge(tmp_path: Path, cpu: str, *headers: str,
           declared: tuple[str, ...] = ()) -> dict[str, tuple[str, str, str]]:
    """Violations by header in a fresh tree; ``declared`` dirs are relative to the tree."""
    tree = Path(tempfile.mkdtemp(dir=tmp_path))
    roots, forbidden, exec_root = _tree(tree)
    if declared:
        roots = AllowedRoots(roots.include_dirs, roots.sysroot, roots.python_include,
                             roots.workspace, roots.output_base,
                             tuple(str(tree / d) for d in declared))
    content = ContentJudge(_abi(cpu), TABLE)
    text = "bazel-out/x/ext.o: ext/ext.c " + " ".join(headers) + "\n"
    found = check_dep_files({"ext.d": text}, roots, exec_root, forbidden, os.path.realpath,
                            content=content)
    return {v.header: (v.kind, v.repository, v.cause) for v in found}


def test_arch_neutral_and_target_headers_pass(tmp_path: Path) -> None:
    assert _judge(tmp_path, "aarch64", "ext/util.h",
                  "external/pybind11/include/pybind11/pybind11.h",
                  "external/pypi_numpy/site-packages/numpy/_core/include/numpy/_numpyconfig.h",
                  "external/pypi_numpy/site-packages/numpy/_core/include/numpy/ndarrayobject.h",
                  "bazel-out/aarch64-opt/bin/gen/version.h") == {}


def test_a_symlinked_host_python_is_a_foreign_repository(tmp_path: Path) -> None:
    found = _judge(tmp_path, "aarch64", "external/local_config_python/python_include/Python.h")
    kind, repo, cause = found["external/local_config_python/python_include/Python.h"]
    assert (kind, repo) == ("foreign-repository", "@local_config_python")
    assert "/opt/python3.11/include/python3.11, a directory of the build machine" in cause


def test_a_sibling_checkout_passes_only_when_declared(tmp_path: Path) -> None:
    header = "external/abseil/absl/base.h"
    assert _judge(tmp_path, "aarch64", header)[header][0] == "foreign-repository"
    assert _judge(tmp_path, "aarch64", header, declared=("src",)) == {}


def test_a_copied_host_pyconfig_fails_by_content(tmp_path: Path) -> None:
    header = "external/copied_python/include/pyconfig.h"
    kind, repo, cause = _judge(tmp_path, "riscv64", header)[header]
    assert (kind, repo) == ("abi-mismatch", "@copied_python")
    assert cause == ("CPython's build configuration is not for riscv64: "
                     "HAVE_GCC_ASM_FOR_X87 is defined, riscv64 is not x87")


def test_a_declared_root_is_still_judged_by_content(tmp_path: Path) -> None:
    header = "external/local_config_python/python_include/pyconfig.h"
    found = _judge(tmp_path, "armv7hf", header, declared=("opt",))
    assert found[header][0] == "abi-mismatch"
    assert "SIZEOF_LONG is 8, armv7hf has 4" in found[header][2]


def test_a_foreign_wheel_repository_fails(tmp_path: Path) -> None:
    header = "external/pypi_numpy_x86/site-packages/numpy/_core/include/numpy/ndarrayobject.h"
    kind, repo, cause = _judge(tmp_path, "aarch64", header)[header]
    assert (kind, repo) == ("foreign-wheel", "@pypi_numpy_x86")
    assert "numpy-2.2.6.dist-info: cp311-cp311-manylinux_2_17_x86_64" in cause
    # The aarch64 wheel is foreign for armv7hf too; its config header's macros contradict
    # armv7hf, which is named first (the strongest evidence), its other headers by the tag.
    config = "external/pypi_numpy/site-packages/numpy/_core/include/numpy/_numpyconfig.h"
    other = "external/pypi_numpy/site-packages/numpy/_core/include/numpy/ndarrayobject.h"
    found = _judge(tmp_path, "armv7hf", other, config)
    assert (found[config][0], found[other][0]) == ("abi-mismatch", "foreign-wheel")


def test_exec_configuration_outputs_are_host_headers(tmp_path: Path) -> None:
    header = "bazel-out/k8-opt-exec-2B5CBBC6/bin/tool/config.h"
    assert _judge(tmp_path, "aarch64", header)[header][0] == "host-output"


def test_the_error_names_header_repository_and_action(tmp_path: Path) -> None:
    roots, forbidden, exec_root = _tree(tmp_path)
    header = "external/copied_python/include/pyconfig.h"
    with pytest.raises(HeaderProvenanceError) as e:
        prove_header_provenance({"ext.d": f"bazel-out/x/ext.o: ext/ext.c {header}\n"}, roots,
                                exec_root, forbidden, os.path.realpath,
                                ContentJudge(_abi("armv7hf"), TABLE))
    message = str(e.value)
    assert "\n" not in message and e.value.exit_code == 6
    assert message.startswith(f"bazel-out/x/ext.o includes {header} (= {tmp_path}/ob/")
    assert (") from @copied_python: CPython's build configuration is not for armv7hf: "
            "SIZEOF_LONG is 8, armv7hf has 4") in message
    assert "take it from the target's Python" in message


def test_wheel_search_is_cached_and_bounded(tmp_path: Path) -> None:
    reads: list[str] = []
    site = tmp_path / "site"
    (site / "pkg/a/b").mkdir(parents=True)
    (site / "pkg-1.dist-info").mkdir()
    (site / "pkg-1.dist-info/WHEEL").write_text("Tag: py3-none-any\n" * 10)

    def read(path: str, limit: int) -> str | None:
        reads.append(path)
        return Path(path).read_text()[:limit]

    judge = ContentJudge(_abi("aarch64"), (AbiHeader(("x.h",), "x", {}, {}),), read)
    for name in ("x.h", "y.h"):
        origin = judge.wheel_origin(str(site / "pkg/a/b" / name), str(tmp_path))
        assert origin is not None and origin.tags == ("py3-none-any",) * 10
    assert len(reads) == 1
    assert judge.wheel_origin(str(tmp_path / "other/z.h"), str(tmp_path / "other")) is None


def test_a_toolchain_dir_symlinked_elsewhere_is_still_the_toolchains(tmp_path: Path) -> None:
    """sid's cross toolchain: /usr/<triple>/include/asm links to /usr/lib/linux/uapi/arm64."""
    tree = tmp_path / "t"
    roots, forbidden, exec_root = _tree(tree)
    uapi = tmp_path / "usr/lib/linux/uapi/arm64/asm"
    uapi.mkdir(parents=True)
    (uapi / "errno.h").write_text("")
    include = tmp_path / "usr/aarch64-linux-gnu/include"
    include.mkdir(parents=True)
    (include / "asm").symlink_to(uapi)
    roots = AllowedRoots((str(include),), "", roots.python_include, roots.workspace,
                         roots.output_base)
    header = f"{include}/asm/errno.h"
    text = f"bazel-out/x/ext.o: ext/ext.c {header}\n"
    assert check_dep_files({"e.d": text}, roots, exec_root, forbidden, os.path.realpath,
                           content=ContentJudge(_abi("aarch64"), TABLE)) == []
    # A repository reaching the same place through its own symlink is still foreign.
    (tree / "ob/external/kernel").mkdir()
    (tree / "ob/external/kernel/asm").symlink_to(uapi)
    found = check_dep_files({"e.d": "o.o: external/kernel/asm/errno.h\n"}, roots, exec_root,
                            forbidden, os.path.realpath)
    assert [v.kind for v in found] == ["foreign-repository"]
