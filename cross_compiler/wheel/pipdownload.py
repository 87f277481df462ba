"""Wheels for the target from pip: ``pip download --no-deps`` with pip's own target selection
(``--platform`` for each of the target's tags, ``--python-version``, ``--implementation``,
``--abi``, binaries only), from the wheelhouses and, when allowed, the index.

pip runs on this machine with this tool's Python, once for a round of requirements and,
when that fails, once per requirement to learn which are missing. Dependencies are not
pip's business here (``--no-deps``): pip would evaluate their markers for this machine, so
resolve.py does that for the target. Without the index pip runs ``--isolated``, so a
``find-links`` in the user's pip configuration cannot add places the error would not name.
"""

from __future__ import annotations

import importlib.util
import logging
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from packaging.utils import canonicalize_name

from cross_compiler import proc
from cross_compiler.errors import ToolMissingError
from cross_compiler.wheel.requires import Need, TargetPython, pip_target_args
from cross_compiler.wheel.resolve import Sources
from cross_compiler.wheel.tags import WheelError, WheelName

log = logging.getLogger(__name__)

PIP_SECONDS = 600  # one pip run, network included; `timeout` kills it after that
PIP_NETWORK_SECONDS = 60  # pip's own per-connection timeout


def pip_argv(needs: Sequence[Need], sources: Sources, target: TargetPython,
             dest: Path) -> list[str]:
    """The pip command that downloads ``needs`` for the target into ``dest``."""
    argv = ["timeout", "--kill-after=10", str(PIP_SECONDS), sys.executable, "-m", "pip",
            "download", "--no-deps", "--dest", str(dest), "--disable-pip-version-check",
            "--no-input", "--progress-bar", "off", "--timeout", str(PIP_NETWORK_SECONDS),
            *pip_target_args(target)]
    for directory in sources.find_links:
        argv += ["--find-links", str(directory)]
    if not sources.use_index:
        argv += ["--no-index", "--isolated"]
    return [*argv, "--", *map(str, needs)]


def _last_line(text: str) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1].removeprefix("ERROR: ")[:300] if lines else "(no output)"


def _saved(dest: Path, needs: Sequence[Need]) -> dict[str, Path]:
    """The wheels in ``dest`` for ``needs``, by canonical name (a file pip saved under a
    name that is no wheel name is ignored)."""
    wanted = {n.name for n in needs}
    found: dict[str, Path] = {}
    for path in sorted(dest.glob("*.whl")):
        try:
            name = canonicalize_name(WheelName.parse(path.name).distribution)
        except WheelError:
            continue
        if name in wanted:
            found[name] = path
    return found


def download(needs: Sequence[Need], sources: Sources, target: TargetPython, dest: Path,
             env: Mapping[str, str]) -> tuple[dict[str, Path], dict[str, str]]:
    """(wheels found by canonical name, pip's last line for each need not found)."""
    if importlib.util.find_spec("pip") is None:
        raise ToolMissingError("pip is not installed beside cross-compiler",
                               "install pip into the tool's environment")
    dest.mkdir(parents=True, exist_ok=True)
    log.info("%s: looking for %s in %s", target.machine, ", ".join(map(str, needs)),
             sources.where())
    found, why = _download(needs, sources, target, dest, env)
    if len(needs) == 1 or not why:
        return found, why
    missing: dict[str, str] = {}
    for need in needs:  # which failed is not machine-readable: ask for each alone
        if need.name not in found:
            more, alone = _download([need], sources, target, dest, env)
            found |= more
            missing |= alone
    return found, missing


def _download(needs: Sequence[Need], sources: Sources, target: TargetPython, dest: Path,
              env: Mapping[str, str]) -> tuple[dict[str, Path], dict[str, str]]:
    result = proc.run(pip_argv(needs, sources, target, dest), env=env)
    if result.returncode == 124:
        raise ToolMissingError(f"pip download took longer than {PIP_SECONDS} s",
                               "check the index and the network, or use --no-index")
    found = _saved(dest, needs)
    if result.returncode == 0:
        return found, {}
    return found, {n.name: _last_line(result.stderr) for n in needs if n.name not in found}
