"""The world lock: one re-entrant lock that orders every change to the emulated world.

The emulated world (moto's state, the emulators' models, the clock's queue) is reached from the
test's thread and, once it is served on the network, from the gateway's, the DNS server's and the
web tier's threads. Each unit of work takes the lock: an API call, a clock callback, a gateway
request, a DNS answer. A thread that must wait on the network for another thread of the world
(a probe's HTTP request that the web tier serves through the gateway) first gives the lock up
entirely with :meth:`WorldLock.released`, so that waiting never deadlocks.
"""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Self


class WorldLock:
    """A re-entrant lock that a thread can give up entirely while it waits on the network."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owner: int | None = None
        self._depth = 0

    def acquire(self) -> None:
        me = threading.get_ident()
        if self._owner == me:
            self._depth += 1
            return
        self._lock.acquire()
        self._owner, self._depth = me, 1

    def release(self) -> None:
        if self._owner != threading.get_ident():
            raise RuntimeError("the world lock is released by a thread that does not hold it")
        self._depth -= 1
        if self._depth == 0:
            self._owner = None
            self._lock.release()

    def held(self) -> bool:
        """True if the calling thread holds the lock."""
        return self._owner == threading.get_ident()

    def __enter__(self) -> Self:
        self.acquire()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.release()

    @contextmanager
    def released(self) -> Iterator[None]:
        """Give the lock up entirely for the block (if this thread holds it), then take it back."""
        if self._owner != threading.get_ident():
            yield
            return
        depth = self._depth
        self._owner, self._depth = None, 0
        self._lock.release()
        try:
            yield
        finally:
            self._lock.acquire()
            self._owner, self._depth = threading.get_ident(), depth
