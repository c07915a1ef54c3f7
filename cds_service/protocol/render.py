"""Build stage: Advice -> CDS Hooks cards with stable uuids, source, topic and override reasons."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from cds_service.clinical.advice import Advice, SuggestionDraft
from cds_service.clinical.knowledge import Knowledge
from cds_service.protocol.cards import Action, Card, Coding, Source, Suggestion

UUID_NAMESPACE = uuid.UUID("5b7f0c4e-2a55-4c1e-9d3a-6a0e0a2f1c11")


def card_uuid(hook_instance: str, advice: Advice) -> str:
    """Same hookInstance, topic and subject give the same uuid (ane-rules.md section 11)."""
    return str(uuid.uuid5(UUID_NAMESPACE, f"{hook_instance}|{advice.topic}|{advice.subject}"))


def _suggestion(card_id: str, draft: SuggestionDraft) -> Suggestion:
    return Suggestion(
        label=draft.label,
        uuid=str(uuid.uuid5(UUID_NAMESPACE, f"{card_id}|{draft.key}")),
        isRecommended=draft.recommended,
        actions=[
            Action(
                type=a.type,
                description=a.description,
                resource=dict(a.resource) if a.resource is not None else None,
                resourceId=a.resource_id,
            )
            for a in draft.actions
        ],
    )


def render_cards(advice: Iterable[Advice], hook_instance: str, knowledge: Knowledge) -> list[Card]:
    """The response cards, in the order the rules produced them."""
    cards = []
    for item in advice:
        text = knowledge.card(item.topic)
        card_id = card_uuid(hook_instance, item)
        suggestions = [_suggestion(card_id, s) for s in item.suggestions]
        reasons = [
            Coding(
                system=knowledge.systems.override_reason,
                code=code,
                display=knowledge.override_reasons[code],
            )
            for code in text.override
        ]
        cards.append(
            Card(
                uuid=card_id,
                summary=item.summary,
                detail=item.detail,
                indicator=item.indicator,
                source=Source(
                    label=f"{knowledge.meta.service_label} ({knowledge.meta.version})",
                    topic=Coding(
                        system=knowledge.systems.card_topic, code=item.topic, display=text.display
                    ),
                ),
                suggestions=suggestions or None,
                selectionBehavior="at-most-one" if suggestions else None,
                overrideReasons=reasons or None,
                extension=dict(item.extension) or None,
            )
        )
    return cards
