"""After a build: prove every header the target's compile actions read came from an allowed
root (headers.py judges; this reads Bazel's action graph and the .d files it names)."""

from __future__ import annotations

import glob
import logging
import os
import platform
import sys
import sysconfig
from pathlib import Path, PurePath

from cross_compiler import resources
from cross_compiler.bazel import headercontent, headers
from cross_compiler.toolchain.render import PACKAGE, python_include_dir
from cross_compiler.toolchain.targets import Target

log = logging.getLogger(__name__)


def aquery_expression(labels: tuple[str, ...]) -> str:
    return f'mnemonic("CppCompile", deps({" + ".join(labels)}))'


def host_python_includes() -> tuple[str, ...]:
    """Include dirs of the interpreters a repository rule on this machine could find."""
    # Only the interpreters' own python3.X dirs: a prefix's include/ is /usr/include for
    # Debian's python, where the cross compiler legitimately finds kernel headers.
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    found = {sysconfig.get_paths()["include"], sysconfig.get_paths()["platinclude"],
             os.path.join(sys.base_prefix, "include", version),
             os.path.join(sys.prefix, "include", version)}
    found.update(glob.glob("/usr/local/include/python3*"))
    return tuple(sorted(p for p in found if p))


def declared_dirs(flags: list[str], bazelrc_overrides: list[str],
                  workspace: Path | None = None) -> tuple[str, ...]:
    """Directories named on purpose as repository contents: every --override_repository and
    --override_module path in the build's flags (the user's, the tool's, Debian's packaged
    rules), in Debian's /etc/bazel/bazelrc and in the workspace's own .bazelrc."""
    found = list(bazelrc_overrides)
    words = list(flags)
    try:
        rc = (workspace / ".bazelrc").read_text(errors="replace")[:1 << 20] if workspace else ""
    except OSError:
        rc = ""
    for line in rc.splitlines():
        words += line.split("#", 1)[0].split()
    for flag in words:
        for prefix in ("--override_repository=", "--override_module="):
            if flag.startswith(prefix):
                _name, sep, directory = flag[len(prefix):].partition("=")
                if sep and directory.startswith("/"):
                    found.append(directory)
    return tuple(dict.fromkeys(found))


def read_dep_files(dep_paths: list[str], exec_root: Path) -> dict[str, str]:
    """The text of each exec-root-relative .d file that exists (bounded)."""
    texts: dict[str, str] = {}
    for rel in dep_paths:
        path = exec_root / rel
        try:
            if path.stat().st_size > headers.MAX_DEP_FILE_BYTES:
                raise headers.DepFileError(f"{path} is larger than "
                                           f"{headers.MAX_DEP_FILE_BYTES} bytes")
            texts[rel] = path.read_text(errors="surrogateescape")
        except FileNotFoundError:
            continue  # not run here: a remote cache hit without outputs downloaded
    return texts


def prove_dep_files(texts: dict[str, str], workspace: Path, exec_root: Path, target: Target,
                    include_dirs: tuple[str, ...], declared: tuple[str, ...] = ()) -> None:
    """Check the headers of these .d files (``read_dep_files``); raise on a violation."""
    roots = headers.AllowedRoots(
        include_dirs=include_dirs, sysroot=target.sysroot,
        python_include=f"{PACKAGE}/{python_include_dir(target.cpu)}",
        workspace=str(workspace), output_base=str(exec_root.parent.parent), declared=declared,
    )
    content = headercontent.ContentJudge(
        headercontent.TargetAbi.of(target),
        headercontent.load_abi_headers(resources.abi_headers_file()))
    forbidden = headers.ForbiddenRoots(target.triple, f"{platform.machine()}-linux-gnu",
                                       host_python_includes())
    headers.prove_header_provenance(texts, roots, PurePath(exec_root), forbidden,
                                    os.path.realpath, content)

