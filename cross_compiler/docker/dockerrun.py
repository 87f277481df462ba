"""A build inside the builder image: the host plans, the container runs the local build."""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import os
import platform
import shlex
import shutil
import socket
import sys
import time
import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cross_compiler import config, proc, redact, resources
from cross_compiler.bazel.localbuild import BuildResult, remote_header
from cross_compiler.bazel.overrides import sysroot_routes_usable
from cross_compiler.display import shown
from cross_compiler.docker import container, imageextras, server
from cross_compiler.docker.image import (
    ROUTE_WHEELS,
    BakedSysroot,
    ImageExtras,
    ImageSpec,
    builder_packages,
    image_spec,
    pin,
    pinned_requirements,
    source_files,
)
from cross_compiler.docker.plan import (
    CacheLayout,
    ContainerRequest,
    Mount,
    allowed_env,
    cache_layout,
    flag_paths,
)
from cross_compiler.docker.plan import container_request as make_request
from cross_compiler.errors import BuildError, ConfigError
from cross_compiler.toolchain import portable, sysroot
from cross_compiler.toolchain.suites import Suite, for_suite, load_suites
from cross_compiler.toolchain.targets import Target, load_targets
from cross_compiler.wheel import elf, policycheck
from cross_compiler.wheel.retag import RetagResult

log = logging.getLogger(__name__)

# Settings forwarded into the container as CROSS_COMPILER_* (already resolved on the host).
FORWARDED = ("targets", "bazel_mode", "compilation_mode", "bazel_flags",
             "bazel_startup_options", "package_command", "dist_dir", "platform",
             "remote_cache", "remote_header_env", "remote_upload", "remote_executor",
             "remote_instance_name", "remote_exec_properties", "repository_overrides",
             "module_overrides", "distdirs",
             "source_date_epoch", "manylinux", "toolchain", "header_roots", "wheelhouses", "python",
             "dist_layout")


# Settings whose values Bazel reads with each command (flags, targets, what to package):
# a change of them is no reason for a fresh warm server (server.server_key).
PER_COMMAND_SETTINGS = ("targets", "bazel_mode", "compilation_mode", "bazel_flags",
                        "package_command", "dist_dir", "platform", "source_date_epoch")


def result_file(layout: CacheLayout) -> Path:
    """Where the tool inside reports what it built; one per run, so builds sharing a cache
    directory never read each other's."""
    return layout.root / f"result-{os.getpid()}-{time.monotonic_ns()}.json"


ERROR_FILE_ENV = "CROSS_COMPILER_ERROR_FILE"
PER_COMMAND_ENV = (ERROR_FILE_ENV,
                   *(config.ENV_PREFIX + key.upper() for key in PER_COMMAND_SETTINGS))


def error_file(report: Path) -> Path:
    return report.with_name(report.name + ".error")


def container_error(report: Path) -> str:
    """The one-line error the tool inside left (bounded, control characters escaped), or ""."""
    try:
        with error_file(report).open("rb") as f:
            text = f.read(4096).decode("utf-8", "replace")
    except OSError:
        return ""
    return shown(text.strip().splitlines()[0]) if text.strip() else ""


def image_targets(settings: config.Settings, env: Mapping[str, str],
                  suite: Suite) -> list[Target]:
    cpus = [c.strip() for c in settings["image_cpus"].split(",") if c.strip()]
    return [for_suite(t, suite) for t in load_targets(cpus, config.toolchains_dir(env))]


def builder_image(settings: config.Settings, env: Mapping[str, str], suite: Suite,
                  extras: ImageExtras | None = None) -> ImageSpec:
    targets = image_targets(settings, env, suite)
    package_dir = Path(__file__).resolve().parents[1]  # cross_compiler/, not docker/
    data = {name: resources.data_dir(name) for name in resources.DATA_DIRS}
    catalogue = load_suites(config.suites_dir(env))
    lenders = {name: catalogue[name] for name in suite.foreign_pythons.values()
               if name in catalogue}
    return image_spec(targets, suite, settings["base_image"], settings["extra_packages"],
                      pinned_requirements(), source_files(package_dir, data),
                      resources.templates_dir(), extras, lenders)


def route_extras(targets: list[Target], settings: config.Settings, env: Mapping[str, str],
                 suite: Suite, sysroots: bool = True) -> ImageExtras:
    """What the --manylinux (or --toolchain) routes of the image's ``targets`` add to the
    builder image: one image per (suite, baseline, family) serves a build of any of its
    cpus, and `cross-compiler image` makes the same one. Cpus without a route are left out
    (a build for one fails before any image, api.build). The routes' sysroots are
    assembled here, in the host's cache, and baked into the image."""
    routes = portable.reachable(targets, settings["manylinux"], settings["toolchain"],
                                sysroots)
    if not routes:
        return ImageExtras()
    specs = sysroot.load_specs(resources.data_dir("sysroots"))
    baked = {}
    for suite_name, target in imageextras.needed_sysroots(routes.values()):
        made = sysroot.assemble(specs[suite_name], target, config.cache_dir(env))
        baked[(suite_name, target.debian_arch)] = BakedSysroot(
            suite_name, target.debian_arch, str(made.path), sysroot.content_digest(made.path))
    base = builder_packages(image_targets(settings, env, suite), suite,
                            settings["extra_packages"])
    return imageextras.image_extras(routes.values(), base, pin, baked)


def prepare_context(spec: ImageSpec, extras: ImageExtras, context: Path) -> None:
    """What the image copies besides its rendered files: wheels, and the baked sysroots."""
    download_wheels(spec.requirements, spec.python_version, context)
    if spec.route_requirements:
        download_wheels(spec.route_requirements, spec.python_version, context, ROUTE_WHEELS)
    for baked in extras.sysroots:
        shutil.copytree(baked.host_path, context / baked.context_path, symlinks=True)


def pip_target_flags(python_version: str) -> list[str]:
    """pip download flags for wheels that install on the image's Python (which need not be
    this one's: a host on 3.11 builds a 3.13 image)."""
    if python_version == f"{sys.version_info.major}.{sys.version_info.minor}":
        return []
    machine = platform.machine()
    tag = python_version.replace(".", "")
    flags = ["--python-version", python_version, "--implementation", "cp",
             "--abi", f"cp{tag}", "--abi", "abi3", "--abi", "none"]
    for minor in range(17, 50):
        flags += ["--platform", f"manylinux_2_{minor}_{machine}"]
    return [*flags, "--platform", f"manylinux2014_{machine}", "--platform", f"linux_{machine}"]


def download_wheels(requirements: tuple[str, ...], python_version: str, context: Path,
                    folder: str = "wheels") -> None:
    """The image's Python dependencies, fetched here, where PyPI (and its proxy) is trusted."""
    wheels = context / folder
    wheels.mkdir()
    result = proc.run([sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:",
                       *pip_target_flags(python_version), "--dest", str(wheels), *requirements])
    if result.returncode != 0:
        raise BuildError(f"pip download of the image's dependencies failed: "
                         f"{(result.stderr.strip().splitlines() or [''])[-1]}",
                         "the host needs PyPI (or a pip index configured) to build the image")


def docker_cache_root(settings: config.Settings, env: Mapping[str, str]) -> Path:
    if settings["cache_dir"]:
        return Path(settings["cache_dir"]).expanduser().resolve()
    return config.cache_dir(env) / "docker"


def _settings_env(settings: config.Settings, layout: CacheLayout,
                  idle_seconds: int | None = None) -> dict[str, str]:
    values = {key: settings[key] for key in FORWARDED}
    # A warm server's Bazel exits after the same idle time as its container.
    idle = [f"--max_idle_secs={idle_seconds}"] if idle_seconds else []
    values["bazel_startup_options"] = [
        f"--output_user_root={layout.output_user_root}", *idle,
        *values["bazel_startup_options"]]
    # Bazel refuses a disk cache next to gRPC remote execution ("Cannot combine gRPC based
    # remote execution with disk caching or HTTP-based caching"): the executor's CAS is the
    # cache then.
    disk = [] if settings["remote_executor"] else [f"--disk_cache={layout.disk_cache}"]
    values["bazel_flags"] = [*disk, f"--repository_cache={layout.repository_cache}",
                             *values["bazel_flags"]]
    env = {}
    for key, value in values.items():
        text = shlex.join(value) if isinstance(value, list) else value
        env[config.ENV_PREFIX + key.upper()] = text
    return env


def plan_container(root: Path, targets: list[Target], settings: config.Settings,
                   env: Mapping[str, str], spec: ImageSpec, rootless: bool,
                   extra_args: list[str], command: str = "build",
                   extras: ImageExtras | None = None, idle_seconds: int | None = None,
                   ) -> tuple[ContainerRequest, CacheLayout, Path]:
    """``idle_seconds``: for a warm server (Bazel's --max_idle_secs)."""
    layout = cache_layout(docker_cache_root(settings, env), spec.tag)
    report = result_file(layout)
    passed = allowed_env(settings["env"], env)
    settings_env = _settings_env(settings, layout, idle_seconds)
    # Where the tool inside writes its one-line error, which the host then ends with.
    settings_env[ERROR_FILE_ENV] = str(error_file(report))
    # Over stdin, never in the container's environment: the header, and any setting that
    # holds a URL password or a header flag.
    secrets = {k: v for k, v in settings_env.items() if _holds_secret(v)}
    if settings["remote_header_env"]:
        secrets[settings["remote_header_env"]] = remote_header(settings, env)
    network = settings["network"]
    if network != "host" and any(_is_loopback(settings[k])
                                 for k in ("remote_cache", "remote_executor")):
        log.info("remote endpoint on this machine's loopback: the container uses the host "
                 "network")
        network = "host"
    inner = ["cross-compiler", command, "--runner=local",
             "--cpu=" + ",".join(dict.fromkeys(t.cpu for t in targets)), f"--workspace={root}",
             *([f"--result-json={report}"] if command == "build" else []), *extra_args]
    request = make_request(
        image=spec.tag, workspace=root, layout=layout, inner_command=inner,
        settings_env=settings_env, passed_env=passed,
        uid=os.getuid(), gid=os.getgid(), rootless=rootless,
        network_mode=network, stdin_env=secrets, owner=(socket.gethostname(), os.getpid()),
    )
    # Local copies of external repositories, modules and archives: read-only, at the same
    # paths, wherever they are (outside the workspace too).
    local = [Mount(str(d), str(d), read_only=True) for _, _, d in config.local_paths(settings)
             if not d.is_relative_to(root)]
    # A dist dir outside the workspace is written through its own mount: otherwise the
    # wheels would land in the container and be lost with it.
    dist = (root / settings["dist_dir"]).resolve()
    if not dist.is_relative_to(root):
        dist.mkdir(parents=True, exist_ok=True)  # by the invoking user, who owns it
        local.append(Mount(str(dist), str(dist)))
    # What the families' tools write (zig's cache): the image's cache is read-only.
    local += imageextras.writable_mounts(extras or ImageExtras(),
                                         docker_cache_root(settings, env))
    local += flag_mounts(settings["bazel_flags"], root)
    if local:
        request = dataclasses.replace(request, mounts=tuple(_one_per_path([*request.mounts,
                                                                           *local])))
    return request, layout, report


def flag_mounts(flags: list[str], root: Path) -> list[Mount]:
    """Each host path outside the workspace a raw Bazel flag names (--override_repository,
    --override_module, --distdir, --registry=file://), read-only at the same path; Bazel's
    caches (--disk_cache, --repository_cache) writable, made by the invoking user when
    missing. A missing path to read is refused in one line naming the flag: the engine
    would mount an empty directory in its place."""
    mounts = []
    for named in flag_paths(flags, root):
        if named.path.is_relative_to(root):
            continue  # the workspace is mounted already
        if not named.path.exists():
            if not named.writable:
                raise ConfigError(f"bazel_flags: {shown(named.flag)}: {shown(named.path)} "
                                  "does not exist",
                                  "fix the path (the docker runner mounts it into the "
                                  "container at the same path)")
            named.path.mkdir(parents=True, exist_ok=True)
        mounts.append(Mount(str(named.path), str(named.path), read_only=not named.writable))
    return mounts


def _one_per_path(mounts: list[Mount]) -> list[Mount]:
    """One mount per container path (the engine refuses two): writable if any is."""
    chosen: dict[str, Mount] = {}
    for mount in mounts:
        kept = chosen.get(mount.target)
        if kept is None or (kept.read_only and not mount.read_only):
            chosen[mount.target] = mount
    return list(chosen.values())


def _holds_secret(value: str) -> bool:
    try:
        words = shlex.split(value)
    except ValueError:
        words = [value]
    return any(redact.is_secret_arg(w) for w in words)


def _is_loopback(url: str) -> bool:
    host = urllib.parse.urlsplit(url).hostname or ""
    return host == "localhost" or host.startswith("127.") or host == "::1"


def build_in_container(root: Path, targets: list[Target], settings: config.Settings,
                       env: Mapping[str, str], result: BuildResult, dry_run: bool,
                       suite: Suite, command: str = "build", extra_args: tuple[str, ...] = (),
                       ) -> None:
    """Build the image if needed, run the build in the workspace's warm server (or, one-shot,
    in a fresh container), check its outputs."""
    held = {t.cpu for t in image_targets(settings, env, suite)}
    missing = [t.cpu for t in targets if t.cpu not in held]
    if missing:
        raise ConfigError(
            f"the builder image holds toolchains for {', '.join(sorted(held))}, not for "
            f"{', '.join(missing)}",
            "set image_cpus (or --cpu of `invoke image`) to include them, or to all",
        )
    # This build's cpus must each have a route (the image holds every reachable cpu's).
    sysroots = sysroot_routes_usable(root, suite.bazel_major)
    portable.choose(targets, settings["manylinux"], settings["toolchain"], sysroots)
    extras = route_extras(image_targets(settings, env, suite), settings, env, suite, sysroots)
    if extras:
        log.info("builder image with what the routes need: %s", ", ".join(
            [*extras.packages, *extras.requirements,
             *(f"Debian {s.suite} sysroot ({s.debian_arch})" for s in extras.sysroots)]))
    client = container.connect()
    container.remove_orphans(client)  # stopped containers of runs that were killed
    spec = builder_image(settings, env, suite, extras)
    rootless = container.is_rootless(client)
    mode = server.server_mode(settings["server"], env, command, dry_run)
    idle = int(settings["server_idle_seconds"]) if mode == "warm" else None
    request, layout, report = plan_container(
        root, targets, settings, env, spec, rootless,
        [*(["--dry-run"] if dry_run else []), *extra_args], command, extras, idle)
    result.container = request.describe()
    tool_dirs = [Path(m.source) for m in imageextras.writable_mounts(
        extras, docker_cache_root(settings, env))]
    if dry_run:
        if container.image_exists(client, spec.tag):
            # The exact Bazel argv depends on the image's Bazel: ask the tool inside.
            _make_dirs(layout, tool_dirs)
            try:
                container.run(client, request, stdout_is_result=True)
            finally:
                report.unlink(missing_ok=True)
        else:
            log.info("builder image %s is not built yet; `invoke image` builds it", spec.tag)
        return
    container.build_image(client, spec, functools.partial(prepare_context, spec, extras))
    result.image_id = container.image_id(client, spec.tag)
    _make_dirs(layout, tool_dirs)
    try:
        if idle is not None:
            code = _run_warm(client, request, layout, [t.cpu for t in targets],
                             result.image_id, idle)
        else:
            # Never two Bazel servers on one output base: a warm one of this workspace
            # and cache goes first.
            container.remove_servers(client, workspace=str(root),
                                     output_root=str(layout.root))
            code = container.run(client, request)
        if code != 0:
            # The tool inside exits with Bazel's code (or its own error's): pass it on, and
            # end with its one-line error (a header proof's names the header).
            inner = container_error(report)
            if inner:
                raise BuildError(f"{inner} (the {command} in container {spec.tag})",
                                 exit_code=code)
            raise BuildError(f"the {command} in container {spec.tag} failed with exit code {code}",
                             "see its output above", exit_code=code)
        if command == "build":
            _collect(report, targets, result, settings["manylinux"])
    finally:
        report.unlink(missing_ok=True)
        error_file(report).unlink(missing_ok=True)


def _run_warm(client: Any, request: ContainerRequest, layout: CacheLayout, cpus: list[str],
              image_id: str, idle: int) -> int:
    """Exec the command in the warm server with this key, started first when there is none
    (or it is about to time out). Other servers of the workspace on the same Bazel output
    base go: a changed image, suite, render or mount set never meets a stale server."""
    key = server.server_key(request, image_id, cpus, PER_COMMAND_ENV)
    removed = container.remove_servers(client, workspace=request.working_dir,
                                       output_root=str(layout.root), keep=key)
    if removed:
        log.info("removed the workspace's warm server(s) of other settings: %s",
                 ", ".join(removed))
    heartbeat = server.heartbeat_file(layout, key)
    heartbeat.parent.mkdir(parents=True, exist_ok=True)
    for attempt in (1, 2):
        found = container.find_server(client, key)
        if found and not server.reusable(_age(heartbeat), idle):
            container.remove_container(client, found)  # its loop may be exiting now
            found = None
        _touch(heartbeat)
        if found is None:
            found = container.start_server(client, server.server_request(
                request, key, layout, idle, PER_COMMAND_ENV))
            log.info("started warm server %s (removes itself after %d s idle; "
                     "`cross-compiler shutdown` removes it now)", server.server_name(key), idle)
        else:
            log.info("warm server %s", server.server_name(key))
        try:
            return container.exec_in(
                client, found, request, beat=functools.partial(_touch, heartbeat),
                abandon=functools.partial(container.remove_container, client, found))
        except container.ServerGone:
            if attempt == 2:
                raise
        finally:
            _touch(heartbeat)  # idle from the end of the command
    raise AssertionError("unreachable")


def _touch(path: Path) -> None:
    try:
        os.utime(path)
    except FileNotFoundError:
        path.touch()


def _age(path: Path) -> float | None:
    try:
        return time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return None


def _make_dirs(layout: CacheLayout, tool_dirs: list[Path]) -> None:
    # Created by the invoking user, so the container (running as that user) can write.
    for directory in [*layout.dirs(), *tool_dirs]:
        directory.mkdir(parents=True, exist_ok=True)


def _collect(result_file: Path, targets: list[Target], result: BuildResult,
             manylinux: str = "") -> None:
    """Read what the container built and check every ELF again, here on the host (within
    the --manylinux baseline too)."""
    try:
        data = json.loads(result_file.read_text())
    except (OSError, ValueError) as e:
        raise BuildError(f"the container left no readable {result_file}: {e}") from e
    by_cpu = {t.cpu: t for t in targets}
    part = BuildResult(suite=str(data.get("suite", "")))
    for cpu, paths in data.get("outputs", {}).items():
        part.outputs[cpu] = elf.check_files([Path(p) for p in paths], by_cpu[cpu])
        policycheck.check_outputs(part.outputs[cpu], by_cpu[cpu], manylinux)
        part.pythons[cpu] = by_cpu[cpu].python_version
    part.bazel = dict(data.get("bazel", {}))
    # The family, glibc and sysroot packages the routes used (for a release's manifest).
    part.toolchains = dict(data.get("toolchains", {}))
    part.wheels = {cpu: [RetagResult(Path(w["path"]), w["platform"], w["reason"],
                                     dict(w.get("renamed", {})), (), str(w.get("python", "")))
                       for w in wheels]
                   for cpu, wheels in data.get("wheels", {}).items()}
    result.add(part)  # a cpu built for several Pythons (one container each) keeps all
