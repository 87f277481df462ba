"""test-wheel's cpu: from the wheel's platform tag unless --cpu says otherwise."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cross_compiler import api
from cross_compiler.errors import ConfigError


@pytest.mark.parametrize(("name", "cpu"), [
    ("p-1.0-cp311-cp311-manylinux_2_17_armv7l.whl", "armv7hf"),
    ("p-1.0-cp313-cp313-manylinux_2_31_riscv64.whl", "riscv64"),
    ("p-1.0-cp311-cp311-manylinux2014_aarch64.manylinux_2_17_aarch64.whl", "aarch64"),
    ("p-1.0-cp311-cp311-linux_ppc64le.whl", "ppc64le"),
    ("p-1.0-cp311-cp311-manylinux_2_17_s390x.whl", "s390x"),
])
def test_the_cpu_comes_from_the_platform_tag(name: str, cpu: str) -> None:
    assert api.wheel_cpu(Path(name), dict(os.environ)) == cpu


@pytest.mark.parametrize(("name", "why"), [
    ("p-1.0-cp311-cp311-linux_x86_64.whl", "names no cpu this tool builds"),
    ("p-1.0-py3-none-any.whl", "names no cpu this tool builds"),
    ("p-1.0-cp311-cp311-linux_aarch64.linux_s390x.whl", "names several cpus"),
])
def test_a_tag_naming_no_single_cpu_asks_for_cpu(name: str, why: str) -> None:
    with pytest.raises(ConfigError, match=why) as e:
        api.wheel_cpu(Path(name), dict(os.environ))
    assert e.value.hint == "pass --cpu"
