"""The default feedback store: one SQLite file under CDS_DATA_DIR, in WAL mode.

Each thread of each worker keeps its own connections (feedback/connections.py): opening one per
call cost more than the served-card insert itself. A write takes the database's write lock at
BEGIN IMMEDIATE and waits up to BUSY_TIMEOUT_S for it, so concurrent writers queue rather than
fail; a connection whose transaction failed is closed and replaced. Feedback items commit with
synchronous=FULL (a committed item survives a power cut); served-card records, written on every
hook answer, commit with synchronous=NORMAL (in WAL mode they survive a process crash, and skip
a disk sync per hook).
"""

from __future__ import annotations

import sqlite3
import weakref
from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from cds_service.feedback.connections import ThreadConnections
from cds_service.feedback.records import utc_text
from cds_service.feedback.store import Cursor, SqlFeedbackStore, StoreError

BUSY_TIMEOUT_S = 30.0

SCHEMA_V1 = (
    "CREATE TABLE served_card (card_uuid TEXT PRIMARY KEY, service_id TEXT NOT NULL, "
    "hook_instance TEXT NOT NULL, topic TEXT NOT NULL, indicator TEXT NOT NULL, "
    "knowledge_version TEXT NOT NULL, served_at TEXT NOT NULL)",
    "CREATE TABLE served_suggestion (card_uuid TEXT NOT NULL REFERENCES served_card, "
    "suggestion_uuid TEXT NOT NULL, PRIMARY KEY (card_uuid, suggestion_uuid))",
    "CREATE TABLE feedback (item_key TEXT PRIMARY KEY, service_id TEXT NOT NULL, "
    "card_uuid TEXT NOT NULL, outcome TEXT NOT NULL CHECK (outcome IN ('accepted', 'overridden')), "
    "outcome_at TEXT NOT NULL, reason_system TEXT, reason_code TEXT, reason_display TEXT, "
    "user_comment TEXT, card_known INTEGER NOT NULL, received_at TEXT NOT NULL)",
    "CREATE INDEX feedback_card ON feedback (card_uuid)",
    "CREATE TABLE feedback_suggestion (item_key TEXT NOT NULL REFERENCES feedback, "
    "suggestion_uuid TEXT NOT NULL, PRIMARY KEY (item_key, suggestion_uuid))",
)


class SqliteFeedbackStore(SqlFeedbackStore):
    """Feedback in a SQLite file shared by all workers on one machine."""

    MIGRATIONS = (SCHEMA_V1,)

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        # kind True: synchronous=FULL (feedback); False: NORMAL (served-card records)
        self._connections: ThreadConnections[sqlite3.Connection] = ThreadConnections(
            connect=self._connect, close=sqlite3.Connection.close
        )
        self._closer = weakref.finalize(self, self._connections.close_all)
        self._connections.get(True).execute("PRAGMA journal_mode=WAL")  # persistent, per file
        self.migrate()
        self.close()  # the starting process (gunicorn's arbiter) keeps no connection

    def close(self) -> None:
        """Close every connection this store opened in this process."""
        self._connections.close_all()

    def _connect(self, durable: Hashable) -> sqlite3.Connection:
        try:
            # check_same_thread off only so that close_all may close them; each is used by one
            db = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
            db.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
            db.execute("PRAGMA foreign_keys=ON")
        except sqlite3.Error as error:
            raise StoreError(f"feedback database unusable ({type(error).__name__})") from None
        return db

    @contextmanager
    def _transaction(self, write: bool, durable: bool = True) -> Iterator[Cursor]:
        db = self._connections.get(durable)
        try:
            db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            yield db.cursor()
            db.execute("COMMIT")
        except sqlite3.Error as error:
            self._connections.discard(durable)  # closing rolls back whatever was left open
            raise StoreError(f"feedback database error ({type(error).__name__})") from None
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    def _sql(self, statement: str) -> str:
        return statement

    def _value(self, value: Any) -> Any:
        return utc_text(value) if isinstance(value, datetime) else value

    def _schema_lock(self, cursor: Cursor) -> None:
        """BEGIN IMMEDIATE already holds the write lock."""
