"""Section 9 tocilizumab dose and recommendation by severity band, through the whole service.

Dose per infusion: 12 mg/kg below 30 kg, 8 mg/kg from 30 kg, at most 800 mg, rounded to 1 mg.
Near 30 kg (within 2 kg) the card explains the drop (29.9 kg: 359 mg; 30 kg: 240 mg).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.builders import Json, ago, condition, finding, lab, med_order
from tests.hookrun import card, run_hook, suggested_dose_mg
from tests.hooks.story import (
    BRAINSTEM,
    CRITERIA,
    CSF_PROTEIN,
    MP_REC,
    NOREPINEPHRINE,
    PLATELETS,
    SEVERITY_HIGH,
    SEVERITY_INFO,
    SHOCK,
    TCZ,
    TCZ_CONSIDER,
    TCZ_DRAFT,
    TCZ_RECOMMEND,
    assert_cards,
    child,
    only_action,
    tcz_order,
)


def explains_the_30_kg_step(detail: str) -> bool:
    """Whether the detail gives both doses either side of 30 kg (spec: 359 mg and 240 mg)."""
    return "359 mg" in detail and "240 mg" in detail


def assert_create_suggestion(card_json: dict[str, Any], dose_mg: int) -> None:
    """One create action: a draft tocilizumab MedicationRequest for one infusion of dose_mg."""
    action = only_action(card_json)
    assert action["type"] == "create"
    resource = action["resource"]
    assert resource["status"] == "draft"
    assert resource["intent"] == "order"
    codes = {c["code"] for c in resource["medicationCodeableConcept"]["coding"]}
    assert TCZ in codes
    dosage = resource["dosageInstruction"][0]
    assert dosage["timing"]["repeat"]["count"] == 1
    assert dosage["doseAndRate"][0]["doseQuantity"] == {
        "value": dose_mg,
        "unit": "mg",
        "system": "http://unitsofmeasure.org",
        "code": "mg",
    }
    assert suggested_dose_mg(card_json) == dose_mg


# (weight kg, age in years, target mg per infusion, whether the 30 kg step is explained)
WEIGHT_ROWS = [
    pytest.param(18, 5, 216, False, id="18kg-12mg/kg-216"),
    pytest.param(27.9, 8, 335, False, id="27.9kg-2.1kg-below-no-explanation"),
    pytest.param(28, 8, 336, True, id="28kg-2kg-below-explained"),
    pytest.param(29.9, 9, 359, True, id="29.9kg-12mg/kg-359"),
    pytest.param(30, 9, 240, True, id="30kg-8mg/kg-240"),
    pytest.param(32, 10, 256, True, id="32kg-2kg-above-explained"),
    pytest.param(32.1, 10, 257, False, id="32.1kg-2.1kg-above-no-explanation"),
    pytest.param(99.9, 15, 799, False, id="99.9kg-799-under-cap"),
    pytest.param(100, 15, 800, False, id="100kg-800-at-cap"),
    pytest.param(110, 16, 800, False, id="110kg-880-capped-800"),
]


@pytest.mark.parametrize(("kg", "years", "dose_mg", "explained"), WEIGHT_ROWS)
def test_recommendation_dose_by_weight(
    kg: float, years: int, dose_mg: int, explained: bool
) -> None:
    # older than 48 months: 2 severity points, band medium -> "consider"
    cards = run_hook("patient-view", child(years=years, kg=kg))
    assert_cards(cards, [MP_REC, TCZ_CONSIDER, SEVERITY_INFO, CRITERIA])
    recommendation = card(cards, "tcz-recommendation")
    assert_create_suggestion(recommendation, dose_mg)
    assert f"{dose_mg} mg" in recommendation["summary"]
    assert explains_the_30_kg_step(recommendation["detail"]) is explained


def brainstem() -> Json:
    return finding(BRAINSTEM, True, ago(hours=8))


def shock() -> Json:
    return condition(SHOCK, ago(hours=9))


def platelets(value: float) -> Json:
    return lab(PLATELETS, value, "10*3/uL", ago(hours=6))


def csf_protein(value: float) -> Json:
    return lab(CSF_PROTEIN, value, "mg/dL", ago(hours=7))


def norepinephrine() -> Json:
    return med_order(NOREPINEPHRINE, 0.1, "ug/kg/min", status="active", authored=ago(hours=5))


# (age years/months/days, facts, band of minScore) -- section 7 items build each band
BAND_ROWS = [
    pytest.param((3, 0, 0), [], "low", id="36-months-nothing-score-0-low"),
    pytest.param((4, 0, 0), [], "low", id="48-months-exactly-scores-0-low"),
    pytest.param((4, 0, 10), [], "low", id="48-months-10-days-is-48-low"),
    pytest.param((4, 1, 0), [], "medium", id="49-months-scores-2-medium"),
    pytest.param((3, 0, 0), [platelets(99)], "low", id="platelets-99-score-1-low"),
    pytest.param(
        (3, 0, 0),
        [platelets(99), csf_protein(61)],
        "medium",
        id="platelets-99-protein-61-score-2-medium",
    ),
    pytest.param(
        (3, 0, 0),
        [platelets(100), csf_protein(60)],
        "low",
        id="platelets-100-protein-60-score-0-low",
    ),
    pytest.param((3, 0, 0), [shock()], "medium", id="shock-score-3-medium"),
    pytest.param((3, 0, 0), [norepinephrine()], "medium", id="vasoactive-order-is-shock-medium"),
    pytest.param((5, 0, 0), [brainstem()], "medium", id="brainstem-age-score-4-medium"),
    pytest.param(
        (5, 0, 0), [brainstem(), platelets(100)], "medium", id="brainstem-age-platelets-100-score-4"
    ),
    pytest.param(
        (5, 0, 0),
        [brainstem(), platelets(99)],
        "high",
        id="brainstem-age-platelets-99-score-5-high",
    ),
    pytest.param(
        (5, 0, 0), [brainstem(), csf_protein(60)], "medium", id="brainstem-age-protein-60-score-4"
    ),
    pytest.param(
        (5, 0, 0),
        [brainstem(), csf_protein(61)],
        "high",
        id="brainstem-age-protein-61-score-5-high",
    ),
    pytest.param((3, 0, 0), [shock(), brainstem()], "high", id="shock-brainstem-score-5-high"),
    pytest.param(
        (3, 0, 0), [norepinephrine(), brainstem()], "high", id="vasoactive-brainstem-score-5-high"
    ),
    pytest.param(
        (3, 0, 0),
        [condition(SHOCK, ago(hours=60)), brainstem()],
        "medium",
        id="shock-before-window-not-scored",
    ),
    pytest.param(
        (5, 0, 0),
        [shock(), brainstem(), platelets(85), csf_protein(95)],
        "high",
        id="all-items-score-9-high",
    ),
]


@pytest.mark.parametrize(("age", "facts", "band"), BAND_ROWS)
def test_recommendation_by_band(age: tuple[int, int, int], facts: list[Json], band: str) -> None:
    years, months, days = age
    cards = run_hook("patient-view", child(*facts, years=years, months=months, days=days))
    severity = card(cards, "severity-score")
    assert severity["extension"]["ane-cds.severity"]["band"] == band
    expected = {
        "low": [MP_REC, SEVERITY_INFO, CRITERIA],
        "medium": [MP_REC, TCZ_CONSIDER, SEVERITY_INFO, CRITERIA],
        "high": [MP_REC, TCZ_RECOMMEND, SEVERITY_HIGH, CRITERIA],
    }[band]
    assert_cards(cards, expected)
    if band == "low":
        return
    recommendation = card(cards, "tcz-recommendation")
    summary = recommendation["summary"].lower()
    if band == "high":
        assert "recommend" in summary
        assert "consider" not in summary
    else:
        assert "consider" in summary
        assert "recommend" not in summary
    assert_create_suggestion(recommendation, 216)


@pytest.mark.parametrize(
    ("onset_hours", "expected"),
    [
        pytest.param(10, "10 h", id="onset-10h-hours-stated"),
        pytest.param(30, "30 h", id="onset-30h-hours-stated"),
        pytest.param(None, "onset unknown", id="onset-unknown-said"),
    ],
)
def test_recommendation_detail_states_time_since_onset(
    onset_hours: float | None, expected: str
) -> None:
    cards = run_hook("patient-view", child(onset_hours=onset_hours))
    assert_cards(cards, [MP_REC, TCZ_CONSIDER, SEVERITY_INFO, CRITERIA])
    assert expected in card(cards, "tcz-recommendation")["detail"].lower()


# (weight kg or None, ordered mg per infusion, expected target in the update, or None: no card)
ORDER_DOSE_ROWS = [
    pytest.param(18, 216, None, id="18kg-216-on-target"),
    pytest.param(18, 194.4, None, id="18kg-194.4-exactly-10pct-under"),
    pytest.param(18, 237.6, None, id="18kg-237.6-exactly-10pct-over"),
    pytest.param(18, 194.3, 216, id="18kg-194.3-just-over-10pct-under"),
    pytest.param(18, 237.7, 216, id="18kg-237.7-just-over-10pct-over"),
    pytest.param(20, 240, None, id="20kg-240-on-target"),
    pytest.param(20, 216, None, id="20kg-216-exactly-10pct-under"),
    pytest.param(20, 264, None, id="20kg-264-exactly-10pct-over"),
    pytest.param(20, 215.9, 240, id="20kg-215.9-under"),
    pytest.param(20, 264.1, 240, id="20kg-264.1-over"),
    pytest.param(29.9, 240, 359, id="29.9kg-ordered-at-8mg/kg"),
    pytest.param(30, 359, 240, id="30kg-ordered-at-12mg/kg"),
    pytest.param(30, 240, None, id="30kg-240-on-target"),
    pytest.param(100, 800, None, id="100kg-800-at-cap"),
    pytest.param(110, 800, None, id="110kg-800-capped-target"),
    pytest.param(110, 801, 800, id="110kg-801-above-cap-within-10pct"),
    pytest.param(110, 880, 800, id="110kg-880-8mg/kg-uncapped"),
    pytest.param(None, 800, None, id="no-weight-800-cap-only"),
    pytest.param(None, 100, None, id="no-weight-100-cap-only"),
    pytest.param(None, 801, 800, id="no-weight-801-above-cap"),
    pytest.param(None, 1000, 800, id="no-weight-1000-above-cap"),
]


@pytest.mark.parametrize(("kg", "ordered", "target"), ORDER_DOSE_ROWS)
@pytest.mark.parametrize("hook", ["order-select", "order-sign"])
def test_order_dose(hook: str, kg: float | None, ordered: float, target: int | None) -> None:
    years = 15 if kg is not None and kg >= 100 else 6
    cards = run_hook(hook, child(years=years, kg=kg), drafts=[tcz_order(ordered)])
    expected = [] if target is None else ["tcz-dose:warning"]
    if kg is None:
        expected.append("weight-missing:warning")
    assert_cards(cards, expected)
    if target is None:
        return
    dose_card = card(cards, "tcz-dose")
    action = only_action(dose_card)
    assert action["type"] == "update"
    assert action["resource"]["id"] == TCZ_DRAFT
    assert suggested_dose_mg(dose_card) == target


@pytest.mark.parametrize("hook", ["order-select", "order-sign"])
def test_a_draft_invalid_outside_what_the_rules_read_gets_advice_but_no_echo(hook: str) -> None:
    draft = tcz_order(300)
    draft["note"] = "a string where R4 has a list of Annotations"
    cards = run_hook(hook, child(years=6, kg=18), drafts=[draft])  # 200 both ways
    assert_cards(cards, ["tcz-dose:warning"])
    dose_card = card(cards, "tcz-dose")
    assert "suggestions" not in dose_card
    assert (
        "Change the dose by hand: the draft order is not valid FHIR R4 (at note)"
        in (dose_card["detail"])
    )


@pytest.mark.parametrize(
    ("kg", "ordered", "explained"),
    [
        pytest.param(29.9, 240, True, id="29.9kg-explained"),
        pytest.param(30, 359, True, id="30kg-explained"),
        pytest.param(18, 300, False, id="18kg-not-explained"),
    ],
)
def test_order_dose_card_explains_the_30_kg_step(
    kg: float, ordered: float, explained: bool
) -> None:
    cards = run_hook("order-select", child(years=9, kg=kg), drafts=[tcz_order(ordered)])
    assert_cards(cards, ["tcz-dose:warning"])
    assert explains_the_30_kg_step(card(cards, "tcz-dose")["detail"]) is explained


@pytest.mark.parametrize(
    ("per_kg", "target"),
    [
        pytest.param(12, None, id="12mg/kg-on-target"),
        pytest.param(8, 216, id="8mg/kg-under-30kg-is-144mg"),
    ],
)
def test_order_dose_in_mg_per_kg(per_kg: float, target: int | None) -> None:
    cards = run_hook("order-select", child(kg=18), drafts=[tcz_order(per_kg, unit="mg/kg")])
    assert_cards(cards, [] if target is None else ["tcz-dose:warning"])
    if target is not None:
        assert suggested_dose_mg(card(cards, "tcz-dose")) == target
