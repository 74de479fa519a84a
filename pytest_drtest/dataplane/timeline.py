"""Joining the run's clock to PostgreSQL's wall time.

PostgreSQL stamps each commit with the wall time (``recovery_target_time`` compares against it),
while the harness lives on a :class:`~pytest_drtest.clock.VirtualClock`. :class:`ClockTimeline`
records, every time the clock moves, the wall time at which it left its old value. A commit
acknowledged while the clock read ``T`` therefore carries a wall timestamp before the moment the
clock left ``T``, and one made later carries a later timestamp: :meth:`ClockTimeline.wall_time_of`
gives that moment, the exact PITR target for "everything committed at or before clock time T".

:func:`on_advance` registers with the clock's listener API (``Clock.add_advance_listener``).
"""
from __future__ import annotations

import bisect
import logging
import threading
import time
from collections.abc import Callable

from pytest_drtest.clock import Clock

log = logging.getLogger("pytest_drtest.dataplane")

AdvanceHook = Callable[[float, float], None]  # (old clock time, new clock time)


def on_advance(
    clock: Clock, *, before: AdvanceHook | None = None, after: AdvanceHook | None = None
) -> Callable[[], None]:
    """Call ``before(old, new)`` just before the clock moves forward and ``after(old, new)`` just after.

    Hooks run in the thread that moves the clock; an exception in a hook is logged, never raised
    into the clock. Returns a function that removes both hooks (see ``Clock.add_advance_listener``).
    """
    return clock.add_advance_listener(before, after)


class ClockTimeline:
    """Maps clock times to the wall times PostgreSQL stamps commits with."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._started_clock = clock.now()
        self._started_wall = time.time()
        self._new_values: list[float] = []  # clock value after each move (non-decreasing)
        self._walls: list[float] = []  # wall time just before that move
        self._remove: Callable[[], None] | None = None
        if clock.modeled:
            self._remove = on_advance(clock, before=self._record)

    def _record(self, old: float, new: float) -> None:
        with self._lock:
            self._new_values.append(new)
            self._walls.append(time.time())

    def wall_time_of(self, t: float) -> float:
        """Unix time at which the clock left the last value ``<= t`` (now if it has not yet)."""
        if not self.clock.modeled:
            return time.time() - (self.clock.now() - t)
        if t < self._started_clock:
            return self._started_wall
        with self._lock:
            index = bisect.bisect_right(self._new_values, t)
            if index < len(self._walls):
                return self._walls[index]
        return time.time()

    def close(self) -> None:
        if self._remove is not None:
            self._remove()
            self._remove = None

    def __repr__(self) -> str:
        return f"ClockTimeline(moves={len(self._walls)}, started_at={self._started_clock!r})"
