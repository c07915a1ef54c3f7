"""Scope, gating and time windows (ane-rules.md sections 2 and 3)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from cds_service.clinical.episode import assess_episode, completed_age
from cds_service.clinical.knowledge import Knowledge
from cds_service.fhir.facts import build_facts
from tests.builders import (
    PATIENT_ID,
    REFERENCE,
    Json,
    ago,
    birth_date,
    condition,
    culture,
    finding,
    lab,
    med_order,
    patient,
    weight,
)
from tests.unit.rules import only, topics
from tests.unit.scenarios import (
    ANE,
    ASTHMA,
    BLOOD_CULTURE,
    BRAINSTEM,
    CSF_LEUKOCYTES,
    CSF_PROTEIN,
    ENCEPHALOPATHY,
    FAMILIAL_ANE,
    HOOKS,
    INFLIXIMAB,
    MP,
    PLATELETS,
    THALAMIC,
    ane_child,
    cards_for,
    topic_set,
)

# ---------------------------------------------------------------- ANE context (section 2)


@pytest.mark.parametrize(
    ("code", "clinical", "verification", "context"),
    [
        pytest.param(ANE, "active", None, True, id="active"),
        pytest.param(ANE, "recurrence", None, True, id="recurrence"),
        pytest.param(ANE, "relapse", None, True, id="relapse"),
        pytest.param(ANE, None, None, True, id="clinical-status-absent"),
        pytest.param(FAMILIAL_ANE, "active", None, True, id="familial-ane-active"),
        pytest.param(ANE, "active", "confirmed", True, id="active-confirmed"),
        pytest.param(ANE, "active", "provisional", True, id="active-provisional"),
        pytest.param(ANE, "active", "unconfirmed", True, id="active-unconfirmed"),
        pytest.param(ANE, "resolved", None, False, id="resolved"),
        pytest.param(ANE, "inactive", None, False, id="inactive"),
        pytest.param(ANE, "remission", None, False, id="remission"),
        pytest.param(ANE, "active", "refuted", False, id="active-but-refuted"),
        pytest.param(ANE, "active", "entered-in-error", False, id="active-entered-in-error"),
        pytest.param(ENCEPHALOPATHY, "active", None, False, id="encephalopathy-is-not-ane"),
    ],
)
def test_ane_condition_status_decides_the_ane_context(
    code: str, clinical: str | None, verification: str | None, context: bool
) -> None:
    resources = [
        patient(birth_date(5)),
        weight(18, ago(hours=2)),
        condition(code, ago(hours=10), clinical=clinical, verification=verification),
    ]
    advice = cards_for("patient-view", resources)
    assert ("severity-score" in topic_set(advice)) is context
    if not context:
        assert advice == []


@pytest.mark.parametrize(
    ("present", "days_ago", "context"),
    [
        pytest.param(True, 1, True, id="lesions-1-day-ago"),
        pytest.param(True, 29, True, id="lesions-29-days-ago"),
        pytest.param(True, 30, True, id="lesions-exactly-30-days-ago"),
        pytest.param(True, 30.05, False, id="lesions-30-days-and-1.2-h-ago"),
        pytest.param(True, 31, False, id="lesions-31-days-ago"),
        pytest.param(False, 1, False, id="imaging-without-lesions"),
    ],
)
def test_bilateral_thalamic_lesions_in_the_last_30_days_give_an_ane_context(
    present: bool, days_ago: float, context: bool
) -> None:
    resources = [
        patient(birth_date(5)),
        weight(18, ago(hours=2)),
        finding(THALAMIC, present, ago(days=days_ago)),
    ]
    advice = cards_for("patient-view", resources)
    assert bool(advice) is context


def test_brainstem_lesion_alone_is_no_ane_context() -> None:
    resources = [patient(birth_date(5)), finding(BRAINSTEM, True, ago(hours=5))]
    assert cards_for("patient-view", resources) == []


def _no_context_stories() -> list[object]:
    child = [patient(birth_date(4)), weight(20, ago(hours=2))]
    alarming = [
        lab(CSF_LEUKOCYTES, 80, "/uL", ago(hours=3)),
        culture(BLOOD_CULTURE, True, ago(hours=3)),
        lab(PLATELETS, 20, "10*3/uL", ago(hours=3)),
    ]
    return [
        pytest.param([*child, condition(ASTHMA, ago(days=2))], id="asthma-E6"),
        pytest.param(
            [*child, condition(ANE, ago(days=40), clinical="resolved"), *alarming],
            id="resolved-ane-with-red-flags",
        ),
        pytest.param(
            [*child, condition(ANE, ago(hours=10), verification="refuted"), *alarming],
            id="refuted-ane-with-red-flags",
        ),
        pytest.param(
            [*child, finding(THALAMIC, True, ago(days=31)), *alarming], id="old-thalamic-finding"
        ),
        pytest.param([patient(birth_date(4))], id="no-weight-no-data"),
    ]


@pytest.mark.parametrize("hook", HOOKS)
@pytest.mark.parametrize("resources", _no_context_stories())
def test_without_ane_context_every_hook_returns_no_cards(hook: str, resources: list[Json]) -> None:
    drafts = [
        med_order(MP, 500, oid="mp-asthma"),
        med_order(MP, 1500, frequency=None, period=None, period_unit=None, oid="mp-bad"),
        med_order(INFLIXIMAB, 100, oid="tnf"),
    ]
    assert cards_for(hook, resources, drafts) == []


# ---------------------------------------------------------------- pediatric scope (section 2)


@pytest.mark.parametrize(
    ("years", "months", "days_short", "adult"),
    [
        pytest.param(17, 0, 0, False, id="17-years"),
        pytest.param(17, 11, 0, False, id="17-years-11-months"),
        pytest.param(18, 0, -1, False, id="one-day-before-18th-birthday"),
        pytest.param(18, 0, 0, True, id="18th-birthday"),
        pytest.param(30, 0, 0, True, id="30-years-E5"),
    ],
)
def test_age_18_or_more_gives_exactly_one_out_of_scope_card(
    years: int, months: int, days_short: int, adult: bool
) -> None:
    resources = [
        patient(birth_date(years, months, days_short)),
        condition(ANE, ago(hours=10)),
        weight(60, ago(hours=2)),
        lab(CSF_LEUKOCYTES, 50, "/uL", ago(hours=3)),  # a red flag, silenced for adults
    ]
    advice = cards_for("patient-view", resources)
    if adult:
        assert topics(advice) == ["out-of-scope"]
        assert advice[0].indicator == "info"
        assert f"Age {years} years" in advice[0].detail
    else:
        assert "out-of-scope" not in topic_set(advice)
        assert {"atypical-csf-pleocytosis", "severity-score"} <= topic_set(advice)


@pytest.mark.parametrize("hook", ["order-select", "order-sign"])
def test_adult_with_an_mp_order_gets_only_out_of_scope(hook: str) -> None:
    resources = [
        patient(birth_date(18)),
        condition(ANE, ago(hours=10)),
        lab(CSF_LEUKOCYTES, 50, "/uL", ago(hours=3)),
    ]
    advice = cards_for(hook, resources, [med_order(MP, 1500)])  # no weight, above the cap
    assert topics(advice) == ["out-of-scope"]


def test_missing_birth_date_is_in_scope_with_the_age_item_unknown() -> None:
    resources = [
        *ane_child(born=False),
        lab(PLATELETS, 150, "10*3/uL", ago(hours=3)),
        lab(CSF_PROTEIN, 40, "mg/dL", ago(hours=3)),
    ]
    advice = cards_for("patient-view", resources)
    assert "out-of-scope" not in topic_set(advice)
    assert "540 mg/day" in only(advice, "mp-recommendation").summary
    severity = only(advice, "severity-score")
    assert severity.extension["ane-cds.severity"] == {
        "score": 0,
        "minScore": 0,
        "maxScore": 2,  # the age item (2 points) could be present
        "band": "low",
        "complete": False,
    }
    assert "| age > 48 months | unknown | birth date unknown |" in severity.detail


@pytest.mark.parametrize("hook", ["patient-view", "order-sign"])
def test_partial_birth_date_of_an_adult_is_out_of_scope(hook: str) -> None:
    resources = [patient("1990"), condition(ANE, ago(hours=10)), weight(70, ago(hours=2))]
    advice = cards_for(hook, resources, [med_order(MP, 1000)])
    assert topics(advice) == ["out-of-scope"]


def test_partial_birth_date_is_treated_as_unknown_age() -> None:
    resources = [patient("2021-06"), condition(ANE, ago(hours=10)), weight(18, ago(hours=2))]
    severity = only(cards_for("patient-view", resources), "severity-score")
    assert "birth date unknown" in severity.detail
    assert severity.extension["ane-cds.severity"]["complete"] is False


# ---------------------------------------------------------------- completed age (section 3)


@pytest.mark.parametrize(
    ("born", "years", "months"),
    [
        pytest.param(date(2022, 11, 11), 4, 48, id="48-months-and-10-days-is-48"),
        pytest.param(date(2022, 11, 21), 4, 48, id="exactly-48-months"),
        pytest.param(date(2022, 11, 22), 3, 47, id="one-day-short-of-48-months"),
        pytest.param(date(2022, 10, 21), 4, 49, id="49-months"),
        pytest.param(date(2008, 11, 21), 18, 216, id="18th-birthday"),
        pytest.param(date(2008, 11, 22), 17, 215, id="day-before-18th-birthday"),
    ],
)
def test_completed_age_counts_whole_months_and_years(born: date, years: int, months: int) -> None:
    age = completed_age(born, REFERENCE.date())
    assert (age.years, age.months) == (years, months)


# ---------------------------------------------------------------- onset (section 3)


@pytest.mark.parametrize(
    ("conditions", "onset_hours_ago"),
    [
        pytest.param([condition(ANE, ago(hours=10))], 10, id="ane-condition"),
        pytest.param(
            [condition(ANE, ago(days=40)), condition(ANE, ago(hours=10))],
            10,
            id="most-recent-of-two-ane",
        ),
        pytest.param(
            [condition(ANE, ago(hours=10)), condition(ANE, ago(days=40))],
            10,
            id="most-recent-whatever-the-order",
        ),
        pytest.param(
            [condition(ANE, ago(hours=10)), condition(ENCEPHALOPATHY, ago(hours=30))],
            10,
            id="ane-before-encephalopathy",
        ),
        pytest.param(
            [condition(ANE, None), condition(ENCEPHALOPATHY, ago(hours=30))],
            30,
            id="ane-without-onset-falls-back-to-encephalopathy",
        ),
        pytest.param(
            [condition(ENCEPHALOPATHY, ago(hours=30)), finding(THALAMIC, True, ago(hours=5))],
            30,
            id="encephalopathy-with-thalamic-context",
        ),
        pytest.param([condition(ANE, None)], None, id="unknown"),
        pytest.param(
            [condition(ANE, None), condition(ENCEPHALOPATHY, ago(hours=30), clinical="resolved")],
            None,
            id="resolved-encephalopathy-not-used",
        ),
    ],
)
def test_onset_is_the_latest_ane_condition_else_encephalopathy_else_unknown(
    conditions: list[Json], onset_hours_ago: float | None, knowledge: Knowledge
) -> None:
    episode = assess_episode(
        build_facts(PATIENT_ID, [patient(birth_date(5)), *conditions], knowledge),
        REFERENCE,
        knowledge,
    )
    if onset_hours_ago is None:
        assert episode.onset is None
        assert (episode.window_start, episode.window_end) == (
            REFERENCE - timedelta(days=14),
            REFERENCE,
        )
    else:
        onset = REFERENCE - timedelta(hours=onset_hours_ago)
        assert episode.onset == onset
        assert episode.window_start == onset - timedelta(hours=24)
        assert episode.window_end == onset + timedelta(hours=72)
    assert episode.episode_start == episode.window_start


@pytest.mark.parametrize(
    ("days_ago", "in_window"),
    [
        pytest.param(1, True, id="1-day-ago"),
        pytest.param(13.9, True, id="13.9-days-ago"),
        pytest.param(14.1, False, id="14.1-days-ago"),
        pytest.param(20, False, id="20-days-ago"),
    ],
)
def test_unknown_onset_uses_the_14_days_before_now(days_ago: float, in_window: bool) -> None:
    resources = [
        *ane_child(years=3, onset_hours=None),
        lab(CSF_PROTEIN, 40, "mg/dL", ago(days=1)),
        lab(PLATELETS, 90, "10*3/uL", ago(days=days_ago)),
    ]
    score = only(cards_for("patient-view", resources), "severity-score").extension[
        "ane-cds.severity"
    ]
    # a platelet count in the window scores 1; outside it the item is unknown (0 to 1)
    assert (score["minScore"], score["maxScore"]) == ((1, 1) if in_window else (0, 1))


# ---------------------------------------------------------------- weight age (section 3)


@pytest.mark.parametrize(
    ("weighed", "stale_text"),
    [
        pytest.param(ago(hours=2), None, id="2-hours"),
        pytest.param(ago(days=29), None, id="29-days"),
        pytest.param(ago(days=30), None, id="exactly-30-days"),
        pytest.param(ago(days=30, hours=1), "30 days old", id="30-days-and-1-hour"),
        pytest.param(ago(days=90), "90 days old", id="90-days"),
        pytest.param(None, "undated", id="undated"),
    ],
)
def test_weight_older_than_30_days_is_used_with_a_stale_warning(
    weighed: str | None, stale_text: str | None
) -> None:
    resources = [*ane_child(kg=None), weight(18, weighed)]
    advice = cards_for("patient-view", resources)
    assert "540 mg/day" in only(advice, "mp-recommendation").summary  # still used
    if stale_text is None:
        assert "weight-stale" not in topic_set(advice)
    else:
        stale = only(advice, "weight-stale")
        assert stale.indicator == "warning"
        assert stale_text in stale.summary


@pytest.mark.parametrize("hook", ["order-select", "order-sign"])
def test_stale_weight_is_reported_on_an_mp_order(hook: str) -> None:
    resources = [*ane_child(kg=None), weight(18, ago(days=45))]
    advice = cards_for(hook, resources, [med_order(MP, 540)])
    assert topics(advice) == ["weight-stale"]
