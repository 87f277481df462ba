"""The only ``import docker``: engine checks, builder image build, one guarded container run."""

from __future__ import annotations

import logging
import signal
import sys
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

import docker
import docker.errors
from docker.models.containers import Container

from cross_compiler import proc
from cross_compiler.errors import CrossCompilerError, ToolMissingError
from cross_compiler.image import LABEL, ImageSpec
from cross_compiler.plan import ContainerRequest

log = logging.getLogger(__name__)

ENGINE_HINT = ("start one: apt-get install docker.io, then run `dockerd &` as root "
               "(or `systemctl start docker`), or use --runner=local")


class DockerError(CrossCompilerError):
    exit_code = 8


class Terminated(BaseException):
    """SIGTERM arrived: unwind so every guard removes its container."""


def connect(timeout: int = 600) -> docker.DockerClient:
    """A client for a running engine, or ToolMissingError saying how to start one."""
    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
    except docker.errors.DockerException as e:
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
        init=True,  # docker-init forwards our SIGINT to the tool (and Bazel) inside
        detach=True,
    )


@contextmanager
def _sigterm_unwinds() -> Iterator[None]:
    def handler(signum: int, frame: FrameType | None) -> None:
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run(client: docker.DockerClient, request: ContainerRequest, stdout_is_result: bool = False
        ) -> int:
    """Run the request in a fresh container, stream its output, return its exit code.

    The container is removed whatever happens: success, failure, exception, Ctrl-C or
    SIGTERM. The first Ctrl-C is forwarded (Bazel stops cleanly), a second one abandons it.
    The tool's stdout goes to our stdout only when it is this command's result.
    """
    out_stream = sys.stdout if stdout_is_result else sys.stderr
    container: Container | None = None
    interrupted = False
    try:
        with _sigterm_unwinds():
            container = _create(client, request)
            container.start()
            while True:
                try:
                    for out, err in container.attach(stdout=True, stderr=True, stream=True,
                                                     logs=True, demux=True):
                        for data, stream in ((out, out_stream), (err, sys.stderr)):
                            if data:
                                stream.buffer.write(data)
                                stream.flush()
                    code = int(container.wait().get("StatusCode", 1))
                    break
                except KeyboardInterrupt:
                    if interrupted:
                        raise
                    interrupted = True
                    log.warning("interrupt: asking the build to stop (Ctrl-C again to abandon)")
                    container.kill(signal="SIGINT")
        if interrupted:
            raise KeyboardInterrupt
        return code
    except docker.errors.DockerException as e:
        raise DockerError(f"container run failed: {e}") from e
    finally:
        if container is not None:
            try:
                container.remove(force=True)
            except docker.errors.NotFound:
                pass


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
