"""Faults found by fuzzing in cds_service/fhir and cds_service/clinical, each now fixed: the
answer the service must give, so that none comes back."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.builders import ago, birth_date, condition, hook_request, med_order, patient, weight
from tests.robustness.test_clinical_properties import per_day

PV = "/cds-services/ane-patient-view"


@pytest.mark.parametrize("search", ["match", ["outcome"], 1])
def test_a_bundle_entry_whose_search_is_not_an_object_is_400(
    client: FlaskClient, search: Any
) -> None:
    body = hook_request("patient-view", [patient(birth_date(5)), weight(18, ago(hours=2))])
    body["prefetch"]["observations"]["entry"][0]["search"] = search
    response = client.post(PV, json=body)
    assert response.status_code == 400
    assert response.get_json()["issue"][0]["expression"] == ["prefetch.observations.entry"]


def test_a_draft_order_containing_an_unknown_resource_type_is_never_echoed(
    client: FlaskClient,
) -> None:
    draft = med_order("6902", 600, oid="mp")  # 600 mg/day for 18 kg: above the 540 mg target
    draft["contained"] = [{"resourceType": "NoSuchResource", "id": "x"}]
    resources = [patient(birth_date(5)), weight(18, ago(hours=2)), condition("763310000", ago(1))]
    body = hook_request("order-sign", resources, drafts=[draft])
    response = client.post("/cds-services/ane-order-sign", json=body)
    assert response.status_code == 200
    [card] = [c for c in response.get_json()["cards"] if "suggestions" not in c]
    assert card["source"]["topic"]["code"] == "mp-dose-above-target"
    assert "the draft order is not valid FHIR R4, so it cannot be sent back" in card["detail"]


@pytest.mark.parametrize("onset", ["0001-01-01", "0001-01-10T00:00:00Z", "9999-12-31"])
def test_an_ane_onset_at_the_edge_of_the_calendar_is_answered(
    client: FlaskClient, onset: str
) -> None:
    resources = [patient(birth_date(5)), weight(18, ago(hours=2)), condition("763310000", onset)]
    response = client.post(PV, json=hook_request("patient-view", resources))
    assert response.status_code in (200, 400)


@pytest.mark.parametrize(
    "repeat", [{"period": 1e-10, "periodUnit": "d"}, {"periodUnit": "h"}, {"period": 1e-12}]
)
def test_an_mp_draft_with_an_unreadable_period_gets_no_suggestion_above_the_cap(
    client: FlaskClient, repeat: dict[str, Any]
) -> None:
    resources = [
        patient(birth_date(5)),
        weight(20, ago(hours=2)),
        condition("763310000", ago(hours=10)),
    ]
    draft = med_order(
        "6902", 100, frequency=None, period=None, period_unit=None, oid="mp", repeat_extra=repeat
    )
    body = hook_request("order-select", resources, drafts=[draft])
    answer = client.post("/cds-services/ane-order-select", json=body).get_json()
    for card in answer["cards"]:
        for suggestion in card.get("suggestions", []):
            for action in suggestion["actions"]:
                for dosage in action.get("resource", {}).get("dosageInstruction", []):
                    daily = per_day(dosage)
                    dose = dosage["doseAndRate"][0]["doseQuantity"]["value"]
                    assert daily is not None and dose * daily <= 1000
