"""Tiny wheels with requirements (METADATA Requires-Dist), for test-wheel's dependency tests."""

from __future__ import annotations

import zipfile
from pathlib import Path

from cross_compiler.wheel.tags import record_hash
from tests.wheels import FIXED_TIME, wheel_text


def dep_wheel(directory: Path, filename: str, files: dict[str, bytes], *,
              requires: tuple[str, ...] = (), metadata_name: str = "") -> Path:
    """A wheel named ``filename`` (its tag from the name) holding ``files``, whose METADATA
    lists ``requires`` as Requires-Dist lines; RECORD is right for its content."""
    dist, version, python, abi, platform = filename[: -len(".whl")].split("-")
    dist_info = f"{dist}-{version}.dist-info"
    metadata = "".join([f"Metadata-Version: 2.1\nName: {metadata_name or dist}\n",
                        f"Version: {version}\n", *(f"Requires-Dist: {r}\n" for r in requires),
                        "\n"])
    members = {**files, f"{dist_info}/METADATA": metadata.encode(),
               f"{dist_info}/WHEEL": wheel_text([f"{python}-{abi}-{platform}"],
                                                purelib=platform == "any").encode()}
    record = "".join(f"{n},{record_hash(d)},{len(d)}\n" for n, d in members.items())
    members[f"{dist_info}/RECORD"] = (record + f"{dist_info}/RECORD,,\n").encode()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / filename
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o755 << 16 if name.endswith(".so") else 0o644 << 16
            zf.writestr(info, data)
    return path
