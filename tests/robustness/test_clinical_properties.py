"""Hypothesis over the clinical core with generated FHIR data: any unit, missing elements, odd
dates (partial, leap seconds, year 1 and 9999, +14:00), extreme numbers (0, negative, 1e300, NaN,
Infinity, 40-digit integers), statuses known and unknown.

Each generated resource goes where the service sends it: through the same R4 check as the gather
stage (a resource that fails it is one the service refuses with 400, so it is left out), then
build_facts, evaluate and the card renderer. Whatever the data: no exception, an answer that
keeps CDS Hooks 2.0 and the OpenAPI document, and no suggested dose above its cap.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from cds_service.clinical.engine import evaluate
from cds_service.clinical.knowledge import default_knowledge
from cds_service.fhir.facts import build_facts
from cds_service.fhir.r4 import InvalidResource, validate_whole_resource
from cds_service.protocol.cards import response_body
from cds_service.protocol.render import render_cards
from tests.builders import LOINC, PATIENT_ID, REFERENCE, RXNORM, SNOMED, UCUM
from tests.robustness.contract import Contract
from tests.shapes import assert_cds_response
from tests.unit.test_r4_validation import validate_resource

K = default_knowledge()
CONTRACT = Contract()
PROFILE = settings(
    max_examples=120,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
INSTANCE = "7d0d3d64-52d4-4b8e-a0a1-f1c7b1a2e6a0"
Json = dict[str, Any]

# ---------------------------------------------------------------- vocabularies
LAB_CODES = sorted({code for lab in K.labs.values() for code in lab.loinc})
CULTURE_CODES = sorted({*K.cultures.blood_loinc, *K.cultures.csf_loinc})
FINDINGS = sorted(code for f in K.findings.values() for code in f.codes)
KNOWN_UNITS = {unit for lab in K.labs.values() for unit in lab.units}
KNOWN_UNITS |= set(K.dosing.mass_units) | set(K.dosing.per_kg_units)
ODD_UNITS = ["", "KG", "kg ", "furlongs", "%", "mmol/L", "[in_i]", "mg/m2", "ug", "mL"]
UNITS = [*sorted(KNOWN_UNITS), *ODD_UNITS]
CONDITION_CODES = sorted(
    {
        code
        for group in (
            K.conditions.ane,
            K.conditions.familial_ane,
            K.conditions.encephalopathy,
            K.conditions.fever_trigger,
            K.conditions.shock,
            K.conditions.bacterial_infection,
            K.conditions.fungal_or_tb,
            K.conditions.sepsis_no_organism,
            K.conditions.gi_perforation,
        )
        for code in group
    }
)
ANE_CODES = sorted(K.conditions.ane)
DRUG_CODES = sorted({code for med in K.medications.values() for code in med.codes})
MP_CODES = K.medications["mp"].codes
TCZ_CODES = K.medications["tcz"].codes
PERIOD_UNITS = [*K.dosing.period_seconds, "mo", "a", "fortnight"]
TIMING_CODES = [*K.dosing.timing_codes, "WEEKLY", "q12h"]
ALLERGY_CODES = sorted({code for a in K.allergies.values() for code in a.codes})
STATUSES = ["final", "amended", "corrected", "preliminary", "registered", "cancelled", "unknown"]
ORDER_STATUSES = ["draft", "active", "completed", "on-hold", "stopped", "entered-in-error"]
CLINICAL = ["active", "recurrence", "relapse", "inactive", "resolved", "remission"]

# ---------------------------------------------------------------- values and dates
numbers = st.one_of(
    st.integers(min_value=-5, max_value=2000),
    st.floats(min_value=0, max_value=2000, allow_nan=False),
    st.sampled_from([0, -1, 1e-12, 1e300, -1e300, 10**40, float("nan"), float("inf")]),
    st.floats(),
)
OFFSETS = [UTC, timezone(timedelta(hours=14)), timezone(timedelta(hours=-12))]
OFFSETS += [timezone(timedelta(hours=5, minutes=30))]


EXTREME_DATES = [
    "0001",
    "0001-01",
    "0001-01-01",
    "0001-01-01T00:00:00Z",
    "0001-01-01T00:00:00+14:00",
    "9999",
    "9999-12-31",
    "9999-12-31T23:59:59Z",
    "9999-12-31T23:59:59-12:00",
    "2024-02-29",
    "2026-11-21T12:00:60Z",
]


@st.composite
def fhir_datetime(draw: st.DrawFn) -> str:
    """A FHIR dateTime: full with any offset, a date, a year-month or a year; near now or not."""
    if not draw(st.integers(min_value=0, max_value=9)):
        return draw(st.sampled_from(EXTREME_DATES))
    if draw(st.booleans()):
        hours = draw(st.floats(min_value=-24 * 400, max_value=24 * 30, allow_nan=False))
        moment = REFERENCE + timedelta(hours=hours)
    else:
        moment = draw(
            st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30))
        ).replace(tzinfo=UTC)
    zone = draw(st.sampled_from(OFFSETS))
    local = moment.astimezone(zone) if 1 < moment.year < 9999 else moment
    shape = draw(st.sampled_from(["full", "full", "date", "month", "year", "leap-second"]))
    text = local.isoformat(timespec="seconds").replace("+00:00", "Z")
    if shape == "leap-second":
        return text[:17] + "60" + text[19:]
    return {"full": text, "date": text[:10], "month": text[:7], "year": text[:4]}[shape]


onsets = fhir_datetime()


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """The value or None (None: the element is left out)."""
    return st.one_of(st.none(), strategy)


def compact(resource: Mapping[str, Any]) -> Json:
    """Leave out the elements drawn as None (FHIR never holds null)."""
    return {key: value for key, value in resource.items() if value is not None}


@st.composite
def quantity(draw: st.DrawFn, units: list[str] = UNITS) -> Json:
    unit = draw(maybe(st.sampled_from(units)))
    coded = unit and draw(st.booleans())
    return compact(
        {
            "value": draw(maybe(numbers)),
            "unit": unit or None,
            "system": UCUM if coded else None,
            "code": unit if coded else None,
        }
    )


def coding(system: str, codes: list[str]) -> st.SearchStrategy[Json]:
    return st.builds(
        lambda code: {"coding": [{"system": system, "code": code}]},
        st.one_of(st.sampled_from(codes), st.sampled_from(["0", "x-1"])),
    )


def status_concept(values: list[str]) -> st.SearchStrategy[Json]:
    return st.builds(lambda code: {"coding": [{"code": code}]}, st.sampled_from(values))


# ---------------------------------------------------------------- resources
@st.composite
def patient(draw: st.DrawFn) -> Json:
    birth = draw(maybe(fhir_datetime()))
    return compact(
        {"resourceType": "Patient", "id": PATIENT_ID, "birthDate": birth[:10] if birth else None}
    )


@st.composite
def observation(draw: st.DrawFn) -> Json:
    kind = draw(st.sampled_from(["lab", "lab", "finding", "culture"]))
    system, codes = {
        "lab": (LOINC, LAB_CODES),
        "culture": (LOINC, CULTURE_CODES),
        "finding": ("", FINDINGS),
    }[kind]
    if kind == "finding":
        code = draw(st.sampled_from(codes)).split("|")
        concept = {"coding": [{"system": code[0], "code": code[1]}]}
    else:
        concept = draw(coding(system, codes))
    resource: Json = {
        "resourceType": "Observation",
        "status": draw(st.sampled_from(STATUSES)),
        "code": concept,
        "effectiveDateTime": draw(maybe(fhir_datetime())),
    }
    if kind == "lab":
        resource["valueQuantity"] = draw(quantity())
        if draw(st.booleans()):
            resource["referenceRange"] = [{"high": draw(quantity())}]
    elif kind == "finding":
        resource["valueBoolean"] = draw(maybe(st.booleans()))
    else:
        flag = draw(st.sampled_from(["POS", "NEG", "DET", "IND"]))
        resource["interpretation"] = [{"coding": [{"code": flag}]}]
    return compact(resource)


@st.composite
def condition(draw: st.DrawFn) -> Json:
    return compact(
        {
            "resourceType": "Condition",
            "code": draw(coding(SNOMED, CONDITION_CODES)),
            "clinicalStatus": draw(maybe(status_concept(CLINICAL))),
            "verificationStatus": draw(
                maybe(status_concept(["confirmed", "provisional", "refuted", "entered-in-error"]))
            ),
            "onsetDateTime": draw(maybe(onsets)),
        }
    )


@st.composite
def dosage(draw: st.DrawFn) -> Json:
    """Any timing, readable or not, for orders in the chart and drafts alike."""
    period = draw(maybe(numbers))
    unit = draw(maybe(st.sampled_from(PERIOD_UNITS)))
    repeat = compact(
        {
            "frequency": draw(maybe(st.integers(min_value=1, max_value=48))),
            "period": period,
            "periodUnit": unit,
            "count": draw(maybe(st.integers(min_value=1, max_value=10))),
            "boundsDuration": draw(maybe(quantity(["d", "h", "wk", "mo", "a", "furlongs"]))),
        }
    )
    timing = compact(
        {
            "repeat": repeat or None,
            "code": draw(
                maybe(st.builds(lambda c: {"coding": [{"code": c}]}, st.sampled_from(TIMING_CODES)))
            ),
        }
    )
    dose = draw(maybe(quantity([*K.dosing.mass_units, *K.dosing.per_kg_units, "mcg", "mL", ""])))
    return compact(
        {
            "timing": timing or None,
            "doseAndRate": [{"doseQuantity": dose}] if dose else None,
            "route": draw(maybe(st.sampled_from([{"text": "IV"}, {"text": "oral"}]))),
        }
    )


@st.composite
def medication_request(draw: st.DrawFn, draft: bool = False) -> Json:
    index = draw(st.integers(min_value=0, max_value=9999))
    return compact(
        {
            "resourceType": "MedicationRequest",
            "id": f"{'draft' if draft else 'mr'}-{index}",
            "status": "draft" if draft else draw(st.sampled_from(ORDER_STATUSES)),
            "intent": "order",
            "subject": {"reference": f"Patient/{PATIENT_ID}"},
            "medicationCodeableConcept": draw(coding(RXNORM, DRUG_CODES)),
            "authoredOn": draw(maybe(fhir_datetime())),
            "dosageInstruction": draw(maybe(st.lists(dosage(), min_size=1, max_size=2))),
        }
    )


@st.composite
def allergy(draw: st.DrawFn) -> Json:
    return compact(
        {
            "resourceType": "AllergyIntolerance",
            "code": draw(coding(RXNORM, ALLERGY_CODES)),
            "clinicalStatus": draw(maybe(status_concept(["active", "inactive"]))),
        }
    )


def recent(max_hours: float) -> st.SearchStrategy[str]:
    """A full dateTime within `max_hours` before the evaluation time."""
    return st.floats(min_value=0, max_value=max_hours).map(
        lambda hours: (REFERENCE - timedelta(hours=hours)).isoformat()
    )


@st.composite
def ane_context(draw: st.DrawFn) -> list[Json]:
    """Usually an ANE Condition with a recent onset and a recent plausible weight, so that the
    rules speak and suggest doses; sometimes neither, or any onset."""
    if not draw(st.integers(min_value=0, max_value=4)):
        return []
    onset = draw(st.one_of(recent(96), recent(96), maybe(onsets)))
    found: list[Json] = [
        compact(
            {
                "resourceType": "Condition",
                "code": {"coding": [{"system": SNOMED, "code": draw(st.sampled_from(ANE_CODES))}]},
                "clinicalStatus": {"coding": [{"code": "active"}]},
                "onsetDateTime": onset,
            }
        )
    ]
    if draw(st.booleans()):
        weight_kg = draw(st.floats(min_value=2, max_value=150))
        found.append(
            {
                "resourceType": "Observation",
                "status": "final",
                "code": {"coding": [{"system": LOINC, "code": "29463-7"}]},
                "effectiveDateTime": draw(recent(48)),
                "valueQuantity": {"value": weight_kg, "unit": "kg", "system": UCUM, "code": "kg"},
            }
        )
    return found


def valid(resources: list[Json], check: Callable[[Mapping[str, Any]], None]) -> list[Json]:
    """The resources the service would accept (the others get a 400 before the rules)."""
    kept = []
    for resource in resources:
        try:
            check(resource)
        except InvalidResource:
            continue
        kept.append(resource)
    return kept


# ---------------------------------------------------------------- the properties


def _answer(hook: str, resources: list[Json], drafts: list[Json], selections: list[str]) -> Json:
    kept, kept_drafts = valid(resources, validate_resource), valid(drafts, validate_whole_resource)
    event(
        f"resources refused as invalid R4: {len(resources) + len(drafts) > len(kept) + len(kept_drafts)}"
    )
    facts = build_facts(
        PATIENT_ID, kept, K, kept_drafts, selections if hook == "order-select" else None
    )
    body = response_body(render_cards(evaluate(hook, facts, REFERENCE, K), INSTANCE, K))
    event(f"{hook}: cards {min(len(body['cards']), 3)}{'+' if len(body['cards']) >= 3 else ''}")
    event(f"suggestions: {any('suggestions' in card for card in body['cards'])}")
    assert_cds_response(body)
    schema = {"$ref": "#/components/schemas/CdsServiceResponse"}
    assert CONTRACT.schema_errors(schema, body) == []
    return body


def per_day(dosage: Mapping[str, Any]) -> Decimal | None:
    """Doses per day that a suggested order states in its structured timing; None: unreadable."""
    timing = dosage.get("timing", {})
    repeat = timing.get("repeat", {})
    codes = [c.get("code") for c in timing.get("code", {}).get("coding", [])]
    if not repeat:
        return K.dosing.timing_codes.get(codes[0]) if codes else Decimal(1)
    if "period" not in repeat and "periodUnit" not in repeat:
        return Decimal(repeat.get("frequency", 1))
    seconds = K.dosing.period_seconds.get(repeat.get("periodUnit", ""))
    period = repeat.get("period")
    if seconds is None or not isinstance(period, int | float) or not period > 0:
        return None
    per_period = Decimal(repeat.get("frequency", 1))
    return per_period * 86400 / (Decimal(str(period)) * seconds)


def _assert_doses_capped(body: Json) -> None:
    """Every suggested MP order at most 1 g/day, every tocilizumab dose at most 800 mg."""
    for card in body["cards"]:
        for suggestion in card.get("suggestions", []):
            for action in suggestion["actions"]:
                order = action.get("resource") or {}
                if order.get("resourceType") != "MedicationRequest":
                    continue
                codes = {c.get("code") for c in order["medicationCodeableConcept"]["coding"]}
                for given_dosage in order.get("dosageInstruction", []):
                    dose = given_dosage["doseAndRate"][0]["doseQuantity"]
                    mg = Decimal(str(dose["value"])) * K.dosing.mass_units[dose["unit"]]
                    if codes & MP_CODES:
                        daily = per_day(given_dosage)
                        assert daily is not None, f"suggested timing unreadable: {given_dosage}"
                        assert mg * daily <= K.mp.max_mg_day
                    if codes & TCZ_CODES:
                        assert mg <= K.tcz.max_mg


chart = st.tuples(
    ane_context(),
    st.lists(patient(), max_size=1),
    st.lists(observation(), max_size=12),
    st.lists(condition(), max_size=4),
    st.lists(medication_request(), max_size=3),
    st.lists(allergy(), max_size=2),
).map(lambda parts: [r for part in parts for r in part])


@PROFILE
@given(resources=chart)
def test_patient_view_over_any_chart(resources: list[Json]) -> None:
    _assert_doses_capped(_answer("patient-view", resources, [], []))


@PROFILE
@given(
    resources=chart,
    drafts=st.lists(medication_request(draft=True), min_size=1, max_size=3),
    hook=st.sampled_from(["order-select", "order-sign"]),
    select_all=st.booleans(),
)
def test_order_hooks_over_any_chart_and_draft(
    resources: list[Json], drafts: list[Json], hook: str, select_all: bool
) -> None:
    chosen = drafts if select_all else drafts[:1]
    selections = [f"MedicationRequest/{d['id']}" for d in chosen]
    _assert_doses_capped(_answer(hook, resources, drafts, selections))


@PROFILE
@given(
    weight_kg=st.one_of(
        st.floats(min_value=0.01, max_value=500), st.sampled_from([1e-9, 1e9, 10**30])
    ),
    unit=st.sampled_from(["kg", "g", "[lb_av]"]),
    dose=numbers,
    dose_unit=st.sampled_from(["mg", "g", "mg/kg"]),
    frequency=st.integers(min_value=1, max_value=24),
    period=st.sampled_from([(1, "d"), (12, "h"), (6, "h"), (30, "min"), (1, "wk")]),
    drug=st.sampled_from(sorted(MP_CODES | TCZ_CODES)),
)
def test_no_suggested_dose_above_its_cap_for_extreme_weights_and_orders(
    *,
    weight_kg: float,
    unit: str,
    dose: float,
    dose_unit: str,
    frequency: int,
    period: tuple[int, str],
    drug: str,
) -> None:
    weight = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "29463-7"}]},
        "effectiveDateTime": (REFERENCE - timedelta(hours=2)).isoformat(),
        "valueQuantity": {"value": weight_kg, "unit": unit, "system": UCUM, "code": unit},
    }
    onset = (REFERENCE - timedelta(hours=10)).isoformat()
    ane = {
        "resourceType": "Condition",
        "code": {"coding": [{"system": SNOMED, "code": ANE_CODES[0]}]},
        "clinicalStatus": {"coding": [{"code": "active"}]},
        "onsetDateTime": onset,
    }
    child = {"resourceType": "Patient", "id": PATIENT_ID, "birthDate": "2020-01-15"}
    draft = {
        "resourceType": "MedicationRequest",
        "id": "draft-1",
        "status": "draft",
        "intent": "order",
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
        "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": drug}]},
        "dosageInstruction": [
            {
                "timing": {
                    "repeat": {"frequency": frequency, "period": period[0], "periodUnit": period[1]}
                },
                "doseAndRate": [
                    {"doseQuantity": {"value": dose, "unit": dose_unit, "system": UCUM}}
                ],
            }
        ],
    }
    for hook in ("patient-view", "order-select"):
        body = _answer(hook, [child, weight, ane], [draft], ["MedicationRequest/draft-1"])
        _assert_doses_capped(body)
