"""A FHIR server that is slow, answers 500, or is not there: 412 with a clear outcome, in time."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from cds_service.sandbox.simulator import fire
from tests.processes import cds_service, free_port, medplum

TOKEN = "fault-token-91c"


class _Failing(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b'{"resourceType": "OperationOutcome", "issue": []}'
        self.send_response(500)
        self.send_header("Content-Type", "application/fhir+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def failing_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Failing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/fhir"
    finally:
        server.shutdown()
        server.server_close()


def _outcome_texts(answer: dict[str, object]) -> list[str]:
    issues = answer["issue"]
    assert isinstance(issues, list)
    return [str(i["details"]["text"]) for i in issues]


def test_a_slow_server_gives_412_within_the_timeout() -> None:
    """Every answer takes 3 s; the service waits 1 s per try, 3 tries, then says so."""
    with medplum(TOKEN, delay_ms=3000) as fhir:
        env = {
            "CDS_FHIR_SERVERS": fhir.base,
            "CDS_FHIR_TIMEOUT": "1",
            "CDS_FHIR_CONNECT_TIMEOUT": "1",
        }
        with cds_service(env) as service:
            started = time.monotonic()
            fired = fire(
                service.base,
                fhir.base,
                "anyone",
                "patient-view",
                fhir_token=TOKEN,
                with_prefetch=False,
            )
            elapsed = time.monotonic() - started
    assert fired.status == 412
    assert all("did not answer in time" in t for t in _outcome_texts(fired.answer))
    assert elapsed < 10  # 3 tries of 1 s and back-off, never a hang


def test_a_server_answering_500_gives_412(failing_server: str) -> None:
    with cds_service({"CDS_FHIR_SERVERS": failing_server}) as service:
        fired = fire(
            service.base,
            failing_server,
            "anyone",
            "patient-view",
            fhir_token=TOKEN,
            with_prefetch=False,
        )
    assert fired.status == 412
    assert all("HTTP 500" in t for t in _outcome_texts(fired.answer))


def test_a_server_that_is_not_there_gives_412_quickly() -> None:
    gone = f"http://127.0.0.1:{free_port()}/fhir"
    with cds_service({"CDS_FHIR_SERVERS": gone}) as service:
        started = time.monotonic()
        fired = fire(
            service.base, gone, "anyone", "patient-view", fhir_token=TOKEN, with_prefetch=False
        )
        elapsed = time.monotonic() - started
    assert fired.status == 412
    assert all("could not be reached" in t for t in _outcome_texts(fired.answer))
    assert elapsed < 10
