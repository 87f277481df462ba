"""SOURCE_DATE_EPOCH: the workspace's last commit time (host side), a fixed fallback, and
the setting reaching the packaging command and the container."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from cross_compiler import api, config, resources
from cross_compiler.docker.plan import cache_layout
from cross_compiler.errors import ConfigError
from cross_compiler.release.sourcedate import FALLBACK_EPOCH, workspace_epoch
from cross_compiler.toolchain.targets import load_targets
from cross_compiler.wheel import packaging
from tests.wheels import AARCH64_SO, make_wheel

(A64,) = load_targets(["aarch64"], resources.toolchains_dir())


@pytest.fixture(autouse=True)
def _no_enclosing_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))


def _commit(ws: Path, when: int) -> None:
    env = {**os.environ, "GIT_AUTHOR_DATE": f"@{when} +0000",
           "GIT_COMMITTER_DATE": f"@{when} +0000", "GIT_AUTHOR_NAME": "t",
           "GIT_AUTHOR_EMAIL": "t@example.invalid", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.invalid"}
    for argv in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "x"]):
        subprocess.run(["git", "-C", str(ws), *argv], env=env, check=True)


def test_last_commit_time_is_the_epoch(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "a.txt").write_text("a\n")
    _commit(ws, 1700000000)
    (ws / "a.txt").write_text("edited, not committed\n")  # mtimes do not matter
    assert workspace_epoch(ws) == (1700000000, "the workspace's last commit")


def test_no_git_checkout_gives_1980(tmp_path: Path) -> None:
    seconds, why = workspace_epoch(tmp_path)
    assert seconds == FALLBACK_EPOCH == 315532800 and "no git commit" in why


def test_missing_git_gives_1980(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert workspace_epoch(tmp_path) == (FALLBACK_EPOCH, "git is not installed: 1980-01-01")


def test_setting_wins_over_the_commit_and_is_validated(tmp_path: Path) -> None:
    set_ = config.resolve({}, "f", {"CROSS_COMPILER_SOURCE_DATE_EPOCH": "1234567890"}, {})
    assert api.with_source_date(set_, tmp_path)["source_date_epoch"] == "1234567890"
    computed = api.with_source_date(config.resolve({}, "f", {}, {}), tmp_path)
    assert computed.values["source_date_epoch"].value == str(FALLBACK_EPOCH)
    assert "no git commit" in computed.values["source_date_epoch"].source
    with pytest.raises(ConfigError, match="source_date_epoch must be whole seconds"):
        config.resolve({"source_date_epoch": "yesterday"}, "cross_compiler.toml", {}, {})


def test_forwarded_into_the_container() -> None:
    from cross_compiler.docker.dockerrun import _settings_env

    settings = config.resolve({"source_date_epoch": "1700000000"}, "f", {}, {})
    env = _settings_env(settings, cache_layout(Path("/c"), "cross-compiler-builder:aaa"))
    assert env["CROSS_COMPILER_SOURCE_DATE_EPOCH"] == "1700000000"


def test_packaging_command_gets_source_date_epoch(tmp_path: Path) -> None:
    made = tmp_path / "made"
    made.mkdir()
    wheel = make_wheel(made, "demo-1.0-cp311-cp311-linux_x86_64.whl",
                       {"demo/_n.so": AARCH64_SO}, ["cp311-cp311-linux_x86_64"])
    script = tmp_path / "package.py"
    script.write_text("import os, shutil, sys\n"
                      "open(sys.argv[3], 'w').write(os.environ['SOURCE_DATE_EPOCH'])\n"
                      "shutil.copy(sys.argv[2], sys.argv[1])\n")
    seen = tmp_path / "seen"
    command = shlex.join([sys.executable, str(script), "{out}", str(wheel), str(seen)])
    settings = config.resolve({"package_command": command, "platform": "linux_aarch64",
                               "source_date_epoch": "1700000000"}, "test", {}, {})
    packaging.package_and_retag(tmp_path, A64, settings, {})
    assert seen.read_text() == "1700000000"
