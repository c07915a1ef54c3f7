"""Run a scenario through the whole service twice: with full prefetch, and fetching from FHIR."""

from __future__ import annotations

from typing import Any

import responses

from cds_service import create_app
from cds_service.fhir.gather import expected_type
from cds_service.protocol.services import load_registry
from tests.builders import PATIENT_ID, REFERENCE, hook_request, prefetch_for
from tests.conftest import settings_for_tests
from tests.shapes import assert_cds_response

BASE = "https://fhir.test.example/r4"
TOKEN = "hookrun-token"
SERVICES = {
    "patient-view": "ane-patient-view",
    "order-select": "ane-order-select",
    "order-sign": "ane-order-sign",
}


def _post(body: dict[str, Any], hook: str) -> dict[str, Any]:
    app = create_app(settings_for_tests(), clock=lambda: REFERENCE)
    response = app.test_client().post(f"/cds-services/{SERVICES[hook]}", json=body)
    assert response.status_code == 200, response.get_json()
    answer: dict[str, Any] = response.get_json()
    assert_cds_response(answer)
    return answer


def run_hook(
    hook: str,
    resources: list[dict[str, Any]],
    drafts: list[dict[str, Any]] | None = None,
    selections: list[str] | None = None,
    pid: str = PATIENT_ID,
) -> list[dict[str, Any]]:
    """The cards of one hook call; the FHIR-fetch path must give exactly the same answer."""
    request = hook_request(hook, resources, drafts=drafts, selections=selections, pid=pid)
    with_prefetch = _post(request, hook)
    templates = load_registry().get(SERVICES[hook]).prefetch  # type: ignore[union-attr]
    prefetch = prefetch_for(resources)
    with responses.RequestsMock() as rsps:
        for key, template in templates.items():
            kind = expected_type(template)
            url = f"{BASE}/{kind}/{pid}" if kind == "Patient" else f"{BASE}/{kind}"
            rsps.get(url, json=prefetch[key])
        body = hook_request(
            hook,
            resources,
            drafts=drafts,
            selections=selections,
            prefetch=False,
            fhir_server=BASE,
            token=TOKEN,
            pid=pid,
        )
        fetched = _post(body, hook)
    assert fetched == with_prefetch
    cards: list[dict[str, Any]] = with_prefetch["cards"]
    return cards


def card_topics(cards: list[dict[str, Any]]) -> list[str]:
    """Topic codes in order."""
    return [c["source"]["topic"]["code"] for c in cards]


def card(cards: list[dict[str, Any]], topic: str) -> dict[str, Any]:
    """The one card of a topic."""
    found = [c for c in cards if c["source"]["topic"]["code"] == topic]
    assert len(found) == 1, f"expected one {topic} in {card_topics(cards)}"
    return found[0]


def suggested_dose_mg(card_json: dict[str, Any]) -> int:
    """The dose of a card's first suggested MedicationRequest."""
    resource = card_json["suggestions"][0]["actions"][0]["resource"]
    value: int = resource["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]["value"]
    return value
