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

import math
from collections.abc import Callable, Sequence
from typing import Any

import botocore.exceptions

from pytest_drtest.emulation.cloudwatch.models import Datapoint
from pytest_drtest.emulation.cloudwatch.responses import CloudWatchEmulator

PROBE_NAMESPACE = "DrTest/Probe"
PROBE_METRIC = "ErrorRate"
MINUTE = 60.0  # CloudWatch standard resolution [CW-UG:publishingMetrics]


class ProbeMetrics:
    """Publishes one probe's error rate every minute; ``stop()`` ends it."""

    def __init__(self, emulator: CloudWatchEmulator, samples: Callable[[], Sequence[Any]], *, region: str, probe: str) -> None:
        self.emulator = emulator
        self.samples = samples
        self.region = region
        self.probe = probe
        clock = emulator.clock
        first = math.floor(clock.now() / MINUTE) * MINUTE + MINUTE
        self._handle = clock.every(MINUTE, self.publish, start=first, name=f"cloudwatch {probe} error rate")
        self._published = first - MINUTE  # the minute before the probe started has no ticks of it

    def publish(self) -> None:
        end = math.floor(self.emulator.clock.now() / MINUTE) * MINUTE
        while self._published < end:
            start, self._published = self._published, self._published + MINUTE
            self._publish_minute(start)

    def _publish_minute(self, start: float) -> None:
        ticks = [s for s in self.samples() if start <= s.t < start + MINUTE]
        if not ticks or not self.emulator.world.region_up(self.region):
            return
        failed = sum(1 for s in ticks if not s.ok)
        point = Datapoint(start, float(len(ticks)), 100.0 * failed, 100.0 if failed == len(ticks) else 0.0, 100.0 if failed else 0.0)
        dimensions = frozenset({("Probe", self.probe)})
        try:
            self.emulator.backdoor(self.region).put_metric_data(Namespace=PROBE_NAMESPACE, MetricData=[{
                "MetricName": PROBE_METRIC, "Dimensions": [{"Name": "Probe", "Value": self.probe}],
                "Timestamp": self.emulator.clock.datetime(start), "Unit": "Percent",
                "StatisticValues": {"SampleCount": point.sample_count, "Sum": point.total, "Minimum": point.minimum,
                                    "Maximum": point.maximum},
            }])
        except botocore.exceptions.ClientError:
            pass  # moto refused the timestamp: the emulation's own store still has the datapoint
        self.emulator.record(self.region, PROBE_NAMESPACE, PROBE_METRIC, dimensions, point)

    def stop(self) -> None:
        self._handle.cancel()
