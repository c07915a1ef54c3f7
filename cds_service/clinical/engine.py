"""Evaluate stage: which cards a hook gives for these facts at `now` (pure)."""

from __future__ import annotations

from datetime import datetime, timedelta

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
from cds_service.clinical.response import ranbp2_card, tnf_card, treatment_response
from cds_service.clinical.severity import score_severity, severity_card
from cds_service.clinical.tocilizumab import check_tcz_order, tcz_recommendation

ORDER_DRUGS = frozenset({"mp", "tcz", "tnf"})
DOSED_DRUGS = frozenset({"mp", "tcz"})
RED_FLAG_FACTS = ("csf_leukocytes", "ammonia")
TCZ_FACTS = ("neutrophils", "platelets", "alt", "ast")


def evaluate(hook: str, facts: PatientFacts, now: datetime, knowledge: Knowledge) -> list[Advice]:
    """The advice for one hook call. No ANE context: nothing, to avoid alert fatigue."""
    episode = assess_episode(facts, now, knowledge)
    if not episode.ane_context:
        return []
    if hook == "patient-view":
        return _patient_view(facts, episode, knowledge)
    return _order_checks(facts, episode, knowledge)


def _adult(episode: Episode, knowledge: Knowledge) -> bool:
    """18 or older; a partial birth date counts when even its latest day gives 18 or more."""
    age = episode.age or episode.youngest_age
    return age is not None and age.years >= knowledge.scope.adult_age_years


def _out_of_scope(episode: Episode, knowledge: Knowledge) -> Advice:
    age = episode.age or episode.youngest_age
    years = f"{age.years}" if episode.age and age else f"At least {age.years if age else ''}"
    return advice(
        knowledge,
        "out-of-scope",
        [
            f"{'Age ' if episode.age else ''}{years} years. The ANE rules, doses and scores of this service are for children "
            f"(under {knowledge.scope.adult_age_years} years) and are not applied to adults.",
        ],
    )


def _patient_view(facts: PatientFacts, episode: Episode, knowledge: Knowledge) -> list[Advice]:
    if _adult(episode, knowledge):
        return [_out_of_scope(episode, knowledge)]
    flags = find_red_flags(facts, episode, knowledge)
    score = score_severity(facts, episode, knowledge)
    cards = red_flag_cards(flags, knowledge) + weight_cards(episode, knowledge)
    if not flags.any:
        recommendation = mp_recommendation(facts, episode, knowledge)
        cards += [recommendation] if recommendation else []
        cards += tcz_recommendation(facts, episode, score, knowledge)
    cards.append(severity_card(score, knowledge))
    cards.append(criteria_card(facts, episode, flags, knowledge))
    optional = [
        treatment_response(facts, episode, knowledge),
        ranbp2_card(facts, episode, knowledge),
    ]
    cards += [card for card in optional if card]
    return cards + unit_cards(facts, list(knowledge.labs), knowledge, episode)


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
    if any(o.drug == "tcz" for o in orders):
        needed += TCZ_FACTS
    for order in orders:
        cards += _check_order(order, facts, episode, knowledge)
    return cards + unit_cards(facts, needed, knowledge, episode)


def _check_order(
    order: MedicationOrder, facts: PatientFacts, episode: Episode, knowledge: Knowledge
) -> list[Advice]:
    if order.drug == "mp":
        return check_mp_order(order, episode, knowledge)
    if order.drug == "tcz":
        return check_tcz_order(order, episode, facts, knowledge)
    return [tnf_card(order, knowledge)]


def unit_cards(
    facts: PatientFacts, needed: list[str], knowledge: Knowledge, episode: Episode
) -> list[Advice]:
    """unit-unrecognized: needed values skipped for their unit that a rule would have read.

    A rule would have read a value newer than the one used, or one in the presentation window
    (ranges such as 'highest in the window') or among the recent safety labs.
    """
    recent_since = episode.now - timedelta(hours=knowledge.windows.recent_lab_hours)
    skipped = []
    for value in facts.skipped:
        used = facts.values(value.fact)
        newer = not used or used[0].at is None or (value.at is not None and value.at > used[0].at)
        in_use = episode.in_window(value.at) or (value.at is not None and value.at >= recent_since)
        if value.reason == "unit" and value.fact in needed and (newer or in_use):
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
