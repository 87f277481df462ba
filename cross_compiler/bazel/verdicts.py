"""Verdicts of the tool's own post-build checks, kept so that a file unchanged since it
passed is not read again: an authenticated, bounded, atomically written record per
workspace and target under the tool's cache dir.

Each section (ELF check, manylinux policy, header proof) is stored with the key of
everything its verdict depends on besides the files (target, settings, the checking code),
and each file with its identity: (size, mtime_ns, inode, ctime_ns, device) from one
``stat``. A file whose identity differs is checked again; ctime moves on every write and
cannot be set back by a user, so an output rewritten in place with its size and mtime
restored is checked again too.

The record is signed with HMAC-SHA256 under a random key in a 0600 file beside it (a
content hash alone would not do: whoever edits an entry can recompute it). An entry that
is unreadable, too large, for another key or whose MAC does not match is no entry at all:
everything is checked again, never an error. Only passed checks are recorded.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
import stat
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from cross_compiler.toolchain.packagetree import atomic_write

log = logging.getLogger(__name__)

FORMAT = 1
KEY_BYTES = 32
MAX_RECORD_BYTES = 64 << 20  # a record holding more is not read (nor written)
MAX_FILES = 200_000  # per section: a larger build is simply checked in full each time
MAX_RECORDS = 64  # per cache dir: the least recently written are removed beyond this
# A file written less than this before its identity was taken could be written again in the
# same timestamp tick without its identity changing (git's "racily clean" index entries):
# it is checked, but its verdict is not kept. Linux file systems stamp at most a jiffy
# (<= 10 ms) coarse; an output this fresh is checked again by the next build.
RACY_NS = 100_000_000

FileId = tuple[int, int, int, int, int]  # size, mtime_ns, inode, ctime_ns, device


def file_id(path: Path | str) -> FileId | None:
    """The identity of the file ``path`` names (symlinks followed), None if it is none.
    Taken *before* a file is read, so a write during the check changes it again."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    return (st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns, st.st_dev)


def now_ns() -> int:
    """The moment before identities are taken (see RACY_NS)."""
    return time.time_ns()


def settled(ident: FileId, taken_ns: int) -> bool:
    """Whether the file was last written RACY_NS or more before ``taken_ns``."""
    return taken_ns - max(ident[1], ident[3]) >= RACY_NS


def digest(*parts: object) -> str:
    """One key over ``parts`` (their repr: tuples, strings, dataclasses of them)."""
    return hashlib.sha256(repr(parts).encode("utf-8", "surrogateescape")).hexdigest()


def sources_digest(paths: Iterable[Path]) -> str:
    """The checking code and data itself: a changed judge re-judges everything."""
    h = hashlib.sha256()
    for path in paths:
        h.update(str(path.name).encode())
        try:
            h.update(path.read_bytes())
        except OSError:
            h.update(secrets.token_bytes(16))  # unreadable: never equal, nothing reused
    return h.hexdigest()


class VerdictStore:
    """The record of one workspace and target: sections of {file: identity} that passed."""

    def __init__(self, directory: Path, name: str) -> None:
        self.directory = directory
        self.path = directory / f"{name}.json"
        self._key_path = directory / "key"
        self._sections: dict[str, dict[str, Any]] = {}
        self._loaded = False
        self._dirty = False

    # --- reading ---------------------------------------------------------------------
    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        key = self._read_key()
        if key is None:
            return
        try:
            with open(self.path, "rb") as f:
                raw = f.read(MAX_RECORD_BYTES + 1)
        except OSError:
            return
        if len(raw) > MAX_RECORD_BYTES:
            log.debug("%s is larger than %d bytes: not read", self.path, MAX_RECORD_BYTES)
            return
        try:
            record = json.loads(raw)
            body, mac = record["body"], record["mac"]
            if record.get("format") != FORMAT or not isinstance(body, dict):
                return
            if not isinstance(mac, str) or not hmac.compare_digest(mac, _mac(key, body)):
                log.debug("%s: signature does not match: every check runs", self.path)
                return
            self._sections = {name: value for name, value in body.items()
                              if _well_formed(value)}
        except (ValueError, TypeError, KeyError):
            return

    def files(self, section: str, key: str) -> dict[str, FileId]:
        """The files that passed ``section``'s check under ``key`` ({} for any other key)."""
        self._load()
        value = self._sections.get(section)
        if value is None or value["key"] != key:
            return {}
        return {name: tuple(ident) for name, ident in value["files"].items()}

    def extra(self, section: str, key: str) -> dict[str, Any]:
        """What else ``section`` recorded with its files under ``key``."""
        self._load()
        value = self._sections.get(section)
        return dict(value.get("extra", {})) if value and value["key"] == key else {}

    # --- writing ---------------------------------------------------------------------
    def record(self, section: str, key: str, files: dict[str, FileId], taken_ns: int,
               extra: dict[str, Any] | None = None) -> None:
        """Replace ``section`` with these passed files, whose identities were taken after
        ``taken_ns`` (now_ns()); a file written within RACY_NS before it is left out, and
        nothing is kept beyond MAX_FILES."""
        self._load()
        files = {name: ident for name, ident in files.items() if settled(ident, taken_ns)}
        if len(files) > MAX_FILES:
            self._sections.pop(section, None)
        else:
            self._sections[section] = {"key": key, "files": {n: list(i) for n, i in
                                                             files.items()},
                                       "extra": extra or {}}
        self._dirty = True

    def save(self) -> None:
        """Write the record atomically (temp file + rename); a failure is a debug line."""
        if not self._dirty:
            return
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            key = self._read_key() or self._new_key()
            body = self._sections
            data = json.dumps({"format": FORMAT, "body": body, "mac": _mac(key, body)},
                              sort_keys=True, separators=(",", ":")).encode()
            if len(data) > MAX_RECORD_BYTES:
                return
            atomic_write(self.path, data, 0o600)
            self._dirty = False
            _prune(self.directory, MAX_RECORDS)
        except OSError as e:
            log.debug("cannot record the checks' verdicts in %s: %s", self.directory, e)

    # --- the key -----------------------------------------------------------------------
    def _read_key(self) -> bytes | None:
        """The signing key, only from a regular 0600 file of ours of the right size."""
        try:
            fd = os.open(self._key_path, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            return None
        with os.fdopen(fd, "rb") as f:
            st = os.fstat(f.fileno())
            if (not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid()
                    or st.st_mode & 0o077 or st.st_size != KEY_BYTES):
                return None
            key = f.read(KEY_BYTES + 1)
        return key if len(key) == KEY_BYTES else None

    def _new_key(self) -> bytes:
        """A fresh random key (replacing one not fit to use: every record signed with the
        old one is then void)."""
        key = secrets.token_bytes(KEY_BYTES)
        atomic_write(self._key_path, key, 0o600)
        return key


def _mac(key: bytes, body: Any) -> str:
    text = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    return hmac.new(key, b"cross_compiler verdicts %d\0" % FORMAT + text,
                    hashlib.sha256).hexdigest()


def _well_formed(value: Any) -> bool:
    if not (isinstance(value, dict) and isinstance(value.get("key"), str)
            and isinstance(value.get("files"), dict) and isinstance(value.get("extra", {}),
                                                                     dict)):
        return False
    return all(isinstance(ident, list) and len(ident) == 5
               and all(type(n) is int for n in ident) for ident in value["files"].values())


def _prune(directory: Path, keep: int) -> None:
    """The least recently written records beyond ``keep`` removed (their builds re-check)."""
    records = []
    for entry in os.scandir(directory):
        if entry.name.endswith(".json") and entry.is_file(follow_symlinks=False):
            records.append((entry.stat(follow_symlinks=False).st_mtime_ns, entry.path))
    for _mtime, path in sorted(records)[:-keep]:
        try:
            os.unlink(path)
        except OSError:
            pass
