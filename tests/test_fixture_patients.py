"""The synthetic patients of fhir_fixtures/patients give exactly the cards their manifest names."""

from __future__ import annotations

from typing import Any

import pytest

from cds_service.fhir.r4 import validate_whole_resource
from cds_service.fixtures import bundle_resources, patient_bundle, patient_manifest
from tests.builders import REFERENCE
from tests.hookrun import run_hook

MANIFEST = patient_manifest()
PATIENTS = {p["id"]: p for p in MANIFEST["patients"]}
ORDER_CASES = [(p["id"], i) for p in MANIFEST["patients"] for i in range(len(p.get("orders", [])))]


def _pairs(cards: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return sorted((c["source"]["topic"]["code"], c["indicator"]) for c in cards)


def _expected(items: list[dict[str, str]]) -> list[tuple[str, str]]:
    return sorted((c["topic"], c["indicator"]) for c in items)


def test_the_manifest_covers_what_integration_teams_need() -> None:
    assert MANIFEST["referenceInstant"] == REFERENCE.isoformat().replace("+00:00", "Z")
    ane = [p for p in PATIENTS if p.startswith("ane-")]
    assert len(ane) >= 12 and len(PATIENTS) - len(ane) >= 3
    counts = {p: len(bundle_resources(patient_bundle(PATIENTS[p]))) for p in PATIENTS}
    assert max(counts.values()) >= 200, "one data-rich patient for paging and benchmarks"


@pytest.mark.parametrize("pid", sorted(PATIENTS))
def test_bundle_is_a_valid_r4_transaction_with_stable_ids(pid: str) -> None:
    bundle = patient_bundle(PATIENTS[pid])
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "transaction"
    for entry in bundle["entry"]:
        resource = entry["resource"]
        validate_whole_resource(resource)
        assert entry["request"] == {
            "method": "PUT",
            "url": f"{resource['resourceType']}/{resource['id']}",
        }
        assert resource["id"].startswith(pid)


@pytest.mark.parametrize("pid", sorted(PATIENTS))
def test_patient_view_gives_the_named_cards(pid: str) -> None:
    patient = PATIENTS[pid]
    resources = bundle_resources(patient_bundle(patient))
    cards = run_hook("patient-view", resources, pid=pid)
    assert _pairs(cards) == _expected(patient["expect"]["patient-view"])


@pytest.mark.parametrize(("pid", "index"), ORDER_CASES)
def test_order_hooks_give_the_named_cards(pid: str, index: int) -> None:
    order = PATIENTS[pid]["orders"][index]
    resources = bundle_resources(patient_bundle(PATIENTS[pid]))
    cards = run_hook(order["hook"], resources, drafts=[order["draft"]], pid=pid)
    assert _pairs(cards) == _expected(order["expect"])
