"""The feedback store for several instances: PostgreSQL through CDS_DATABASE_URL (psycopg 3).

Each thread of each worker keeps its own connection (opened on first use, reopened after a fork
or a broken connection). A batch is one transaction; a deadlock or serialization failure is
retried, and a lost connection is retried once on a new one. The URL (it may hold a password)
is never logged or shown.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import errors as pg_errors

from cds_service.feedback.connections import ThreadConnections
from cds_service.feedback.store import Cursor, SqlFeedbackStore, StoreError

CONNECT_TIMEOUT_S = 5
SCHEMA_LOCK_ID = 0x414E4543  # "ANEC": one advisory lock for schema changes
# Aborted by PostgreSQL for a reason that a new attempt (on a new connection) can overcome.
TRANSIENT = (pg_errors.DeadlockDetected, pg_errors.SerializationFailure, psycopg.OperationalError)

SCHEMA_V1 = (
    "CREATE TABLE served_card (card_uuid TEXT PRIMARY KEY, service_id TEXT NOT NULL, "
    "hook_instance TEXT NOT NULL, topic TEXT NOT NULL, indicator TEXT NOT NULL, "
    "knowledge_version TEXT NOT NULL, served_at TIMESTAMPTZ NOT NULL)",
    "CREATE TABLE served_suggestion (card_uuid TEXT NOT NULL REFERENCES served_card, "
    "suggestion_uuid TEXT NOT NULL, PRIMARY KEY (card_uuid, suggestion_uuid))",
    "CREATE TABLE feedback (item_key TEXT PRIMARY KEY, service_id TEXT NOT NULL, "
    "card_uuid TEXT NOT NULL, outcome TEXT NOT NULL CHECK (outcome IN ('accepted', 'overridden')), "
    "outcome_at TIMESTAMPTZ NOT NULL, reason_system TEXT, reason_code TEXT, reason_display TEXT, "
    "user_comment TEXT, card_known BOOLEAN NOT NULL, received_at TIMESTAMPTZ NOT NULL)",
    "CREATE INDEX feedback_card ON feedback (card_uuid)",
    "CREATE TABLE feedback_suggestion (item_key TEXT NOT NULL REFERENCES feedback, "
    "suggestion_uuid TEXT NOT NULL, PRIMARY KEY (item_key, suggestion_uuid))",
)


class PostgresFeedbackStore(SqlFeedbackStore):
    """Feedback in PostgreSQL, shared by every instance and worker."""

    MIGRATIONS = (SCHEMA_V1,)

    def __init__(self, url: str) -> None:
        self._connections: ThreadConnections[psycopg.Connection[Any]] = ThreadConnections(
            connect=lambda _: _connect(url),
            close=lambda connection: connection.close(),
            usable=lambda connection: not (connection.closed or connection.broken),
        )
        # Connections close when the store goes, not in a warning from the garbage collector.
        self._closer = weakref.finalize(self, self._connections.close_all)
        self.migrate()
        self.close()  # the starting process (gunicorn's arbiter) keeps no connection

    def __repr__(self) -> str:
        return "PostgresFeedbackStore(<url hidden>)"

    def close(self) -> None:
        """Close every connection this store opened in this process."""
        self._connections.close_all()

    def _connection(self) -> psycopg.Connection[Any]:
        return self._connections.get()

    @contextmanager
    def _transaction(self, write: bool, durable: bool = True) -> Iterator[Cursor]:
        # Retries happen around the whole body: callers run all their statements inside.
        connection = self._connection()
        try:
            with connection.transaction(), connection.cursor() as cursor:
                if not durable:
                    cursor.execute("SET LOCAL synchronous_commit = off")
                yield cursor
        except psycopg.Error as error:
            raise StoreError(f"feedback database error ({type(error).__name__})") from error

    def _sql(self, statement: str) -> str:
        return statement.replace("?", "%s")

    def _value(self, value: Any) -> Any:
        return value

    def _schema_lock(self, cursor: Cursor) -> None:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK_ID,))

    def _transient(self, error: StoreError) -> bool:
        return isinstance(error.__cause__, TRANSIENT)


def _connect(url: str) -> psycopg.Connection[Any]:
    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)
    except psycopg.Error as error:
        raise StoreError(f"feedback database unreachable ({type(error).__name__})") from None
