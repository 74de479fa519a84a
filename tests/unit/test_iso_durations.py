"""ISO 8601 durations, as FIS action parameters and SSM aws:sleep take them."""
from __future__ import annotations

import pytest

from pytest_drtest.durations import format_iso_duration, parse_iso_duration
from pytest_drtest.errors import DrConfigError


@pytest.mark.parametrize(("text", "seconds"), [
    ("PT10M", 600.0), ("PT1H30M", 5400.0), ("PT0.5S", 0.5), ("P1D", 86400.0), ("P2W", 1209600.0), ("P1DT2H", 93600.0), ("pt30s", 30.0),
])
def test_iso_durations_read_in_seconds(text: str, seconds: float) -> None:
    assert parse_iso_duration(text) == seconds


@pytest.mark.parametrize("text", ["P", "PT", "P1M", "P1Y", "PT1X", "10m", "PT-5S"])
def test_other_text_is_refused_with_the_forms_expected(text: str) -> None:
    with pytest.raises(DrConfigError, match=f"{text!r} is not an ISO 8601 duration; expected e.g. 'PT30S', 'PT10M'"):
        parse_iso_duration(text)


@pytest.mark.parametrize(("seconds", "text"), [(0, "PT0S"), (45, "PT45S"), (252, "PT4M12S"), (5400, "PT1H30M"), (90000, "PT25H")])
def test_iso_durations_written_back(seconds: float, text: str) -> None:
    assert format_iso_duration(seconds) == text
    assert parse_iso_duration(text) == seconds
