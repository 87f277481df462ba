"""Names taken from input, made safe to print. Pure.

A file name, a Bazel label, a wheel member or a path can hold any character but ``/`` and
NUL: a wheel named ``"x.whl\\n: not a valid wheel file name"`` would otherwise print a
line of its own, an escape sequence would move the terminal's cursor, and an undecodable
byte (a lone surrogate after ``os.fsdecode``) would crash the print. Every message and log
line that interpolates such a name shows it through :func:`shown`.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping

# C0 and C1 controls and DEL; the Unicode line and paragraph separators; the bidirectional
# embeddings, overrides and isolates (which reorder what follows them on the line); lone
# surrogates (undecodable bytes of a file name).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e"
                     "\u2066-\u2069\ud800-\udfff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    char = match[0]
    code = ord(char)
    if char in _NAMED:
        return _NAMED[char]
    if 0xDC80 <= code <= 0xDCFF:  # os.fsdecode's stand-in for the byte it could not decode
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def shown(value: object) -> str:
    """``value`` (a str, a path, anything) as one printable line: every control character
    escaped (``\\n``, ``\\t``, ``\\x1b``, ``\\u202e``), everything else as it is."""
    text = os.fspath(value) if isinstance(value, os.PathLike) else str(value)
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    return _UNSAFE.sub(_escape, text)


def _shown_arg(arg: object) -> object:
    return shown(arg) if isinstance(arg, str | os.PathLike) else arg


class EscapedArgs(logging.Filter):
    """Shows a log record's str and path arguments through :func:`shown`: the format
    string is the code's own, its arguments are what came in (numbers stay numbers)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_shown_arg(a) for a in record.args)
        elif isinstance(record.args, Mapping):
            record.args = {k: _shown_arg(v) for k, v in record.args.items()}
        return True
