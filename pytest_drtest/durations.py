"""Parsing and formatting of durations such as ``250ms``, ``30s``, ``5m``, ``1h30m``."""
from __future__ import annotations

import re

from pytest_drtest.errors import DrConfigError

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_WHOLE = re.compile(r"^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+$")
# ISO 8601 durations without years and months (their length varies): PnW, PnDTnHnMnS.
_ISO = re.compile(
    r"^P(?:(?P<w>\d+(?:\.\d+)?)W|(?:(?P<d>\d+(?:\.\d+)?)D)?"
    r"(?:T(?=\d)(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?)$"
)


def parse_duration(value: str | float, *, what: str = "duration") -> float:
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


def parse_iso_duration(value: str, *, what: str = "duration") -> float:
    """Seconds of an ISO 8601 duration such as ``PT10M``, ``PT1H30M``, ``PT0.5S``, ``P1D``, ``P2W``.

    The form AWS FIS action parameters (``duration``, ``startInstancesAfterDuration``) and SSM
    Automation ``aws:sleep`` take. Years and months are refused (their length varies), and so is a
    bare ``P`` or ``PT``. isodate is not a dependency; this is the subset those services use.
    """
    match = _ISO.match(value.strip().upper()) if isinstance(value, str) else None
    if match is None or value.strip().upper() in ("P", "PT"):
        raise DrConfigError(
            f"{what}: {value!r} is not an ISO 8601 duration; expected e.g. 'PT30S', 'PT10M', 'PT1H30M', 'P1D'"
        )
    units = {"w": 604800.0, "d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}
    return sum(float(number) * units[key] for key, number in match.groupdict().items() if number is not None)


def format_iso_duration(seconds: float) -> str:
    """``PT1H30M``, ``PT45S``, ``PT0S``: the inverse of :func:`parse_iso_duration` (hours at most)."""
    total = round(seconds, 3)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    text = "PT" + (f"{int(hours)}H" if hours else "") + (f"{int(minutes)}M" if minutes else "")
    if secs or text == "PT":
        text += f"{secs:g}S"
    return text


def format_duration(seconds: float | None) -> str:
    """Format seconds for humans: ``1.0s``, ``3m12s``, ``2h05m``; ``-`` for None."""
    if seconds is None:
        return "-"
    if seconds < 0:
        return "-" + format_duration(-seconds)
    if seconds < 60:
        return f"{seconds:.1f}s"
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s"
