"""Database connections kept per thread of a process, for the feedback stores.

Opening a connection (and setting it up) costs more than the short transaction that follows it,
and the served-card record is written on every hook answer. Each thread of each gunicorn worker
therefore keeps its connections, opened on first use. A connection found unusable, or one
whose transaction failed, is closed and replaced; so is the connection of a thread that has
ended (servers that start a thread per request). A forked child never uses its parent's
connections, nor closes them (that could disturb the parent's): it sets them aside.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

C = TypeVar("C")


class ThreadConnections(Generic[C]):
    """Connections of this process, one per (thread, kind), opened by `connect(kind)`."""

    def __init__(
        self,
        connect: Callable[[Hashable], C],
        close: Callable[[C], None],
        usable: Callable[[C], bool] = lambda _: True,
    ) -> None:
        self._connect = connect
        self._close = close
        self._usable = usable
        self._lock = threading.Lock()
        self._local = threading.local()
        self._open: list[tuple[threading.Thread, C]] = []
        # A forked child's copies of its parent's connections, only held: dropped, the garbage
        # collector would close them, and closing a copy can disturb the parent's connection.
        self._inherited: list[tuple[threading.Thread, C]] = []
        self._pid = os.getpid()

    def get(self, kind: Hashable = None) -> C:
        """This thread's connection of this kind."""
        if os.getpid() != self._pid:
            self._after_fork()
        mine: dict[Hashable, C] = self._mine()
        connection = mine.get(kind)
        if connection is not None and not self._usable(connection):
            self.discard(kind)
            connection = None
        if connection is None:
            self._close_ended()
            connection = self._connect(kind)
            mine[kind] = connection
            with self._lock:
                self._open.append((threading.current_thread(), connection))
        return connection

    def discard(self, kind: Hashable = None) -> None:
        """Close this thread's connection of this kind (after an error); the next get reopens."""
        connection = self._mine().pop(kind, None)
        if connection is not None:
            with self._lock:
                self._open = [(t, c) for t, c in self._open if c is not connection]
            self._close(connection)

    def close_all(self) -> None:
        """Close every connection opened by this process (in any thread)."""
        with self._lock:
            if os.getpid() == self._pid:
                for _, connection in self._open:
                    self._close(connection)
            self._open = []
            self._local = threading.local()

    def _mine(self) -> dict[Hashable, C]:
        mine: dict[Hashable, C] | None = getattr(self._local, "connections", None)
        if mine is None:
            mine = {}
            self._local.connections = mine
        return mine

    def _close_ended(self) -> None:
        with self._lock:
            ended = [c for t, c in self._open if not t.is_alive()]
            self._open = [(t, c) for t, c in self._open if t.is_alive()]
        for connection in ended:
            self._close(connection)

    def _after_fork(self) -> None:
        with self._lock:
            self._inherited.extend(self._open)
            self._open = []
            self._local = threading.local()
            self._pid = os.getpid()
