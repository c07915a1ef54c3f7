"""Feedback: the cards served, what clinicians did with them, and the report that learns from it.

`open_store` picks the store: PostgreSQL when a database URL is configured (several instances),
else a SQLite file under the data directory (one machine, any number of workers).
"""

from __future__ import annotations

from pathlib import Path

from cds_service.feedback.postgres import PostgresFeedbackStore
from cds_service.feedback.sqlite import SqliteFeedbackStore
from cds_service.feedback.store import FeedbackStore, StoreError

SQLITE_FILE = "feedback.sqlite3"

__all__ = ["SQLITE_FILE", "FeedbackStore", "StoreError", "open_store"]


def open_store(data_dir: Path, database_url: str = "") -> FeedbackStore:
    """Open (and create or upgrade the schema of) the configured feedback store."""
    if database_url:
        return PostgresFeedbackStore(database_url)
    return SqliteFeedbackStore(data_dir / SQLITE_FILE)
