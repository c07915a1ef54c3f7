"""Clinical vocabulary and small patient stories for the rule tables, and the summary check."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from cds_service.clinical.advice import ActionDraft, Advice
from tests.builders import REFERENCE, UCUM, Json, ago, birth_date, condition, patient, weight
from tests.unit.rules import run_rules

SUMMARY_MAX = 139  # CDS Hooks: a summary is shorter than 140 characters (ane-rules.md s11)
HOOKS = ("patient-view", "order-select", "order-sign")

# SNOMED CT
ANE = "763310000"
FAMILIAL_ANE = "723359002"
ENCEPHALOPATHY = "81308009"
FEVER = "386661006"
INFLUENZA_A = "442438000"
SHOCK = "27942005"
SEPTIC_SHOCK = "76571007"
BACTERIAL_SEPSIS = "10001005"
BACTERIAL_MENINGITIS = "95883001"
SEPSIS = "91302008"
ASTHMA = "195967001"

# LOINC
WEIGHT = "29463-7"
WEIGHT_MEASURED = "3141-9"
CSF_PROTEIN = "2880-3"
CSF_LEUKOCYTES = "26465-5"
CSF_LEUKOCYTES_ALT = "806-0"
PLATELETS = "777-3"
AMMONIA = "16362-6"
ALT = "1742-6"
PROCALCITONIN = "33959-8"
CSF_IL6 = "49919-4"
BLOOD_CULTURE = "600-7"
CSF_CULTURE = "606-4"

# urn:ane-cds:finding
THALAMIC = "bilateral-thalamic-lesions"
BRAINSTEM = "brainstem-lesion"

# RxNorm
MP = "6902"
MP_500_MG_VIAL = "1743720"
NOREPINEPHRINE = "7512"
INFLIXIMAB = "191831"
ACETAMINOPHEN = "161"

DOSE_TOPICS = frozenset(
    {"mp-dose-above-max", "mp-dose-above-target", "mp-dose-below-target", "mp-dose-low"}
)


def assert_summaries_fit(advice: Iterable[Advice]) -> None:
    """Every card summary fits the CDS Hooks limit (at most 139 characters)."""
    for item in advice:
        assert len(item.summary) <= SUMMARY_MAX, (
            f"{item.topic} summary has {len(item.summary)} characters: {item.summary}"
        )


def cards_for(
    hook: str,
    resources: list[Json],
    drafts: list[Json] | None = None,
    selections: list[str] | None = None,
    now: datetime = REFERENCE,
) -> list[Advice]:
    """The advice of a hook (run_rules), after checking that every summary fits."""
    advice = run_rules(hook, resources, drafts, selections, now)
    assert_summaries_fit(advice)
    return advice


def ane_child(
    *,
    years: int = 5,
    months: int = 0,
    kg: float | None = 18,
    onset_hours: float | None = 10,
    born: bool = True,
) -> list[Json]:
    """A child with an active ANE Condition (onset `onset_hours` ago) weighed 2 h ago."""
    onset = ago(hours=onset_hours) if onset_hours is not None else None
    resources = [
        patient(birth_date(years, months) if born else None),
        condition(ANE, onset),
    ]
    if kg is not None:
        resources.append(weight(kg, ago(hours=2)))
    return resources


def topic_set(advice: Iterable[Advice]) -> set[str]:
    """The topics present, ignoring order."""
    return {item.topic for item in advice}


def dose_topics(advice: Iterable[Advice]) -> list[str]:
    """The MP dose-row topics among the advice."""
    return [item.topic for item in advice if item.topic in DOSE_TOPICS]


def actions(item: Advice) -> list[ActionDraft]:
    """Every action of every suggestion of a card."""
    return [action for suggestion in item.suggestions for action in suggestion.actions]


def suggested_resource(item: Advice) -> Mapping[str, Any]:
    """The resource of the card's single create/update action."""
    found = actions(item)
    assert len(found) == 1, f"expected one action on {item.topic}, got {len(found)}"
    resource = found[0].resource
    assert resource is not None
    return resource


def dose_of(resource: Mapping[str, Any]) -> Any:
    """The doseQuantity of the first dosage instruction of a MedicationRequest."""
    return resource["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]


def mg(value: float) -> Json:
    """A UCUM mg Quantity, as suggestions must write it (ane-rules.md s11)."""
    return {"value": value, "unit": "mg", "system": UCUM, "code": "mg"}


def days(value: float, code: str = "d") -> Json:
    """A UCUM Duration."""
    return {"value": value, "unit": code, "system": UCUM, "code": code}
