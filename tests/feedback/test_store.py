"""The store's contract, on SQLite and on a real PostgreSQL: idempotent, whole batches,
unknown cards flagged, schema versioned, everything kept across a restart."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from cds_service.config import ConfigError, settings_from_env
from cds_service.feedback import SQLITE_FILE, FeedbackStore, StoreError, open_store
from cds_service.feedback.records import FeedbackRecord, ServedCard, feedback_record
from cds_service.protocol.feedback import FeedbackItem
from tests.feedback.service import ANE_CDS

SERVED_AT = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
CARD = "b85a6bc2-712a-5607-9157-188204bccabb"
SUGGESTION = "2ce4ed46-bef3-5777-a0a0-50d1d689f46e"
UNKNOWN_CARD = "9368d37b-283f-44a0-93ea-547cebab93ed"


def served(card: str = CARD, topic: str = "mp-dose-above-max", version: str = "v1") -> ServedCard:
    return ServedCard(
        card_uuid=card,
        service_id="ane-order-select",
        hook_instance="0b1c7a55-3f5e-4d1a-9c55-1b5e1e0c0a11",
        topic=topic,
        indicator="warning",
        knowledge_version=version,
        served_at=SERVED_AT,
        suggestion_uuids=(SUGGESTION,),
    )


def record(card: str = CARD, minute: int = 0, outcome: str = "accepted") -> FeedbackRecord:
    item = FeedbackItem.model_validate(
        {
            "card": card,
            "outcome": outcome,
            "acceptedSuggestions": [{"id": SUGGESTION}] if outcome == "accepted" else None,
            "overrideReason": {
                "reason": {"system": "urn:ane-cds:override-reason", "code": "reviewed"}
            }
            if outcome == "overridden"
            else None,
            "outcomeTimestamp": (SERVED_AT + timedelta(minutes=minute)).isoformat(),
        }
    )
    return feedback_record("ane-order-select", item, SERVED_AT)


def test_a_new_store_has_the_current_schema(store: FeedbackStore) -> None:
    assert store.schema_version() == 1
    assert store.feedback_count() == 0


def test_the_same_item_twice_is_stored_once(store: FeedbackStore) -> None:
    store.record_cards([served()])
    first = store.add_feedback([record(minute=1), record(minute=1), record(minute=2)])
    again = store.add_feedback([record(minute=2), record(minute=3)])
    assert (first.received, first.stored, first.duplicates) == (3, 2, 1)
    assert (again.received, again.stored, again.duplicates) == (2, 1, 1)
    assert store.feedback_count() == 3


def test_feedback_for_an_unknown_card_is_stored_and_flagged(store: FeedbackStore) -> None:
    store.record_cards([served()])
    result = store.add_feedback([record(), record(UNKNOWN_CARD, outcome="overridden")])
    assert result.stored == 2
    assert result.unknown_cards == (UNKNOWN_CARD,)
    topics = sorted((f.topic or "?", f.outcome) for f in store.facts())
    assert topics == [("?", "overridden"), ("mp-dose-above-max", "accepted")]


def test_cards_served_are_recorded_once(store: FeedbackStore) -> None:
    store.record_cards([served(), served("c2", topic="tcz-dose")])
    store.record_cards([served()])
    counts = {(c.topic, c.knowledge_version): c.cards for c in store.served_counts()}
    assert counts == {("mp-dose-above-max", "v1"): 1, ("tcz-dose", "v1"): 1}


def test_facts_join_feedback_to_the_card_served(store: FeedbackStore) -> None:
    store.record_cards([served()])
    store.add_feedback([record(outcome="overridden")])
    [fact] = store.facts()
    assert (fact.topic, fact.knowledge_version, fact.suggestions_offered) == (
        "mp-dose-above-max",
        "v1",
        1,
    )
    assert (fact.reason_code, fact.reason_display, fact.has_comment) == ("reviewed", None, False)


def test_a_batch_that_fails_stores_nothing(store: FeedbackStore) -> None:
    broken = replace(record(minute=9), outcome="bogus")  # refused by the table's CHECK
    with pytest.raises(StoreError):
        store.add_feedback([record(minute=1), record(minute=2), broken])
    assert store.feedback_count() == 0


def test_everything_is_kept_across_a_restart(store_location: tuple[Path, str]) -> None:
    first = open_store(*store_location)
    first.record_cards([served()])
    first.add_feedback([record(minute=m) for m in range(5)])
    restarted = open_store(*store_location)
    assert restarted.feedback_count() == 5
    assert restarted.add_feedback([record(minute=0)]).stored == 0
    assert len(restarted.facts()) == 5


def test_workers_starting_at_once_create_the_schema_once(store_location: tuple[Path, str]) -> None:
    errors: list[BaseException] = []

    def start() -> None:
        try:
            open_store(*store_location)
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=start) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert open_store(*store_location).schema_version() == 1


def test_a_newer_schema_is_refused(store_location: tuple[Path, str]) -> None:
    open_store(*store_location)
    data_dir, url = store_location
    statement = "INSERT INTO schema_version (version) VALUES (99)"
    if url:
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute(statement)
    else:
        with sqlite3.connect(data_dir / SQLITE_FILE) as connection:
            connection.execute(statement)
    with pytest.raises(StoreError, match="version 99"):
        open_store(*store_location)


def test_sqlite_store_uses_wal(tmp_path: Path) -> None:
    open_store(tmp_path)
    with sqlite3.connect(tmp_path / SQLITE_FILE) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_an_unreachable_postgres_is_a_store_error(postgres_url: str) -> None:
    closed_port = postgres_url.rsplit(":", 1)[0] + ":1/postgres"
    with pytest.raises(StoreError, match="unreachable") as refused:
        open_store(Path("."), closed_port)
    assert "postgresql://" not in str(refused.value)


def test_the_database_url_must_be_postgresql_and_is_never_shown() -> None:
    with pytest.raises(ConfigError, match="CDS_DATABASE_URL"):
        settings_from_env({"CDS_AUTH": "off", "CDS_DATABASE_URL": "mysql://u:pw@127.0.0.1/x"})
    url = "postgresql://ane:s3cret@127.0.0.1:5432/feedback"
    settings = settings_from_env({"CDS_AUTH": "off", "CDS_DATABASE_URL": url})
    assert settings.database_url == url
    assert "s3cret" not in repr(settings)


def test_the_service_refuses_to_start_on_a_newer_schema(tmp_path: Path) -> None:
    open_store(tmp_path)
    with sqlite3.connect(tmp_path / SQLITE_FILE) as connection:
        connection.execute("INSERT INTO schema_version (version) VALUES (2)")
    env = {**os.environ, "CDS_AUTH": "off", "CDS_DATA_DIR": str(tmp_path)}
    env.pop("CDS_DATABASE_URL", None)
    done = subprocess.run(
        [str(ANE_CDS), "serve", "--port", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "schema is version 2" in done.stderr
