"""New wheel tags: file name, ``WHEEL`` metadata, ``RECORD`` rows. Pure functions over text."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import Message
from email.parser import BytesParser

from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from cross_compiler.display import shown
from cross_compiler.errors import CrossCompilerError


class WheelError(CrossCompilerError):
    """A wheel that cannot be retagged as it is."""

    exit_code = 7


@dataclass(frozen=True)
class WheelName:
    distribution: str  # as spelled in the file name
    version: str
    build: str
    pythons: tuple[str, ...]
    abis: tuple[str, ...]
    platforms: tuple[str, ...]

    @classmethod
    def parse(cls, filename: str) -> WheelName:
        try:
            parse_wheel_filename(filename)
        except InvalidWheelFilename as e:
            raise WheelError(f"{shown(filename)}: not a valid wheel file name: {shown(e)}") from e
        parts = filename[: -len(".whl")].split("-")
        build = parts[2] if len(parts) == 6 else ""
        return cls(parts[0], parts[1], build, tuple(parts[-3].split(".")),
                   tuple(parts[-2].split(".")), tuple(parts[-1].split(".")))

    def filename(self) -> str:
        fields = [self.distribution, self.version]
        if self.build:
            fields.append(self.build)
        fields += [".".join(self.pythons), ".".join(self.abis), ".".join(self.platforms)]
        return "-".join(fields) + ".whl"

    def with_platforms(self, platforms: list[str]) -> WheelName:
        # Compressed tag sets are sorted, as `wheel tags` and the spec's examples do.
        return WheelName(self.distribution, self.version, self.build,
                         tuple(sorted(set(self.pythons))), tuple(sorted(set(self.abis))),
                         tuple(sorted(set(platforms))))


def parse_wheel_metadata(data: bytes, where: str) -> Message:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise WheelError(f"{shown(where)} is not UTF-8 text") from e
    # The parser's default policy is compat32: named by value it would import email.policy
    # (and its header registry), a cost every retag paid at start-up for nothing.
    message = BytesParser().parsebytes(data)
    if not message.get("Wheel-Version") or not message.get_all("Tag"):
        raise WheelError(f"{shown(where)} is malformed: it needs Wheel-Version and Tag lines",
                         "rebuild the wheel")
    if message.defects or not text.strip():
        raise WheelError(f"{shown(where)} is malformed")
    return message


def check_tags_agree(name: WheelName, wheel: Message, where: str) -> None:
    """The file name's tags must be exactly the expansion of WHEEL's Tag lines."""
    tags = wheel.get_all("Tag", [])
    expected = {f"{p}-{a}-{pl}" for p, a, pl in
                itertools.product(name.pythons, name.abis, name.platforms)}
    if set(tags) != expected or len(tags) != len(set(tags)):
        raise WheelError(
            f"{shown(where)} tags {sorted(tags)} do not match the file name's tags "
            f"{sorted(expected)}",
            "the wheel is inconsistent; rebuild it",
        )
    if (wheel.get("Build") or "") != name.build:
        raise WheelError(f"{shown(where)} Build {wheel.get('Build')!r} differs from the file "
                         f"name's build tag {name.build!r}")


def new_wheel_metadata(wheel: Message, name: WheelName, pure_to_platform: bool) -> bytes:
    """WHEEL with one Tag line per python x abi x platform (as `wheel tags` writes it)."""
    del wheel["Tag"], wheel["Build"]
    for p, a, pl in itertools.product(name.pythons, name.abis, name.platforms):
        wheel["Tag"] = f"{p}-{a}-{pl}"
    if name.build:
        wheel["Build"] = name.build
    if pure_to_platform and wheel.get("Root-Is-Purelib", "").lower() == "true":
        wheel.replace_header("Root-Is-Purelib", "false")
    return wheel.as_bytes()


def record_hash(data: bytes) -> str:
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def new_record(record: bytes, renames: Mapping[str, str], replaced: Mapping[str, bytes],
               dropped: set[str], where: str) -> bytes:
    """RECORD with renamed paths, fresh hash/size for replaced files, dropped rows removed."""
    try:
        rows = list(csv.reader(io.StringIO(record.decode("utf-8"))))
    except (UnicodeDecodeError, csv.Error) as e:
        raise WheelError(f"{shown(where)} is not a readable RECORD: {shown(e)}") from e
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for row in rows:
        if not row:
            continue
        if len(row) != 3:
            raise WheelError(f"{shown(where)}: row {row!r} does not have 3 fields")
        path = row[0]
        if path in dropped:
            continue
        if path in replaced:
            row = [renames.get(path, path), record_hash(replaced[path]), str(len(replaced[path]))]
        elif path in renames:
            row = [renames[path], row[1], row[2]]
        writer.writerow(row)
    return out.getvalue().encode("utf-8")


_EXT_SUFFIX = re.compile(
    r"^(?P<stem>.+\.cpython-\d+[a-z]*-)(?P<triple>[a-z0-9_]+-linux-gnu[a-z0-9]*)(?P<so>\.so)$"
)


def extension_rename(path: str, target_triple: str) -> str | None:
    """``x.cpython-311-x86_64-linux-gnu.so`` -> ``x.cpython-311-aarch64-linux-gnu.so``."""
    match = _EXT_SUFFIX.match(path)
    if not match or match["triple"] == target_triple:
        return None
    return f"{match['stem']}{target_triple}{match['so']}"
