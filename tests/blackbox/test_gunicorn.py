"""Black box: the real `ane-cds serve` (gunicorn) on 127.0.0.1, called over HTTP, then stopped."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import requests

from cds_service.fixtures import load_case, request_at
from tests.processes import Running, cds_service
from tests.shapes import assert_cds_response


@pytest.fixture(scope="module")
def server() -> Iterator[Running]:
    with cds_service({"CDS_LOG_LEVEL": "INFO"}) as running:
        yield running


def test_discovery_over_http(server: Running) -> None:
    response = requests.get(f"{server.base}/cds-services", timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    assert len(response.json()["services"]) == 3


def test_order_select_hook_over_http(server: Running) -> None:
    body = request_at(load_case("e3-order-select"), datetime.now(UTC))
    response = requests.post(f"{server.base}/cds-services/ane-order-select", json=body, timeout=10)
    assert response.status_code == 200
    answer = response.json()
    assert_cds_response(answer)
    assert [c["source"]["topic"]["code"] for c in answer["cards"]] == ["mp-dose-above-max"]


def test_bad_request_over_http_is_an_outcome(server: Running) -> None:
    response = requests.post(
        f"{server.base}/cds-services/ane-patient-view",
        data="{",
        headers={"Content-Type": "application/json"},
        timeout=5,
    )
    assert response.status_code == 400
    assert response.json()["resourceType"] == "OperationOutcome"


def test_server_logs_are_json_lines_without_patient_data() -> None:
    """A server of its own, stopped before its log is read whole."""
    body = request_at(load_case("e1-patient-view"), datetime.now(UTC))
    with cds_service({"CDS_LOG_LEVEL": "INFO"}) as running:
        answer = requests.post(
            f"{running.base}/cds-services/ane-patient-view", json=body, timeout=10
        )
        assert answer.status_code == 200
    assert running.log, "the server logged"
    events = [json.loads(line) for line in running.log if line.strip()]
    answered = [e for e in events if e.get("event") == "hook answered"]
    assert answered and all(e["service"] and e["hook_instance"] for e in answered)
    assert any("authentication is OFF" in e["event"] for e in events)
    text = "\n".join(running.log)
    assert body["context"]["patientId"] not in text
    assert body["prefetch"]["patient"]["birthDate"] not in text
