"""Fetch a target's Python root, or assemble a sysroot from a Debian suite, into the cache."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cross_compiler import config, resources
from cross_compiler.builderchoice import machine_suite, suite_catalogue, suite_targets
from cross_compiler.errors import ConfigError
from cross_compiler.toolchain import suites
from cross_compiler.toolchain.targets import load_targets


def fetch_python(cpus: list[str], env: Mapping[str, str], suite: str = "auto") -> dict[str, Path]:
    """Download each target's Python root (headers + interpreter) into the cache."""
    from cross_compiler.toolchain import debroot

    cache = config.cache_dir(env)
    chosen = (machine_suite(env) if suite in ("", "auto")
              else suites.choose_suite(suite, None, False, suite_catalogue(env))[0])
    return {t.cpu: debroot.fetch(t, chosen, cache) for t in suite_targets(cpus, env, chosen)
            if t.debian_python}


def sysroot(cpus: list[str], env: Mapping[str, str], suite: str) -> dict[str, Any]:
    """Assemble ``suite``'s sysroot (sysroots/<suite>.toml) for each cpu into the cache."""
    from cross_compiler.toolchain import sysroot as sr

    specs = sr.load_specs(resources.data_dir("sysroots"))
    if suite not in specs:
        raise ConfigError(f"no sysroot description for suite {suite!r}",
                          f"use one of: {', '.join(sorted(specs))}")
    targets = load_targets(cpus, config.toolchains_dir(env))
    for t in targets:  # every cpu checked before anything is fetched
        sr.check_arch(specs[suite], t)
    return {t.cpu: sr.assemble(specs[suite], t, config.cache_dir(env)) for t in targets}
