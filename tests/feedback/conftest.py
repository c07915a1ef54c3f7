"""Fixtures for the feedback tests: a real PostgreSQL (session), and a store of each kind."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from cds_service import create_app
from cds_service.feedback import FeedbackStore, open_store
from tests.builders import REFERENCE
from tests.conftest import settings_for_tests
from tests.feedback.postgres import PostgresServer, PostgresUnavailable, start_postgres


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server on 127.0.0.1 for the whole run, stopped at its end."""
    try:
        server = start_postgres()
    except PostgresUnavailable as error:
        pytest.skip(f"PostgreSQL cannot be installed here: {error}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres: PostgresServer) -> str:
    """A fresh, empty database of the session's server."""
    return postgres.create_database(f"feedback_{uuid.uuid4().hex[:12]}")


@pytest.fixture(params=["sqlite", "postgres"])
def store_location(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, str]:
    """Where a store lives: (data dir, database URL); the URL is empty for SQLite."""
    if request.param == "postgres":
        return tmp_path, request.getfixturevalue("postgres_url")
    return tmp_path, ""


@pytest.fixture
def store(store_location: tuple[Path, str]) -> FeedbackStore:
    return open_store(*store_location)


@pytest.fixture
def feedback_app(tmp_path: Path) -> Flask:
    """The app with its feedback store in a temporary data directory."""
    return create_app(settings_for_tests(data_dir=tmp_path), clock=lambda: REFERENCE)


@pytest.fixture
def feedback_client(feedback_app: Flask) -> FlaskClient:
    return feedback_app.test_client()
