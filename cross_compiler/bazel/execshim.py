"""The launcher ``test`` runs every test executable through (``--run_under``), and the exec
shim it preloads: built for the host once per source, compiler and libc, into the cache.

``shims/run-under.sh QEMU ROOT MACHINE:CLASS:DATA TEST [ARGS]`` runs the test through a
shell with ``shims/execshim.c`` preloaded; the shim's exec family runs a target ELF under
``QEMU -L ROOT`` and anything else (a script, a host program) natively, so a cc_test runs
under qemu and an sh_test runs on the host with the target binaries it calls under qemu.
"""

from __future__ import annotations

import hashlib
import logging
import os
import platform
import re
import shutil
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

from cross_compiler import config, proc, resources
from cross_compiler.errors import BuildError, ConfigError, ToolMissingError

log = logging.getLogger(__name__)

SOURCE = "execshim.c"
LIBRARY = "execshim.so"
LAUNCHER = "run-under.sh"
# A path Bazel's --run_under (split on spaces) and LD_PRELOAD (split on spaces and colons)
# both read as one word.
_PLAIN_PATH = re.compile(r"/[A-Za-z0-9_.+/@%=,-]*")


def host_compiler(env: Mapping[str, str]) -> str:
    """The host's C compiler: $CC when it names one, else cc, else gcc."""
    for name in (env.get("CC", ""), "cc", "gcc"):
        found = shutil.which(name) if name else None
        if found:
            return found
    raise ToolMissingError("no host C compiler (cc or gcc) to build the exec shim with",
                           "apt-get install gcc libc6-dev (or set CC)")


def shim_key(source: bytes, launcher: bytes, compiler: str) -> str:
    """What the built shim depends on: its source, the launcher, the compiler and libc."""
    digest = hashlib.sha256()
    for part in (source, launcher, compiler.encode(), platform.libc_ver()[1].encode()):
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()[:20]


def compiler_identity(cc: str) -> str:
    """The compiler's path, target and version: a different one builds a new shim."""
    result = proc.run([cc, "-dumpmachine"], timeout=60)
    version = proc.run([cc, "-dumpfullversion", "-dumpversion"], timeout=60)
    return f"{cc} {result.stdout.strip()} {version.stdout.strip()}"


def check_plain(path: Path, what: str) -> str:
    """``path`` as one word for --run_under and LD_PRELOAD, or a ConfigError naming it."""
    text = str(path)
    if not _PLAIN_PATH.fullmatch(text):
        raise ConfigError(f"{what} {text!r} has a character --run_under or LD_PRELOAD "
                          "cannot carry (a space, a colon, a quote)",
                          "set CROSS_COMPILER_CACHE to a plain absolute path")
    return text


def ensure_launcher(cache: Path, env: Mapping[str, str],
                    shims: Path | None = None) -> Path:
    """The launcher script, its shim beside it, built into ``cache/execshim/<key>/`` when
    that directory is not there yet (atomically: a whole directory renamed into place)."""
    shims = shims or resources.data_dir("shims")
    source, launcher = (shims / SOURCE).read_bytes(), (shims / LAUNCHER).read_bytes()
    cc = host_compiler(env)
    final = cache.absolute() / "execshim" / shim_key(source, launcher, compiler_identity(cc))
    check_plain(final, "the exec shim's directory")
    if (final / LAUNCHER).is_file() and (final / LIBRARY).is_file():
        return final / LAUNCHER
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=".build-", dir=final.parent))
    except OSError as e:  # e.g. a builder image's read-only cache, with another $CC
        raise ConfigError(f"cannot build the exec shim in {final.parent}: {e.strerror}",
                          "set CROSS_COMPILER_CACHE to a writable directory") from e
    try:
        (work / SOURCE).write_bytes(source)
        argv = [cc, "-shared", "-fPIC", "-O2", "-o", str(work / LIBRARY), str(work / SOURCE),
                "-ldl"]
        log.info("==> building the exec shim: %s", " ".join(argv))
        built = proc.run(argv, timeout=300)
        if built.returncode != 0:
            raise BuildError(f"{cc} could not build the exec shim (exit {built.returncode}): "
                             f"{built.stderr.strip()[-800:]}",
                             "install the host's C library headers (libc6-dev)")
        (work / LAUNCHER).write_bytes(launcher)
        os.chmod(work / LAUNCHER, 0o755)
        os.chmod(work, 0o755)
        try:
            os.rename(work, final)
        except OSError:
            if not (final / LAUNCHER).is_file():  # not another run's complete copy
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return final / LAUNCHER


def main() -> int:
    """Build the shim into the cache (the builder image does this at image build time)."""
    print(ensure_launcher(config.cache_dir(os.environ), os.environ))
    return 0


if __name__ == "__main__":
    sys.exit(main())
