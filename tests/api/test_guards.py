"""Outbound FHIR allowlist (SSRF), CORS for browser clients, request size and type limits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import responses
from flask.testing import FlaskClient

from cds_service import create_app
from cds_service.config import Issuer
from cds_service.fhir.guard import fhir_server_allowed
from tests.builders import condition, hook_request, patient, searchset
from tests.conftest import settings_for_tests
from tests.tokens import BASE, ISSUER, Ehr, bearer

PV = "/cds-services/ane-patient-view"


def _fetching_body(server: str) -> dict[str, Any]:
    body = hook_request(
        "patient-view",
        [patient("2020-01-01"), condition("763310000", None)],
        fhir_server=server,
        token="fhir-token",
    )
    del body["prefetch"]["conditions"]
    return body


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://ehr.example.org/fhir", True),
        ("https://EHR.example.org:443/fhir/", True),
        ("https://ehr.example.org/fhir-other", False),
        ("https://ehr.example.org/fhir/../admin", False),
        ("https://ehr.example.org.evil.example/fhir", False),
        ("http://ehr.example.org/fhir", False),
        ("https://ehr.example.org:8443/fhir", False),
        ("http://127.0.0.1:9999/fhir", True),
        ("http://127.0.0.1:9998/fhir", False),
        ("https://user@ehr.example.org/fhir", False),
        ("https://ehr.example.org/fhir?_format=xml", False),
        ("https://ehr.example.org/fhir#x", False),
        ("not a url", False),
    ],
)
def test_fhir_server_allowlist_matches_exactly(url: str, allowed: bool) -> None:
    bases = ("https://ehr.example.org/fhir", "http://127.0.0.1:9999/fhir")
    assert fhir_server_allowed(url, bases) is allowed


@pytest.mark.parametrize(
    "server",
    [
        "https://evil.example.com/fhir",
        "http://169.254.169.254/latest",
        "http://ehr.example.org/fhir",
    ],
)
@responses.activate
def test_a_hook_naming_another_fhir_server_gets_403_and_no_outbound_call(
    client: FlaskClient, server: str
) -> None:
    response = client.post(PV, json=_fetching_body(server))
    assert response.status_code == 403
    assert response.get_json()["issue"][0]["expression"] == ["fhirServer"]
    assert len(responses.calls) == 0


@responses.activate
def test_an_allowed_fhir_server_is_called(client: FlaskClient) -> None:
    responses.get("https://ehr.example.org/fhir/Condition", json=searchset([]))
    assert client.post(PV, json=_fetching_body("https://ehr.example.org/fhir")).status_code == 200
    assert len(responses.calls) == 1


@responses.activate
def test_with_authentication_the_allowlist_is_the_callers_issuers(tmp_path: Path) -> None:
    ehr = Ehr()
    issuer = Issuer(
        iss=ISSUER,
        jwks_file=ehr.write_jwks(tmp_path / "jwks.json"),
        fhir_servers=("https://ehr.example.org/fhir",),
    )
    settings = settings_for_tests(
        auth_enabled=True,
        issuers=(issuer,),
        public_base_url=BASE,
        data_dir=tmp_path,
        fhir_servers=("https://other.example/fhir",),
    )
    client = create_app(settings).test_client()
    responses.get("https://ehr.example.org/fhir/Condition", json=searchset([]))
    ok = client.post(
        PV, json=_fetching_body("https://ehr.example.org/fhir"), headers=bearer(ehr.token(PV))
    )
    assert ok.status_code == 200
    refused = client.post(
        PV, json=_fetching_body("https://other.example/fhir"), headers=bearer(ehr.token(PV))
    )
    assert refused.status_code == 403
    assert len(responses.calls) == 1


def _cors_client(origins: tuple[str, ...], tmp_path: Path | None = None) -> FlaskClient:
    return create_app(settings_for_tests(cors_origins=origins)).test_client()


def test_preflight_is_answered_for_an_allowed_origin_without_a_token(tmp_path: Path) -> None:
    ehr = Ehr()
    issuer = Issuer(iss=ISSUER, jwks_file=ehr.write_jwks(tmp_path / "jwks.json"))
    client = create_app(
        settings_for_tests(
            auth_enabled=True,
            issuers=(issuer,),
            public_base_url=BASE,
            data_dir=tmp_path,
            cors_origins=("https://sandbox.example.org",),
        )
    ).test_client()
    response = client.options(
        PV,
        headers={
            "Origin": "https://sandbox.example.org",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "https://sandbox.example.org"
    allowed = response.headers["Access-Control-Allow-Headers"].lower()
    assert "authorization" in allowed and "content-type" in allowed
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert response.headers["Vary"] == "Origin"
    assert "Access-Control-Allow-Credentials" not in response.headers
    real = client.get(
        "/cds-services", headers={"Origin": "https://sandbox.example.org", **bearer(ehr.token())}
    )
    assert real.headers["Access-Control-Allow-Origin"] == "https://sandbox.example.org"


def test_other_origins_get_no_cors_headers() -> None:
    response = _cors_client(("https://sandbox.example.org",)).get(
        "/cds-services", headers={"Origin": "https://evil.example"}
    )
    assert "Access-Control-Allow-Origin" not in response.headers


def test_wildcard_origin_never_comes_with_credentials() -> None:
    response = _cors_client(("*",)).get("/cds-services", headers={"Origin": "https://any.example"})
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in response.headers


def test_no_cors_by_default(client: FlaskClient) -> None:
    response = client.get("/cds-services", headers={"Origin": "https://sandbox.example.org"})
    assert "Access-Control-Allow-Origin" not in response.headers


def test_body_over_the_limit_is_413_with_an_outcome() -> None:
    client = create_app(settings_for_tests(max_body_bytes=10_000)).test_client()
    body = hook_request("patient-view", [patient("2020-01-01")])
    body["padding"] = "x" * 20_000
    response = client.post(PV, json=body)
    assert response.status_code == 413
    assert response.get_json()["resourceType"] == "OperationOutcome"


def test_non_json_content_type_is_415(client: FlaskClient) -> None:
    response = client.post(PV, data="<xml/>", content_type="application/xml")
    assert response.status_code == 415
    assert response.get_json()["issue"][0]["expression"] == ["Content-Type"]
