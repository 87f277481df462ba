"""Failed Bazel commands made readable: ERROR lines and the offline-fetch hint."""

from __future__ import annotations

import json

from cross_compiler.bazel.log import error_lines, failure_hint, fetch_failure, progress_text


def _bep(*stderr: str) -> str:
    events = [{"id": {"progress": {"opaqueCount": i}}, "progress": {"stderr": text}}
              for i, text in enumerate(stderr)]
    return "\n".join(json.dumps(e) for e in [*events, {"id": {"buildFinished": {}}}]) + "\n"


def test_errors_are_deduplicated_ansi_free_and_capped() -> None:
    noise = "".join(f"1234 linux-sandbox debug line {i}\n" for i in range(3000))
    text = progress_text(_bep(noise, "\x1b[31m\x1b[1mERROR: \x1b[0m/ws/a/BUILD:1:1: boom\n",
                              "ERROR: /ws/a/BUILD:1:1: boom\n",
                              *(f"ERROR: e{i}\n" for i in range(40))))
    lines = error_lines(text)
    assert lines[0] == "ERROR: /ws/a/BUILD:1:1: boom" and len(lines) == 20
    assert lines.count("ERROR: /ws/a/BUILD:1:1: boom") == 1


def test_offline_fetch_names_the_repository_and_the_setting() -> None:
    text = ("ERROR: An error occurred during the fetch of repository 'greeting':\n"
            "Error in download_and_extract: java.io.IOException: Error downloading "
            "[https://example.invalid/g.tar.gz]: Unknown host: example.invalid\n")
    assert fetch_failure(text) == "greeting"
    hint = failure_hint(text, "/logs/x.log")
    assert 'repository_overrides = ["greeting=/path/to/greeting"]' in hint
    assert "/logs/x.log" in hint and "\n" not in hint


def test_bzlmod_registry_failure_names_the_module() -> None:
    text = ("ERROR: Error computing the main repository mapping: Error accessing registry "
            "https://bcr.bazel.build/: Failed to fetch registry file "
            "https://bcr.bazel.build/modules/abseil-cpp/20240116.2/MODULE.bazel: Unknown host\n")
    assert fetch_failure(text) == "abseil-cpp"


def test_a_compile_error_is_not_a_fetch_failure() -> None:
    text = "ERROR: /ws/lib/BUILD:1:11: Compiling lib/x.cc failed: (Exit 1)\n"
    assert fetch_failure(text) == ""
    assert failure_hint(text, "L").startswith("see the ERROR lines above")
