"""Section 9 tocilizumab safety rows on order hooks and on patient-view, through the service.

Order-hook story: a 5-year-old, 18 kg, ANE onset 10 h ago, tocilizumab 216 mg checked (the
target: no tcz-dose card, and no tcz-window card inside 24 h). Every matching row is its own
card, info included; one card per topic, the more severe row.

Patient-view story: the same child (band medium), so the recommendation is due: critical and
warning findings are their own cards, info findings go into the detail, and any critical finding
removes the recommendation card.
"""

from __future__ import annotations

import re

import pytest

from tests.builders import Json, ago, condition, culture, lab
from tests.hookrun import card, run_hook
from tests.hooks.story import (
    ALT,
    ANC,
    AST,
    BACTERIAL_MENINGITIS,
    BACTERIAL_SEPSIS,
    BLOOD_CULTURE,
    CRITERIA,
    CSF_LEUKOCYTES,
    CSF_PROTEIN,
    DIVERTICULITIS,
    ENCEPHALOPATHY,
    GI_HAEMORRHAGE,
    GI_PERFORATION,
    INTESTINAL_PERFORATION,
    MP_REC,
    MYCOSIS,
    PLATELETS,
    PV_DUE,
    SEPSIS,
    SEPTIC_SHOCK,
    SEVERITY_HIGH,
    SEVERITY_INFO,
    SHOCK,
    TCZ_CONSIDER,
    TCZ_RECOMMEND,
    TUBERCULOSIS,
    assert_cards,
    child,
    given_tcz,
    rxnorm_allergy,
    snomed_allergy,
    tcz_order,
)

BACTERIAL_FLAG = "atypical-bacterial-infection:warning"


def anc(value: float, hours: float = 6, unit: str = "10*3/uL") -> Json:
    return lab(ANC, value, unit, ago(hours=hours))


def platelets(value: float, hours: float = 6, unit: str = "10*3/uL") -> Json:
    return lab(PLATELETS, value, unit, ago(hours=hours))


def alt(value: float, high: float | None = None, hours: float = 6) -> Json:
    return lab(ALT, value, "U/L", ago(hours=hours), ref_high=high)


def ast(value: float, high: float | None = None, hours: float = 6) -> Json:
    return lab(AST, value, "U/L", ago(hours=hours), ref_high=high)


def active(code: str, **kw: str) -> Json:
    return condition(code, ago(hours=20), **kw)


# (facts added to the order-hook story, the cards expected besides nothing)
ORDER_SAFETY_ROWS = [
    pytest.param([], [], id="nothing-recorded-no-card"),
    # tcz-infection
    pytest.param(
        [active(BACTERIAL_SEPSIS)],
        [BACTERIAL_FLAG, "tcz-infection:critical"],
        id="bacterial-sepsis-critical",
    ),
    pytest.param(
        [active(BACTERIAL_MENINGITIS)],
        [BACTERIAL_FLAG, "tcz-infection:critical"],
        id="bacterial-meningitis-critical",
    ),
    pytest.param(
        [culture(BLOOD_CULTURE, True, ago(hours=5))],
        [BACTERIAL_FLAG, "tcz-infection:critical"],
        id="positive-blood-culture-critical",
    ),
    pytest.param(
        [culture(BLOOD_CULTURE, True, ago(hours=35))],
        [],
        id="positive-blood-culture-before-episode",
    ),
    pytest.param([active(MYCOSIS)], ["tcz-infection:critical"], id="mycosis-critical"),
    pytest.param([active(TUBERCULOSIS)], ["tcz-infection:critical"], id="tuberculosis-critical"),
    pytest.param([active(SEPSIS)], ["tcz-infection:warning"], id="sepsis-without-organism-warning"),
    pytest.param(
        [active(SEPTIC_SHOCK)],
        ["tcz-infection:warning"],
        id="septic-shock-without-organism-warning",
    ),
    pytest.param(
        [active(SEPSIS), active(MYCOSIS)],
        ["tcz-infection:critical"],
        id="sepsis-and-mycosis-one-critical",
    ),
    pytest.param(
        [active(SEPSIS), active(BACTERIAL_SEPSIS)],
        [BACTERIAL_FLAG, "tcz-infection:critical"],
        id="sepsis-and-bacterial-one-critical",
    ),
    pytest.param(
        [active(MYCOSIS), active(TUBERCULOSIS)],
        ["tcz-infection:critical"],
        id="mycosis-and-tb-one-critical",
    ),
    pytest.param([active(MYCOSIS, clinical="resolved")], [], id="mycosis-resolved"),
    pytest.param([active(SEPSIS, clinical="resolved")], [], id="sepsis-resolved"),
    # tcz-neutropenia: recent ANC < 1.0 x10^3/uL
    pytest.param([anc(0.9)], ["tcz-neutropenia:critical"], id="anc-0.9-critical"),
    pytest.param([anc(0.99)], ["tcz-neutropenia:critical"], id="anc-0.99-critical"),
    pytest.param([anc(1.0)], [], id="anc-1.0-no-card"),
    pytest.param(
        [anc(900, unit="/uL")], ["tcz-neutropenia:critical"], id="anc-900-per-uL-critical"
    ),
    pytest.param([anc(1000, unit="/mm3")], [], id="anc-1000-per-mm3-no-card"),
    pytest.param([anc(0.9, hours=71)], ["tcz-neutropenia:critical"], id="anc-0.9-71h-old-recent"),
    pytest.param([anc(0.9, hours=73)], [], id="anc-0.9-73h-old-no-recent-value"),
    pytest.param([anc(0.9, hours=48), anc(1.5, hours=6)], [], id="anc-most-recent-1.5-counts"),
    pytest.param(
        [anc(1.5, hours=48), anc(0.9, hours=6)],
        ["tcz-neutropenia:critical"],
        id="anc-most-recent-0.9-counts",
    ),
    # tcz-thrombocytopenia: recent platelets < 50 x10^3/uL
    pytest.param([platelets(49)], ["tcz-thrombocytopenia:critical"], id="platelets-49-critical"),
    pytest.param(
        [platelets(49.9)], ["tcz-thrombocytopenia:critical"], id="platelets-49.9-critical"
    ),
    pytest.param([platelets(50)], [], id="platelets-50-no-card"),
    pytest.param(
        [platelets(49000, unit="/uL")],
        ["tcz-thrombocytopenia:critical"],
        id="platelets-49000-per-uL-critical",
    ),
    pytest.param([platelets(49, hours=73)], [], id="platelets-49-73h-old-no-recent-value"),
    pytest.param(
        [platelets(49, hours=30), platelets(120, hours=4)],
        [],
        id="platelets-most-recent-120-counts",
    ),
    # tcz-liver: > 10 x ULN critical, > 5 and <= 10 x ULN warning; ULN: referenceRange.high or 40/50
    pytest.param([alt(400)], ["tcz-liver:warning"], id="alt-400-10x-default-uln-warning"),
    pytest.param([alt(401)], ["tcz-liver:critical"], id="alt-401-over-10x-default-critical"),
    pytest.param([alt(200)], [], id="alt-200-5x-default-no-card"),
    pytest.param([alt(201)], ["tcz-liver:warning"], id="alt-201-over-5x-default-warning"),
    pytest.param([alt(300, high=30)], ["tcz-liver:warning"], id="alt-300-10x-ref-30-warning"),
    pytest.param(
        [alt(301, high=30)], ["tcz-liver:critical"], id="alt-301-over-10x-ref-30-critical"
    ),
    pytest.param([alt(150, high=30)], [], id="alt-150-5x-ref-30-no-card"),
    pytest.param([alt(151, high=30)], ["tcz-liver:warning"], id="alt-151-over-5x-ref-30-warning"),
    pytest.param([alt(401, high=100)], [], id="alt-401-is-4x-its-ref-100"),
    pytest.param([ast(500)], ["tcz-liver:warning"], id="ast-500-10x-default-uln-warning"),
    pytest.param([ast(501)], ["tcz-liver:critical"], id="ast-501-over-10x-default-critical"),
    pytest.param([ast(250)], [], id="ast-250-5x-default-no-card"),
    pytest.param([ast(251)], ["tcz-liver:warning"], id="ast-251-over-5x-default-warning"),
    pytest.param([ast(350, high=35)], ["tcz-liver:warning"], id="ast-350-10x-ref-35-warning"),
    pytest.param(
        [ast(351, high=35)], ["tcz-liver:critical"], id="ast-351-over-10x-ref-35-critical"
    ),
    pytest.param([ast(176, high=35)], ["tcz-liver:warning"], id="ast-176-over-5x-ref-35-warning"),
    pytest.param(
        [alt(201), ast(501)], ["tcz-liver:critical"], id="alt-warning-ast-critical-one-card"
    ),
    pytest.param([alt(401, hours=73)], [], id="alt-401-73h-old-no-recent-value"),
    pytest.param([alt(401, hours=30), alt(100, hours=4)], [], id="alt-most-recent-2.5x-counts"),
    pytest.param(
        [alt(100, hours=30), alt(401, hours=4)],
        ["tcz-liver:critical"],
        id="alt-most-recent-10x-counts",
    ),
    # tcz-hypersensitivity: clinicalStatus active or absent
    pytest.param(
        [rxnorm_allergy("active")], ["tcz-hypersensitivity:critical"], id="allergy-rxnorm-active"
    ),
    pytest.param(
        [rxnorm_allergy(None)], ["tcz-hypersensitivity:critical"], id="allergy-rxnorm-no-status"
    ),
    pytest.param(
        [snomed_allergy("active")], ["tcz-hypersensitivity:critical"], id="allergy-snomed-active"
    ),
    pytest.param(
        [snomed_allergy(None)], ["tcz-hypersensitivity:critical"], id="allergy-snomed-no-status"
    ),
    pytest.param([rxnorm_allergy("resolved")], [], id="allergy-rxnorm-resolved"),
    pytest.param([snomed_allergy("resolved")], [], id="allergy-snomed-resolved"),
    pytest.param([snomed_allergy("inactive")], [], id="allergy-snomed-inactive"),
    # tcz-gi-perforation
    pytest.param([active(GI_PERFORATION)], ["tcz-gi-perforation:warning"], id="gi-perforation"),
    pytest.param(
        [active(INTESTINAL_PERFORATION)],
        ["tcz-gi-perforation:warning"],
        id="intestinal-perforation",
    ),
    pytest.param([active(GI_HAEMORRHAGE)], ["tcz-gi-perforation:warning"], id="gi-haemorrhage"),
    pytest.param([active(DIVERTICULITIS)], ["tcz-gi-perforation:warning"], id="diverticulitis"),
    pytest.param([active(GI_HAEMORRHAGE, clinical="resolved")], [], id="gi-haemorrhage-resolved"),
    # tcz-repeat: a dose < 8 h earlier (active or completed), or 4 doses this episode
    pytest.param([given_tcz(7)], ["tcz-repeat:warning"], id="tcz-completed-7h-ago"),
    pytest.param([given_tcz(7, status="active")], ["tcz-repeat:warning"], id="tcz-active-7h-ago"),
    pytest.param([given_tcz(8)], [], id="tcz-8h-ago-not-less-than-8"),
    pytest.param([given_tcz(9)], [], id="tcz-9h-ago"),
    pytest.param([given_tcz(7, status="cancelled")], [], id="tcz-cancelled-7h-ago-not-a-dose"),
    pytest.param([given_tcz(7, status="entered-in-error")], [], id="tcz-entered-in-error-7h-ago"),
    pytest.param(
        [given_tcz(h) for h in (30, 22, 16, 10)], ["tcz-repeat:warning"], id="4-doses-this-episode"
    ),
    pytest.param([given_tcz(h) for h in (30, 22, 16)], [], id="3-doses-this-episode"),
    pytest.param([given_tcz(h) for h in (40, 22, 16, 10)], [], id="4-doses-one-before-episode"),
    pytest.param(
        [given_tcz(h) for h in (30, 22, 16, 7)],
        ["tcz-repeat:warning"],
        id="4-doses-and-one-7h-ago-one-card",
    ),
]


@pytest.mark.parametrize(("facts", "expected"), ORDER_SAFETY_ROWS)
@pytest.mark.parametrize("hook", ["order-select", "order-sign"])
def test_order_safety_rows(hook: str, facts: list[Json], expected: list[str]) -> None:
    cards = run_hook(hook, child(*facts), drafts=[tcz_order(216)])
    assert_cards(cards, expected)


# (onset of the ANE Condition in hours ago or None, extra facts, expected tcz-window card)
WINDOW_ROWS = [
    pytest.param(23, [], [], id="onset-23h-inside"),
    pytest.param(24, [], [], id="onset-24h-exactly-no-card"),
    pytest.param(25, [], ["tcz-window:warning"], id="onset-25h-warning"),
    pytest.param(72, [], ["tcz-window:warning"], id="onset-72h-warning"),
    pytest.param(None, [], ["tcz-window:info"], id="onset-unknown-info"),
    pytest.param(
        None,
        [condition(ENCEPHALOPATHY, ago(hours=25))],
        ["tcz-window:warning"],
        id="encephalopathy-onset-25h-fallback",
    ),
    pytest.param(
        None, [condition(ENCEPHALOPATHY, ago(hours=12))], [], id="encephalopathy-onset-12h-fallback"
    ),
]


@pytest.mark.parametrize(("onset_hours", "facts", "expected"), WINDOW_ROWS)
def test_order_window(onset_hours: float | None, facts: list[Json], expected: list[str]) -> None:
    cards = run_hook(
        "order-select", child(*facts, onset_hours=onset_hours), drafts=[tcz_order(216)]
    )
    assert_cards(cards, expected)


# (age years, months, days or None: no birth date; expected tcz-age card)
AGE_ROWS = [
    pytest.param((1, 11, 0), ["tcz-age:info"], id="23-months-info"),
    pytest.param((1, 11, 29), ["tcz-age:info"], id="23-months-29-days-still-23-info"),
    pytest.param((2, 0, 0), [], id="24-months-no-card"),
    pytest.param(None, [], id="no-birth-date-no-card"),
]


@pytest.mark.parametrize(("age", "expected"), AGE_ROWS)
def test_order_age(age: tuple[int, int, int] | None, expected: list[str]) -> None:
    years, months, days = age if age is not None else (None, 0, 0)
    resources = child(years=years, months=months, days=days, kg=12)
    cards = run_hook("order-select", resources, drafts=[tcz_order(144)])
    assert_cards(cards, expected)


def test_order_age_unknown_is_said_in_the_detail_of_the_card_shown() -> None:
    # no birth date, 300 mg for 18 kg: the tcz-dose card carries the note
    cards = run_hook("order-select", child(years=None), drafts=[tcz_order(300)])
    assert_cards(cards, ["tcz-dose:warning"])
    assert "age unknown" in card(cards, "tcz-dose")["detail"].lower()


def test_order_every_matching_row_is_its_own_card_info_included() -> None:
    facts = [anc(0.9), active(GI_HAEMORRHAGE), active(SEPSIS), alt(250)]
    resources = child(*facts, years=1, months=11, kg=12, onset_hours=None)
    cards = run_hook("order-select", resources, drafts=[tcz_order(200)])
    assert_cards(
        cards,
        [
            "tcz-dose:warning",
            "tcz-window:info",
            "tcz-infection:warning",
            "tcz-neutropenia:critical",
            "tcz-liver:warning",
            "tcz-gi-perforation:warning",
            "tcz-age:info",
        ],
    )


@pytest.mark.parametrize(
    ("facts", "mild"),
    [
        pytest.param([anc(1.0)], r"(ANC|neutrophil)[^\n]*\b1(\.0+)?\b", id="anc-1.0"),
        pytest.param([platelets(50)], r"platelet[^\n]*\b50\b", id="platelets-50"),
        pytest.param([alt(120)], r"ALT[^\n]*\b3 x ULN", id="alt-3x-uln"),
    ],
)
def test_order_milder_findings_go_into_the_detail_of_the_card_shown(
    facts: list[Json], mild: str
) -> None:
    # onset 30 h ago: the tcz-window card is shown and carries the milder finding
    cards = run_hook("order-select", child(*facts, onset_hours=30), drafts=[tcz_order(216)])
    assert_cards(cards, ["tcz-window:warning"])
    assert re.search(mild, card(cards, "tcz-window")["detail"], re.IGNORECASE)


# ------------------------------------------------------------------ patient-view

# (facts, age or None for no birth date, expected cards, text expected in the
# tcz-recommendation detail or None)
PATIENT_VIEW_ROWS = [
    pytest.param([], (5, 0), PV_DUE, None, id="nothing-recorded-recommendation-due"),
    pytest.param(
        [anc(0.9)],
        (5, 0),
        [MP_REC, "tcz-neutropenia:critical", SEVERITY_INFO, CRITERIA],
        None,
        id="anc-0.9-critical-removes-recommendation",
    ),
    pytest.param(
        [anc(1.0)],
        (5, 0),
        PV_DUE,
        r"(ANC|neutrophil)[^\n]*\b1(\.0+)?\b",
        id="anc-1.0-milder-in-detail",
    ),
    pytest.param(
        [anc(0.9, hours=73)],
        (5, 0),
        PV_DUE,
        r"no recent[^\n]*neutrophil",
        id="anc-73h-old-no-recent-value",
    ),
    pytest.param(
        [platelets(49)],
        (5, 0),
        [MP_REC, "tcz-thrombocytopenia:critical", SEVERITY_INFO, CRITERIA],
        None,
        id="platelets-49-critical",
    ),
    pytest.param(
        [platelets(50)], (5, 0), PV_DUE, r"platelet[^\n]*\b50\b", id="platelets-50-milder-in-detail"
    ),
    pytest.param(
        [alt(401)],
        (5, 0),
        [MP_REC, "tcz-liver:critical", SEVERITY_INFO, CRITERIA],
        None,
        id="alt-over-10x-critical",
    ),
    pytest.param(
        [alt(201)],
        (5, 0),
        [MP_REC, "tcz-liver:warning", TCZ_CONSIDER, SEVERITY_INFO, CRITERIA],
        None,
        id="alt-over-5x-warning-card-and-recommendation",
    ),
    pytest.param(
        [alt(201), ast(501)],
        (5, 0),
        [MP_REC, "tcz-liver:critical", SEVERITY_INFO, CRITERIA],
        None,
        id="alt-warning-ast-critical-one-card",
    ),
    pytest.param(
        [active(MYCOSIS)],
        (5, 0),
        [MP_REC, "tcz-infection:critical", SEVERITY_INFO, CRITERIA],
        None,
        id="mycosis-critical",
    ),
    pytest.param(
        [active(TUBERCULOSIS)],
        (5, 0),
        [MP_REC, "tcz-infection:critical", SEVERITY_INFO, CRITERIA],
        None,
        id="tuberculosis-critical",
    ),
    pytest.param(
        [active(SEPSIS)],
        (5, 0),
        [MP_REC, "tcz-infection:warning", TCZ_CONSIDER, SEVERITY_INFO, CRITERIA],
        None,
        id="sepsis-warning-card-and-recommendation",
    ),
    pytest.param(
        [rxnorm_allergy("active")],
        (5, 0),
        [MP_REC, "tcz-hypersensitivity:critical", SEVERITY_INFO, CRITERIA],
        None,
        id="allergy-active-critical",
    ),
    pytest.param(
        [snomed_allergy(None)],
        (5, 0),
        [MP_REC, "tcz-hypersensitivity:critical", SEVERITY_INFO, CRITERIA],
        None,
        id="allergy-no-status-critical",
    ),
    pytest.param([rxnorm_allergy("resolved")], (5, 0), PV_DUE, None, id="allergy-resolved-ignored"),
    pytest.param(
        [active(DIVERTICULITIS)],
        (5, 0),
        [MP_REC, "tcz-gi-perforation:warning", TCZ_CONSIDER, SEVERITY_INFO, CRITERIA],
        None,
        id="gi-risk-warning-card-and-recommendation",
    ),
    pytest.param(
        [active(SHOCK)],
        (1, 11),
        [MP_REC, TCZ_CONSIDER, SEVERITY_INFO, CRITERIA],
        r"23 months",
        id="23-months-info-only-in-detail",
    ),
    pytest.param(
        [active(SHOCK)],
        None,
        [MP_REC, TCZ_CONSIDER, SEVERITY_INFO, CRITERIA],
        r"age unknown",
        id="no-birth-date-age-unknown-in-detail",
    ),
    pytest.param(
        [active(SHOCK), active(GI_HAEMORRHAGE), lab(CSF_LEUKOCYTES, 2, "/uL", ago(hours=8))],
        (3, 0),
        [MP_REC, "tcz-gi-perforation:warning", TCZ_CONSIDER, SEVERITY_INFO, CRITERIA],
        None,
        id="shock-medium-gi-warning",
    ),
    pytest.param(
        [active(SHOCK), lab(CSF_PROTEIN, 95, "mg/dL", ago(hours=7)), anc(1.2)],
        (5, 0),
        [MP_REC, TCZ_RECOMMEND, SEVERITY_HIGH, CRITERIA],
        r"(ANC|neutrophil)[^\n]*1\.2",
        id="high-band-milder-anc-in-detail",
    ),
    # the recommendation is not due: no safety cards at all
    pytest.param(
        [anc(0.9)], (3, 0), [MP_REC, SEVERITY_INFO, CRITERIA], None, id="band-low-no-safety-cards"
    ),
    pytest.param(
        [anc(0.9), lab(CSF_LEUKOCYTES, 6, "/uL", ago(hours=8))],
        (5, 0),
        ["atypical-csf-pleocytosis:warning", SEVERITY_INFO, CRITERIA],
        None,
        id="red-flag-no-safety-cards",
    ),
    pytest.param(
        [anc(0.9), given_tcz(20)],
        (5, 0),
        [MP_REC, SEVERITY_INFO, CRITERIA],
        None,
        id="tcz-ordered-this-episode-no-safety-cards",
    ),
    pytest.param(
        [active(SEPSIS)],
        (3, 0),
        [MP_REC, SEVERITY_INFO, CRITERIA],
        None,
        id="band-low-sepsis-no-card",
    ),
]


@pytest.mark.parametrize(("facts", "age", "expected", "detail"), PATIENT_VIEW_ROWS)
def test_patient_view_safety(
    facts: list[Json], age: tuple[int, int] | None, expected: list[str], detail: str | None
) -> None:
    years, months = age if age is not None else (None, 0)
    cards = run_hook("patient-view", child(*facts, years=years, months=months))
    assert_cards(cards, expected)
    if detail is not None:
        text = card(cards, "tcz-recommendation")["detail"]
        assert re.search(detail, text, re.IGNORECASE), text


def test_patient_view_positive_culture_is_a_red_flag_not_a_safety_card() -> None:
    cards = run_hook("patient-view", child(culture(BLOOD_CULTURE, True, ago(hours=5))))
    assert_cards(cards, [BACTERIAL_FLAG, SEVERITY_INFO, CRITERIA])


def test_patient_view_no_usable_weight_no_safety_cards() -> None:
    cards = run_hook("patient-view", child(anc(0.9), kg=None))
    assert_cards(cards, ["weight-missing:warning", SEVERITY_INFO, CRITERIA])


MILD_LIVER = r"(ALT|AST)[^\n]*x ULN"


@pytest.mark.parametrize(
    ("facts", "named"),
    [
        pytest.param([alt(40)], False, id="alt-1x-uln-normal"),
        pytest.param([alt(60)], True, id="alt-1.5x-default-uln"),
        pytest.param([ast(75)], True, id="ast-1.5x-default-uln"),
        pytest.param([alt(45, high=30)], True, id="alt-1.5x-ref-30"),
        pytest.param([alt(61)], True, id="alt-1.53x-default-uln"),
        pytest.param([ast(120)], True, id="ast-2.4x-default-uln"),
        pytest.param([alt(200)], True, id="alt-5x-default-uln-upper-end"),
    ],
)
def test_patient_view_milder_liver_values_in_the_recommendation_detail(
    facts: list[Json], named: bool
) -> None:
    cards = run_hook("patient-view", child(*facts))
    assert_cards(cards, PV_DUE)
    detail = card(cards, "tcz-recommendation")["detail"]
    assert bool(re.search(MILD_LIVER, detail)) is named, detail
