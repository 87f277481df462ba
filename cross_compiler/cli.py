"""Thin invoke tasks: flags -> one CommandLine value -> cross_compiler.api; the
``cross-compiler`` console script (cliprogram.py's Program over the same tasks).

How a task is made (signatures from option groups, errors -> exit codes) is clitask.py;
the rows printed after a build are clirows.py."""

from __future__ import annotations

import glob
import os
import shlex
import signal
import sys
from pathlib import Path
from typing import Any

from invoke import Collection, Exit  # type: ignore[attr-defined]

from cross_compiler import api, options
from cross_compiler.cliprogram import KEPT_CORE_OPTIONS as KEPT_CORE_OPTIONS
from cross_compiler.cliprogram import CrossCompilerProgram as CrossCompilerProgram
from cross_compiler.clirows import result_rows as result_rows
from cross_compiler.clirows import short_path as short_path
from cross_compiler.clitask import CPU_HELP, HELP_WORDS, command, cpu_flag, errors_to_exit
from cross_compiler.clitask import SHORT_FLAGS as SHORT_FLAGS
from cross_compiler.clitask import task as task
from cross_compiler.display import shown
from cross_compiler.errors import BuildError, DriftError
from cross_compiler.options import WORKSPACE, CommandLine, Flag
from cross_compiler.toolchain.targets import parse_cpu_list


def _asked_for_help(name: str, value: str) -> bool:
    """True (after printing the task's help) when a positional argument is really -h/--help:
    invoke hands a task's missing positional whatever comes next."""
    if value not in HELP_WORDS:
        return False
    CrossCompilerProgram(ns, _binary()).run([_binary(), "--help", name], exit=False)
    return True


def _binary() -> str:
    return Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "cross-compiler"


def _workspace(value: str) -> Path | None:
    return Path(value) if value else None


def _workspace_or_default(value: str) -> Path:
    """The workspace the command used (said in its log already)."""
    return _workspace(value) or api.choose_workspace(None, dict(os.environ), say=False)


_WS_HELP = WORKSPACE[0].help


@task(help={
    "cpu": CPU_HELP,
    "workspace": _WS_HELP,
    "check": "report drift from what would be rendered, write nothing (exit 4 on drift)",
    "dry_run": "list the files that would be written, write nothing",
})
@errors_to_exit
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
    cpu_flag("aarch64"), WORKSPACE, options.BUILD, options.DOCKER, options.SERVER,
    options.REMOTE,
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



@command(options.IMAGE, (Flag("workspace", help=(
    "read image settings from this workspace's cross_compiler.toml")),))
def image(c: Any, given: CommandLine) -> None:
    """Build (or reuse) the builder image: Bazel, cross compilers, target Python."""
    tag, how = api.builder_image(_workspace(given["workspace"]), dict(os.environ),
                                 given.settings)
    print(f"{tag}\t{how}")


@command(WORKSPACE, (Flag("all", kind=bool, default=False,
                         help="every workspace's warm servers"),))
def shutdown(c: Any, given: CommandLine) -> None:
    """Remove the warm servers (docker runner) of the workspace, like `bazel shutdown`."""
    for name in api.shutdown(_workspace(given["workspace"]), dict(os.environ),
                             every=given["all"]):
        print(f"removed warm server {shown(name)}")


@task(help={"yes": "really remove them (default: only list)"})
@errors_to_exit
def clean(c: Any, yes: bool = False) -> None:
    """List (or with --yes remove) the tool's containers, images and volumes.

    The containers include the docker runner's warm servers (`shutdown` removes only those)."""
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
@errors_to_exit
def fetch_python(c: Any, cpu: str = "all", suite: str = "") -> None:
    """Download the target's Python (headers and interpreter) into the tool's cache."""
    for name, root in api.fetch_python(parse_cpu_list(cpu), dict(os.environ), suite).items():
        print(f"{name}\t{shown(root)}")


@task(help={"cpu": CPU_HELP,
            "suite": "Debian suite whose packages make the sysroot (sysroots/<suite>.toml)"})
@errors_to_exit
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
@errors_to_exit
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
@errors_to_exit
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


ns = Collection(toolchain, build, release, image, clean, shutdown, retag, test_wheel, config,
                fetch_python, sysroot, test_targets, run_target)

def main() -> None:
    try:
        try:
            CrossCompilerProgram(ns, _binary()).run()
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
