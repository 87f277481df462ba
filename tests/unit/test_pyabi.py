"""Honest none/abi3 tags: extension modules found by their PyInit_ symbol and their CPython
imports judged against the stable ABI. Real extensions built by the real (cross)
compilers; pyelftools (what auditwheel and abi3audit read ELF with) is the oracle."""

from __future__ import annotations

import io
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection

from cross_compiler import resources
from cross_compiler.toolchain.targets import load_targets
from cross_compiler.wheel import elfsyms
from cross_compiler.wheel.elf import ElfFormatError
from cross_compiler.wheel.extnames import ExtensionTagError
from cross_compiler.wheel.pyabi import module_stem, stable_abi
from cross_compiler.wheel.retag import retag_wheel
from tests.conftest import require
from tests.wheels import make_wheel

TARGETS = {t.cpu: t for t in load_targets(["aarch64", "s390x"], resources.toolchains_dir())}

SOURCE = r"""
#include <Python.h>
static PyObject *call(PyObject *self, PyObject *args) {
#if defined(USE_PRIVATE)
    PyObject *b = PyBytes_FromString("ab"), *argv[1] = {args};
    _PyBytes_Resize(&b, 1);
    Py_XDECREF(b);
    return PyObject_Vectorcall(self, argv, 1, NULL);
#elif defined(USE_UTF8)
    Py_ssize_t n;
    return PyLong_FromSsize_t(PyUnicode_AsUTF8AndSize(args, &n) ? n : -1);
#else
    return PyUnicode_FromString("hi");
#endif
}
static PyMethodDef methods[] = {{"call", call, METH_VARARGS, NULL}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef mod = {PyModuleDef_HEAD_INIT, "_x", NULL, -1, methods};
PyMODINIT_FUNC PyInit__x(void) { return PyModule_Create(&mod); }
"""
# Each variant's defines: not limited (a private and a 3.12 symbol), limited to 3.9, and
# limited to 3.10 (PyUnicode_AsUTF8AndSize joined the stable ABI in 3.10).
VARIANTS = {"private": ["-DUSE_PRIVATE"], "limited39": ["-DPy_LIMITED_API=0x03090000"],
            "limited310": ["-DPy_LIMITED_API=0x030a0000", "-DUSE_UTF8"]}
COMPILERS = {"x86_64": "gcc", "aarch64": "aarch64-linux-gnu-gcc",
             "s390x": "s390x-linux-gnu-gcc"}


def _headers(tmp: Path) -> Path:
    """The build machine's Python 3.11 headers with its own pyconfig.h (LP64 like the
    64-bit targets here; a symbol table is all these tests read)."""
    source = Path("/usr/include/python3.11")
    config = Path("/usr/include/x86_64-linux-gnu/python3.11/pyconfig.h")
    require(source.is_dir() and config.is_file(), "python3-dev (Python 3.11 headers)")
    include = tmp / "include"
    if not include.is_dir():
        shutil.copytree(source, include)
        shutil.copyfile(config, include / "pyconfig.h")
    return include


def compiled(tmp: Path, cpu: str, variant: str, name: str = "_x") -> bytes:
    cc = COMPILERS[cpu]
    require(shutil.which(cc) is not None, cc)
    (tmp / "x.c").write_text(SOURCE.replace("_x", name))
    out = tmp / f"{cpu}-{variant}-{name}.so"
    subprocess.run([cc, "-shared", "-fPIC", "-O2", "-w", f"-I{_headers(tmp)}",
                    *VARIANTS[variant], str(tmp / "x.c"), "-o", str(out)], check=True)
    return out.read_bytes()


def _read(data: bytes) -> elfsyms.PythonSymbols:
    return elfsyms.read_python_symbols(lambda: io.BytesIO(data))


def _oracle(data: bytes) -> elfsyms.PythonSymbols:
    entry, imported = set(), set()
    for section in ELFFile(io.BytesIO(data)).iter_sections():
        if not isinstance(section, SymbolTableSection) or section.name != ".dynsym":
            continue
        for sym in section.iter_symbols():
            if sym["st_info"]["bind"] not in ("STB_GLOBAL", "STB_WEAK"):
                continue
            if sym["st_shndx"] == "SHN_UNDEF" and sym.name.startswith(("Py", "_Py")):
                imported.add(sym.name)
            elif sym["st_shndx"] != "SHN_UNDEF" and sym.name.startswith("PyInit"):
                entry.add(sym.name)
    return elfsyms.PythonSymbols(frozenset(entry), frozenset(imported))


@pytest.mark.parametrize("cpu", sorted(COMPILERS))
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_symbols_match_pyelftools(tmp_path: Path, cpu: str, variant: str) -> None:
    data = compiled(tmp_path, cpu, variant)
    found = _read(data)
    assert found == _oracle(data)
    assert found.entry_points == {"PyInit__x"}
    if variant == "private":
        assert {"_PyBytes_Resize", "PyObject_Vectorcall"} <= found.imported


def test_stable_abi_table_has_versions() -> None:
    table = stable_abi()
    assert table["PyModule_Create2"] == (3, 2)
    assert table["PyUnicode_AsUTF8AndSize"] == (3, 10)
    assert table["PyObject_Vectorcall"] == (3, 12)
    assert "_PyBytes_Resize" not in table


# A hand-laid ELF for what compilers here do not emit: 32-bit big-endian symbol tables and
# a name that is the tail of a longer one (linkers share string tails).

def _elf32_be(strings: bytes, symbols: list[tuple[int, int, int]]) -> bytes:
    """ELF32 big-endian with .dynstr ``strings`` and .dynsym rows (name, info, shndx)."""
    dynsym = bytes(16) + b"".join(struct.pack(">IIIBBH", n, 0, 0, i, 0, s)
                                  for n, i, s in symbols)
    shstr = b"\0.dynstr\0.dynsym\0.shstrtab\0"
    start = 52
    offsets = [start, start + len(strings), start + len(strings) + len(dynsym)]
    shoff = offsets[2] + len(shstr)
    shoff += (-shoff) % 4
    rows = [(0,) * 10, (1, 3, 2, 0, offsets[0], len(strings), 0, 0, 1, 0),
            (9, elfsyms.SHT_DYNSYM, 2, 0, offsets[1], len(dynsym), 1, 1, 4, 16),
            (17, 3, 0, 0, offsets[2], len(shstr), 0, 0, 1, 0)]
    ident = (b"\x7fELF" + bytes([1, 2, 1])).ljust(16, b"\0")
    head = ident + struct.pack(">HHIIIIIHHHHHH", 3, 20, 1, 0, 0, shoff, 0, 52, 32, 0, 40,
                               len(rows), 3)
    body = strings + dynsym + shstr
    body += bytes(shoff - start - len(body))
    return head + body + b"".join(struct.pack(">IIIIIIIIII", *r) for r in rows)


GLOBAL_FUNC, LOCAL = (1 << 4) | 2, 0


def test_shared_tails_and_32bit_big_endian() -> None:
    strings = b"\0PyInit__m\0my_PyList_Append\0_PyObject_Dummy\0local_Py\0"
    tail = strings.index(b"PyList_Append")  # inside "my_PyList_Append"
    private = strings.index(b"_PyObject_Dummy")
    public = private + 1  # "PyObject_Dummy", the tail of "_PyObject_Dummy"
    data = _elf32_be(strings, [(1, GLOBAL_FUNC, 7), (tail, GLOBAL_FUNC, 0),
                               (public, GLOBAL_FUNC, 0), (private, GLOBAL_FUNC, 0),
                               (strings.index(b"my_Py"), GLOBAL_FUNC, 0),
                               (strings.index(b"local_Py") + 6, LOCAL, 0)])
    assert _read(data) == _oracle(data) == elfsyms.PythonSymbols(
        frozenset({"PyInit__m"}),
        frozenset({"PyList_Append", "PyObject_Dummy", "_PyObject_Dummy"}))


def test_hostile_tables_are_one_line_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    strings = b"\0PyInit__m\0"
    good = _elf32_be(strings, [(1, GLOBAL_FUNC, 7)])
    with pytest.raises(ElfFormatError, match="past the end"):
        _read(good[:-20])  # the section headers cut off
    monkeypatch.setattr(elfsyms, "MAX_CARRY", 4)
    with pytest.raises(ElfFormatError, match="symbol name longer than"):
        _read(_elf32_be(b"\0" + b"P" * 40, []))
    monkeypatch.setattr(elfsyms, "MAX_CARRY", 1 << 20)
    monkeypatch.setattr(elfsyms, "MAX_PY_NAMES", 3)
    with pytest.raises(ElfFormatError, match="more than 3 names"):
        _read(_elf32_be(b"\0" + b"Py\0" * 8, []))
    monkeypatch.setattr(elfsyms, "MAX_PY_NAMES", 1 << 18)
    monkeypatch.setattr(elfsyms, "MAX_SYMBOLS", 1)
    with pytest.raises(ElfFormatError, match="more than 1 dynamic symbols"):
        _read(good)


@pytest.mark.parametrize(("member", "stem"), [
    ("pkg/_x.cpython-313-aarch64-linux-gnu.so", "_x"), ("_x.abi3.so", "_x"),
    ("pkg/sub/_y.so", "_y"), ("pkg-1.0.data/platlib/pkg/_z.so", "_z"),
    ("pkg.libs/libfoo.so", None), ("pkg/lib-3.so", None), ("pkg/_x.so.1", None)])
def test_module_stem(member: str, stem: str | None) -> None:
    assert module_stem(member) == stem


def _wheel(tmp: Path, tag: str, members: dict[str, bytes]) -> Path:
    return make_wheel(tmp, f"demo-1.0-{tag}-linux_aarch64.whl",
                      {"demo/__init__.py": b"", **members}, [f"{tag}-linux_aarch64"])


@pytest.mark.parametrize(("variant", "tag", "refused"), [
    ("limited39", "cp39-abi3", None),
    ("limited310", "cp310-abi3", None),
    ("limited310", "cp39-abi3",
     r"tagged cp39-abi3 but demo/_x\.abi3\.so uses CPython symbols outside the stable ABI "
     r"of 3\.9: PyUnicode_AsUTF8AndSize \(since 3\.10\)"),
    ("private", "cp311-abi3",
     r"outside the stable ABI of 3\.11: PyObject_Vectorcall \(since 3\.12\), _PyBytes_Resize "
     r"\(not in it\)"),
    ("private", "cp311-cp311", None),
    ("limited39", "py3-none",
     r"tagged py3-none \(any Python\) but demo/_x\.abi3\.so is a CPython extension module "
     r"\(it defines PyInit__x\)"),
])
def test_retag_judges_abi3_and_none_tags(tmp_path: Path, variant: str, tag: str,
                                         refused: str | None) -> None:
    data = compiled(tmp_path, "aarch64", variant)
    wheel = _wheel(tmp_path, tag, {"demo/_x.abi3.so": data})
    out = tmp_path / "out"
    if refused is None:
        assert retag_wheel(wheel, out, TARGETS["aarch64"]).path.is_file()
        return
    with pytest.raises(ExtensionTagError, match=refused) as e:
        retag_wheel(wheel, out, TARGETS["aarch64"])
    assert e.value.exit_code == 6 and "\n" not in str(e.value) and not out.exists()


def test_a_plain_named_extension_in_a_py3_none_wheel_is_found(tmp_path: Path) -> None:
    """py_wheel wheels name extensions plainly (``_impl.so``): the symbol, not the name,
    says it is one; a ctypes library beside it (no PyInit_) is fine in py3-none."""
    lib = compiled(tmp_path, "aarch64", "limited39", name="helper")
    ok = _wheel(tmp_path, "py3-none", {"demo/libhelper.so": lib})
    assert retag_wheel(ok, tmp_path / "ok", TARGETS["aarch64"]).path.is_file()
    bad = _wheel(tmp_path, "py3-none", {"demo/_impl.so": compiled(tmp_path, "aarch64",
                                                                   "limited39", name="_impl")})
    with pytest.raises(ExtensionTagError, match=r"demo/_impl\.so is a CPython extension "
                                                r"module \(it defines PyInit__impl\)"):
        retag_wheel(bad, tmp_path / "bad", TARGETS["aarch64"])


def test_cpython_specific_wheels_are_not_read(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    data = compiled(tmp_path, "aarch64", "private")
    wheel = _wheel(tmp_path, "cp311-cp311", {"demo/_x.cpython-311-aarch64-linux-gnu.so": data})

    def unread(*_: object) -> None:
        raise AssertionError("symbols read for a cp311-cp311 wheel")

    monkeypatch.setattr(elfsyms, "read_python_symbols", unread)
    assert retag_wheel(wheel, tmp_path / "out", TARGETS["aarch64"]).path.is_file()
