"""The paced clock: modeled time that passes with wall time, at a speed."""
from __future__ import annotations

import time

import pytest

from pytest_drtest.clock import PacedClock, parse_clock_mode
from pytest_drtest.errors import DrConfigError


def test_before_pacing_it_is_a_virtual_clock() -> None:
    clock = PacedClock(60)
    started = time.monotonic()
    clock.sleep("1h")
    assert clock.now() == 3600 and time.monotonic() - started < 0.5
    clock.close()


def test_paced_sleep_lasts_its_share_of_wall_time_and_runs_callbacks_in_order() -> None:
    clock = PacedClock(100)
    seen: list[tuple[str, float]] = []
    clock.call_later(20, lambda: seen.append(("b", clock.now())))
    clock.call_later(10, lambda: seen.append(("a", clock.now())))
    clock.pace()
    try:
        started = time.monotonic()
        clock.sleep(30)  # 30 modeled seconds at 100x: 0.3 s of wall time
        elapsed = time.monotonic() - started
        assert 0.25 <= elapsed < 2.0
        assert [name for name, _ in seen] == ["a", "b"]
        assert seen[0][1] >= 10 and seen[1][1] >= 20
        assert clock.now() >= 30
    finally:
        clock.close()


def test_callbacks_run_while_the_test_waits_on_something_else() -> None:
    clock = PacedClock(1000)
    ran: list[float] = []
    clock.pace()
    try:
        clock.call_later(50, lambda: ran.append(clock.now()))
        time.sleep(0.3)  # the test waits on an external process, not on the clock: 300 modeled s pass
        assert ran and ran[0] >= 50
        assert clock.now() >= 250
    finally:
        clock.close()


def test_an_error_in_a_callback_is_raised_in_the_test_at_its_next_sleep() -> None:
    clock = PacedClock(1000)
    clock.pace()
    try:
        clock.call_later(1, lambda: 1 / 0)
        with pytest.raises(ZeroDivisionError):
            clock.sleep(20)
    finally:
        clock.close()


@pytest.mark.parametrize(("text", "expected"), [("virtual", ("virtual", 0.0)), ("paced:60", ("paced", 60.0)), ("paced:0.5", ("paced", 0.5))])
def test_clock_modes_parse(text: str, expected: tuple[str, float]) -> None:
    assert parse_clock_mode(text) == expected


@pytest.mark.parametrize("text", ["paced:0", "paced:x", "fast", "paced:", "paced:-1", "paced:inf"])
def test_bad_clock_modes_name_the_text(text: str) -> None:
    with pytest.raises(DrConfigError, match=repr(text).replace("[", r"\[")):
        parse_clock_mode(text)
