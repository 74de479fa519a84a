"""The CloudWatch emulator: metric alarms that evaluate the metric data published in the world.

moto stores alarms and metric data, and its alarms never evaluate (their state only changes with
``SetAlarmState``). Here ``PutMetricData`` feeds the emulation's metric store, each metric alarm is
evaluated on the clock ([CW-UG:AlarmThatSendsEmail]), its state is written back to moto (so
``DescribeAlarms`` reports it) with clock times, and listeners (FIS stop conditions) are told.
"""
from __future__ import annotations

from typing import Any

from pytest_drtest.emulation.cloudwatch.alarms import AlarmEvaluation
from pytest_drtest.emulation.cloudwatch.models import STATISTICS, TREAT_MISSING, Alarm
from pytest_drtest.emulation.core import AwsError, Call, Emulation


class CloudWatchEmulator(AlarmEvaluation):
    """Alarms on the clock; see :mod:`pytest_drtest.emulation.cloudwatch.alarms`."""

    service = "cloudwatch"

    def __init__(self, emulation: Emulation) -> None:
        super().__init__(emulation)
        self._setup()

    def before_PutMetricAlarm(self, call: Call) -> dict[str, Any] | None:
        params = call.params
        if params.get("Statistic") is not None and params["Statistic"] not in STATISTICS:
            raise AwsError("InvalidParameterValue", f"Statistic {params['Statistic']!r} is not one of {', '.join(STATISTICS)}")
        if params.get("TreatMissingData") is not None and params["TreatMissingData"] not in TREAT_MISSING:
            raise AwsError(
                "InvalidParameterValue",
                f"TreatMissingData {params['TreatMissingData']!r} is not one of {', '.join(TREAT_MISSING)}",
            )
        periods = int(params.get("EvaluationPeriods", 1))
        if int(params.get("DatapointsToAlarm") or periods) > periods:
            raise AwsError("ValidationError", "DatapointsToAlarm must be less than or equal to EvaluationPeriods")
        return None

    def after_PutMetricAlarm(self, call: Call) -> None:
        name = call.params["AlarmName"]
        rows = self.backdoor(call.region).describe_alarms(AlarmNames=[name])["MetricAlarms"]
        arn = rows[0]["AlarmArn"] if rows else f"arn:aws:cloudwatch:{call.region}:123456789012:alarm:{name}"
        self.define(call.region, call.params, arn)
        alarm = self.alarm(call.region, name)
        self.backdoor(call.region).set_alarm_state(AlarmName=name, StateValue=alarm.state, StateReason=alarm.reason)

    def after_DeleteAlarms(self, call: Call) -> None:
        for name in call.params.get("AlarmNames", []):
            self.forget(call.region, name)

    def after_PutMetricData(self, call: Call) -> None:
        self.record_call(call.region, call.params)

    def after_SetAlarmState(self, call: Call) -> None:
        alarm = self._alarms.get((call.region, call.params["AlarmName"]))
        if alarm is not None and not alarm.deleted:
            self.set_state(alarm, call.params["StateValue"], call.params.get("StateReason", ""))

    def after_DescribeAlarms(self, call: Call) -> None:
        for row in (call.parsed or {}).get("MetricAlarms", []):
            alarm = self._alarms.get((call.region, row.get("AlarmName", "")))
            if alarm is not None and not alarm.deleted:
                self._rewrite(alarm, row)

    def _rewrite(self, alarm: Alarm, row: dict[str, Any]) -> None:
        row["StateValue"], row["StateReason"] = alarm.state, alarm.reason
        row["StateUpdatedTimestamp"] = self.clock.datetime(alarm.updated_at)
        row["StateTransitionedTimestamp"] = self.clock.datetime(alarm.updated_at)
