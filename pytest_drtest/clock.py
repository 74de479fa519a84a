"""One clock per run: a discrete-event virtual clock for emulated backends, wall time on AWS.

Both clocks share the same scheduler: ``call_at``/``call_later``/``every`` register callbacks,
and ``sleep`` runs every callback due before the new time, in time order, then moves ``now``.
On :class:`VirtualClock` no real time passes; on :class:`RealClock` ``sleep`` really waits;
:class:`PacedClock` (``--dr-clock=paced:SPEED``) lets modeled time pass with wall time, SPEED
modeled seconds per real second, so that processes outside the test meet the modeled outage.
Exceptions raised by a callback propagate out of ``sleep`` into the caller (the test).

Every clock has a :class:`~pytest_drtest.lock.WorldLock` (``clock.lock``): scheduling and each
callback run under it, and so does every call into the emulated world from any thread. Every clock
also has the run's :class:`~pytest_drtest.sink.ErrorSink` (``clock.errors``): errors raised in the
world's background threads are raised in the test's thread at its next ``sleep``.
"""
from __future__ import annotations

import datetime as _dt
import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pytest_drtest.durations import parse_duration
from pytest_drtest.lock import WorldLock
from pytest_drtest.sink import ErrorSink

Seconds = float
DEFAULT_EPOCH = _dt.datetime(2026, 1, 5, 0, 0, 0, tzinfo=_dt.UTC)


@dataclass(order=True)
class Scheduled:
    """A callback registered on the clock; ``cancel()`` removes it."""

    when: float
    seq: int
    fn: Callable[[], Any] = field(compare=False)
    interval: float | None = field(default=None, compare=False)
    cancelled: bool = field(default=False, compare=False)
    name: str = field(default="", compare=False)
    unlocked: bool = field(default=False, compare=False)  # runs without the world lock (waits on the network)

    def cancel(self) -> None:
        self.cancelled = True


class Clock:
    """Scheduler shared by the virtual and the real clock."""

    modeled: bool = True
    kind: str = "virtual"

    def __init__(self, epoch: _dt.datetime = DEFAULT_EPOCH) -> None:
        if epoch.tzinfo is None:
            epoch = epoch.replace(tzinfo=_dt.UTC)
        self.epoch = epoch
        self._queue: list[Scheduled] = []
        self._seq = itertools.count()
        self._depth = 0
        self._before: list[Callable[[float, float], None]] = []
        self._after: list[Callable[[float, float], None]] = []
        self.lock = WorldLock()
        self.errors = ErrorSink()  # the run's background errors, raised at sleep in the creating thread

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
            except Exception:
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

    @property
    def passes_by_itself(self) -> bool:
        """True when ``now()`` moves with wall time; False when it moves only through the clock's
        own advance, which tells its listeners (``add_advance_listener``) every time."""
        return True

    def datetime(self, t: Seconds | None = None) -> _dt.datetime:
        """The UTC datetime of clock time ``t`` (default: now)."""
        return self.epoch + _dt.timedelta(seconds=self.now() if t is None else t)

    def seconds_at(self, when: _dt.datetime) -> Seconds:
        """Clock time of an aware (or naive UTC) datetime."""
        if when.tzinfo is None:
            when = when.replace(tzinfo=_dt.UTC)
        return (when - self.epoch).total_seconds()

    # -- scheduling -------------------------------------------------------------------------
    def call_at(self, t: Seconds, fn: Callable[[], Any], *, name: str = "", unlocked: bool = False) -> Scheduled:
        """Run ``fn`` when the clock reaches ``t`` (at once on the next sleep if ``t`` is past).

        ``unlocked=True``: ``fn`` runs without the world lock, for work that waits on the network
        (an HTTP probe); it takes the lock itself for what it changes in the world."""
        with self.lock:
            item = Scheduled(max(t, self.now()), next(self._seq), fn, name=name, unlocked=unlocked)
            heapq.heappush(self._queue, item)
        self._scheduled(item)
        return item

    def call_later(self, delay: Seconds | str, fn: Callable[[], Any], *, name: str = "", unlocked: bool = False) -> Scheduled:
        return self.call_at(self.now() + parse_duration(delay), fn, name=name, unlocked=unlocked)

    def every(
        self, interval: Seconds | str, fn: Callable[[], Any], *, start: Seconds | None = None, name: str = "",
        unlocked: bool = False,
    ) -> Scheduled:
        """Run ``fn`` every ``interval`` seconds, first at ``start`` (default: now + interval)."""
        step = parse_duration(interval)
        if step <= 0:
            raise ValueError(f"interval must be positive, got {interval!r}")
        with self.lock:
            first = self.now() + step if start is None else start
            item = Scheduled(first, next(self._seq), fn, interval=step, name=name, unlocked=unlocked)
            heapq.heappush(self._queue, item)
        self._scheduled(item)
        return item

    def _scheduled(self, item: Scheduled) -> None:
        """Hook: something was scheduled (the paced clock wakes its pacer)."""

    def pending(self) -> int:
        return sum(1 for item in self._queue if not item.cancelled)

    def _next_due(self, until: Seconds) -> Scheduled | None:
        """Pop the next callback due at or before ``until`` (re-arming a periodic one); the caller
        holds the lock."""
        while self._queue and self._queue[0].when <= until:
            item = heapq.heappop(self._queue)
            if item.cancelled:
                continue
            self._advance_to(item.when)
            if item.interval is not None:
                item.when += item.interval
                item.seq = next(self._seq)
                heapq.heappush(self._queue, item)
            return item
        return None

    def _run_due(self, until: Seconds) -> None:
        """Run every callback due at or before ``until`` in time order, each under the world lock
        (unless scheduled ``unlocked``)."""
        self._depth += 1
        try:
            while True:
                with self.lock:
                    item = self._next_due(until)
                    if item is None:
                        return
                    if not item.unlocked:
                        item.fn()
                        continue
                with self.lock.released():
                    item.fn()
        finally:
            self._depth -= 1

    def sleep(self, seconds: Seconds | str) -> None:
        """Let ``seconds`` pass, running every callback that falls due meanwhile."""
        delta = parse_duration(seconds, what="sleep")
        self.errors.check()
        target = self.now() + delta
        self._run_due(target)
        with self.lock:
            self._advance_to(target)
        self.errors.check()

    def close(self) -> None:
        """Stop background work (the paced clock's pacer); scheduled callbacks stay unrun."""

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

    @property
    def passes_by_itself(self) -> bool:
        return False

    def _set_now(self, t: Seconds) -> None:
        self._now = max(self._now, t)


class RealClock(Clock):
    """Wall time (``time.monotonic``) for runs against a real AWS account."""

    modeled = False
    kind = "real"

    def __init__(self) -> None:
        super().__init__(_dt.datetime.now(_dt.UTC))
        self._start = time.monotonic()

    def now(self) -> Seconds:
        return time.monotonic() - self._start

    def _set_now(self, t: Seconds) -> None:
        remaining = t - self.now()
        if remaining > 0:
            time.sleep(remaining)


class PacedClock(VirtualClock):
    """Modeled time that passes with wall time, ``speed`` modeled seconds per real second.

    Until :meth:`pace` is called (the harness calls it once the topology serves), it is a
    virtual clock: building a topology takes no wall time. Then a pacer thread runs callbacks
    as they fall due, also while the test waits on an external process; ``sleep`` waits
    ``seconds / speed`` of wall time. Errors raised by callbacks on the pacer thread are raised
    in the test at its next ``sleep`` (or :meth:`raise_errors`), through ``clock.errors``.
    """

    kind = "paced"

    def __init__(self, speed: float, epoch: _dt.datetime = DEFAULT_EPOCH) -> None:
        super().__init__(epoch)
        if not speed > 0:
            raise ValueError(f"speed must be positive, got {speed!r}")
        self.speed = float(speed)
        self._pacing = False
        self._base_virtual = 0.0
        self._base_wall = 0.0
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._notified = 0.0  # the clock time advance listeners last heard of

    @property
    def pacing(self) -> bool:
        return self._pacing

    @property
    def passes_by_itself(self) -> bool:
        return self._pacing

    def now(self) -> Seconds:
        if not self._pacing:
            return self._now
        return max(self._now, self._base_virtual + (time.monotonic() - self._base_wall) * self.speed)

    def pace(self) -> None:
        """From now on, modeled time passes with wall time."""
        if self._pacing:
            return
        with self.lock:
            self._base_virtual, self._base_wall = self._now, time.monotonic()
            self._notified = self._now
            self._pacing = True
        self._thread = threading.Thread(target=self._pacer, name="drtest-paced-clock", daemon=True)
        self._thread.start()

    def _scheduled(self, item: Scheduled) -> None:
        self._wake.set()

    def _advance_to(self, t: Seconds) -> None:
        if not self._pacing:
            super()._advance_to(t)
        else:
            self._set_now(t)  # time moves with the wall; the pacer tells the listeners

    def _pacer(self) -> None:
        while not self._stop.is_set():
            try:
                with self.lock:
                    old, new = self._notified, self.now()
                    if new > old and (self._before or self._after):
                        self._notify(self._before, old, new)
                        self._notify(self._after, old, new)
                    self._notified = new
                self._run_due(new)
            except BaseException as exc:  # noqa: BLE001 - handed to the test thread
                self.errors.report(exc, "the paced clock's pacer")
            with self.lock:
                due = self._queue[0].when if self._queue else None
            wait = 0.05 if due is None else min(0.05, max(0.0, (due - self.now()) / self.speed))
            self._wake.wait(wait)
            self._wake.clear()

    def raise_errors(self) -> None:
        """Raise (in the calling thread) what callbacks raised on the pacer thread (see :class:`ErrorSink`)."""
        self.errors.raise_errors()

    def sleep(self, seconds: Seconds | str) -> None:
        if not self._pacing:
            super().sleep(seconds)
            return
        delta = parse_duration(seconds, what="sleep")
        target = self.now() + delta
        with self.lock.released():
            while not self._stop.is_set():
                self.raise_errors()
                remaining = target - self.now()
                if remaining <= 0:
                    break
                time.sleep(min(remaining / self.speed, 0.05))
        self.raise_errors()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            with self.lock.released():
                self._thread.join(timeout=5)
        self._thread = None


def parse_clock_mode(value: str) -> tuple[str, float]:
    """``virtual`` or ``paced:SPEED`` (SPEED modeled seconds per real second, > 0)."""
    from pytest_drtest.errors import DrConfigError

    text = value.strip()
    if text == "virtual":
        return "virtual", 0.0
    if text.startswith("paced:"):
        raw = text[len("paced:"):]
        try:
            speed = float(raw)
        except ValueError:
            speed = float("nan")
        if speed > 0 and speed != float("inf"):
            return "paced", speed
    raise DrConfigError(
        f"--dr-clock: expected 'virtual' or 'paced:SPEED' with SPEED > 0 modeled seconds per real second "
        f"(e.g. paced:60), got {value!r}"
    )


class WaiterTime:
    """Stands in for ``botocore.waiter.time`` so that waiters sleep on the run's clock."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    def sleep(self, seconds: float) -> None:
        self._clock.sleep(seconds)

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)
