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


# Debian's Bazel 4.2.3, a repository rule that calls fail() (captured from a real build).
BAZEL4_REPOSITORY_RULE = """\
Analyzing: target //:x (1 packages loaded, 0 targets configured)
INFO: Repository host_python instantiated at:
  /ws/WORKSPACE:4:12: in <toplevel>
Repository rule python_repo defined at:
  /ws/repos.bzl:7:30: in <toplevel>
ERROR: An error occurred during the fetch of repository 'host_python':
   Traceback (most recent call last):
\tFile "/ws/repos.bzl", line 4, column 13, in _impl
\t\tfail("no python9 on PATH; set PYTHON_BIN_PATH")
Error in fail: no python9 on PATH; set PYTHON_BIN_PATH
ERROR: Error fetching repository: Traceback (most recent call last):
\tFile "/ws/repos.bzl", line 4, column 13, in _impl
\t\tfail("no python9 on PATH; set PYTHON_BIN_PATH")
Error in fail: no python9 on PATH; set PYTHON_BIN_PATH
ERROR: /ws/BUILD.bazel:1:11: //:x depends on @host_python//:headers in repository \
@host_python which failed to fetch. no such package '@host_python//': no python9 on PATH; \
set PYTHON_BIN_PATH
ERROR: Analysis of target '//:x' failed; build aborted: Analysis failed
INFO: Elapsed time: 2.951s
INFO: 0 processes.
FAILED: Build did NOT complete successfully (12 packages loaded, 21 targets configured)
"""

# Debian's Bazel 7.7.1 (sid image), the same rule through use_repo_rule in MODULE.bazel.
BAZEL7_REPOSITORY_RULE = """\
INFO: Repository _main~_repo_rules~host_python instantiated at:
  <builtin>: in <toplevel>
Repository rule python_repo defined at:
  /ws/repos.bzl:7:30: in <toplevel>
ERROR: /ws/repos.bzl:4:13: An error occurred during the fetch of repository \
'_main~_repo_rules~host_python':
   Traceback (most recent call last):
\tFile "/ws/repos.bzl", line 4, column 13, in _impl
\t\tfail("no python9 on PATH; set PYTHON_BIN_PATH")
Error in fail: no python9 on PATH; set PYTHON_BIN_PATH
ERROR: no such package '@@_main~_repo_rules~host_python//': no python9 on PATH; set \
PYTHON_BIN_PATH
ERROR: Analysis of target '//:x' failed; build aborted: Analysis failed
INFO: Elapsed time: 2.673s, Critical Path: 0.03s
ERROR: Build did NOT complete successfully
"""

# Bazel 7.7.1 offline: an http_archive's download fails inside Bazel's own rule.
BAZEL7_DOWNLOAD = """\
WARNING: Download from https://github.com/bazelbuild/rules_cc/releases/download/0.0.9/\
rules_cc-0.0.9.tar.gz failed: class com.google.devtools.build.lib.bazel.repository.\
downloader.UnrecoverableHttpException Unknown host: github.com
ERROR: /h/external/bazel_tools/tools/build_defs/repo/http.bzl:136:45: An error occurred \
during the fetch of repository 'rules_cc':
   Traceback (most recent call last):
\tFile "/h/external/bazel_tools/tools/build_defs/repo/http.bzl", line 136, column 45, in \
_http_archive_impl
\t\tdownload_info = ctx.download_and_extract(
Error in download_and_extract: java.io.IOException: Error downloading [https://github.com/\
bazelbuild/rules_cc/releases/download/0.0.9/rules_cc-0.0.9.tar.gz] to /h/rules_cc.tar.gz: \
Unknown host: github.com
ERROR: Analysis of target '//:x' failed; build aborted
"""


def test_bazel4_repository_rule_failure_keeps_its_traceback_once() -> None:
    assert error_lines(BAZEL4_REPOSITORY_RULE) == [
        "ERROR: An error occurred during the fetch of repository 'host_python':",
        "  Traceback (most recent call last):",
        '    File "/ws/repos.bzl", line 4, column 13, in _impl',
        '      fail("no python9 on PATH; set PYTHON_BIN_PATH")',
        "  Error in fail: no python9 on PATH; set PYTHON_BIN_PATH",
        "ERROR: Error fetching repository: Traceback (most recent call last):",
        "ERROR: /ws/BUILD.bazel:1:11: //:x depends on @host_python//:headers in repository "
        "@host_python which failed to fetch. no such package '@host_python//': no python9 on "
        "PATH; set PYTHON_BIN_PATH",
        "ERROR: Analysis of target '//:x' failed; build aborted: Analysis failed",
    ]


def test_bazel7_repository_rule_failure_keeps_its_traceback() -> None:
    lines = error_lines(BAZEL7_REPOSITORY_RULE)
    assert lines[:5] == [
        "ERROR: /ws/repos.bzl:4:13: An error occurred during the fetch of repository "
        "'_main~_repo_rules~host_python':",
        "  Traceback (most recent call last):",
        '    File "/ws/repos.bzl", line 4, column 13, in _impl',
        '      fail("no python9 on PATH; set PYTHON_BIN_PATH")',
        "  Error in fail: no python9 on PATH; set PYTHON_BIN_PATH",
    ]
    assert lines[5:] == [
        "ERROR: no such package '@@_main~_repo_rules~host_python//': no python9 on PATH; set "
        "PYTHON_BIN_PATH",
        "ERROR: Analysis of target '//:x' failed; build aborted: Analysis failed",
        "ERROR: Build did NOT complete successfully",
    ]


def test_bazel7_download_failure_keeps_the_error_and_names_the_repository() -> None:
    lines = error_lines(BAZEL7_DOWNLOAD)
    assert lines[3] == "      download_info = ctx.download_and_extract("
    assert lines[4].startswith("  Error in download_and_extract: java.io.IOException: ")
    assert lines[-1] == "ERROR: Analysis of target '//:x' failed; build aborted"
    assert not any(line.startswith("WARNING") for line in lines)
    assert fetch_failure(BAZEL7_DOWNLOAD) == "rules_cc"


def test_a_fail_message_of_several_lines_and_a_plain_starlark_error() -> None:
    text = ("ERROR: /ws/BUILD:3:10: in cc_library rule //:x:\n"
            "Traceback (most recent call last):\n"
            '\tFile "/ws/defs.bzl", line 9, column 5, in _rule_impl\n'
            "\t\tx = ctx.attr.missing\n"
            "Error: 'struct' value has no field or method 'missing'\n"
            "ERROR: An error occurred during the fetch of repository 'local_config_python':\n"
            "Traceback (most recent call last):\n"
            '\tFile "/ws/third_party/py/python_configure.bzl", line 270, column 13, in _impl\n'
            "\t\tfail(\"Repository command failed\\n\" + result.stderr)\n"
            "Error in fail: Repository command failed\n"
            "Problem getting numpy include path.\n"
            "ModuleNotFoundError: No module named 'numpy'\n"
            "INFO: Elapsed time: 1.0s\n"
            "Error in fail: not part of any traceback\n")
    lines = error_lines(text)
    assert lines == [
        "ERROR: /ws/BUILD:3:10: in cc_library rule //:x:",
        "  Traceback (most recent call last):",
        '    File "/ws/defs.bzl", line 9, column 5, in _rule_impl',
        "      x = ctx.attr.missing",
        "  Error: 'struct' value has no field or method 'missing'",
        "ERROR: An error occurred during the fetch of repository 'local_config_python':",
        "  Traceback (most recent call last):",
        '    File "/ws/third_party/py/python_configure.bzl", line 270, column 13, in _impl',
        '      fail("Repository command failed\\n" + result.stderr)',
        "  Error in fail: Repository command failed",
        "  Problem getting numpy include path.",
        "  ModuleNotFoundError: No module named 'numpy'",
    ]


def test_a_deep_traceback_keeps_its_innermost_frames_and_the_cap_holds() -> None:
    frames = "".join(f'\tFile "/ws/m{i}.bzl", line {i}, column 1, in f{i}\n\t\tf{i}()\n'
                     for i in range(30))
    text = (f"ERROR: boom:\nTraceback (most recent call last):\n{frames}"
            "Error in fail: deep\nERROR: next\n")
    assert error_lines(text) == [
        "ERROR: boom:", "  Traceback (most recent call last):", "    … 27 outer frames",
        '    File "/ws/m27.bzl", line 27, column 1, in f27', "      f27()",
        '    File "/ws/m28.bzl", line 28, column 1, in f28', "      f28()",
        '    File "/ws/m29.bzl", line 29, column 1, in f29', "      f29()",
        "  Error in fail: deep", "ERROR: next",
    ]
    many = "".join(f"ERROR: e{i}\nTraceback (most recent call last):\n"
                   f'\tFile "/ws/r.bzl", line {i}, column 1, in f\nError in fail: {i}\n'
                   for i in range(10))
    lines = error_lines(many)
    assert len(lines) == 20 and lines[:2] == ["ERROR: e0", "  Traceback (most recent call last):"]
