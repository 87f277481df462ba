"""Secrets kept out of what is printed, logged or written: remote headers, URL passwords. Pure."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

MASK = "***"
# Bazel flags whose whole value is a secret.
SECRET_FLAGS = ("--remote_header=", "--remote_cache_header=", "--remote_exec_header=",
                "--remote_downloader_header=", "--bes_header=")
# scheme://user:password@host -> scheme://***@host (anywhere in an argument or a line).
_URL_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)[^/?#@\s]*@")
# An HTTP header name (RFC 9110 token), then "=", then a value on one line.
_HEADER = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+=[^\x00-\x1f\x7f]*")


@dataclass(frozen=True)
class Secret:
    """A value that never shows in a repr, str or log line."""

    value: str = field(repr=False)

    def __str__(self) -> str:
        return MASK

    def __bool__(self) -> bool:
        return bool(self.value)


def mask_url(text: str) -> str:
    """Credentials inside URLs (``https://user:pass@host``) replaced by ``***``."""
    return _URL_USERINFO.sub(lambda m: f"{m['scheme']}{MASK}@", text)


def has_url_credentials(text: str) -> bool:
    return _URL_USERINFO.search(text) is not None


def is_secret_arg(arg: str) -> bool:
    """A Bazel argument that must stay off command lines: a header, or a URL password."""
    return arg.startswith(SECRET_FLAGS) or has_url_credentials(arg)


def mask_arg(arg: str) -> str:
    for prefix in SECRET_FLAGS:
        if arg.startswith(prefix):
            return prefix + MASK
    return mask_url(arg)


def mask_argv(argv: Iterable[str]) -> list[str]:
    return [mask_arg(a) for a in argv]


def is_header(value: str) -> bool:
    """``Name=value`` on one line, as Bazel's --remote_header takes it."""
    return _HEADER.fullmatch(value) is not None
