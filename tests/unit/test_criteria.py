"""ANE criteria checklist and verdict after Mizuguchi (ane-rules.md section 5; S4)."""

from __future__ import annotations

import pytest

from cds_service.clinical.advice import Advice
from tests.builders import (
    Json,
    ago,
    birth_date,
    condition,
    culture,
    finding,
    lab,
    patient,
    weight,
)
from tests.unit.rules import only
from tests.unit.scenarios import (
    AMMONIA,
    ANE,
    BACTERIAL_SEPSIS,
    BLOOD_CULTURE,
    CSF_LEUKOCYTES,
    ENCEPHALOPATHY,
    FEVER,
    INFLUENZA_A,
    THALAMIC,
    cards_for,
)

ONSET_HOURS = 10
FEBRILE = "encephalopathy after a febrile illness"
THALAMIC_ITEM = "bilateral thalamic lesions on imaging (required)"


def _story(
    *,
    trigger_before_onset_hours: float | None = 72,
    trigger_code: str = INFLUENZA_A,
    thalamic: bool | None = True,
    ane: bool = True,
    extra: tuple[Json, ...] = (),
) -> list[Json]:
    """An ANE child: onset 10 h ago, a trigger N h before onset, imaging 6 h ago, normal CSF."""
    resources = [patient(birth_date(5)), weight(18, ago(hours=2))]
    if ane:
        resources.append(condition(ANE, ago(hours=ONSET_HOURS)))
    if trigger_before_onset_hours is not None:
        resources.append(
            condition(trigger_code, ago(hours=ONSET_HOURS + trigger_before_onset_hours))
        )
    if thalamic is not None:
        resources.append(finding(THALAMIC, thalamic, ago(hours=6)))
    resources += [
        lab(CSF_LEUKOCYTES, 2, "/uL", ago(hours=8)),
        lab(AMMONIA, 38, "umol/L", ago(hours=8)),
        *extra,
    ]
    return resources


def _criteria(resources: list[Json]) -> Advice:
    return only(cards_for("patient-view", resources), "ane-criteria")


def _row(card: Advice, item: str) -> str:
    rows = [line for line in card.detail.splitlines() if line.startswith(f"| {item} |")]
    assert len(rows) == 1, f"no row for {item}"
    return rows[0]


@pytest.mark.parametrize(
    ("resources", "verdict"),
    [
        pytest.param(_story(), "criteria supported", id="E1-like-typical"),
        pytest.param(
            _story(trigger_code=FEVER, trigger_before_onset_hours=24),
            "criteria supported",
            id="fever-a-day-before",
        ),
        pytest.param(
            _story(trigger_before_onset_hours=7 * 24),
            "criteria supported",
            id="trigger-exactly-7-days-before-onset",
        ),
        pytest.param(
            _story(trigger_before_onset_hours=7 * 24 + 1),
            "incomplete data",
            id="trigger-7-days-and-1-h-before-onset",
        ),
        pytest.param(
            _story(trigger_before_onset_hours=-2),
            "incomplete data",
            id="trigger-after-onset",
        ),
        pytest.param(_story(trigger_before_onset_hours=None), "incomplete data", id="no-trigger"),
        pytest.param(_story(thalamic=None), "incomplete data", id="no-imaging"),
        pytest.param(_story(thalamic=False), "incomplete data", id="imaging-without-lesions"),
        pytest.param(
            _story(ane=False), "incomplete data", id="context-from-imaging-only-no-condition"
        ),
        pytest.param(
            _story(ane=False, extra=(condition(ENCEPHALOPATHY, ago(hours=ONSET_HOURS)),)),
            "criteria supported",
            id="encephalopathy-condition-with-imaging",
        ),
        pytest.param(
            _story(extra=(lab(CSF_LEUKOCYTES, 4, "/uL", ago(hours=3)),)),
            "criteria supported",
            id="csf-4-per-uL",
        ),
        pytest.param(
            _story(extra=(lab(AMMONIA, 50, "umol/L", ago(hours=3)),)),
            "criteria supported",
            id="ammonia-at-its-limit",
        ),
        pytest.param(
            _story(extra=(lab(CSF_LEUKOCYTES, 5, "/uL", ago(hours=3)),)),
            "atypical features",
            id="pleocytosis",
        ),
        pytest.param(
            _story(extra=(lab(AMMONIA, 51, "umol/L", ago(hours=3)),)),
            "atypical features",
            id="hyperammonaemia",
        ),
        pytest.param(
            _story(extra=(condition(BACTERIAL_SEPSIS, ago(hours=20)),)),
            "atypical features",
            id="bacterial-sepsis",
        ),
        pytest.param(
            _story(extra=(culture(BLOOD_CULTURE, True, ago(hours=12)),)),
            "atypical features",
            id="positive-blood-culture",
        ),
        pytest.param(
            _story(thalamic=None, extra=(lab(CSF_LEUKOCYTES, 12, "/uL", ago(hours=3)),)),
            "atypical features",
            id="red-flag-wins-over-incomplete",
        ),
    ],
)
def test_verdict(resources: list[Json], verdict: str) -> None:
    card = _criteria(resources)
    assert card.indicator == "info"
    assert card.summary.endswith(f": {verdict}.")
    assert f"Verdict: **{verdict}**." in card.detail


@pytest.mark.parametrize(
    ("resources", "missing"),
    [
        pytest.param(_story(trigger_before_onset_hours=None), FEBRILE, id="trigger"),
        pytest.param(_story(thalamic=None), THALAMIC_ITEM, id="imaging"),
    ],
)
def test_incomplete_data_names_the_missing_items(resources: list[Json], missing: str) -> None:
    card = _criteria(resources)
    assert "incomplete data" in card.summary
    still_unknown = next(line for line in card.detail.splitlines() if "Still unknown" in line)
    assert missing in still_unknown
    assert f"| {missing} | unknown |" in _row(card, missing)


def test_supported_story_marks_each_item_present() -> None:
    card = _criteria(_story())
    assert "| present |" in _row(card, FEBRILE)
    assert "| present |" in _row(card, THALAMIC_ITEM)
    assert "| present |" in _row(card, "CSF without pleocytosis")
    assert "2 /uL" in _row(card, "CSF without pleocytosis")
    assert "| present |" in _row(
        card, "no red flag (pleocytosis, hyperammonaemia, bacterial infection)"
    )


@pytest.mark.parametrize(
    ("fever_days_ago", "present"),
    [
        pytest.param(5, True, id="fever-5-days-ago-in-episode"),
        pytest.param(13.9, True, id="fever-13.9-days-ago-in-episode"),
        pytest.param(15, False, id="fever-15-days-ago-before-episode"),
    ],
)
def test_onset_unknown_the_trigger_is_sought_in_the_episode(
    fever_days_ago: float, present: bool
) -> None:
    resources = [
        patient(birth_date(5)),
        weight(18, ago(hours=2)),
        condition(ANE, None),
        condition(FEVER, ago(days=fever_days_ago)),
        finding(THALAMIC, True, ago(hours=6)),
    ]
    card = _criteria(resources)
    assert ("criteria supported" in card.summary) is present
    assert ("| present |" in _row(card, FEBRILE)) is present
