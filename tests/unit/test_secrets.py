"""Secrets stay off command lines, container environments, logs and files. Pure parts."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from cross_compiler import config, redact, resources
from cross_compiler.bazel import flags as bazel
from cross_compiler.bazel import secretrc
from cross_compiler.bazel.flags import BazelVersion
from cross_compiler.bazel.localbuild import BazelSetup, plan_build
from cross_compiler.docker.dockerrun import _holds_secret
from cross_compiler.docker.plan import cache_layout, container_request
from cross_compiler.errors import ConfigError
from cross_compiler.hostlink import LINK_ENV
from cross_compiler.toolchain.targets import load_targets

TOKEN = "tok-3f9c2a"
HEADER = f"X-Token=Bearer {TOKEN}"
A64 = load_targets(["aarch64"], resources.toolchains_dir())[0]


def test_url_passwords_and_header_flags_are_masked() -> None:
    assert redact.mask_arg(f"--remote_cache=https://ci:{TOKEN}@cache.example/x") == (
        "--remote_cache=https://***@cache.example/x")
    assert redact.mask_arg(f"--remote_header={HEADER}") == "--remote_header=***"
    assert redact.mask_arg(f"--bes_header={HEADER}") == "--bes_header=***"
    assert redact.mask_arg("--remote_cache=grpc://cache:9092") == "--remote_cache=grpc://cache:9092"
    assert redact.mask_url(f"failed: grpcs://u:{TOKEN}@h:1 refused") == (
        "failed: grpcs://***@h:1 refused")
    assert TOKEN not in repr(redact.Secret(TOKEN)) and str(redact.Secret(TOKEN)) == "***"


@pytest.mark.parametrize(("value", "ok"), [
    ("Authorization=Bearer abc", True), ("X-Token=", True), (TOKEN, False),
    ("=value", False), ("Name=a\nbuild --x", False), ("Bad Name=x", False),
])
def test_a_header_is_one_name_value_line(value: str, ok: bool) -> None:
    assert redact.is_header(value) is ok


def _settings(**values: object) -> config.Settings:
    return config.resolve({k: v for k, v in values.items()}, "cross_compiler.toml", {}, {})


def _plan(env: dict[str, str], **values: object):  # type: ignore[no-untyped-def]
    setup = BazelSetup("bazel", BazelVersion(6, 4, 0), {})
    ws = Path(__file__).resolve().parents[2] / "examples/pyext"
    return plan_build(ws, A64, _settings(**values), setup, {"PATH": "/usr/bin", **env})


def test_the_header_and_url_passwords_are_in_no_argv_only_in_the_private_rc(
        tmp_path: Path) -> None:
    plan = _plan({"TOK": HEADER, "CROSS_COMPILER_CACHE": str(tmp_path)},
                 remote_cache=f"https://ci:{TOKEN}@cache.example", remote_header_env="TOK",
                 bazel_flags=[f"--bes_header=X-B={TOKEN}"])
    for command in (plan.build, plan.cquery, plan.info):
        assert not any(TOKEN in a for a in command.flags + command.startup)
        assert [f.value for f in command.secret_flags] == [
            f"--remote_cache=https://ci:{TOKEN}@cache.example", f"--remote_header={HEADER}",
            f"--bes_header=X-B={TOKEN}"]
        assert "--noannounce_rc" in command.flags  # Bazel would print the rc's options
        shown = " ".join(command.display())
        assert TOKEN not in shown and "--remote_header=..." in shown
        with pytest.raises(ValueError):
            command.argv()  # never run without the private rc
    with secretrc.argv(plan.build) as argv:
        rc = Path(argv[1].removeprefix("--bazelrc="))
        assert argv[2].startswith("--host_jvm_args=-Djava.util.logging.config.file=")
        assert not any(TOKEN in a for a in argv)
        assert stat.S_IMODE(rc.stat().st_mode) == 0o600
        assert stat.S_IMODE(rc.parent.stat().st_mode) == 0o700
        assert TOKEN in rc.read_text()
    assert not rc.exists() and not rc.parent.exists()
    properties = plan.build.server_log / "javalog.properties"  # type: ignore[operator]
    assert "GrpcServerImpl.level=WARNING" in properties.read_text()


def test_no_secret_no_rc() -> None:
    plan = _plan({}, remote_cache="grpc://cache:9092")
    assert plan.build.secret_flags == () and "--noannounce_rc" not in plan.build.flags
    with secretrc.argv(plan.build) as argv:
        assert argv == plan.build.argv() and not any("bazelrc" in a for a in argv)


def test_the_rc_quotes_what_bazel_would_split() -> None:
    text = bazel.secret_bazelrc([redact.Secret('--remote_header=X=a "b" c\\d')])
    assert text == 'build "--remote_header=X=a \\"b\\" c\\\\d"\n'


def test_the_server_log_is_at_a_stable_place_under_the_output_user_root(tmp_path: Path) -> None:
    ws = Path("/w")
    a = bazel.server_log_dir(["--output_user_root=/c/bazel"], ws, tmp_path)
    assert a == bazel.server_log_dir(["--output_user_root=/c/bazel"], ws, tmp_path)
    assert a.parent == Path("/c/bazel/cross_compiler-server-log")
    assert bazel.server_log_dir([], ws, tmp_path).is_relative_to(tmp_path)


def test_a_header_without_name_is_refused_without_echoing_it() -> None:
    with pytest.raises(ConfigError) as caught:
        _plan({"TOK": TOKEN}, remote_cache="grpc://c:1", remote_header_env="TOK")
    assert TOKEN not in str(caught.value) and "TOK" in str(caught.value)


def test_container_secrets_go_over_stdin_never_into_its_environment() -> None:
    layout = cache_layout(Path("/c/docker"), "cross-compiler-builder:abc")
    secret_cache = f"https://ci:{TOKEN}@cache.example"
    assert _holds_secret(secret_cache) and not _holds_secret("grpc://cache:1")
    assert _holds_secret(f"--disk_cache=/d --remote_header={HEADER}")
    request = container_request(
        image="img", workspace=Path("/ws"), layout=layout, inner_command=["cross-compiler"],
        settings_env={"CROSS_COMPILER_REMOTE_CACHE": secret_cache},
        passed_env={"TOK": HEADER}, uid=1000, gid=1000, rootless=False,
        stdin_env={"TOK": HEADER, "CROSS_COMPILER_REMOTE_CACHE": secret_cache},
        owner=("host", 42),
    )
    assert not any(TOKEN in v for v in request.env.values())
    assert request.env[LINK_ENV] == "stdin"
    assert request.labels["cross_compiler.pid"] == "42"
    assert TOKEN not in repr(request) and not any(TOKEN in line for line in request.describe())
    assert "stdin: TOK=***" in request.describe()


def test_release_manifest_argv_is_masked_again() -> None:
    assert redact.mask_argv(["bazel", f"--remote_cache=http://u:{TOKEN}@h"]) == [
        "bazel", "--remote_cache=http://***@h"]


def test_hostlink_line_round_trip() -> None:
    from cross_compiler import hostlink
    from cross_compiler.errors import Terminated

    assert hostlink.decode(hostlink.encode({"TOK": HEADER})) == {"TOK": HEADER}
    with pytest.raises(Terminated):
        hostlink.decode(b'{"env": {"TOK"')  # the host died mid-line
    assert hostlink.attach({"A": "1"}, open(os.devnull, "rb")) == {"A": "1"}
