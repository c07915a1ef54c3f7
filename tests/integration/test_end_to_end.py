"""Every synthetic patient through the real service against a real FHIR server, with prefetch
filled by the EHR simulator and with no prefetch (the service fetches with the token)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from cds_service.fixtures import patient_manifest, shift_to
from cds_service.sandbox.loader import load_patients
from cds_service.sandbox.simulator import fire
from tests.integration.conftest import Stack

MANIFEST = patient_manifest()
PATIENTS = MANIFEST["patients"]


def _pairs(answer: dict[str, Any]) -> list[tuple[str, str]]:
    return sorted((c["source"]["topic"]["code"], c["indicator"]) for c in answer["cards"])


def _expected(items: list[dict[str, str]]) -> list[tuple[str, str]]:
    return sorted((c["topic"], c["indicator"]) for c in items)


@pytest.mark.parametrize("prefetch", [True, False], ids=["prefetch", "no-prefetch"])
@pytest.mark.parametrize("patient", PATIENTS, ids=[p["id"] for p in PATIENTS])
def test_patient_view(stack: Stack, patient: dict[str, Any], prefetch: bool) -> None:
    fired = fire(
        stack.service.base,
        stack.fhir_base,
        patient["id"],
        "patient-view",
        fhir_token=stack.token,
        with_prefetch=prefetch,
    )
    assert fired.status == 200, fired.answer
    assert _pairs(fired.answer) == _expected(patient["expect"]["patient-view"])
    if prefetch:
        assert set(fired.request["prefetch"]) == {
            "patient",
            "observations",
            "conditions",
            "medications",
            "allergies",
        }


ORDERS = [(p, o) for p in PATIENTS for o in p.get("orders", [])]


@pytest.mark.parametrize("prefetch", [True, False], ids=["prefetch", "no-prefetch"])
@pytest.mark.parametrize(
    ("patient", "order"),
    ORDERS,
    ids=[f"{p['id']}-{o['hook']}-{i}" for i, (p, o) in enumerate(ORDERS)],
)
def test_order_hooks(
    stack: Stack, patient: dict[str, Any], order: dict[str, Any], prefetch: bool
) -> None:
    draft = shift_to(order["draft"], MANIFEST["referenceInstant"], datetime.now(UTC))
    fired = fire(
        stack.service.base,
        stack.fhir_base,
        patient["id"],
        order["hook"],
        draft=draft,
        fhir_token=stack.token,
        with_prefetch=prefetch,
    )
    assert fired.status == 200, fired.answer
    assert _pairs(fired.answer) == _expected(order["expect"])


def test_loading_twice_changes_nothing(stack: Stack) -> None:
    report = load_patients(
        stack.fhir_base, datetime.now(UTC), token=stack.token, only=["ane-high-severity"]
    )
    assert report.loaded == ["ane-high-severity"] and report.failed == {}
    fired = fire(
        stack.service.base,
        stack.fhir_base,
        "ane-high-severity",
        "patient-view",
        fhir_token=stack.token,
        with_prefetch=False,
    )
    assert ("severity-score", "warning") in _pairs(fired.answer)


def test_a_search_over_several_pages_is_read_whole(stack: Stack) -> None:
    """ane-treatment-response has 230 Observations: the servers page them (20 a page or so)."""
    fired = fire(
        stack.service.base,
        stack.fhir_base,
        "ane-treatment-response",
        "patient-view",
        fhir_token=stack.token,
        with_prefetch=False,
    )
    assert ("treatment-response", "info") in _pairs(fired.answer)
    simulated = fire(
        stack.service.base,
        stack.fhir_base,
        "ane-treatment-response",
        "patient-view",
        fhir_token=stack.token,
        with_prefetch=True,
    )
    observations = simulated.request["prefetch"]["observations"]["entry"]
    assert len(observations) >= 200


def test_a_wrong_token_gives_412_naming_the_keys(stack: Stack) -> None:
    if stack.token is None:
        pytest.skip("the external server needs no token")
    fired = fire(
        stack.service.base,
        stack.fhir_base,
        "ane-high-severity",
        "patient-view",
        fhir_token="wrong-token",
        with_prefetch=False,
    )
    assert fired.status == 412
    texts = [i["details"]["text"] for i in fired.answer["issue"]]
    assert texts and all("refused the access token" in t for t in texts)
