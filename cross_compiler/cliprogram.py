"""The ``cross-compiler`` program: invoke's Program with only the core options that mean
something here, and help for a subcommand whatever else is on the line."""

from __future__ import annotations

import inspect
from typing import Any

from invoke import Argument, Collection, Program  # type: ignore[attr-defined]
from invoke.parser import ParseResult

from cross_compiler import __version__
from cross_compiler.clitask import HELP_WORDS

# invoke's core options that apply to this tool; the others configure invoke's own
# command runner (pty, echo, sudo, hide, config files), which these tasks never use.
KEPT_CORE_OPTIONS = ("help", "version", "list", "list-format", "complete",
                     "print-completion-script")


class CrossCompilerProgram(Program):
    """invoke's Program with only the core options that mean something here, and
    ``SUBCOMMAND … -h/--help`` printing help whatever else is on the line."""

    def __init__(self, namespace: Collection, binary: str = "cross-compiler") -> None:
        super().__init__(namespace=namespace, name="cross-compiler", binary=binary,
                         version=__version__)

    def core_args(self) -> list[Argument]:
        return [a for a in super().core_args() if a.name in KEPT_CORE_OPTIONS]

    @property
    def args(self) -> Any:
        # invoke reads its other core options after parsing (write-pyc, pty, echo…):
        # they are still there for it, unset, just not on the command line.
        args = super().args
        for arg in super().core_args():
            if arg.name not in args:
                args[arg.name] = arg
        return args

    def parse_tasks(self) -> None:
        name = self._help_requested(list(self.core.unparsed))
        if name is None:
            super().parse_tasks()
            return
        # A subcommand's required positional would swallow --help: skip the task parse.
        self.parser = self._make_parser()
        self.tasks = ParseResult()
        self.args.help.value = name

    def print_task_help(self, name: str) -> None:
        # invoke's own says "[--core-opts] NAME [--options] [other tasks here ...]" and
        # leaves the positional arguments out.
        ctx = self.parser.contexts[name]
        positional = " ".join(a.name.upper() for a in ctx.positional_args)
        print(f"Usage: {self.binary} {name} [--options] {positional}".rstrip())
        print()
        for line in (inspect.getdoc(self.collection[name]) or "").splitlines():
            print(f"{self.leading_indent}{line}".rstrip())
        print()
        print("Options:")
        self.print_columns(ctx.help_tuples())

    def _help_requested(self, argv: list[str]) -> str | None:
        """The subcommand whose help `SUBCOMMAND ... -h` asks for (before any `--`)."""
        words = argv[: argv.index("--")] if "--" in argv else argv
        if len(words) < 2 or words[0] not in self.collection.task_names:
            return None
        return words[0] if any(w in HELP_WORDS for w in words[1:]) else None

