"""Reading a MedicationRequest's daily dose (ane-rules.md sections 4, 8 and 11): never guessed."""

from __future__ import annotations

import copy
from decimal import Decimal

import pytest

from cds_service.clinical.dosing import DoseReading, Unreadable, course_days, read_dose
from cds_service.clinical.facts import MedicationOrder
from cds_service.clinical.knowledge import Knowledge
from cds_service.fhir.facts import build_facts
from tests.builders import PATIENT_ID, UCUM, Json, ago, med_order
from tests.unit.rules import only
from tests.unit.scenarios import (
    MP,
    MP_500_MG_VIAL,
    ane_child,
    cards_for,
    days,
    dose_topics,
    topic_set,
)

KG_18 = Decimal(18)
GTS = "http://terminology.hl7.org/CodeSystem/v3-GTSAbbreviation"


def _order(resource: Json, knowledge: Knowledge) -> MedicationOrder:
    facts = build_facts(PATIENT_ID, [], knowledge, [resource])
    return facts.draft_orders[0]


def _untimed(resource: Json) -> Json:
    """Drop timing.repeat (the builder always writes one when timing=True)."""
    del resource["dosageInstruction"][0]["timing"]["repeat"]
    return resource


def _timing_code(code: str, dose: float) -> Json:
    resource = _untimed(med_order(MP, dose))
    resource["dosageInstruction"][0]["timing"]["code"] = {"coding": [{"system": GTS, "code": code}]}
    return resource


def _times_of_day(dose: float, *times: str) -> Json:
    return med_order(
        MP,
        dose,
        frequency=None,
        period=None,
        period_unit=None,
        repeat_extra={"timeOfDay": list(times)},
    )


def _two_instructions(first: float, second: float) -> Json:
    resource = med_order(MP, first)
    extra = copy.deepcopy(resource["dosageInstruction"][0])
    extra["doseAndRate"][0]["doseQuantity"]["value"] = second
    resource["dosageInstruction"].append(extra)
    return resource


# ---------------------------------------------------------------- dose forms (section 4)


def _forms() -> list[object]:
    """Orders that all mean 540 mg/day (30 mg/kg/day at 18 kg)."""
    return [
        pytest.param(med_order(MP, 540), "540", "1", id="540-mg-once-daily"),
        pytest.param(med_order(MP, 0.54, "g"), "540", "1", id="0.54-g-once-daily"),
        pytest.param(med_order(MP, 30, "mg/kg"), "540", "1", id="30-mg/kg-once-daily"),
        pytest.param(
            med_order(MP, 270, frequency=1, period=12, period_unit="h"), "540", "2", id="q12h"
        ),
        pytest.param(
            med_order(MP, 270, frequency=2, period=1, period_unit="d"), "540", "2", id="bid"
        ),
        pytest.param(
            med_order(MP, 180, frequency=1, period=8, period_unit="h"), "540", "3", id="q8h"
        ),
        pytest.param(
            med_order(MP, 22.5, frequency=1, period=60, period_unit="min"), "540", "24", id="q60min"
        ),
        pytest.param(
            med_order(MP, 540, frequency=7, period=1, period_unit="wk"),
            "540",
            "1",
            id="7-per-wk",
        ),
        pytest.param(_timing_code("BID", 270), "540", "2", id="timing-code-BID-no-repeat"),
        pytest.param(_timing_code("TID", 180), "540", "3", id="timing-code-TID-no-repeat"),
        pytest.param(_times_of_day(270, "08:00:00", "20:00:00"), "540", "2", id="time-of-day-x2"),
        pytest.param(
            _times_of_day(180, "06:00:00", "14:00:00", "22:00:00"), "540", "3", id="time-of-day-x3"
        ),
        pytest.param(med_order(MP, 540, timing=False), "540", None, id="no-timing-daily-total"),
        pytest.param(_two_instructions(270, 270), "540", None, id="two-instructions-summed"),
    ]


@pytest.mark.parametrize(("resource", "mg_per_day", "per_day"), _forms())
def test_daily_dose_is_dose_times_doses_per_day(
    resource: Json, mg_per_day: str, per_day: str | None, knowledge: Knowledge
) -> None:
    reading = read_dose(_order(resource, knowledge), KG_18, knowledge)
    assert isinstance(reading, DoseReading)
    assert reading.mg_per_day == Decimal(mg_per_day)
    assert reading.doses_per_day == (None if per_day is None else Decimal(per_day))
    assert reading.mg_per_kg_per_day == Decimal(mg_per_day) / KG_18


def test_mg_per_kg_without_weight_has_no_mg(knowledge: Knowledge) -> None:
    reading = read_dose(_order(med_order(MP, 30, "mg/kg"), knowledge), None, knowledge)
    assert isinstance(reading, DoseReading)
    assert (reading.mg_per_day, reading.mg_per_kg_per_day) == (None, Decimal(30))


def test_no_timing_is_read_as_the_daily_total_and_said(knowledge: Knowledge) -> None:
    reading = read_dose(_order(med_order(MP, 540, timing=False), knowledge), KG_18, knowledge)
    assert isinstance(reading, DoseReading)
    assert any("no timing" in note for note in reading.notes)


# ---------------------------------------------------------------- the forms drive the dose rows


def _at_360_mg_per_day() -> list[object]:
    """The same forms at 360 mg/day (20 mg/kg/day at 18 kg): mp-dose-below-target each time."""
    return [
        pytest.param(med_order(MP, 360), id="360-mg-once-daily"),
        pytest.param(med_order(MP, 0.36, "g"), id="0.36-g"),
        pytest.param(med_order(MP, 20, "mg/kg"), id="20-mg/kg"),
        pytest.param(med_order(MP, 180, frequency=1, period=12, period_unit="h"), id="q12h"),
        pytest.param(med_order(MP, 180, frequency=2, period=1, period_unit="d"), id="bid"),
        pytest.param(_timing_code("BID", 180), id="timing-code-BID"),
        pytest.param(_times_of_day(180, "08:00:00", "20:00:00"), id="time-of-day"),
        pytest.param(med_order(MP, 360, timing=False), id="no-timing"),
        pytest.param(_two_instructions(180, 180), id="two-instructions"),
        pytest.param(med_order(MP_500_MG_VIAL, 360), id="iv-product-code"),
        pytest.param(
            med_order(None, 360, text="Solu-Medrol (methylprednisolone sodium succinate)"),
            id="text-only",
        ),
    ]


@pytest.mark.parametrize("resource", _at_360_mg_per_day())
def test_every_dose_form_is_checked_as_its_daily_total(resource: Json) -> None:
    advice = cards_for("order-sign", ane_child(), [resource])
    assert dose_topics(advice) == ["mp-dose-below-target"]
    card = only(advice, "mp-dose-below-target")
    assert "360 mg/day" in card.summary
    assert "540 mg/day" in card.summary


@pytest.mark.parametrize(("resource", "mg_per_day", "per_day"), _forms())
def test_every_dose_form_at_target_gives_no_dose_card(
    resource: Json, mg_per_day: str, per_day: str | None
) -> None:
    assert Decimal(mg_per_day) == 540  # every form of the table means 30 mg/kg/day at 18 kg
    assert dose_topics(cards_for("order-sign", ane_child(), [resource])) == []


def test_no_timing_is_noted_in_the_dose_card() -> None:
    card = only(
        cards_for("order-sign", ane_child(), [med_order(MP, 300, timing=False)]), "mp-dose-low"
    )
    assert "no timing" in card.detail
    assert "daily total" in card.detail


def test_two_instructions_are_summed_and_said() -> None:
    advice = cards_for("order-sign", ane_child(), [_two_instructions(400, 400)])
    card = only(advice, "mp-dose-above-target")
    assert "800 mg/day" in card.summary
    assert "added up" in card.detail


# ---------------------------------------------------------------- unreadable doses


def _rate_only() -> Json:
    resource = med_order(MP, 540)
    resource["dosageInstruction"][0]["doseAndRate"] = [
        {"rateQuantity": {"value": 1080, "unit": "mg/h", "system": UCUM, "code": "mg/h"}}
    ]
    return resource


def _dose_range() -> Json:
    resource = med_order(MP, 540)
    resource["dosageInstruction"][0]["doseAndRate"] = [
        {"doseRange": {"low": {"value": 300, "unit": "mg"}, "high": {"value": 540, "unit": "mg"}}}
    ]
    return resource


def _no_instruction() -> Json:
    resource = med_order(MP, None, timing=False)
    assert "dosageInstruction" not in resource
    return resource


BOUNDS_10_D: Json = {"boundsDuration": days(10)}


@pytest.mark.parametrize(
    ("resource", "reason", "quoted"),
    [
        pytest.param(med_order(MP, None, repeat_extra=BOUNDS_10_D), "no dose", "", id="no-dose"),
        pytest.param(_no_instruction(), "no dosage instruction", "", id="no-dosage-instruction"),
        pytest.param(
            med_order(MP, 1200, "mL", repeat_extra=BOUNDS_10_D),
            "the dose unit is not a mass or mg/kg",
            "'mL'",
            id="unit-mL",
        ),
        pytest.param(
            med_order(MP, 2, "{vial}"),
            "the dose unit is not a mass or mg/kg",
            "'{vial}'",
            id="unit-vial",
        ),
        pytest.param(_rate_only(), "infusion rate", "", id="rate"),
        pytest.param(_dose_range(), "range", "", id="dose-range"),
        pytest.param(
            med_order(MP, 1200, frequency=2, period=None, period_unit=None),
            "frequency but no period",
            "",
            id="frequency-without-period",
        ),
        pytest.param(
            med_order(MP, 1200, period_unit="mo", repeat_extra=BOUNDS_10_D),
            "period unit cannot be read",
            "'mo'",
            id="period-unit-month",
        ),
        pytest.param(
            med_order(MP, 1200, period_unit="fortnight"),
            "period unit cannot be read",
            "'fortnight'",
            id="period-unit-unknown",
        ),
        pytest.param(
            med_order(MP, 1200, period=0, period_unit="h"),
            "period is not positive",
            "",
            id="period-zero",
        ),
        pytest.param(
            _timing_code("Q36H", 1200),
            "timing code cannot be read",
            "'Q36H'",
            id="unknown-timing-code",
        ),
    ],
)
def test_unreadable_dose_gets_dose_unreadable_and_no_dose_card(
    resource: Json, reason: str, quoted: str, knowledge: Knowledge
) -> None:
    """The summary names what is missing; the detail quotes what the order said."""
    reading = read_dose(_order(resource, knowledge), KG_18, knowledge)
    assert isinstance(reading, Unreadable)
    assert reason in reading.reason
    advice = cards_for("order-sign", ane_child(), [resource])
    assert topic_set(advice) == {"dose-unreadable"}
    card = advice[0]
    assert card.indicator == "warning"
    assert reason in card.summary
    assert reason in card.detail
    assert quoted in card.detail
    assert quoted == "" or quoted not in card.summary
    assert "methylprednisolone" in card.summary


def test_unreadable_free_text_unit_keeps_the_summary_short() -> None:
    resource = med_order(MP, 1)
    resource["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"] = {
        "value": 1,
        "unit": "ampoule(s) of 40 mg/mL solution",
    }
    advice = cards_for("order-sign", ane_child(), [resource])  # asserts every summary fits
    assert topic_set(advice) == {"dose-unreadable"}


@pytest.mark.parametrize(
    ("dose_mg", "expected_topics"),
    [
        pytest.param(540, set[str](), id="540-mg-with-rate-on-target"),
        pytest.param(1200, {"mp-dose-above-max"}, id="1200-mg-with-rate-above-max"),
    ],
)
def test_dose_with_an_infusion_rate_is_still_read(dose_mg: int, expected_topics: set[str]) -> None:
    resource = med_order(MP, dose_mg)
    resource["dosageInstruction"][0]["doseAndRate"][0]["rateQuantity"] = {
        "value": dose_mg * 2,
        "unit": "mg/h",
        "system": UCUM,
        "code": "mg/h",
    }
    assert topic_set(cards_for("order-sign", ane_child(), [resource])) == expected_topics


# ---------------------------------------------------------------- course length


@pytest.mark.parametrize(
    ("resource", "course"),
    [
        pytest.param(med_order(MP, 540, repeat_extra={"boundsDuration": days(6)}), "6", id="6-d"),
        pytest.param(
            med_order(MP, 540, repeat_extra={"boundsDuration": days(120, "h")}), "5", id="120-h"
        ),
        pytest.param(
            med_order(MP, 540, repeat_extra={"boundsDuration": days(1, "wk")}), "7", id="1-wk"
        ),
        pytest.param(
            med_order(
                MP, 540, repeat_extra={"boundsPeriod": {"start": ago(), "end": ago(days=-6)}}
            ),
            "6",
            id="bounds-period-6-d",
        ),
        pytest.param(med_order(MP, 540, repeat_extra={"count": 6}), "6", id="count-6-once-daily"),
        pytest.param(
            med_order(MP, 270, frequency=1, period=12, period_unit="h", repeat_extra={"count": 11}),
            "5.5",
            id="count-11-q12h",
        ),
        pytest.param(med_order(MP, 540), None, id="open-ended"),
    ],
)
def test_course_days(resource: Json, course: str | None, knowledge: Knowledge) -> None:
    found = course_days(_order(resource, knowledge), knowledge)
    assert found == (None if course is None else Decimal(course))


def test_course_days_from_expected_supply_duration(knowledge: Knowledge) -> None:
    resource = med_order(MP, 540)
    resource["dispenseRequest"] = {"expectedSupplyDuration": days(6)}
    assert course_days(_order(resource, knowledge), knowledge) == Decimal(6)


def test_reading_and_checking_never_mutate_the_draft(knowledge: Knowledge) -> None:
    resource = med_order(MP, 600, frequency=1, period=12, period_unit="h")
    before = copy.deepcopy(resource)
    read_dose(_order(resource, knowledge), KG_18, knowledge)
    assert "mp-dose-above-max" in topic_set(cards_for("order-sign", ane_child(), [resource]))
    assert resource == before
