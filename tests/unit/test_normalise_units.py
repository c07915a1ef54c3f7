"""Data contract (ane-rules.md section 4): units, plausibility and statuses of Observations."""

from __future__ import annotations

from decimal import Decimal

import pytest

from cds_service.clinical.knowledge import Knowledge
from cds_service.fhir.facts import build_facts
from tests.builders import PATIENT_ID, UCUM, Json, ago, lab, med_order, weight
from tests.unit.rules import only
from tests.unit.scenarios import (
    AMMONIA,
    CSF_IL6,
    CSF_LEUKOCYTES,
    CSF_LEUKOCYTES_ALT,
    CSF_PROTEIN,
    MP,
    PLATELETS,
    PROCALCITONIN,
    WEIGHT,
    WEIGHT_MEASURED,
    ane_child,
    cards_for,
    topic_set,
)


def _values(observation: Json, knowledge: Knowledge) -> tuple[str, list[Decimal], list[str]]:
    """(fact, usable canonical values, skip reasons) for a single Observation."""
    facts = build_facts(PATIENT_ID, [observation], knowledge)
    facts_with_values = [fact for fact, values in facts.labs.items() if values]
    fact = facts_with_values[0] if facts_with_values else ""
    values = [v.value for v in facts.values(fact)] if fact else []
    return fact, values, [s.reason for s in facts.skipped]


# ---------------------------------------------------------------- accepted units


def _at_1_h(loinc: str, value: float, unit: str) -> Json:
    return lab(loinc, value, unit, ago(hours=1))


@pytest.mark.parametrize(
    ("observation", "fact", "canonical"),
    [
        pytest.param(_at_1_h(WEIGHT, 18, "kg"), "weight", "18", id="weight-kg"),
        pytest.param(_at_1_h(WEIGHT, 18000, "g"), "weight", "18", id="weight-g"),
        pytest.param(_at_1_h(WEIGHT, 40, "[lb_av]"), "weight", "18.1436948", id="weight-lb_av"),
        pytest.param(_at_1_h(WEIGHT_MEASURED, 18, "kg"), "weight", "18", id="weight-3141-9"),
        pytest.param(
            _at_1_h(CSF_PROTEIN, 61, "mg/dL"), "csf_protein", "61", id="csf-protein-mg/dL"
        ),
        pytest.param(_at_1_h(CSF_PROTEIN, 0.61, "g/L"), "csf_protein", "61", id="csf-protein-g/L"),
        pytest.param(_at_1_h(CSF_PROTEIN, 610, "mg/L"), "csf_protein", "61", id="csf-protein-mg/L"),
        pytest.param(_at_1_h(CSF_LEUKOCYTES, 5, "/uL"), "csf_leukocytes", "5", id="csf-wbc-/uL"),
        pytest.param(_at_1_h(CSF_LEUKOCYTES, 5, "/mm3"), "csf_leukocytes", "5", id="csf-wbc-/mm3"),
        pytest.param(
            _at_1_h(CSF_LEUKOCYTES_ALT, 5, "10*6/L"), "csf_leukocytes", "5", id="csf-wbc-10*6/L"
        ),
        pytest.param(_at_1_h(PLATELETS, 99, "10*3/uL"), "platelets", "99", id="platelets-10*3/uL"),
        pytest.param(_at_1_h(PLATELETS, 99, "10*9/L"), "platelets", "99", id="platelets-10*9/L"),
        pytest.param(_at_1_h(PLATELETS, 99000, "/uL"), "platelets", "99", id="platelets-/uL"),
        pytest.param(_at_1_h(PLATELETS, 99000, "/mm3"), "platelets", "99", id="platelets-/mm3"),
        pytest.param(_at_1_h(AMMONIA, 50, "umol/L"), "ammonia", "50", id="ammonia-umol/L"),
        pytest.param(_at_1_h(AMMONIA, 100, "ug/dL"), "ammonia", "58.7", id="ammonia-ug/dL"),
        pytest.param(_at_1_h(PROCALCITONIN, 2.5, "ug/L"), "procalcitonin", "2.5", id="pct-ug/L"),
        pytest.param(_at_1_h(CSF_IL6, 120, "ng/L"), "csf_il6", "120", id="csf-il6-ng/L"),
    ],
)
def test_accepted_unit_is_converted_to_the_canonical_unit(
    observation: Json, fact: str, canonical: str, knowledge: Knowledge
) -> None:
    found, values, skipped = _values(observation, knowledge)
    assert (found, values, skipped) == (fact, [Decimal(canonical)], [])


@pytest.mark.parametrize(
    ("loinc", "value", "unit", "reported_unit"),
    [
        pytest.param(WEIGHT, 40, "lb", "lb", id="weight-lb-text-is-not-[lb_av]"),
        pytest.param(WEIGHT, 3, "st", "st", id="weight-stone"),
        pytest.param(CSF_PROTEIN, 0.061, "g/dL", "g/dL", id="csf-protein-g/dL-not-guessed"),
        pytest.param(PLATELETS, 99, "K/uL", "K/uL", id="platelets-K/uL"),
        pytest.param(AMMONIA, 50, "mmol/L", "mmol/L", id="ammonia-mmol/L"),
        pytest.param(AMMONIA, 50, "", "(none)", id="ammonia-no-unit"),
    ],
)
def test_unrecognised_unit_is_skipped_never_guessed(
    loinc: str, value: float, unit: str, reported_unit: str, knowledge: Knowledge
) -> None:
    observation = lab(loinc, value, unit, ago(hours=1))
    facts = build_facts(PATIENT_ID, [observation], knowledge)
    assert all(not values for values in facts.labs.values())
    assert [(s.reason, s.unit, s.value_text) for s in facts.skipped] == [
        ("unit", reported_unit, str(value))
    ]


# ---------------------------------------------------------------- where the unit is read from


def _protein(quantity: Json) -> Json:
    observation = lab(CSF_PROTEIN, 0, "mg/dL", ago(hours=1))
    observation["valueQuantity"] = {"value": 0.61, **quantity}
    return observation


@pytest.mark.parametrize(
    ("quantity", "canonical"),
    [
        pytest.param(
            {"system": UCUM, "code": "g/L", "unit": "mg/dL"}, "61", id="ucum-code-wins-over-text"
        ),
        pytest.param({"system": UCUM, "code": "g/L"}, "61", id="ucum-code-only"),
        pytest.param({"unit": "g/L"}, "61", id="no-system-unit-text"),
        pytest.param(
            {"system": "urn:local:units", "code": "g/L", "unit": "mg/dL"},
            "0.61",
            id="other-system-unit-text-wins",
        ),
    ],
)
def test_unit_is_read_from_code_when_ucum_else_from_unit_text(
    quantity: Json, canonical: str, knowledge: Knowledge
) -> None:
    fact, values, _ = _values(_protein(quantity), knowledge)
    assert (fact, values) == ("csf_protein", [Decimal(canonical)])


def test_unit_text_without_ucum_system_is_accepted(knowledge: Knowledge) -> None:
    observation = lab(PLATELETS, 99000, "/uL", ago(hours=1), ucum=False)
    assert "system" not in observation["valueQuantity"]
    assert _values(observation, knowledge)[:2] == ("platelets", [Decimal(99)])


# ---------------------------------------------------------------- weight plausibility


@pytest.mark.parametrize(
    ("value", "unit", "usable"),
    [
        pytest.param(0.5, "kg", False, id="0.5-kg"),
        pytest.param(500, "g", False, id="500-g-is-0.5-kg"),
        pytest.param(0.99, "kg", False, id="0.99-kg"),
        pytest.param(1, "kg", True, id="1-kg"),
        pytest.param(1000, "g", True, id="1000-g"),
        pytest.param(250, "kg", True, id="250-kg"),
        pytest.param(251, "kg", False, id="251-kg"),
        pytest.param(552, "[lb_av]", False, id="552-lb-is-250.4-kg"),
    ],
)
def test_weight_outside_1_to_250_kg_is_skipped_as_implausible(
    value: float, unit: str, usable: bool, knowledge: Knowledge
) -> None:
    _, values, skipped = _values(weight(value, ago(hours=1), unit), knowledge)
    assert bool(values) is usable
    assert skipped == ([] if usable else ["implausible"])


def test_implausible_newest_weight_is_named_and_the_older_one_used() -> None:
    resources = [
        *ane_child(kg=None),
        weight(0.5, ago(hours=1)),
        weight(20, ago(days=2)),
    ]
    advice = cards_for("patient-view", resources)
    recommendation = only(advice, "mp-recommendation")
    assert "600 mg/day" in recommendation.summary  # 30 mg/kg x 20 kg
    assert "Skipped a newer weight of 0.5 kg (implausible)" in recommendation.detail
    assert "unit-unrecognized" not in topic_set(advice)


def test_only_implausible_weights_give_weight_missing_naming_them() -> None:
    resources = [*ane_child(kg=None), weight(251, ago(hours=1))]
    advice = cards_for("patient-view", resources)
    missing = only(advice, "weight-missing")
    assert missing.indicator == "warning"
    assert "251 kg (implausible)" in missing.detail
    assert "mp-recommendation" not in topic_set(advice)


# ---------------------------------------------------------------- unrecognised unit: the card


def test_unrecognised_weight_unit_falls_back_to_older_weight_and_raises_unit_card() -> None:
    resources = [*ane_child(kg=None), weight(40, ago(hours=1), "lb"), weight(18, ago(days=3))]
    advice = cards_for("patient-view", resources)
    assert "540 mg/day" in only(advice, "mp-recommendation").summary
    unit_card = only(advice, "unit-unrecognized")
    assert unit_card.indicator == "info"
    assert unit_card.summary.startswith("1 value(s)")
    assert "body weight" in unit_card.detail
    assert "unit 'lb'" in unit_card.detail


def test_unrecognised_weight_unit_alone_means_no_usable_weight() -> None:
    resources = [*ane_child(kg=None), weight(3, ago(hours=1), "st")]
    advice = cards_for("patient-view", resources)
    assert {"weight-missing", "unit-unrecognized"} <= topic_set(advice)
    assert "mp-recommendation" not in topic_set(advice)
    assert "3 st (unit not recognised)" in only(advice, "weight-missing").detail


def test_weight_in_lb_av_sets_the_mp_target() -> None:
    resources = [*ane_child(kg=None), weight(40, ago(hours=1), "[lb_av]")]
    # 40 lb = 18.1436948 kg; 30 mg/kg/day = 544.3 mg -> 544 mg
    assert "544 mg/day" in only(cards_for("patient-view", resources), "mp-recommendation").summary


@pytest.mark.parametrize(
    ("observation_loinc", "unit", "raised"),
    [
        pytest.param(WEIGHT, "lb", True, id="weight-needed-by-the-dose-check"),
        pytest.param(AMMONIA, "mmol/L", True, id="ammonia-needed-by-red-flags"),
        pytest.param(CSF_LEUKOCYTES, "cells", True, id="csf-wbc-needed-by-red-flags"),
        pytest.param(PLATELETS, "K/uL", False, id="platelets-not-needed-on-order-hook"),
        pytest.param(CSF_PROTEIN, "g/dL", False, id="csf-protein-not-needed-on-order-hook"),
    ],
)
def test_order_hook_reports_unit_only_for_values_its_checks_need(
    observation_loinc: str, unit: str, raised: bool
) -> None:
    resources = [*ane_child(), lab(observation_loinc, 1, unit, ago(hours=1))]
    advice = cards_for("order-sign", resources, [med_order(MP, 540)])
    assert ("unit-unrecognized" in topic_set(advice)) is raised


def test_older_in_window_value_with_unrecognised_unit_is_still_reported() -> None:
    resources = [
        *ane_child(),
        lab(PLATELETS, 150, "10*3/uL", ago(hours=2)),
        lab(PLATELETS, 50, "K/uL", ago(hours=6)),  # lower count, unit not in the table
    ]
    advice = cards_for("patient-view", resources)
    assert "unit 'K/uL'" in only(advice, "unit-unrecognized").detail


# ---------------------------------------------------------------- observation status


@pytest.mark.parametrize(
    ("loinc", "unit", "status", "counts"),
    [
        pytest.param(WEIGHT, "kg", "final", True, id="weight-final"),
        pytest.param(WEIGHT, "kg", "amended", True, id="weight-amended"),
        pytest.param(WEIGHT, "kg", "corrected", True, id="weight-corrected"),
        pytest.param(WEIGHT, "kg", "preliminary", True, id="weight-preliminary-vital-sign"),
        pytest.param(WEIGHT, "kg", "registered", False, id="weight-registered"),
        pytest.param(WEIGHT, "kg", "cancelled", False, id="weight-cancelled"),
        pytest.param(WEIGHT, "kg", "entered-in-error", False, id="weight-entered-in-error"),
        pytest.param(PLATELETS, "10*3/uL", "final", True, id="platelets-final"),
        pytest.param(PLATELETS, "10*3/uL", "amended", True, id="platelets-amended"),
        pytest.param(PLATELETS, "10*3/uL", "corrected", True, id="platelets-corrected"),
        pytest.param(PLATELETS, "10*3/uL", "preliminary", False, id="platelets-preliminary"),
        pytest.param(PLATELETS, "10*3/uL", "cancelled", False, id="platelets-cancelled"),
        pytest.param(
            PLATELETS, "10*3/uL", "entered-in-error", False, id="platelets-entered-in-error"
        ),
        pytest.param(CSF_PROTEIN, "mg/dL", "preliminary", False, id="csf-protein-preliminary"),
    ],
)
def test_observation_counts_only_with_an_accepted_status(
    loinc: str, unit: str, status: str, counts: bool, knowledge: Knowledge
) -> None:
    facts = build_facts(PATIENT_ID, [lab(loinc, 20, unit, ago(hours=1), status=status)], knowledge)
    assert any(facts.labs.values()) is counts


@pytest.mark.parametrize(
    ("status", "recommended_mg"),
    [
        pytest.param("preliminary", "600", id="preliminary-weight-used"),
        pytest.param("cancelled", "540", id="cancelled-weight-ignored"),
        pytest.param("entered-in-error", "540", id="entered-in-error-weight-ignored"),
    ],
)
def test_newest_weight_status_decides_which_weight_doses_mp(
    status: str, recommended_mg: str
) -> None:
    resources = [*ane_child(kg=None), weight(20, ago(hours=1), status=status)]
    resources.append(weight(18, ago(days=1)))
    summary = only(cards_for("patient-view", resources), "mp-recommendation").summary
    assert f"{recommended_mg} mg/day" in summary


def test_order_hook_dose_card_names_the_skipped_newer_weight() -> None:
    resources = [*ane_child(kg=None), weight(251, ago(hours=1)), weight(18, ago(days=1))]
    advice = cards_for("order-sign", resources, [med_order(MP, 360)])
    card = only(advice, "mp-dose-below-target")
    assert "540 mg/day" in card.summary  # the 18 kg weight is used
    assert "Skipped a newer weight of 251 kg (implausible)" in card.detail
