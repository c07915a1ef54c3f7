"""Start real server processes on 127.0.0.1 for tests, and always stop them."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
ANE_CDS = Path(sys.executable).parent / "ane-cds"
MEDPLUM_DIR = ROOT / "integration" / "medplum"
SEKMET = ROOT / ".venv-sekmet" / "bin" / "sekmet"
SETUP_HINT = "run `make test` (or `make integration-setup`), which installs the test servers"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Running:
    """A started process, its base URL and (after it stopped) what it logged."""

    base: str
    process: subprocess.Popen[bytes]
    log: list[str] = field(default_factory=list)


def _wait_until_up(url: str, process: subprocess.Popen[bytes], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            requests.get(url, timeout=10)  # long enough for a deliberately slow server
            return
        except requests.RequestException:
            if process.poll() is not None:
                raise RuntimeError(f"server exited with {process.returncode}") from None
            if time.monotonic() > deadline:
                raise RuntimeError(f"server not up after {seconds} s") from None
            time.sleep(0.1)


@contextmanager
def running(
    command: list[str],
    base: str,
    probe: str,
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    startup_s: float = 30,
) -> Iterator[Running]:
    """Run a server process until the block ends; its output is kept in `log`."""
    with tempfile.TemporaryFile() as output:
        process = subprocess.Popen(
            command,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **(env or {})},
            cwd=cwd,
        )
        run = Running(base, process)
        try:
            _wait_until_up(probe, process, startup_s)
            yield run
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(timeout=10)
            output.seek(0)
            run.log.extend(output.read().decode(errors="replace").splitlines())


@contextmanager
def cds_service(env: Mapping[str, str], *, workers: int = 2, threads: int = 4) -> Iterator[Running]:
    """The real service under gunicorn (`ane-cds serve`), authentication off unless `env` says."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [
        str(ANE_CDS),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--threads",
        str(threads),
    ]
    defaults = {"CDS_AUTH": "off", "CDS_PUBLIC_BASE_URL": base}
    with running(command, base, f"{base}/cds-services", env={**defaults, **env}) as run:
        yield run


@contextmanager
def medplum(token: str, delay_ms: int = 0) -> Iterator[Running]:
    """The Medplum FHIR engine behind the project's Node front end, in memory."""
    node = shutil.which("node")
    if node is None or not (MEDPLUM_DIR / "node_modules").is_dir():
        raise RuntimeError(f"Node and integration/medplum/node_modules are needed: {SETUP_HINT}")
    port = free_port()
    base = f"http://127.0.0.1:{port}/fhir"
    command = [
        node,
        "--experimental-websocket",
        "server.mjs",
        "--port",
        str(port),
        "--token",
        token,
        "--delay-ms",
        str(delay_ms),
    ]
    with running(command, base, f"{base}/metadata", cwd=MEDPLUM_DIR) as run:
        yield run


@contextmanager
def sekmet(token: str) -> Iterator[Running]:
    """The sekmet-fhir server (PyPI) from its own virtual environment, bearer token required."""
    if not SEKMET.exists():
        raise RuntimeError(f"sekmet-fhir is not installed in .venv-sekmet: {SETUP_HINT}")
    port = free_port()
    base = f"http://127.0.0.1:{port}/fhir"
    with tempfile.TemporaryDirectory() as data:
        settings = Path(data) / "settings.yaml"
        settings.write_text(
            f"base_url: {base}\nhost: 127.0.0.1\nport: {port}\ndata_dir: {data}\n"
            f"db_path: {data}/sekmet.db\nserver_auth:\n  types: [bearer]\n  tokens: [{token}]\n"
            "simulator:\n  enabled: false\n"
        )
        command = [str(SEKMET), "serve", "-c", str(settings)]
        with running(command, base, f"{base}/metadata", cwd=Path(data), startup_s=60) as run:
            yield run
