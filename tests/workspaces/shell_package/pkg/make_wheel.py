"""Usage: python3 pkg/make_wheel.py STAGING OUT -- zip STAGING/greet into a wheel in OUT.

Standard library only: a wheel of a ctypes package (py3-none: no CPython extension),
tagged for the build machine as a host-side packager does; cross_compiler retags it.
"""

import base64
import hashlib
import sys
import zipfile
from pathlib import Path

NAME, VERSION = "greet", "1.0"
TAG = "py3-none-linux_x86_64"


def _record_row(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def main(staging: Path, out: Path) -> None:
    files = {f"{NAME}/{p.name}": p.read_bytes() for p in sorted((staging / NAME).iterdir())}
    files[f"{NAME}/__init__.py"] = (
        b"import ctypes, os\n"
        b"_lib = ctypes.CDLL(os.path.join(os.path.dirname(__file__), 'libgreet.so'))\n"
        b"_lib.greet.restype = ctypes.c_char_p\n"
        b"def greet():\n    return _lib.greet().decode()\n")
    info = f"{NAME}-{VERSION}.dist-info"
    files[f"{info}/METADATA"] = (f"Metadata-Version: 2.1\nName: {NAME}\n"
                                 f"Version: {VERSION}\n").encode()
    files[f"{info}/WHEEL"] = (f"Wheel-Version: 1.0\nGenerator: make_wheel\n"
                              f"Root-Is-Purelib: false\nTag: {TAG}\n").encode()
    record = [_record_row(n, d) for n, d in files.items()] + [f"{info}/RECORD,,"]
    files[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    wheel = out / f"{NAME}-{VERSION}-{TAG}.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    print(f"wrote {wheel.name} ({len(files)} files)")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
