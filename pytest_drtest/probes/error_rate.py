"""A probe's error rate, one CloudWatch datapoint per minute of clock time.

Each minute ``[m, m + 60)`` of ticks becomes one ``DrTest/Probe`` ``ErrorRate`` datapoint at ``m``
(unit ``Percent``; a failed tick counts 100, a good one 0), published once the minute is over;
CloudWatch's standard resolution is one minute ([CW-UG:publishingMetrics]). Where the datapoint
goes is the subclass's: the emulated world's CloudWatch
(:class:`~pytest_drtest.emulation.cloudwatch.probe_metrics.ProbeMetrics`) or the account's
(:class:`~pytest_drtest.backends.aws_faults.AccountProbeMetrics`).
"""
from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Sequence
from typing import Any

PROBE_NAMESPACE = "DrTest/Probe"
PROBE_METRIC = "ErrorRate"
MINUTE = 60.0


class MinuteErrorRate:
    """Publishes the ticks of each finished minute; ``stop()`` ends it. ``samples`` returns the
    probe's ticks in time order (a probe only appends), so a minute is found by bisection."""

    def __init__(self, clock: Any, samples: Callable[[], Sequence[Any]], *, probe: str) -> None:
        self.clock = clock
        self.samples = samples
        self.probe = probe
        first = math.floor(clock.now() / MINUTE) * MINUTE + MINUTE
        self._handle = clock.every(MINUTE, self.publish, start=first, name=f"cloudwatch {probe} error rate")
        self._published = first - MINUTE  # the minute before the probe started has no ticks of it

    def publish(self) -> None:
        end = math.floor(self.clock.now() / MINUTE) * MINUTE
        while self._published < end:
            start, self._published = self._published, self._published + MINUTE
            if self.ready():
                ticks = self.ticks_of(start)
                if ticks:
                    self.put(start, len(ticks), sum(1 for s in ticks if not s.ok))

    def ticks_of(self, start: float) -> Sequence[Any]:
        """The ticks of the minute ``[start, start + 60)``."""
        samples = self.samples()
        lo = bisect.bisect_left(samples, start, key=lambda s: s.t)
        hi = bisect.bisect_left(samples, start + MINUTE, lo=lo, key=lambda s: s.t)
        return samples[lo:hi]

    def ready(self) -> bool:
        """Whether a datapoint can be sent now (False: the minute is missing data)."""
        return True

    def put(self, start: float, count: int, failed: int) -> None:
        raise NotImplementedError

    @staticmethod
    def metric_data(clock: Any, start: float, count: int, failed: int, probe: str) -> dict[str, Any]:
        """The ``PutMetricData`` arguments of one minute's statistic set."""
        return {"Namespace": PROBE_NAMESPACE, "MetricData": [{
            "MetricName": PROBE_METRIC, "Dimensions": [{"Name": "Probe", "Value": probe}],
            "Timestamp": clock.datetime(start), "Unit": "Percent",
            "StatisticValues": {"SampleCount": float(count), "Sum": 100.0 * failed,
                                "Minimum": 100.0 if failed == count else 0.0, "Maximum": 100.0 if failed else 0.0},
        }]}

    def stop(self) -> None:
        self._handle.cancel()
