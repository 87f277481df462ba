"""How a command of the tool is made: long-only flags (but for SHORT_FLAGS), a signature
made from option groups, and the one place an error becomes an exit code."""

from __future__ import annotations

import functools
import inspect
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

from invoke import Exit, Task  # type: ignore[attr-defined]
from invoke import task as invoke_task  # type: ignore[attr-defined]

from cross_compiler import options
from cross_compiler.display import EscapedArgs, shown
from cross_compiler.errors import CrossCompilerError, Terminated
from cross_compiler.options import CommandLine, Flag, Group

CPU_HELP = "target cpu(s), comma-separated: aarch64, armv7hf, riscv64, ppc64le, s390x or all"

F = TypeVar("F", bound=Callable[..., Any])

# The only short flags: the ones people type. invoke's automatic ones are assigned by
# spelling (`-h` would be --cache-dir, `--=STRING` appears when letters run out) and
# change whenever a flag is added.
SHORT_FLAGS = {"cpu": "c", "workspace": "w", "target": "t"}
HELP_WORDS = ("-h", "--help")


class CliTask(Task[Callable[..., Any]]):
    """A task whose flags are long-only, but for the few in SHORT_FLAGS."""

    def __init__(self, body: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(body, **{**kwargs, "auto_shortflags": False})

    def arg_opts(self, name: str, default: str, taken_names: set[str]) -> dict[str, Any]:
        opts: dict[str, Any] = super().arg_opts(name, default, taken_names)
        if name in SHORT_FLAGS and not opts["positional"]:
            opts["names"] = [*opts["names"], SHORT_FLAGS[name]]
        return opts


def task(**kwargs: Any) -> Callable[[Callable[..., Any]], CliTask]:
    """invoke's ``@task(...)``, making a CliTask."""
    made: Callable[[Callable[..., Any]], CliTask] = invoke_task(klass=CliTask, **kwargs)
    return made


def command(*groups: Group, **task_kwargs: Any,
            ) -> Callable[[Callable[[Any, CommandLine], None]], CliTask]:
    """A task taking the flags of ``groups`` (a command's own arguments are a group too):
    its signature, help and repeatable flags are made from the Flag entries, so invoke
    sees real parameters; the body gets one CommandLine value."""
    flags = options.flags_of(*groups)
    ordered = ([f for f in flags if f.positional] + [f for f in flags if not f.positional])
    signature = inspect.Signature([
        inspect.Parameter("c", inspect.Parameter.POSITIONAL_OR_KEYWORD),
        *(inspect.Parameter(f.name, inspect.Parameter.POSITIONAL_OR_KEYWORD,
                            **({} if f.positional else {"default": f.default}))
          for f in ordered)])

    def decorate(impl: Callable[[Any, CommandLine], None]) -> CliTask:
        def body(*args: Any, **kwargs: Any) -> None:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            c, *_ = bound.arguments.values()
            values = {k: v for k, v in bound.arguments.items() if k != "c"}
            impl(c, options.command_line(flags, values))

        for attr in ("__module__", "__name__", "__qualname__", "__doc__"):
            setattr(body, attr, getattr(impl, attr))
        body.__signature__ = signature  # type: ignore[attr-defined]
        return task(
            positional=[f.name for f in flags if f.positional],
            iterable=[f.name for f in flags if f.kind is list],
            help={f.name: f.text for f in flags}, **task_kwargs,
        )(errors_to_exit(body))

    return decorate


def cpu_flag(default: str, text: str = "") -> Group:
    """A command's --cpu: its own default (and help, when it is not the usual one)."""
    return (Flag("cpu", default=default, help=text or CPU_HELP),)


def _setup_logging() -> None:
    level = os.environ.get("CROSS_COMPILER_LOG_LEVEL", "INFO").upper()
    logging.basicConfig(
        level=getattr(logging, level, logging.INFO), stream=sys.stderr,
        format="cross_compiler: %(message)s", force=True,
    )
    for handler in logging.getLogger().handlers:  # a name from input never forges a line
        handler.addFilter(EscapedArgs())


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    # SIGTERM unwinds like Ctrl-C: Bazel is interrupted, containers and temp dirs removed.
    raise Terminated()


def errors_to_exit(fn: F) -> F:
    """The one place a CrossCompilerError becomes a one-line message and an exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        _setup_logging()
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, _raise_terminated)
        try:
            return fn(*args, **kwargs)
        except CrossCompilerError as e:
            # One line whatever the message interpolated: the last line of defence.
            _tell_the_host(shown(e))
            raise Exit(f"cross_compiler: error: {shown(e)}", code=e.exit_code) from e
        except Terminated:
            raise Exit("cross_compiler: terminated", code=143) from None
        except KeyboardInterrupt:
            raise Exit("cross_compiler: interrupted", code=130) from None

    return wrapper  # type: ignore[return-value]


def _tell_the_host(line: str) -> None:
    """Inside the builder container: leave the error line where the host reads it (the
    host's last line is then this one, not only "the build in container failed")."""
    path = os.environ.get("CROSS_COMPILER_ERROR_FILE", "")
    if not path or not os.environ.get("CROSS_COMPILER_IN_CONTAINER"):
        return
    try:
        Path(path).write_text(line + "\n")
    except OSError:
        pass  # the host still says the container failed, and its exit code


