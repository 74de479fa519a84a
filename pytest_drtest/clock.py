"""One clock per run: a discrete-event virtual clock for emulated backends, wall time on AWS.

Both clocks share the same scheduler: ``call_at``/``call_later``/``every`` register callbacks,
and ``sleep`` runs every callback due before the new time, in time order, then moves ``now``.
On :class:`VirtualClock` no real time passes; on :class:`RealClock` ``sleep`` really waits.
Exceptions raised by a callback propagate out of ``sleep`` into the caller (the test).
"""
from __future__ import annotations

import datetime as _dt
import heapq
import itertools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pytest_drtest.durations import parse_duration

Seconds = float
DEFAULT_EPOCH = _dt.datetime(2026, 1, 5, 0, 0, 0, tzinfo=_dt.timezone.utc)


@dataclass(order=True)
class Scheduled:
    """A callback registered on the clock; ``cancel()`` removes it."""

    when: float
    seq: int
    fn: Callable[[], Any] = field(compare=False)
    interval: float | None = field(default=None, compare=False)
    cancelled: bool = field(default=False, compare=False)
    name: str = field(default="", compare=False)

    def cancel(self) -> None:
        self.cancelled = True


class Clock:
    """Scheduler shared by the virtual and the real clock."""

    modeled: bool = True
    kind: str = "virtual"

    def __init__(self, epoch: _dt.datetime = DEFAULT_EPOCH) -> None:
        if epoch.tzinfo is None:
            epoch = epoch.replace(tzinfo=_dt.timezone.utc)
        self.epoch = epoch
        self._queue: list[Scheduled] = []
        self._seq = itertools.count()
        self._depth = 0
        self._before: list[Callable[[float, float], None]] = []
        self._after: list[Callable[[float, float], None]] = []

    # -- listeners ----------------------------------------------------------------------------
    def add_advance_listener(
        self,
        before: Callable[[float, float], None] | None = None,
        after: Callable[[float, float], None] | None = None,
    ) -> Callable[[], None]:
        """Call ``before(old, new)`` just before the clock moves forward and ``after(old, new)``
        just after (e.g. the data plane tags replication traffic with clock times). Exceptions in
        listeners are logged, never raised into the clock. Returns a function removing both."""
        if before is not None:
            self._before.append(before)
        if after is not None:
            self._after.append(after)

        def remove() -> None:
            for hooks, hook in ((self._before, before), (self._after, after)):
                if hook is not None and hook in hooks:
                    hooks.remove(hook)

        return remove

    def _notify(self, hooks: list[Callable[[float, float], None]], old: float, new: float) -> None:
        for hook in list(hooks):
            try:
                hook(old, new)
            except Exception:  # noqa: BLE001 - a listener's hiccup must not break the run's clock
                logging.getLogger("pytest_drtest.clock").exception("clock listener %r failed", hook)

    def _advance_to(self, t: Seconds) -> None:
        old = self.now()
        if t <= old or not (self._before or self._after):
            self._set_now(t)
            return
        self._notify(self._before, old, t)
        self._set_now(t)
        self._notify(self._after, old, t)

    def _set_now(self, t: Seconds) -> None:
        raise NotImplementedError

    # -- time -------------------------------------------------------------------------------
    def now(self) -> Seconds:
        raise NotImplementedError

    def datetime(self, t: Seconds | None = None) -> _dt.datetime:
        """The UTC datetime of clock time ``t`` (default: now)."""
        return self.epoch + _dt.timedelta(seconds=self.now() if t is None else t)

    def seconds_at(self, when: _dt.datetime) -> Seconds:
        """Clock time of an aware (or naive UTC) datetime."""
        if when.tzinfo is None:
            when = when.replace(tzinfo=_dt.timezone.utc)
        return (when - self.epoch).total_seconds()

    # -- scheduling -------------------------------------------------------------------------
    def call_at(self, t: Seconds, fn: Callable[[], Any], *, name: str = "") -> Scheduled:
        """Run ``fn`` when the clock reaches ``t`` (at once on the next sleep if ``t`` is past)."""
        item = Scheduled(max(t, self.now()), next(self._seq), fn, name=name)
        heapq.heappush(self._queue, item)
        return item

    def call_later(self, delay: Seconds | str, fn: Callable[[], Any], *, name: str = "") -> Scheduled:
        return self.call_at(self.now() + parse_duration(delay), fn, name=name)

    def every(
        self, interval: Seconds | str, fn: Callable[[], Any], *, start: Seconds | None = None, name: str = ""
    ) -> Scheduled:
        """Run ``fn`` every ``interval`` seconds, first at ``start`` (default: now + interval)."""
        step = parse_duration(interval)
        if step <= 0:
            raise ValueError(f"interval must be positive, got {interval!r}")
        first = self.now() + step if start is None else start
        item = Scheduled(first, next(self._seq), fn, interval=step, name=name)
        heapq.heappush(self._queue, item)
        return item

    def pending(self) -> int:
        return sum(1 for item in self._queue if not item.cancelled)

    def _run_due(self, until: Seconds) -> None:
        """Run every callback due at or before ``until`` in time order."""
        self._depth += 1
        try:
            while self._queue and self._queue[0].when <= until:
                item = heapq.heappop(self._queue)
                if item.cancelled:
                    continue
                self._advance_to(item.when)
                if item.interval is not None:
                    item.when += item.interval
                    item.seq = next(self._seq)
                    heapq.heappush(self._queue, item)
                item.fn()
        finally:
            self._depth -= 1

    def sleep(self, seconds: Seconds | str) -> None:
        """Let ``seconds`` pass, running every callback that falls due meanwhile."""
        delta = parse_duration(seconds, what="sleep")
        target = self.now() + delta
        self._run_due(target)
        self._advance_to(target)

    def run_until(self, predicate: Callable[[], bool], *, timeout: Seconds | str, step: Seconds | str = 1.0) -> bool:
        """Sleep in ``step`` increments until ``predicate()`` is true or ``timeout`` passes."""
        deadline = self.now() + parse_duration(timeout, what="timeout")
        step_s = parse_duration(step, what="step")
        while not predicate():
            if self.now() >= deadline:
                return False
            self.sleep(min(step_s, deadline - self.now()))
        return True


class VirtualClock(Clock):
    """Discrete-event clock: hours of modeled time run in the milliseconds the calls cost."""

    modeled = True
    kind = "virtual"

    def __init__(self, epoch: _dt.datetime = DEFAULT_EPOCH) -> None:
        super().__init__(epoch)
        self._now = 0.0

    def now(self) -> Seconds:
        return self._now

    def _set_now(self, t: Seconds) -> None:
        if t > self._now:
            self._now = t


class RealClock(Clock):
    """Wall time (``time.monotonic``) for runs against a real AWS account."""

    modeled = False
    kind = "real"

    def __init__(self) -> None:
        super().__init__(_dt.datetime.now(_dt.timezone.utc))
        self._start = time.monotonic()

    def now(self) -> Seconds:
        return time.monotonic() - self._start

    def _set_now(self, t: Seconds) -> None:
        remaining = t - self.now()
        if remaining > 0:
            time.sleep(remaining)


class WaiterTime:
    """Stands in for ``botocore.waiter.time`` so that waiters sleep on the run's clock."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    def sleep(self, seconds: float) -> None:
        self._clock.sleep(seconds)

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)
