"""Shared fixtures: the app with a fixed clock, its test client, the knowledge."""

from __future__ import annotations

import logging
import logging.config
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from cds_service import create_app
from cds_service.clinical.knowledge import Knowledge, default_knowledge
from cds_service.config import Settings
from cds_service.fhir.client import ClientSettings
from cds_service.web.logs import JsonFormatter, logging_config
from tests.builders import REFERENCE

FAST_FHIR = ClientSettings(connect_timeout_s=1, read_timeout_s=2, retries=2, retry_backoff_s=0)
# FHIR servers the tests' fake servers (responses) stand for; any other is refused.
TEST_FHIR_SERVERS = (
    "https://ehr.example.org/fhir",
    "https://fhir.test.example/r4",
)


# Replay store and feedback database of in-process test apps: a directory of this run only.
TEST_DATA_DIR = Path(tempfile.mkdtemp(prefix="ane-cds-tests-"))


def settings_for_tests(**changes: object) -> Settings:
    """Settings for tests: authentication off (tests/api/test_auth.py turns it on)."""
    values: dict[str, object] = {
        "fhir": FAST_FHIR,
        "auth_enabled": False,
        "fhir_servers": TEST_FHIR_SERVERS,
        "data_dir": TEST_DATA_DIR,
    }
    values.update(changes)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def knowledge() -> Knowledge:
    return default_knowledge()


@pytest.fixture
def app() -> Iterator[Flask]:
    yield create_app(settings_for_tests(), clock=lambda: REFERENCE)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


# ---------------------------------------------------------------- log scan of the whole run
# Every log record of the test run is formatted as the service formats it in production and
# kept; at the end the run fails if any holds an access token, a JWT, a bearer header or a
# patient identifier used by the tests.
SECRET_PATTERNS = (
    re.compile(r"eyJ[\w-]{10,}\.[\w-]{10,}"),  # a JWT (header.payload)
    re.compile(r"Bearer\s+[A-Za-z0-9._~+/-]{8,}", re.IGNORECASE),  # a bearer credential
    re.compile(r"(secret-access-token|case-token|hookrun-token|fhir-token)"),
    re.compile(r"ane-child-\d"),  # the tests' patient ids
)


class _Keep(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record) + " " + repr(record.__dict__))


KEPT = _Keep()


def pytest_sessionstart(session: pytest.Session) -> None:
    logging.config.dictConfig(logging_config("DEBUG"))
    KEPT.setFormatter(JsonFormatter())
    logging.getLogger().addHandler(KEPT)


@pytest.fixture(autouse=True)
def _keep_scanning_logs() -> None:
    """A test that runs the CLI in-process reconfigures logging; put the scan handler back."""
    root = logging.getLogger()
    if KEPT not in root.handlers:
        root.addHandler(KEPT)
    root.setLevel(logging.DEBUG)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    shutil.rmtree(TEST_DATA_DIR, ignore_errors=True)
    leaks = [line for line in KEPT.lines if any(p.search(line) for p in SECRET_PATTERNS)]
    print(f"\nlog scan: {len(KEPT.lines)} log records checked, {len(leaks)} with secrets")
    if leaks:
        for line in leaks[:5]:
            print(f"LEAK: {line[:300]}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
