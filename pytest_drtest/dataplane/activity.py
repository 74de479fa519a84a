"""Whether a data plane's servers may have written since its replication links last looked.

Before every move of the clock the data plane asks each replicated server how far it has flushed
its WAL (one query per server per move), so that a commit acknowledged at clock time ``t`` is
tagged ``t``. Nothing can have moved if no client sent a byte to a server since the last look and
no direct connection is open: then the query is spared. Every endpoint proxy notes the bytes it
forwards to a server; every direct connection (``PostgresServer.connect``) counts while it is open.

One :class:`WriteCounter` per data plane: PostgreSQL's is this module's (:func:`note_write`,
:func:`track`, :func:`generation`); the Redis plane keeps its own, so that the probes' PostgreSQL
writes on every tick do not make its links ask their servers too.
"""
from __future__ import annotations

import threading
import weakref
from typing import Any


class WriteCounter:
    """A mark that changes whenever one of a plane's servers may have been written."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._generation = 0
        self._direct: weakref.WeakSet[Any] = weakref.WeakSet()

    def note(self) -> None:
        """A client sent bytes to a server: it may have written."""
        with self._lock:
            self._generation += 1

    def track(self, connection: Any) -> Any:
        """Count ``connection`` (a direct connection with a ``closed`` attribute) as activity while it is open."""
        with self._lock:
            self._generation += 1
            self._direct.add(connection)
        return connection

    @property
    def generation(self) -> int | None:
        """The mark; None while a tracked direct connection is open (anything may be written)."""
        with self._lock:
            if any(not getattr(conn, "closed", True) for conn in list(self._direct)):
                return None
            return self._generation


_POSTGRES = WriteCounter()


def note_write() -> None:
    """A client sent bytes to a PostgreSQL server: its WAL may move."""
    _POSTGRES.note()


def track(connection: Any) -> Any:
    """Count ``connection`` (a direct psycopg connection) as activity while it is open."""
    return _POSTGRES.track(connection)


def generation() -> int | None:
    """PostgreSQL's mark; None while a direct connection is open."""
    return _POSTGRES.generation
