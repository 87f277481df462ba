"""Reused verdicts of the post-build checks: what is unchanged since it passed is not read
again, and nothing else is ever skipped (a touched file, another target or key, a forged,
corrupt or oversized record, a failed check)."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cross_compiler import resources
from cross_compiler.bazel import headercheck, postcheck, verdicts
from cross_compiler.errors import ArchMismatchError
from cross_compiler.toolchain.targets import load_targets
from cross_compiler.wheel import elf, manylinux, policycheck

A64, ARMHF = load_targets(["aarch64", "armv7hf"], resources.toolchains_dir())


def _elf(machine: int = 183, bits: int = 64, size: int = 256) -> bytes:
    head = bytearray(size)
    head[:6] = b"\x7fELF" + bytes([1 if bits == 32 else 2, 1])
    head[18:20] = machine.to_bytes(2, "little")
    return bytes(head)


AARCH64, X86_64 = _elf(183), _elf(62)


class Spy:
    """Counts the files a check function is given, then calls it."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> None:
        self.seen: list[list[str]] = []
        real: Callable[..., Any] = getattr(module, name)

        def spy(paths: list[Path], *args: Any, **kwargs: Any) -> Any:
            self.seen.append([Path(p).name for p in paths])
            return real(paths, *args, **kwargs)

        monkeypatch.setattr(module, name, spy)

    @property
    def last(self) -> list[str]:
        return self.seen[-1]


@pytest.fixture
def store_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # Files these tests write are milliseconds old: count them as settled (the racy
    # window has its own test).
    monkeypatch.setattr(verdicts, "RACY_NS", 0)
    return tmp_path / "cache"


def _store(store_dir: Path, target: Any = A64) -> verdicts.VerdictStore:
    return postcheck.store_for(store_dir, Path("/ws"), target)


def _outputs(tmp_path: Path) -> list[Path]:
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    (out / "hello").write_bytes(AARCH64)
    (out / "lib.so").write_bytes(AARCH64)
    (out / "notes.txt").write_text("not an ELF file")
    return [out / "hello", out / "lib.so", out / "notes.txt"]


def _check(paths: list[Path], store_dir: Path, target: Any = A64) -> list[Path]:
    store = _store(store_dir, target)
    try:
        return postcheck.checked_elves(paths, target, store)
    finally:
        store.save()


def test_a_second_check_of_unchanged_outputs_reads_none(
        tmp_path: Path, store_dir: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    paths = _outputs(tmp_path)
    spy = Spy(monkeypatch, elf, "check_files")
    assert _check(paths, store_dir) == paths[:2]
    assert spy.last == ["hello", "lib.so", "notes.txt"]
    caplog.set_level("INFO")
    assert _check(paths, store_dir) == paths[:2]  # the same ELF files, none read
    assert spy.last == []
    assert "3 outputs unchanged since their last check: not re-read" in caplog.text
    key = (store_dir / "verdicts" / "key")
    assert key.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("change", ["mtime", "size", "inode", "in place, mtime restored"])
def test_a_touched_output_is_checked_again(tmp_path: Path, store_dir: Path,
                                           monkeypatch: pytest.MonkeyPatch, change: str) -> None:
    paths = _outputs(tmp_path)
    _check(paths, store_dir)
    spy = Spy(monkeypatch, elf, "check_files")
    target = paths[1]
    before = target.stat()
    if change == "mtime":
        os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000))
    elif change == "size":
        target.write_bytes(AARCH64 + b"\0")
    elif change == "inode":  # another file, same size and mtime
        other = tmp_path / "other"
        other.write_bytes(X86_64)
        os.utime(other, ns=(before.st_atime_ns, before.st_mtime_ns))
        os.replace(other, target)
    else:  # same inode, same size, mtime set back: only ctime tells
        target.write_bytes(X86_64)
        os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))
    if change in ("inode", "in place, mtime restored"):
        assert target.stat().st_size == before.st_size
        assert target.stat().st_mtime_ns == before.st_mtime_ns
        with pytest.raises(ArchMismatchError, match=r"lib\.so"):
            _check(paths, store_dir)
    else:
        _check(paths, store_dir)
    assert spy.last == ["lib.so"]


def test_a_failed_check_is_never_recorded(tmp_path: Path, store_dir: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    paths = _outputs(tmp_path)
    paths[0].write_bytes(X86_64)
    for _ in range(2):
        with pytest.raises(ArchMismatchError, match="hello"):
            _check(paths, store_dir)
    record = _store(store_dir)
    assert str(paths[0]) not in record.files("elf", postcheck.digest("elf", postcheck._judges(),
                                                                       A64))


def test_another_target_checks_again(tmp_path: Path, store_dir: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    paths = _outputs(tmp_path)
    _check(paths, store_dir)
    spy = Spy(monkeypatch, elf, "check_files")
    with pytest.raises(ArchMismatchError, match="hello"):
        _check(paths, store_dir, ARMHF)  # its own record: nothing passed for armv7hf yet
    assert spy.last == ["hello", "lib.so", "notes.txt"]
    # The same record under another key (another target, settings or checking code).
    store = _store(store_dir)
    with pytest.raises(ArchMismatchError):
        postcheck.checked_elves(paths, ARMHF, store)
    assert spy.last == ["hello", "lib.so", "notes.txt"]


def _record_path(store_dir: Path) -> Path:
    (path,) = (store_dir / "verdicts").glob("*.json")
    return path


def _swap_in_wrong_arch(paths: list[Path]) -> None:
    """lib.so replaced by an x86-64 file: only the record could wave it through."""
    paths[1].write_bytes(X86_64)


def _forge(path: Path, paths: list[Path], mac: str | None = None) -> None:
    record = json.loads(path.read_text())
    files = record["body"]["elf"]["files"]
    ident = verdicts.file_id(paths[1])
    assert ident is not None
    files[str(paths[1])] = list(ident)
    if mac is not None:
        record["mac"] = mac
    path.write_text(json.dumps(record))


@pytest.mark.parametrize("how", ["edited", "re-signed with another key", "key readable by others",
                                 "corrupt", "truncated", "oversized",
                                 "not an object", "bad identity"])
def test_a_forged_or_broken_record_never_skips_a_check(
        tmp_path: Path, store_dir: Path, monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    paths = _outputs(tmp_path)
    _check(paths, store_dir)
    record = _record_path(store_dir)
    key_file = store_dir / "verdicts" / "key"
    _swap_in_wrong_arch(paths)
    if how == "edited":
        _forge(record, paths)
    elif how == "re-signed with another key":
        _forge(record, paths)
        body = json.loads(record.read_text())["body"]
        _forge(record, paths, verdicts._mac(b"k" * verdicts.KEY_BYTES, body))
    elif how == "key readable by others":  # whoever could read it could sign
        _forge(record, paths)
        body = json.loads(record.read_text())["body"]
        _forge(record, paths, verdicts._mac(key_file.read_bytes(), body))
        key_file.chmod(0o644)
    elif how == "corrupt":
        record.write_bytes(os.urandom(300))
    elif how == "truncated":
        record.write_bytes(record.read_bytes()[:40])
    elif how == "oversized":
        monkeypatch.setattr(verdicts, "MAX_RECORD_BYTES", 100)
    elif how == "not an object":
        record.write_text("[1, 2, 3]")
    elif how == "bad identity":
        data = json.loads(record.read_text())
        data["body"]["elf"]["files"][str(paths[1])] = ["x", 1, 2, 3, 4]
        record.write_text(json.dumps(data))
    with pytest.raises(ArchMismatchError, match=r"lib\.so"):
        _check(paths, store_dir)


def test_records_are_bounded_and_written_atomically(tmp_path: Path, store_dir: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(verdicts, "MAX_RECORDS", 3)
    paths = _outputs(tmp_path)
    for n in range(5):
        store = postcheck.store_for(store_dir, Path(f"/ws{n}"), A64)
        postcheck.checked_elves(paths, A64, store)
        store.save()
    names = sorted(p.name for p in (store_dir / "verdicts").iterdir())
    assert len([n for n in names if n.endswith(".json")]) == 3
    assert [n for n in names if n.startswith(".")] == []  # no temp file left behind
    monkeypatch.setattr(verdicts, "MAX_FILES", 2)  # too many files: the section is dropped
    store = _store(store_dir)
    postcheck.checked_elves(paths, A64, store)
    store.save()
    assert _store(store_dir).files("elf", postcheck.digest("elf", postcheck._judges(), A64)) == {}


def test_a_file_written_just_before_its_check_is_not_recorded(
        tmp_path: Path, store_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(verdicts, "RACY_NS", 3600 * 10**9)  # every file here is "just written"
    paths = _outputs(tmp_path)
    spy = Spy(monkeypatch, elf, "check_files")
    _check(paths, store_dir)
    _check(paths, store_dir)
    assert spy.seen == [["hello", "lib.so", "notes.txt"]] * 2


def test_an_unwritable_cache_is_no_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    store = postcheck.store_for(blocker, Path("/ws"), A64)  # its directory cannot be made
    assert postcheck.checked_elves(_outputs(tmp_path), A64, store)
    store.save()


# --- the manylinux policy -----------------------------------------------------------------

def test_policy_verdict_reused_until_an_output_or_its_library_changes(
        tmp_path: Path, store_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    (out / "lib").mkdir(parents=True)
    binary, library = out / "app", out / "lib" / "libown.so"
    binary.write_bytes(AARCH64)
    library.write_bytes(AARCH64)
    read: list[str] = []

    def needs(path: Path) -> manylinux.ElfNeeds:
        read.append(path.name)
        if path.name == "app":
            return manylinux.ElfNeeds({"libown.so", "libc.so.6"}, ("$ORIGIN/lib",),
                                      {"GLIBC": {"2.17"}})
        return manylinux.ElfNeeds({"libc.so.6"}, (), {"GLIBC": {"2.17"}})

    monkeypatch.setattr(policycheck, "_needs", needs)

    def check(requested: str = "2014") -> None:
        store = _store(store_dir)
        postcheck.checked_policy([binary], A64, requested, store)
        store.save()

    check()
    assert read == ["app", "libown.so"]
    check()
    assert read == ["app", "libown.so"]  # reused
    check("2_28")  # another baseline
    assert read == ["app", "libown.so"] * 2
    library.write_bytes(AARCH64 + b"\0")  # the library of the build's own changed
    check()
    assert read == ["app", "libown.so"] * 3


# --- the header proof -----------------------------------------------------------------------

def _graph(*dep_files: str) -> str:
    """An aquery --output=jsonproto answer whose compile actions write these .d files."""
    artifacts = [{"id": n + 1, "execPath": path} for n, path in enumerate(dep_files)]
    return json.dumps({"artifacts": artifacts,
                       "configuration": [{"id": 1, "mnemonic": "aarch64-opt"}],
                       "actions": [{"configurationId": 1, "mnemonic": "CppCompile",
                                    "outputIds": [a["id"]]} for a in artifacts]})


class Build:
    """A workspace and an exec root with .d files, proven through postcheck."""

    def __init__(self, tmp_path: Path, store_dir: Path) -> None:
        self.ws = tmp_path / "ws"
        self.exec_root = tmp_path / "ob" / "execroot" / "ws"
        (self.ws / "lib").mkdir(parents=True)
        (self.ws / "lib" / "a.h").write_text("int a(void);\n")
        self.store_dir = store_dir
        self.graph: list[str] = []
        self.aqueries = 0
        self.identity: object = ("--cpu=aarch64", "//...")

    def compile(self, name: str, header: str = "lib/a.h") -> str:
        rel = f"bazel-out/aarch64-opt/bin/lib/_objs/{name}/{name}.d"
        path = self.exec_root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"bazel-out/aarch64-opt/bin/lib/_objs/{name}/{name}.o: "
                        f"lib/{name}.c {header}\n")
        if rel not in self.graph:
            self.graph.append(rel)
        return rel

    def aquery(self) -> str:
        self.aqueries += 1
        return _graph(*self.graph)

    def prove(self) -> None:
        store = postcheck.store_for(self.store_dir, self.ws, A64)
        try:
            postcheck.proven_headers(self.ws, self.exec_root, A64, (), (), self.identity,
                                     self.aquery, store)
        finally:
            store.save()


@pytest.fixture
def build(tmp_path: Path, store_dir: Path) -> Build:
    made = Build(tmp_path, store_dir)
    # The exec root's workspace entries, as Bazel links them.
    made.exec_root.mkdir(parents=True)
    (made.exec_root / "lib").symlink_to(made.ws / "lib")
    return made


def test_header_proof_reused_when_no_dep_file_changed(
        build: Build, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO")
    build.compile("a")
    build.compile("b")
    spy = Spy(monkeypatch, headercheck, "read_dep_files")
    build.prove()
    assert (build.aqueries, len(spy.last)) == (1, 2)
    build.prove()
    assert build.aqueries == 1 and len(spy.seen) == 1  # neither aquery nor a read
    assert "2 dependency files unchanged since their header proof: no aquery" in caplog.text
    build.compile("b")  # a compile action ran again: re-proven, alone
    build.prove()
    assert (build.aqueries, spy.last) == (2, ["b.d"])
    build.identity = ("--cpu=aarch64", "//lib:a")  # other labels or flags: another graph
    build.prove()
    assert (build.aqueries, len(spy.last)) == (3, 2)


def test_a_new_or_touched_dep_file_naming_a_host_header_is_caught(build: Build) -> None:
    build.compile("a")
    build.prove()
    host = "/usr/include/x86_64-linux-gnu/python3.11/pyconfig.h"
    build.compile("a", header=host)  # touched: the .d file now names a host header
    with pytest.raises(ArchMismatchError, match=r"pyconfig\.h"):
        build.prove()
    with pytest.raises(ArchMismatchError, match=r"pyconfig\.h"):
        build.prove()  # the failure recorded nothing
    build.compile("a")
    build.prove()
    build.compile("c", header=host)  # a new compile action
    with pytest.raises(ArchMismatchError, match=r"pyconfig\.h"):
        build.prove()
    assert build.aqueries == 5


def test_a_stale_unproven_dep_file_makes_the_aquery_run(build: Build) -> None:
    build.compile("a")
    build.prove()
    build.compile("old")
    build.graph.remove(build.compile("old"))  # on disk, in no graph the proof saw
    build.prove()
    build.prove()
    assert build.aqueries == 3  # never proven: the walk cannot vouch for it


def test_a_graph_dep_file_outside_the_walk_never_skips_the_aquery(build: Build) -> None:
    rel = "bazel-out/aarch64-opt/bin/lib/odd/x.d"  # not under _objs/
    path = build.exec_root / rel
    path.parent.mkdir(parents=True)
    path.write_text("x.o: lib/a.h\n")
    build.graph.append(rel)
    build.prove()
    build.prove()
    assert build.aqueries == 2


def test_a_forged_header_record_never_skips_the_proof(build: Build, store_dir: Path) -> None:
    rel = build.compile("a")
    build.prove()
    build.compile("a", header="/usr/include/x86_64-linux-gnu/python3.11/pyconfig.h")
    record = _record_path(store_dir)
    data = json.loads(record.read_text())
    ident = verdicts.file_id(build.exec_root / rel)
    assert ident is not None
    data["body"]["headers"]["files"][rel] = list(ident)
    record.write_text(json.dumps(data))
    with pytest.raises(ArchMismatchError, match=r"pyconfig\.h"):
        build.prove()


def test_a_refetched_repository_re_proves(build: Build) -> None:
    external = build.exec_root.parent.parent / "external"
    external.mkdir()
    (external / "@repo.marker").write_text("1")
    build.compile("a")
    build.prove()
    build.prove()
    (external / "@repo.marker").write_text("22")
    build.prove()
    assert build.aqueries == 2
    shutil.rmtree(external)
