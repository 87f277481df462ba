"""The warm server's pure parts: when it is used, its key, its request, its idle loop; the
host link's signal lines."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from cross_compiler import config, hostlink
from cross_compiler.docker import server
from cross_compiler.docker.dockerrun import PER_COMMAND_ENV, plan_container
from cross_compiler.docker.plan import Mount
from tests.unit.test_plan_and_image import TARGETS, _spec


def _plan(tmp_path: Path, idle: int | None = 300, **values: object):  # type: ignore[no-untyped-def]
    ws = tmp_path / "ws"
    ws.mkdir(exist_ok=True)
    settings = config.resolve(values, "f", {}, {"cache_dir": str(tmp_path / "cache")})
    return plan_container(ws, TARGETS[:1], settings, {}, _spec(), False, [],
                          idle_seconds=idle)


def _key(tmp_path: Path, image_id: str = "sha256:1", **values: object) -> str:
    request, _, _ = _plan(tmp_path, **values)
    return server.server_key(request, image_id, ["aarch64"], PER_COMMAND_ENV)


@pytest.mark.parametrize(("setting", "env", "command", "dry_run", "mode"), [
    ("auto", {}, "build", False, "warm"),
    ("auto", {"CI": "true"}, "build", False, "one-shot"),
    ("auto", {"CI": "1"}, "test", False, "one-shot"),
    ("warm", {"CI": "true"}, "build", False, "warm"),
    ("one-shot", {}, "build", False, "one-shot"),
    ("warm", {}, "build", True, "one-shot"),
])
def test_server_mode(setting: str, env: dict[str, str], command: str, dry_run: bool,
                     mode: str) -> None:
    assert server.server_mode(setting, env, command, dry_run) == mode


def test_the_key_ignores_what_bazel_reads_per_command(tmp_path: Path) -> None:
    base = _key(tmp_path)
    assert base == _key(tmp_path)  # stable: a new result file each run changes nothing
    assert _key(tmp_path, targets=["//other"]) == base
    assert _key(tmp_path, bazel_flags=["--jobs=1"]) == base
    assert _key(tmp_path, compilation_mode="dbg") == base
    assert _key(tmp_path, source_date_epoch="1700000000") == base


def test_the_key_changes_with_what_shapes_the_server(tmp_path: Path) -> None:
    base = _key(tmp_path)
    other = tmp_path / "override"
    other.mkdir()
    assert _key(tmp_path, image_id="sha256:2") != base  # a rebuilt image
    assert _key(tmp_path, python=["3.13"]) != base  # another Python: another render
    assert _key(tmp_path, manylinux="2_28") != base  # another toolchain route
    assert _key(tmp_path, bazel_startup_options=["--host_jvm_args=-Xmx1g"]) != base
    assert _key(tmp_path, repository_overrides=[f"zlib={other}"]) != base  # a mount
    assert _key(tmp_path, network="host") != base
    request, _, _ = _plan(tmp_path)
    assert server.server_key(request, "sha256:1", ["aarch64", "armv7hf"],
                             PER_COMMAND_ENV) != base  # the cpu set


def test_the_key_never_holds_a_secret_value(tmp_path: Path) -> None:
    secret = "s3cr3t-token-value"
    request, _, _ = _plan(tmp_path, remote_cache=f"https://u:{secret}@cache.example")
    assert any(secret in v for v in request.stdin_env.values())
    first = server.server_key(request, "sha256:1", ["aarch64"], PER_COMMAND_ENV)
    other, _, _ = _plan(tmp_path, remote_cache="https://u:another@cache.example")
    # Only the names of secrets shape the key: a rotated password keeps the server.
    assert server.server_key(other, "sha256:1", ["aarch64"], PER_COMMAND_ENV) == first


def test_the_server_request(tmp_path: Path) -> None:
    secret = "s3cr3t-token-value"
    request, layout, report = _plan(tmp_path, remote_cache=f"https://u:{secret}@c.example")
    assert "--max_idle_secs=300" in request.env["CROSS_COMPILER_BAZEL_STARTUP_OPTIONS"]
    key = server.server_key(request, "sha256:1", ["aarch64"], PER_COMMAND_ENV)
    made = server.server_request(request, key, layout, 300, PER_COMMAND_ENV)
    assert made.mounts == request.mounts and made.user == request.user
    assert made.working_dir == request.working_dir and made.image == request.image
    assert made.stdin_env == {} and not any(secret in v for v in made.env.values())
    assert not set(made.env) & set(PER_COMMAND_ENV)
    assert "CROSS_COMPILER_TARGETS" in request.env  # each exec brings its own
    assert made.labels[server.SERVER_LABEL] == key
    assert made.labels[server.ROOT_LABEL] == str(layout.root)
    assert made.labels[server.WORKSPACE_LABEL] == str(tmp_path / "ws")
    assert "cross_compiler.pid" not in made.labels  # it outlives the command
    assert made.command[:2] == ("sh", "-c")
    assert str(server.heartbeat_file(layout, key)) in made.command
    assert Mount(str(layout.root), str(layout.root)) in made.mounts  # the heartbeat's dir
    assert report.parent == layout.root
    one_shot, _, _ = _plan(tmp_path, idle=None)
    assert "--max_idle_secs" not in one_shot.env["CROSS_COMPILER_BAZEL_STARTUP_OPTIONS"]


def test_the_idle_loop_exits_once_the_heartbeat_is_old(tmp_path: Path) -> None:
    beat = tmp_path / "hb"
    beat.touch()
    loop = subprocess.Popen(server.idle_loop(beat, 2))
    try:
        for _ in range(4):  # kept alive while it is touched
            time.sleep(1)
            os.utime(beat)
            assert loop.poll() is None
        assert loop.wait(timeout=10) == 0  # then it ends, about 2 s later
    finally:
        loop.kill()
        loop.wait()
    gone = subprocess.Popen(server.idle_loop(tmp_path / "missing", 60))
    assert gone.wait(timeout=10) == 0  # no heartbeat (removed): nothing to wait for


@pytest.mark.parametrize(("age", "idle", "ok"), [
    (None, 300, False), (0.0, 300, True), (289.0, 300, True), (291.0, 300, False),
    (1.0, 4, True), (2.5, 4, False),
])
def test_a_server_near_its_timeout_is_not_reused(age: float | None, idle: int,
                                                 ok: bool) -> None:
    assert server.reusable(age, idle) is ok


def test_hostlink_signal_lines() -> None:
    assert hostlink.signal_of(hostlink.encode_signal("SIGINT")) == signal.SIGINT
    assert hostlink.signal_of(hostlink.encode_signal("SIGTERM")) == signal.SIGTERM
    assert hostlink.signal_of(b'{"signal": "SIGKILL"}') is None  # only what the link carries
    assert hostlink.signal_of(b"not json") is None
    with pytest.raises(ValueError, match="SIGKILL"):
        hostlink.encode_signal("SIGKILL")


def test_hostlink_reads_the_first_line_raw_and_keeps_what_follows() -> None:
    read, write = os.pipe()
    try:
        os.write(write, hostlink.encode({"A": "1"}) + hostlink.encode_signal("SIGINT"))
        line, rest = hostlink._read_line(read)
        assert hostlink.decode(line) == {"A": "1"}
        assert hostlink.signal_of(rest.rstrip(b"\n")) == signal.SIGINT
    finally:
        os.close(read)
        os.close(write)


def test_server_idle_seconds_is_validated() -> None:
    from cross_compiler.errors import ConfigError

    assert config.resolve({}, "f", {}, {})["server_idle_seconds"] == "300"
    for bad in ("0", "-1", "5m", "100000"):
        with pytest.raises(ConfigError, match="server_idle_seconds"):
            config.resolve({"server_idle_seconds": bad}, "f", {}, {})
    with pytest.raises(ConfigError, match="server must be one of"):
        config.resolve({"server": "hot"}, "f", {}, {})
