"""Methylprednisolone (ane-rules.md section 8): recommendation, dose rows, duration, weight."""

from __future__ import annotations

from decimal import Decimal

from cds_service.clinical.advice import ActionDraft, Advice, SuggestionDraft, advice, fmt, round_mg
from cds_service.clinical.dosing import DoseReading, Unreadable, course_days, read_dose
from cds_service.clinical.episode import Episode, orders_in_episode
from cds_service.clinical.facts import MedicationOrder, PatientFacts
from cds_service.clinical.knowledge import Knowledge
from cds_service.clinical.orders import (
    frequency_text,
    new_order,
    unreadable_card,
    updated_order,
    why_no_update,
)


def mp_target_mg(weight_kg: Decimal, knowledge: Knowledge) -> int:
    """Target daily dose: min(30 mg/kg x weight, 1,000 mg), rounded to 1 mg."""
    return round_mg(min(knowledge.mp.mg_per_kg_day * weight_kg, knowledge.mp.max_mg_day))


def per_dose_mg(daily_mg: int, per_day: Decimal | None, knowledge: Knowledge) -> int:
    """Dose per administration for a daily total, rounded to 1 mg; never over the daily cap."""
    if not per_day:
        return daily_mg
    dose = round_mg(daily_mg / per_day)
    if dose * per_day > knowledge.mp.max_mg_day:
        dose = int(knowledge.mp.max_mg_day / per_day)  # round down: the cap wins over rounding
    return dose


def mp_orders_in_episode(
    facts: PatientFacts, episode: Episode, knowledge: Knowledge
) -> list[MedicationOrder]:
    """MP MedicationRequests (active, completed, on-hold) of this episode."""
    return orders_in_episode(facts, episode, "mp", knowledge.statuses.episode_order)


def _dosage_text(per_dose: int, per_day: Decimal | None, daily: int, knowledge: Knowledge) -> str:
    return (
        f"Methylprednisolone {fmt(per_dose)} mg IV {frequency_text(per_day)} "
        f"({fmt(daily)} mg/day), each dose infused over at least "
        f"{knowledge.mp.infusion_min_minutes} minutes"
    )


def _weight_line(episode: Episode) -> str:
    weight = episode.weight.value
    if weight is None:
        return "No usable body weight."
    when = weight.at.date().isoformat() if weight.at else "date unknown"
    line = f"Weight {fmt(weight.value)} kg ({when})."
    for skipped in episode.weight.skipped:
        line += (
            f" Skipped a newer weight of {skipped.value_text} {skipped.unit} "
            f"({'unit not recognised' if skipped.reason == 'unit' else 'implausible'})."
        )
    return line


def _s1_lines(knowledge: Knowledge) -> list[str]:
    s1 = knowledge.evidence.s1
    return [
        f"S1 (30 vs 20 mg/kg/day, with tocilizumab): {s1.sequelae_discharge}; {s1.mortality}.",
        f"Certainty: {knowledge.sources['S1'].certainty}.",
    ]


def mp_recommendation(facts: PatientFacts, episode: Episode, knowledge: Knowledge) -> Advice | None:
    """mp-recommendation when a weight is usable and no MP was ordered this episode."""
    weight = episode.weight.value
    if weight is None or mp_orders_in_episode(facts, episode, knowledge):
        return None
    mp = knowledge.mp
    target = mp_target_mg(weight.value, knowledge)
    hours = episode.hours_since_onset()
    timing = (
        "Onset unknown: start as early as possible."
        if hours is None
        else f"{fmt(Decimal(hours))} h since onset; start ideally within "
        f"{knowledge.windows.mp_window_hours} h of onset."
    )
    text = _dosage_text(target, Decimal(1), target, knowledge)
    repeat = {
        "frequency": 1,
        "period": 1,
        "periodUnit": "d",
        "boundsDuration": {
            "value": mp.min_days,
            "unit": "d",
            "system": knowledge.systems.ucum,
            "code": "d",
        },
    }
    resource = new_order(
        knowledge, drug="mp", patient_id=facts.patient_id, dose_mg=target, text=text, repeat=repeat
    )
    capped = " (capped at 1,000 mg/day)" if mp.mg_per_kg_day * weight.value > mp.max_mg_day else ""
    lines = [
        _weight_line(episode),
        f"Target: {fmt(mp.mg_per_kg_day)} mg/kg/day x {fmt(weight.value)} kg = "
        f"**{fmt(target)} mg/day**{capped}, IV once daily for {mp.min_days}-{mp.max_days} days, "
        f"each dose over at least {mp.infusion_min_minutes} minutes, then a taper over "
        f"{mp.taper_weeks} weeks.",
        timing,
        f"IVIG {fmt(mp.ivig_g_per_kg)} g/kg over {mp.ivig_days} days may be added as an adjunct "
        "(S2; no added benefit over early MP in S9).",
        "1 g/day is a cap, never the dose for a child.",
        *_s1_lines(knowledge),
    ]
    suggestion = SuggestionDraft(
        label=f"Order methylprednisolone {fmt(target)} mg IV once daily for {mp.min_days} days",
        actions=(ActionDraft("create", f"Create a draft order: {text}", resource),),
        key="create-mp",
    )
    return advice(
        knowledge, "mp-recommendation", lines, suggestions=(suggestion,), dose_mg=fmt(target)
    )


def mp_dose_topic(ordered_mg: Decimal, target_mg: int, knowledge: Knowledge) -> str | None:
    """The first dose row that matches the ordered daily dose (None: within 0.90-1.10 x target)."""
    mp = knowledge.mp
    if ordered_mg > mp.max_mg_day:
        return "mp-dose-above-max"
    if ordered_mg > mp.above_target_ratio * target_mg:
        return "mp-dose-above-target"
    if ordered_mg >= mp.below_target_ratio * target_mg:
        return None
    if ordered_mg * mp.low_ratio_denominator >= mp.low_ratio_numerator * target_mg:
        return "mp-dose-below-target"
    return "mp-dose-low"


def check_mp_order(order: MedicationOrder, episode: Episode, knowledge: Knowledge) -> list[Advice]:
    """Dose-row, duration and dose-unreadable cards for one checked MP order."""
    weight = episode.weight.value
    reading = read_dose(order, weight.value if weight else None, knowledge)
    if isinstance(reading, Unreadable):
        return [unreadable_card(order, reading, knowledge)]
    cards = [c for c in [_dose_card(order, reading, episode, knowledge)] if c]
    duration = _duration_card(order, reading, knowledge)
    return cards + ([duration] if duration else [])


def _dose_card(
    order: MedicationOrder, reading: DoseReading, episode: Episode, knowledge: Knowledge
) -> Advice | None:
    weight = episode.weight.value
    ordered = reading.mg_per_day
    if ordered is None:
        return None  # mg/kg without a usable weight: weight-missing covers it
    pulse = order.route_iv is not False  # a stated non-IV route is a taper, not the pulse
    if weight is None or not pulse:
        if ordered <= knowledge.mp.max_mg_day:
            return None
        cap = round_mg(knowledge.mp.max_mg_day)
        topic, target = (
            "mp-dose-above-max",
            mp_target_mg(weight.value, knowledge) if (weight and pulse) else cap,
        )
    else:
        target = mp_target_mg(weight.value, knowledge)
        found = mp_dose_topic(ordered, target, knowledge)
        if found is None:
            return None
        topic = found
    per_day = reading.doses_per_day
    per_dose = per_dose_mg(target, per_day, knowledge)
    daily = round_mg(per_dose * per_day) if per_day else per_dose
    text = _dosage_text(per_dose, per_day, daily, knowledge)
    lines = [
        _weight_line(episode),
        f"Ordered: **{fmt(ordered)} mg/day**"
        + (f" ({fmt(reading.mg_per_kg_per_day)} mg/kg/day)" if reading.mg_per_kg_per_day else "")
        + ".",
        *[f"Note: {note}." for note in reading.notes],
    ]
    if weight is None:
        lines.append("Without a usable weight only the 1,000 mg/day cap can be checked.")
    elif not pulse:
        lines.append("The route is not IV: only the 1,000 mg/day cap of the pulse is checked.")
    else:
        lines.append(
            f"Target: 30 mg/kg/day x {fmt(weight.value)} kg, capped at 1,000 mg/day = "
            f"**{fmt(target)} mg/day**."
        )
    if topic == "mp-dose-below-target":
        lines += _s1_lines(knowledge)
    suggestions: tuple[SuggestionDraft, ...] = ()
    resource = (
        None
        if per_day is not None and per_day < 1
        else (updated_order(order, per_dose, text, knowledge))
    )
    if resource is None:
        lines.append(
            f"Change the dose by hand to {fmt(target)} mg/day: " + _why_manual(order, per_day)
        )
    else:
        suggestions = (
            SuggestionDraft(
                label=f"Change to {fmt(per_dose)} mg {frequency_text(per_day)} "
                f"({fmt(daily)} mg/day)",
                actions=(ActionDraft("update", f"Update the draft order: {text}", resource),),
                key=f"update-{order.id}",
            ),
        )
    return advice(
        knowledge,
        topic,
        lines,
        subject=order.ref,
        suggestions=suggestions,
        ordered_mg=fmt(ordered),
        target_mg=fmt(target),
    )


def _why_manual(order: MedicationOrder, per_day: Decimal | None) -> str:
    """Why no update suggestion can be made for this order."""
    if per_day is not None and per_day < 1:
        return (
            "the order is given less than once a day, and one dose must not exceed a day's target."
        )
    return why_no_update(order) or ""


def _duration_card(
    order: MedicationOrder, reading: DoseReading, knowledge: Knowledge
) -> Advice | None:
    mp = knowledge.mp
    days = course_days(order, knowledge)
    if days is None or days <= mp.duration_max_days:
        return None
    per_kg, per_day = reading.mg_per_kg_per_day, reading.mg_per_day
    high = (per_kg is not None and per_kg >= mp.duration_min_mg_per_kg_day) or (
        per_kg is None and per_day is not None and per_day >= mp.duration_min_mg_day_no_weight
    )
    if not high:
        return None
    return advice(
        knowledge,
        "mp-duration",
        [
            f"The order lasts {fmt(days)} days at a high dose (from "
            f"{fmt(mp.duration_min_mg_per_kg_day)} mg/kg/day).",
            f"Pulse therapy is {mp.min_days}-{mp.max_days} days; plan a taper over "
            f"{mp.taper_weeks} weeks.",
        ],
        subject=order.ref,
    )


def weight_cards(episode: Episode, knowledge: Knowledge) -> list[Advice]:
    """weight-missing or weight-stale, as the weight requires."""
    weight = episode.weight
    if weight.value is None:
        skipped = [
            f"{s.value_text} {s.unit} ({'unit not recognised' if s.reason == 'unit' else 'implausible'})"
            for s in weight.skipped
        ]
        lines = [
            "No plausible body weight (1-250 kg) is recorded: mg/kg doses cannot be checked.",
            "Record a body weight.",
        ]
        if skipped:
            lines.append(f"Skipped values: {'; '.join(skipped)}.")
        return [advice(knowledge, "weight-missing", lines)]
    if not weight.stale:
        return []
    at = weight.value.at
    age_text = "undated" if at is None else f"{(episode.now - at).days} days old"
    return [
        advice(
            knowledge,
            "weight-stale",
            [
                _weight_line(episode),
                f"Weights older than {knowledge.windows.weight_stale_days} days are still used, "
                "but a child's weight changes: confirm it before dosing.",
            ],
            age_text=age_text,
        )
    ]
