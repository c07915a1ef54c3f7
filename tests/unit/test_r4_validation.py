"""Incoming FHIR data: every element the rules read is validated strictly; the rest is ignored."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from cds_service.fhir.r4 import (
    InvalidResource,
    narrow,
    validate_whole_resource,
)
from tests.builders import condition, lab, med_order, patient


def validate_resource(resource: Mapping[str, Any]) -> None:
    """One resource through the service's narrow validation; InvalidResource if wrong."""
    narrow([resource], str(resource.get("resourceType", "")))


def _obs(**changes: Any) -> dict[str, Any]:
    resource = lab("29463-7", 18, "kg", "2026-11-21T10:00:00Z")
    resource.update(changes)
    return resource


INVALID = [
    ("birth date not a date", patient("21/11/2020"), "birthDate"),
    ("birth date with a time", {**patient(None), "birthDate": "2020-11-21T00:00:00Z"}, "birthDate"),
    ("observation without status", {k: v for k, v in _obs().items() if k != "status"}, "status"),
    ("observation without code", {k: v for k, v in _obs().items() if k != "code"}, "code"),
    ("value as a string", _obs(valueQuantity={"value": "18", "unit": "kg"}), "valueQuantity.value"),
    (
        "value as a boolean",
        _obs(valueQuantity={"value": True, "unit": "kg"}),
        "valueQuantity.value",
    ),
    ("time without a zone", _obs(effectiveDateTime="2026-11-21T10:00:00"), "effectiveDateTime"),
    ("month 13", _obs(effectiveDateTime="2026-13-01"), "effectiveDateTime"),
    ("instant without seconds", _obs(issued="2026-11-21T10:00Z"), "issued"),
    (
        "coding code with spaces",
        _obs(code={"coding": [{"system": "s", "code": " x"}]}),
        "code.coding[0].code",
    ),
    ("valueBoolean as a string", _obs(valueBoolean="true"), "valueBoolean"),
    ("onset text", {**condition("763310000", None), "onsetDateTime": "yesterday"}, "onsetDateTime"),
    (
        "frequency zero",
        med_order("6902", 500, frequency=0),
        "dosageInstruction[0].timing.repeat.frequency",
    ),
    (
        "period as text",
        med_order("6902", 500, repeat_extra={"period": "12"}),
        "dosageInstruction[0].timing.repeat.period",
    ),
    (
        "no medication",
        {k: v for k, v in med_order("6902", 500).items() if k != "medicationCodeableConcept"},
        "medication[x]",
    ),
    ("no intent", {k: v for k, v in med_order("6902", 500).items() if k != "intent"}, "intent"),
    ("a type the rules never read", {"resourceType": "Encounter", "status": "x"}, "resourceType"),
]


@pytest.mark.parametrize(("name", "resource", "path"), INVALID, ids=[i[0] for i in INVALID])
def test_what_the_rules_read_is_validated(name: str, resource: dict[str, Any], path: str) -> None:
    with pytest.raises(InvalidResource) as raised:
        validate_resource(resource)
    assert path in raised.value.paths


VALID_OF = {
    "Patient": patient("2020-01-01"),
    "Observation": _obs(),
    "Condition": condition("763310000", "2026-11-20"),
    "MedicationRequest": med_order("6902", 500),
}


OF_READ_TYPES = [i for i in INVALID if i[1]["resourceType"] in VALID_OF]


@pytest.mark.parametrize(
    ("name", "resource", "path"), OF_READ_TYPES, ids=[i[0] for i in OF_READ_TYPES]
)
def test_a_list_is_validated_like_each_of_its_resources(
    name: str, resource: dict[str, Any], path: str
) -> None:
    resource_type = resource["resourceType"]
    valid = VALID_OF[resource_type]
    with pytest.raises(InvalidResource) as single:
        validate_resource(resource)
    with pytest.raises(InvalidResource) as listed:
        narrow([valid, valid, resource, valid, resource], resource_type)
    assert (listed.value.position, listed.value.paths) == (2, single.value.paths)


def test_in_a_list_the_first_invalid_order_is_reported_whatever_its_fault() -> None:
    no_medication = {
        k: v for k, v in med_order("6902", 500).items() if k != "medicationCodeableConcept"
    }
    bad_frequency = med_order("6902", 500, frequency=0)
    valid = med_order("6902", 500)
    for orders, position, path in [
        ([valid, no_medication, valid, bad_frequency], 1, "medication[x]"),
        ([valid, bad_frequency, valid, no_medication], 1, "dosageInstruction[0].timing"),
    ]:
        with pytest.raises(InvalidResource) as raised:
            narrow(orders, "MedicationRequest")
        assert raised.value.position == position
        assert any(p.startswith(path) for p in raised.value.paths)


def test_the_rules_get_only_the_elements_that_were_validated() -> None:
    observation = _obs(note=[{"text": "free text"}], extension=[{"url": "x"}])
    observation["code"]["coding"][0]["userSelected"] = "not read, not checked"
    order = med_order("6902", 500)
    [narrowed] = narrow([observation], "Observation")
    assert set(narrowed) == set(observation) - {"note", "extension", "subject"}
    assert narrowed["code"]["coding"][0] == {"system": "http://loinc.org", "code": "29463-7"}
    assert narrowed["valueQuantity"] == observation["valueQuantity"]
    assert (
        narrow([order], "MedicationRequest")[0]["dosageInstruction"] == order["dosageInstruction"]
    )
    assert narrow([], "Observation") == []


@pytest.mark.parametrize(
    "resource",
    [
        _obs(extension=[{"url": "http://example.org/x", "valueString": "y"}]),
        _obs(note=[{"text": "anything"}], performer="not even a list"),
        _obs(effectiveDateTime="2026"),
        _obs(effectiveDateTime="2026-11-21T10:00:00.123+01:00"),
        {**patient("2020-02-29"), "name": [{"family": "X"}], "vendorField": {"a": 1}},
        med_order("6902", 500.5, repeat_extra={"timeOfDay": ["08:00:00", "20:00:00"]}),
    ],
)
def test_elements_the_rules_do_not_read_are_ignored(resource: dict[str, Any]) -> None:
    validate_resource(resource)


def test_draft_orders_are_validated_whole() -> None:
    order = med_order("6902", 500)
    order["note"] = "should be a list"  # an element the rules never read, but the order is echoed
    validate_resource(order)
    with pytest.raises(InvalidResource) as raised:
        validate_whole_resource(order)
    assert raised.value.paths == ["note"]
