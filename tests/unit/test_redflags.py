"""Red flags (ane-rules.md section 6): each its own warning; they withhold the MP recommendation."""

from __future__ import annotations

import pytest

from tests.builders import (
    SNOMED,
    Json,
    ago,
    condition,
    culture,
    lab,
    med_order,
)
from tests.unit.rules import only
from tests.unit.scenarios import (
    ACETAMINOPHEN,
    AMMONIA,
    BACTERIAL_MENINGITIS,
    BACTERIAL_SEPSIS,
    BLOOD_CULTURE,
    CSF_CULTURE,
    CSF_LEUKOCYTES,
    CSF_LEUKOCYTES_ALT,
    INFLIXIMAB,
    MP,
    SEPSIS,
    ane_child,
    cards_for,
    topic_set,
)

RED_FLAGS = frozenset(
    {"atypical-csf-pleocytosis", "atypical-hyperammonemia", "atypical-bacterial-infection"}
)


def _flags(resources: list[Json], hook: str = "patient-view") -> set[str]:
    drafts = [med_order(MP, 540)] if hook != "patient-view" else None
    return topic_set(cards_for(hook, resources, drafts)) & RED_FLAGS


# ---------------------------------------------------------------- CSF pleocytosis


@pytest.mark.parametrize(
    ("loinc", "value", "unit", "hours_ago", "flagged"),
    [
        pytest.param(CSF_LEUKOCYTES, 4, "/uL", 3, False, id="4-per-uL"),
        pytest.param(CSF_LEUKOCYTES, 4.9, "/uL", 3, False, id="4.9-per-uL"),
        pytest.param(CSF_LEUKOCYTES, 5, "/uL", 3, True, id="5-per-uL"),
        pytest.param(CSF_LEUKOCYTES, 5, "/mm3", 3, True, id="5-per-mm3"),
        pytest.param(CSF_LEUKOCYTES_ALT, 5, "10*6/L", 3, True, id="5-10*6/L-loinc-806-0"),
        pytest.param(CSF_LEUKOCYTES, 4, "10*6/L", 3, False, id="4-10*6/L"),
        pytest.param(CSF_LEUKOCYTES, 40, "/uL", 33, True, id="40-at-33-h-in-window"),
        pytest.param(CSF_LEUKOCYTES, 40, "/uL", 40, False, id="40-at-40-h-before-window"),
        pytest.param(CSF_LEUKOCYTES, 40, "cells", 3, False, id="40-unrecognised-unit"),
    ],
)
def test_csf_leukocytes_from_5_per_uL_in_the_window_are_pleocytosis(
    loinc: str, value: float, unit: str, hours_ago: float, flagged: bool
) -> None:
    # onset 10 h ago: the presentation window starts 34 h ago
    advice = cards_for(
        "patient-view", [*ane_child(), lab(loinc, value, unit, ago(hours=hours_ago))]
    )
    assert ("atypical-csf-pleocytosis" in topic_set(advice)) is flagged
    if flagged:
        card = only(advice, "atypical-csf-pleocytosis")
        assert card.indicator == "warning"
        assert f"CSF pleocytosis ({value} /uL)" in card.summary


def test_the_highest_csf_count_of_the_window_decides() -> None:
    resources = [
        *ane_child(),
        lab(CSF_LEUKOCYTES, 12, "/uL", ago(hours=20)),
        lab(CSF_LEUKOCYTES, 2, "/uL", ago(hours=2)),
    ]
    card = only(cards_for("patient-view", resources), "atypical-csf-pleocytosis")
    assert "(12 /uL)" in card.summary


# ---------------------------------------------------------------- hyperammonaemia


@pytest.mark.parametrize(
    ("value", "unit", "ref_high", "flagged", "shown"),
    [
        pytest.param(49, "umol/L", None, False, None, id="49-default-limit-50"),
        pytest.param(50, "umol/L", None, False, None, id="50-equal-to-default-limit"),
        pytest.param(50.1, "umol/L", None, True, "50.1", id="50.1-above-default-limit"),
        pytest.param(51, "umol/L", None, True, "51", id="51-above-default-limit"),
        pytest.param(55, "umol/L", 60, False, None, id="55-under-its-own-limit-60"),
        pytest.param(60, "umol/L", 60, False, None, id="60-equal-to-its-own-limit"),
        pytest.param(61, "umol/L", 60, True, "61", id="61-above-its-own-limit"),
        pytest.param(45, "umol/L", 40, True, "45", id="45-above-its-own-limit-40"),
        pytest.param(85, "ug/dL", None, False, None, id="85-ug/dL-is-49.9"),
        pytest.param(86, "ug/dL", None, True, "50.5", id="86-ug/dL-is-50.5"),
        pytest.param(100, "ug/dL", 170, False, None, id="100-ug/dL-limit-170-ug/dL"),
    ],
)
def test_ammonia_above_its_high_limit_is_hyperammonaemia(
    value: float, unit: str, ref_high: float | None, flagged: bool, shown: str | None
) -> None:
    resources = [*ane_child(), lab(AMMONIA, value, unit, ago(hours=3), ref_high=ref_high)]
    advice = cards_for("patient-view", resources)
    assert ("atypical-hyperammonemia" in topic_set(advice)) is flagged
    if shown is not None:
        card = only(advice, "atypical-hyperammonemia")
        assert card.indicator == "warning"
        assert f"Ammonia {shown} umol/L" in card.summary


def test_ammonia_before_the_window_is_no_red_flag() -> None:
    resources = [*ane_child(), lab(AMMONIA, 120, "umol/L", ago(hours=40))]
    assert _flags(resources) == set()


# ---------------------------------------------------------------- serious bacterial infection


def _interpreted_culture(code: str, flag: str, at: str) -> Json:
    resource = culture(code, True, at)
    resource["interpretation"][0]["coding"][0]["code"] = flag
    return resource


@pytest.mark.parametrize(
    ("evidence", "flagged"),
    [
        pytest.param(condition(BACTERIAL_SEPSIS, ago(hours=20)), True, id="bacterial-sepsis"),
        pytest.param(condition(BACTERIAL_SEPSIS, None), True, id="bacterial-sepsis-no-onset"),
        pytest.param(
            condition(BACTERIAL_SEPSIS, ago(days=60)), True, id="bacterial-sepsis-old-onset"
        ),
        pytest.param(condition(BACTERIAL_MENINGITIS, ago(hours=20)), True, id="meningitis"),
        pytest.param(
            condition(BACTERIAL_SEPSIS, ago(days=60), clinical="resolved"),
            False,
            id="bacterial-sepsis-resolved",
        ),
        pytest.param(
            condition(BACTERIAL_SEPSIS, ago(hours=20), verification="refuted"),
            False,
            id="bacterial-sepsis-refuted",
        ),
        pytest.param(condition(SEPSIS, ago(hours=20)), False, id="sepsis-without-organism"),
        pytest.param(culture(BLOOD_CULTURE, True, ago(hours=6)), True, id="blood-culture-pos"),
        pytest.param(
            _interpreted_culture(BLOOD_CULTURE, "DET", ago(hours=6)), True, id="blood-culture-det"
        ),
        pytest.param(culture(CSF_CULTURE, True, ago(hours=6)), True, id="csf-culture-pos"),
        pytest.param(culture(BLOOD_CULTURE, False, ago(hours=6)), False, id="blood-culture-neg"),
        pytest.param(
            culture(BLOOD_CULTURE, True, ago(hours=33)), True, id="blood-culture-pos-33-h-ago"
        ),
        pytest.param(
            culture(BLOOD_CULTURE, True, ago(days=3)),
            False,
            id="blood-culture-pos-before-the-episode",
        ),
    ],
)
def test_serious_bacterial_infection_is_a_red_flag(evidence: Json, flagged: bool) -> None:
    # onset 10 h ago: the episode runs from 34 h ago to now
    advice = cards_for("patient-view", [*ane_child(), evidence])
    assert ("atypical-bacterial-infection" in topic_set(advice)) is flagged
    if flagged:
        assert only(advice, "atypical-bacterial-infection").indicator == "warning"


def test_bacterial_condition_coded_outside_snomed_is_not_read() -> None:
    other = condition(BACTERIAL_SEPSIS, ago(hours=20))
    other["code"]["coding"][0]["system"] = "urn:local:diagnoses"
    assert other["code"]["coding"][0]["system"] != SNOMED
    assert _flags([*ane_child(), other]) == set()


# ---------------------------------------------------------------- red flags withhold MP


@pytest.mark.parametrize(
    ("evidence", "flag"),
    [
        pytest.param(
            lab(CSF_LEUKOCYTES, 5, "/uL", ago(hours=3)), "atypical-csf-pleocytosis", id="csf"
        ),
        pytest.param(
            lab(AMMONIA, 51, "umol/L", ago(hours=3)), "atypical-hyperammonemia", id="ammonia"
        ),
        pytest.param(
            condition(BACTERIAL_SEPSIS, ago(hours=20)),
            "atypical-bacterial-infection",
            id="sepsis",
        ),
        pytest.param(
            culture(BLOOD_CULTURE, True, ago(hours=6)),
            "atypical-bacterial-infection",
            id="culture",
        ),
    ],
)
def test_each_red_flag_withholds_the_mp_recommendation(evidence: Json, flag: str) -> None:
    assert "mp-recommendation" in topic_set(cards_for("patient-view", ane_child()))
    advice = cards_for("patient-view", [*ane_child(), evidence])
    assert flag in topic_set(advice)
    assert "mp-recommendation" not in topic_set(advice)
    assert {"severity-score", "ane-criteria"} <= topic_set(advice)


def test_three_red_flags_give_three_cards() -> None:
    resources = [
        *ane_child(),
        lab(CSF_LEUKOCYTES, 30, "/uL", ago(hours=3)),
        lab(AMMONIA, 150, "umol/L", ago(hours=3)),
        condition(BACTERIAL_MENINGITIS, ago(hours=20)),
    ]
    assert _flags(resources) == RED_FLAGS


# ---------------------------------------------------------------- red flags on order hooks

FLAGGED = (
    lab(CSF_LEUKOCYTES, 30, "/uL", ago(hours=3)),
    condition(BACTERIAL_SEPSIS, ago(hours=20)),
)


@pytest.mark.parametrize(
    ("hook", "drafts", "selections", "shown"),
    [
        pytest.param("order-select", [med_order(MP, 540, oid="mp")], None, True, id="select-mp"),
        pytest.param("order-sign", [med_order(MP, 540, oid="mp")], None, True, id="sign-mp"),
        pytest.param(
            "order-sign",
            [med_order(MP, 540, oid="mp"), med_order(ACETAMINOPHEN, 270, oid="apap")],
            None,
            True,
            id="sign-mp-with-another-order",
        ),
        pytest.param(
            "order-select",
            [med_order(MP, 540, oid="mp"), med_order(ACETAMINOPHEN, 270, oid="apap")],
            ["MedicationRequest/apap"],
            False,
            id="select-another-order-mp-unselected",
        ),
        pytest.param(
            "order-sign", [med_order(ACETAMINOPHEN, 270, oid="apap")], None, False, id="sign-apap"
        ),
        pytest.param(
            "order-select", [med_order(INFLIXIMAB, 100, oid="tnf")], None, False, id="select-tnf"
        ),
        pytest.param("order-sign", [], None, False, id="sign-nothing"),
    ],
)
def test_on_order_hooks_red_flags_appear_only_with_an_mp_order_checked(
    hook: str, drafts: list[Json], selections: list[str] | None, shown: bool
) -> None:
    advice = cards_for(hook, [*ane_child(), *FLAGGED], drafts, selections)
    assert (topic_set(advice) & RED_FLAGS) == (
        {"atypical-csf-pleocytosis", "atypical-bacterial-infection"} if shown else set()
    )
    assert "mp-recommendation" not in topic_set(advice)
