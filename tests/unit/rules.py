"""Run the pure pipeline (normalise + evaluate) on builder resources, for rule tables."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cds_service.clinical.advice import Advice
from cds_service.clinical.engine import evaluate
from cds_service.clinical.knowledge import default_knowledge
from cds_service.fhir.facts import build_facts
from tests.builders import PATIENT_ID, REFERENCE


def run_rules(
    hook: str,
    resources: list[dict[str, Any]],
    drafts: list[dict[str, Any]] | None = None,
    selections: list[str] | None = None,
    now: datetime = REFERENCE,
) -> list[Advice]:
    """Advice for a hook, as the service would give it, without HTTP."""
    knowledge = default_knowledge()
    if hook == "order-select" and selections is None:
        selections = [f"MedicationRequest/{d['id']}" for d in drafts or []]
    facts = build_facts(PATIENT_ID, resources, knowledge, drafts or [], selections)
    return evaluate(hook, facts, now, knowledge)


def topics(advice: list[Advice]) -> list[str]:
    """Topics in order."""
    return [a.topic for a in advice]


def only(advice: list[Advice], topic: str) -> Advice:
    """The single card of a topic."""
    found = [a for a in advice if a.topic == topic]
    assert len(found) == 1, f"expected one {topic}, got {[a.topic for a in advice]}"
    return found[0]
