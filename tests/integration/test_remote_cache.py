"""A shared remote cache, against a real server: Debian's nginx with WebDAV PUT on 127.0.0.1."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import fresh_example, require, run_cli
from tests.integration.test_docker import builder_image  # noqa: F401 (shared fixture)

pytestmark = [pytest.mark.docker, pytest.mark.bazel, pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def nginx_cache(tmp_path: Path) -> Iterator[str]:
    require(shutil.which("nginx") is not None, "nginx (nginx-light)")
    root, port = tmp_path / "nginx", _free_port()
    (root / "cache").mkdir(parents=True)
    conf = root / "nginx.conf"
    conf.write_text(f"""
user root;
worker_processes 1;
daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log {root}/access.log;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {root}/cache;
        client_max_body_size 0;
        location / {{
            dav_methods PUT;
            create_full_put_path on;
            dav_access user:rw group:rw all:r;
        }}
    }}
}}
""")
    server = subprocess.Popen(["nginx", "-c", str(conf), "-p", str(root)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for _ in range(50):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        else:
            pytest.fail(f"nginx did not start: {server.stderr.read() if server.stderr else ''}")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)


def _process_summary(stderr: str) -> dict[str, int]:
    """Bazel's 'INFO: 9 processes: 4 remote cache hit, 5 internal.' as {kind: count}."""
    lines = re.findall(r"INFO: \d+ processes?: (.*)\.$", stderr, re.M)
    assert lines, stderr[-2000:]
    return {kind.strip(): int(n) for n, kind in re.findall(r"(\d+) ([a-z -]+)", lines[-1])}


def test_second_build_from_a_fresh_local_cache_is_all_remote_hits(
    builder_image: str, nginx_cache: str, tmp_path: Path  # noqa: F811
) -> None:
    ws = fresh_example(tmp_path)
    args = ["build", "--runner=docker", "--cpu=aarch64", f"--workspace={ws}", "--no-package",
            f"--remote-cache={nginx_cache}"]
    start = time.monotonic()
    first = run_cli(*args, f"--cache-dir={tmp_path / 'cache-a'}")
    first_s = time.monotonic() - start
    assert first.returncode == 0, first.stderr[-3000:]
    assert "the container uses the host network" in first.stderr
    uploaded = list((tmp_path / "nginx/cache").rglob("*"))
    assert any(p.parent.name == "cas" for p in uploaded) and any(
        p.parent.name == "ac" for p in uploaded)

    start = time.monotonic()
    second = run_cli(*args, f"--cache-dir={tmp_path / 'cache-b'}")
    second_s = time.monotonic() - start
    assert second.returncode == 0, second.stderr[-3000:]
    summary = _process_summary(second.stderr)
    executed = {k: v for k, v in summary.items() if k not in ("internal", "remote cache hit")}
    assert summary.get("remote cache hit", 0) > 0 and executed == {}, summary
    print(f"\nfirst build {first_s:.1f} s, second build (fresh local cache, all remote hits) "
          f"{second_s:.1f} s")
