"""Section 10 cards through the whole service: TNF antagonists, treatment response, RANBP2
testing, an unreadable tocilizumab dose and an unrecognised ANC unit; and worked examples E1, E4.
"""

from __future__ import annotations

import pytest

from tests.builders import Json, ago, condition, finding, lab
from tests.hookrun import card, run_hook, suggested_dose_mg
from tests.hooks.story import (
    ALT,
    AMMONIA,
    ANC,
    ANE,
    ASTHMA,
    BACTERIAL_SEPSIS,
    BRAINSTEM,
    CRITERIA,
    CSF_IL6,
    CSF_LEUKOCYTES,
    CSF_PROTEIN,
    FAMILIAL_ANE,
    INFLUENZA_A,
    MP_DRAFT,
    MP_REC,
    PLATELETS,
    PROCALCITONIN,
    SERUM_IL6,
    SEVERITY_HIGH,
    SEVERITY_INFO,
    SHOCK,
    TCZ_RECOMMEND,
    THALAMIC,
    TNF_ANTAGONISTS,
    TNF_DRAFT,
    assert_cards,
    child,
    given_mp,
    given_tcz,
    mp_order,
    only_action,
    ref,
    tcz_order,
    tnf_order,
)

# ------------------------------------------------------------------ tnf-antagonist


@pytest.mark.parametrize("hook", ["order-select", "order-sign"])
@pytest.mark.parametrize("code", list(TNF_ANTAGONISTS.values()), ids=list(TNF_ANTAGONISTS))
def test_tnf_antagonist_warning_suggests_deleting_the_draft(hook: str, code: str) -> None:
    cards = run_hook(hook, child(), drafts=[tnf_order(code)])
    assert_cards(cards, ["tnf-antagonist:warning"])
    action = only_action(card(cards, "tnf-antagonist"))
    assert action["type"] == "delete"
    assert action["resourceId"] == f"MedicationRequest/{TNF_DRAFT}"


# (resources of a child given a TNF antagonist, whether there is an ANE context)
TNF_CONTEXT_ROWS = [
    pytest.param(child(), True, id="ane-condition"),
    pytest.param(child(ane=None), False, id="no-ane-condition"),
    pytest.param(child(condition(ASTHMA, ago(days=200)), ane=None), False, id="asthma-only"),
    pytest.param(
        [*child(ane=None), condition(ANE, ago(days=90), clinical="resolved")],
        False,
        id="ane-resolved",
    ),
    pytest.param(
        [*child(ane=None), condition(ANE, ago(hours=10), verification="refuted")],
        False,
        id="ane-refuted",
    ),
    pytest.param(
        [*child(ane=None), finding(THALAMIC, True, ago(days=10))],
        True,
        id="thalamic-lesions-10-days",
    ),
    pytest.param(
        [*child(ane=None), finding(THALAMIC, True, ago(days=31))],
        False,
        id="thalamic-lesions-31-days",
    ),
    pytest.param(
        [*child(ane=None), finding(THALAMIC, False, ago(days=2))],
        False,
        id="thalamic-lesions-absent",
    ),
]


@pytest.mark.parametrize(("resources", "context"), TNF_CONTEXT_ROWS)
def test_tnf_antagonist_only_in_an_ane_context(resources: list[Json], context: bool) -> None:
    cards = run_hook("order-select", resources, drafts=[tnf_order()])
    assert_cards(cards, ["tnf-antagonist:warning"] if context else [])


def test_tnf_antagonist_not_selected_gives_no_card() -> None:
    cards = run_hook(
        "order-select", child(), drafts=[tnf_order(), mp_order()], selections=[ref(MP_DRAFT)]
    )
    assert_cards(cards, [])


# ------------------------------------------------------------------ treatment-response


def pct(value: float, hours: float) -> Json:
    return lab(PROCALCITONIN, value, "ng/mL", ago(hours=hours))


def csf_protein(value: float, hours: float) -> Json:
    return lab(CSF_PROTEIN, value, "mg/dL", ago(hours=hours))


def csf_il6(value: float, hours: float) -> Json:
    return lab(CSF_IL6, value, "pg/mL", ago(hours=hours))


def serum_il6(value: float, hours: float) -> Json:
    return lab(SERUM_IL6, value, "pg/mL", ago(hours=hours))


# (facts for a 3-year-old, 15 kg, ANE onset 100 h ago (band low: no tocilizumab card);
# treatment-response indicator or None; texts in its detail; texts not in its detail)
RESPONSE_ROWS = [
    pytest.param(
        [given_mp(72), pct(5, 90), pct(1, 0)], "info", ["-80%"], [], id="mp-72h-pct-fell-80pct"
    ),
    pytest.param([given_mp(71), pct(5, 90), pct(1, 0)], None, [], [], id="mp-71h-too-early"),
    pytest.param(
        [given_mp(80), pct(5, 90), pct(1, 9)], None, [], [], id="pct-71h-after-mp-not-after"
    ),
    pytest.param(
        [given_mp(80), pct(5, 90), pct(1, 8)], "info", ["-80%"], [], id="pct-72h-after-mp"
    ),
    pytest.param(
        [given_mp(80, status="active"), pct(5, 90), pct(1, 6)],
        "info",
        ["-80%"],
        [],
        id="mp-active-order",
    ),
    pytest.param(
        [given_mp(80), pct(2, 90), pct(3, 6)],
        "warning",
        ["50%", "plasma exchange"],
        [],
        id="pct-rose-warning",
    ),
    pytest.param(
        [given_mp(80), pct(2, 90), pct(2, 6)],
        "warning",
        ["0%", "plasma exchange"],
        [],
        id="pct-unchanged-warning",
    ),
    pytest.param(
        [given_mp(80), pct(2, 90), pct(3, 6), csf_protein(120, 90), csf_protein(60, 6)],
        "info",
        ["50%", "-50%"],
        ["plasma exchange"],
        id="csf-protein-fell-pct-rose-info",
    ),
    pytest.param(
        [given_mp(80), csf_il6(400, 90), csf_il6(100, 6)], "info", ["-75%"], [], id="csf-il6-fell"
    ),
    pytest.param(
        [given_mp(80), csf_il6(100, 90), csf_il6(150, 6), csf_protein(80, 90), csf_protein(100, 6)],
        "warning",
        ["50%", "25%", "plasma exchange"],
        [],
        id="csf-il6-and-protein-rose-warning",
    ),
    pytest.param([given_mp(80), pct(1, 6)], None, [], [], id="no-value-before-mp"),
    pytest.param([given_mp(80), pct(5, 90)], None, [], [], id="no-value-after-mp"),
    pytest.param(
        [given_mp(80), given_mp(40), pct(5, 90), pct(1, 6)],
        "info",
        ["-80%"],
        [],
        id="earliest-mp-counts",
    ),
    pytest.param(
        [given_mp(80), pct(5, 90), pct(1, 6), given_tcz(50), serum_il6(300, 10)],
        "info",
        ["serum IL-6"],
        [],
        id="serum-il6-after-tcz-noted",
    ),
    pytest.param(
        [given_mp(80), pct(5, 90), pct(1, 6), serum_il6(300, 10)],
        "info",
        [],
        ["serum IL-6"],
        id="serum-il6-without-tcz-no-note",
    ),
    pytest.param(
        [given_mp(80), pct(5, 90), pct(1, 6), given_tcz(50), serum_il6(300, 60)],
        "info",
        [],
        ["serum IL-6"],
        id="serum-il6-only-before-tcz-no-note",
    ),
]


@pytest.mark.parametrize(("facts", "indicator", "present", "absent"), RESPONSE_ROWS)
def test_treatment_response(
    facts: list[Json], indicator: str | None, present: list[str], absent: list[str]
) -> None:
    cards = run_hook("patient-view", child(*facts, years=3, kg=15, onset_hours=100))
    expected = [SEVERITY_INFO, CRITERIA]
    if indicator is not None:
        expected.append(f"treatment-response:{indicator}")
    assert_cards(cards, expected)
    if indicator is None:
        return
    detail = card(cards, "treatment-response")["detail"]
    for text in present:
        assert text.lower() in detail.lower(), detail
    for text in absent:
        assert text.lower() not in detail.lower(), detail


def test_treatment_response_needs_a_dose_not_a_cancelled_order() -> None:
    facts = [given_mp(80, status="cancelled"), pct(5, 90), pct(1, 6)]
    cards = run_hook("patient-view", child(*facts, years=3, kg=15, onset_hours=100))
    assert_cards(cards, [MP_REC, SEVERITY_INFO, CRITERIA])


def test_treatment_response_is_not_an_order_hook_card() -> None:
    facts = [given_mp(80), pct(5, 90), pct(1, 6)]
    resources = child(*facts, years=3, kg=15, onset_hours=100)
    cards = run_hook("order-select", resources, drafts=[mp_order(450)])
    assert_cards(cards, [])


# ------------------------------------------------------------------ ranbp2-testing


def prior_ane(days_before_onset: float, code: str = ANE, **kw: str) -> Json:
    """An ANE Condition with onset `days_before_onset` before the current onset (10 h ago)."""
    return condition(code, ago(hours=10, days=days_before_onset), **kw)


# (resources of a 3-year-old, 15 kg (band low), whether ranbp2-testing is shown)
RANBP2_ROWS = [
    pytest.param(child(years=3, kg=15), False, id="single-episode"),
    pytest.param(
        child(prior_ane(31, clinical="resolved"), years=3, kg=15), True, id="prior-31-days-resolved"
    ),
    pytest.param(
        child(prior_ane(31, clinical="inactive"), years=3, kg=15), True, id="prior-31-days-inactive"
    ),
    pytest.param(child(prior_ane(31), years=3, kg=15), True, id="prior-31-days-active"),
    pytest.param(
        child(prior_ane(29, clinical="resolved"), years=3, kg=15), False, id="prior-29-days"
    ),
    pytest.param(
        child(prior_ane(30, clinical="resolved"), years=3, kg=15),
        False,
        id="prior-30-days-not-more",
    ),
    pytest.param(
        child(prior_ane(31, verification="refuted"), years=3, kg=15),
        False,
        id="prior-31-days-refuted",
    ),
    pytest.param(child(years=3, kg=15, ane=FAMILIAL_ANE), True, id="familial-ane-alone"),
    pytest.param(
        child(years=3, kg=15, ane=FAMILIAL_ANE, onset_hours=None), True, id="familial-ane-no-onset"
    ),
]


@pytest.mark.parametrize(("resources", "shown"), RANBP2_ROWS)
def test_ranbp2_testing(resources: list[Json], shown: bool) -> None:
    cards = run_hook("patient-view", resources)
    expected = [MP_REC, SEVERITY_INFO, CRITERIA]
    if shown:
        expected.append("ranbp2-testing:info")
    assert_cards(cards, expected)


def test_ranbp2_testing_is_not_an_order_hook_card() -> None:
    resources = child(prior_ane(31, clinical="resolved"), years=3, kg=15)
    assert_cards(run_hook("order-select", resources, drafts=[mp_order(450)]), [])


# ------------------------------------------------------------------ dose-unreadable


@pytest.mark.parametrize(
    "draft",
    [
        pytest.param(tcz_order(None), id="no-dose"),
        pytest.param(tcz_order(10, unit="mL"), id="dose-in-mL"),
        pytest.param(tcz_order(216, period=None, period_unit=None), id="frequency-without-period"),
    ],
)
@pytest.mark.parametrize("hook", ["order-select", "order-sign"])
def test_dose_unreadable_tcz_order(hook: str, draft: Json) -> None:
    cards = run_hook(hook, child(), drafts=[draft])
    assert_cards(cards, ["dose-unreadable:warning"])


def test_dose_unreadable_still_runs_the_safety_rows() -> None:
    facts = [lab(PLATELETS, 40, "10*3/uL", ago(hours=6))]
    cards = run_hook("order-select", child(*facts), drafts=[tcz_order(None)])
    assert_cards(cards, ["dose-unreadable:warning", "tcz-thrombocytopenia:critical"])


# ------------------------------------------------------------------ unit-unrecognized


def anc_k_per_ul(value: float, hours: float) -> Json:
    """An ANC written with the non-UCUM unit text 'K/uL' (not in the data contract)."""
    return lab(ANC, value, "K/uL", ago(hours=hours), ucum=False)


# (facts, draft orders, expected cards)
UNIT_ROWS = [
    pytest.param(
        [anc_k_per_ul(0.5, 6)],
        [tcz_order()],
        ["unit-unrecognized:info"],
        id="tcz-order-anc-unit-unknown",
    ),
    pytest.param(
        [anc_k_per_ul(0.5, 6), lab(ANC, 0.8, "10*3/uL", ago(hours=10))],
        [tcz_order()],
        ["unit-unrecognized:info", "tcz-neutropenia:critical"],
        id="tcz-order-older-usable-anc-used",
    ),
    pytest.param(
        [anc_k_per_ul(0.5, 6), lab(ANC, 1.8, "10*3/uL", ago(hours=10))],
        [tcz_order()],
        ["unit-unrecognized:info"],
        id="tcz-order-older-usable-anc-normal",
    ),
    pytest.param([anc_k_per_ul(0.5, 6)], [mp_order()], [], id="mp-order-does-not-need-anc"),
    pytest.param(
        [anc_k_per_ul(0.5, 6)],
        [tnf_order()],
        ["tnf-antagonist:warning"],
        id="tnf-order-does-not-need-anc",
    ),
]


@pytest.mark.parametrize(("facts", "drafts", "expected"), UNIT_ROWS)
def test_unit_unrecognized_anc(facts: list[Json], drafts: list[Json], expected: list[str]) -> None:
    cards = run_hook("order-select", child(*facts), drafts=drafts)
    assert_cards(cards, expected)
    if "unit-unrecognized:info" in expected:
        detail = card(cards, "unit-unrecognized")["detail"]
        assert "K/uL" in detail
        assert "neutrophil" in detail.lower() or "ANC" in detail


# ------------------------------------------------------------------ worked examples


def test_e1_patient_view() -> None:
    resources = child(
        condition(INFLUENZA_A, ago(days=3)),
        finding(THALAMIC, True, ago(hours=8)),
        finding(BRAINSTEM, True, ago(hours=8)),
        condition(SHOCK, ago(hours=9)),
        lab(PLATELETS, 85, "10*3/uL", ago(hours=6)),
        lab(CSF_PROTEIN, 95, "mg/dL", ago(hours=7)),
        lab(CSF_LEUKOCYTES, 2, "/uL", ago(hours=7)),
        lab(ALT, 180, "U/L", ago(hours=6), ref_high=40),
        lab(AMMONIA, 38, "umol/L", ago(hours=6), ref_high=50),
        years=5,
        kg=18,
        onset_hours=10,
    )
    cards = run_hook("patient-view", resources)
    assert_cards(cards, [CRITERIA, SEVERITY_HIGH, MP_REC, TCZ_RECOMMEND])
    assert "criteria supported" in card(cards, "ane-criteria")["summary"].lower()
    assert card(cards, "severity-score")["extension"] == {
        "ane-cds.severity": {
            "score": 9,
            "minScore": 9,
            "maxScore": 9,
            "band": "high",
            "complete": True,
        }
    }
    assert suggested_dose_mg(card(cards, "mp-recommendation")) == 540
    tcz = card(cards, "tcz-recommendation")
    assert suggested_dose_mg(tcz) == 216
    assert "4.5 x ULN" in tcz["detail"]
    assert "85" in tcz["detail"]
    assert "14 h" in tcz["detail"]


def test_e4_order_select_tcz_with_bacterial_sepsis() -> None:
    resources = child(condition(BACTERIAL_SEPSIS, ago(hours=12)), years=6, kg=20, onset_hours=12)
    cards = run_hook("order-select", resources, drafts=[tcz_order(240)])
    assert_cards(cards, ["atypical-bacterial-infection:warning", "tcz-infection:critical"])


def test_tnf_with_tcz_and_mp_each_checked_on_its_own() -> None:
    drafts = [tnf_order(), tcz_order(300), mp_order(540)]
    cards = run_hook("order-sign", child(), drafts=drafts)
    assert_cards(cards, ["tnf-antagonist:warning", "tcz-dose:warning"])
    assert suggested_dose_mg(card(cards, "tcz-dose")) == 216
