"""Vocabulary and small patient stories for the hook tables (ane-rules.md sections 6, 9, 10).

Every story is a child with an ANE Condition, weighed 2 h ago, told relative to the fixed
REFERENCE instant; a table row adds the one fact it is about. Expectations are written as
"topic:indicator" strings and compared as a whole (sorted), so a missing, extra or duplicated
card fails the row.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tests.builders import (
    PATIENT_ID,
    RXNORM,
    SNOMED,
    Json,
    ago,
    birth_date,
    condition,
    med_order,
    patient,
    weight,
)
from tests.hookrun import card_topics

# SNOMED CT: conditions
ANE = "763310000"
FAMILIAL_ANE = "723359002"
ENCEPHALOPATHY = "81308009"
INFLUENZA_A = "442438000"
SHOCK = "27942005"
SEPTIC_SHOCK = "76571007"
BACTERIAL_SEPSIS = "10001005"
BACTERIAL_MENINGITIS = "95883001"
MYCOSIS = "3218000"
TUBERCULOSIS = "56717001"
SEPSIS = "91302008"
GI_PERFORATION = "51875005"
INTESTINAL_PERFORATION = "56905009"
GI_HAEMORRHAGE = "74474003"
DIVERTICULITIS = "307496006"
ASTHMA = "195967001"
# SNOMED CT: substance
TOCILIZUMAB_SUBSTANCE = "444648007"

# LOINC
CSF_LEUKOCYTES = "26465-5"
CSF_PROTEIN = "2880-3"
AMMONIA = "16362-6"
BLOOD_CULTURE = "600-7"
CSF_CULTURE = "606-4"
ANC = "751-8"
PLATELETS = "777-3"
ALT = "1742-6"
AST = "1920-8"
PROCALCITONIN = "33959-8"
CSF_IL6 = "49919-4"
SERUM_IL6 = "26881-3"

# urn:ane-cds:finding
THALAMIC = "bilateral-thalamic-lesions"
BRAINSTEM = "brainstem-lesion"

# RxNorm
MP = "6902"
TCZ = "612865"
NOREPINEPHRINE = "7512"
ACETAMINOPHEN = "161"
INFLIXIMAB = "191831"
TNF_ANTAGONISTS = {
    "infliximab": "191831",
    "adalimumab": "327361",
    "etanercept": "214555",
    "certolizumab-pegol": "709271",
    "golimumab": "819300",
}

ALLERGY_CLINICAL = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"

# Draft order ids, and the references order-select uses for them
TCZ_DRAFT = "tcz-draft"
MP_DRAFT = "mp-draft"
TNF_DRAFT = "tnf-draft"
OTHER_DRAFT = "paracetamol-draft"

# Cards every in-scope patient-view shows, and the recommendations
SEVERITY_INFO = "severity-score:info"
SEVERITY_HIGH = "severity-score:warning"
CRITERIA = "ane-criteria:info"
MP_REC = "mp-recommendation:warning"
TCZ_CONSIDER = "tcz-recommendation:info"
TCZ_RECOMMEND = "tcz-recommendation:warning"
# A 5-year-old (60 months: 2 severity points, band medium) with nothing else recorded
PV_DUE = (MP_REC, TCZ_CONSIDER, SEVERITY_INFO, CRITERIA)


def child(
    *extra: Json,
    years: int | None = 5,
    months: int = 0,
    days: int = 0,
    kg: float | None = 18,
    onset_hours: float | None = 10,
    ane: str | None = ANE,
) -> list[Json]:
    """A child (`years` None: no birth date) with an ANE Condition `onset_hours` ago, plus `extra`."""
    born = birth_date(years, months, days) if years is not None else None
    resources = [patient(born)]
    if ane is not None:
        onset = ago(hours=onset_hours) if onset_hours is not None else None
        resources.append(condition(ane, onset))
    if kg is not None:
        resources.append(weight(kg, ago(hours=2)))
    return [*resources, *extra]


def tcz_order(mg: float | None = 216, unit: str = "mg", **kw: Any) -> Json:
    """A draft tocilizumab order (one infusion a day as written by the builder)."""
    return med_order(TCZ, mg, unit, oid=kw.pop("oid", TCZ_DRAFT), **kw)


def mp_order(mg: float = 540, **kw: Any) -> Json:
    """A draft methylprednisolone order, once daily."""
    return med_order(MP, mg, oid=kw.pop("oid", MP_DRAFT), **kw)


def tnf_order(code: str = INFLIXIMAB, oid: str = TNF_DRAFT) -> Json:
    """A draft TNF-antagonist order."""
    return med_order(code, 5, "mg/kg", oid=oid)


def other_order(oid: str = OTHER_DRAFT) -> Json:
    """A draft order unrelated to ANE (paracetamol)."""
    return med_order(ACETAMINOPHEN, 270, frequency=4, oid=oid)


def given_tcz(hours: float, status: str = "completed") -> Json:
    """A tocilizumab order authored `hours` ago (a dose given, for status active or completed)."""
    return med_order(TCZ, 216, status=status, authored=ago(hours=hours))


def given_mp(hours: float, status: str = "completed") -> Json:
    """A methylprednisolone order authored `hours` ago."""
    return med_order(MP, 450, status=status, authored=ago(hours=hours))


def allergy(system: str, code: str, clinical: str | None) -> Json:
    """An AllergyIntolerance to tocilizumab coded as given; `clinical` None: no clinicalStatus."""
    resource: Json = {
        "resourceType": "AllergyIntolerance",
        "id": f"allergy-{code}-{clinical or 'none'}",
        "patient": {"reference": f"Patient/{PATIENT_ID}"},
        "code": {"coding": [{"system": system, "code": code}]},
    }
    if clinical is not None:
        resource["clinicalStatus"] = {"coding": [{"system": ALLERGY_CLINICAL, "code": clinical}]}
    return resource


def rxnorm_allergy(clinical: str | None = "active") -> Json:
    return allergy(RXNORM, TCZ, clinical)


def snomed_allergy(clinical: str | None = "active") -> Json:
    return allergy(SNOMED, TOCILIZUMAB_SUBSTANCE, clinical)


def ref(oid: str) -> str:
    """The order-select selection of a draft order."""
    return f"MedicationRequest/{oid}"


def pairs(cards: list[dict[str, Any]]) -> list[str]:
    """Each card as "topic:indicator", sorted."""
    return sorted(f"{t}:{c['indicator']}" for t, c in zip(card_topics(cards), cards, strict=True))


def assert_cards(cards: list[dict[str, Any]], expected: Iterable[str]) -> None:
    """Exactly these cards (topic and indicator), each once."""
    assert pairs(cards) == sorted(expected), [c["summary"] for c in cards]


def only_action(card_json: dict[str, Any]) -> dict[str, Any]:
    """The single action of a card's suggestions."""
    actions = [a for s in card_json.get("suggestions", []) for a in s["actions"]]
    assert len(actions) == 1, actions
    action: dict[str, Any] = actions[0]
    return action
