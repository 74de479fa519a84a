"""Whether the servers' WAL may have moved since the data plane last looked.

Before every move of the clock the data plane asks each replicated server how far it has flushed
its WAL (one query per server per move), so that a commit acknowledged at clock time ``t`` is
tagged ``t``. Nothing can have moved if no client sent a byte to a server since the last look and
no direct connection is open: then the query is spared. Every endpoint proxy notes the bytes it
forwards to a server; every direct connection (``PostgresServer.connect``) counts while it is open.
"""
from __future__ import annotations

import threading
import weakref
from typing import Any

_lock = threading.Lock()
_generation = 0
_direct: weakref.WeakSet[Any] = weakref.WeakSet()


def note_write() -> None:
    """A client sent bytes to a server: its WAL may move."""
    global _generation
    with _lock:
        _generation += 1


def track(connection: Any) -> Any:
    """Count ``connection`` (a direct psycopg connection) as activity while it is open."""
    note_write()
    with _lock:
        _direct.add(connection)
    return connection


def generation() -> int | None:
    """A mark that changes whenever a server may have written; None while a direct connection is open."""
    with _lock:
        if any(not getattr(conn, "closed", True) for conn in list(_direct)):
            return None
        return _generation


class WriteCounter:
    """The same mark for the servers of one other data plane (Redis): bumped by every byte its
    endpoint proxies send to a server and every command the harness sends itself, so that its
    replication links are asked for their offsets only when something may have been written —
    PostgreSQL's probe writes on every tick do not count here."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._generation = 0

    def note(self) -> None:
        with self._lock:
            self._generation += 1

    @property
    def generation(self) -> int:
        with self._lock:
            return self._generation
