from __future__ import annotations

from cross_compiler.toolchain import starlark


def test_string_escapes_quotes_backslashes_and_controls() -> None:
    assert starlark.string('-D__DATE__="redacted"') == '"-D__DATE__=\\"redacted\\""'
    assert starlark.string("a\\b\nc\x01") == '"a\\\\b\\nc\\001"'
    assert starlark.string("ünï") == '"ünï"'


def test_lists_and_dicts_are_formatted_like_buildifier() -> None:
    assert starlark.literal([]) == "[]"
    assert starlark.literal(["one"]) == '["one"]'
    assert starlark.literal(["a", "b"], 4) == '[\n        "a",\n        "b",\n    ]'
    nested = '{\n    "k": [\n        "x",\n        "y",\n    ],\n}'
    assert starlark.literal({"k": ["x", "y"]}) == nested
    assert starlark.literal(True) == "True"
    assert starlark.literal(1) == "1"
