"""The feedback store: an interface, and the SQL both implementations (SQLite, PostgreSQL) share.

Writes are idempotent (`INSERT ... ON CONFLICT DO NOTHING` on a key), a batch is one transaction
(all of it or none of it), and rows are written in key order so that concurrent batches on
PostgreSQL lock in the same order and cannot deadlock on each other. Statements are written with
`?` placeholders; the PostgreSQL store turns them into psycopg's `%s`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol, TypeVar

from cds_service.feedback.records import (
    FeedbackFact,
    FeedbackRecord,
    ServedCard,
    ServedCount,
    StoreResult,
)

ATTEMPTS = 3  # a write aborted for a transient reason (deadlock, lost connection) is tried again
T = TypeVar("T")


class StoreError(Exception):
    """The store cannot be used (unreachable, or a schema this service does not know)."""


class FeedbackStore(Protocol):
    """Where served cards and feedback are kept; shared by every worker of the service."""

    def record_cards(self, cards: Sequence[ServedCard]) -> None:
        """Record cards served (a card already recorded is left as it is)."""

    def add_feedback(self, records: Sequence[FeedbackRecord]) -> StoreResult:
        """Store a batch whole, each distinct item once; unknown cards are stored and flagged."""

    def facts(self) -> list[FeedbackFact]:
        """Every stored feedback item joined to its served card, for the report."""

    def served_counts(self) -> list[ServedCount]:
        """Cards served per topic and knowledge version."""

    def feedback_count(self) -> int:
        """How many feedback items are stored."""

    def schema_version(self) -> int:
        """The schema version of the database."""


class Cursor(Protocol):
    """The part of a DB-API cursor the shared SQL uses."""

    @property
    def rowcount(self) -> int: ...

    def execute(self, sql: Any, params: Sequence[Any] = ..., /) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def fetchone(self) -> Any: ...


INSERT_CARD = (
    "INSERT INTO served_card (card_uuid, service_id, hook_instance, topic, indicator, "
    "knowledge_version, served_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (card_uuid) DO NOTHING"
)
INSERT_SUGGESTION = (
    "INSERT INTO served_suggestion (card_uuid, suggestion_uuid) VALUES (?, ?) "
    "ON CONFLICT (card_uuid, suggestion_uuid) DO NOTHING"
)
CARD_KNOWN = "SELECT 1 FROM served_card WHERE card_uuid = ?"
INSERT_FEEDBACK = (
    "INSERT INTO feedback (item_key, service_id, card_uuid, outcome, outcome_at, reason_system, "
    "reason_code, reason_display, user_comment, card_known, received_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (item_key) DO NOTHING"
)
INSERT_ACCEPTED = (
    "INSERT INTO feedback_suggestion (item_key, suggestion_uuid) VALUES (?, ?) "
    "ON CONFLICT (item_key, suggestion_uuid) DO NOTHING"
)
SELECT_FACTS = (
    "SELECT f.outcome, c.topic, c.knowledge_version, f.reason_system, f.reason_code, "
    "f.reason_display, f.user_comment IS NOT NULL, "
    "(SELECT COUNT(*) FROM served_suggestion s WHERE s.card_uuid = f.card_uuid) "
    "FROM feedback f LEFT JOIN served_card c ON c.card_uuid = f.card_uuid "
    "ORDER BY f.item_key"
)
SELECT_SERVED = (
    "SELECT topic, knowledge_version, COUNT(*) FROM served_card "
    "GROUP BY topic, knowledge_version ORDER BY topic, knowledge_version"
)
COUNT_FEEDBACK = "SELECT COUNT(*) FROM feedback"
CREATE_VERSION_TABLE = "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"
SELECT_VERSION = "SELECT MAX(version) FROM schema_version"
INSERT_VERSION = "INSERT INTO schema_version (version) VALUES (?)"


class SqlFeedbackStore(ABC):
    """The store's logic over DB-API cursors; subclasses bring the connection and the DDL."""

    # DDL per schema version: MIGRATIONS[n - 1] takes the schema from version n - 1 to n.
    MIGRATIONS: tuple[tuple[str, ...], ...] = ()

    @abstractmethod
    def _transaction(self, write: bool, durable: bool = True) -> AbstractContextManager[Cursor]:
        """A cursor inside one transaction; committed on success, rolled back on error.

        `durable=False` lets the commit return before the disk sync (served-card records, written
        on every hook answer); feedback items are always durable.
        """

    @abstractmethod
    def _sql(self, statement: str) -> str:
        """The statement in the driver's placeholder style."""

    @abstractmethod
    def _value(self, value: Any) -> Any:
        """A Python value as the driver stores it (datetimes differ)."""

    @abstractmethod
    def _schema_lock(self, cursor: Cursor) -> None:
        """Serialise schema creation between processes starting at once."""

    def _transient(self, error: StoreError) -> bool:
        """Whether a failed write may succeed when tried again."""
        return False

    def _retrying(self, write: Callable[[], T]) -> T:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return write()
            except StoreError as error:
                if attempt == ATTEMPTS or not self._transient(error):
                    raise
        raise AssertionError("unreachable")

    def _run(self, cursor: Cursor, statement: str, params: Sequence[Any] = ()) -> Cursor:
        cursor.execute(self._sql(statement), tuple(self._value(p) for p in params))
        return cursor

    def migrate(self) -> None:
        """Create or upgrade the schema; refuse a database newer than this service knows."""
        with self._transaction(write=True) as cursor:
            self._schema_lock(cursor)
            self._run(cursor, CREATE_VERSION_TABLE)
            current = self._run(cursor, SELECT_VERSION).fetchone()[0] or 0
            if current > len(self.MIGRATIONS):
                raise StoreError(
                    f"feedback database schema is version {current}; this service knows "
                    f"up to {len(self.MIGRATIONS)}: upgrade the service"
                )
            for version in range(current + 1, len(self.MIGRATIONS) + 1):
                for statement in self.MIGRATIONS[version - 1]:
                    self._run(cursor, statement)
                self._run(cursor, INSERT_VERSION, (version,))

    def record_cards(self, cards: Sequence[ServedCard]) -> None:
        """Record cards served (idempotent on the card uuid)."""
        if cards:
            self._retrying(lambda: self._insert_cards(cards))

    def _insert_cards(self, cards: Sequence[ServedCard]) -> None:
        with self._transaction(write=True, durable=False) as cursor:
            for card in sorted(cards, key=lambda c: c.card_uuid):
                self._run(cursor, INSERT_CARD, _card_row(card))
                for suggestion in sorted(set(card.suggestion_uuids)):
                    self._run(cursor, INSERT_SUGGESTION, (card.card_uuid, suggestion))

    def add_feedback(self, records: Sequence[FeedbackRecord]) -> StoreResult:
        """Store a batch in one transaction; each distinct item once, unknown cards flagged."""
        return self._retrying(lambda: self._insert_feedback(records))

    def _insert_feedback(self, records: Sequence[FeedbackRecord]) -> StoreResult:
        stored = 0
        unknown: set[str] = set()
        with self._transaction(write=True) as cursor:
            for record in sorted(records, key=lambda r: r.item_key):
                known = self._run(cursor, CARD_KNOWN, (record.card_uuid,)).fetchone() is not None
                if not known:
                    unknown.add(record.card_uuid)
                if self._run(cursor, INSERT_FEEDBACK, _feedback_row(record, known)).rowcount:
                    stored += 1
                    for suggestion in record.accepted_suggestions:
                        self._run(cursor, INSERT_ACCEPTED, (record.item_key, suggestion))
        return StoreResult(
            received=len(records),
            stored=stored,
            duplicates=len(records) - stored,
            unknown_cards=tuple(sorted(unknown)),
        )

    def facts(self) -> list[FeedbackFact]:
        """Every stored feedback item joined to its served card."""
        with self._transaction(write=False) as cursor:
            rows = self._run(cursor, SELECT_FACTS).fetchall()
        return [
            FeedbackFact(
                outcome=row[0],
                topic=row[1],
                knowledge_version=row[2],
                reason_system=row[3],
                reason_code=row[4],
                reason_display=row[5],
                has_comment=bool(row[6]),
                suggestions_offered=int(row[7]),
            )
            for row in rows
        ]

    def served_counts(self) -> list[ServedCount]:
        """Cards served per topic and knowledge version."""
        with self._transaction(write=False) as cursor:
            rows = self._run(cursor, SELECT_SERVED).fetchall()
        return [ServedCount(str(row[0]), str(row[1]), int(row[2])) for row in rows]

    def feedback_count(self) -> int:
        """How many feedback items are stored."""
        with self._transaction(write=False) as cursor:
            return int(self._run(cursor, COUNT_FEEDBACK).fetchone()[0])

    def schema_version(self) -> int:
        """The schema version of the database."""
        with self._transaction(write=False) as cursor:
            return int(self._run(cursor, SELECT_VERSION).fetchone()[0] or 0)


def _card_row(card: ServedCard) -> tuple[Any, ...]:
    return (
        card.card_uuid,
        card.service_id,
        card.hook_instance,
        card.topic,
        card.indicator,
        card.knowledge_version,
        card.served_at,
    )


def _feedback_row(record: FeedbackRecord, known: bool) -> tuple[Any, ...]:
    return (
        record.item_key,
        record.service_id,
        record.card_uuid,
        record.outcome,
        record.outcome_at,
        record.reason_system,
        record.reason_code,
        record.reason_display,
        record.user_comment,
        known,
        record.received_at,
    )
