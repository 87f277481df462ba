"""A build on this machine: Bazel probed and run locally, outputs checked, wheels retagged."""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import os
import shutil
import tempfile
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cross_compiler import config, distnames, proc, redact, resources
from cross_compiler.bazel import flags as bazel
from cross_compiler.bazel import headercheck, offline, pins, postcheck, secretrc
from cross_compiler.bazel import log as bazellog
from cross_compiler.bazel.flags import BazelCommand, BazelMode, BazelVersion
from cross_compiler.display import shown
from cross_compiler.errors import BuildError, ConfigError, ToolMissingError
from cross_compiler.toolchain.targets import Target
from cross_compiler.wheel import packaging
from cross_compiler.wheel.retag import RetagResult

log = logging.getLogger(__name__)

DEBIAN_RULES_JAVA = Path("/usr/share/bazel/rules/java")
DEBIAN_BAZELRC = Path("/etc/bazel/bazelrc")


@dataclass(frozen=True)
class BazelSetup:
    program: str
    version: BazelVersion
    overrides: Mapping[str, Path]
    # Debian's offline Bazel >= 7: stub modules and workspace-mode flags (offline.py).
    offline7: offline.OfflineBazel7 | None = None
    # Debian's Bazel (any version): its /etc/bazel/bazelrc turns on --sandbox_debug, which
    # prints thousands of linux-sandbox lines per build.
    distro_flags: tuple[str, ...] = ()
    # Debian's /usr/bin/bazel is the apt launcher: it runs the version .bazelversion names
    # or refuses. The local runner builds with the installed one ("latest" = bazel-real)
    # and says so; bazelisk (never Debian's) would download instead, so it gets nothing.
    launcher_env: tuple[tuple[str, str], ...] = ()
    # Directories a compiler family's tools write outside the sandbox (zig's cache).
    writable_dirs: tuple[str, ...] = ()
    # Flags a compiler family needs (zig: --dynamic_mode=off, families/zig.toml).
    family_flags: tuple[str, ...] = ()
    # Startup options every command of the build takes (the real version for Starlark).
    startup: tuple[str, ...] = ()


def _debian_package_of(program: str) -> str:
    """The Debian package that installed ``program`` ("" when none did)."""
    found = shutil.which(program)
    if not found:
        return ""
    result = proc.run(["dpkg-query", "-S", os.path.realpath(found)])
    return result.stdout.split(":", 1)[0] if result.returncode == 0 else ""


def build_data_dir(version: BazelVersion, env: Mapping[str, str]) -> Path:
    """Where the tool keeps the ``build-data.properties`` that tells Bazel its version: a
    stable path (a new one would restart the server), writable as the user (in the builder
    image, under the persisted HOME)."""
    base = env.get("XDG_CACHE_HOME") or os.path.join(env.get("HOME", "/tmp"), ".cache")
    return Path(base) / "cross_compiler" / "bazel-build-data" / str(version)


def build_data_properties(version: BazelVersion) -> str:
    """What Bazel's server reads as its build info: ``build.label`` is what Starlark's
    ``native.bazel_version`` (and ``bazel info release``) report."""
    return f"build.label={version}\n"


def version_startup_options(version: BazelVersion, env: Mapping[str, str]) -> tuple[str, ...]:
    """Debian builds Bazel >= 7 with no embed label: its server jar has no
    ``/build-data.properties``, so ``native.bazel_version`` is "" and ``bazel_features``
    takes it for a development version newer than any release. The server loads that
    resource through its class loader, which asks the boot class path first: a directory
    appended there with the file makes Starlark see the real version. Writes the file."""
    directory = build_data_dir(version, env)
    path = directory / "build-data.properties"
    text = build_data_properties(version)
    try:
        if not path.is_file() or path.read_text() != text:
            directory.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".tmp{os.getpid()}")
            tmp.write_text(text)
            tmp.replace(path)
    except OSError as e:
        log.warning("cannot write %s (%s): Starlark will see Bazel's version as \"\"",
                    shown(path), e)
        return ()
    if " " in str(directory):
        # host_jvm_args is split on spaces by Bazel's client.
        log.warning("%s holds a space: Starlark will see Bazel's version as \"\"",
                    shown(directory))
        return ()
    return (f"--host_jvm_args=-Xbootclasspath/a:{directory}",)


def probe_bazel(program: str, env: Mapping[str, str] | None = None) -> BazelSetup:
    """Bazel's version and, for Debian's offline bazel-bootstrap, the repository overrides."""
    hint = "install Bazel (Debian: apt-get install bazel-bootstrap bazel-rules-java)"
    result = proc.run([program, "--version"], missing_hint=hint)
    if result.returncode != 0:
        raise ToolMissingError(f"`{program} --version` failed: {result.stderr.strip()}", hint)
    version = bazel.parse_version(result.stdout)
    overrides: dict[str, Path] = {}
    if version is None and "no_version" in result.stdout:
        # Debian's bazel-bootstrap is a no_version build; its package knows the version.
        pkg = proc.run(["dpkg-query", "-W", "-f=${Version}", "bazel-bootstrap"])
        version = bazel.parse_version(pkg.stdout) if pkg.returncode == 0 else None
        if version is not None:
            if not DEBIAN_RULES_JAVA.is_dir():
                raise ToolMissingError(
                    f"offline Bazel {version} needs rules_java at {DEBIAN_RULES_JAVA}",
                    "apt-get install bazel-rules-java",
                )
            own = resources.bazel_overrides_dir()
            overrides = {
                "rules_java": DEBIAN_RULES_JAVA,
                "rules_cc": own / "rules_cc",
                "remote_coverage_tools": own / "remote_coverage_tools",
            }
    if version is None:
        raise ToolMissingError(
            f"cannot tell the Bazel version from {result.stdout.strip()!r}", hint
        )
    offline7 = None
    startup: tuple[str, ...] = ()
    if version.major >= 7 and _debian_package_of(program) == "bazel-bootstrap":
        startup = version_startup_options(version, os.environ if env is None else env)
        rc = DEBIAN_BAZELRC.read_text() if DEBIAN_BAZELRC.is_file() else ""
        offline7 = offline.OfflineBazel7(resources.bazel_overrides_dir() / "modules",
                                         offline.debian_module_overrides(rc))
        log.info("Debian's offline Bazel %s: packaged rules from %s, stub modules for %s",
                 version, DEBIAN_BAZELRC, ", ".join(offline.STUB_MODULES))
    debian = bool(overrides) or _debian_package_of(program) == "bazel-bootstrap"
    return BazelSetup(program, version, overrides, offline7,
                      ("--nosandbox_debug",) if debian else (),
                      (("USE_BAZEL_VERSION", "latest"),) if debian else (), startup=startup)


@dataclass(frozen=True)
class BuildPlan:
    """Everything a build will do, computed before anything runs (what --dry-run prints)."""

    workspace: Path
    target: Target
    mode: BazelMode
    build: BazelCommand
    cquery: BazelCommand
    info: BazelCommand
    bazel_version: BazelVersion
    aquery: BazelCommand | None = None  # the target's compile actions, for the header proof
    include_dirs: tuple[str, ...] = ()  # the cross compiler's own, discovered
    # Directories outside the workspace whose headers are repository contents on purpose
    # (override paths, header_roots): the header proof's declared roots.
    header_roots: tuple[str, ...] = ()


def remote_header(settings: config.Settings, env: Mapping[str, str]) -> str:
    name = settings["remote_header_env"]
    if not name:
        return ""
    if name not in env:
        raise ConfigError(f"remote_header_env names {name}, which is not set",
                          f"export {name}='Header-Name=value'")
    if not redact.is_header(env[name]):
        # Never echoed: a value without "Name=" may well be the bare token.
        raise ConfigError(f"the value of {name} (remote_header_env) is not one "
                          "'Header-Name=value' line", f"export {name}='Authorization=Bearer …'")
    return env[name]


def check_settings_apply(settings: config.Settings, bazel_version: str, where: str) -> None:
    """Settings the Bazel that will run (``bazel_version``, ``where``'s) cannot apply are
    refused in one line before it starts, never silently dropped."""
    if settings["module_overrides"] and int(bazel_version.split(".")[0]) < 7:
        names = ", ".join(shown(e.partition("=")[0]) for e in settings["module_overrides"])
        raise ConfigError(
            f"module_overrides ({names}) need bzlmod (Bazel 7), and {where} has Bazel "
            f"{bazel_version}",
            "use repository_overrides for a WORKSPACE repository, or Bazel 7 (the docker "
            "runner with --suite=sid, or a .bazelversion of 7.x)")


def plan_build(
    workspace: Path, target: Target, settings: config.Settings, setup: BazelSetup,
    env: Mapping[str, str] | None = None, python_bin: Path | None = None,
    include_dirs: tuple[str, ...] = (),
) -> BuildPlan:
    """``python_bin``: the rendered wrapper that reports the target's Python headers, given
    to repository rules as PYTHON_BIN_PATH (TensorFlow's python_configure asks it)."""
    mode = bazel.choose_mode(setup.version, settings["bazel_mode"])
    remote = bazel.remote_flags(
        settings["remote_cache"], settings["remote_upload"] == "true",
        settings["remote_executor"], settings["remote_instance_name"],
        remote_header(settings, env or {}), settings["remote_exec_properties"],
    )
    python: tuple[str, ...] = ()
    if python_bin:
        # PYTHON_BIN_PATH for TensorFlow-style python_configure; the wrappers first on PATH
        # for rules that run `python3`, `which("python3")` or `python3-config` (PATH of the
        # place Bazel runs: inside the builder, the container's).
        path = (env or {}).get("PATH") or os.defpath
        python = (f"--repo_env=PYTHON_BIN_PATH={python_bin}",
                  f"--repo_env=PATH={python_bin.parent}:{path}")
    kind = offline.workspace_kind(workspace)
    if kind is offline.WorkspaceKind.BZLMOD:
        if setup.version.major < 6:
            raise ConfigError(
                f"{shown(workspace)} has MODULE.bazel and no WORKSPACE: Bazel {setup.version} "
                "cannot build it", "use Bazel 7 (--suite=sid, or a .bazelversion of 7.x)")
        offline.check_module_deps((workspace / "MODULE.bazel").read_text(errors="replace"),
                                  offline.needed_modules(setup.version.major))
    local = []
    wheelhouses = []
    distdirs = [Path(f.partition("=")[2]) for f in settings["bazel_flags"]
                if f.startswith("--distdir=")]
    for key, name, directory in config.local_paths(settings):
        flag = {"repository_overrides": "--override_repository",
                "module_overrides": "--override_module"}.get(key)
        if key == "wheelhouses":
            wheelhouses.append(str(directory))
        elif flag:
            local.append(f"{flag}={name}={directory}")
        else:
            local.append(f"--distdir={directory}")
            distdirs.append(Path(directory))
    # Pins win: a repository the WORKSPACE declares itself is never replaced by a packaged
    # stand-in; each stand-in used, and each pin kept, is one line.
    # A declared repository offline Bazel cannot fetch (an archive in no distdir nor the
    # repository cache, a git repository) gets the stand-in, said with what to add.
    bzlmod = kind is offline.WorkspaceKind.HYBRID and setup.version.major >= 7
    cache = pins.repository_cache(settings["bazel_flags"], (
        *setup.startup, *settings["bazel_startup_options"]), env or os.environ)
    declared, unfetchable = (frozenset(), {}) if kind is offline.WorkspaceKind.BZLMOD else (
        pins.split_pins(pins.declarations(workspace, bzlmod), distdirs, cache))
    tool_overrides, pinned = offline.split_fallbacks(setup.overrides, set(declared))
    offline_flags: tuple[str, ...] = ()
    debian_used: dict[str, Path | str] = {}
    replaced: dict[str, str] = {}
    if setup.offline7:
        offline_flags = setup.offline7.flags(kind, declared)
        debian = setup.offline7.debian_modules
        if kind is not offline.WorkspaceKind.BZLMOD:
            debian_used, more = offline.split_fallbacks(debian, set(declared))
            pinned = sorted({*pinned, *more})
        if kind is not offline.WorkspaceKind.WORKSPACE:
            text = (workspace / "MODULE.bazel").read_text(errors="replace")
            own = {e.partition("=")[0] for e in settings["module_overrides"]}
            replaced = {name: debian[name] for name in sorted(offline.declared_modules(text))
                        if name in debian and name not in own}
    for line in offline.fallback_lines({**tool_overrides, **debian_used}, pinned, replaced,
                                       unfetchable):
        log.info("%s", shown(line))
    if wheelhouses:
        # Read by the python wrappers' pip (sitecustomize), whatever --isolated says.
        python = (*python, f"--repo_env=CROSS_COMPILER_WHEELHOUSES={os.pathsep.join(wheelhouses)}")
    if local and setup.version.major >= 7:
        # Otherwise an archive in the repository cache or a distdir is never a hit.
        local.append("--repo_env=BAZEL_HTTP_RULES_URLS_AS_DEFAULT_CANONICAL_ID=0")
    flags = bazel.build_flags(
        target, mode, setup.version, {n: Path(p) for n, p in tool_overrides.items()},
        settings["compilation_mode"],
        [*setup.distro_flags, *offline_flags, *local, *python, *remote,
         *(f"--sandbox_writable_path={d}" for d in setup.writable_dirs),
         *setup.family_flags, *settings["bazel_flags"]],
    )
    startup = (*setup.startup, *settings["bazel_startup_options"])
    # Headers and URL passwords (from any setting) go in a private bazelrc, not on argv.
    flags, secret = bazel.split_secret_flags(flags)
    log_dir = bazel.server_log_dir(startup, workspace, config.cache_dir(env or {}))
    command = functools.partial(BazelCommand, setup.program, startup=startup,
                                secret_flags=secret, server_log=log_dir if secret else None,
                                launcher_env=setup.launcher_env)
    labels = tuple(settings["targets"])
    return BuildPlan(
        workspace=workspace,
        target=target,
        mode=mode,
        build=command("build", flags, labels),
        cquery=command("cquery", (*flags, *bazel.cquery_files_flags(setup.version)),
                       (" + ".join(labels),)),
        info=command("info", flags, ("execution_root",)),
        bazel_version=setup.version,
        aquery=command("aquery", (*flags, "--output=jsonproto"),
                       (headercheck.aquery_expression(labels),)),
        include_dirs=include_dirs,
        header_roots=(*headercheck.declared_dirs(
            [*flags, *startup],
            list(setup.offline7.debian_modules.values()) if setup.offline7 else [], workspace),
            *settings["header_roots"]),
    )


@dataclass
class BuildResult:
    plans: list[BuildPlan] = field(default_factory=list)
    rendered: list[str] = field(default_factory=list)  # files of //cross_compiler
    changed: list[str] = field(default_factory=list)  # of those, written by this build
    container: list[str] = field(default_factory=list)  # the container request, docker runner
    outputs: dict[str, list[Path]] = field(default_factory=dict)  # cpu -> ELF files checked
    wheels: dict[str, list[RetagResult]] = field(default_factory=dict)  # cpu -> dist wheels
    # cpu -> {"bazel_version", "bazel_mode", "bazel_argv" (secrets masked)}: provenance
    bazel: dict[str, dict[str, Any]] = field(default_factory=dict)
    image_id: str = ""  # the builder image, docker runner
    suite: str = ""  # the Debian suite whose Bazel, compilers and Python built it
    pythons: dict[str, str] = field(default_factory=dict)  # cpu -> the CPython built for
    # cpu -> the compiler family, glibc baseline and sysroot packages (name -> version) that
    # built it, when --manylinux/--toolchain chose them: release manifests record it
    toolchains: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add(self, part: BuildResult) -> None:
        """Another build's result into this one (one (cpu, Python) group, or one container):
        a cpu built for several Pythons keeps every build's outputs and wheels."""
        self.plans += part.plans
        for cpu, paths in part.outputs.items():
            self.outputs[cpu] = list(dict.fromkeys([*self.outputs.get(cpu, []), *paths]))
        for cpu, wheels in part.wheels.items():
            self.wheels.setdefault(cpu, []).extend(wheels)
        self.bazel.update(part.bazel)
        self.toolchains.update(part.toolchains)
        self.pythons.update(part.pythons)
        self.suite = part.suite or self.suite


def _run_bazel(command: BazelCommand, workspace: Path, what: str) -> proc.Result:
    with secretrc.argv(command) as argv:
        if command.command == "info":
            argv = argv[: argv.index("--")] + list(command.targets)  # `info` takes no "--"
        result = proc.run(argv, cwd=workspace, stream=command.command == "build",
                          env=command.environ(os.environ))
    if result.returncode != 0:
        detail = "" if command.command == "build" else f": {result.stderr.strip()[-500:]}"
        raise BuildError(
            f"{what} failed with exit code {result.returncode}{detail}",
            "see the Bazel output above",
            exit_code=result.returncode if result.returncode > 0 else None,
        )
    return result


def _toolchain_file(path: Path, target: Target) -> bool:
    """A file of the toolchain's sysroot, listed because `//...` includes the rendered
    package's filegroups: the target's system, not something the build produced."""
    if not target.sysroot:
        return False
    try:
        return path.resolve().is_relative_to(Path(target.sysroot).resolve())
    except OSError:
        return False


def bep_output_files(events: Path) -> list[Path] | None:
    """Files the build reported for the requested targets (their default outputs), from
    its Build Event Protocol stream: what `cquery --output=files` would list, without a
    second Bazel command. None when the stream is missing or names a non-local file
    (remote-only outputs): then the caller asks cquery."""
    try:
        lines = events.read_text().splitlines()
    except OSError:
        return None
    paths: list[Path] = []
    for line in lines:
        try:
            event = json.loads(line)
        except ValueError:
            return None
        for item in event.get("namedSetOfFiles", {}).get("files", []):
            uri = str(item.get("uri", ""))
            if not uri.startswith("file://"):
                return None
            paths.append(Path(urllib.parse.unquote(uri[len("file://"):])))
    return paths


def logs_dir(env: Mapping[str, str]) -> Path:
    """Where full Bazel logs of failed builds go (inside the builder: the persisted HOME)."""
    base = env.get("XDG_CACHE_HOME") or os.path.join(env.get("HOME", "/tmp"), ".cache")
    return Path(base) / "cross_compiler" / "logs"


def _readable_failure(error: BuildError, events: Path, cpu: str,
                      env: Mapping[str, str]) -> BuildError:
    """The failure with Bazel's ERROR lines logged last, the full log kept in a file."""
    try:
        text = bazellog.progress_text(events.read_text(errors="replace"))
    except OSError:
        return error
    log_file = logs_dir(env) / f"{cpu}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    try:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        log_file.write_text(text)
    except OSError:
        log_file = Path("(not written)")
    lines = bazellog.error_lines(text)
    if lines:
        # One argument per line: each is shown() (escaped), the line breaks are ours.
        log.error("Bazel's errors for %s:" + "\n%s" * len(lines), cpu, *map(shown, lines))
    return BuildError(error.message, bazellog.failure_hint(text, str(log_file)),
                      exit_code=error.exit_code)


def _execution_root(plan: BuildPlan, root: Path, outputs: list[Path] | None = None) -> Path:
    """Where cquery's and aquery's paths are relative to: the part of this build's own
    outputs before bazel-out/ (never the workspace's bazel-out symlink, which another
    runner's build of the same workspace may have just repointed); else the symlink, else
    Bazel itself."""
    for path in outputs or ():
        parts = path.parts
        if "bazel-out" in parts:
            return Path(*parts[: parts.index("bazel-out")])
    link = root / "bazel-out"
    if link.is_symlink():
        return link.resolve().parent
    return Path(_run_bazel(plan.info, root, "bazel info").stdout.strip())


def build_local(
    root: Path, targets: list[Target], settings: config.Settings, env: Mapping[str, str],
    result: BuildResult, staging: Staging | None = None,
) -> None:
    """Bazel build, cquery for the outputs, ELF check, then packaging and retag. The wheels
    of every cpu reach the dist dir together, once all of them are built and retagged; with
    ``staging`` (shared by several builds) the caller publishes them."""
    if staging is not None:
        _build_each(root, settings, env, result, staging)
        return
    staging = Staging(root / settings["dist_dir"])
    try:
        _build_each(root, settings, env, result, staging)
        staging.publish(result)
    finally:
        staging.remove()


class Staging:
    """A temporary directory inside dist/ (same file system: wheels move in atomically)."""

    def __init__(self, dist: Path) -> None:
        self.dist = dist
        self.path: Path | None = None

    @property
    def made(self) -> bool:
        return self.path is not None

    def dir(self, name: str) -> Path:
        if self.path is None:
            self.dist.mkdir(parents=True, exist_ok=True)
            self.path = Path(tempfile.mkdtemp(prefix=".cross_compiler-staging-", dir=self.dist))
        return self.path / name

    def stage_outputs(self, paths: list[Path], subdir: Path) -> list[Path]:
        """Copies of a build's checked outputs, to reach ``dist/<subdir>/`` with the wheels
        (Bazel's own files are overwritten by the next build of another Python or cpu)."""
        staged = []
        for path, name in zip(paths, distnames.artifact_names(paths), strict=True):
            dest = self.dir("outputs") / subdir / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dest)
            dest.chmod(path.stat().st_mode & 0o777 | 0o200)  # runnable stays runnable
            staged.append(dest)
        return staged

    def publish(self, result: BuildResult) -> None:
        """Every staged wheel of ``result`` into dist/, and its checked outputs into
        dist/<cpu>/, each said where it now is."""
        if not self.made:
            return
        result.wheels = {cpu: [packaging.move_into(w, self.dist) for w in wheels]
                         for cpu, wheels in result.wheels.items()}
        staged = self.dir("outputs")
        for cpu, paths in result.outputs.items():
            moved = []
            for path in paths:
                if not path.is_relative_to(staged):
                    moved.append(path)
                    continue
                dest = self.dist / path.relative_to(staged)
                dest.parent.mkdir(parents=True, exist_ok=True)
                os.replace(path, dest)
                moved.append(dest)
            result.outputs[cpu] = moved

    def remove(self) -> None:
        if self.path is not None:
            shutil.rmtree(self.path, ignore_errors=True)  # ours, made above


def _checked(plan: BuildPlan, root: Path, paths: list[Path], settings: config.Settings,
             env: Mapping[str, str]) -> list[Path]:
    """The ELF outputs among ``paths``, each checked for the target and the policy, and the
    header proof; what is unchanged since it passed is not checked again (postcheck.py)."""
    store = postcheck.store_for(config.cache_dir(env), root, plan.target)
    try:
        elves = postcheck.checked_elves(paths, plan.target, store)
        postcheck.checked_policy(elves, plan.target, settings["manylinux"], store)
        if plan.aquery is not None:
            aquery = plan.aquery
            postcheck.proven_headers(
                root, _execution_root(plan, root, paths), plan.target, plan.include_dirs,
                plan.header_roots, (aquery.startup, aquery.flags, aquery.targets),
                lambda: _run_bazel(aquery, root, f"bazel aquery for {plan.target.cpu}").stdout,
                store)
    finally:
        store.save()  # the verdicts of the checks that passed
    return elves


def _build_each(root: Path, settings: config.Settings, env: Mapping[str, str],
                result: BuildResult, staging: Staging) -> None:
    for plan in result.plans:
        cpu = plan.target.cpu
        log.info("==> %s: bazel build (%s mode, Bazel %s)", cpu, plan.mode.value,
                 plan.bazel_version)
        result.bazel[cpu] = {"bazel_version": str(plan.bazel_version),
                             "bazel_mode": plan.mode.value, "bazel_argv": plan.build.display()}
        with tempfile.TemporaryDirectory(prefix="cross_compiler-bep-") as tmp:
            events = Path(tmp) / "events.json"
            build = dataclasses.replace(
                plan.build, flags=(*plan.build.flags, f"--build_event_json_file={events}"))
            try:
                _run_bazel(build, root, f"bazel build for {cpu}")
            except BuildError as e:
                raise _readable_failure(e, events, cpu, env) from e
            paths = bep_output_files(events)
        if paths is None:
            files = _run_bazel(plan.cquery, root, f"bazel cquery for {cpu}").stdout.split()
            execroot = _execution_root(plan, root)
            paths = [execroot / f for f in files]
        paths = [p for p in paths if not _toolchain_file(p, plan.target)]
        result.pythons[cpu] = plan.target.python_version
        result.outputs[cpu] = _checked(plan, root, paths, settings, env)
        built = packaging.bazel_wheels(paths)
        if not result.outputs[cpu] and not built:
            log.warning("%s: the build produced no ELF files to check", cpu)
        for path in result.outputs[cpu]:
            log.info("%s: %s ok (%s)", cpu, shown(path), plan.target.triple)
        # Into dist/<cpu>/ (dist/<cpu>/pyX.Y/ when a cpu is built for several Pythons).
        result.outputs[cpu] = staging.stage_outputs(result.outputs[cpu], distnames.output_dir(
            settings["dist_layout"], cpu, plan.target.python_version))
        if built:
            # Bazel-built wheels are proven like packaged ones: cpXY and extension names
            # against the compiled headers, every ELF member, policy, honest platform tag.
            log.info("%s: %d wheel(s) built by Bazel: %s", cpu, len(built),
                     ", ".join(shown(w.name) for w in built))
            result.wheels.setdefault(cpu, []).extend(
                dataclasses.replace(w, python=plan.target.python_version)
                for w in packaging.check_and_retag(built, plan.target, settings,
                                                   staging.dir(f"{cpu}-bazel")))
        if settings["package_command"]:
            result.wheels.setdefault(cpu, []).extend(
                dataclasses.replace(w, python=plan.target.python_version)
                for w in packaging.package_and_retag(root, plan.target, settings, env,
                                                     staging.dir(cpu)))
