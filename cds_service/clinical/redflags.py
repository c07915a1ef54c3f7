"""Red flags (ane-rules.md section 6): features atypical for ANE; each suppresses recommendations."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from cds_service.clinical.advice import Advice, advice, fmt
from cds_service.clinical.episode import Episode, in_window
from cds_service.clinical.facts import LabValue, PatientFacts
from cds_service.clinical.knowledge import Knowledge


@dataclass(frozen=True)
class RedFlags:
    """Which red flags are raised, with the values that raised them."""

    pleocytosis: LabValue | None
    hyperammonemia: tuple[LabValue, Decimal] | None
    bacterial: tuple[str, ...]
    csf_known: bool
    ammonia_known: bool

    @property
    def any(self) -> bool:
        """Whether any red flag is raised."""
        return bool(self.pleocytosis or self.hyperammonemia or self.bacterial)


def serious_bacterial_infection(
    facts: PatientFacts, episode: Episode, knowledge: Knowledge
) -> tuple[str, ...]:
    """Why a serious bacterial infection is recorded (Condition, or positive culture this episode)."""
    reasons = [
        "a bacterial sepsis or bacterial meningitis Condition"
        for c in facts.conditions
        if "bacterial_infection" in c.groups and c.counts
    ][:1]
    if any(c.positive and episode.in_episode(c.at) for c in facts.cultures):
        reasons.append("a positive blood or CSF culture in this episode")
    return tuple(reasons)


def find_red_flags(facts: PatientFacts, episode: Episode, knowledge: Knowledge) -> RedFlags:
    """Evaluate the three red flags over the presentation window."""
    csf = in_window(facts.values("csf_leukocytes"), episode)
    threshold = knowledge.criteria.pleocytosis_at_or_above
    highest_csf = max(csf, key=lambda v: v.value) if csf else None
    ammonia = in_window(facts.values("ammonia"), episode)
    default_high = knowledge.lab("ammonia").uln_default or Decimal(0)
    raised = [
        (v, v.ref_high or default_high) for v in ammonia if v.value > (v.ref_high or default_high)
    ]
    return RedFlags(
        pleocytosis=highest_csf if highest_csf and highest_csf.value >= threshold else None,
        hyperammonemia=max(raised, key=lambda pair: pair[0].value) if raised else None,
        bacterial=serious_bacterial_infection(facts, episode, knowledge),
        csf_known=bool(csf),
        ammonia_known=bool(ammonia),
    )


def red_flag_cards(flags: RedFlags, knowledge: Knowledge) -> list[Advice]:
    """One warning card per raised red flag."""
    cards: list[Advice] = []
    if flags.pleocytosis:
        value = fmt(flags.pleocytosis.value)
        cards.append(
            advice(
                knowledge,
                "atypical-csf-pleocytosis",
                [
                    f"CSF leukocytes {value} /uL in the presentation window (pleocytosis from "
                    f"{fmt(knowledge.criteria.pleocytosis_at_or_above)} /uL).",
                    "ANE typically has no CSF pleocytosis: consider infectious or autoimmune encephalitis.",
                    "Methylprednisolone and tocilizumab recommendations are withheld while this is open.",
                ],
                value=value,
            )
        )
    if flags.hyperammonemia:
        lab, high = flags.hyperammonemia
        value = fmt(lab.value)
        cards.append(
            advice(
                knowledge,
                "atypical-hyperammonemia",
                [
                    f"Highest ammonia in the presentation window: {value} umol/L (limit {fmt(high)} umol/L).",
                    "Consider Reye syndrome or an inborn error of metabolism.",
                    "Methylprednisolone and tocilizumab recommendations are withheld while this is open.",
                ],
                value=value,
            )
        )
    if flags.bacterial:
        cards.append(
            advice(
                knowledge,
                "atypical-bacterial-infection",
                [
                    f"Recorded: {'; '.join(flags.bacterial)}.",
                    "Overwhelming bacterial infection is an exclusion criterion for ANE.",
                    "Methylprednisolone and tocilizumab recommendations are withheld while this is open.",
                ],
            )
        )
    return cards
