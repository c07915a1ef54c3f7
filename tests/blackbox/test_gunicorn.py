"""Black box: the real `ane-cds serve` (gunicorn) on 127.0.0.1, called over HTTP, then stopped."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
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


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    port = _free_port()
    process = subprocess.Popen(
        [str(ANE_CDS), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
        env={**os.environ, "CDS_LOG_LEVEL": "INFO"},
    )
    base = f"http://127.0.0.1:{port}"
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
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
        assert process.stderr is not None
        process.stderr.close()


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
