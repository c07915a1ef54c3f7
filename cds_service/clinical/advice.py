"""What the rules produce: Advice (a card before uuids and source are attached), and formatting."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

from cds_service.clinical.knowledge import Indicator, Knowledge

ActionType = Literal["create", "update", "delete"]
SUMMARY_MAX = 139  # CDS Hooks: summary "<140 characters"


@dataclass(frozen=True)
class ActionDraft:
    """A suggested change: create or update carries a resource, delete a resource id."""

    type: ActionType
    description: str
    resource: Mapping[str, Any] | None = None
    resource_id: str | None = None


@dataclass(frozen=True)
class SuggestionDraft:
    """A suggestion with its actions; `key` makes its uuid stable."""

    label: str
    actions: tuple[ActionDraft, ...]
    key: str
    recommended: bool = True


@dataclass(frozen=True)
class Advice:
    """One card's content, decided by the rules. `subject` separates cards of one topic."""

    topic: str
    indicator: Indicator
    summary: str
    detail: str
    subject: str = ""
    suggestions: tuple[SuggestionDraft, ...] = ()
    extension: Mapping[str, Any] = field(default_factory=dict)


def advice(
    knowledge: Knowledge,
    topic: str,
    detail_lines: list[str],
    *,
    indicator: Indicator | None = None,
    subject: str = "",
    suggestions: tuple[SuggestionDraft, ...] = (),
    extension: Mapping[str, Any] | None = None,
    fields: Mapping[str, object] | None = None,
    **summary_values: object,
) -> Advice:
    """Build Advice from the catalogue entry of `topic`, with its evidence lines appended."""
    card = knowledge.card(topic)
    evidence = [
        f"- {source}: {knowledge.sources[source].citation}. "
        f"Certainty: {knowledge.sources[source].certainty}."
        for source in card.sources
    ]
    detail = markdown([*detail_lines, "**Evidence**", *evidence])
    return Advice(
        topic=topic,
        indicator=indicator or card.indicator,
        summary=_fit(card.summary.format(**(fields or {}), **summary_values)),
        detail=detail,
        subject=subject,
        suggestions=suggestions,
        extension=extension or {},
    )


def _fit(summary: str) -> str:
    """Keep a summary under 140 characters (CDS Hooks); the detail always has the full text."""
    return summary if len(summary) <= SUMMARY_MAX else summary[: SUMMARY_MAX - 3].rstrip() + "..."


def markdown(lines: list[str]) -> str:
    """Lines as Markdown: table rows and list items stay together, other lines are paragraphs."""
    blocks: list[str] = []
    for line in (item for item in lines if item):
        joined = line.startswith(("|", "- ")) and blocks and blocks[-1].startswith(line[0])
        if joined:
            blocks[-1] += "\n" + line
        else:
            blocks.append(line)
    return "\n\n".join(blocks)


def round_mg(value: Decimal) -> int:
    """Round a dose to the nearest 1 mg, halves up (ane-rules.md section 8)."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def fmt(value: Decimal | int, places: int = 1) -> str:
    """A number for people: thousands separators, at most `places` decimals, no trailing zeros."""
    number = Decimal(value).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    text = f"{number:,.{places}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text
