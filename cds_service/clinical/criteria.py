"""ANE diagnostic criteria checklist after Mizuguchi (ane-rules.md section 5; S4)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from cds_service.clinical.advice import Advice, advice, fmt
from cds_service.clinical.episode import Episode, in_window
from cds_service.clinical.facts import LabValue, PatientFacts
from cds_service.clinical.knowledge import Knowledge
from cds_service.clinical.redflags import RedFlags

STATE = {True: "present", False: "absent", None: "unknown"}


@dataclass(frozen=True)
class Criterion:
    """One checklist item: present (True), absent (False) or unknown (None), and why."""

    name: str
    present: bool | None
    evidence: str


def _febrile_trigger(facts: PatientFacts, episode: Episode, knowledge: Knowledge) -> Criterion:
    name = "encephalopathy after a febrile illness"
    encephalopathy = any(
        c.groups & {"ane", "encephalopathy"} and c.counts for c in facts.conditions
    )
    if episode.onset is not None:
        start = episode.onset - timedelta(days=knowledge.windows.trigger_before_onset_days)
        end = episode.onset
        where = f"in the {knowledge.windows.trigger_before_onset_days} days before onset"
    else:
        start, end = episode.episode_start, episode.now
        where = "in this episode (onset unknown)"
    trigger = any(
        "fever_trigger" in c.groups and c.counts and c.onset and start <= c.onset <= end
        for c in facts.conditions
    )
    if encephalopathy and trigger:
        return Criterion(name, True, f"fever or viral infection recorded {where}")
    if not encephalopathy:
        return Criterion(name, None, "no ANE or encephalopathy Condition recorded")
    return Criterion(name, None, f"no fever or viral infection recorded {where}")


def _csf(facts: PatientFacts, episode: Episode, flags: RedFlags, knowledge: Knowledge) -> Criterion:
    name = "CSF without pleocytosis"
    leukocytes = in_window(facts.values("csf_leukocytes"), episode)
    protein = in_window(facts.values("csf_protein"), episode)
    raised = knowledge.criteria.csf_protein_raised_above
    protein_text = "CSF protein: no value"
    if protein:
        top = max(protein, key=lambda v: v.value)
        verdict = "raised (supportive)" if top.value > raised else "not raised"
        protein_text = f"highest CSF protein {fmt(top.value)} mg/dL, {verdict}"
    if not leukocytes:
        return Criterion(name, None, f"no CSF leukocyte count; {protein_text}")
    top_cells = max(leukocytes, key=lambda v: v.value)
    return Criterion(
        name,
        flags.pleocytosis is None,
        f"highest CSF leukocytes {fmt(top_cells.value)} /uL; {protein_text}",
    )


def _thalamic(facts: PatientFacts, episode: Episode) -> Criterion:
    name = "bilateral thalamic lesions on imaging (required)"
    found = [
        f
        for f in facts.findings
        if f.name == "bilateral_thalamic_lesions" and episode.in_episode(f.at)
    ]
    if not found:
        undated = any(
            f.name == "bilateral_thalamic_lesions" and f.at is None for f in facts.findings
        )
        why = (
            "imaging finding recorded without a date"
            if undated
            else "no imaging finding recorded in this episode"
        )
        return Criterion(name, None, why)
    newest = max(found, key=lambda f: (f.at is not None, f.at))
    return Criterion(
        name,
        newest.present,
        "recorded on imaging"
        if newest.present
        else "imaging recorded without bilateral thalamic lesions",
    )


def uln_ratio(value: LabValue, default: Decimal | None) -> Decimal | None:
    """A value as a multiple of its upper limit of normal (the Observation's, else the default)."""
    limit = value.ref_high or default
    return value.value / limit if limit else None


def _ratio(values: list[LabValue], default: Decimal | None) -> tuple[Decimal, LabValue] | None:
    ratios = [(r, v) for v in values if (r := uln_ratio(v, default)) is not None]
    return max(ratios, key=lambda pair: pair[0]) if ratios else None


def _transaminases(
    facts: PatientFacts, episode: Episode, flags: RedFlags, knowledge: Knowledge
) -> Criterion:
    name = "transaminases raised without hyperammonaemia"
    parts: list[str] = []
    raised: bool | None = None
    for fact in ("alt", "ast"):
        found = _ratio(in_window(facts.values(fact), episode), knowledge.lab(fact).uln_default)
        if found:
            ratio, value = found
            parts.append(
                f"{knowledge.lab(fact).display} {fmt(value.value)} U/L ({fmt(ratio)} x ULN)"
            )
            raised = bool(raised) or ratio > 1
    if flags.hyperammonemia:
        return Criterion(name, False, "; ".join([*parts, "hyperammonaemia present"]))
    if raised is None:
        return Criterion(name, None, "no ALT or AST value in the presentation window")
    if not raised:
        return Criterion(name, False, "; ".join(parts))
    if not flags.ammonia_known:
        return Criterion(name, None, "; ".join([*parts, "no ammonia value"]))
    return Criterion(name, True, "; ".join([*parts, "ammonia not raised"]))


def _no_red_flag(flags: RedFlags) -> Criterion:
    name = "no red flag (pleocytosis, hyperammonaemia, bacterial infection)"
    if flags.any:
        return Criterion(name, False, "a red flag is raised (see its card)")
    if not (flags.csf_known and flags.ammonia_known):
        return Criterion(name, None, "none raised, but CSF leukocytes or ammonia not measured")
    return Criterion(name, True, "none raised")


def criteria_card(
    facts: PatientFacts, episode: Episode, flags: RedFlags, knowledge: Knowledge
) -> Advice:
    """The ane-criteria checklist card with its verdict."""
    items = [
        _febrile_trigger(facts, episode, knowledge),
        _csf(facts, episode, flags, knowledge),
        _thalamic(facts, episode),
        _transaminases(facts, episode, flags, knowledge),
        _no_red_flag(flags),
    ]
    unknown = [item.name for item in items if item.present is None]
    if flags.any:
        verdict = "atypical features"
    elif items[0].present and items[2].present:
        verdict = "criteria supported"
    else:
        verdict = "incomplete data"
    rows = ["| criterion | status | finding |", "|---|---|---|"]
    rows += [f"| {i.name} | {STATE[i.present]} | {i.evidence} |" for i in items]
    lines = [f"Verdict: **{verdict}**.", "", *rows]
    if unknown:
        lines += ["", f"Still unknown: {'; '.join(unknown)}."]
    return advice(knowledge, "ane-criteria", lines, verdict=verdict)
