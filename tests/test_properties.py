"""Invariants over generated patients and orders: dose caps, card shape, no empty values."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cds_service.clinical.engine import evaluate
from cds_service.clinical.knowledge import default_knowledge
from cds_service.fhir.facts import build_facts
from cds_service.protocol.cards import response_body
from cds_service.protocol.render import render_cards
from tests.builders import (
    PATIENT_ID,
    REFERENCE,
    ago,
    birth_date,
    condition,
    finding,
    lab,
    med_order,
    patient,
    weight,
)
from tests.shapes import assert_cds_response

KNOWLEDGE = default_knowledge()
PROFILE = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
weights_kg = st.decimals(min_value=1, max_value=250, places=1)


def _answer(
    hook: str, resources: list[dict[str, Any]], drafts: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    selections = [f"MedicationRequest/{d['id']}" for d in drafts or []]
    facts = build_facts(
        PATIENT_ID,
        resources,
        KNOWLEDGE,
        drafts or [],
        selections if hook == "order-select" else None,
    )
    advice = evaluate(hook, facts, REFERENCE, KNOWLEDGE)
    body = response_body(render_cards(advice, "0b9f4b7e-5a4e-4c55-9d87-9d0c6f3b2a10", KNOWLEDGE))
    assert_cds_response(body)
    return body


def _ane_child(weight_kg: Decimal, years: int = 5) -> list[dict[str, Any]]:
    return [
        patient(birth_date(years)),
        weight(float(weight_kg), ago(hours=2)),
        condition("763310000", ago(hours=10)),
        condition("27942005", ago(hours=9)),
        finding("brainstem-lesion", True, ago(hours=8)),
        lab("777-3", 150, "10*3/uL", ago(hours=5)),
        lab("751-8", 4, "10*3/uL", ago(hours=5)),
    ]


def _suggested(body: dict[str, Any]) -> list[tuple[str, Decimal, dict[str, Any]]]:
    """(drug code, dose mg, dosage) of every suggested MedicationRequest."""
    found = []
    for card in body["cards"]:
        for suggestion in card.get("suggestions", []):
            for action in suggestion["actions"]:
                resource = action.get("resource")
                if resource:
                    dosage = resource["dosageInstruction"][0]
                    dose = dosage["doseAndRate"][0]["doseQuantity"]
                    assert dose["unit"] == "mg"
                    codes = [c["code"] for c in resource["medicationCodeableConcept"]["coding"]]
                    found.append((codes[0], Decimal(str(dose["value"])), dosage))
    return found


def _per_day(dosage: dict[str, Any]) -> Decimal:
    repeat = dosage.get("timing", {}).get("repeat", {})
    if "period" not in repeat:
        return Decimal(1)
    seconds = KNOWLEDGE.dosing.period_seconds[repeat["periodUnit"]]
    return Decimal(repeat.get("frequency", 1)) * 86400 / (Decimal(str(repeat["period"])) * seconds)


@PROFILE
@given(weight_kg=weights_kg)
def test_recommended_doses_never_exceed_their_caps(weight_kg: Decimal) -> None:
    body = _answer("patient-view", _ane_child(weight_kg))
    doses = {code: dose for code, dose, _ in _suggested(body)}
    assert doses["6902"] <= KNOWLEDGE.mp.max_mg_day
    assert doses["6902"] == min(round(30 * weight_kg + Decimal("0.0001")), 1000) or abs(
        doses["6902"] - min(30 * weight_kg, Decimal(1000))
    ) <= Decimal("0.5")
    assert doses["612865"] <= KNOWLEDGE.tcz.max_mg


@PROFILE
@given(
    weight_kg=weights_kg,
    dose=st.integers(min_value=1, max_value=6000),
    frequency=st.integers(min_value=1, max_value=6),
    period=st.sampled_from(
        [(1, "d"), (12, "h"), (8, "h"), (6, "h"), (48, "h"), (2, "d"), (1, "wk")]
    ),
    drug=st.sampled_from(["6902", "612865"]),
)
def test_update_suggestions_never_exceed_the_caps(
    weight_kg: Decimal, dose: int, frequency: int, period: tuple[int, str], drug: str
) -> None:
    order = med_order(
        drug, dose, frequency=frequency, period=period[0], period_unit=period[1], oid="draft-1"
    )
    body = _answer("order-select", _ane_child(weight_kg), [order])
    for code, suggested, dosage in _suggested(body):
        if code == "612865" or (code == "6902" and drug == "612865"):
            assert suggested <= KNOWLEDGE.tcz.max_mg
        if drug == "6902":
            assert suggested <= KNOWLEDGE.mp.max_mg_day
            assert suggested * _per_day(dosage) <= KNOWLEDGE.mp.max_mg_day


@PROFILE
@given(
    years=st.integers(min_value=0, max_value=40),
    weight_kg=st.one_of(st.none(), weights_kg),
    platelets=st.one_of(st.none(), st.integers(min_value=1, max_value=600)),
    csf_cells=st.one_of(st.none(), st.integers(min_value=0, max_value=50)),
    unit=st.sampled_from(["mg/dL", "g/L", "mg/L", "furlongs"]),
    onset_hours=st.one_of(st.none(), st.integers(min_value=0, max_value=24 * 40)),
    hook=st.sampled_from(["patient-view", "order-select", "order-sign"]),
)
def test_every_answer_is_well_formed(
    *,
    years: int,
    weight_kg: Decimal | None,
    platelets: int | None,
    csf_cells: int | None,
    unit: str,
    onset_hours: int | None,
    hook: str,
) -> None:
    resources: list[dict[str, Any]] = [
        patient(birth_date(years)),
        condition("763310000", None if onset_hours is None else ago(hours=onset_hours)),
        lab("2880-3", 80, unit, ago(hours=3)),
    ]
    if weight_kg is not None:
        resources.append(weight(float(weight_kg), ago(hours=2)))
    if platelets is not None:
        resources.append(lab("777-3", platelets, "10*3/uL", ago(hours=4)))
    if csf_cells is not None:
        resources.append(lab("26465-5", csf_cells, "/uL", ago(hours=4)))
    drafts = [
        med_order("6902", 700, oid="m"),
        med_order("612865", 500, frequency=None, period=None, period_unit=None, oid="t"),
    ]
    body = _answer(hook, resources, drafts if hook != "patient-view" else None)
    assert body["cards"], "an ANE child always gets at least one card on these hooks"
    for card in body["cards"]:
        assert card["source"]["topic"]["code"] in KNOWLEDGE.cards
        assert len(card["summary"]) <= 140
