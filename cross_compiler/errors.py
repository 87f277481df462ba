"""One error hierarchy; each error has an exit code and a hint. Only the CLI edge prints them."""

from __future__ import annotations


class CrossCompilerError(Exception):
    """Base error: a one-line message naming what was wrong, and a hint saying what to do."""

    exit_code = 1

    def __init__(self, message: str, hint: str = "", exit_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        if exit_code is not None:
            self.exit_code = exit_code

    def __str__(self) -> str:
        return f"{self.message}; {self.hint}" if self.hint else self.message


class ConfigError(CrossCompilerError):
    """Bad user input: flags, config files, toolchain files."""

    exit_code = 2


class TargetError(ConfigError):
    """Unknown cpu or malformed toolchains/<cpu>.toml."""


class WorkspaceError(ConfigError):
    """The workspace path is not a Bazel workspace, or the package dir is not ours."""


class ToolMissingError(CrossCompilerError):
    """A required program (cross compiler, Bazel, qemu) is not installed."""

    exit_code = 3


class DriftError(CrossCompilerError):
    """`--check` found rendered files that differ from what would be written."""

    exit_code = 4


class BuildError(CrossCompilerError):
    """Bazel (or the packaging command) failed. A failed Bazel command passes its own exit
    code on (1 build failed, 2 bad command line, 8 interrupted, ...)."""

    exit_code = 5


class ArchMismatchError(CrossCompilerError):
    """An output binary is not for the target architecture."""

    exit_code = 6


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived. A KeyboardInterrupt, so everything that stops a build cleanly on
    Ctrl-C (Bazel interrupted, containers removed, temp dirs deleted) does so here too."""
