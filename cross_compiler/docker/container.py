"""The only ``import docker``: engine checks, builder image build, one guarded container run."""

from __future__ import annotations

import logging
import os
import socket
import sys
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import docker
import docker.errors
import docker.utils.socket
from docker.models.containers import Container

from cross_compiler import proc
from cross_compiler.docker import server
from cross_compiler.docker.image import LABEL, ImageSpec
from cross_compiler.docker.plan import ContainerRequest
from cross_compiler.errors import CrossCompilerError, Terminated, ToolMissingError
from cross_compiler.hostlink import encode as encode_link
from cross_compiler.hostlink import encode_signal

log = logging.getLogger(__name__)

ENGINE_HINT = ("start one: apt-get install docker.io, then run `dockerd &` as root "
               "(or `systemctl start docker`), or use --runner=local")


class DockerError(CrossCompilerError):
    exit_code = 8


PING_TIMEOUT_SECONDS = 15


def connect(timeout: int = 600) -> docker.DockerClient:
    """A client for a running engine, or ToolMissingError saying how to start one."""
    # Asked with a short timeout first: a socket that accepts but never answers (a hung or
    # half-started engine) must not hold the user for the long build timeout.
    try:
        probe = docker.from_env(timeout=min(timeout, PING_TIMEOUT_SECONDS))
        probe.ping()
        probe.close()
        client = docker.from_env(timeout=timeout)
    except (docker.errors.DockerException, OSError) as e:
        raise ToolMissingError("no Docker engine answers", ENGINE_HINT) from e
    return client


def engine_available() -> bool:
    try:
        connect(timeout=5).close()
    except ToolMissingError:
        return False
    return True


def is_rootless(client: docker.DockerClient) -> bool:
    options = client.info().get("SecurityOptions") or []
    return any("rootless" in str(o) for o in options)


def image_exists(client: docker.DockerClient, tag: str) -> bool:
    try:
        client.images.get(tag)
    except docker.errors.ImageNotFound:
        return False
    return True


def image_id(client: docker.DockerClient, tag: str) -> str:
    return str(client.images.get(tag).id)


def _debootstrap_suite(base_image: str) -> str | None:
    repo, _, tag = base_image.partition(":")
    if repo in ("debian", "docker.io/library/debian") and tag and tag.isalpha():
        return tag
    return None


def ensure_base_image(client: docker.DockerClient, base_image: str) -> str:
    """Present, pulled, or (no registry, Debian base) bootstrapped locally with debootstrap."""
    if image_exists(client, base_image):
        return "present"
    try:
        log.info("pulling base image %s", base_image)
        client.images.pull(base_image)
        return "pulled"
    except docker.errors.DockerException as e:
        log.info("cannot pull %s (%s)", base_image, str(e).splitlines()[0][:200])
    suite = _debootstrap_suite(base_image)
    if suite is None:
        raise DockerError(f"base image {base_image} is not present and cannot be pulled",
                          "load it with `docker load`, or use a debian:<suite> base, which "
                          "the tool can bootstrap")
    log.info("no registry reachable: bootstrapping %s with debootstrap --variant=minbase %s",
             base_image, suite)
    with tempfile.TemporaryDirectory(prefix="cross_compiler-debootstrap-") as tmp:
        rootfs, archive = Path(tmp) / "rootfs", Path(tmp) / "rootfs.tar"
        result = proc.run(["debootstrap", "--variant=minbase", suite, str(rootfs),
                           "http://deb.debian.org/debian"], stream=True,
                          missing_hint="apt-get install debootstrap (needs root)")
        if result.returncode != 0:
            raise DockerError(f"debootstrap {suite} failed (exit {result.returncode})",
                              "it needs root and Debian's package mirror")
        with tarfile.open(archive, "w") as tar:
            tar.add(rootfs, arcname=".")
        repository, _, tag = base_image.partition(":")
        client.api.import_image_from_file(str(archive), repository=repository, tag=tag)
    return "bootstrapped"


def build_image(client: docker.DockerClient, spec: ImageSpec,
                prepare: Callable[[Path], None] | None = None) -> str:
    """Build ``spec`` through the SDK unless an image with its tag exists already;
    ``prepare`` adds generated files to the context directory first."""
    if image_exists(client, spec.tag):
        log.info("builder image %s is up to date", spec.tag)
        return "reused"
    how = ensure_base_image(client, spec.base_image)
    log.info("building builder image %s (base %s: %s)", spec.tag, spec.base_image, how)
    with tempfile.TemporaryDirectory(prefix="cross_compiler-image-") as tmp:
        for rel, content in spec.context.items():
            path = Path(tmp) / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
        if prepare is not None:
            prepare(Path(tmp))
        stream = client.api.build(path=tmp, tag=spec.tag, rm=True, forcerm=True, pull=False,
                                  labels={LABEL: "1"}, decode=True)
        for chunk in stream:
            if "stream" in chunk:
                sys.stderr.write(chunk["stream"])
            if "error" in chunk:
                raise DockerError(f"building {spec.tag} failed: {chunk['error'].strip()}",
                                  "see the build output above")
    return "built"


def _create(client: docker.DockerClient, request: ContainerRequest) -> Container:
    return client.containers.create(
        request.image,
        command=list(request.command),
        environment=dict(request.env),
        user=request.user or "",
        working_dir=request.working_dir,
        labels=dict(request.labels),
        network_mode=request.network_mode,
        mounts=[docker.types.Mount(m.target, m.source, type="bind", read_only=m.read_only)
                for m in request.mounts],
        init=True,  # docker-init passes our signals on to the tool inside
        # The host link (hostlink.py): secrets, then EOF once our attach is gone (the SDK
        # sets StdinOnce, which closes the container's stdin then, for detach=False only;
        # create never starts or attaches anything itself).
        stdin_open=True,
        detach=False,
    )


def _owner_gone(labels: dict[str, str]) -> bool:
    """The tool that made the container ran on this machine and is no longer running."""
    if labels.get(f"{LABEL}.host") != socket.gethostname():
        return False
    try:
        pid = int(labels.get(f"{LABEL}.pid", ""))
        os.kill(pid, 0)
    except ValueError:
        return False
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, another user's
    return False


def remove_orphans(client: docker.DockerClient) -> list[str]:
    """Remove the tool's stopped containers whose tool died without removing them (a
    SIGKILLed tool: its container stops by itself, see hostlink.py)."""
    removed = []
    flt: dict[str, str | list[str] | bool] = {"label": LABEL, "status": "exited"}
    for c in client.containers.list(all=True, filters=flt):
        if _owner_gone(dict(c.labels)):
            try:
                c.remove(force=True)
                removed.append(str(c.name))
            except docker.errors.NotFound:
                pass
    if removed:
        log.info("removed %d container(s) left by an earlier run that was killed", len(removed))
    return removed


def _pump(sock: Any, out_stream: TextIO, done: threading.Event) -> None:
    """Copy the container's multiplexed stdout/stderr to ours until it closes."""
    try:
        frames = docker.utils.socket.frames_iter(sock, tty=False)  # type: ignore[no-untyped-call]
        for stream_id, data in frames:
            target = out_stream if stream_id == docker.utils.socket.STDOUT else sys.stderr
            target.buffer.write(data)
            target.flush()
    except (OSError, ValueError):
        pass  # closed by run(): the container was abandoned
    finally:
        done.set()


def _attach(client: docker.DockerClient, container: Container) -> Any:
    sock = client.api.attach_socket(str(container.id), params={
        "stdin": 1, "stdout": 1, "stderr": 1, "stream": 1, "logs": 1})
    raw = getattr(sock, "_sock", sock)
    raw.settimeout(None)  # a quiet build is no reason to stop listening
    return sock


def _send(sock: Any, data: bytes) -> None:
    try:
        getattr(sock, "_sock", sock).sendall(data)
    except OSError as e:  # the container exited already: its output and code say why
        log.debug("cannot write to the container's stdin: %s", e)


def run(client: docker.DockerClient, request: ContainerRequest, stdout_is_result: bool = False
        ) -> int:
    """Run the request in a fresh container, stream its output, return its exit code.

    The container is removed whatever happens: success, failure, exception, Ctrl-C or
    SIGTERM. The first Ctrl-C or SIGTERM is passed on (the tool inside interrupts Bazel),
    a second Ctrl-C abandons it. If this process is killed outright, the tool inside sees
    its stdin close and stops; the next run removes it (remove_orphans).
    The tool's stdout goes to our stdout only when it is this command's result.
    """
    out_stream = sys.stdout if stdout_is_result else sys.stderr
    container: Container | None = None
    sock: Any = None
    interrupt: KeyboardInterrupt | None = None
    try:
        container = _create(client, request)
        sock = _attach(client, container)
        container.start()
        _send(sock, encode_link(request.stdin_env))
        # Output is copied by a thread; this one only waits, so that a signal never lands
        # in the middle of a frame (and an interrupted Thread.join may report a live
        # thread as finished: an Event is waited on instead).
        done = threading.Event()
        threading.Thread(target=_pump, args=(sock, out_stream, done), daemon=True).start()
        deadline = None
        while not done.is_set():
            if deadline is not None and time.monotonic() > deadline:
                log.warning("the build did not stop in %ds: removing its container",
                            proc.INTERRUPT_GRACE_SECONDS)
                break
            try:
                done.wait(timeout=0.5)
            except KeyboardInterrupt as e:  # Ctrl-C, or SIGTERM (errors.Terminated)
                if interrupt is not None:
                    raise
                interrupt = e
                deadline = time.monotonic() + proc.INTERRUPT_GRACE_SECONDS
                log.warning("%s: asking the build to stop (Ctrl-C again to abandon)",
                            "terminated" if isinstance(e, Terminated) else "interrupt")
                try:
                    container.kill(signal="SIGTERM" if isinstance(e, Terminated) else "SIGINT")
                except docker.errors.APIError:
                    pass  # it has just exited
        if interrupt is not None:
            raise interrupt
        code = int(container.wait().get("StatusCode", 1))
        return code
    except docker.errors.DockerException as e:
        raise DockerError(f"container run failed: {e}") from e
    finally:
        if sock is not None:
            sock.close()
        if container is not None:
            try:
                container.remove(force=True)
            except docker.errors.NotFound:
                pass


class ServerGone(DockerError):
    """The warm server stopped between being found and the exec (its idle timeout)."""


def find_server(client: docker.DockerClient, key: str) -> str | None:
    """The id of the running server with this key, if any."""
    flt: dict[str, str | list[str] | bool] = {"label": f"{server.SERVER_LABEL}={key}",
                                              "status": "running"}
    found = client.containers.list(filters=flt)
    return str(found[0].id) if found else None


def start_server(client: docker.DockerClient, request: ContainerRequest) -> str:
    """Start the long-lived container (server.server_request); it removes itself when its
    idle loop ends. Another command that started the same one first wins."""
    key = request.labels[server.SERVER_LABEL]
    try:
        made = client.containers.run(
            request.image, command=list(request.command), environment=dict(request.env),
            user=request.user or "", working_dir=request.working_dir,
            labels=dict(request.labels), network_mode=request.network_mode,
            mounts=[docker.types.Mount(m.target, m.source, type="bind", read_only=m.read_only)
                    for m in request.mounts],
            name=server.server_name(key), init=True, auto_remove=True, detach=True)
    except docker.errors.APIError as e:
        if e.status_code == 409:  # the name is taken: that server is this key's
            found = find_server(client, key)
            if found:
                return found
        raise DockerError(f"cannot start the warm server: {e}") from e
    except docker.errors.DockerException as e:
        raise DockerError(f"cannot start the warm server: {e}") from e
    return str(made.id)


def remove_servers(client: docker.DockerClient, workspace: str | None = None,
                   output_root: str | None = None, keep: str = "") -> list[str]:
    """Remove warm servers (of one workspace, one cache layout; all when None), but the
    one whose key is ``keep``; returns their names."""
    labels = [server.SERVER_LABEL]
    if workspace is not None:
        labels.append(f"{server.WORKSPACE_LABEL}={workspace}")
    if output_root is not None:
        labels.append(f"{server.ROOT_LABEL}={output_root}")
    flt: dict[str, str | list[str] | bool] = {"label": labels}
    removed = []
    for c in client.containers.list(all=True, filters=flt):
        if keep and c.labels.get(server.SERVER_LABEL) == keep:
            continue
        try:
            c.remove(force=True)
            removed.append(str(c.name))
        except docker.errors.NotFound:
            pass  # its idle loop ended meanwhile
        except docker.errors.APIError as e:
            if e.status_code != 409:  # 409: being removed already (auto-remove)
                raise DockerError(f"cannot remove warm server {c.name}: {e}") from e
    return removed


def remove_container(client: docker.DockerClient, container_id: str) -> None:
    try:
        client.api.remove_container(container_id, force=True)
    except docker.errors.NotFound:
        pass
    except docker.errors.APIError as e:
        if e.status_code != 409:
            raise DockerError(f"cannot remove container {container_id[:12]}: {e}") from e


def exec_in(client: docker.DockerClient, container_id: str, request: ContainerRequest,
            beat: Callable[[], None], abandon: Callable[[], None]) -> int:
    """Run the request's command in a running server (``docker exec``), stream its output,
    return its exit code. ``beat`` is called while it runs (the server's heartbeat).

    Secrets go over the exec's stdin, never into its or the server's environment. A Ctrl-C
    or SIGTERM is passed on over that link (an exec has no ``docker kill``): the tool inside
    interrupts Bazel, and the server stays for the next command. A second Ctrl-C closes the
    link (the tool inside stops at once) and abandons it; a command that does not stop
    within the grace period has its server removed (``abandon``). If this process is
    killed outright, the link closes and the tool inside stops Bazel.
    """
    try:
        made = client.api.exec_create(
            container_id, list(request.command), stdin=True, stdout=True, stderr=True,
            environment=dict(request.env), workdir=request.working_dir,
            user=request.user or "")
        sock: Any = client.api.exec_start(made["Id"], socket=True)
    except docker.errors.APIError as e:
        if e.status_code in (404, 409):  # gone, or stopping: its idle timeout
            raise ServerGone(f"the warm server stopped: {e}") from e
        raise DockerError(f"docker exec failed: {e}") from e
    except docker.errors.DockerException as e:
        raise DockerError(f"docker exec failed: {e}") from e
    raw = getattr(sock, "_sock", sock)
    raw.settimeout(None)
    interrupt: KeyboardInterrupt | None = None
    try:
        _send(sock, encode_link(request.stdin_env))
        done = threading.Event()
        threading.Thread(target=_pump, args=(sock, sys.stderr, done), daemon=True).start()
        deadline = None
        while not done.is_set():
            beat()
            if deadline is not None and time.monotonic() > deadline:
                log.warning("the build did not stop in %ds: removing its warm server",
                            proc.INTERRUPT_GRACE_SECONDS)
                abandon()
                break
            try:
                done.wait(timeout=0.5)
            except KeyboardInterrupt as e:  # Ctrl-C, or SIGTERM (errors.Terminated)
                if interrupt is not None:
                    _close_link(raw)  # EOF: the tool inside stops at once
                    raise
                interrupt = e
                deadline = time.monotonic() + proc.INTERRUPT_GRACE_SECONDS
                log.warning("%s: asking the build to stop (Ctrl-C again to abandon)",
                            "terminated" if isinstance(e, Terminated) else "interrupt")
                _send(sock, encode_signal("SIGTERM" if isinstance(e, Terminated)
                                          else "SIGINT"))
        if interrupt is not None:
            raise interrupt
        return _exec_code(client, made["Id"])
    except docker.errors.DockerException as e:
        raise DockerError(f"docker exec failed: {e}") from e
    finally:
        _close_link(raw)


def _close_link(raw: Any) -> None:
    """Close the socket itself (closing the SDK's wrapper leaves it open, and the exec's
    stdin with it)."""
    try:
        raw.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    raw.close()


def _exec_code(client: docker.DockerClient, exec_id: str) -> int:
    # The stream ends as the process does; the engine records its code a moment later.
    for _ in range(100):
        info = client.api.exec_inspect(exec_id)
        if not info.get("Running") and info.get("ExitCode") is not None:
            return int(info["ExitCode"])
        time.sleep(0.05)
    raise DockerError("the engine reports no exit code for the build's docker exec")


def tool_resources(client: docker.DockerClient) -> dict[str, list[str]]:
    """Containers, images and volumes that carry the tool's label."""
    flt: dict[str, str | list[str] | bool] = {"label": LABEL}
    return {
        "containers": [str(c.name) for c in client.containers.list(all=True, filters=flt)],
        "images": [t for i in client.images.list(filters=flt) for t in (i.tags or [i.short_id])],
        "volumes": [v.name for v in client.volumes.list(filters=flt)],
    }


def remove_tool_resources(client: docker.DockerClient) -> None:
    flt: dict[str, str | list[str] | bool] = {"label": LABEL}
    for c in client.containers.list(all=True, filters=flt):
        c.remove(force=True)
    for i in client.images.list(filters=flt):
        client.images.remove(str(i.id), force=True)
    for v in client.volumes.list(filters=flt):
        v.remove(force=True)
