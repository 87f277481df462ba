"""Starlark literals, formatted the way buildifier does (one item a line, trailing commas)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def string(value: str) -> str:
    """A double-quoted Starlark string literal for any Python str."""
    out = []
    for ch in value:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\{ord(ch):03o}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def literal(value: object, indent: int = 0) -> str:
    """Format str/bool/int/list/tuple/dict as Starlark; nested items indented by 4 spaces."""
    pad = " " * (indent + 4)
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return string(value)
    if isinstance(value, Mapping):
        if not value:
            return "{}"
        rows = [f"{pad}{literal(k)}: {literal(v, indent + 4)}," for k, v in value.items()]
        return "{\n" + "\n".join(rows) + "\n" + " " * indent + "}"
    if isinstance(value, Sequence):
        if not value:
            return "[]"
        if len(value) == 1 and isinstance(value[0], str):
            return f"[{string(value[0])}]"
        rows = [f"{pad}{literal(item, indent + 4)}," for item in value]
        return "[\n" + "\n".join(rows) + "\n" + " " * indent + "]"
    raise TypeError(f"cannot format {type(value).__name__} as Starlark")
