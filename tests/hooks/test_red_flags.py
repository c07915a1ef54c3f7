"""Section 6 red flags through the whole service: at, below and above each threshold.

The story: a 5-year-old, 18 kg, ANE onset 10 h ago (presentation window and episode from 34 h
ago). Without a red flag patient-view recommends MP and (band medium) considers tocilizumab;
each red flag is its own warning card and withholds both recommendations. On order hooks the
red-flag cards concern an MP or tocilizumab order only.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.builders import Json, ago, condition, culture, lab
from tests.hookrun import card, run_hook
from tests.hooks.story import (
    AMMONIA,
    BACTERIAL_MENINGITIS,
    BACTERIAL_SEPSIS,
    BLOOD_CULTURE,
    CRITERIA,
    CSF_CULTURE,
    CSF_LEUKOCYTES,
    MP_DRAFT,
    OTHER_DRAFT,
    PV_DUE,
    SEVERITY_INFO,
    TNF_DRAFT,
    assert_cards,
    child,
    mp_order,
    other_order,
    ref,
    tcz_order,
    tnf_order,
)

PLEOCYTOSIS = "atypical-csf-pleocytosis"
HYPERAMMONEMIA = "atypical-hyperammonemia"
BACTERIAL = "atypical-bacterial-infection"


def csf_cells(value: float, hours: float = 8, unit: str = "/uL") -> Json:
    return lab(CSF_LEUKOCYTES, value, unit, ago(hours=hours))


def detected(code: str, hours: float) -> Json:
    """A culture whose interpretation is DET (detected), which counts as positive."""
    resource = culture(code, True, ago(hours=hours))
    resource["interpretation"][0]["coding"][0]["code"] = "DET"
    return resource


def ammonia(
    value: float, high: float | None = None, unit: str = "umol/L", hours: float = 8
) -> Json:
    return lab(AMMONIA, value, unit, ago(hours=hours), ref_high=high)


# (facts added to the story, the red flag they raise or None, whether it is a serious
# bacterial infection, which tocilizumab also meets as tcz-infection critical)
RED_FLAG_ROWS = [
    # CSF leukocytes: pleocytosis from 5 /uL, in the presentation window
    pytest.param([csf_cells(4)], None, False, id="csf-leukocytes-4-below"),
    pytest.param([csf_cells(5)], PLEOCYTOSIS, False, id="csf-leukocytes-5-at"),
    pytest.param([csf_cells(6)], PLEOCYTOSIS, False, id="csf-leukocytes-6-above"),
    pytest.param([csf_cells(5, unit="10*6/L")], PLEOCYTOSIS, False, id="csf-5-per-litre-x1"),
    pytest.param([csf_cells(4, unit="/mm3")], None, False, id="csf-4-per-mm3-below"),
    pytest.param(
        [csf_cells(6, hours=3), csf_cells(4, hours=1)],
        PLEOCYTOSIS,
        False,
        id="csf-highest-in-window-counts",
    ),
    pytest.param([csf_cells(12, hours=40)], None, False, id="csf-12-before-the-window"),
    # ammonia: above referenceRange.high, else above 50 umol/L; ug/dL x 0.587
    pytest.param([ammonia(50, high=50)], None, False, id="ammonia-50-at-its-high-50"),
    pytest.param(
        [ammonia(50.1, high=50)], HYPERAMMONEMIA, False, id="ammonia-50.1-above-its-high-50"
    ),
    pytest.param([ammonia(60, high=60)], None, False, id="ammonia-60-at-its-high-60"),
    pytest.param([ammonia(61, high=60)], HYPERAMMONEMIA, False, id="ammonia-61-above-its-high-60"),
    pytest.param([ammonia(45, high=40)], HYPERAMMONEMIA, False, id="ammonia-45-above-its-high-40"),
    pytest.param([ammonia(50)], None, False, id="ammonia-50-at-default-50"),
    pytest.param([ammonia(51)], HYPERAMMONEMIA, False, id="ammonia-51-above-default-50"),
    pytest.param([ammonia(85.1, unit="ug/dL")], None, False, id="ammonia-85.1-ugdl-is-49.95-umol"),
    pytest.param(
        [ammonia(85.2, unit="ug/dL")], HYPERAMMONEMIA, False, id="ammonia-85.2-ugdl-is-50.01-umol"
    ),
    pytest.param(
        [ammonia(100, high=100, unit="ug/dL")], None, False, id="ammonia-ugdl-at-its-ugdl-high"
    ),
    pytest.param(
        [ammonia(101, high=100, unit="ug/dL")],
        HYPERAMMONEMIA,
        False,
        id="ammonia-ugdl-above-its-ugdl-high",
    ),
    pytest.param([ammonia(90, hours=40)], None, False, id="ammonia-90-before-the-window"),
    # serious bacterial infection: Conditions (whatever their onset) and positive cultures
    pytest.param(
        [condition(BACTERIAL_SEPSIS, ago(hours=6))], BACTERIAL, True, id="bacterial-sepsis"
    ),
    pytest.param(
        [condition(BACTERIAL_MENINGITIS, ago(hours=6))], BACTERIAL, True, id="bacterial-meningitis"
    ),
    pytest.param(
        [condition(BACTERIAL_SEPSIS, ago(days=60))],
        BACTERIAL,
        True,
        id="bacterial-sepsis-old-onset-still-active",
    ),
    pytest.param(
        [condition(BACTERIAL_SEPSIS, ago(hours=6), clinical="resolved")],
        None,
        False,
        id="bacterial-sepsis-resolved",
    ),
    pytest.param(
        [condition(BACTERIAL_MENINGITIS, ago(hours=6), verification="refuted")],
        None,
        False,
        id="bacterial-meningitis-refuted",
    ),
    pytest.param(
        [culture(BLOOD_CULTURE, True, ago(hours=5))],
        BACTERIAL,
        True,
        id="blood-culture-positive-in-episode",
    ),
    pytest.param(
        [culture(BLOOD_CULTURE, True, ago(hours=33))],
        BACTERIAL,
        True,
        id="blood-culture-positive-at-episode-start",
    ),
    pytest.param(
        [culture(BLOOD_CULTURE, True, ago(hours=35))],
        None,
        False,
        id="blood-culture-positive-before-episode",
    ),
    pytest.param(
        [culture(BLOOD_CULTURE, False, ago(hours=5))],
        None,
        False,
        id="blood-culture-negative-in-episode",
    ),
    pytest.param(
        [culture(CSF_CULTURE, True, ago(hours=5))],
        BACTERIAL,
        True,
        id="csf-culture-positive-in-episode",
    ),
    pytest.param([detected(CSF_CULTURE, 5)], BACTERIAL, True, id="csf-culture-detected"),
    pytest.param([detected(BLOOD_CULTURE, 5)], BACTERIAL, True, id="blood-culture-detected"),
    pytest.param(
        [culture(CSF_CULTURE, True, ago(hours=35))],
        None,
        False,
        id="csf-culture-positive-before-episode",
    ),
    pytest.param(
        [culture(CSF_CULTURE, True, ago(days=20))],
        None,
        False,
        id="csf-culture-positive-weeks-before",
    ),
    pytest.param(
        [culture(CSF_CULTURE, False, ago(hours=5))],
        None,
        False,
        id="csf-culture-negative-in-episode",
    ),
]


@pytest.mark.parametrize(("facts", "flag", "bacterial"), RED_FLAG_ROWS)
def test_patient_view_red_flag_withholds_both_recommendations(
    facts: list[Json], flag: str | None, bacterial: bool
) -> None:
    cards = run_hook("patient-view", child(*facts))
    if flag is None:
        assert_cards(cards, PV_DUE)
    else:
        assert_cards(cards, [f"{flag}:warning", SEVERITY_INFO, CRITERIA])


def test_three_red_flags_are_three_cards() -> None:
    facts = [csf_cells(9), ammonia(80), condition(BACTERIAL_SEPSIS, ago(hours=6))]
    cards = run_hook("patient-view", child(*facts))
    assert_cards(
        cards,
        [
            f"{PLEOCYTOSIS}:warning",
            f"{HYPERAMMONEMIA}:warning",
            f"{BACTERIAL}:warning",
            SEVERITY_INFO,
            CRITERIA,
        ],
    )


def test_red_flag_card_names_the_converted_ammonia() -> None:
    # 100 ug/dL x 0.587 = 58.7 umol/L, above the default 50 umol/L
    cards = run_hook("patient-view", child(ammonia(100, unit="ug/dL")))
    detail = card(cards, HYPERAMMONEMIA)["detail"]
    assert "58.7" in detail
    assert "50" in detail


@dataclass(frozen=True)
class Checked:
    """An order hook call: its draft orders, the order-select selections (None: all), and
    which of MP, tocilizumab and TNF antagonist are among the checked orders."""

    hook: str
    drafts: list[Json]
    selections: list[str] | None
    drugs: frozenset[str]


ORDER_KINDS = [
    pytest.param(Checked("order-select", [mp_order()], None, frozenset({"mp"})), id="mp-selected"),
    pytest.param(Checked("order-sign", [mp_order()], None, frozenset({"mp"})), id="mp-signed"),
    pytest.param(
        Checked("order-select", [tcz_order()], None, frozenset({"tcz"})), id="tcz-selected"
    ),
    pytest.param(Checked("order-sign", [tcz_order()], None, frozenset({"tcz"})), id="tcz-signed"),
    pytest.param(Checked("order-select", [tnf_order()], None, frozenset({"tnf"})), id="tnf-alone"),
    pytest.param(Checked("order-select", [other_order()], None, frozenset()), id="unrelated-order"),
    pytest.param(Checked("order-sign", [other_order()], None, frozenset()), id="unrelated-signed"),
    pytest.param(
        Checked("order-select", [mp_order(), other_order()], [ref(OTHER_DRAFT)], frozenset()),
        id="mp-drafted-unrelated-selected",
    ),
    pytest.param(
        Checked("order-select", [mp_order(), tnf_order()], [ref(TNF_DRAFT)], frozenset({"tnf"})),
        id="mp-drafted-tnf-selected",
    ),
    pytest.param(
        Checked(
            "order-select",
            [mp_order(), tnf_order()],
            [ref(MP_DRAFT), ref(TNF_DRAFT)],
            frozenset({"mp", "tnf"}),
        ),
        id="mp-and-tnf-selected",
    ),
]


@pytest.mark.parametrize("checked", ORDER_KINDS)
@pytest.mark.parametrize(("facts", "flag", "bacterial"), RED_FLAG_ROWS)
def test_order_hooks_show_red_flags_only_for_mp_or_tcz_orders(
    facts: list[Json], flag: str | None, bacterial: bool, checked: Checked
) -> None:
    # 540 mg/day MP and 216 mg tocilizumab are the targets for 18 kg: no dose card
    expected: list[str] = []
    if flag is not None and checked.drugs & {"mp", "tcz"}:
        expected.append(f"{flag}:warning")
    if bacterial and "tcz" in checked.drugs:
        expected.append("tcz-infection:critical")
    if "tnf" in checked.drugs:
        expected.append("tnf-antagonist:warning")
    cards = run_hook(
        checked.hook, child(*facts), drafts=checked.drafts, selections=checked.selections
    )
    assert_cards(cards, expected)
