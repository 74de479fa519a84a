"""Metric data and alarm evaluation on the clock.

Datapoints come from ``PutMetricData`` calls made in the emulated world (``Value``, ``Values`` with
``Counts``, or ``StatisticValues``; ``Timestamp`` in clock time, default now). AWS services' own
metrics (``AWS/EC2`` and the like) are not emitted. Each alarm is evaluated every
``min(Period, 60)`` seconds ([CW-UG:AlarmThatSendsEmail]: alarms with a period of a minute or
more are evaluated every minute; high-resolution alarms every period) and after each datapoint of
its metric, over the last N whole periods (aligned to multiples of ``Period``).
"""
from __future__ import annotations

import bisect
import math
from collections.abc import Callable
from typing import Any

import botocore.exceptions

from pytest_drtest.clock import Scheduled
from pytest_drtest.emulation.cloudwatch.models import (
    COMPARISONS,
    STATISTICS,
    Alarm,
    Datapoint,
    Dimensions,
    aggregate,
    dimensions_of,
    evaluate,
)
from pytest_drtest.emulation.core import ServiceEmulator

SeriesKey = tuple[str, str, str, Dimensions]  # region, namespace, metric name, dimensions


class AlarmEvaluation(ServiceEmulator):
    """The metric store and the evaluation of every metric alarm."""

    service = "cloudwatch"

    def _setup(self) -> None:
        self._series: dict[SeriesKey, list[Datapoint]] = {}
        self._alarms: dict[tuple[str, str], Alarm] = {}
        self._timers: dict[tuple[str, str], Scheduled] = {}
        self.listeners: list[Callable[[Alarm], None]] = []  # told (after the instant's work) of each transition

    # -- inspection -------------------------------------------------------------------------
    def alarm(self, region: str, name: str) -> Alarm:
        """The alarm as evaluated (KeyError if the emulation never saw it)."""
        return self._alarms[(region, name)]

    def alarm_by_arn(self, arn: str) -> Alarm | None:
        return next((a for a in self._alarms.values() if a.arn == arn and not a.deleted), None)

    def datapoints(self, region: str, namespace: str, metric: str, dimensions: dict[str, str] | None = None) -> list[Datapoint]:
        return list(self._series.get((region, namespace, metric, frozenset((dimensions or {}).items())), []))

    # -- data -------------------------------------------------------------------------------
    def record(self, region: str, namespace: str, metric: str, dimensions: Dimensions, point: Datapoint) -> None:
        """Store one datapoint and re-evaluate the alarms on its metric."""
        series = self._series.setdefault((region, namespace, metric, dimensions), [])
        bisect.insort(series, point, key=lambda p: p.t)
        for alarm in list(self._alarms.values()):
            if (alarm.region, alarm.namespace, alarm.metric, alarm.dimensions) == (region, namespace, metric, dimensions):
                self._evaluate(alarm)

    def record_call(self, region: str, params: dict[str, Any]) -> None:
        """The datapoints of a ``PutMetricData`` call ([BC:cloudwatch] MetricDatum)."""
        namespace = params["Namespace"]
        for datum in params.get("MetricData", []):
            stamp = datum.get("Timestamp")
            t = self.clock.seconds_at(stamp) if stamp is not None else self.clock.now()
            dims = dimensions_of(datum.get("Dimensions"))
            stats = datum.get("StatisticValues")
            if stats:
                point = Datapoint(t, float(stats["SampleCount"]), float(stats["Sum"]), float(stats["Minimum"]), float(stats["Maximum"]))
                self.record(region, namespace, datum["MetricName"], dims, point)
                continue
            values = list(datum.get("Values") or []) or ([datum["Value"]] if "Value" in datum else [])
            counts = list(datum.get("Counts") or []) or [1.0] * len(values)
            for value, count in zip(values, counts, strict=False):
                v = float(value)
                self.record(region, namespace, datum["MetricName"], dims, Datapoint(t, float(count), v * float(count), v, v))

    # -- alarms -----------------------------------------------------------------------------
    def define(self, region: str, params: dict[str, Any], arn: str) -> Alarm:
        """Create or replace the alarm of a ``PutMetricAlarm`` call; a replaced alarm keeps its state
        ([BC:cloudwatch] PutMetricAlarm: "the state of the alarm is left unchanged")."""
        key = (region, params["AlarmName"])
        old = self._alarms.get(key)
        periods = int(params.get("EvaluationPeriods", 1))
        statistic = params.get("Statistic")
        evaluable = (
            "Metrics" not in params and statistic in STATISTICS and params.get("ComparisonOperator") in COMPARISONS
            and "MetricName" in params and "Period" in params
        )
        alarm = Alarm(
            region=region, name=params["AlarmName"], arn=arn, namespace=params.get("Namespace", ""),
            metric=params.get("MetricName", ""), dimensions=dimensions_of(params.get("Dimensions")),
            statistic=statistic, period=float(params.get("Period") or 60), evaluation_periods=periods,
            datapoints_to_alarm=int(params.get("DatapointsToAlarm") or periods),
            threshold=float(params.get("Threshold") or 0.0), comparison=params.get("ComparisonOperator", ""),
            treat_missing=params.get("TreatMissingData") or "missing", evaluable=evaluable,
            updated_at=self.clock.now(),
        )
        if old is not None and not old.deleted:
            alarm.state, alarm.reason, alarm.updated_at, alarm.history = old.state, old.reason, old.updated_at, old.history
        else:
            alarm.history.append((self.clock.now(), alarm.state, alarm.reason))
        self._alarms[key] = alarm
        self._schedule(alarm)
        self._evaluate(alarm)
        return alarm

    def forget(self, region: str, name: str) -> None:
        alarm = self._alarms.get((region, name))
        if alarm is not None:
            alarm.deleted = True
        timer = self._timers.pop((region, name), None)
        if timer is not None:
            timer.cancel()

    def set_state(self, alarm: Alarm, state: str, reason: str) -> None:
        """``SetAlarmState``: the state holds until the next evaluation ([BC:cloudwatch] SetAlarmState)."""
        self._transition(alarm, state, reason)

    def _schedule(self, alarm: Alarm) -> None:
        old = self._timers.pop((alarm.region, alarm.name), None)
        if old is not None:
            old.cancel()
        if not alarm.evaluable:
            return
        every = min(alarm.period, 60.0)
        first = math.floor(self.clock.now() / every) * every + every
        self._timers[(alarm.region, alarm.name)] = self._keep(
            self.clock.every(every, lambda: self._evaluate(alarm), start=first, name=f"cloudwatch alarm {alarm.name}")
        )

    def _evaluate(self, alarm: Alarm) -> None:
        if alarm.deleted or not alarm.evaluable:
            return
        assert alarm.statistic is not None
        series = self._series.get((alarm.region, alarm.namespace, alarm.metric, alarm.dimensions), [])
        end = math.floor(self.clock.now() / alarm.period) * alarm.period
        values: list[float | None] = []
        for k in range(alarm.evaluation_periods, 0, -1):
            start = end - k * alarm.period
            low = bisect.bisect_left(series, start, key=lambda p: p.t)
            high = bisect.bisect_left(series, start + alarm.period, key=lambda p: p.t)
            values.append(aggregate(series[low:high], alarm.statistic))
        state, reason = evaluate(alarm, values)
        self._transition(alarm, state, reason)

    def _transition(self, alarm: Alarm, state: str, reason: str) -> None:
        if state == alarm.state:
            return
        now = self.clock.now()
        alarm.state, alarm.reason, alarm.updated_at = state, reason, now
        if alarm.history and alarm.history[-1][0] == now:
            alarm.history[-1] = (now, state, reason)  # two evaluations at one instant: the last one counts
        else:
            alarm.history.append((now, state, reason))
        try:
            self.backdoor(alarm.region).set_alarm_state(AlarmName=alarm.name, StateValue=state, StateReason=reason[:1023])
        except botocore.exceptions.ClientError:
            pass  # deleted behind the emulation's back
        self.later(0, lambda: self._tell(alarm), name=f"cloudwatch alarm {alarm.name} changed")

    def _tell(self, alarm: Alarm) -> None:
        for listener in list(self.listeners):
            listener(alarm)
