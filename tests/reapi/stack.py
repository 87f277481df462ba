"""A real REAPI service on 127.0.0.1 for tests and benches: PostgreSQL + BuildGrid + a worker.

`buildgrid_stack(workdir)` starts a private PostgreSQL cluster (a temporary directory of
its own, a free loopback port), BuildGrid 0.4.4 from its own venv (CAS, ByteStream,
ActionCache, Execution and Bots; scripts/setup.sh installs it into
.tools/buildgrid-venv) and tests/reapi/worker.py, yields the `grpc://127.0.0.1:PORT`
endpoint, and stops the three by the ids it started them with, with bounded waits,
however the body ends. Nothing outside `workdir` and the cluster's own temporary
directory is written; the machine's own PostgreSQL clusters are never touched.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUILDGRID_VENV = ROOT / ".tools" / "buildgrid-venv"
WORKER = Path(__file__).with_name("worker.py")
# initdb refuses to run as root; Debian's postgresql package creates this account.
PG_ACCOUNT = "postgres"
START_SECONDS = 60.0
STOP_SECONDS = 15.0

CONFIG = """\
server:
  - !channel
    address: "127.0.0.1:{port}"
    insecure-mode: true
# Every call in flight holds one gRPC slot and the rest are refused (RESOURCE_EXHAUSTED):
# the default (5 x cores) and even 64 are exhausted by Bazel's parallel uploads.
thread-pool-size: 256
connections:
  - !sql-connection &sql
    connection-string: {database}
    pool-size: 5
    max-overflow: 10
storages:
  - !disk-storage &cas
    path: {cas}
caches:
  - !lru-action-cache &ac
    storage: *cas
    max-cached-refs: 4096
    allow-updates: true
    cache-failed-actions: false
schedulers:
  - !sql-scheduler &scheduler
    sql: *sql
    action-cache: *ac
    storage: *cas
    property-set: !dynamic-property-set
      match-property-keys: []
      wildcard-property-keys: []
    # BuildGrid's defaults suit a farm (assign every 1-2 s, poll every 1 s); here each
    # action would wait that long, so one build of 100 small actions took 4x local.
    poll-interval: 0.1
    bot-poll-interval: 0.1
    assigners:
      - !priority-age-assigner
        interval: 0.05
        jitter-factor: 0.05
instances:
  - name: ""
    services:
      - !action-cache
        cache: *ac
      - !execution
        scheduler: *scheduler
      - !cas
        storage: *cas
      - !bytestream
        storage: *cas
"""


@dataclass(frozen=True)
class Tools:
    """The programs the stack runs; `missing` names what is not installed."""

    bgd: Path
    python: Path
    pg_bin: Path | None

    @property
    def missing(self) -> list[str]:
        gone = [str(p) for p in (self.bgd, self.python) if not p.exists()]
        if self.pg_bin is None:
            gone.append("PostgreSQL server (Debian's postgresql: /usr/lib/postgresql/*/bin)")
        if os.geteuid() == 0 and not _account_exists(PG_ACCOUNT):
            gone.append(f"the '{PG_ACCOUNT}' account (Debian's postgresql package creates it)")
        return gone


def find_tools() -> Tools:
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                      key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0)
    return Tools(bgd=BUILDGRID_VENV / "bin" / "bgd", python=BUILDGRID_VENV / "bin" / "python",
                 pg_bin=versions[-1].parent if versions else None)


@dataclass(frozen=True)
class Stack:
    endpoint: str          # grpc://127.0.0.1:PORT, for --remote-executor
    server_log: Path
    worker_log: Path

    def tails(self, lines: int = 40) -> str:
        """The last lines of both logs, for a failing assertion's message."""
        return "\n".join(f"--- {log.name}\n" + "\n".join(
            log.read_text(errors="replace").splitlines()[-lines:])
            for log in (self.server_log, self.worker_log) if log.exists())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _account_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _wait_port(port: int, proc: subprocess.Popen[bytes], what: str, log: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port} in {START_SECONDS:.0f}s:\n"
                       f"{log.read_text()[-3000:]}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the process group this child leads, then SIGKILL after a bounded wait."""
    if proc.poll() is not None:
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)  # the group of our own child (start_new_session)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=STOP_SECONDS)
            return
        except subprocess.TimeoutExpired:
            continue


@contextmanager
def postgres_cluster(tools: Tools) -> Iterator[str]:
    """A throw-away cluster on 127.0.0.1:<free port>; yields a SQLAlchemy URL."""
    assert tools.pg_bin is not None
    as_account = [] if os.geteuid() != 0 else ["runuser", "-u", PG_ACCOUNT, "--"]
    # Its own mkdtemp, not pytest's tmp_path: that one is private to root, and the
    # cluster runs as the postgres account.
    top = Path(tempfile.mkdtemp(prefix="cross_compiler-pg-"))
    data, port = top / "data", free_port()
    try:
        if as_account:
            entry = pwd.getpwnam(PG_ACCOUNT)
            os.chown(top, entry.pw_uid, entry.pw_gid)
        subprocess.run([*as_account, str(tools.pg_bin / "initdb"), "-D", str(data), "-U", "bgd",
                        "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"],
                       check=True, capture_output=True, timeout=START_SECONDS)
        options = (f"-c listen_addresses=127.0.0.1 -p {port} -k {top} "
                   "-c fsync=off -c full_page_writes=off -c synchronous_commit=off")
        subprocess.run([*as_account, str(tools.pg_bin / "pg_ctl"), "-D", str(data),
                        "-l", str(top / "postgres.log"), "-w", "-t", str(int(START_SECONDS)),
                        "-o", options, "start"],
                       check=True, capture_output=True, timeout=START_SECONDS + 5)
        try:
            subprocess.run([str(tools.pg_bin / "createdb"), "-h", "127.0.0.1", "-p", str(port),
                            "-U", "bgd", "bgd"], check=True, capture_output=True, timeout=30)
            yield f"postgresql+psycopg2://bgd@127.0.0.1:{port}/bgd"
        finally:
            _stop_cluster(tools, as_account, data)
    finally:
        shutil.rmtree(top, ignore_errors=True)


def _stop_cluster(tools: Tools, as_account: list[str], data: Path) -> None:
    assert tools.pg_bin is not None
    try:
        subprocess.run([*as_account, str(tools.pg_bin / "pg_ctl"), "-D", str(data), "-m",
                        "immediate", "-w", "-t", str(int(STOP_SECONDS)), "stop"],
                       capture_output=True, timeout=STOP_SECONDS + 5, check=False)
    except subprocess.TimeoutExpired:
        pass
    pidfile = data / "postmaster.pid"  # still there: pg_ctl could not stop it
    if pidfile.exists():
        try:
            os.kill(int(pidfile.read_text().split()[0]), signal.SIGKILL)
        except (ValueError, IndexError, ProcessLookupError):
            pass


@contextmanager
def buildgrid_stack(workdir: Path, jobs: int = 2, tools: Tools | None = None) -> Iterator[Stack]:
    """PostgreSQL, BuildGrid and `jobs` worker bots, all on 127.0.0.1, logs under `workdir`."""
    tools = tools or find_tools()
    if tools.missing:
        raise RuntimeError(f"missing: {', '.join(tools.missing)}; run scripts/setup.sh")
    workdir.mkdir(parents=True, exist_ok=True)
    server_log, worker_log = workdir / "buildgrid.log", workdir / "worker.log"
    with ExitStack() as stack:
        database = stack.enter_context(postgres_cluster(tools))
        subprocess.run([str(tools.bgd), "migrate", "apply", database], check=True,
                       capture_output=True, timeout=START_SECONDS, cwd=workdir)
        port = free_port()
        config = workdir / "buildgrid.yml"
        config.write_text(CONFIG.format(port=port, database=database, cas=workdir / "cas"))
        with server_log.open("wb") as out:
            server = subprocess.Popen([str(tools.bgd), "server", "start", str(config)],
                                      cwd=workdir, stdout=out, stderr=subprocess.STDOUT,
                                      start_new_session=True)
        stack.callback(_stop, server)
        _wait_port(port, server, "BuildGrid", server_log)
        scratch = workdir / "actions"
        scratch.mkdir(exist_ok=True)
        with worker_log.open("wb") as out:
            worker = subprocess.Popen([str(tools.python), str(WORKER),
                                       f"--remote=http://127.0.0.1:{port}", f"--jobs={jobs}",
                                       f"--scratch={scratch}"],
                                      cwd=workdir, stdout=out, stderr=subprocess.STDOUT,
                                      start_new_session=True)
        stack.callback(_stop, worker)
        yield Stack(endpoint=f"grpc://127.0.0.1:{port}", server_log=server_log,
                    worker_log=worker_log)
