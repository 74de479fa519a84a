"""Parsing and formatting of durations such as ``250ms``, ``30s``, ``5m``, ``1h30m``."""
from __future__ import annotations

import re

from pytest_drtest.errors import DrConfigError

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_WHOLE = re.compile(r"^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+$")


def parse_duration(value: str | int | float, *, what: str = "duration") -> float:
    """Return ``value`` in seconds.

    Accepts a number of seconds or a string of ``<number><unit>`` parts with units
    ``ms``, ``s``, ``m``, ``h``, ``d`` (e.g. ``1h30m``). Anything else raises
    :class:`DrConfigError` quoting the text.
    """
    if isinstance(value, bool):
        raise DrConfigError(f"{what}: expected a duration like '30s', '5m' or '1h30m', got {value!r}")
    if isinstance(value, (int, float)):
        if value < 0:
            raise DrConfigError(f"{what}: a duration cannot be negative, got {value!r}")
        return float(value)
    if not isinstance(value, str):
        raise DrConfigError(f"{what}: expected a duration like '30s', '5m' or '1h30m', got {value!r}")
    text = value.strip().lower()
    if not text or not _WHOLE.match(text):
        raise DrConfigError(
            f"{what}: {value!r} is not a duration; expected <number><unit> parts with units ms, s, m, h, d "
            "(e.g. '250ms', '30s', '5m', '1h30m')"
        )
    return sum(float(num) * _UNITS[unit] for num, unit in _PART.findall(text))


def format_duration(seconds: float | None) -> str:
    """Format seconds for humans: ``1.0s``, ``3m12s``, ``2h05m``; ``-`` for None."""
    if seconds is None:
        return "-"
    if seconds < 0:
        return "-" + format_duration(-seconds)
    if seconds < 60:
        return f"{seconds:.1f}s"
    total = int(round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s"
