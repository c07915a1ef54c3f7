"""Connections kept per thread: reused, replaced when broken or when their thread ended, never
shared with (nor closed by) a forked child."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Hashable
from dataclasses import replace
from pathlib import Path

import pytest

from cds_service.feedback import StoreError, open_store
from cds_service.feedback.connections import ThreadConnections
from cds_service.feedback.sqlite import SqliteFeedbackStore
from tests.feedback.test_store import UNKNOWN_CARD, record, served


class Conn:
    def __init__(self, kind: Hashable) -> None:
        self.kind = kind
        self.closed = False
        self.broken = False


def pool() -> tuple[ThreadConnections[Conn], list[Conn]]:
    opened: list[Conn] = []

    def connect(kind: Hashable) -> Conn:
        opened.append(Conn(kind))
        return opened[-1]

    def close(conn: Conn) -> None:
        conn.closed = True

    return ThreadConnections(connect, close, usable=lambda c: not c.broken), opened


def in_thread(connections: ThreadConnections[Conn], kind: Hashable = None) -> Conn:
    got: list[Conn] = []
    thread = threading.Thread(target=lambda: got.append(connections.get(kind)))
    thread.start()
    thread.join()
    return got[0]


def test_a_thread_reuses_its_connection_per_kind() -> None:
    connections, opened = pool()
    first = connections.get(True)
    assert connections.get(True) is first
    assert connections.get(False) is not first
    assert [c.kind for c in opened] == [True, False]


def test_threads_never_share_a_connection() -> None:
    connections, opened = pool()
    mine = connections.get()
    other = in_thread(connections)
    assert other is not mine
    assert len(opened) == 2


def test_an_unusable_or_discarded_connection_is_closed_and_replaced() -> None:
    connections, _ = pool()
    first = connections.get()
    first.broken = True
    second = connections.get()
    assert second is not first and first.closed
    connections.discard()
    assert second.closed
    assert connections.get() is not second


def test_the_connection_of_an_ended_thread_is_closed_at_the_next_open() -> None:
    connections, _ = pool()
    orphan = in_thread(connections)  # its thread has ended
    assert not orphan.closed
    connections.get()
    assert orphan.closed


def test_close_all_closes_every_thread_connection() -> None:
    connections, opened = pool()
    connections.get()
    connections.get(False)
    in_thread(connections)
    connections.close_all()
    assert all(c.closed for c in opened)


def test_a_forked_child_opens_its_own_and_never_closes_the_parents(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    connections, _ = pool()
    parent = connections.get()
    real_pid = os.getpid()
    monkeypatch.setattr(os, "getpid", lambda: real_pid + 1)  # as seen by a forked child
    child = connections.get()
    assert child is not parent
    connections.close_all()
    assert child.closed and not parent.closed


def test_the_sqlite_store_keeps_one_connection_per_thread(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    assert isinstance(store, SqliteFeedbackStore)
    opened: list[sqlite3.Connection] = []
    connect = store._connect

    def counting(durable: Hashable) -> sqlite3.Connection:
        opened.append(connect(durable))
        return opened[-1]

    store.close()
    store._connections = ThreadConnections(counting, sqlite3.Connection.close)
    for minute in range(5):
        store.record_cards([served(card=f"00000000-0000-4000-8000-00000000000{minute}")])
        store.add_feedback([record(minute=minute)])
    assert len(opened) == 2  # one NORMAL for served-card records, one FULL for feedback
    assert store.feedback_count() == 5


def test_after_a_failed_transaction_the_sqlite_store_works_on_a_new_connection(
    tmp_path: Path,
) -> None:
    store = open_store(tmp_path)
    with pytest.raises(StoreError):
        store.add_feedback([replace(record(minute=1), outcome="bogus")])
    assert store.add_feedback([record(minute=2)]).stored == 1
    assert store.feedback_count() == 1


def test_a_closed_sqlite_store_reopens_its_connections_on_the_next_call(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    store.record_cards([served()])
    assert isinstance(store, SqliteFeedbackStore)
    store.close()
    store.record_cards([served(card=UNKNOWN_CARD)])
    assert [c.cards for c in store.served_counts()] == [2]
