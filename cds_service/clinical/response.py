"""Treatment response after MP, RANBP2 testing and TNF antagonists (ane-rules.md section 10)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from cds_service.clinical.advice import ActionDraft, Advice, SuggestionDraft, advice, fmt
from cds_service.clinical.episode import Episode
from cds_service.clinical.facts import LabValue, MedicationOrder, PatientFacts
from cds_service.clinical.knowledge import Knowledge

RESPONSE_MARKERS = ("procalcitonin", "csf_protein", "csf_il6")
NOT_AFTER_TCZ = ("serum_il6", "crp")
PERCENT = Decimal(100)


@dataclass(frozen=True)
class MarkerChange:
    """A response marker before the first MP and at least 72 h after it."""

    fact: str
    before: LabValue
    after: LabValue

    @property
    def percent(self) -> Decimal:
        """Change from before to after, in percent of before."""
        return (self.after.value - self.before.value) / self.before.value * PERCENT


def mp_start(facts: PatientFacts, episode: Episode, knowledge: Knowledge) -> datetime | None:
    """authoredOn of the earliest MP order (active or completed) in the episode."""
    times = [
        m.authored
        for m in facts.medications
        if m.drug == "mp"
        and m.status in knowledge.statuses.dose_time_order
        and m.authored
        and episode.in_episode(m.authored)
    ]
    return min(times) if times else None


def _change(facts: PatientFacts, fact: str, start: datetime, hours: int) -> MarkerChange | None:
    dated = [v for v in facts.values(fact) if v.at is not None]
    before = [v for v in dated if v.at and v.at < start and v.value > 0]
    after = [v for v in dated if v.at and v.at >= start + timedelta(hours=hours)]
    if not before or not after:
        return None
    return MarkerChange(fact, max(before, key=_at), max(after, key=_at))


def _at(value: LabValue) -> datetime:
    assert value.at is not None
    return value.at


def _tcz_given(facts: PatientFacts, knowledge: Knowledge) -> datetime | None:
    times = [
        m.authored
        for m in facts.medications
        if m.drug == "tcz" and m.status in knowledge.statuses.dose_time_order and m.authored
    ]
    return min(times) if times else None


def treatment_response(
    facts: PatientFacts, episode: Episode, knowledge: Knowledge
) -> Advice | None:
    """treatment-response: each marker's change after >= 72 h of MP; warning when none fell."""
    start = mp_start(facts, episode, knowledge)
    hours = knowledge.windows.response_after_mp_hours
    if start is None or episode.now - start < timedelta(hours=hours):
        return None
    changes = [c for f in RESPONSE_MARKERS if (c := _change(facts, f, start, hours))]
    if not changes:
        return None
    fell = [c for c in changes if c.after.value < c.before.value]
    lines = [
        f"Methylprednisolone started {start.date().isoformat()} "
        f"({fmt(Decimal((episode.now - start).total_seconds()) / 3600)} h ago).",
        "",
    ]
    lines += ["| marker | before MP | after 72 h | change |", "|---|---|---|---|"]
    for c in changes:
        lab = knowledge.lab(c.fact)
        lines.append(
            f"| {lab.display} | {fmt(c.before.value, 2)} {lab.unit} | "
            f"{fmt(c.after.value, 2)} {lab.unit} | {fmt(c.percent)}% |"
        )
    lines += _tcz_note(facts, knowledge)
    if fell:
        text = (
            f"After {hours} h of methylprednisolone {len(fell)} of {len(changes)} "
            "response markers fell."
        )
        return advice(
            knowledge,
            "treatment-response",
            [*lines, knowledge.evidence.s1.markers + " (S1)."],
            text=text,
        )
    text = (
        f"No response marker fell after {hours} h of methylprednisolone: consider escalation "
        "(plasma exchange is second line)."
    )
    return advice(
        knowledge,
        "treatment-response",
        [*lines, "Consider escalation: plasma exchange is second line (S2)."],
        indicator="warning",
        text=text,
    )


def _tcz_note(facts: PatientFacts, knowledge: Knowledge) -> list[str]:
    given = _tcz_given(facts, knowledge)
    if given is None:
        return []
    present = [
        knowledge.lab(f).display
        for f in NOT_AFTER_TCZ
        if any(v.at and v.at >= given for v in facts.values(f))
    ]
    if not present:
        return []
    return [
        f"Tocilizumab was given: {' and '.join(present)} after it are not read as response "
        "markers (serum IL-6 rises and CRP is suppressed by tocilizumab)."
    ]


def ranbp2_card(facts: PatientFacts, episode: Episode, knowledge: Knowledge) -> Advice | None:
    """ranbp2-testing for a prior ANE episode (> 30 days before this onset) or familial ANE."""
    familial = any("familial_ane" in c.groups and c.verified for c in facts.conditions)
    prior = False
    if episode.onset is not None:
        cutoff = episode.onset - timedelta(days=knowledge.windows.prior_episode_days)
        prior = any(
            "ane" in c.groups and c.verified and c.onset and c.onset < cutoff
            for c in facts.conditions
        )
    if not (familial or prior):
        return None
    why = "familial ANE is recorded" if familial else "a previous ANE episode is recorded"
    return advice(
        knowledge,
        "ranbp2-testing",
        [
            f"Recurrent or familial ANE: {why}.",
            "RANBP2 variants underlie familial and recurrent ANE; 47% of children tested in S5 had "
            "genetic risk alleles. Recommend RANBP2 genetic testing and genetic counselling.",
        ],
    )


def tnf_card(order: MedicationOrder, knowledge: Knowledge) -> Advice:
    """tnf-antagonist: avoid in ANE; suggest deleting the draft order."""
    name = order.drug_text or knowledge.medications["tnf"].display
    suggestions: tuple[SuggestionDraft, ...] = ()
    if order.id:
        suggestions = (
            SuggestionDraft(
                label=f"Remove the {name} order",
                actions=(
                    ActionDraft(
                        "delete",
                        f"Delete the draft order for {name}",
                        resource_id=f"MedicationRequest/{order.id}",
                    ),
                ),
                key=f"delete-{order.id}",
            ),
        )
    return advice(
        knowledge,
        "tnf-antagonist",
        [
            f"Order: {name}.",
            "The treatment ladder for ANE (S2) advises avoiding TNF antagonists.",
        ],
        subject=order.ref,
        suggestions=suggestions,
        drug=knowledge.medications["tnf"].display,
    )
