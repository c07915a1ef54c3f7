"""Health endpoints: liveness and readiness answer without a JWT and never leak a reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from flask import Flask

from cds_service import create_app
from cds_service.config import Issuer
from tests.builders import REFERENCE
from tests.conftest import settings_for_tests
from tests.tokens import BASE, ISSUER, Ehr


def _app(tmp_path: Path, **changes: object) -> Flask:
    settings = settings_for_tests(data_dir=tmp_path / "data", **changes)
    return create_app(settings, clock=lambda: REFERENCE)


def _secured_app(tmp_path: Path) -> tuple[Flask, Path]:
    jwks = Ehr().write_jwks(tmp_path / "jwks.json")
    issuer = Issuer(iss=ISSUER, jwks_file=jwks)
    app = _app(tmp_path, auth_enabled=True, public_base_url=BASE, issuers=(issuer,))
    return app, jwks


def test_liveness_answers_200(tmp_path: Path) -> None:
    response = _app(tmp_path).test_client().get("/health/live")
    assert response.status_code == 200
    assert response.get_json() == {"status": "live"}
    assert response.headers["Cache-Control"] == "no-store"


def test_readiness_names_the_knowledge_version_and_services(tmp_path: Path) -> None:
    app = _app(tmp_path)
    response = app.test_client().get("/health/ready")
    assert response.status_code == 200
    version = app.extensions["ane_cds"].knowledge.meta.version
    assert response.get_json() == {"status": "ready", "knowledge": version, "services": 3}


def test_health_needs_no_token_when_authentication_is_on(tmp_path: Path) -> None:
    app, _ = _secured_app(tmp_path)
    client = app.test_client()
    assert client.get("/cds-services").status_code == 401
    assert client.get("/health/live").status_code == 200
    assert client.get("/health/ready").status_code == 200


def test_readiness_fails_when_a_jwks_file_disappears(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app, jwks = _secured_app(tmp_path)
    jwks.unlink()
    response = app.test_client().get("/health/ready")
    assert response.status_code == 503
    assert response.get_json() == {"status": "not-ready", "failed": ["configuration"]}
    assert "JWKS" not in json.dumps(response.get_json())
    assert any("configuration check failed" in r.getMessage() for r in caplog.records)


def test_readiness_fails_when_the_data_dir_is_gone(tmp_path: Path) -> None:
    app = _app(tmp_path)
    (tmp_path / "data").rename(tmp_path / "elsewhere")
    response = app.test_client().get("/health/ready")
    assert response.status_code == 503
    assert response.get_json()["failed"] == ["data_dir"]


@pytest.mark.parametrize("path", ["/health/live", "/health/ready"])
def test_health_endpoints_are_read_only(tmp_path: Path, path: str) -> None:
    response = _app(tmp_path).test_client().post(path, json={})
    assert response.status_code == 405
    assert response.get_json()["resourceType"] == "OperationOutcome"
