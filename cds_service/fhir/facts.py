"""Normalise stage: validated FHIR R4 JSON -> PatientFacts (units converted, statuses applied)."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from operator import attrgetter
from typing import Any, TypeVar

from cds_service.clinical.facts import (
    ConditionFact,
    CultureFact,
    Dosage,
    DoseQuantity,
    Drug,
    FindingValue,
    LabValue,
    MedicationOrder,
    PatientFacts,
    SkippedValue,
)
from cds_service.clinical.knowledge import Knowledge
from cds_service.fhir.r4 import InvalidResource, validate_whole_resource

Json = Mapping[str, Any]
T = TypeVar("T", LabValue, SkippedValue)
PARTIAL_DATE = re.compile(r"^(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?$")
DRUG_CLASSES: tuple[Drug, ...] = ("mp", "tcz", "tnf", "vasoactive")
# Numbers outside this range are no clinical quantity (and would overflow dose arithmetic).
MAX_MAGNITUDE = Decimal("1e12")
MIN_MAGNITUDE = Decimal("1e-9")
MAX_INT = int(MAX_MAGNITUDE)
# Years a clinical date can have; others are data errors, read as unknown.
MIN_YEAR, MAX_YEAR = 1800, 2200


def build_facts(
    patient_id: str,
    resources: Iterable[Json],
    knowledge: Knowledge,
    draft_orders: Iterable[Json] = (),
    selections: Iterable[str] | None = None,
) -> PatientFacts:
    """Turn the gathered resources (and the hook's draft orders) into PatientFacts."""
    by_type: dict[str, list[Json]] = {}
    for resource in resources:
        by_type.setdefault(str(resource.get("resourceType")), []).append(resource)
    observed = _observations(by_type.get("Observation", []), knowledge)
    patients = by_type.get("Patient", [])
    return PatientFacts(
        patient_id=patient_id,
        birth_date=_birth_date(patients[0]) if patients else None,
        birth_date_latest=_latest_birth_date(patients[0]) if patients else None,
        labs={fact: _newest_first(v) for fact, v in observed.values.items()},
        skipped=_newest_first(observed.skipped),
        findings=tuple(observed.findings),
        conditions=tuple(_condition(c, knowledge) for c in by_type.get("Condition", [])),
        cultures=tuple(observed.cultures),
        medications=tuple(_order(m, knowledge) for m in by_type.get("MedicationRequest", [])),
        tcz_allergy=any(_tcz_allergy(a, knowledge) for a in by_type.get("AllergyIntolerance", [])),
        draft_orders=tuple(
            _order(o, knowledge, f"draftOrders[{i}]", _whole_problems(o))
            for i, o in enumerate(draft_orders)
            if o.get("resourceType") == "MedicationRequest"
        ),
        selections=tuple(selections) if selections is not None else None,
    )


# ---------------------------------------------------------------- dates


def parse_datetime(text: object) -> datetime | None:
    """A FHIR dateTime/instant as an aware datetime; a partial date is the start of its period.

    A time outside the years a patient record can hold (year 1, year 9999...) is no clinical
    time: it is read as unknown, never used in window arithmetic.
    """
    if not isinstance(text, str):
        return None
    try:
        parsed = datetime.fromisoformat(text)  # full dates and date-times: the common case
    except ValueError:
        partial = PARTIAL_DATE.match(text)  # "2026" or "2026-11"
        if partial is None:
            return None
        year, month, day = partial.groups()
        parsed = datetime(int(year), int(month or 1), int(day or 1), tzinfo=UTC)
    if not MIN_YEAR <= parsed.year <= MAX_YEAR:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _birth_date(patient: Json) -> date | None:
    text = patient.get("birthDate")
    if isinstance(text, str) and len(text) == len("2020-01-01"):
        born = date.fromisoformat(text)
        return born if MIN_YEAR <= born.year <= MAX_YEAR else None
    return None  # absent, partial or no clinical date: age is unknown, never guessed


def _latest_birth_date(patient: Json) -> date | None:
    """The latest day a partial birthDate ('1990', '1990-05') can mean, for the adult check."""
    partial = PARTIAL_DATE.match(str(patient.get("birthDate", "")))
    if not partial:
        return None
    year, month, day = partial.groups()
    if day:
        return date(int(year), int(month), int(day))
    if month:
        following = date(int(year) + int(month) // 12, int(month) % 12 + 1, 1)
        return following - timedelta(days=1)
    return date(int(year), 12, 31)


def _effective(observation: Json) -> datetime | None:
    text = observation.get("effectiveDateTime")  # the common case first
    if text is not None and (parsed := parse_datetime(text)) is not None:
        return parsed
    period = observation.get("effectivePeriod") or {}
    for value in (
        observation.get("effectiveInstant"),
        period.get("end"),
        period.get("start"),
        observation.get("issued"),
    ):
        parsed = parse_datetime(value)
        if parsed is not None:
            return parsed
    return None


# ---------------------------------------------------------------- codes


def _codings(concept: object) -> list[Json]:
    # dict, not Mapping: the data is decoded JSON, and the ABC check costs per Observation
    if not isinstance(concept, dict):
        return []
    return [c for c in concept.get("coding") or () if isinstance(c, dict)]


def _codes(concept: object, system: str) -> set[str]:
    return {str(c.get("code")) for c in _codings(concept) if c.get("system") == system}


def _system_codes(concept: object) -> set[str]:
    return {f"{c.get('system')}|{c.get('code')}" for c in _codings(concept)}


def _status_code(concept: object) -> str | None:
    codes = [str(c.get("code")) for c in _codings(concept) if c.get("code")]
    return codes[0] if codes else None


# ---------------------------------------------------------------- observations


@dataclass(frozen=True)
class Reading:
    """What an Observation code means: a lab (quantity), an imaging finding or a culture."""

    category: str  # "lab" | "finding" | "culture"
    name: str
    statuses: frozenset[str]  # the Observation statuses that count for it
    unit: str = ""  # a lab's canonical unit
    factors: Mapping[str, Decimal | None] = field(default_factory=dict)  # unit -> factor (None: 1)


@dataclass(frozen=True)
class ObservationIndex:
    """(system, code) -> the Reading of an Observation with that code."""

    readings: Mapping[tuple[object, object], Reading]


_INDEXES: dict[int, tuple[Knowledge, ObservationIndex]] = {}


def observation_index(knowledge: Knowledge) -> ObservationIndex:
    """The code index of a knowledge file, built once (knowledge is immutable)."""
    cached = _INDEXES.get(id(knowledge))
    if cached is None or cached[0] is not knowledge:
        cached = (knowledge, ObservationIndex(_readings(knowledge)))
        _INDEXES[id(knowledge)] = cached
    return cached[1]


def _readings(knowledge: Knowledge) -> dict[tuple[object, object], Reading]:
    readings: dict[tuple[object, object], Reading] = {}
    loinc, statuses = knowledge.systems.loinc, knowledge.statuses
    for fact, lab in knowledge.labs.items():
        counted = statuses.observation | (statuses.vital_sign_extra if lab.vital_sign else set())
        # A factor of exactly 1 (the canonical unit) is None: the value is used as given.
        factors = {
            unit: None if factor == 1 and factor.as_tuple().exponent == 0 else factor
            for unit, factor in lab.units.items()
        }
        reading = Reading("lab", fact, frozenset(counted), lab.unit, factors)
        readings.update({(loinc, code): reading for code in lab.loinc})
    for name, finding in knowledge.findings.items():
        for system_code in finding.codes:
            system, _, code = system_code.partition("|")
            readings[(system, code)] = Reading("finding", name, statuses.observation)
    culture = Reading("culture", "culture", statuses.observation)
    for code in knowledge.cultures.blood_loinc + knowledge.cultures.csf_loinc:
        readings[(loinc, code)] = culture
    return readings


def _reading_of(observation: Json, index: ObservationIndex) -> Reading | None:
    for coding in _codings(observation.get("code")):
        reading = index.readings.get((coding.get("system"), coding.get("code")))
        if reading is not None:
            return reading
    return None


@dataclass
class _ObservationFacts:
    values: dict[str, list[LabValue]] = field(default_factory=dict)
    skipped: list[SkippedValue] = field(default_factory=list)
    findings: list[FindingValue] = field(default_factory=list)
    cultures: list[CultureFact] = field(default_factory=list)


def _observations(observations: list[Json], knowledge: Knowledge) -> _ObservationFacts:
    """One pass over the Observations: lab values, imaging findings and cultures."""
    index = observation_index(knowledge)
    out = _ObservationFacts()
    for observation in observations:
        reading = _reading_of(observation, index)
        if reading is None or observation.get("status") not in reading.statuses:
            continue
        if reading.category == "lab":
            result = _lab_value(reading, observation, knowledge)
            if isinstance(result, LabValue):
                out.values.setdefault(reading.name, []).append(result)
            elif result is not None:
                out.skipped.append(result)
        elif reading.category == "finding" and isinstance(observation.get("valueBoolean"), bool):
            out.findings.append(
                FindingValue(reading.name, observation["valueBoolean"], _effective(observation))
            )
        elif reading.category == "culture":
            out.cultures.append(_culture(observation, knowledge))
    return out


def _culture(observation: Json, knowledge: Knowledge) -> CultureFact:
    interpretation: set[str] = set()
    for concept in observation.get("interpretation") or []:
        interpretation |= _codes(concept, knowledge.systems.interpretation)
    positive = bool(interpretation & knowledge.statuses.positive_interpretations)
    return CultureFact(positive, _effective(observation))


def quantity_unit(quantity: Json, ucum: str) -> str:
    """The unit of a Quantity: its code when the system is UCUM, else its unit text."""
    if quantity.get("system") == ucum and quantity.get("code"):
        return str(quantity["code"])
    return str(quantity.get("unit") or quantity.get("code") or "")


def _decimal(value: object) -> Decimal | None:
    """A number as Decimal; None when absent, not finite, or of no clinical magnitude."""
    if type(value) is int:  # the common case, exact: a non-zero int is never below MIN_MAGNITUDE
        return Decimal(value) if -MAX_INT <= value <= MAX_INT else None
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    if not number.is_finite() or abs(number) > MAX_MAGNITUDE:
        return None
    if number != 0 and abs(number) < MIN_MAGNITUDE:
        return None
    return number


def _newest_first(items: Iterable[T]) -> tuple[T, ...]:
    """Newest first, undated last; equal times keep their order (Python's sort is stable)."""
    items = list(items)
    dated = sorted((i for i in items if i.at is not None), key=attrgetter("at"), reverse=True)
    return tuple(dated + [i for i in items if i.at is None])


def _lab_value(
    reading: Reading, observation: Json, knowledge: Knowledge
) -> LabValue | SkippedValue | None:
    quantity = observation.get("valueQuantity")
    if not isinstance(quantity, dict):  # decoded JSON; dict, not the slower Mapping check
        return None
    raw = _decimal(quantity.get("value"))
    if raw is None:
        return None
    fact = reading.name
    at = _effective(observation)
    unit = quantity_unit(quantity, knowledge.systems.ucum)
    if unit not in reading.factors:
        return SkippedValue(fact, "unit", str(raw), unit or "(none)", at)
    factor = reading.factors[unit]
    value = raw if factor is None else raw * factor
    if fact == "weight" and not knowledge.weight.min_kg <= value <= knowledge.weight.max_kg:
        return SkippedValue(fact, "implausible", str(raw), unit, at)
    ranges = observation.get("referenceRange")
    return LabValue(fact, value, at, _ref_high(ranges, reading, knowledge) if ranges else None)


def _ref_high(ranges: object, reading: Reading, knowledge: Knowledge) -> Decimal | None:
    for reference in ranges if isinstance(ranges, list) else ():
        high = reference.get("high") if isinstance(reference, dict) else None
        if isinstance(high, dict):
            value = _decimal(high.get("value"))
            unit = quantity_unit(high, knowledge.systems.ucum) or reading.unit
            if value is not None and unit in reading.factors and value > 0:
                factor = reading.factors[unit]
                return value if factor is None else value * factor
    return None


# ---------------------------------------------------------------- conditions and allergies


def _condition(condition: Json, knowledge: Knowledge) -> ConditionFact:
    codes = _codes(condition.get("code"), knowledge.systems.snomed)
    groups = knowledge.conditions.model_dump(exclude={"confirm"})
    clinical = _status_code(condition.get("clinicalStatus"))
    verification = _status_code(condition.get("verificationStatus"))
    onset = parse_datetime(condition.get("onsetDateTime")) or parse_datetime(
        (condition.get("onsetPeriod") or {}).get("start")
    )
    return ConditionFact(
        groups=frozenset(name for name, members in groups.items() if codes & set(members)),
        onset=onset,
        active=clinical is None or clinical in knowledge.statuses.condition_clinical,
        verified=verification not in knowledge.statuses.condition_verification_excluded,
    )


def _tcz_allergy(allergy: Json, knowledge: Knowledge) -> bool:
    clinical = _status_code(allergy.get("clinicalStatus"))
    verification = _status_code(allergy.get("verificationStatus"))
    return (
        bool(_system_codes(allergy.get("code")) & knowledge.allergies["tcz"].codes)
        and (clinical is None or clinical in knowledge.statuses.allergy_clinical)
        and verification not in knowledge.statuses.condition_verification_excluded
    )


# ---------------------------------------------------------------- medication requests


def _medication_text(order: Json, rxnorm: str) -> tuple[set[str], str]:
    concept = order.get("medicationCodeableConcept")
    reference = order.get("medicationReference")
    if isinstance(reference, Mapping):
        contained_id = str(reference.get("reference", "")).removeprefix("#")
        for contained in order.get("contained") or []:
            if (
                contained.get("resourceType") == "Medication"
                and contained.get("id") == contained_id
            ):
                concept = contained.get("code")
        text = str(reference.get("display") or "")
    else:
        text = ""
    if isinstance(concept, Mapping):
        displays = [str(c.get("display") or "") for c in _codings(concept)]
        text = " ".join([str(concept.get("text") or ""), *displays, text])
    return _codes(concept, rxnorm), text.strip()


def classify_drug(order: Json, knowledge: Knowledge) -> tuple[Drug | None, str]:
    """Which drug class an order is (by RxNorm code, else by name in its text), and its text."""
    codes, text = _medication_text(order, knowledge.systems.rxnorm)
    for drug in DRUG_CLASSES:
        if codes & knowledge.medications[drug].codes:
            return drug, text
    lowered = text.lower()
    for drug in DRUG_CLASSES:
        name = knowledge.medications[drug].text
        if name and name in lowered:
            return drug, text
    return None, text


def _order(
    order: Json,
    knowledge: Knowledge,
    fallback_ref: str = "",
    echo_problems: Callable[[], tuple[str, ...]] = lambda: (),
) -> MedicationOrder:
    drug, text = classify_drug(order, knowledge)
    supply = order.get("dispenseRequest", {}).get("expectedSupplyDuration")
    return MedicationOrder(
        id=str(order["id"]) if order.get("id") else None,
        drug=drug,
        status=str(order.get("status", "")),
        authored=parse_datetime(order.get("authoredOn")),
        dosages=tuple(_dosage(d, knowledge) for d in order.get("dosageInstruction") or []),
        supply_days=_duration_days(supply, knowledge),
        raw=order,
        drug_text=text,
        route_iv=_route_iv(order.get("dosageInstruction") or [], knowledge),
        ref=f"MedicationRequest/{order['id']}" if order.get("id") else fallback_ref,
        echo_problems=echo_problems,
    )


def _whole_problems(order: Json) -> Callable[[], tuple[str, ...]]:
    """The whole-order R4 check of a draft, run once and only if a suggestion would echo it."""

    @functools.cache
    def problems() -> tuple[str, ...]:
        try:
            validate_whole_resource(order)
        except InvalidResource as invalid:
            return tuple(invalid.paths)
        return ()

    return problems


def _route_iv(dosages: list[Json], knowledge: Knowledge) -> bool | None:
    """Whether the stated route is intravenous; None when no dosage states a route."""
    routes: list[Json] = [
        d["route"]
        for d in dosages
        if isinstance(d, Mapping) and isinstance(d.get("route"), Mapping)
    ]
    if not routes:
        return None
    for route in routes:
        codes = _codes(route, knowledge.systems.snomed)
        words = " ".join(
            [str(route.get("text") or "")] + [str(c.get("display") or "") for c in _codings(route)]
        ).lower()
        if (
            codes & knowledge.dosing.iv_route_codes
            or set(re.findall(r"[a-z]+", words)) & knowledge.dosing.iv_route_words
        ):
            return True
    return False


def _duration_days(duration: object, knowledge: Knowledge) -> Decimal | None:
    if not isinstance(duration, Mapping):
        return None
    value = _decimal(duration.get("value"))
    unit = quantity_unit(duration, knowledge.systems.ucum)
    seconds = knowledge.dosing.duration_seconds.get(unit)
    if value is None or seconds is None:
        return None
    return value * seconds / knowledge.dosing.duration_seconds["d"]


def _dose_quantity(quantity: object, knowledge: Knowledge) -> DoseQuantity | None:
    if not isinstance(quantity, Mapping):
        return None
    value = _decimal(quantity.get("value"))
    if value is None:
        return None
    return DoseQuantity(value, quantity_unit(quantity, knowledge.systems.ucum))


def _period_unreadable(repeat: Json) -> bool:
    """A period given but not a usable number, or a period unit without a period."""
    given = repeat.get("period")
    return (given is not None and _decimal(given) is None) or (
        given is None and repeat.get("periodUnit") is not None
    )


def _dosage(dosage: Json, knowledge: Knowledge) -> Dosage:
    rates = dosage.get("doseAndRate") or [{}]
    first = rates[0] if isinstance(rates[0], Mapping) else {}
    timing = dosage.get("timing") or {}
    repeat = timing.get("repeat") or {}
    bounds_period = repeat.get("boundsPeriod") or {}
    start, end = (
        parse_datetime(bounds_period.get("start")),
        parse_datetime(bounds_period.get("end")),
    )
    bounds_days = None
    if start is not None and end is not None and end > start:
        bounds_days = Decimal((end - start).total_seconds()) / Decimal(86400)
    timing_codes = [str(c.get("code")).upper() for c in _codings(timing.get("code"))]
    return Dosage(
        dose=_dose_quantity(first.get("doseQuantity"), knowledge),
        has_timing=bool(repeat) or bool(timing_codes),
        frequency=repeat.get("frequency"),
        frequency_max=repeat.get("frequencyMax"),
        period=_decimal(repeat.get("period")),
        period_unreadable=_period_unreadable(repeat),
        period_max=_decimal(repeat.get("periodMax")),
        period_unit=repeat.get("periodUnit"),
        count=repeat.get("count"),
        time_of_day_count=len(repeat.get("timeOfDay") or []),
        timing_code=timing_codes[0] if timing_codes else None,
        bounds_duration_days=_duration_days(repeat.get("boundsDuration"), knowledge),
        bounds_days=bounds_days,
        sequence=dosage.get("sequence"),
        dose_is_range="doseRange" in first,
        dose_is_rate=any(k in first for k in ("rateQuantity", "rateRatio", "rateRange")),
    )
