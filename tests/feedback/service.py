"""The real `ane-cds serve` (gunicorn, several workers) on 127.0.0.1 for the feedback tests."""

from __future__ import annotations

import os
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

ANE_CDS = Path(sys.executable).parent / "ane-cds"
START_TIMEOUT_S = 30


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Service:
    """A running service: its base URL; its log once it has stopped."""

    base: str
    log: list[str] = field(default_factory=list)


@contextmanager
def running_service(
    env: Mapping[str, str], workers: int = 4, threads: int = 2
) -> Iterator[Service]:
    """Start gunicorn with `env` (CDS_AUTH off), wait until it answers, stop it afterwards."""
    port = _free_port()
    log_file = tempfile.TemporaryFile()  # noqa: SIM115 (closed in the finally below)
    command = [str(ANE_CDS), "serve", "--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(
        [*command, "--workers", str(workers), "--threads", str(threads)],
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env={**os.environ, "CDS_AUTH": "off", "CDS_LOG_LEVEL": "INFO", **env},
    )
    service = Service(f"http://127.0.0.1:{port}")
    try:
        _wait_until_up(service.base, process)
        yield service
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)
        log_file.seek(0)
        service.log.extend(log_file.read().decode(errors="replace").splitlines())
        log_file.close()


def _wait_until_up(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            requests.get(f"{base}/cds-services", timeout=1)
            return
        except requests.ConnectionError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("ane-cds serve did not start") from None
            time.sleep(0.1)
