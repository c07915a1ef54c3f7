"""Concise builders of FHIR R4 JSON and CDS Hooks requests for tests and fixtures."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

Json = dict[str, Any]
REFERENCE = datetime.fromisoformat("2026-11-21T12:00:00+00:00")
PATIENT_ID = "ane-child-1"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
UCUM = "http://unitsofmeasure.org"
_ids = itertools.count(1)


def ago(hours: float = 0, days: float = 0, now: datetime = REFERENCE) -> str:
    """An ISO instant `hours`/`days` before `now`."""
    return (now - timedelta(hours=hours, days=days)).isoformat().replace("+00:00", "Z")


def birth_date(years: int, months: int = 0, days: int = 0, now: datetime = REFERENCE) -> str:
    """A birth date giving exactly this completed age at `now` (plus `days`)."""
    total = now.year * 12 + now.month - 1 - years * 12 - months
    year, month = divmod(total, 12)
    born = now.replace(year=year, month=month + 1) - timedelta(days=days)
    return born.date().isoformat()


def patient(birth: str | None, pid: str = PATIENT_ID) -> Json:
    resource: Json = {"resourceType": "Patient", "id": pid}
    if birth:
        resource["birthDate"] = birth
    return resource


def lab(
    code: str,
    value: float | str,
    unit: str,
    at: str | None,
    *,
    status: str = "final",
    ref_high: float | None = None,
    ucum: bool = True,
    pid: str = PATIENT_ID,
) -> Json:
    quantity: Json = {"value": value, "unit": unit}
    if ucum:
        quantity.update(system=UCUM, code=unit)
    resource: Json = {
        "resourceType": "Observation",
        "id": f"obs-{next(_ids)}",
        "status": status,
        "code": {"coding": [{"system": LOINC, "code": code}]},
        "subject": {"reference": f"Patient/{pid}"},
        "valueQuantity": quantity,
    }
    if at:
        resource["effectiveDateTime"] = at
    if ref_high is not None:
        resource["referenceRange"] = [{"high": {"value": ref_high, "unit": unit}}]
    return resource


def weight(kg: float, at: str | None, unit: str = "kg", **kw: Any) -> Json:
    return lab("29463-7", kg, unit, at, **kw)


def finding(code: str, present: bool, at: str | None, pid: str = PATIENT_ID) -> Json:
    resource: Json = {
        "resourceType": "Observation",
        "id": f"obs-{next(_ids)}",
        "status": "final",
        "code": {"coding": [{"system": "urn:ane-cds:finding", "code": code}]},
        "subject": {"reference": f"Patient/{pid}"},
        "valueBoolean": present,
    }
    if at:
        resource["effectiveDateTime"] = at
    return resource


def culture(code: str, positive: bool, at: str, pid: str = PATIENT_ID) -> Json:
    flag = "POS" if positive else "NEG"
    return {
        "resourceType": "Observation",
        "id": f"obs-{next(_ids)}",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": code}]},
        "subject": {"reference": f"Patient/{pid}"},
        "effectiveDateTime": at,
        "interpretation": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
                        "code": flag,
                    }
                ]
            }
        ],
    }


def condition(
    code: str,
    onset: str | None,
    *,
    clinical: str | None = "active",
    verification: str | None = None,
    pid: str = PATIENT_ID,
) -> Json:
    resource: Json = {
        "resourceType": "Condition",
        "id": f"cond-{next(_ids)}",
        "code": {"coding": [{"system": SNOMED, "code": code}]},
        "subject": {"reference": f"Patient/{pid}"},
    }
    if clinical:
        resource["clinicalStatus"] = {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                    "code": clinical,
                }
            ]
        }
    if verification:
        resource["verificationStatus"] = {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                    "code": verification,
                }
            ]
        }
    if onset:
        resource["onsetDateTime"] = onset
    return resource


def med_order(
    rxnorm: str | None,
    dose: float | None,
    unit: str = "mg",
    *,
    frequency: int | None = 1,
    period: float | None = 1,
    period_unit: str | None = "d",
    status: str = "draft",
    authored: str | None = None,
    oid: str | None = None,
    text: str | None = None,
    timing: bool = True,
    repeat_extra: Json | None = None,
    pid: str = PATIENT_ID,
) -> Json:
    concept: Json = {}
    if rxnorm:
        concept["coding"] = [{"system": RXNORM, "code": rxnorm}]
    if text:
        concept["text"] = text
    dosage: Json = {}
    if dose is not None:
        dosage["doseAndRate"] = [
            {"doseQuantity": {"value": dose, "unit": unit, "system": UCUM, "code": unit}}
        ]
    if timing:
        repeat: Json = {}
        if frequency is not None:
            repeat["frequency"] = frequency
        if period is not None:
            repeat["period"] = period
        if period_unit is not None:
            repeat["periodUnit"] = period_unit
        repeat.update(repeat_extra or {})
        if repeat:
            dosage["timing"] = {"repeat": repeat}
    resource: Json = {
        "resourceType": "MedicationRequest",
        "id": oid or f"mr-{next(_ids)}",
        "status": status,
        "intent": "order",
        "medicationCodeableConcept": concept,
        "subject": {"reference": f"Patient/{pid}"},
        "dosageInstruction": [dosage] if dosage else [],
    }
    if not resource["dosageInstruction"]:
        del resource["dosageInstruction"]
    if authored:
        resource["authoredOn"] = authored
    return resource


def searchset(resources: list[Json]) -> Json:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "entry": [{"resource": r} for r in resources],
    }


def prefetch_for(resources: list[Json]) -> Json:
    """Split resources into the service's prefetch keys (patient, observations, ...)."""
    by_type: dict[str, list[Json]] = {}
    for resource in resources:
        by_type.setdefault(resource["resourceType"], []).append(resource)
    patients = by_type.get("Patient", [])
    return {
        "patient": patients[0] if patients else None,
        "observations": searchset(by_type.get("Observation", [])),
        "conditions": searchset(by_type.get("Condition", [])),
        "medications": searchset(by_type.get("MedicationRequest", [])),
        "allergies": searchset(by_type.get("AllergyIntolerance", [])),
    }


def hook_request(
    hook: str,
    resources: list[Json],
    *,
    drafts: list[Json] | None = None,
    selections: list[str] | None = None,
    prefetch: bool = True,
    fhir_server: str | None = None,
    token: str | None = None,
    instance: str = "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
    pid: str = PATIENT_ID,
) -> Json:
    context: Json = {"userId": "Practitioner/example", "patientId": pid}
    if hook != "patient-view":
        context["draftOrders"] = {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": d} for d in drafts or []],
        }
    if hook == "order-select":
        context["selections"] = (
            selections
            if selections is not None
            else [f"MedicationRequest/{d['id']}" for d in drafts or []]
        )
    body: Json = {"hook": hook, "hookInstance": instance, "context": context}
    if prefetch:
        body["prefetch"] = prefetch_for(resources)
    if fhir_server:
        body["fhirServer"] = fhir_server
    if token:
        body["fhirAuthorization"] = {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "patient/*.read",
            "subject": "ane-cds",
        }
    return body
