"""The probe's error rate, published to CloudWatch once a minute: what a team's alarms (and FIS stop
conditions) watch.

Namespace ``DrTest/Probe``, metric ``ErrorRate`` (unit ``Percent``), dimension ``Probe`` (the
probe's name: ``probe``, ``probe2``, ...), in the primary region. Each minute of clock time
``[m, m + 60)`` becomes one datapoint at ``m`` with the statistic set of that minute's ticks (a
failed tick counts 100, a good one 0): ``Average`` is the percentage of failed ticks,
``SampleCount`` the ticks. CloudWatch's standard resolution is one minute ([CW-UG:publishingMetrics]).
The probe stands outside the world like a canary in another network; while the primary region is
lost its CloudWatch endpoint is too, and those minutes are missing data.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import botocore.exceptions

from pytest_drtest.emulation.cloudwatch.models import Datapoint
from pytest_drtest.emulation.cloudwatch.responses import CloudWatchEmulator
from pytest_drtest.probes.error_rate import (
    MINUTE,
    PROBE_METRIC,
    PROBE_NAMESPACE,
    MinuteErrorRate,
)

__all__ = ["MINUTE", "PROBE_METRIC", "PROBE_NAMESPACE", "ProbeMetrics"]


class ProbeMetrics(MinuteErrorRate):
    """Publishes one probe's error rate to the emulated CloudWatch every minute; ``stop()`` ends it."""

    def __init__(self, emulator: CloudWatchEmulator, samples: Callable[[], Sequence[Any]], *, region: str, probe: str) -> None:
        self.emulator = emulator
        self.region = region
        super().__init__(emulator.clock, samples, probe=probe)

    def ready(self) -> bool:
        return self.emulator.world.region_up(self.region)  # a lost region's CloudWatch is lost too

    def put(self, start: float, count: int, failed: int) -> None:
        point = Datapoint(start, float(count), 100.0 * failed, 100.0 if failed == count else 0.0, 100.0 if failed else 0.0)
        try:
            self.emulator.backdoor(self.region).put_metric_data(**self.metric_data(self.clock, start, count, failed, self.probe))
        except botocore.exceptions.ClientError:
            pass  # moto refused the timestamp: the emulation's own store still has the datapoint
        self.emulator.record(self.region, PROBE_NAMESPACE, PROBE_METRIC, frozenset({("Probe", self.probe)}), point)
