"""Draft orders: which are checked, and the MedicationRequests that suggestions carry (section 11)."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from cds_service.clinical.advice import Advice, advice, fmt
from cds_service.clinical.dosing import Unreadable
from cds_service.clinical.facts import MedicationOrder, PatientFacts
from cds_service.clinical.knowledge import Knowledge

HOURS_PER_DAY = 24


def checked_orders(facts: PatientFacts) -> list[MedicationOrder]:
    """order-select: the selected draft orders; order-sign: every draft order."""
    if facts.selections is None:
        return list(facts.draft_orders)
    selected = set(facts.selections)
    return [o for o in facts.draft_orders if o.id and f"MedicationRequest/{o.id}" in selected]


def dose_quantity(mg: int, knowledge: Knowledge) -> dict[str, Any]:
    """A UCUM mg Quantity."""
    return {"value": mg, "unit": "mg", "system": knowledge.systems.ucum, "code": "mg"}


def frequency_text(per_day: Decimal | None) -> str:
    """'once daily', 'every 12 h' or 'n times a day' for doses per day (None: single dose)."""
    if per_day is None:
        return "as a single daily dose"
    if per_day == 1:
        return "once daily"
    hours = Decimal(HOURS_PER_DAY) / per_day
    if hours == hours.to_integral_value():
        return f"every {fmt(hours)} h"
    return f"{fmt(per_day)} times a day"


def new_order(
    knowledge: Knowledge,
    *,
    drug: str,
    patient_id: str,
    dose_mg: int,
    text: str,
    repeat: Mapping[str, Any],
) -> dict[str, Any]:
    """A draft R4 MedicationRequest for `drug` (knowledge medications key) at `dose_mg`."""
    medication = knowledge.medications[drug]
    return {
        "resourceType": "MedicationRequest",
        "status": "draft",
        "intent": "order",
        "subject": {"reference": f"Patient/{patient_id}"},
        "medicationCodeableConcept": {
            "coding": [
                {
                    "system": knowledge.systems.rxnorm,
                    "code": medication.ingredient,
                    "display": medication.display,
                }
            ],
            "text": medication.display,
        },
        "dosageInstruction": [
            {
                "text": text,
                "route": {"coding": [knowledge.dosing.route_iv.model_dump()]},
                "timing": {"repeat": dict(repeat)},
                "doseAndRate": [{"doseQuantity": dose_quantity(dose_mg, knowledge)}],
            }
        ],
    }


def why_no_update(order: MedicationOrder) -> str | None:
    """Why a draft order cannot be sent back with a new dose (a sentence); None if it can."""
    if not order.id:
        return "the draft order has no id to update."
    if len(order.raw.get("dosageInstruction") or []) != 1:
        return "the order has several dosage instructions."
    problems = order.echo_problems()
    if problems:
        named = [p for p in problems if p != "(resource)"]  # "(resource)": no element to name
        where = f" (at {', '.join(named)})" if named else ""
        return f"the draft order is not valid FHIR R4{where}, so it cannot be sent back changed."
    return None


def updated_order(
    order: MedicationOrder, dose_mg: int, text: str, knowledge: Knowledge
) -> dict[str, Any] | None:
    """The whole draft order with only its dose and dosage text changed; None when
    why_no_update gives a reason it cannot be sent back."""
    if why_no_update(order) is not None:
        return None
    resource = copy.deepcopy(dict(order.raw))
    dosage = resource["dosageInstruction"][0]
    rates = dosage.get("doseAndRate") or [{}]
    rates[0] = {**rates[0], "doseQuantity": dose_quantity(dose_mg, knowledge)}
    dosage["doseAndRate"] = rates
    dosage["text"] = text
    pruned: dict[str, Any] = prune_empty(resource)
    return pruned


def prune_empty(value: Any) -> Any:
    """A copy without null, "", [] or {} elements (FHIR forbids them; CDS Hooks responses too)."""
    if isinstance(value, dict):
        items = {k: prune_empty(v) for k, v in value.items()}
        return {k: v for k, v in items.items() if v not in (None, "", [], {})}
    if isinstance(value, list):
        kept = [prune_empty(v) for v in value]
        return [v for v in kept if v not in (None, "", [], {})]
    return value


def unreadable_card(order: MedicationOrder, reading: Unreadable, knowledge: Knowledge) -> Advice:
    """dose-unreadable: what could not be read; no dose card is given."""
    drug = knowledge.medications[order.drug or "mp"].display
    return advice(
        knowledge,
        "dose-unreadable",
        [
            f"Order: {order.drug_text or drug}.",
            f"Could not read the dose: {reading.reason}"
            + (f" ({reading.detail})." if reading.detail else "."),
            "The dose was not checked. Give the dose as a quantity in mg, g or mg/kg with a timing.",
        ],
        subject=order.ref,
        drug=drug,
        reason=reading.reason,
    )
