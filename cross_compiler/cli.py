"""Thin invoke tasks: parse flags, call cross_compiler.api, map errors to Exit.

Also the ``cross-compiler`` console script (invoke's Program over the same tasks).
"""

from __future__ import annotations

import functools
import glob
import inspect
import logging
import os
import shlex
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, TypeVar

from invoke import Argument, Collection, Exit, Program, Task  # type: ignore[attr-defined]
from invoke import task as invoke_task  # type: ignore[attr-defined]
from invoke.parser import ParseResult

from cross_compiler import __version__, api, options
from cross_compiler.display import EscapedArgs, shown
from cross_compiler.errors import BuildError, CrossCompilerError, DriftError, Terminated
from cross_compiler.options import WORKSPACE, CommandLine, Flag, Group
from cross_compiler.toolchain.targets import parse_cpu_list

if TYPE_CHECKING:
    from cross_compiler.bazel.localbuild import BuildResult

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
        )(_errors_to_exit(body))

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


def _errors_to_exit(fn: F) -> F:
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


def _asked_for_help(name: str, value: str) -> bool:
    """True (after printing the task's help) when a positional argument is really -h/--help:
    invoke hands a task's missing positional whatever comes next."""
    if value not in HELP_WORDS:
        return False
    CrossCompilerProgram(_binary()).run([_binary(), "--help", name], exit=False)
    return True


def _binary() -> str:
    return Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "cross-compiler"


def _workspace(value: str) -> Path | None:
    return Path(value) if value else None


def _workspace_or_default(value: str) -> Path:
    """The workspace the command used (said in its log already)."""
    return _workspace(value) or api.choose_workspace(None, dict(os.environ), say=False)


CPU_HELP = "target cpu(s), comma-separated: aarch64, armv7hf, riscv64, ppc64le, s390x or all"
_WS_HELP = WORKSPACE[0].help


@task(help={
    "cpu": CPU_HELP,
    "workspace": _WS_HELP,
    "check": "report drift from what would be rendered, write nothing (exit 4 on drift)",
    "dry_run": "list the files that would be written, write nothing",
})
@_errors_to_exit
def toolchain(c: Any, cpu: str = "aarch64", workspace: str = "", check: bool = False,
              dry_run: bool = False) -> None:
    """Render the Bazel cross toolchain package //cross_compiler into a workspace."""
    env = dict(os.environ)
    ws = api.choose_workspace(_workspace(workspace), env)
    result = api.render(ws, parse_cpu_list(cpu), env, check=check, dry_run=dry_run)
    pkg = result.workspace / api.PACKAGE
    if check:
        if result.changes.drift:
            raise DriftError(
                f"{pkg} is out of date: {len(result.changes.written)} file(s) differ or are "
                f"missing, {len(result.changes.removed)} stale: "
                + ", ".join(result.changes.drift[:5]),
                "re-render with `invoke toolchain`",
            )
        print(f"{shown(pkg)} is up to date ({len(result.files)} files)")
        return
    verb = "would write" if dry_run else "wrote"
    for rel in result.changes.written:
        print(f"{verb} {shown(pkg / rel)}")
    for rel in result.changes.removed:
        print(f"{'would remove' if dry_run else 'removed'} {shown(pkg / rel)}")
    print(f"{shown(pkg)}: {len(result.changes.written)} written, {len(result.changes.removed)} "
          f"removed, {result.changes.unchanged} unchanged")


@command(
    cpu_flag("aarch64"), WORKSPACE, options.BUILD, options.DOCKER, options.REMOTE,
    (Flag("dry_run", kind=bool, default=False, help=(
        "print the rendered files (or the container request) and the exact Bazel argv, run "
        "nothing")),
     Flag("result_json", help="also write what was built to this JSON file")),
)
def build(c: Any, given: CommandLine) -> None:
    """Cross-compile a Bazel workspace for the target cpu(s) and check every binary.

    Then run the workspace's packaging command and retag the wheels it makes."""
    dry_run, result_json, workspace = given["dry_run"], given["result_json"], given["workspace"]
    result = api.build(_workspace(workspace), parse_cpu_list(given["cpu"]), dict(os.environ),
                       given.settings, dry_run=dry_run,
                       result_json=Path(result_json) if result_json else None)
    if dry_run:
        if result.container:
            print("# container request:")
            print("\n".join(map(shown, result.container)))
        if result.rendered:
            print(f"# rendered files of //{api.PACKAGE} ({len(result.rendered)}):")
            for rel in result.rendered:
                print(f"{shown(rel)}  [{'changed' if rel in result.changed else 'unchanged'}]")
        for plan in result.plans:
            print(f"# {plan.target.cpu} ({plan.mode.value} mode), in {shown(plan.workspace)}:")
            print(shown(shlex.join(plan.build.display())))
        return
    if os.environ.get("CROSS_COMPILER_IN_CONTAINER") and result_json:
        return  # a builder container's tool: the host reads --result-json and prints the rows
    for row in result_rows(result, _workspace_or_default(workspace), Path.cwd()):
        print(row)


def result_rows(result: BuildResult, workspace: Path, cwd: Path) -> list[str]:
    """``cpu<TAB>output`` per checked binary, ``cpu<TAB>wheel<TAB>tag<TAB>why`` per wheel."""
    rows = [f"{cpu}\t{shown(short_path(p, workspace, cwd))}"
            for cpu, files in result.outputs.items() for p in files]
    rows += [f"{cpu}\t{shown(_from(cwd, w.path))}\t{shown(w.platform)}\t{shown(w.reason)}"
             for cpu, wheels in result.wheels.items() for w in wheels]
    return rows


def short_path(path: Path, workspace: Path, cwd: Path) -> str:
    """An output named through the workspace's ``bazel-bin`` (or ``bazel-out``) symlink
    when that reaches the same file, relative to ``cwd`` when the workspace is inside it;
    else its full path (Bazel's output base is deep in a cache)."""
    parts = path.parts
    workspace = Path(os.path.abspath(workspace))
    if "bazel-out" not in parts:
        return str(path)
    i = len(parts) - 1 - parts[::-1].index("bazel-out")
    tail = parts[i + 1:]  # <config>/bin/<package path>
    candidates = [workspace / "bazel-out" / Path(*tail)] if tail else []
    if len(tail) > 2 and tail[1] == "bin":
        candidates.insert(0, workspace / "bazel-bin" / Path(*tail[2:]))
    for candidate in candidates:
        try:
            same = os.path.samefile(candidate, path)
        except OSError:
            continue
        if same:
            return _from(cwd, candidate)
    return str(path)


def _from(cwd: Path, path: Path) -> str:
    """``path`` relative to ``cwd`` when it is inside it, else as it is."""
    return str(path.relative_to(cwd)) if path.is_relative_to(cwd) else str(path)


@command(options.IMAGE, (Flag("workspace", help=(
    "read image settings from this workspace's cross_compiler.toml")),))
def image(c: Any, given: CommandLine) -> None:
    """Build (or reuse) the builder image: Bazel, cross compilers, target Python."""
    tag, how = api.builder_image(_workspace(given["workspace"]), dict(os.environ),
                                 given.settings)
    print(f"{tag}\t{how}")


@task(help={"yes": "really remove them (default: only list)"})
@_errors_to_exit
def clean(c: Any, yes: bool = False) -> None:
    """List (or with --yes remove) the tool's containers, images and volumes."""
    for kind, names in api.clean(remove=yes).items():
        for name in names:
            print(f"{'removed' if yes else 'would remove'} {kind[:-1]} {name}")
    if not yes:
        print("(dry run: pass --yes to remove)")


@command(
    cpu_flag("all", "target cpus, comma-separated, or all (default all)"), WORKSPACE,
    options.BUILD, options.DOCKER, options.REMOTE,
    (Flag("out_dir", help="where artifacts, SHA256SUMS and manifest.json go (default "
                          "<ws>/release)"),
     Flag("json", kind=bool, default=False,
          help="print the summary as JSON (for CI systems) instead of a table"),
     Flag("fail_fast", kind=bool, default=False, help="stop at the first failing target"),
     Flag("check_reproducible", "check_reproducible", bool, False, when_set="true"),
     Flag("compare_to", help="compare with a previous release directory (its SHA256SUMS "
                             "and files)")),
)
def release(c: Any, given: CommandLine) -> None:
    """Build, retag and smoke-test every target into a release directory.

    The directory holds the artifacts, SHA256SUMS and a provenance manifest; the exit
    code is non-zero if any target failed."""
    from cross_compiler.release import publish as rel

    out_dir, compare_to, json = given["out_dir"], given["compare_to"], given["json"]
    where, outcomes = api.release(_workspace(given["workspace"]), parse_cpu_list(given["cpu"]),
                                  dict(os.environ), given.settings,
                                  out_dir=Path(out_dir) if out_dir else None,
                                  fail_fast=given["fail_fast"],
                                  compare_to=Path(compare_to) if compare_to else None)
    print(rel.summary_json(outcomes) if json else rel.summary_table(outcomes))
    failed = [o.cpu for o in outcomes if o.status != "ok"]
    if failed:
        raise BuildError(f"release failed for {', '.join(failed)} (artifacts of the others are "
                         f"in {where})", "see the summary above")
    if not json:
        print(f"artifacts, SHA256SUMS and manifest.json in {shown(where)}")


@command(
    WORKSPACE, options.BUILD, options.DOCKER, options.REMOTE,
    (Flag("show", kind=bool, default=False,
          help="print every resolved setting and where it came from"),),
)
def config(c: Any, given: CommandLine) -> None:
    """Show the resolved settings and where each one came from.

    Later sources win: defaults < cross_compiler.toml < CROSS_COMPILER_* < CLI."""
    rows = api.show_config(_workspace(given["workspace"]), dict(os.environ), given.settings)
    width = max(len(k) for k, _, _ in rows)
    for key, value, source in rows:
        text = " ".join(value) if isinstance(value, list) else value
        print(f"{key.ljust(width)}  {shown(text):40}  ({shown(source)})")


@task(help={"cpu": CPU_HELP,
            "suite": "Debian suite to fetch from (default: this machine's)"})
@_errors_to_exit
def fetch_python(c: Any, cpu: str = "all", suite: str = "") -> None:
    """Download the target's Python (headers and interpreter) into the tool's cache."""
    for name, root in api.fetch_python(parse_cpu_list(cpu), dict(os.environ), suite).items():
        print(f"{name}\t{shown(root)}")


@task(help={"cpu": CPU_HELP,
            "suite": "Debian suite whose packages make the sysroot (sysroots/<suite>.toml)"})
@_errors_to_exit
def sysroot(c: Any, cpu: str = "aarch64", suite: str = "bullseye") -> None:
    """Assemble a sysroot from a Debian suite's packages into the tool's cache.

    Prints the sysroot's path and each package's version (as the release manifest does)."""
    for name, made in api.sysroot(parse_cpu_list(cpu), dict(os.environ), suite).items():
        versions = " ".join(f"{p}={v}" for p, v in sorted(made.packages.items()))
        print(f"{name}	{shown(made.path)}	{shown(versions)}")


@task(
    positional=["wheels"],
    help={
        "wheels": "wheel file(s): a path, comma-separated paths or a quoted glob",
        "cpu": "the target the wheel's binaries are for (default: the arch of --platform, "
               "else aarch64)",
        "platform": "auto (manylinux_2_X_<arch> from the binaries, else linux_<arch>) or a tag",
        "out_dir": "where to write the retagged wheel (default: beside the input)",
        "no_verify": "skip the check that every ELF member is for the target",
    },
)
@_errors_to_exit
def retag(c: Any, wheels: str, cpu: str = "", platform: str = "auto",
          out_dir: str = "", no_verify: bool = False) -> None:
    """Retag wheels for a target platform, after proving their binaries are for it."""
    if _asked_for_help("retag", wheels):
        return
    paths = [Path(p) for p in _expand(wheels)]
    for result in api.retag(paths, cpu, dict(os.environ), platform=platform,
                            out_dir=Path(out_dir) if out_dir else None, verify=not no_verify):
        print(f"{shown(result.path)}\t{shown(result.platform)}\t{shown(result.reason)}")


def _expand(spec: str) -> list[str]:
    out: list[str] = []
    for part in (p.strip() for p in spec.split(",") if p.strip()):
        matches = sorted(glob.glob(part)) if glob.has_magic(part) else [part]
        out.extend(matches or [part])
    return out


@task(
    positional=["wheel"],
    iterable=["find_links", "with_", "requirement"],
    help={
        "wheel": "the wheel file to test",
        "cpu": "the target cpu (default: the one the wheel's platform tag names)",
        "command": "Python code to run after the imports, e.g. \"import m; assert m.f()\"",
        "python": "the target CPython X.Y to run it with (default: the wheel's cpXY tag; "
                  "for py3/abi3 wheels, any version a suite has)",
        "suite": "Debian suite whose CPython and runtime run it (default: the one whose "
                 "Python matches the wheel's cpXY tag)",
        "find_links": "a wheelhouse: a directory of wheels for the wheel's requirements "
                      "(repeatable); the index is used too unless --no-index",
        "no_index": "take wheels only from the --find-links wheelhouses (offline); the "
                    "target suite's Debian packages stay the fallback",
        "with_": "a test-only requirement to install too, e.g. pytest or \"hypothesis>=6\" "
                 "(repeatable)",
        "requirement": "a requirements file of test-only requirements, one a line "
                       "(repeatable)",
    },
)
@_errors_to_exit
def test_wheel(c: Any, wheel: str, cpu: str = "", command: str = "", suite: str = "",
               python: str = "",
               find_links: list[str] | None = None, no_index: bool = False,
               with_: list[str] | None = None, requirement: list[str] | None = None) -> None:
    """Install a wheel and what it needs in the target's CPython under qemu; import it."""
    if _asked_for_help("test-wheel", wheel):
        return
    cpu = cpu or api.wheel_cpu(Path(wheel), dict(os.environ))
    modules = api.test_wheel(Path(wheel), cpu, dict(os.environ), command, suite,
                             find_links=tuple(map(Path, find_links or ())), no_index=no_index,
                             with_packages=tuple(with_ or ()),
                             requirement_files=tuple(map(Path, requirement or ())),
                             python=python)
    print(f"{shown(wheel)}: ok on {cpu} (imported {shown(', '.join(modules))})")


@command(
    (Flag("labels", positional=True,
          help="test targets, comma-separated, e.g. //... or //a:t,//b:u"),),
    cpu_flag("aarch64"), WORKSPACE, options.TARGET_RUN, name="test",
)
def test_targets(c: Any, given: CommandLine) -> None:
    """Run the workspace's tests for the target cpu(s) under qemu-user, through Bazel."""
    labels = given["labels"]
    if _asked_for_help("test", labels):
        return
    chosen = tuple(x.strip() for x in labels.replace(" ", ",").split(",") if x.strip())
    api.test(_workspace(given["workspace"]), parse_cpu_list(given["cpu"]), dict(os.environ),
             given.settings, chosen)


@command(
    (Flag("label", positional=True,
          help="the cc_binary to build and run; its arguments go after --"),),
    cpu_flag("aarch64"), WORKSPACE, options.TARGET_RUN, name="run",
)
def run_target(c: Any, given: CommandLine) -> None:
    """Build one binary for the target cpu and run it under qemu-user (args after --)."""
    label = given["label"]
    if _asked_for_help("run", label):
        return
    args = shlex.split(getattr(c, "remainder", "") or "")
    code = api.run(_workspace(given["workspace"]), given["cpu"], dict(os.environ),
                   given.settings, label, args)
    if code != 0:
        raise Exit(code=code)


ns = Collection(toolchain, build, release, image, clean, retag, test_wheel, config,
                fetch_python, sysroot, test_targets, run_target)


# invoke's core options that apply to this tool; the others configure invoke's own
# command runner (pty, echo, sudo, hide, config files), which these tasks never use.
KEPT_CORE_OPTIONS = ("help", "version", "list", "list-format", "complete",
                     "print-completion-script")


class CrossCompilerProgram(Program):
    """invoke's Program with only the core options that mean something here, and
    ``SUBCOMMAND … -h/--help`` printing help whatever else is on the line."""

    def __init__(self, binary: str = "cross-compiler") -> None:
        super().__init__(namespace=ns, name="cross-compiler", binary=binary,
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


def main() -> None:
    try:
        try:
            CrossCompilerProgram(_binary()).run()
        finally:
            sys.stdout.flush()  # here, where a closed pipe can still be caught
    except BrokenPipeError:
        # The reader went away (`cross-compiler --help | head -1`): no traceback. Point
        # stdout at /dev/null so the interpreter's final flush does not fail again, and
        # exit like a process killed by SIGPIPE would (128 + 13).
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(128 + signal.SIGPIPE)


if __name__ == "__main__":
    main()
