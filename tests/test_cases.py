"""Golden cases (fhir_fixtures/cases): exactly the expected cards, with prefetch and via FHIR fetch."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
import responses

from cds_service import create_app
from cds_service.fhir.gather import expected_type
from cds_service.fixtures import case_names, load_case
from cds_service.protocol.services import load_registry
from tests.conftest import settings_for_tests
from tests.shapes import assert_cds_response

BASE = "https://ehr.example.org/fhir"
TOKEN = "case-token-5d1e"


def _post(case: dict[str, Any], body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    now = datetime.fromisoformat(case["referenceInstant"])
    app = create_app(settings_for_tests(), clock=lambda: now)
    response = app.test_client().post(f"/cds-services/{case['service']}", json=body)
    return response.status_code, response.get_json()


def _fetch_only(case: dict[str, Any], rsps: responses.RequestsMock) -> dict[str, Any]:
    """The case's request without prefetch, its data served by a fake FHIR server."""
    body = dict(case["request"])
    prefetch = body.pop("prefetch")
    body["fhirServer"] = BASE
    body["fhirAuthorization"] = {
        "access_token": TOKEN,
        "token_type": "Bearer",
        "expires_in": 300,
        "scope": "patient/*.read",
        "subject": "ane-cds",
    }
    patient_id = body["context"]["patientId"]
    templates = load_registry().get(case["service"]).prefetch  # type: ignore[union-attr]
    for key, value in prefetch.items():
        kind = expected_type(templates[key])
        url = f"{BASE}/{kind}/{patient_id}" if kind == "Patient" else f"{BASE}/{kind}"
        rsps.get(url, json=value)
    return body


def _check(case: dict[str, Any], status: int, body: dict[str, Any]) -> None:
    expected = case["expect"]
    assert status == expected["status"]
    assert_cds_response(body)
    got = sorted((c["source"]["topic"]["code"], c["indicator"]) for c in body["cards"])
    want = sorted((c["topic"], c["indicator"]) for c in expected["cards"])
    assert got == want
    by_topic = {c["source"]["topic"]["code"]: c for c in body["cards"]}
    for card in expected["cards"]:
        _check_card(by_topic[card["topic"]], card)


def _check_card(card: dict[str, Any], expected: dict[str, Any]) -> None:
    if "summary_includes" in expected:
        assert expected["summary_includes"] in card["summary"]
    for text in expected.get("detail_includes", []):
        assert text in card["detail"]
    if "extension" in expected:
        assert card["extension"] == expected["extension"]
    if "action" in expected:
        want = expected["action"]
        actions = [a for s in card["suggestions"] for a in s["actions"]]
        assert [a["type"] for a in actions] == [want["type"]]
        resource = actions[0]["resource"]
        dose = resource["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]
        assert dose == {
            "value": want["dose_mg"],
            "unit": "mg",
            "system": "http://unitsofmeasure.org",
            "code": "mg",
        }
        if "resource_id" in want:
            assert resource["id"] == want["resource_id"]


@pytest.mark.parametrize("name", case_names())
def test_case_with_full_prefetch(name: str) -> None:
    case = load_case(name)
    _check(case, *_post(case, case["request"]))


@pytest.mark.parametrize("name", case_names())
def test_case_with_no_prefetch_fetches_from_fhir(name: str) -> None:
    case = load_case(name)
    with responses.RequestsMock() as rsps:
        body = _fetch_only(case, rsps)
        status, answer = _post(case, body)
        assert all(c.request.headers["Authorization"] == f"Bearer {TOKEN}" for c in rsps.calls)
    _check(case, status, answer)


def test_there_are_golden_cases_for_the_worked_examples() -> None:
    assert {
        "e1-patient-view",
        "e2-order-sign",
        "e3-order-select",
        "e5-patient-view-adult",
        "e6-order-select-no-ane",
    } <= set(case_names())
