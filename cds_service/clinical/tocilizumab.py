"""Tocilizumab (ane-rules.md section 9): recommendation by severity band, safety rows, order checks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from cds_service.clinical.advice import ActionDraft, Advice, SuggestionDraft, advice, fmt, round_mg
from cds_service.clinical.dosing import Unreadable, read_dose
from cds_service.clinical.episode import Episode, orders_in_episode, recent
from cds_service.clinical.facts import MedicationOrder, PatientFacts
from cds_service.clinical.knowledge import Indicator, Knowledge
from cds_service.clinical.orders import (
    frequency_text,
    new_order,
    unreadable_card,
    updated_order,
    why_no_update,
)
from cds_service.clinical.redflags import serious_bacterial_infection
from cds_service.clinical.severity import SeverityScore

SEVERITY_RANK: dict[Indicator, int] = {"info": 0, "warning": 1, "critical": 2}


@dataclass(frozen=True)
class SafetyFinding:
    """One matched row of the section 9 table: its card, or (info) a line for the detail."""

    topic: str
    indicator: Indicator
    lines: tuple[str, ...]
    summary_values: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Safety:
    """Matched safety rows (most severe per topic) and milder findings for the detail."""

    findings: tuple[SafetyFinding, ...]
    milder: tuple[str, ...]

    @property
    def critical(self) -> bool:
        """Whether any finding is critical."""
        return any(f.indicator == "critical" for f in self.findings)


def tcz_dose_mg(weight_kg: Decimal, knowledge: Knowledge) -> int:
    """Dose per infusion: 12 mg/kg under 30 kg, 8 mg/kg from 30 kg, at most 800 mg, to 1 mg."""
    tcz = knowledge.tcz
    per_kg = (
        tcz.mg_per_kg_below if weight_kg < tcz.weight_threshold_kg else tcz.mg_per_kg_at_or_above
    )
    return round_mg(min(per_kg * weight_kg, tcz.max_mg))


def _dose_lines(weight_kg: Decimal, knowledge: Knowledge) -> list[str]:
    tcz = knowledge.tcz
    target = tcz_dose_mg(weight_kg, knowledge)
    per_kg = (
        tcz.mg_per_kg_below if weight_kg < tcz.weight_threshold_kg else tcz.mg_per_kg_at_or_above
    )
    lines = [
        f"Dose: {fmt(per_kg)} mg/kg x {fmt(weight_kg)} kg = **{fmt(target)} mg** IV over "
        f"{tcz.infusion_minutes} minutes (at most {fmt(tcz.max_mg)} mg)."
    ]
    if abs(weight_kg - tcz.weight_threshold_kg) <= tcz.weight_explain_within_kg:
        below = tcz.weight_threshold_kg - Decimal("0.1")
        lines.append(
            f"Near {fmt(tcz.weight_threshold_kg)} kg the dose drops: {fmt(tcz.mg_per_kg_below)} mg/kg "
            f"below {fmt(tcz.weight_threshold_kg)} kg, {fmt(tcz.mg_per_kg_at_or_above)} mg/kg from it "
            f"({fmt(below)} kg: {fmt(tcz_dose_mg(below, knowledge))} mg; "
            f"{fmt(tcz.weight_threshold_kg)} kg: "
            f"{fmt(tcz_dose_mg(tcz.weight_threshold_kg, knowledge))} mg). Check the weight."
        )
    return lines


def tcz_orders_in_episode(
    facts: PatientFacts, episode: Episode, knowledge: Knowledge, statuses: frozenset[str]
) -> list[MedicationOrder]:
    """TCZ MedicationRequests with these statuses in this episode."""
    return orders_in_episode(facts, episode, "tcz", statuses)


# ---------------------------------------------------------------- safety rows


def _finding(topic: str, indicator: Indicator, line: str, **values: str) -> SafetyFinding:
    return SafetyFinding(topic, indicator, (line,), tuple(values.items()))


def _infection(facts: PatientFacts, episode: Episode, knowledge: Knowledge) -> list[SafetyFinding]:
    found: list[SafetyFinding] = []
    bacterial = serious_bacterial_infection(facts, episode, knowledge)
    if bacterial:
        text = "Serious bacterial infection: do not give tocilizumab."
        found.append(
            _finding(
                "tcz-infection", "critical", f"Recorded: {'; '.join(bacterial)}. {text}", text=text
            )
        )
    groups = {g for c in facts.conditions if c.counts for g in c.groups}
    if "fungal_or_tb" in groups:
        text = "Invasive fungal infection or tuberculosis: do not give tocilizumab."
        found.append(_finding("tcz-infection", "critical", text, text=text))
    if "sepsis_no_organism" in groups:
        text = "Sepsis recorded: verify that no bacterial infection is active before tocilizumab."
        found.append(_finding("tcz-infection", "warning", text, text=text))
    return found


@dataclass(frozen=True)
class _Count:
    """A blood count checked before tocilizumab: critical below a limit, milder up to another."""

    fact: str
    topic: str
    name: str  # as in "Recent ANC ..." / "Recent platelets ..."
    milder_name: str  # as in "ANC ..." / "Platelets ..."
    missing: str  # as in "No recent neutrophil count"
    places: int
    critical_below: Decimal
    mild_at_or_below: Decimal


def _counts(knowledge: Knowledge) -> tuple[_Count, ...]:
    tcz = knowledge.tcz
    return (
        _Count(
            "neutrophils",
            "tcz-neutropenia",
            "ANC",
            "ANC",
            "neutrophil count",
            2,
            tcz.anc_critical_below,
            tcz.anc_mild_at_or_below,
        ),
        _Count(
            "platelets",
            "tcz-thrombocytopenia",
            "platelets",
            "Platelets",
            "platelet count",
            1,
            tcz.platelets_critical_below,
            tcz.platelets_mild_at_or_below,
        ),
    )


def _count_finding(
    count: _Count, facts: PatientFacts, episode: Episode, knowledge: Knowledge
) -> SafetyFinding | str | None:
    """The critical finding, the milder line, or None for one blood count."""
    critical, mild = count.critical_below, count.mild_at_or_below
    value = recent(facts.values(count.fact), episode, knowledge)
    if value is None:
        return f"No recent {count.missing} (last {knowledge.windows.recent_lab_hours} h)."
    shown = fmt(value.value, count.places)
    if value.value < critical:
        return _finding(
            count.topic,
            "critical",
            f"Recent {count.name} {shown} x10^3/uL (below {fmt(critical)}).",
            value=shown,
            limit=fmt(critical),
        )
    if value.value <= mild:
        return f"{count.milder_name} {shown} x10^3/uL ({fmt(critical)}-{fmt(mild)}): monitor."
    return None


def _labs(
    facts: PatientFacts, episode: Episode, knowledge: Knowledge
) -> tuple[list[SafetyFinding], list[str]]:
    found: list[SafetyFinding] = []
    milder: list[str] = []
    for count in _counts(knowledge):
        result = _count_finding(count, facts, episode, knowledge)
        if isinstance(result, SafetyFinding):
            found.append(result)
        elif result is not None:
            milder.append(result)
    liver, liver_notes = _liver(facts, episode, knowledge)
    return found + liver, milder + liver_notes


def _liver(
    facts: PatientFacts, episode: Episode, knowledge: Knowledge
) -> tuple[list[SafetyFinding], list[str]]:
    tcz = knowledge.tcz
    found: list[SafetyFinding] = []
    milder: list[str] = []
    seen = False
    for fact in ("alt", "ast"):
        value = recent(facts.values(fact), episode, knowledge)
        if value is None:
            continue
        seen = True
        lab = knowledge.lab(fact)
        limit = value.ref_high or lab.uln_default or Decimal(1)
        ratio = value.value / limit
        described = f"{lab.display} {fmt(value.value)} U/L = {fmt(ratio)} x ULN ({fmt(limit)} U/L)"
        if ratio > tcz.liver_critical_above_uln:
            found.append(
                _finding(
                    "tcz-liver",
                    "critical",
                    f"{described}: do not give tocilizumab.",
                    enzyme=lab.display,
                    ratio=fmt(ratio),
                    text="tocilizumab is not advised.",
                )
            )
        elif ratio > tcz.liver_warning_above_uln:
            found.append(
                _finding(
                    "tcz-liver",
                    "warning",
                    f"{described}: weigh the risk.",
                    enzyme=lab.display,
                    ratio=fmt(ratio),
                    text="weigh the liver risk of tocilizumab.",
                )
            )
        elif ratio >= tcz.liver_mild_at_or_above_uln:
            milder.append(f"{described}: monitor liver enzymes.")
    if not seen:
        milder.append(f"No recent ALT or AST (last {knowledge.windows.recent_lab_hours} h).")
    return found, milder


def _repeat(
    facts: PatientFacts, episode: Episode, knowledge: Knowledge, order_id: str | None
) -> list[SafetyFinding]:
    windows = knowledge.windows
    doses = [
        o
        for o in tcz_orders_in_episode(
            facts, episode, knowledge, knowledge.statuses.dose_time_order
        )
        if o.id != order_id or order_id is None
    ]
    since = episode.now - timedelta(hours=windows.tcz_repeat_min_hours)
    if any(o.authored and since < o.authored <= episode.now for o in doses):
        text = f"A tocilizumab dose was given less than {windows.tcz_repeat_min_hours} h ago."
        return [_finding("tcz-repeat", "warning", text, text=text)]
    if len(doses) >= windows.tcz_max_doses:
        text = f"{len(doses)} tocilizumab doses already in this episode (at most {windows.tcz_max_doses})."
        return [_finding("tcz-repeat", "warning", text, text=text)]
    return []


def _age(episode: Episode, knowledge: Knowledge) -> tuple[list[SafetyFinding], list[str]]:
    if episode.age is None:
        return [], [
            "Age unknown (no birth date): the labelled age (from 2 years) cannot be checked."
        ]
    if episode.age.months < knowledge.scope.tcz_min_age_months:
        months = str(episode.age.months)
        return [
            _finding(
                "tcz-age",
                "info",
                f"Age {months} months: outside the labelled age (from "
                f"{knowledge.scope.tcz_min_age_months} months).",
                months=months,
            )
        ], []
    return [], []


def tcz_safety(
    facts: PatientFacts, episode: Episode, knowledge: Knowledge, order_id: str | None = None
) -> Safety:
    """Rows tcz-infection to tcz-age; the most severe per topic, and milder findings."""
    lab_findings, milder = _labs(facts, episode, knowledge)
    age_findings, age_notes = _age(episode, knowledge)
    rows = [*_infection(facts, episode, knowledge), *lab_findings]
    if facts.tcz_allergy:
        rows.append(
            _finding(
                "tcz-hypersensitivity",
                "critical",
                "A tocilizumab allergy or intolerance is recorded.",
            )
        )
    if any("gi_perforation" in c.groups and c.counts for c in facts.conditions):
        rows.append(
            _finding(
                "tcz-gi-perforation",
                "warning",
                "GI perforation, GI haemorrhage or diverticulitis is recorded.",
            )
        )
    rows += _repeat(facts, episode, knowledge, order_id) + age_findings
    strongest: dict[str, SafetyFinding] = {}
    for row in rows:
        held = strongest.get(row.topic)
        if held is None or SEVERITY_RANK[row.indicator] > SEVERITY_RANK[held.indicator]:
            strongest[row.topic] = row
    return Safety(tuple(strongest.values()), tuple(milder + age_notes))


def safety_cards(
    safety: Safety, knowledge: Knowledge, subject: str, *, with_info: bool, milder: tuple[str, ...]
) -> list[Advice]:
    """Cards of the safety findings (info ones only when `with_info`); milder lines go in each."""
    return [
        advice(
            knowledge,
            f.topic,
            [*f.lines, *_milder_lines(milder)],
            indicator=f.indicator,
            subject=subject,
            fields=dict(f.summary_values),
        )
        for f in safety.findings
        if with_info or f.indicator != "info"
    ]


def _milder_lines(milder: tuple[str, ...]) -> list[str]:
    return [f"- {line}" for line in milder]


# ---------------------------------------------------------------- recommendation (patient-view)


def tcz_recommendation(
    facts: PatientFacts, episode: Episode, score: SeverityScore, knowledge: Knowledge
) -> list[Advice]:
    """tcz-recommendation by band with its safety cards; nothing when not due."""
    weight = episode.weight.value
    band = score.band
    bands = [b.name for b in knowledge.severity.bands]
    if weight is None or band == bands[0]:
        return []
    if tcz_orders_in_episode(facts, episode, knowledge, knowledge.statuses.episode_order):
        return []
    safety = tcz_safety(facts, episode, knowledge)
    info = tuple(line for f in safety.findings if f.indicator == "info" for line in f.lines)
    notes = info + safety.milder
    if safety.critical:
        return safety_cards(safety, knowledge, "", with_info=False, milder=safety.milder)
    cards = safety_cards(safety, knowledge, "", with_info=False, milder=())
    high = band == bands[-1]
    target = tcz_dose_mg(weight.value, knowledge)
    text = (
        f"Tocilizumab {fmt(target)} mg IV once, infused over "
        f"{knowledge.tcz.infusion_minutes} minutes"
    )
    resource = new_order(
        knowledge,
        drug="tcz",
        patient_id=facts.patient_id,
        dose_mg=target,
        text=text,
        repeat={"count": 1},
    )
    lines = [
        f"Severity band **{band}** (score {'at least ' if not score.complete else ''}"
        f"{score.min_score}): {'recommend' if high else 'consider'} tocilizumab with "
        "methylprednisolone.",
        *_dose_lines(weight.value, knowledge),
        _window_line(episode, knowledge),
        *(["Also consider:", *_milder_lines(notes)] if notes else []),
        "Evidence is of very low certainty (S1: no tocilizumab-related adverse events in 23 "
        "children; S6: start within 24 h associated with good outcome).",
    ]
    suggestion = SuggestionDraft(
        label=f"Order tocilizumab {fmt(target)} mg IV once",
        actions=(ActionDraft("create", f"Create a draft order: {text}", resource),),
        key="create-tcz",
    )
    card = advice(
        knowledge,
        "tcz-recommendation",
        lines,
        suggestions=(suggestion,),
        indicator="warning" if high else "info",
        verb="Recommend" if high else "Consider",
        dose_mg=fmt(target),
        band=band,
    )
    return [*cards, card]


def _window_line(episode: Episode, knowledge: Knowledge) -> str:
    hours = episode.hours_since_onset()
    window = knowledge.windows.tcz_window_hours
    if hours is None:
        return "Onset unknown: the 24-h window cannot be assessed."
    left = window - hours
    if left > 0:
        return f"{fmt(Decimal(hours))} h since onset: {fmt(Decimal(left))} h left in the {window}-h window."
    return (
        f"{fmt(Decimal(hours))} h since onset: past the {window}-h window (not a contraindication)."
    )


# ---------------------------------------------------------------- order checks


def check_tcz_order(
    order: MedicationOrder, episode: Episode, facts: PatientFacts, knowledge: Knowledge
) -> list[Advice]:
    """Every matching row of the section 9 table for one checked TCZ order."""
    subject = order.ref
    safety = tcz_safety(facts, episode, knowledge, order.id)
    cards: list[Advice] = []
    dose = _dose_card(order, episode, knowledge, safety.milder)
    cards += [dose] if dose else []
    window = _window_card(order, episode, knowledge, safety.milder)
    cards += [window] if window else []
    return cards + safety_cards(safety, knowledge, subject, with_info=True, milder=safety.milder)


def _dose_card(
    order: MedicationOrder, episode: Episode, knowledge: Knowledge, milder: tuple[str, ...]
) -> Advice | None:
    weight = episode.weight.value
    reading = read_dose(order, weight.value if weight else None, knowledge)
    if isinstance(reading, Unreadable):
        return unreadable_card(order, reading, knowledge)
    ordered = reading.mg_per_dose
    if ordered is None:
        return None
    tcz = knowledge.tcz
    if weight is None:
        if ordered <= tcz.max_mg:
            return None
        target = round_mg(tcz.max_mg)
        lines = ["No usable body weight: only the 800 mg cap can be checked."]
    else:
        target = tcz_dose_mg(weight.value, knowledge)
        off = abs(ordered - target) > tcz.dose_tolerance_ratio * target
        if not off and ordered <= tcz.max_mg:
            return None
        lines = _dose_lines(weight.value, knowledge)
    text = (
        f"Tocilizumab {fmt(target)} mg IV {frequency_text(reading.doses_per_day)}, infused "
        f"over {tcz.infusion_minutes} minutes"
    )
    resource = updated_order(order, target, text, knowledge)
    suggestions: tuple[SuggestionDraft, ...] = ()
    if resource is None:
        lines.append(f"Change the dose by hand: {why_no_update(order)}")
    else:
        suggestions = (
            SuggestionDraft(
                label=f"Change to {fmt(target)} mg",
                actions=(ActionDraft("update", f"Update the draft order: {text}", resource),),
                key=f"update-{order.id}",
            ),
        )
    lines = [f"Ordered: **{fmt(ordered)} mg** per dose.", *lines, *_milder_lines(milder)]
    return advice(
        knowledge,
        "tcz-dose",
        lines,
        subject=order.ref,
        suggestions=suggestions,
        ordered_mg=fmt(ordered),
        target_mg=fmt(target),
    )


def _window_card(
    order: MedicationOrder, episode: Episode, knowledge: Knowledge, milder: tuple[str, ...]
) -> Advice | None:
    hours = episode.hours_since_onset()
    window = knowledge.windows.tcz_window_hours
    if hours is None:
        text = (
            "Onset unknown: tocilizumab timing (ideally within 24 h of onset) cannot be assessed."
        )
        indicator: Indicator = "info"
    elif hours > window:
        text = (
            f"Tocilizumab {fmt(Decimal(hours))} h after onset: later than the {window} h "
            "associated with good outcome (not a contraindication)."
        )
        indicator = "warning"
    else:
        return None
    return advice(
        knowledge,
        "tcz-window",
        [text, *_milder_lines(milder)],
        indicator=indicator,
        subject=order.ref,
        text=text,
    )
