"""Shared fixtures: the app with a fixed clock, its test client, the knowledge."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from cds_service import create_app
from cds_service.clinical.knowledge import Knowledge, default_knowledge
from cds_service.config import Settings
from cds_service.fhir.client import ClientSettings
from tests.builders import REFERENCE

FAST_FHIR = ClientSettings(connect_timeout_s=1, read_timeout_s=2, retries=2, retry_backoff_s=0)


@pytest.fixture
def knowledge() -> Knowledge:
    return default_knowledge()


@pytest.fixture
def app() -> Iterator[Flask]:
    yield create_app(Settings(fhir=FAST_FHIR), clock=lambda: REFERENCE)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()
