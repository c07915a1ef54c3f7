"""The OpenAPI document: shipped, served at /openapi.json, in step with discovery, and kept by every
real response of every endpoint (each documented status, including 401 with an empty body)."""

from __future__ import annotations

import dataclasses
import json
import shutil
import tomllib
from collections.abc import Callable, Iterator
from importlib import metadata, resources
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
import schemathesis
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from cds_service import create_app
from cds_service.config import Issuer
from cds_service.fixtures import case_names, load_case, request_at
from cds_service.protocol.services import load_registry
from tests.builders import REFERENCE, hook_request, patient
from tests.conftest import settings_for_tests
from tests.robustness.contract import Contract, document
from tests.shapes import assert_cds_response
from tests.tokens import BASE, ISSUER, Ehr, bearer

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = Contract()
PV = "/cds-services/ane-patient-view"
INSTANCE = "5a0f3c3e-3d1b-4a59-9d2e-0a9f7c1d2b11"


def _keeps(method: str, path: str, response: TestResponse) -> None:
    problems = CONTRACT.problems(
        method,
        path,
        status=response.status_code,
        content_type=response.content_type,
        headers=dict(response.headers),
        body=response.data,
    )
    assert problems == [], f"{method} {path} {response.status_code}: {problems}"


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    return create_app(settings_for_tests(data_dir=tmp_path / "data"), clock=lambda: REFERENCE)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


# ---------------------------------------------------------------- the document itself


def test_the_document_is_openapi_3_1_with_valid_json_schemas() -> None:
    doc = document()
    assert doc["openapi"].startswith("3.1.")
    assert doc["info"]["version"] == metadata.version("ane-cds")
    for name, schema in doc["components"]["schemas"].items():
        assert jsonschema_rs.meta.is_valid(schema), name
    loaded = schemathesis.openapi.from_dict(doc)
    operations = [result.ok().label for result in loaded.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) == 8


def test_the_document_ships_in_the_package() -> None:
    assert resources.files("cds_service").joinpath("openapi.json").is_file()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    assert "openapi.json" in project["tool"]["setuptools"]["package-data"]["cds_service"]


def test_every_service_of_discovery_has_its_path_hook_and_prefetch_keys() -> None:
    doc = document()
    schemas = doc["components"]["schemas"]
    services = load_registry().discovery()["services"]
    feedback_ids = doc["paths"]["/cds-services/{id}/feedback"]["post"]["parameters"][0]
    assert sorted(feedback_ids["schema"]["enum"]) == sorted(s["id"] for s in services)
    for service in services:
        operation = doc["paths"][f"/cds-services/{service['id']}"]["post"]
        request = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        body_schema = schemas[request.rsplit("/", 1)[1]]
        assert body_schema["properties"]["hook"] == {"const": service["hook"]}
        assert set(schemas["Prefetch"]["properties"]) == set(service["prefetch"])


def test_the_document_is_served_without_a_token(tmp_path: Path) -> None:
    jwks = Ehr().write_jwks(tmp_path / "jwks.json")
    settings = settings_for_tests(
        data_dir=tmp_path,
        auth_enabled=True,
        public_base_url=BASE,
        issuers=(Issuer(iss=ISSUER, jwks_file=jwks),),
    )
    response = create_app(settings).test_client().get("/openapi.json")
    assert response.status_code == 200
    assert response.content_type == "application/json"
    assert json.loads(response.data) == document()
    _keeps("GET", "/openapi.json", response)


# ---------------------------------------------------------------- real responses, every endpoint


@pytest.mark.parametrize("name", case_names())
def test_every_golden_case_answer_keeps_the_document(client: FlaskClient, name: str) -> None:
    case = load_case(name)
    path = f"/cds-services/{case['service']}"
    response = client.post(path, json=request_at(case, REFERENCE))
    assert response.status_code == 200
    _keeps("POST", path, response)
    assert_cds_response(response.get_json())


def _body(**changes: Any) -> dict[str, Any]:
    body = hook_request("patient-view", [patient("2020-01-01")], instance=INSTANCE)
    body.update(changes)
    return body


ERRORS: dict[str, tuple[int, Callable[[FlaskClient], TestResponse]]] = {
    "malformed": (400, lambda c: c.post(PV, json=_body(hookInstance="not-a-uuid"))),
    "not json": (400, lambda c: c.post(PV, data="{", content_type="application/json")),
    "foreign fhirServer": (403, lambda c: c.post(PV, json=_body(fhirServer="https://x.test/r4"))),
    "no data": (412, lambda c: c.post(PV, json=_body(prefetch=None))),
    "too large": (413, lambda c: c.post(PV, json=_body(padding="x" * 6_000_000))),
    "not json type": (415, lambda c: c.post(PV, data="<a/>", content_type="application/xml")),
}


@pytest.mark.parametrize("name", ERRORS)
def test_hook_errors_are_documented_operation_outcomes(client: FlaskClient, name: str) -> None:
    status, call = ERRORS[name]
    response = call(client)
    assert response.status_code == status
    _keeps("POST", PV, response)
    assert response.get_json()["resourceType"] == "OperationOutcome"


def _served_card(client: FlaskClient) -> dict[str, Any]:
    case = load_case("e3-order-select")
    answer = client.post("/cds-services/ane-order-select", json=request_at(case, REFERENCE))
    card: dict[str, Any] = answer.get_json()["cards"][0]
    return card


def _item(card: str, suggestion: str | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {"card": card, "outcomeTimestamp": "2026-11-21T12:05:00Z"}
    if suggestion:
        return {**item, "outcome": "accepted", "acceptedSuggestions": [{"id": suggestion}]}
    reason = {"system": "urn:ane-cds:override-reason", "code": "reviewed"}
    return {**item, "outcome": "overridden", "overrideReason": {"reason": reason}}


def test_feedback_answers_keep_the_document(app: Flask, client: FlaskClient) -> None:
    card = _served_card(client)
    path = "/cds-services/ane-order-select/feedback"
    known = _item(card["uuid"], card["suggestions"][0]["uuid"])
    answers = {
        200: client.post(path, json={"feedback": [known, _item(INSTANCE)]}),
        400: client.post(path, json={"feedback": [{"card": card["uuid"]}]}),
        415: client.post(path, data="x", content_type="text/plain"),
    }
    assert answers[200].get_json() == {
        "received": 2,
        "stored": 2,
        "duplicates": 0,
        "unknownCards": [INSTANCE],
    }
    unknown = client.post("/cds-services/nope/feedback", json={"feedback": [known]})
    assert unknown.status_code == 404
    _keeps("POST", "/cds-services/nope/feedback", unknown)
    app.extensions["ane_cds"] = dataclasses.replace(app.extensions["ane_cds"], feedback=None)
    answers[503] = client.post(path, json={"feedback": [known]})
    for status, response in answers.items():
        assert response.status_code == status
        _keeps("POST", path, response)


def test_discovery_and_health_keep_the_document(tmp_path: Path) -> None:
    app = create_app(settings_for_tests(data_dir=tmp_path / "data"))
    client = app.test_client()
    for path in ("/cds-services", "/health/live", "/health/ready", "/openapi.json"):
        response = client.get(path)
        assert response.status_code == 200
        _keeps("GET", path, response)
    shutil.rmtree(tmp_path / "data")
    not_ready = client.get("/health/ready")
    assert not_ready.status_code == 503
    _keeps("GET", "/health/ready", not_ready)


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[tuple[FlaskClient, Ehr]]:
    ehr = Ehr()
    settings = settings_for_tests(
        data_dir=tmp_path,
        auth_enabled=True,
        public_base_url=BASE,
        issuers=(Issuer(iss=ISSUER, jwks_file=ehr.write_jwks(tmp_path / "jwks.json")),),
    )
    yield create_app(settings, clock=lambda: REFERENCE).test_client(), ehr


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/cds-services"), ("POST", PV), ("POST", "/cds-services/ane-order-sign/feedback")],
)
def test_a_refused_token_is_401_with_an_empty_body(
    secured: tuple[FlaskClient, Ehr], method: str, path: str
) -> None:
    client, ehr = secured
    for headers in ({}, bearer("not-a-jwt"), bearer(ehr.token("/elsewhere"))):
        response = client.open(path, method=method, json={}, headers=headers)
        assert response.status_code == 401
        assert response.data == b""
        _keeps(method, path, response)


def test_a_valid_token_gets_the_documented_answer(secured: tuple[FlaskClient, Ehr]) -> None:
    client, ehr = secured
    response = client.get("/cds-services", headers=bearer(ehr.token("/cds-services")))
    assert response.status_code == 200
    _keeps("GET", "/cds-services", response)


# ---------------------------------------------------------------- the oracle is not vacuous


def _card(**changes: Any) -> dict[str, Any]:
    card: dict[str, Any] = {
        "uuid": INSTANCE,
        "summary": "A summary.",
        "indicator": "info",
        "source": {"label": "ANE CDS"},
    }
    card.update(changes)
    return card


BROKEN: dict[str, dict[str, Any]] = {
    "summary of 140 characters": {"cards": [_card(summary="x" * 140)]},
    "a null": {"cards": [_card(detail=None)]},
    "an empty list": {"cards": [_card(overrideReasons=[])]},
    "suggestions without selectionBehavior": {
        "cards": [_card(suggestions=[{"label": "Do it", "actions": []}])]
    },
    "unknown indicator": {"cards": [_card(indicator="hint")]},
    "override reason without display": {
        "cards": [_card(overrideReasons=[{"system": "urn:x", "code": "y"}])]
    },
    "update without resource": {
        "cards": [
            _card(
                selectionBehavior="any",
                suggestions=[{"label": "Do", "actions": [{"type": "update", "description": "d"}]}],
            )
        ]
    },
    "unknown member": {"cards": [_card(colour="red")]},
}


@pytest.mark.parametrize("name", BROKEN)
def test_the_document_refuses_broken_answers(name: str) -> None:
    body = json.dumps(BROKEN[name]).encode()
    assert _problems("POST", PV, 200, body)
    assert _problems("POST", PV, 200, json.dumps(_ok()).encode()) == []


def _ok() -> dict[str, Any]:
    return {"cards": [_card()]}


def _problems(
    method: str,
    path: str,
    status: int,
    body: bytes,
    *,
    content_type: str = "application/json",
    headers: dict[str, str] | None = None,
) -> list[str]:
    return CONTRACT.problems(
        method, path, status=status, content_type=content_type, headers=headers or {}, body=body
    )


def test_the_oracle_refuses_a_401_with_a_body_and_an_undocumented_status() -> None:
    auth = {"WWW-Authenticate": "Bearer"}
    html = "text/html"
    assert _problems("GET", "/cds-services", 401, b"", content_type=html, headers=auth) == []
    assert _problems("GET", "/cds-services", 401, b"no", content_type=html, headers=auth)
    assert _problems("GET", "/cds-services", 401, b"", content_type=html)
    assert _problems("GET", "/cds-services", 418, b"{}")
