"""CloudWatch metric alarms that evaluate on the clock (moto's never do); the probe's error rate as a metric."""
from __future__ import annotations

from pytest_drtest.emulation.cloudwatch.models import (
    ALARM,
    INSUFFICIENT_DATA,
    OK,
    Alarm,
    Datapoint,
)
from pytest_drtest.emulation.cloudwatch.probe_metrics import (
    PROBE_METRIC,
    PROBE_NAMESPACE,
    ProbeMetrics,
)
from pytest_drtest.emulation.cloudwatch.responses import CloudWatchEmulator

__all__ = [
    "ALARM",
    "INSUFFICIENT_DATA",
    "OK",
    "PROBE_METRIC",
    "PROBE_NAMESPACE",
    "Alarm",
    "CloudWatchEmulator",
    "Datapoint",
    "ProbeMetrics",
]
