from __future__ import annotations

from pathlib import Path

import pytest

from cross_compiler import config
from cross_compiler.errors import ConfigError


def test_precedence_cli_over_env_over_file_over_default() -> None:
    file_values = {"targets": ["//file:t"], "compilation_mode": "dbg"}
    env = {"CROSS_COMPILER_TARGETS": "//env:a //env:b", "CROSS_COMPILER_BAZEL_MODE": "platforms"}
    s = config.resolve(file_values, "ws/cross_compiler.toml", env, {"bazel_mode": "legacy"})
    assert s["targets"] == ["//env:a", "//env:b"]
    assert s.values["targets"].source == "env CROSS_COMPILER_TARGETS"
    assert s["compilation_mode"] == "dbg"
    assert s.values["compilation_mode"].source == "ws/cross_compiler.toml"
    assert s["bazel_mode"] == "legacy"
    assert s.values["bazel_mode"].source == "command line"
    assert s["bazel"] == "bazel" and s.values["bazel"].source == "default"


def test_unknown_key_gets_did_you_mean() -> None:
    with pytest.raises(ConfigError, match=r"unknown setting 'target'.*did you mean 'targets'"):
        config.resolve({"target": ["//x"]}, "cross_compiler.toml", {}, {})


def test_bad_choice() -> None:
    with pytest.raises(ConfigError, match="compilation_mode must be one of"):
        config.resolve({}, "f", {"CROSS_COMPILER_COMPILATION_MODE": "fast"}, {})


def test_config_file_tables(tmp_path: Path) -> None:
    (tmp_path / "cross_compiler.toml").write_text('[build]\ntargets = ["//a"]\n')
    assert config.read_config_file(tmp_path)[0] == {"targets": ["//a"]}
    (tmp_path / "cross_compiler.toml").write_text('[bild]\ntargets = ["//a"]\n')
    with pytest.raises(ConfigError, match=r"unknown table \[bild\]"):
        config.read_config_file(tmp_path)


def test_cache_dir() -> None:
    assert config.cache_dir({"CROSS_COMPILER_CACHE": "/c"}) == Path("/c")
    assert config.cache_dir({"HOME": "/h"}) == Path("/h/.cache/cross_compiler")
    assert config.cache_dir({"XDG_CACHE_HOME": "/x", "HOME": "/h"}) == Path("/x/cross_compiler")


def test_an_empty_environment_value_clears_the_file_setting() -> None:
    s = config.resolve({"package_command": "make wheel"}, "f",
                       {"CROSS_COMPILER_PACKAGE_COMMAND": ""}, {})
    assert s["package_command"] == ""


def test_build_event_stream_output_files(tmp_path: Path) -> None:
    from cross_compiler.bazel.localbuild import bep_output_files

    events = tmp_path / "events.json"
    events.write_text(
        '{"id":{"started":{}},"started":{"uuid":"x"}}\n'
        '{"id":{"namedSet":{"id":"0"}},"namedSetOfFiles":{"files":['
        '{"name":"cli/hello","uri":"file:///out/bazel-out/k8/bin/cli/hello"},'
        '{"name":"a b","uri":"file:///out/a%20b"}]}}\n')
    assert bep_output_files(events) == [Path("/out/bazel-out/k8/bin/cli/hello"),
                                        Path("/out/a b")]
    events.write_text('{"namedSetOfFiles":{"files":[{"uri":"bytestream://cache/blobs/1"}]}}\n')
    assert bep_output_files(events) is None  # remote-only output: ask cquery instead
    assert bep_output_files(tmp_path / "missing.json") is None


def test_local_paths_are_validated(tmp_path: Path) -> None:
    from cross_compiler.config import local_paths

    good = config.resolve(
        {"repository_overrides": [f"zlib={tmp_path}"], "distdirs": [str(tmp_path)]}, "f", {}, {})
    assert local_paths(good) == [("repository_overrides", "zlib", tmp_path),
                                 ("distdirs", "", tmp_path)]
    for bad, message in ((["zlib"], "is not NAME=DIR"), (["zlib=relative/dir"], "absolute"),
                         ([f"zlib={tmp_path}/missing"], "is not a directory"),
                         (["a b=/tmp"], "is not NAME=DIR")):
        with pytest.raises(ConfigError, match=message):
            local_paths(config.resolve({"repository_overrides": bad}, "f", {}, {}))
