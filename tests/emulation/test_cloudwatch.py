"""CloudWatch metric alarms evaluated on the clock (moto's never evaluate)."""
from __future__ import annotations

from typing import Any

import botocore.exceptions
import pytest

from pytest_drtest.emulation.cloudwatch import (
    PROBE_METRIC,
    PROBE_NAMESPACE,
    CloudWatchEmulator,
    ProbeMetrics,
)
from pytest_drtest.measure import Sample
from tests.conftest import EmuEnv


@pytest.fixture
def cw(emu_env: EmuEnv) -> tuple[EmuEnv, Any, CloudWatchEmulator]:
    emulator = CloudWatchEmulator(emu_env.emulation)
    emu_env.emulation.add(emulator)
    return emu_env, emu_env.client("cloudwatch"), emulator


def _alarm(client: Any, name: str = "errors", **extra: Any) -> None:
    params: dict[str, Any] = {
        "AlarmName": name, "Namespace": "App", "MetricName": "Errors", "Statistic": "Average", "Period": 60,
        "EvaluationPeriods": 3, "DatapointsToAlarm": 2, "Threshold": 5.0, "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "notBreaching",
    }
    params.update(extra)
    client.put_metric_alarm(**params)


def _put(env: EmuEnv, client: Any, value: float) -> None:
    client.put_metric_data(Namespace="App", MetricData=[{"MetricName": "Errors", "Value": value, "Timestamp": env.clock.datetime()}])


def _state(client: Any, name: str = "errors") -> dict[str, Any]:
    return dict(client.describe_alarms(AlarmNames=[name])["MetricAlarms"][0])


def test_m_of_n_datapoints_move_the_alarm_on_the_clock(cw: tuple[EmuEnv, Any, CloudWatchEmulator]) -> None:
    env, client, emulator = cw
    _alarm(client)
    assert _state(client)["StateValue"] == "OK"  # notBreaching: nothing missing breaches
    for value in (50.0, 0.0, 50.0):  # 2 of the last 3 periods above 5
        _put(env, client, value)
        env.clock.sleep(60)
    row = _state(client)
    assert row["StateValue"] == "ALARM"
    assert row["StateReason"].startswith("Threshold Crossed: 2 out of the last 3 datapoints")
    assert row["StateUpdatedTimestamp"] == env.clock.datetime(180)  # the clock's time, not moto's
    for _ in range(3):
        _put(env, client, 0.0)
        env.clock.sleep(60)
    assert _state(client)["StateValue"] == "OK"
    assert [s for _, s, _ in emulator.alarm("us-east-1", "errors").history] == ["OK", "ALARM", "OK"]


@pytest.mark.parametrize(("treat", "expected"), [("missing", "INSUFFICIENT_DATA"), ("breaching", "ALARM"), ("notBreaching", "OK")])
def test_missing_data_is_treated_as_the_alarm_says(cw: tuple[EmuEnv, Any, CloudWatchEmulator], treat: str, expected: str) -> None:
    env, client, _ = cw
    _alarm(client, TreatMissingData=treat)
    env.clock.sleep(240)
    assert _state(client)["StateValue"] == expected


def test_ignore_keeps_the_state_while_data_is_missing(cw: tuple[EmuEnv, Any, CloudWatchEmulator]) -> None:
    env, client, _ = cw
    _alarm(client, TreatMissingData="ignore", EvaluationPeriods=1, DatapointsToAlarm=1)
    _put(env, client, 50.0)
    env.clock.sleep(60)
    assert _state(client)["StateValue"] == "ALARM"
    env.clock.sleep(600)  # no data since: the alarm stays where it was
    assert _state(client)["StateValue"] == "ALARM"


def test_statistic_sets_and_set_alarm_state_until_the_next_evaluation(cw: tuple[EmuEnv, Any, CloudWatchEmulator]) -> None:
    env, client, _ = cw
    _alarm(client, Statistic="Sum", EvaluationPeriods=1, DatapointsToAlarm=1, Threshold=10.0)
    client.put_metric_data(Namespace="App", MetricData=[{"MetricName": "Errors", "Timestamp": env.clock.datetime(),
                                                         "StatisticValues": {"SampleCount": 4, "Sum": 12, "Minimum": 1, "Maximum": 5}}])
    env.clock.sleep(60)
    assert _state(client)["StateValue"] == "ALARM"  # Sum 12 > 10
    client.set_alarm_state(AlarmName="errors", StateValue="OK", StateReason="testing")
    assert _state(client)["StateValue"] == "OK"
    env.clock.sleep(60)  # the next evaluation: the minute had no data, notBreaching
    assert _state(client)["StateValue"] == "OK"


def test_bad_alarms_are_refused(cw: tuple[EmuEnv, Any, CloudWatchEmulator]) -> None:
    _, client, _ = cw
    with pytest.raises(botocore.exceptions.ClientError, match="DatapointsToAlarm must be less than or equal to EvaluationPeriods"):
        _alarm(client, EvaluationPeriods=1, DatapointsToAlarm=2)
    with pytest.raises(botocore.exceptions.ClientError, match="TreatMissingData 'sometimes'"):
        _alarm(client, TreatMissingData="sometimes")
    assert client.describe_alarms()["MetricAlarms"] == []


def test_the_probe_error_rate_is_published_every_minute(cw: tuple[EmuEnv, Any, CloudWatchEmulator]) -> None:
    env, client, emulator = cw
    samples: list[Sample] = []
    publisher = ProbeMetrics(emulator, lambda: samples, region="us-east-1", probe="probe")
    _alarm(client, Namespace=PROBE_NAMESPACE, MetricName=PROBE_METRIC, Dimensions=[{"Name": "Probe", "Value": "probe"}],
           EvaluationPeriods=1, DatapointsToAlarm=1, Threshold=10.0)
    for t in range(120):  # one tick a second: the second minute fails a quarter of its ticks
        samples.append(Sample(float(t), write_ok=not (t >= 60 and t % 4 == 0), read_ok=True))
        env.clock.sleep(1)
    env.clock.sleep(1)
    points = emulator.datapoints("us-east-1", PROBE_NAMESPACE, PROBE_METRIC, {"Probe": "probe"})
    assert [(p.t, p.sample_count, p.total / p.sample_count) for p in points] == [(0.0, 60.0, 0.0), (60.0, 60.0, 25.0)]
    assert _state(client)["StateValue"] == "ALARM"
    publisher.stop()
