"""ANE severity score (ane-rules.md section 7; Yamamoto 2015, S3): items, window, bands, unknowns."""

from __future__ import annotations

from typing import Any

import pytest

from cds_service.clinical.advice import Advice
from tests.builders import Json, ago, birth_date, condition, finding, lab, med_order, patient
from tests.unit.rules import only
from tests.unit.scenarios import (
    ANE,
    BRAINSTEM,
    CSF_PROTEIN,
    NOREPINEPHRINE,
    PLATELETS,
    SEPTIC_SHOCK,
    SHOCK,
    ane_child,
    cards_for,
)


def _severity(resources: list[Json]) -> Advice:
    return only(cards_for("patient-view", resources), "severity-score")


def _score(resources: list[Json]) -> dict[str, Any]:
    return dict(_severity(resources).extension["ane-cds.severity"])


def _quiet_child(
    *,
    onset_hours: float = 10,
    platelets: float | None = 150,
    protein: float | None = 40,
    years: int = 3,
    months: int = 0,
    days: int = 0,
) -> list[Json]:
    """A 3-year-old whose every item is known and scores 0 (labs 4 h ago, no shock, no lesion)."""
    resources = [
        patient(birth_date(years, months, days)),
        condition(ANE, ago(hours=onset_hours)),
    ]
    if platelets is not None:
        resources.append(lab(PLATELETS, platelets, "10*3/uL", ago(hours=4)))
    if protein is not None:
        resources.append(lab(CSF_PROTEIN, protein, "mg/dL", ago(hours=4)))
    return resources


def _complete(points: int) -> dict[str, Any]:
    band = "low" if points <= 1 else "medium" if points <= 4 else "high"
    return {"score": points, "minScore": points, "maxScore": points, "band": band, "complete": True}


def test_quiet_child_scores_zero_with_every_item_known() -> None:
    severity = _severity(_quiet_child())
    assert severity.extension["ane-cds.severity"] == _complete(0)
    assert "0/9" in severity.summary
    assert "at least" not in severity.summary


# ---------------------------------------------------------------- each item at its threshold


@pytest.mark.parametrize(
    ("value", "unit", "points"),
    [
        pytest.param(99, "10*3/uL", 1, id="99-scores"),
        pytest.param(99.9, "10*3/uL", 1, id="99.9-scores"),
        pytest.param(100, "10*3/uL", 0, id="100-scores-0"),
        pytest.param(101, "10*3/uL", 0, id="101-scores-0"),
        pytest.param(99, "10*9/L", 1, id="99-10*9/L-scores"),
        pytest.param(99000, "/uL", 1, id="99000-per-uL-scores"),
        pytest.param(100000, "/uL", 0, id="100000-per-uL-scores-0"),
        pytest.param(100000, "/mm3", 0, id="100000-per-mm3-scores-0"),
    ],
)
def test_lowest_platelets_below_100_score_one_point(value: float, unit: str, points: int) -> None:
    resources = [*_quiet_child(platelets=None), lab(PLATELETS, value, unit, ago(hours=3))]
    assert _score(resources) == _complete(points)


@pytest.mark.parametrize(
    ("value", "unit", "points"),
    [
        pytest.param(59, "mg/dL", 0, id="59"),
        pytest.param(60, "mg/dL", 0, id="60-scores-0"),
        pytest.param(60.1, "mg/dL", 1, id="60.1-scores"),
        pytest.param(61, "mg/dL", 1, id="61-scores"),
        pytest.param(0.6, "g/L", 0, id="0.6-g/L-is-60"),
        pytest.param(0.61, "g/L", 1, id="0.61-g/L-is-61"),
        pytest.param(600, "mg/L", 0, id="600-mg/L-is-60"),
        pytest.param(610, "mg/L", 1, id="610-mg/L-is-61"),
    ],
)
def test_highest_csf_protein_above_60_scores_one_point(
    value: float, unit: str, points: int
) -> None:
    resources = [*_quiet_child(protein=None), lab(CSF_PROTEIN, value, unit, ago(hours=3))]
    assert _score(resources) == _complete(points)


@pytest.mark.parametrize(
    ("years", "months", "days", "age_months", "points"),
    [
        pytest.param(3, 11, 0, 47, 0, id="47-months"),
        pytest.param(4, 0, 0, 48, 0, id="exactly-48-months"),
        pytest.param(4, 0, 10, 48, 0, id="48-months-and-10-days"),
        pytest.param(4, 1, 0, 49, 2, id="49-months"),
        pytest.param(12, 0, 0, 144, 2, id="12-years"),
    ],
)
def test_age_above_48_completed_months_scores_two_points(
    years: int, months: int, days: int, age_months: int, points: int
) -> None:
    severity = _severity(_quiet_child(years=years, months=months, days=days))
    assert severity.extension["ane-cds.severity"] == _complete(points)
    assert f"| age > 48 months | {points} | {age_months} months |" in severity.detail


def test_lowest_platelets_and_highest_protein_of_the_window_decide() -> None:
    resources = [
        *_quiet_child(),  # platelets 150 and protein 40, 4 h ago
        lab(PLATELETS, 90, "10*3/uL", ago(hours=8)),
        lab(PLATELETS, 180, "10*3/uL", ago(hours=1)),
        lab(CSF_PROTEIN, 75, "mg/dL", ago(hours=8)),
        lab(CSF_PROTEIN, 30, "mg/dL", ago(hours=1)),
    ]
    severity = _severity(resources)
    assert severity.extension["ane-cds.severity"] == _complete(2)
    assert "| 1 | 90 x10^3/uL |" in severity.detail
    assert "| 1 | 75 mg/dL |" in severity.detail


def _shock(kind: str) -> Json:
    stories: dict[str, Json] = {
        "shock-in-window": condition(SHOCK, ago(hours=20)),
        "septic-shock-in-window": condition(SEPTIC_SHOCK, ago(hours=5)),
        "shock-onset-not-recorded": condition(SHOCK, None),
        "shock-before-window": condition(SHOCK, ago(days=5)),
        "shock-resolved": condition(SHOCK, ago(hours=20), clinical="resolved"),
        "shock-refuted": condition(SHOCK, ago(hours=20), verification="refuted"),
        "norepinephrine-active": med_order(
            NOREPINEPHRINE, 1, status="active", authored=ago(hours=6)
        ),
        "norepinephrine-active-undated": med_order(NOREPINEPHRINE, 1, status="active"),
        "norepinephrine-completed": med_order(
            NOREPINEPHRINE, 1, status="completed", authored=ago(hours=6)
        ),
        "norepinephrine-before-window": med_order(
            NOREPINEPHRINE, 1, status="active", authored=ago(days=5)
        ),
    }
    return stories[kind]


@pytest.mark.parametrize(
    ("kind", "points"),
    [
        ("shock-in-window", 3),
        ("septic-shock-in-window", 3),
        ("shock-onset-not-recorded", 3),
        ("shock-before-window", 0),
        ("shock-resolved", 0),
        ("shock-refuted", 0),
        ("norepinephrine-active", 3),
        ("norepinephrine-active-undated", 3),
        ("norepinephrine-completed", 0),
        ("norepinephrine-before-window", 0),
    ],
)
def test_shock_in_the_presentation_window_scores_three_points(kind: str, points: int) -> None:
    # onset 10 h ago: the window runs from 34 h ago to 62 h from now
    assert _score([*_quiet_child(), _shock(kind)]) == _complete(points)


@pytest.mark.parametrize(
    ("present", "hours_ago", "points"),
    [
        pytest.param(True, 6, 2, id="lesion-in-window"),
        pytest.param(False, 6, 0, id="imaging-without-lesion"),
        pytest.param(True, 33, 2, id="lesion-33-h-ago-in-window"),
        pytest.param(True, 35, 0, id="lesion-35-h-ago-before-window"),
    ],
)
def test_brainstem_lesion_in_the_window_scores_two_points(
    present: bool, hours_ago: float, points: int
) -> None:
    resources = [*_quiet_child(), finding(BRAINSTEM, present, ago(hours=hours_ago))]
    assert _score(resources) == _complete(points)


# ---------------------------------------------------------------- presentation window


@pytest.mark.parametrize(
    ("hours_ago", "counted"),
    [
        pytest.param(1, False, id="1-h-ago-after-window-end"),
        pytest.param(47, False, id="47-h-ago-after-window-end"),
        pytest.param(49, True, id="49-h-ago-near-window-end"),
        pytest.param(120, True, id="at-onset"),
        pytest.param(143, True, id="23-h-before-onset"),
        pytest.param(145, False, id="25-h-before-onset"),
    ],
)
def test_values_outside_the_presentation_window_are_ignored(
    hours_ago: float, counted: bool
) -> None:
    # onset 5 days (120 h) ago: window from 144 h ago to 48 h ago
    resources = [
        *_quiet_child(onset_hours=120, platelets=None, protein=None),
        lab(CSF_PROTEIN, 40, "mg/dL", ago(hours=100)),
        lab(PLATELETS, 60, "10*3/uL", ago(hours=hours_ago)),
    ]
    score = _score(resources)
    if counted:
        assert score == _complete(1)
    else:  # the only platelet count lies outside: the item is unknown
        assert (score["minScore"], score["maxScore"], score["complete"]) == (0, 1, False)


# ---------------------------------------------------------------- bands


def _items(*names: str) -> list[Json]:
    resources = _quiet_child(
        years=6 if "age" in names else 3,
        platelets=80 if "platelets" in names else 150,
        protein=90 if "protein" in names else 40,
    )
    if "shock" in names:
        resources.append(condition(SHOCK, ago(hours=8)))
    if "brainstem" in names:
        resources.append(finding(BRAINSTEM, True, ago(hours=6)))
    return resources


@pytest.mark.parametrize(
    ("items", "score", "band", "indicator"),
    [
        pytest.param((), 0, "low", "info", id="0-low"),
        pytest.param(("platelets",), 1, "low", "info", id="1-low"),
        pytest.param(("platelets", "protein"), 2, "medium", "info", id="2-medium-two-labs"),
        pytest.param(("brainstem",), 2, "medium", "info", id="2-medium"),
        pytest.param(("shock",), 3, "medium", "info", id="3-medium"),
        pytest.param(("brainstem", "age"), 4, "medium", "info", id="4-medium"),
        pytest.param(("shock", "protein"), 4, "medium", "info", id="4-medium-shock"),
        pytest.param(("shock", "brainstem"), 5, "high", "warning", id="5-high"),
        pytest.param(("age", "brainstem", "platelets"), 5, "high", "warning", id="5-high-no-shock"),
        pytest.param(
            ("shock", "brainstem", "age", "platelets", "protein"), 9, "high", "warning", id="9"
        ),
    ],
)
def test_bands_low_0_1_medium_2_4_high_5_9(
    items: tuple[str, ...], score: int, band: str, indicator: str
) -> None:
    severity = _severity(_items(*items))
    assert severity.extension["ane-cds.severity"] == {
        "score": score,
        "minScore": score,
        "maxScore": score,
        "band": band,
        "complete": True,
    }
    assert severity.indicator == indicator
    assert f"{score}/9" in severity.summary
    assert band in severity.summary
    assert "at least" not in severity.summary
    assert "does not by itself decide treatment" in severity.detail


# ---------------------------------------------------------------- unknown items


@pytest.mark.parametrize(
    ("resources", "expected", "indicator"),
    [
        pytest.param(
            ane_child(born=False),
            {"score": 0, "minScore": 0, "maxScore": 4, "band": "low", "complete": False},
            "info",
            id="age-platelets-protein-unknown",
        ),
        pytest.param(
            [
                *ane_child(born=False),
                condition(SHOCK, ago(hours=8)),
                finding(BRAINSTEM, True, ago(hours=6)),
            ],
            {"score": 5, "minScore": 5, "maxScore": 9, "band": "high", "complete": False},
            "warning",
            id="high-already-at-least-5",
        ),
        pytest.param(
            [
                *ane_child(born=False),
                condition(SHOCK, ago(hours=8)),
                lab(PLATELETS, 90, "10*3/uL", ago(hours=4)),
            ],
            {"score": 4, "minScore": 4, "maxScore": 7, "band": "medium", "complete": False},
            "info",
            id="medium-band-of-min-although-max-is-high",
        ),
        pytest.param(
            [*ane_child(years=6), lab(PLATELETS, 150, "10*3/uL", ago(hours=4))],
            {"score": 2, "minScore": 2, "maxScore": 3, "band": "medium", "complete": False},
            "info",
            id="protein-unknown",
        ),
    ],
)
def test_unknown_items_give_min_and_max_and_at_least(
    resources: list[Json], expected: dict[str, Any], indicator: str
) -> None:
    severity = _severity(resources)
    assert severity.extension["ane-cds.severity"] == expected
    assert severity.indicator == indicator
    assert f"at least {expected['minScore']}/9" in severity.summary
    assert f"up to {expected['maxScore']}" in severity.summary
    assert f"between {expected['minScore']} and {expected['maxScore']}" in severity.detail
    assert "unknown" in severity.detail


def test_shock_and_brainstem_count_as_absent_only_after_a_search_said_so() -> None:
    detail = _severity(_quiet_child()).detail
    assert "| shock | 0 | no shock Condition or vasoactive order found (searched) |" in detail
    assert "| brainstem lesion | 0 |" in detail
    assert "(searched)" in detail.split("| brainstem lesion | 0 |")[1].splitlines()[0]


def test_e1_child_scores_nine_high() -> None:
    resources = [
        *ane_child(years=5),
        condition(SHOCK, ago(days=1)),
        finding(BRAINSTEM, True, ago(hours=8)),
        lab(PLATELETS, 85, "10*3/uL", ago(hours=12)),
        lab(CSF_PROTEIN, 95, "mg/dL", ago(hours=12)),
    ]
    severity = _severity(resources)
    assert severity.extension["ane-cds.severity"] == _complete(9)
    assert severity.indicator == "warning"
