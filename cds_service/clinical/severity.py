"""ANE severity score, ANE-SS (ane-rules.md section 7; Yamamoto 2015, S3): prognostic only."""

from __future__ import annotations

from dataclasses import dataclass

from cds_service.clinical.advice import Advice, advice, fmt
from cds_service.clinical.episode import Episode, in_window
from cds_service.clinical.facts import PatientFacts
from cds_service.clinical.knowledge import Knowledge


@dataclass(frozen=True)
class Item:
    """One score item: points if present, whether present (None: unknown), and why."""

    name: str
    points: int
    present: bool | None
    evidence: str


@dataclass(frozen=True)
class SeverityScore:
    """The score with unknown items counted as 0 (min) and as present (max)."""

    items: tuple[Item, ...]
    min_score: int
    max_score: int
    band: str

    @property
    def complete(self) -> bool:
        """Whether every item is known."""
        return all(item.present is not None for item in self.items)


def _shock(facts: PatientFacts, episode: Episode) -> Item:
    conditions = [
        c
        for c in facts.conditions
        if "shock" in c.groups and c.counts and (c.onset is None or episode.in_window(c.onset))
    ]
    vasoactive = [
        m
        for m in facts.medications
        if m.drug == "vasoactive"
        and m.status == "active"
        and (m.authored is None or episode.in_window(m.authored))
    ]
    if conditions:
        return Item("shock", 0, True, "shock Condition in the presentation window")
    if vasoactive:
        return Item("shock", 0, True, "active vasoactive drug order")
    return Item("shock", 0, False, "no shock Condition or vasoactive order found (searched)")


def _brainstem(facts: PatientFacts, episode: Episode) -> tuple[bool | None, str]:
    """Present when imaging in the window shows it; unknown when only undated findings exist."""
    findings = [f for f in facts.findings if f.name == "brainstem_lesion"]
    if any(f.present and episode.in_window(f.at) for f in findings):
        return True, "brainstem lesion on imaging"
    if any(f.present and f.at is None for f in findings):
        return None, "brainstem lesion recorded without a date"
    return False, "no brainstem lesion recorded in the presentation window (searched)"


def score_severity(facts: PatientFacts, episode: Episode, knowledge: Knowledge) -> SeverityScore:
    """Score the five ANE-SS items over the presentation window."""
    rules = knowledge.severity
    shock = _shock(facts, episode)
    age_months = knowledge.scope.severity_age_months
    platelets = in_window(facts.values("platelets"), episode)
    protein = in_window(facts.values("csf_protein"), episode)
    lowest = min(platelets, key=lambda v: v.value) if platelets else None
    highest = max(protein, key=lambda v: v.value) if protein else None
    items = (
        Item("shock", rules.shock_points, shock.present, shock.evidence),
        Item(
            "brainstem lesion",
            rules.brainstem_points,
            *_brainstem(facts, episode),
        ),
        Item(
            f"age > {age_months} months",
            rules.age_points,
            None if episode.age is None else episode.age.months > age_months,
            "birth date unknown" if episode.age is None else f"{episode.age.months} months",
        ),
        Item(
            f"lowest platelets < {fmt(rules.platelets_below)} x10^3/uL",
            rules.platelets_points,
            None if lowest is None else lowest.value < rules.platelets_below,
            "no value in the presentation window"
            if lowest is None
            else f"{fmt(lowest.value)} x10^3/uL",
        ),
        Item(
            f"highest CSF protein > {fmt(rules.csf_protein_above)} mg/dL",
            rules.csf_protein_points,
            None if highest is None else highest.value > rules.csf_protein_above,
            "no value in the presentation window"
            if highest is None
            else f"{fmt(highest.value)} mg/dL",
        ),
    )
    min_score = sum(i.points for i in items if i.present)
    max_score = min_score + sum(i.points for i in items if i.present is None)
    return SeverityScore(items, min_score, max_score, rules.band_of(min_score))


def severity_card(score: SeverityScore, knowledge: Knowledge) -> Advice:
    """The severity-score card with its machine-readable extension."""
    text = knowledge.card("severity-score")
    high = score.band == knowledge.severity.bands[-1].name
    rows = ["| item | points | finding |", "|---|---|---|"]
    for item in score.items:
        state = {True: f"{item.points}", False: "0", None: "unknown"}[item.present]
        rows.append(f"| {item.name} | {state} | {item.evidence} |")
    lines = [
        f"Score **{'at least ' if not score.complete else ''}{score.min_score}** of "
        f"{knowledge.severity.max_points}: band **{score.band}** "
        "(low 0-1, medium 2-4, high 5-9).",
        "",
        *rows,
    ]
    if not score.complete:
        lines += [
            "",
            f"Unknown items: the score lies between {score.min_score} and "
            f"{score.max_score}; the band is that of the lowest possible score.",
        ]
    lines += ["", "The score is prognostic: it does not by itself decide treatment."]
    return advice(
        knowledge,
        "severity-score",
        lines,
        indicator=text.indicator_high if high and text.indicator_high else text.indicator,
        extension={
            "ane-cds.severity": {
                "score": score.min_score,
                "minScore": score.min_score,
                "maxScore": score.max_score,
                "band": score.band,
                "complete": score.complete,
            }
        },
        at_least="at least " if not score.complete else "",
        score=score.min_score,
        band=score.band,
        range="" if score.complete else f" (up to {score.max_score} with missing items)",
    )
