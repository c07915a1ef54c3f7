"""A real PostgreSQL for the tests, from Debian's packages, on 127.0.0.1 only.

`start_postgres()` installs the `postgresql` package with apt-get when no server binaries are
present (the install is kept from starting Debian's own cluster), runs initdb into a temporary
directory, and starts the server on a free port of 127.0.0.1 with its unix socket in that
directory. `PostgresServer.stop()` stops it and removes the directory; it also runs at exit, so
a test run never leaves a server behind. PostgreSQL refuses to run as root: under root the
server runs as the `postgres` user the package creates.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

PG_ROOT = Path("/usr/lib/postgresql")
POLICY_RC = Path("/usr/sbin/policy-rc.d")
APT_TIMEOUT_S = 300
START_TIMEOUT_S = 30
SERVER_USER = "ane"


class PostgresUnavailable(Exception):
    """PostgreSQL is not installed and cannot be installed here (the reason says why)."""


def find_bindir() -> Path | None:
    """The newest installed PostgreSQL's bin directory (Debian layout), if any."""
    versions = [
        p for p in PG_ROOT.glob("*/bin") if p.parent.name.isdigit() and (p / "initdb").is_file()
    ]
    return max(versions, key=lambda p: int(p.parent.name)) if versions else None


def install_postgres() -> Path:
    """PostgreSQL's bin directory, installing the Debian package first when it is missing."""
    bindir = find_bindir()
    if bindir is not None:
        return bindir
    if os.geteuid() != 0:
        raise PostgresUnavailable("not installed, and apt-get install postgresql needs root")
    if shutil.which("apt-get") is None:
        raise PostgresUnavailable("not installed, and there is no apt-get on this machine")
    with _no_service_start():
        result = _apt("install", "-y", "--no-install-recommends", "postgresql")
        if result.returncode != 0:  # an old or missing package list: refresh it once
            _apt("update")
            result = _apt("install", "-y", "--no-install-recommends", "postgresql")
    bindir = find_bindir()
    if bindir is None:
        tail = (result.stderr or result.stdout or "").strip().splitlines()[-3:]
        raise PostgresUnavailable(f"apt-get install postgresql failed: {' | '.join(tail)}")
    return bindir


def _apt(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        return subprocess.run(
            ["apt-get", "-q", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=APT_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(["apt-get", *args], 1, "", "apt-get timed out")


@contextmanager
def _no_service_start() -> Iterator[None]:
    """Keep the package's postinst from starting Debian's 'main' cluster (invoke-rc.d policy)."""
    if POLICY_RC.exists():
        yield
        return
    POLICY_RC.write_text("#!/bin/sh\n# ane-cds tests: no service starts during apt-get\nexit 101\n")
    POLICY_RC.chmod(0o755)
    try:
        yield
    finally:
        POLICY_RC.unlink(missing_ok=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class PostgresServer:
    """A running test server: its port, and the OS user it runs as (None: the current one)."""

    bindir: Path
    root: Path
    port: int
    run_as: str | None
    started_s: float
    _stopped: bool = field(default=False, repr=False)

    @property
    def data(self) -> Path:
        return self.root / "data"

    def url(self, database: str = "postgres") -> str:
        """A connection URL over TCP to 127.0.0.1 (trust authentication, test only)."""
        return f"postgresql://{SERVER_USER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A new empty database; its URL."""
        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        """Stop the server (fast shutdown) and remove its directory; safe to call twice."""
        if self._stopped:
            return
        self._stopped = True
        stop = [str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"]
        result = _run_as(stop, self.run_as, self.root, check=False)
        if result.returncode != 0:
            self._kill_postmaster()
        shutil.rmtree(self.root, ignore_errors=True)

    def _kill_postmaster(self) -> None:
        """Last resort: the postmaster this helper started, by the pid it wrote."""
        pid_file = self.data / "postmaster.pid"
        if pid_file.is_file():
            pid = int(pid_file.read_text().splitlines()[0])
            try:
                os.kill(pid, signal.SIGQUIT)
            except ProcessLookupError:
                return
            time.sleep(1)


def _run_as(
    command: Sequence[str], user: str | None, cwd: Path, check: bool = True
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        list(command),
        user=user,
        group=user,
        extra_groups=[] if user else None,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT_S + 30,
        check=False,
    )
    if check and result.returncode != 0:
        raise RuntimeError(f"{Path(command[0]).name} failed: {result.stderr.strip()[-500:]}")
    return result


def start_postgres() -> PostgresServer:
    """Install if needed, initdb into a temporary directory, start on 127.0.0.1."""
    began = time.monotonic()
    bindir = install_postgres()
    run_as = "postgres" if os.geteuid() == 0 else None
    root = Path(tempfile.mkdtemp(prefix="ane-cds-pg-"))
    if run_as:
        shutil.chown(root, run_as, run_as)
    server = PostgresServer(bindir, root, _free_port(), run_as, 0.0)
    atexit.register(server.stop)
    initdb = [str(bindir / "initdb"), "-D", str(server.data), "-U", SERVER_USER, "-A", "trust"]
    _run_as([*initdb, "-E", "UTF8", "--no-locale", "--no-sync"], run_as, root)
    options = f"-p {server.port} -k {root} -c listen_addresses=127.0.0.1"
    log = root / "server.log"
    start = [str(bindir / "pg_ctl"), "-D", str(server.data), "-l", str(log), "-o", options]
    try:
        _run_as([*start, "-w", "-t", str(START_TIMEOUT_S), "start"], run_as, root)
    except RuntimeError:
        server.stop()
        raise
    server.started_s = time.monotonic() - began
    return server
