"""The run's error sink: errors of background threads, raised in the test's thread."""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import pytest

from pytest_drtest.clock import VirtualClock
from pytest_drtest.sink import BackgroundError, ErrorSink


def in_a_thread(fn: Callable[[], object], name: str = "drtest-worker") -> None:
    thread = threading.Thread(target=fn, name=name)
    thread.start()
    thread.join()


def test_one_error_is_raised_as_itself_naming_its_thread() -> None:
    sink = ErrorSink()
    error = KeyError("bug")
    in_a_thread(lambda: sink.report(error, "gateway us-east-1"))
    with pytest.raises(KeyError) as raised:
        sink.raise_errors()
    assert raised.value is error
    assert raised.value.__notes__ == ["(raised in a background thread of the emulated world: gateway us-east-1)"]
    sink.raise_errors()  # reported once, raised once


def test_several_errors_are_raised_together_the_first_as_the_cause() -> None:
    sink = ErrorSink()
    first, second = KeyError("a"), ValueError("b")
    sink.report(first, "gateway us-east-1")
    sink.report(second, "the DNS server")
    sink.report(first, "gateway us-east-1")  # the same error reported twice counts once
    with pytest.raises(BackgroundError, match=r"failed in 2 background threads: gateway us-east-1: KeyError: 'a'; "
                                              r"the DNS server: ValueError: b") as raised:
        sink.raise_errors()
    assert raised.value.__cause__ is first


def test_only_the_owners_thread_raises_at_a_check() -> None:
    sink = ErrorSink()
    sink.report(RuntimeError("x"), "somewhere")
    in_a_thread(sink.check)  # would raise in that thread if it raised anywhere
    assert len(sink.errors) == 1
    with pytest.raises(RuntimeError):
        sink.check()


def test_a_virtual_clock_raises_background_errors_at_its_next_sleep() -> None:
    clock = VirtualClock()
    in_a_thread(lambda: clock.errors.report(OSError("proxy"), "a proxy"))
    with pytest.raises(OSError, match="proxy"):
        clock.sleep(1)
    clock.sleep(1)


def test_exceptions_logged_by_other_threads_are_reported() -> None:
    sink = ErrorSink()
    log = logging.getLogger("pytest_drtest.dataplane")

    def accept_loop() -> None:  # as the data plane's proxies log what a connection raised
        try:
            raise ConnectionAbortedError("framing bug")
        except ConnectionAbortedError:
            log.exception("endpoint-1: dropping a connection")

    with sink.capturing_logs("pytest_drtest.dataplane"):
        in_a_thread(accept_loop, name="endpoint-1-accept")
        log.error("the test's own thread: not a background error")
        try:
            raise ValueError("raised in the test's thread: propagates there by itself")
        except ValueError:
            log.exception("also not")
    in_a_thread(accept_loop)  # after the block: not captured
    [reported] = sink.errors
    assert isinstance(reported.error, ConnectionAbortedError)
    assert reported.where == "endpoint-1-accept: endpoint-1: dropping a connection"


def test_exceptions_escaping_a_thread_are_reported() -> None:
    sink = ErrorSink()
    previous = threading.excepthook

    def pump() -> None:
        raise BrokenPipeError("pump bug")

    with sink.capturing_threads():
        in_a_thread(pump, name="db-link-up")
    assert threading.excepthook is previous
    [reported] = sink.errors
    assert isinstance(reported.error, BrokenPipeError) and reported.where == "thread db-link-up"
