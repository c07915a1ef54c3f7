"""The feedback report (pure): acceptance and override rates per topic and per knowledge version,
the top override reasons, and how often dose suggestions were accepted.

Every number counts stored feedback items (a card reported twice with different outcomes counts
twice). Clinicians' comments are counted, never shown: they may hold patient data.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from cds_service.feedback.records import FeedbackFact, ServedCount, is_dose_topic

UNKNOWN_CARD = "(unknown card)"
TOP_REASONS = 10


@dataclass(frozen=True)
class Rates:
    """Feedback on one group of cards (a topic, a knowledge version, the dose cards)."""

    name: str
    served: int
    feedback: int
    accepted: int
    overridden: int

    @property
    def acceptance_rate(self) -> float | None:
        """Accepted items / feedback items (None without feedback)."""
        return self.accepted / self.feedback if self.feedback else None

    @property
    def override_rate(self) -> float | None:
        """Overridden items / feedback items (None without feedback)."""
        return self.overridden / self.feedback if self.feedback else None


@dataclass(frozen=True)
class ReasonCount:
    """How often an override reason was given."""

    system: str
    code: str
    display: str
    count: int


@dataclass(frozen=True)
class Report:
    """Everything `ane-cds feedback report` shows."""

    total: Rates
    unknown_card_items: int
    topics: tuple[Rates, ...]
    versions: tuple[Rates, ...]
    reasons: tuple[ReasonCount, ...]
    overrides_without_reason: int
    overrides_with_comment: int
    dose: Rates
    dose_topics: tuple[Rates, ...]


def build_report(
    facts: Iterable[FeedbackFact],
    served: Iterable[ServedCount],
    reason_names: Mapping[tuple[str, str], str],
) -> Report:
    """The report of stored feedback; `reason_names` names codes sent without a display."""
    facts, served = list(facts), list(served)
    dose_facts = [f for f in facts if is_dose_topic(f.topic) and f.suggestions_offered]
    overridden = [f for f in facts if f.outcome == "overridden"]
    return Report(
        total=_rates("all cards", facts, sum(s.cards for s in served)),
        unknown_card_items=sum(1 for f in facts if f.topic is None),
        topics=_grouped(facts, served, lambda f: f.topic, lambda s: s.topic),
        versions=_grouped(
            facts, served, lambda f: f.knowledge_version, lambda s: s.knowledge_version
        ),
        reasons=_top_reasons(overridden, reason_names),
        overrides_without_reason=sum(1 for f in overridden if f.reason_code is None),
        overrides_with_comment=sum(1 for f in overridden if f.has_comment),
        dose=_rates("dose suggestions", dose_facts, None),
        dose_topics=_grouped(dose_facts, [], lambda f: f.topic, lambda s: s.topic),
    )


def _rates(name: str, facts: list[FeedbackFact], served: int | None) -> Rates:
    accepted = sum(1 for f in facts if f.outcome == "accepted")
    return Rates(
        name=name,
        served=served if served is not None else 0,
        feedback=len(facts),
        accepted=accepted,
        overridden=len(facts) - accepted,
    )


def _grouped(
    facts: list[FeedbackFact],
    served: list[ServedCount],
    fact_key: Callable[[FeedbackFact], str | None],
    served_key: Callable[[ServedCount], str],
) -> tuple[Rates, ...]:
    """Rates per group, most feedback first; feedback on unknown cards is its own group."""
    cards: Counter[str] = Counter()
    for count in served:
        cards[served_key(count)] += count.cards
    groups: dict[str, list[FeedbackFact]] = {name: [] for name in cards}
    for fact in facts:
        groups.setdefault(fact_key(fact) or UNKNOWN_CARD, []).append(fact)
    rows = [_rates(name, items, cards[name]) for name, items in groups.items()]
    return tuple(sorted(rows, key=lambda r: (r.name == UNKNOWN_CARD, -r.feedback, r.name)))


def _top_reasons(
    overridden: list[FeedbackFact], reason_names: Mapping[tuple[str, str], str]
) -> tuple[ReasonCount, ...]:
    counts: Counter[tuple[str, str]] = Counter()
    displays: dict[tuple[str, str], str] = {}
    for fact in overridden:
        if fact.reason_system is None or fact.reason_code is None:
            continue
        key = (fact.reason_system, fact.reason_code)
        counts[key] += 1
        if fact.reason_display and key not in displays:
            displays[key] = fact.reason_display
    return tuple(
        ReasonCount(key[0], key[1], reason_names.get(key) or displays.get(key, ""), count)
        for key, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_REASONS]
    )


def report_json(report: Report) -> dict[str, Any]:
    """The report for machines: every count, and rates as fractions (null without feedback)."""

    def rates(row: Rates) -> dict[str, Any]:
        return {
            **asdict(row),
            "acceptance_rate": _round(row.acceptance_rate),
            "override_rate": _round(row.override_rate),
        }

    return {
        "total": rates(report.total),
        "unknown_card_items": report.unknown_card_items,
        "topics": [rates(r) for r in report.topics],
        "knowledge_versions": [rates(r) for r in report.versions],
        "override_reasons": [asdict(r) for r in report.reasons],
        "overrides_without_reason": report.overrides_without_reason,
        "overrides_with_comment": report.overrides_with_comment,
        "dose_suggestions": {
            **rates(report.dose),
            "topics": [rates(r) for r in report.dose_topics],
        },
    }


def _round(rate: float | None) -> float | None:
    return None if rate is None else round(rate, 4)


def _percent(rate: float | None) -> str:
    return "-" if rate is None else f"{100 * rate:.1f}%"


def _table(title: str, first: str, rows: Sequence[Rates], served: bool = True) -> list[str]:
    width = max([len(first), *(len(r.name) for r in rows)])
    head = f"{first:<{width}}" + ("  served" if served else "")
    lines = [title, f"  {head}  feedback  accepted  overridden  accepted%  overridden%"]
    for row in rows:
        cells = f"{row.name:<{width}}" + (f"  {row.served:>6}" if served else "")
        lines.append(
            f"  {cells}  {row.feedback:>8}  {row.accepted:>8}  {row.overridden:>10}"
            f"  {_percent(row.acceptance_rate):>9}  {_percent(row.override_rate):>11}"
        )
    return lines


def report_text(report: Report) -> str:
    """The report for people, as plain text."""
    total = report.total
    lines = [
        "ANE CDS feedback report",
        f"Feedback items: {total.feedback} (accepted {total.accepted}, "
        f"overridden {total.overridden}; acceptance {_percent(total.acceptance_rate)}, "
        f"override {_percent(total.override_rate)}); cards served: {total.served}; "
        f"items on unknown cards: {report.unknown_card_items}",
        "",
        *_table("Per topic", "topic", report.topics),
        "",
        *_table("Per knowledge version", "version", report.versions),
        "",
        "Top override reasons",
    ]
    width = max([4, *(len(r.code) for r in report.reasons)])
    lines += [
        f"  {r.count:>6}  {r.code:<{width}}  {r.display or '(no display)'}  [{r.system}]"
        for r in report.reasons
    ] or ["  (none)"]
    lines += [
        f"  Overrides without a coded reason: {report.overrides_without_reason}; "
        f"with a clinician comment: {report.overrides_with_comment} (comments are not shown)",
        "",
        f"Dose suggestions (mp-dose-*, mp-recommendation, tcz-recommendation, tcz-dose): "
        f"{report.dose.accepted} of {report.dose.feedback} accepted "
        f"({_percent(report.dose.acceptance_rate)})",
    ]
    if report.dose_topics:
        lines += _table("", "topic", report.dose_topics, served=False)[1:]
    return "\n".join(lines) + "\n"
