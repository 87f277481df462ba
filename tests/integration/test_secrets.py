"""The remote header never leaves where it is given: a docker build against a real HTTP
cache on loopback, with the token looked for in ps, docker inspect, files, logs, --dry-run."""

from __future__ import annotations

import http.server
import json
import os
import secrets
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import CLI, fresh_example
from tests.integration.test_docker import builder_image  # noqa: F401 (shared fixture)

pytestmark = [pytest.mark.docker, pytest.mark.bazel, pytest.mark.slow]


@pytest.fixture
def header_cache() -> Iterator[tuple[str, list[str]]]:
    """A remote cache that misses every GET and accepts every PUT; (url, headers seen)."""
    seen: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def _answer(self, code: int) -> None:
            seen.append(self.headers.get("X-Token", ""))
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self) -> None:
            self._answer(404)

        do_HEAD = do_GET

        def do_PUT(self) -> None:
            self._answer(200)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()


def _files_holding(token: bytes, *roots: Path) -> list[str]:
    found = []
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file() and not path.is_symlink():
                try:
                    if token in path.read_bytes():
                        found.append(str(path))
                except OSError:
                    pass
    return found


def test_the_remote_header_leaks_nowhere(builder_image: str, tmp_path: Path,  # noqa: F811
                                         header_cache: tuple[str, list[str]]) -> None:
    url, seen = header_cache
    token = f"tok{secrets.token_hex(12)}"
    ws, cache = fresh_example(tmp_path), tmp_path / "cache"
    (ws / "slow").mkdir()  # a few seconds of build to sample ps and docker inspect in
    (ws / "slow/BUILD.bazel").write_text(
        'genrule(name = "slow", outs = ["slow.txt"], cmd = "sleep 4; echo ok > $@")\n')
    # Both from the environment: what is on the tool's own command line is the user's.
    env = {**os.environ, "CI_CACHE_TOKEN": f"X-Token=Bearer {token}",
           "CROSS_COMPILER_REMOTE_CACHE": url.replace("//", f"//ci:{token}@"),
           "CROSS_COMPILER_LOG_LEVEL": "DEBUG"}
    args = [CLI, "build", "--runner=docker", "--cpu=aarch64", f"--workspace={ws}",
            f"--cache-dir={cache}", "--target=//slow", "--no-package",
            "--remote-header-env=CI_CACHE_TOKEN", "--env=CROSS_COMPILER_LOG_LEVEL"]

    dry = subprocess.run([*args, "--dry-run"], env=env, capture_output=True, text=True)
    assert dry.returncode == 0, dry.stderr[-3000:]
    assert token not in dry.stdout + dry.stderr
    assert "--remote_header=..." in dry.stdout and "stdin: CI_CACHE_TOKEN=***" in dry.stdout

    child = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    sampled, inspected = 0, 0
    while child.poll() is None:
        ps = subprocess.run(["ps", "-ewwo", "args"], capture_output=True, text=True).stdout
        assert token not in ps
        sampled += 1
        ids = subprocess.run(["docker", "ps", "-q", "--filter",
                              f"label=cross_compiler.workspace={ws}"],
                             capture_output=True, text=True).stdout.split()
        for cid in ids:
            info = subprocess.run(["docker", "inspect", cid], capture_output=True, text=True)
            assert token not in info.stdout
            inspected += bool(json.loads(info.stdout or "[]"))
        time.sleep(0.2)
    out, err = child.communicate()
    assert child.returncode == 0, err[-3000:]
    assert sampled > 5 and inspected > 0
    assert [line for line in (out + err).splitlines() if token in line] == []
    assert "run: bazel" in err  # DEBUG logging was on, inside the container too
    assert _files_holding(token.encode(), ws, cache) == []
    # It did reach the cache: every request carried the header.
    assert seen and set(seen) == {f"Bearer {token}"}
