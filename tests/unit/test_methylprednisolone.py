"""Methylprednisolone (ane-rules.md section 8): target, recommendation, dose rows, duration, weight."""

from __future__ import annotations

import copy
from decimal import Decimal

import pytest

from cds_service.clinical.knowledge import Knowledge
from cds_service.clinical.methylprednisolone import mp_dose_topic, mp_target_mg
from cds_service.fhir.r4 import validate_whole_resource
from tests.builders import PATIENT_ID, RXNORM, Json, ago, med_order
from tests.unit.rules import only
from tests.unit.scenarios import (
    ACETAMINOPHEN,
    MP,
    MP_500_MG_VIAL,
    ane_child,
    cards_for,
    days,
    dose_of,
    dose_topics,
    mg,
    suggested_resource,
    topic_set,
)

# ---------------------------------------------------------------- target (min(30 x kg, 1,000))


@pytest.mark.parametrize(
    ("weight_kg", "target_mg"),
    [
        pytest.param("18", 540, id="18-kg"),
        pytest.param("10.3", 309, id="10.3-kg"),
        pytest.param("18.35", 551, id="18.35-kg-550.5-rounds-half-up"),
        pytest.param("18.349", 550, id="18.349-kg-550.47-rounds-down"),
        pytest.param("33.3", 999, id="33.3-kg"),
        pytest.param("33.33", 1000, id="33.33-kg-999.9"),
        pytest.param("33.4", 1000, id="33.4-kg-capped"),
        pytest.param("40", 1000, id="40-kg-capped"),
        pytest.param("250", 1000, id="250-kg-capped"),
    ],
)
def test_target_is_30_mg_per_kg_capped_at_1000_rounded_half_up(
    weight_kg: str, target_mg: int, knowledge: Knowledge
) -> None:
    assert mp_target_mg(Decimal(weight_kg), knowledge) == target_mg


@pytest.mark.parametrize(
    ("kg", "dose", "capped"),
    [
        pytest.param(18, "540", False, id="18-kg-E1"),
        pytest.param(33.3, "999", False, id="33.3-kg"),
        pytest.param(33.4, "1,000", True, id="33.4-kg"),
        pytest.param(40, "1,000", True, id="40-kg"),
    ],
)
def test_recommendation_suggests_the_target_as_a_draft_order(
    kg: float, dose: str, capped: bool
) -> None:
    card = only(cards_for("patient-view", ane_child(kg=kg)), "mp-recommendation")
    assert card.indicator == "warning"
    assert f"methylprednisolone {dose} mg/day" in card.summary
    assert ("capped at 1,000 mg/day" in card.detail) is capped
    assert "IVIG 2 g/kg over 5 days" in card.detail
    assert "10 h since onset" in card.detail
    resource = suggested_resource(card)
    assert resource["resourceType"] == "MedicationRequest"
    assert (resource["status"], resource["intent"]) == ("draft", "order")
    assert resource["subject"] == {"reference": f"Patient/{PATIENT_ID}"}
    coding = resource["medicationCodeableConcept"]["coding"][0]
    assert (coding["system"], coding["code"]) == (RXNORM, MP)
    dosage = resource["dosageInstruction"][0]
    assert dose in dosage["text"]
    assert dosage["route"]["coding"][0]["code"] == "47625008"  # SNOMED intravenous route
    repeat = dosage["timing"]["repeat"]
    assert (repeat["frequency"], repeat["period"], repeat["periodUnit"]) == (1, 1, "d")
    assert (repeat["boundsDuration"]["value"], repeat["boundsDuration"]["code"]) == (3, "d")
    assert dose_of(resource) == mg(int(dose.replace(",", "")))


def test_recommendation_with_unknown_onset_says_start_as_early_as_possible() -> None:
    card = only(cards_for("patient-view", ane_child(onset_hours=None)), "mp-recommendation")
    assert "Onset unknown" in card.detail


# ---------------------------------------------------------------- earlier MP orders


@pytest.mark.parametrize(
    ("status", "authored", "code", "recommended"),
    [
        pytest.param("active", ago(hours=2), MP, False, id="active-in-episode"),
        pytest.param("completed", ago(hours=20), MP, False, id="completed-in-episode"),
        pytest.param("on-hold", ago(hours=2), MP, False, id="on-hold-in-episode"),
        pytest.param("active", ago(hours=2), MP_500_MG_VIAL, False, id="iv-product-in-episode"),
        pytest.param("active", ago(hours=33), MP, False, id="active-33-h-ago-in-episode"),
        pytest.param("active", ago(days=5), MP, True, id="active-before-the-episode"),
        pytest.param("completed", ago(days=60), MP, True, id="completed-previous-episode"),
        pytest.param("cancelled", ago(hours=2), MP, True, id="cancelled-in-episode"),
        pytest.param("entered-in-error", ago(hours=2), MP, True, id="entered-in-error"),
        pytest.param("draft", ago(hours=2), MP, True, id="draft-in-history"),
    ],
)
def test_recommendation_only_without_an_mp_order_in_this_episode(
    status: str, authored: str, code: str, recommended: bool
) -> None:
    # onset 10 h ago: the episode runs from 34 h ago to now
    earlier = med_order(code, 540, status=status, authored=authored)
    advice = cards_for("patient-view", [*ane_child(), earlier])
    assert ("mp-recommendation" in topic_set(advice)) is recommended


def test_mp_order_known_by_its_text_holds_back_the_recommendation() -> None:
    earlier = med_order(
        None, 540, status="active", authored=ago(hours=2), text="Methylprednisolone IV"
    )
    assert "mp-recommendation" not in topic_set(cards_for("patient-view", [*ane_child(), earlier]))


# ---------------------------------------------------------------- dose rows (pure)


@pytest.mark.parametrize(
    ("ordered", "target", "topic"),
    [
        pytest.param("1001", 1000, "mp-dose-above-max", id="1001-of-1000"),
        pytest.param("1100", 1000, "mp-dose-above-max", id="1100-of-1000-cap-row-first"),
        pytest.param("1000", 1000, None, id="1000-of-1000"),
        pytest.param("1000.5", 540, "mp-dose-above-max", id="1000.5-of-540"),
        pytest.param("1000", 540, "mp-dose-above-target", id="1000-of-540"),
        pytest.param("595", 540, "mp-dose-above-target", id="595-of-540"),
        pytest.param("594.01", 540, "mp-dose-above-target", id="594.01-of-540"),
        pytest.param("594", 540, None, id="594-is-1.10x-540"),
        pytest.param("540", 540, None, id="540-on-target"),
        pytest.param("486", 540, None, id="486-is-0.90x-540"),
        pytest.param("485.99", 540, "mp-dose-below-target", id="485.99-of-540"),
        pytest.param("360", 540, "mp-dose-below-target", id="360-is-2/3x-540"),
        pytest.param("359.99", 540, "mp-dose-low", id="359.99-of-540"),
        pytest.param("100", 540, "mp-dose-low", id="100-of-540"),
        pytest.param("660", 600, None, id="660-is-1.10x-600"),
        pytest.param("400", 600, "mp-dose-below-target", id="400-is-2/3x-600"),
        pytest.param("399", 600, "mp-dose-low", id="399-of-600"),
        pytest.param("206", 309, "mp-dose-below-target", id="206-is-2/3x-309"),
        pytest.param("205.99", 309, "mp-dose-low", id="205.99-of-309"),
    ],
)
def test_dose_row_is_the_first_that_matches(
    ordered: str, target: int, topic: str | None, knowledge: Knowledge
) -> None:
    assert mp_dose_topic(Decimal(ordered), target, knowledge) == topic


# ---------------------------------------------------------------- dose rows (cards)


@pytest.mark.parametrize(
    ("kg", "ordered_mg", "topic", "indicator"),
    [
        pytest.param(18, 1001, "mp-dose-above-max", "warning", id="18-kg-1001"),
        pytest.param(18, 1000, "mp-dose-above-target", "warning", id="18-kg-1000"),
        pytest.param(18, 595, "mp-dose-above-target", "warning", id="18-kg-595"),
        pytest.param(18, 594, None, None, id="18-kg-594-exactly-1.10x"),
        pytest.param(18, 540, None, None, id="18-kg-540"),
        pytest.param(18, 486, None, None, id="18-kg-486-exactly-0.90x"),
        pytest.param(18, 485, "mp-dose-below-target", "info", id="18-kg-485"),
        pytest.param(18, 360, "mp-dose-below-target", "info", id="18-kg-360-exactly-2/3-E2"),
        pytest.param(18, 359, "mp-dose-low", "warning", id="18-kg-359"),
        pytest.param(40, 1001, "mp-dose-above-max", "warning", id="40-kg-1001"),
        pytest.param(40, 1000, None, None, id="40-kg-1000-at-cap"),
        pytest.param(40, 900, None, None, id="40-kg-900-exactly-0.90x"),
        pytest.param(40, 899, "mp-dose-below-target", "info", id="40-kg-899"),
        pytest.param(40, 667, "mp-dose-below-target", "info", id="40-kg-667"),
        pytest.param(40, 666, "mp-dose-low", "warning", id="40-kg-666"),
        pytest.param(33.3, 1000, None, None, id="33.3-kg-1000-within-1.10x-999"),
    ],
)
def test_dose_rows_on_an_order_sign(
    kg: float, ordered_mg: int, topic: str | None, indicator: str | None, knowledge: Knowledge
) -> None:
    advice = cards_for("order-sign", ane_child(kg=kg), [med_order(MP, ordered_mg, oid="mp-1")])
    assert dose_topics(advice) == ([topic] if topic else [])
    if topic is not None:
        card = only(advice, topic)
        assert card.indicator == indicator
        assert f"{ordered_mg:,} mg/day" in card.summary
        target = mp_target_mg(Decimal(str(kg)), knowledge)
        assert f"{target:,} mg/day" in card.summary
        assert dose_of(suggested_resource(card)) == mg(target)


def test_below_target_quotes_s1_and_its_certainty() -> None:
    card = only(cards_for("order-sign", ane_child(), [med_order(MP, 360)]), "mp-dose-below-target")
    assert "41.7%" in card.detail
    assert "90.9%" in card.detail
    assert "very low" in card.detail
    assert "not statistically significant" in card.detail


@pytest.mark.parametrize("hook", ["order-select", "order-sign"])
def test_e3_above_max_updates_to_500_mg_every_12_h_keeping_the_order(hook: str) -> None:
    draft = med_order(MP, 600, frequency=1, period=12, period_unit="h", oid="mp-e3")
    draft["dosageInstruction"][0]["route"] = {"text": "IV"}
    original = copy.deepcopy(draft)
    advice = cards_for(hook, ane_child(years=11, kg=40), [draft])
    card = only(advice, "mp-dose-above-max")
    assert card.indicator == "warning"
    assert "1,200 mg/day" in card.summary
    resource = suggested_resource(card)
    assert [a.type for s in card.suggestions for a in s.actions] == ["update"]
    text = resource["dosageInstruction"][0]["text"]
    assert "500 mg" in text
    assert "every 12 h" in text
    expected = copy.deepcopy(original)
    expected["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"] = mg(500)
    expected["dosageInstruction"][0]["text"] = text
    assert resource == expected  # same id, status, timing, route: only the dose and text change
    assert draft == original  # the draft itself is not touched


@pytest.mark.parametrize(
    ("draft", "per_dose"),
    [
        pytest.param(med_order(MP, 1200), 540, id="once-daily"),
        pytest.param(med_order(MP, 600, frequency=1, period=12, period_unit="h"), 270, id="q12h"),
        pytest.param(med_order(MP, 200, frequency=2, period=1, period_unit="d"), 270, id="bid"),
        pytest.param(med_order(MP, 100, frequency=1, period=8, period_unit="h"), 180, id="q8h"),
        pytest.param(med_order(MP, 300, timing=False), 540, id="no-timing-whole-target"),
        pytest.param(med_order(MP, 10, "mg/kg"), 540, id="mg/kg-becomes-mg"),
        pytest.param(med_order(MP, 1.2, "g"), 540, id="g-becomes-mg"),
    ],
)
def test_update_sets_the_dose_per_administration_for_the_target(draft: Json, per_dose: int) -> None:
    advice = cards_for("order-sign", ane_child(), [draft])
    [topic] = dose_topics(advice)
    resource = suggested_resource(only(advice, topic))
    assert resource["id"] == draft["id"]
    assert dose_of(resource) == mg(per_dose)
    assert resource["dosageInstruction"][0].get("timing") == draft["dosageInstruction"][0].get(
        "timing"
    )


def test_two_dosage_instructions_get_no_update_suggestion() -> None:
    draft = med_order(MP, 400)
    draft["dosageInstruction"].append(copy.deepcopy(draft["dosageInstruction"][0]))
    card = only(cards_for("order-sign", ane_child(), [draft]), "mp-dose-above-target")
    assert card.suggestions == ()
    assert "by hand" in card.detail


def test_a_draft_not_valid_as_a_whole_is_never_echoed_back() -> None:
    draft = med_order(MP, 1200)
    draft["note"] = "a string where R4 has a list of Annotations"  # not read by the rules
    card = only(cards_for("order-sign", ane_child(), [draft]), "mp-dose-above-max")
    assert card.suggestions == ()
    assert "not valid FHIR R4 (at note)" in card.detail
    assert "Change the dose by hand to 540 mg/day" in card.detail


def test_the_whole_draft_is_checked_only_when_a_suggestion_would_echo_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    checked: list[str] = []

    def counting(resource: Json) -> None:
        checked.append(str(resource.get("id")))
        validate_whole_resource(resource)

    monkeypatch.setattr("cds_service.fhir.facts.validate_whole_resource", counting)
    cards_for("order-sign", ane_child(), [med_order(MP, 540, oid="right-dose")])
    assert checked == []
    cards_for("order-sign", ane_child(), [med_order(MP, 1200, oid="too-much")])
    assert checked == ["too-much"]


def test_one_dose_card_per_checked_order() -> None:
    drafts = [
        med_order(MP, 1200, oid="a"),
        med_order(MP, 300, oid="b"),
        med_order(MP, 540, oid="c"),
    ]
    advice = cards_for("order-sign", ane_child(), drafts)
    assert sorted(dose_topics(advice)) == ["mp-dose-above-max", "mp-dose-low"]


def test_order_select_checks_only_the_selected_order() -> None:
    drafts = [med_order(MP, 1200, oid="a"), med_order(MP, 300, oid="b")]
    advice = cards_for("order-select", ane_child(), drafts, ["MedicationRequest/b"])
    assert dose_topics(advice) == ["mp-dose-low"]


# ---------------------------------------------------------------- duration


def _supply(dose: float, value: float) -> Json:
    resource = med_order(MP, dose)
    resource["dispenseRequest"] = {"expectedSupplyDuration": days(value)}
    return resource


@pytest.mark.parametrize(
    ("kg", "draft", "long_course"),
    [
        pytest.param(
            18, med_order(MP, 540, repeat_extra={"boundsDuration": days(6)}), True, id="6-d"
        ),
        pytest.param(
            18, med_order(MP, 540, repeat_extra={"boundsDuration": days(5)}), False, id="5-d"
        ),
        pytest.param(
            18,
            med_order(MP, 540, repeat_extra={"boundsDuration": days(121, "h")}),
            True,
            id="121-h",
        ),
        pytest.param(
            18,
            med_order(MP, 540, repeat_extra={"boundsDuration": days(120, "h")}),
            False,
            id="120-h",
        ),
        pytest.param(
            18,
            med_order(
                MP, 540, repeat_extra={"boundsPeriod": {"start": ago(), "end": ago(days=-6)}}
            ),
            True,
            id="bounds-period-6-d",
        ),
        pytest.param(
            18,
            med_order(
                MP, 540, repeat_extra={"boundsPeriod": {"start": ago(), "end": ago(days=-5)}}
            ),
            False,
            id="bounds-period-5-d",
        ),
        pytest.param(18, med_order(MP, 540, repeat_extra={"count": 6}), True, id="count-6-daily"),
        pytest.param(18, med_order(MP, 540, repeat_extra={"count": 5}), False, id="count-5-daily"),
        pytest.param(
            18,
            med_order(MP, 270, frequency=1, period=12, period_unit="h", repeat_extra={"count": 11}),
            True,
            id="count-11-q12h-5.5-d",
        ),
        pytest.param(
            18,
            med_order(MP, 270, frequency=1, period=12, period_unit="h", repeat_extra={"count": 10}),
            False,
            id="count-10-q12h-5-d",
        ),
        pytest.param(18, _supply(540, 6), True, id="supply-6-d"),
        pytest.param(18, _supply(540, 5), False, id="supply-5-d"),
        pytest.param(18, med_order(MP, 540), False, id="open-ended"),
        pytest.param(
            18,
            med_order(MP, 180, repeat_extra={"boundsDuration": days(6)}),
            True,
            id="10-mg/kg/day",
        ),
        pytest.param(
            18,
            med_order(MP, 170, repeat_extra={"boundsDuration": days(6)}),
            False,
            id="9.4-mg/kg/day",
        ),
        pytest.param(
            None, med_order(MP, 500, repeat_extra={"boundsDuration": days(6)}), True, id="no-kg-500"
        ),
        pytest.param(
            None,
            med_order(MP, 499, repeat_extra={"boundsDuration": days(6)}),
            False,
            id="no-kg-499",
        ),
    ],
)
def test_high_dose_course_longer_than_5_days_needs_a_taper(
    kg: float | None, draft: Json, long_course: bool
) -> None:
    advice = cards_for("order-sign", ane_child(kg=kg), [draft])
    assert ("mp-duration" in topic_set(advice)) is long_course
    if long_course:
        card = only(advice, "mp-duration")
        assert card.indicator == "warning"
        assert card.suggestions == ()
        assert "taper over 4-6 weeks" in card.summary


def test_duration_card_comes_with_the_dose_card() -> None:
    draft = med_order(MP, 1200, repeat_extra={"boundsDuration": days(7)})
    advice = cards_for("order-sign", ane_child(), [draft])
    assert {"mp-dose-above-max", "mp-duration"} <= topic_set(advice)


# ---------------------------------------------------------------- no usable weight


def test_patient_view_without_weight_warns_and_does_not_recommend() -> None:
    advice = cards_for("patient-view", ane_child(kg=None))
    card = only(advice, "weight-missing")
    assert card.indicator == "warning"
    assert "record a body weight" in card.summary
    assert "mp-recommendation" not in topic_set(advice)


@pytest.mark.parametrize(
    ("draft", "per_dose"),
    [
        pytest.param(med_order(MP, 1000), None, id="1000-at-the-cap"),
        pytest.param(med_order(MP, 100), None, id="100-low-for-any-child-not-checked"),
        pytest.param(med_order(MP, 30, "mg/kg"), None, id="mg/kg-cannot-be-turned-into-mg"),
        pytest.param(med_order(MP, 1001), 1000, id="1001-above-the-cap"),
        pytest.param(
            med_order(MP, 600, frequency=1, period=12, period_unit="h"), 500, id="600-q12h"
        ),
        pytest.param(med_order(MP, 1.5, "g"), 1000, id="1.5-g"),
    ],
)
@pytest.mark.parametrize("hook", ["order-select", "order-sign"])
def test_without_weight_only_the_1000_mg_cap_is_checked(
    hook: str, draft: Json, per_dose: int | None
) -> None:
    advice = cards_for(hook, ane_child(kg=None), [draft])
    assert "weight-missing" in topic_set(advice)
    if per_dose is None:
        assert dose_topics(advice) == []
        return
    assert dose_topics(advice) == ["mp-dose-above-max"]
    card = only(advice, "mp-dose-above-max")
    assert "suggested 1,000 mg/day" in card.summary
    assert "mg/kg" not in card.summary
    assert "mg/kg" not in card.detail.split("**Evidence**")[0]
    assert dose_of(suggested_resource(card)) == mg(per_dose)


def test_weight_missing_on_order_hooks_only_with_an_mp_order_checked() -> None:
    drafts = [med_order(MP, 540, oid="mp"), med_order(ACETAMINOPHEN, 270, oid="apap")]
    advice = cards_for("order-select", ane_child(kg=None), drafts, ["MedicationRequest/apap"])
    assert "weight-missing" not in topic_set(advice)
    advice = cards_for("order-select", ane_child(kg=None), drafts, ["MedicationRequest/mp"])
    assert "weight-missing" in topic_set(advice)
