"""Black box: the real `ane-cds serve` (gunicorn) on 127.0.0.1, called over HTTP, then stopped."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from cds_service.fixtures import load_case, request_at
from tests.shapes import assert_cds_response

ANE_CDS = Path(sys.executable).parent / "ane-cds"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


SERVER_LOG: list[str] = []
STOPPERS: dict[str, Callable[[], None]] = {}


def _stop_now(base: str) -> None:
    STOPPERS.pop(base)()


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    port = _free_port()
    log_file = tempfile.TemporaryFile()  # noqa: SIM115 (closed in the finally below)
    process = subprocess.Popen(
        [str(ANE_CDS), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env={**os.environ, "CDS_LOG_LEVEL": "INFO", "CDS_AUTH": "off"},
    )
    base = f"http://127.0.0.1:{port}"

    def stop() -> None:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=10)
            log_file.seek(0)
            SERVER_LOG.extend(log_file.read().decode().splitlines())

    STOPPERS[base] = stop
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                requests.get(f"{base}/cds-services", timeout=1)
                break
            except requests.ConnectionError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("gunicorn did not start") from None
                time.sleep(0.1)
        yield base
    finally:
        stop()
        STOPPERS.pop(base, None)
        log_file.close()


def test_discovery_over_http(server: str) -> None:
    response = requests.get(f"{server}/cds-services", timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    assert len(response.json()["services"]) == 3


def test_order_select_hook_over_http(server: str) -> None:
    case = load_case("e3-order-select")
    body = request_at(case, datetime.now(UTC))
    response = requests.post(f"{server}/cds-services/ane-order-select", json=body, timeout=10)
    assert response.status_code == 200
    answer = response.json()
    assert_cds_response(answer)
    assert [c["source"]["topic"]["code"] for c in answer["cards"]] == ["mp-dose-above-max"]


def test_bad_request_over_http_is_an_outcome(server: str) -> None:
    response = requests.post(
        f"{server}/cds-services/ane-patient-view",
        data="{",
        headers={"Content-Type": "application/json"},
        timeout=5,
    )
    assert response.status_code == 400
    assert response.json()["resourceType"] == "OperationOutcome"


def test_server_logs_are_json_lines_without_patient_data(server: str) -> None:
    """Runs last in this module: stop the server and read everything it logged."""
    body = request_at(load_case("e1-patient-view"), datetime.now(UTC))
    requests.post(f"{server}/cds-services/ane-patient-view", json=body, timeout=10)
    patient_id = body["context"]["patientId"]
    birth = body["prefetch"]["patient"]["birthDate"]
    _stop_now(server)
    assert SERVER_LOG, "the server logged"
    events = [json.loads(line) for line in SERVER_LOG if line.strip()]
    answered = [e for e in events if e.get("event") == "hook answered"]
    assert answered and all(e["service"] and e["hook_instance"] for e in answered)
    assert any("authentication is OFF" in e["event"] for e in events)
    text = "\n".join(SERVER_LOG)
    assert patient_id not in text and birth not in text
