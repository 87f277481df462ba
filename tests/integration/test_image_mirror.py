"""The builder image's apt step against a mirror that fails: retried, then one line."""

from __future__ import annotations

import subprocess

import pytest

from cross_compiler import resources
from tests.conftest import require

pytestmark = [pytest.mark.docker]


def _base_image() -> str | None:
    for tag in ("debian:bookworm", "debian:sid"):
        found = subprocess.run(["docker", "image", "inspect", tag], capture_output=True,
                               check=False)
        if found.returncode == 0:
            return tag
    return None


def test_unreachable_mirror_is_retried_then_one_line() -> None:
    base = _base_image()
    require(base is not None, "a debian base image (built by the docker tests' image fixture)")
    script = (resources.templates_dir() / "docker/apt-update-retry.sh").read_text()
    # A mirror nothing listens on; no sleeping between the five attempts here.
    result = subprocess.run(
        ["docker", "run", "-i", "--rm", "--network=none", "-e", "APT_RETRY_SLEEP=0",
         "--label", "cross_compiler=1", str(base), "sh", "-c",
         "echo 'deb http://127.0.0.1:9/debian bookworm main' > /etc/apt/sources.list && "
         "rm -f /etc/apt/sources.list.d/* && cat > /r.sh && sh /r.sh"],
        input=script, capture_output=True, text=True, check=False, timeout=300)
    assert result.returncode == 100
    assert result.stderr.count("Failed to fetch") + result.stderr.count("Err:") >= 5
    assert result.stderr.strip().splitlines()[-1] == (
        "cross_compiler: apt-get update kept failing: Debian's mirror is unreachable or "
        "mid-sync; retry later")
