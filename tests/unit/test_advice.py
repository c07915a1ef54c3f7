"""Advice building: summaries always fit, Markdown keeps tables together, numbers read well."""

from __future__ import annotations

from decimal import Decimal

import pytest

from cds_service.clinical.advice import advice, fmt, markdown, round_mg
from cds_service.clinical.knowledge import Knowledge


def test_a_summary_with_long_free_text_is_cut_to_fit(knowledge: Knowledge) -> None:
    card = advice(knowledge, "treatment-response", ["detail"], text="x" * 300)
    assert len(card.summary) == 139
    assert card.summary.endswith("...")


def test_a_short_summary_is_kept_whole(knowledge: Knowledge) -> None:
    card = advice(knowledge, "treatment-response", ["detail"], text="All markers fell.")
    assert card.summary == "All markers fell."


def test_markdown_keeps_table_rows_and_lists_together() -> None:
    text = markdown(["Intro.", "| a |", "|---|", "| 1 |", "- one", "- two", "End."])
    assert text == "Intro.\n\n| a |\n|---|\n| 1 |\n\n- one\n- two\n\nEnd."


@pytest.mark.parametrize(
    ("value", "expected"),
    [(Decimal("539.5"), 540), (Decimal("539.49"), 539), (Decimal("0.5"), 1), (Decimal(999), 999)],
)
def test_doses_round_halves_up(value: Decimal, expected: int) -> None:
    assert round_mg(value) == expected


@pytest.mark.parametrize(
    ("value", "places", "expected"),
    [
        (Decimal(1000), 1, "1,000"),
        (Decimal("4.50"), 1, "4.5"),
        (Decimal("0.95"), 1, "1"),
        (Decimal("1.234"), 2, "1.23"),
        (12, 1, "12"),
    ],
)
def test_numbers_read_well(value: Decimal, places: int, expected: str) -> None:
    assert fmt(value, places) == expected
