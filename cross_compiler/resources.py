"""The one place that finds shipped data (toolchains, templates, example, Bazel overrides).

In a source checkout (and an editable install) the data sits at the top of the checkout;
in a wheel it is force-included under ``cross_compiler/_data``.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent
# Every shipped data folder: force-included into the wheel by pyproject.toml and copied
# into the builder image (a unit test keeps the two in step).
DATA_DIRS = ("toolchains", "templates", "examples", "bazel_overrides", "suites", "families",
             "sysroots", "baselines", "abi", "shims")


def data_dir(name: str) -> Path:
    """Absolute path of the shipped data folder ``name`` (e.g. "toolchains")."""
    for candidate in (_PACKAGE_DIR / "_data" / name, _PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"cross_compiler data folder {name!r} is missing from the installation")


def toolchains_dir() -> Path:
    return data_dir("toolchains")


def templates_dir() -> Path:
    return data_dir("templates")


def example_workspace() -> Path:
    return data_dir("examples") / "pyext"


def bazel_overrides_dir() -> Path:
    return data_dir("bazel_overrides")


def abi_headers_file() -> Path:
    """The table of configuration headers whose macros the header proof checks."""
    return data_dir("abi") / "headers.toml"
