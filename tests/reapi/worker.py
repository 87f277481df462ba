"""A small REAPI test worker for BuildGrid's Bots API (run with BuildGrid's own interpreter).

No PyPI release ships a BuildGrid worker (buildbox-worker is C++ and not packaged where
this project installs from), so the remote-execution test supplies this one. It runs each
leased Action in a fresh temporary directory on this machine: download the input root
from CAS, run the Command with exactly its environment, upload the outputs, stdout and
stderr, and complete the lease with an ActionResult. Production farms use
buildbox-worker, Buildbarn or NativeLink workers running the builder image instead.

Usage: python worker.py --remote=http://127.0.0.1:PORT --scratch=DIR [--parent=NAME] [--jobs=N]
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from io import BytesIO

import grpc
from buildgrid._protos.build.bazel.remote.execution.v2.remote_execution_pb2 import (
    Action,
    ActionResult,
    Command,
    Digest,
    OutputDirectory,
    OutputFile,
)
from buildgrid._protos.google.devtools.remoteworkers.v1test2 import bots_pb2, bots_pb2_grpc
from buildgrid._protos.google.rpc import code_pb2
from buildgrid.server.client.cas import download, upload

LOG = logging.getLogger("reapi-worker")
POLL_SECONDS = 30.0  # long-poll deadline for UpdateBotSession; the server answers sooner
ACTION_TIMEOUT = 600.0
STARTUP_SECONDS = 60.0
CAS_RETRIES = 5
TRANSIENT = {grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.UNAVAILABLE,
             grpc.StatusCode.RESOURCE_EXHAUSTED}


def _action_of(lease: bots_pb2.Lease, channel: grpc.Channel, instance: str) -> Action:
    """The lease payload is the Action itself or the Action's digest."""
    action = Action()
    if lease.payload.Is(Action.DESCRIPTOR):
        lease.payload.Unpack(action)
        return action
    digest = Digest()
    lease.payload.Unpack(digest)
    with download(channel, instance=instance, retries=CAS_RETRIES) as downloader:
        return downloader.get_message(digest, action)


def execute(action: Action, channel: grpc.Channel, instance: str, scratch: str) -> ActionResult:
    """Run one Action in a new directory under `scratch` and upload what it produced."""
    root = tempfile.mkdtemp(prefix="action-", dir=scratch)
    try:
        with download(channel, instance=instance, retries=CAS_RETRIES) as downloader:
            command = downloader.get_message(action.command_digest, Command())
            downloader.download_directory(action.input_root_digest, root)
        workdir = os.path.join(root, command.working_directory)
        # REAPI 2.1+ lists output_paths; Bazel 4 still sends output_files/directories.
        paths = list(command.output_paths) or [*command.output_files,
                                               *command.output_directories]
        for path in paths:  # the worker creates each output's parent directory
            os.makedirs(os.path.dirname(os.path.join(workdir, path)), exist_ok=True)
        env = {v.name: v.value for v in command.environment_variables}
        timeout = action.timeout.ToTimedelta().total_seconds() or ACTION_TIMEOUT
        started = time.monotonic()
        try:
            proc = subprocess.run(list(command.arguments), cwd=workdir, env=env,
                                  capture_output=True, timeout=timeout, check=False)
            exit_code, out, err = proc.returncode, proc.stdout, proc.stderr
        except (OSError, subprocess.TimeoutExpired) as e:
            exit_code, out, err = 127, b"", f"reapi-worker: {e}\n".encode()
        LOG.info("exit %d in %.1fs: %s -> %s", exit_code, time.monotonic() - started,
                 command.arguments[0], " ".join(paths))
        result = ActionResult(exit_code=exit_code)
        with upload(channel, instance=instance, retries=CAS_RETRIES) as uploader:
            result.stdout_digest.CopyFrom(uploader.put_blob(BytesIO(out)))
            result.stderr_digest.CopyFrom(uploader.put_blob(BytesIO(err)))
            for path in paths:
                full = os.path.join(workdir, path)
                if os.path.isdir(full) and not os.path.islink(full):
                    result.output_directories.append(OutputDirectory(
                        path=path, tree_digest=uploader.upload_tree(full, queue=False)))
                elif os.path.isfile(full):
                    result.output_files.append(OutputFile(
                        path=path, digest=uploader.upload_file(full, queue=False),
                        is_executable=os.access(full, os.X_OK)))
            uploader.flush()
        return result
    finally:
        shutil.rmtree(root, ignore_errors=True)


def run_bot(remote: str, parent: str, scratch: str, stop: threading.Event) -> None:
    """One bot session with capacity 1: poll, execute, report, until stopped."""
    channel = grpc.insecure_channel(remote.removeprefix("http://").removeprefix("grpc://"))
    stub = bots_pb2_grpc.BotsStub(channel)
    session = bots_pb2.BotSession(bot_id=f"test-worker-{uuid.uuid4()}",
                                  status=bots_pb2.BotStatus.OK)
    grpc.channel_ready_future(channel).result(timeout=STARTUP_SECONDS)  # server may be starting
    session = stub.CreateBotSession(
        bots_pb2.CreateBotSessionRequest(parent=parent, bot_session=session),
        timeout=POLL_SECONDS)
    LOG.info("bot session %s", session.name)
    while not stop.is_set():
        for lease in session.leases:
            if lease.state not in (bots_pb2.LeaseState.PENDING, bots_pb2.LeaseState.ACTIVE):
                continue
            try:
                result = execute(_action_of(lease, channel, parent), channel, parent, scratch)
                lease.result.Pack(result)
                lease.status.code = code_pb2.OK
            except Exception as e:  # report the failure rather than hang the build
                LOG.exception("lease %s failed", lease.id)
                lease.status.code = code_pb2.INTERNAL
                lease.status.message = str(e)
            lease.state = bots_pb2.LeaseState.COMPLETED
        try:
            session = stub.UpdateBotSession(
                bots_pb2.UpdateBotSessionRequest(name=session.name, bot_session=session),
                timeout=POLL_SECONDS)
        except grpc.RpcError as e:
            if e.code() not in TRANSIENT:
                raise
            # Keep the completed leases and report them again: a bot that gave up here
            # would leave its job EXECUTING and Bazel waiting for ever.
            LOG.warning("UpdateBotSession: %s; retrying", e.code().name)
            stop.wait(1.0)
    channel.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--remote", required=True, help="http://127.0.0.1:PORT of BuildGrid")
    parser.add_argument("--parent", default="", help="instance name")
    parser.add_argument("--scratch", required=True, help="directory for the actions' trees")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="bot sessions (parallel actions)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(threadName)s %(message)s")
    stop = threading.Event()
    threads = [threading.Thread(target=run_bot, args=(args.remote, args.parent, args.scratch, stop),
                                name=f"bot{i}", daemon=True) for i in range(args.jobs)]
    for t in threads:
        t.start()
    try:
        while any(t.is_alive() for t in threads):
            time.sleep(0.5)
    finally:  # SIGTERM/SIGINT end the process; the daemon threads go with it
        stop.set()


if __name__ == "__main__":
    main()
