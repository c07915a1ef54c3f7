"""Discovery and the error statuses of POST /cds-services/{id}: 400, 404, 405, 412, 415."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest
from flask.testing import FlaskClient

from cds_service.protocol.cards import find_empty_values
from cds_service.protocol.services import ALLOWED_TOKENS, TOKEN
from tests.builders import condition, hook_request, med_order, patient

PV = "/cds-services/ane-patient-view"
OSEL = "/cds-services/ane-order-select"


def _outcome_paths(body: dict[str, Any]) -> list[str]:
    assert body["resourceType"] == "OperationOutcome"
    return [path for issue in body["issue"] for path in issue["expression"]]


def test_discovery_lists_the_three_services(client: FlaskClient) -> None:
    response = client.get("/cds-services")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    services = {s["id"]: s for s in response.get_json()["services"]}
    assert {k: v["hook"] for k, v in services.items()} == {
        "ane-patient-view": "patient-view",
        "ane-order-select": "order-select",
        "ane-order-sign": "order-sign",
    }
    for service in services.values():
        assert service["title"] and service["description"] and service["usageRequirements"]
        assert find_empty_values(service) == []
        for template in service["prefetch"].values():
            assert set(TOKEN.findall(template)) <= ALLOWED_TOKENS
            assert "draftOrders" not in template and "sort:desc" not in template


def test_unknown_service_is_404_with_outcome(client: FlaskClient) -> None:
    response = client.post("/cds-services/nope", json={})
    assert response.status_code == 404
    assert _outcome_paths(response.get_json()) == ["service"]


def test_unknown_route_and_wrong_method_are_outcomes(client: FlaskClient) -> None:
    assert client.get("/nothing").get_json()["resourceType"] == "OperationOutcome"
    response = client.get(PV)
    assert response.status_code == 405
    assert response.get_json()["resourceType"] == "OperationOutcome"


def test_non_json_content_type_is_415(client: FlaskClient) -> None:
    response = client.post(PV, data="hook=patient-view", content_type="text/plain")
    assert response.status_code == 415
    assert response.get_json()["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize("raw", ["{", "", "nul", '{"hook": "patient-view",}', "\x00"])
def test_body_that_is_not_json_is_400(client: FlaskClient, raw: str) -> None:
    response = client.post(PV, data=raw, content_type="application/json")
    assert response.status_code == 400
    assert _outcome_paths(response.get_json()) == ["$"]


def _valid() -> dict[str, Any]:
    return hook_request("patient-view", [patient("2020-01-01"), condition("763310000", None)])


def _without(path: str) -> dict[str, Any]:
    body = _valid()
    *parents, last = path.split(".")
    target = body
    for part in parents:
        target = target[part]
    del target[last]
    return body


def _with(path: str, value: Any) -> dict[str, Any]:
    body = _valid()
    *parents, last = path.split(".")
    target = body
    for part in parents:
        target = target[part]
    target[last] = value
    return body


MALFORMED = [
    ("array body", [1, 2], "$"),
    ("string body", "patient-view", "$"),
    ("null body", None, "$"),
    ("no hook", _without("hook"), "hook"),
    ("no hookInstance", _without("hookInstance"), "hookInstance"),
    ("no context", _without("context"), "context"),
    ("hookInstance not a uuid", _with("hookInstance", "abc"), "hookInstance"),
    ("hook of another service", _with("hook", "order-sign"), "hook"),
    ("hook is a number", _with("hook", 7), "hook"),
    ("context is a list", _with("context", []), "context"),
    ("no patientId", _without("context.patientId"), "context.patientId"),
    ("no userId", _without("context.userId"), "context.userId"),
    ("patientId is a number", _with("context.patientId", 12), "context.patientId"),
    ("empty patientId", _with("context.patientId", ""), "context.patientId"),
    ("prefetch is a list", _with("prefetch", []), "prefetch"),
    ("prefetch key is a string", _with("prefetch.patient", "123"), "prefetch.patient"),
    ("fhirServer not a URL", _with("fhirServer", "not a url"), "fhirServer"),
    ("fhirServer ftp", _with("fhirServer", "ftp://example.org/fhir"), "fhirServer"),
    (
        "fhirAuthorization without fhirServer",
        _with(
            "fhirAuthorization",
            {
                "access_token": "t",
                "token_type": "Bearer",
                "expires_in": 300,
                "scope": "s",
                "subject": "x",
            },
        ),
        "fhirServer",
    ),
    (
        "token_type not Bearer",
        {
            **_with(
                "fhirAuthorization",
                {
                    "access_token": "t",
                    "token_type": "MAC",
                    "expires_in": 300,
                    "scope": "s",
                    "subject": "x",
                },
            ),
            "fhirServer": "https://ehr.example.org/fhir",
        },
        "fhirAuthorization.token_type",
    ),
    (
        "fhirAuthorization missing access_token",
        {
            **_with(
                "fhirAuthorization",
                {"token_type": "Bearer", "expires_in": 300, "scope": "s", "subject": "x"},
            ),
            "fhirServer": "https://ehr.example.org/fhir",
        },
        "fhirAuthorization.access_token",
    ),
    (
        "patient resource with an invalid birthDate",
        _with("prefetch.patient", {"resourceType": "Patient", "birthDate": "soon"}),
        "prefetch.patient.birthDate",
    ),
    (
        "patient key holds an Observation",
        _with(
            "prefetch.patient",
            {"resourceType": "Observation", "status": "final", "code": {"text": "x"}},
        ),
        "prefetch.patient.resourceType",
    ),
    (
        "bundle entry without resource",
        _with(
            "prefetch.conditions",
            {"resourceType": "Bundle", "type": "searchset", "entry": [{"fullUrl": "x"}]},
        ),
        "prefetch.conditions.entry",
    ),
    (
        "condition with an invalid onset",
        _with(
            "prefetch.conditions",
            {
                "resourceType": "Bundle",
                "type": "searchset",
                "entry": [
                    {"resource": {**condition("763310000", None), "onsetDateTime": "yesterday"}}
                ],
            },
        ),
        "prefetch.conditions.entry[0].resource.onsetDateTime",
    ),
    (
        "the path counts a search outcome entry before the invalid resource",
        _with(
            "prefetch.conditions",
            {
                "resourceType": "Bundle",
                "type": "searchset",
                "entry": [
                    {
                        "resource": {"resourceType": "OperationOutcome", "issue": []},
                        "search": {"mode": "outcome"},
                    },
                    {"resource": condition("763310000", "2026-11-20")},
                    {"resource": {**condition("763310000", None), "onsetDateTime": "yesterday"}},
                ],
            },
        ),
        "prefetch.conditions.entry[2].resource.onsetDateTime",
    ),
    (
        "an invalid resource is reported before a later one of the wrong type",
        _with(
            "prefetch.conditions",
            {
                "resourceType": "Bundle",
                "type": "searchset",
                "entry": [
                    {"resource": {**condition("763310000", None), "onsetDateTime": "yesterday"}},
                    {"resource": patient("2020-01-01")},
                ],
            },
        ),
        "prefetch.conditions.entry[0].resource.onsetDateTime",
    ),
    (
        "a resource of the wrong type is reported before a later invalid one",
        _with(
            "prefetch.conditions",
            {
                "resourceType": "Bundle",
                "type": "searchset",
                "entry": [
                    {"resource": condition("763310000", "2026-11-20")},
                    {"resource": patient("2020-01-01")},
                    {"resource": {**condition("763310000", None), "onsetDateTime": "yesterday"}},
                ],
            },
        ),
        "prefetch.conditions.entry[1].resource.resourceType",
    ),
]


@pytest.mark.parametrize(("name", "body", "path"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_request_is_400_naming_the_field(
    client: FlaskClient, name: str, body: Any, path: str
) -> None:
    response = client.post(PV, data=json.dumps(body), content_type="application/json")
    assert response.status_code == 400, name
    assert path in _outcome_paths(response.get_json())
    assert "Traceback" not in response.get_data(as_text=True)


def test_error_bodies_never_echo_patient_values(client: FlaskClient) -> None:
    body = _with("prefetch.patient", {"resourceType": "Patient", "birthDate": "SECRET-VALUE-42"})
    text = client.post(PV, json=body).get_data(as_text=True)
    assert "SECRET-VALUE-42" not in text


ORDER_MALFORMED: list[tuple[str, str, Any, str]] = [
    ("no draftOrders", "draftOrders", None, "context.draftOrders"),
    ("no selections", "selections", None, "context.selections"),
    ("empty selections", "selections", [], "context.selections"),
    (
        "draftOrders not a Bundle",
        "draftOrders",
        {"resourceType": "List"},
        "context.draftOrders.resourceType",
    ),
    (
        "draft MedicationRequest invalid",
        "draftOrders",
        {
            "resourceType": "Bundle",
            "entry": [
                {
                    "resource": {
                        "resourceType": "MedicationRequest",
                        "status": "draft",
                        "intent": "order",
                        "subject": {"reference": "Patient/x"},
                        "medicationCodeableConcept": {"text": "x"},
                        "dosageInstruction": [{"timing": {"repeat": {"frequency": "twice"}}}],
                    }
                }
            ],
        },
        "context.draftOrders.entry[0].resource.dosageInstruction[0].timing.repeat.frequency",
    ),
]


@pytest.mark.parametrize(
    ("name", "field", "value", "path"), ORDER_MALFORMED, ids=[m[0] for m in ORDER_MALFORMED]
)
def test_malformed_order_context_is_400(
    client: FlaskClient, name: str, field: str, value: Any, path: str
) -> None:
    body = hook_request(
        "order-select", [patient("2020-01-01")], drafts=[med_order("6902", 500, oid="a")]
    )
    if value is None:
        del body["context"][field]
    else:
        body["context"][field] = value
    response = client.post(OSEL, json=body)
    assert response.status_code == 400, name
    assert path in _outcome_paths(response.get_json())


def test_unknown_fields_and_extension_are_tolerated(client: FlaskClient) -> None:
    body = _valid()
    body["extension"] = {"com.example.x": 1}
    body["somethingNew"] = {"a": 1}
    body["context"]["extra"] = "tolerated"
    body["prefetch"]["unused-key"] = {"resourceType": "Bundle", "type": "searchset"}
    assert client.post(PV, json=body).status_code == 200


def test_non_medication_draft_orders_are_ignored(client: FlaskClient) -> None:
    nutrition = {"resourceType": "NutritionOrder", "id": "diet", "anything": "goes"}
    body = hook_request(
        "order-select",
        [patient("2020-01-01")],
        drafts=[nutrition],
        selections=["NutritionOrder/diet"],
    )
    response = client.post(OSEL, json=body)
    assert response.status_code == 200
    assert response.get_json() == {"cards": []}


def test_no_prefetch_and_no_fhir_server_is_412_naming_each_key(client: FlaskClient) -> None:
    body = _valid()
    del body["prefetch"]
    response = client.post(PV, json=body)
    assert response.status_code == 412
    paths = _outcome_paths(response.get_json())
    assert sorted(paths) == sorted(
        f"prefetch.{k}"
        for k in ("patient", "observations", "conditions", "medications", "allergies")
    )


def test_fhir_server_without_token_is_412_by_default(client: FlaskClient) -> None:
    body = _valid()
    del body["prefetch"]["observations"]
    body["fhirServer"] = "https://ehr.example.org/fhir"
    response = client.post(PV, json=body)
    assert response.status_code == 412
    assert _outcome_paths(response.get_json()) == ["prefetch.observations"]


def test_every_response_is_free_of_empty_values(client: FlaskClient) -> None:
    body = copy.deepcopy(_valid())
    cards = client.post(PV, json=body).get_json()["cards"]
    assert cards, "an ANE child without data still gets cards (weight missing, criteria)"
    assert find_empty_values({"cards": cards}) == []
    assert all(re.fullmatch(r"[0-9a-f-]{36}", c["uuid"]) for c in cards)


def test_update_of_a_draft_with_empty_elements_is_still_a_valid_answer(
    client: FlaskClient,
) -> None:
    """Found by property testing: an echoed draft with `repeat: {}` once broke the response."""
    order = med_order("6902", 100, oid="mp-empty")
    order["dosageInstruction"][0]["timing"] = {"repeat": {}}
    order["note"] = []
    resources = [patient("2020-01-01"), condition("763310000", "2026-11-21T02:00:00Z")]
    resources.append(
        {
            "resourceType": "Observation",
            "id": "w",
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
            "effectiveDateTime": "2026-11-21T10:00:00Z",
            "valueQuantity": {
                "value": 20,
                "unit": "kg",
                "system": "http://unitsofmeasure.org",
                "code": "kg",
            },
        }
    )
    body = hook_request("order-select", resources, drafts=[order])
    response = client.post(OSEL, json=body)
    assert response.status_code == 200
    cards = response.get_json()["cards"]
    assert [c["source"]["topic"]["code"] for c in cards] == ["mp-dose-low"]
    assert find_empty_values({"cards": cards}) == []


def test_per_dose_rounding_never_lifts_the_daily_total_over_the_cap(client: FlaskClient) -> None:
    """Found by property testing: 1,000 mg/day in 15 doses once rounded to 67 mg (1,005 mg/day)."""
    order = med_order("6902", 1, frequency=5, period=8, period_unit="h", oid="mp-15")
    resources = [patient("2020-01-01"), condition("763310000", "2026-11-21T02:00:00Z")]
    resources.append(
        {
            "resourceType": "Observation",
            "id": "w",
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
            "effectiveDateTime": "2026-11-21T10:00:00Z",
            "valueQuantity": {
                "value": 40,
                "unit": "kg",
                "system": "http://unitsofmeasure.org",
                "code": "kg",
            },
        }
    )
    response = client.post(OSEL, json=hook_request("order-select", resources, drafts=[order]))
    [card] = response.get_json()["cards"]
    dose = card["suggestions"][0]["actions"][0]["resource"]["dosageInstruction"][0]
    assert dose["doseAndRate"][0]["doseQuantity"]["value"] == 66  # 66 x 15 = 990 <= 1,000
