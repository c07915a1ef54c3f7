"""Evaluate stage: which cards a hook gives for these facts at `now` (pure)."""

from __future__ import annotations

from datetime import datetime

from cds_service.clinical.advice import Advice, advice
from cds_service.clinical.criteria import criteria_card
from cds_service.clinical.episode import Episode, assess_episode
from cds_service.clinical.facts import MedicationOrder, PatientFacts
from cds_service.clinical.knowledge import Knowledge
from cds_service.clinical.methylprednisolone import (
    check_mp_order,
    mp_recommendation,
    weight_cards,
)
from cds_service.clinical.orders import checked_orders
from cds_service.clinical.redflags import find_red_flags, red_flag_cards
from cds_service.clinical.severity import score_severity, severity_card

ORDER_DRUGS = frozenset({"mp", "tcz", "tnf"})
DOSED_DRUGS = frozenset({"mp", "tcz"})
RED_FLAG_FACTS = ("csf_leukocytes", "ammonia")


def evaluate(hook: str, facts: PatientFacts, now: datetime, knowledge: Knowledge) -> list[Advice]:
    """The advice for one hook call. No ANE context: nothing, to avoid alert fatigue."""
    episode = assess_episode(facts, now, knowledge)
    if not episode.ane_context:
        return []
    if hook == "patient-view":
        return _patient_view(facts, episode, knowledge)
    return _order_checks(facts, episode, knowledge)


def _adult(episode: Episode, knowledge: Knowledge) -> bool:
    return episode.age is not None and episode.age.years >= knowledge.scope.adult_age_years


def _out_of_scope(episode: Episode, knowledge: Knowledge) -> Advice:
    years = episode.age.years if episode.age else 0
    return advice(
        knowledge,
        "out-of-scope",
        [
            f"Age {years} years. The ANE rules, doses and scores of this service are for children "
            f"(under {knowledge.scope.adult_age_years} years) and are not applied to adults.",
        ],
    )


def _patient_view(facts: PatientFacts, episode: Episode, knowledge: Knowledge) -> list[Advice]:
    if _adult(episode, knowledge):
        return [_out_of_scope(episode, knowledge)]
    flags = find_red_flags(facts, episode, knowledge)
    cards = red_flag_cards(flags, knowledge) + weight_cards(episode, knowledge)
    if not flags.any:
        recommendation = mp_recommendation(facts, episode, knowledge)
        cards += [recommendation] if recommendation else []
    cards.append(severity_card(score_severity(facts, episode, knowledge), knowledge))
    cards.append(criteria_card(facts, episode, flags, knowledge))
    return cards + unit_cards(facts, list(knowledge.labs), knowledge)


def _order_checks(facts: PatientFacts, episode: Episode, knowledge: Knowledge) -> list[Advice]:
    orders = [o for o in checked_orders(facts) if o.drug in ORDER_DRUGS]
    if not orders:
        return []
    if _adult(episode, knowledge):
        return [_out_of_scope(episode, knowledge)]
    cards: list[Advice] = []
    needed: list[str] = []
    if any(o.drug in DOSED_DRUGS for o in orders):
        flags = find_red_flags(facts, episode, knowledge)
        cards += red_flag_cards(flags, knowledge) + weight_cards(episode, knowledge)
        needed += ["weight", *RED_FLAG_FACTS]
    for order in orders:
        cards += _check_order(order, episode, knowledge)
    return cards + unit_cards(facts, needed, knowledge)


def _check_order(order: MedicationOrder, episode: Episode, knowledge: Knowledge) -> list[Advice]:
    if order.drug == "mp":
        return check_mp_order(order, episode, knowledge)
    return []


def unit_cards(facts: PatientFacts, needed: list[str], knowledge: Knowledge) -> list[Advice]:
    """unit-unrecognized: values of needed facts skipped for their unit (newer than the one used)."""
    skipped = []
    for value in facts.skipped:
        used = facts.values(value.fact)
        newer = not used or used[0].at is None or (value.at is not None and value.at > used[0].at)
        if value.reason == "unit" and value.fact in needed and newer:
            skipped.append(value)
    if not skipped:
        return []
    lines = ["These values were not used because their unit is not in the data contract:", ""]
    for value in skipped:
        lab = knowledge.lab(value.fact)
        when = value.at.date().isoformat() if value.at else "undated"
        lines.append(
            f"- {lab.display} (LOINC {lab.loinc[0]}), {when}: unit '{value.unit}' "
            f"(accepted: {', '.join(lab.units)})"
        )
    lines += ["", "Record the value in an accepted unit, or ask for the unit to be added."]
    return [advice(knowledge, "unit-unrecognized", lines, count=len(skipped))]
