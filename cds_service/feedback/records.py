"""What the feedback store keeps: cards served and clinicians' feedback, as plain values.

Nothing here holds a patient identifier or value. A served card is known by its uuid, topic and
the knowledge version that produced it; feedback by the card uuid and what the clinician did.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cds_service.protocol.feedback import FeedbackItem

# Cards whose suggestions set a dose: the report's "dose suggestions accepted" counts these.
DOSE_TOPIC_PREFIX = "mp-dose-"
DOSE_TOPICS = frozenset({"mp-recommendation", "tcz-recommendation", "tcz-dose"})


def is_dose_topic(topic: str | None) -> bool:
    """True for the MP and tocilizumab dose cards (mp-dose-*, the recommendations, tcz-dose)."""
    return topic is not None and (topic.startswith(DOSE_TOPIC_PREFIX) or topic in DOSE_TOPICS)


def utc_text(moment: datetime) -> str:
    """A UTC instant as fixed-width RFC 3339 text (sorts as time sorts)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class ServedCard:
    """One card the service answered with: enough to join feedback to the rule behind it."""

    card_uuid: str
    service_id: str
    hook_instance: str
    topic: str
    indicator: str
    knowledge_version: str
    served_at: datetime
    suggestion_uuids: tuple[str, ...] = ()


@dataclass(frozen=True)
class FeedbackRecord:
    """One feedback item as stored; `item_key` makes a resent item a duplicate."""

    item_key: str
    service_id: str
    card_uuid: str
    outcome: str
    outcome_at: datetime
    accepted_suggestions: tuple[str, ...]
    reason_system: str | None
    reason_code: str | None
    reason_display: str | None
    user_comment: str | None = field(repr=False)
    received_at: datetime


@dataclass(frozen=True)
class StoreResult:
    """What one feedback batch did: items received, newly stored, already held; unknown cards."""

    received: int
    stored: int
    duplicates: int
    unknown_cards: tuple[str, ...] = ()

    def body(self) -> dict[str, Any]:
        """The JSON answer to the EHR (no empty values)."""
        answer: dict[str, Any] = {
            "received": self.received,
            "stored": self.stored,
            "duplicates": self.duplicates,
        }
        if self.unknown_cards:
            answer["unknownCards"] = list(self.unknown_cards)
        return answer


@dataclass(frozen=True)
class FeedbackFact:
    """One stored feedback item joined to its served card (topic None: unknown card)."""

    outcome: str
    topic: str | None
    knowledge_version: str | None
    reason_system: str | None
    reason_code: str | None
    reason_display: str | None
    has_comment: bool
    suggestions_offered: int


@dataclass(frozen=True)
class ServedCount:
    """How many cards of a topic a knowledge version served."""

    topic: str
    knowledge_version: str
    cards: int


def feedback_record(service_id: str, item: FeedbackItem, received_at: datetime) -> FeedbackRecord:
    """A validated feedback item as a record, with its idempotency key."""
    accepted = tuple(sorted({s.id for s in item.acceptedSuggestions or ()}))
    override = item.overrideReason
    reason = override.reason if override else None
    values: dict[str, Any] = {
        "service": service_id,
        "card": item.card,
        "outcome": item.outcome,
        "at": utc_text(item.outcomeTimestamp),
        "accepted": accepted,
        "reason": [reason.system, reason.code] if reason else None,
        "comment": override.userComment if override else None,
    }
    return FeedbackRecord(
        item_key=item_key(values),
        service_id=service_id,
        card_uuid=item.card,
        outcome=item.outcome,
        outcome_at=item.outcomeTimestamp,
        accepted_suggestions=accepted,
        reason_system=reason.system if reason else None,
        reason_code=reason.code if reason else None,
        reason_display=reason.display if reason else None,
        user_comment=override.userComment if override else None,
        received_at=received_at,
    )


def item_key(values: Mapping[str, Any]) -> str:
    """SHA-256 of the item's meaning: the same action sent twice (or reformatted) is one item.

    The reason's display text is left out (only its system and code carry meaning), and the
    timestamp is the UTC instant, so "Z" and "+00:00" give the same key.
    """
    canonical = json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def cards_served(
    service_id: str,
    hook_instance: str,
    cards: Sequence[Mapping[str, Any]],
    knowledge_version: str,
    served_at: datetime,
) -> list[ServedCard]:
    """The served-card records of a hook answer's cards (those with a uuid)."""
    served = []
    for card in cards:
        uuid = card.get("uuid")
        if not isinstance(uuid, str):
            continue
        topic = card.get("source", {}).get("topic", {}).get("code", "")
        suggestions = tuple(
            s["uuid"] for s in card.get("suggestions", ()) if isinstance(s.get("uuid"), str)
        )
        served.append(
            ServedCard(
                card_uuid=uuid,
                service_id=service_id,
                hook_instance=hook_instance,
                topic=str(topic),
                indicator=str(card.get("indicator", "")),
                knowledge_version=knowledge_version,
                served_at=served_at,
                suggestion_uuids=suggestions,
            )
        )
    return served
