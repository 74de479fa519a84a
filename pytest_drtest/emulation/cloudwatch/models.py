"""CloudWatch metric alarms: datapoints, statistics and the M-of-N evaluation, as pure functions.

[CW-UG:AlarmThatSendsEmail] "Evaluating an alarm": an alarm looks at the last
``EvaluationPeriods`` (N) periods of ``Period`` seconds and goes to ``ALARM`` when
``DatapointsToAlarm`` (M, default N) of them breach the threshold. Missing data
([CW-UG:AlarmThatSendsEmail] "Configuring how CloudWatch alarms treat missing data"):
``missing`` (default) ignores missing periods and goes to ``INSUFFICIENT_DATA`` when all N are
missing; ``notBreaching`` counts them as good, ``breaching`` as bad; ``ignore`` keeps the current
state when all N are missing. States and fields follow [BC:cloudwatch] ``MetricAlarm``.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

OK = "OK"
ALARM = "ALARM"
INSUFFICIENT_DATA = "INSUFFICIENT_DATA"

#: [BC:cloudwatch] ComparisonOperator (the anomaly-detection ones need a band: not evaluated).
COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "GreaterThanOrEqualToThreshold": lambda value, threshold: value >= threshold,
    "GreaterThanThreshold": lambda value, threshold: value > threshold,
    "LessThanThreshold": lambda value, threshold: value < threshold,
    "LessThanOrEqualToThreshold": lambda value, threshold: value <= threshold,
}
STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")  # [BC:cloudwatch] Statistic
TREAT_MISSING = ("breaching", "notBreaching", "ignore", "missing")  # [CW-UG:AlarmThatSendsEmail]

Dimensions = frozenset[tuple[str, str]]


def dimensions_of(raw: Iterable[dict[str, str]] | None) -> Dimensions:
    """``[{"Name": ..., "Value": ...}]`` -> a hashable set of pairs."""
    return frozenset((d["Name"], d["Value"]) for d in raw or [])


@dataclass(frozen=True)
class Datapoint:
    """One published value (or statistic set) at clock time ``t``."""

    t: float
    sample_count: float
    total: float
    minimum: float
    maximum: float


def aggregate(points: list[Datapoint], statistic: str) -> float | None:
    """The statistic of the datapoints of one period; None when the period has none."""
    if not points:
        return None
    count = sum(p.sample_count for p in points)
    total = sum(p.total for p in points)
    if statistic == "SampleCount":
        return count
    if statistic == "Sum":
        return total
    if statistic == "Minimum":
        return min(p.minimum for p in points)
    if statistic == "Maximum":
        return max(p.maximum for p in points)
    return total / count if count else None  # Average


@dataclass
class Alarm:
    """A metric alarm of one region, as the emulation evaluates it."""

    region: str
    name: str
    arn: str
    namespace: str
    metric: str
    dimensions: Dimensions
    statistic: str | None
    period: float
    evaluation_periods: int
    datapoints_to_alarm: int
    threshold: float
    comparison: str
    treat_missing: str
    evaluable: bool  # False for metric-math, percentile and anomaly-band alarms: they stay INSUFFICIENT_DATA
    state: str = INSUFFICIENT_DATA
    reason: str = "Unchecked: Initial alarm creation"
    updated_at: float = 0.0
    history: list[tuple[float, str, str]] = field(default_factory=list)  # (t, state, reason)
    deleted: bool = False


def evaluate(alarm: Alarm, values: list[float | None]) -> tuple[str, str]:
    """The alarm's state for the last N period values (oldest first) and the reason CloudWatch gives."""
    compare = COMPARISONS[alarm.comparison]
    present = [v for v in values if v is not None]
    missing = len(values) - len(present)
    breaching = sum(1 for v in present if compare(v, alarm.threshold))
    if alarm.treat_missing == "breaching":
        breaching += missing
    if not present and alarm.treat_missing == "missing":
        return INSUFFICIENT_DATA, f"Insufficient Data: {len(values)} datapoints were unknown."
    if not present and alarm.treat_missing == "ignore":
        return alarm.state, alarm.reason
    shown = ", ".join(f"{v:g}" for v in present[-5:]) or "none"
    verdict = "was" if breaching >= alarm.datapoints_to_alarm else "was not"
    reason = (
        f"Threshold Crossed: {breaching} out of the last {len(values)} datapoints [{shown}] {verdict} "
        f"{_phrase(alarm.comparison)} the threshold ({alarm.threshold:g})"
    )
    return (ALARM if breaching >= alarm.datapoints_to_alarm else OK), reason


def _phrase(comparison: str) -> str:
    return {
        "GreaterThanOrEqualToThreshold": "greater than or equal to",
        "GreaterThanThreshold": "greater than",
        "LessThanThreshold": "less than",
        "LessThanOrEqualToThreshold": "less than or equal to",
    }[comparison]
