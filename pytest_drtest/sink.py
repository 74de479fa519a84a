"""One error sink per run: errors raised in the world's background threads, raised in the test.

The emulated world answers from threads of its own: the gateways' and the DNS server's request
threads, the web tier's load balancers, the data plane's proxies, the paced clock's pacer. An
exception there cannot propagate to the test, so it is reported to the run's :class:`ErrorSink`
(``clock.errors``) and raised in the test's thread at its next clock sleep and at teardown.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from pytest_drtest.errors import DrError


class BackgroundError(DrError):
    """Several errors raised in background threads of the emulated world (the first is the cause)."""


@dataclass(frozen=True)
class Reported:
    """One error and the thread (or part of the world) it came from."""

    where: str
    error: BaseException

    def describe(self) -> str:
        return f"{self.where}: {type(self.error).__name__}: {self.error}"


class ErrorSink:
    """Collects errors from any thread; :meth:`raise_errors` raises them in the owner's thread.

    One error is raised as itself (its traceback points at the bug), with a note naming the
    thread; several are raised as one :class:`BackgroundError` listing them all.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._errors: list[Reported] = []
        self.owner = threading.get_ident()  # the thread that raises (the test's)

    def report(self, error: BaseException, where: str | None = None) -> None:
        """Keep ``error`` (raised in ``where``, default: the current thread's name); thread-safe."""
        with self._lock:
            if any(r.error is error for r in self._errors):
                return
            self._errors.append(Reported(where or threading.current_thread().name, error))

    def reporter(self, where: str) -> Callable[[BaseException], None]:
        """A callback ``on_error(exc)`` reporting from ``where`` (for servers and threads)."""

        def on_error(error: BaseException) -> None:
            self.report(error, where)

        return on_error

    @property
    def errors(self) -> list[Reported]:
        with self._lock:
            return list(self._errors)

    def __bool__(self) -> bool:
        return bool(self._errors)

    def take(self) -> list[Reported]:
        """The errors reported so far, forgetting them."""
        with self._lock:
            taken, self._errors = self._errors, []
        return taken

    def raise_errors(self) -> None:
        """Raise what was reported (and forget it); nothing when nothing was."""
        taken = self.take()
        if not taken:
            return
        if len(taken) == 1:
            error = taken[0].error
            error.add_note(f"(raised in a background thread of the emulated world: {taken[0].where})")
            raise error
        listing = "; ".join(r.describe() for r in taken)
        raise BackgroundError(f"the emulated world failed in {len(taken)} background threads: {listing}") from taken[0].error

    def check(self) -> None:
        """:meth:`raise_errors` if called from the owner's thread (other threads never raise them)."""
        if self._errors and threading.get_ident() == self.owner:
            self.raise_errors()

    # -- sources that cannot call report() themselves ----------------------------------------------
    @contextmanager
    def capturing_logs(self, *loggers: str) -> Iterator[None]:
        """Report exceptions that ``loggers`` log (``log.exception``) from other threads than the owner's."""
        handler = _SinkHandler(self)
        targets = [logging.getLogger(name) for name in loggers]
        for logger in targets:
            logger.addHandler(handler)
        try:
            yield
        finally:
            for logger in targets:
                logger.removeHandler(handler)

    @contextmanager
    def capturing_threads(self) -> Iterator[None]:
        """Report exceptions that escape a thread's target (``threading.excepthook``) meanwhile."""
        previous = threading.excepthook

        def hook(args: Any) -> None:
            if args.exc_type is SystemExit or args.exc_value is None:
                previous(args)
                return
            name = args.thread.name if args.thread is not None else "a thread"
            self.report(args.exc_value, f"thread {name}")

        threading.excepthook = hook
        try:
            yield
        finally:
            if threading.excepthook is hook:
                threading.excepthook = previous


class _SinkHandler(logging.Handler):
    def __init__(self, sink: ErrorSink) -> None:
        super().__init__(logging.ERROR)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info is None or record.exc_info[1] is None or record.thread == self.sink.owner:
            return
        self.sink.report(record.exc_info[1], f"{record.threadName}: {record.getMessage()}")
