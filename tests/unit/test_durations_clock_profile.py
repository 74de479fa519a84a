"""Durations, the virtual clock and the latency profile."""
from __future__ import annotations

import pytest

from pytest_drtest.clock import VirtualClock
from pytest_drtest.durations import format_duration, parse_duration
from pytest_drtest.errors import DrConfigError
from pytest_drtest.profile import LatencyProfile


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("250ms", 0.25), ("30s", 30), ("5m", 300), ("1h30m", 5400), ("1h", 3600), ("2d", 172800), (12, 12.0), ("1.5s", 1.5)],
)
def test_durations_accepted(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5", "5 minutes", "m5", "1h-30m", "-3s", "1x", True, None, "30s!"])
def test_durations_rejected_quoting_the_text(text):
    with pytest.raises(DrConfigError) as exc:
        parse_duration(text)
    assert repr(text) in str(exc.value)


def test_format_duration():
    assert format_duration(1.04) == "1.0s"
    assert format_duration(192) == "3m12s"
    assert format_duration(7500) == "2h05m"
    assert format_duration(None) == "-"


def test_clock_runs_events_in_time_order_then_moves_now():
    clock = VirtualClock()
    seen = []
    clock.call_at(5, lambda: seen.append(("b", clock.now())))
    clock.call_at(2, lambda: seen.append(("a", clock.now())))
    handle = clock.every(3, lambda: seen.append(("tick", clock.now())))
    clock.sleep(7)
    assert seen == [("a", 2), ("tick", 3), ("b", 5), ("tick", 6)]
    assert clock.now() == 7
    handle.cancel()
    clock.sleep(10)
    assert seen[-1] == ("tick", 6)


def test_clock_events_scheduled_by_events_run_in_the_same_sleep():
    clock = VirtualClock()
    seen = []
    clock.call_at(1, lambda: clock.call_later(1, lambda: seen.append(clock.now())))
    clock.sleep("3s")
    assert seen == [2]


def test_clock_errors_in_events_reach_the_caller():
    clock = VirtualClock()

    def boom() -> None:
        raise RuntimeError("replication broke")

    clock.call_at(1, boom)
    with pytest.raises(RuntimeError, match="replication broke"):
        clock.sleep(2)


def test_clock_datetimes_and_run_until():
    clock = VirtualClock()
    clock.sleep("1h")
    assert clock.datetime().isoformat() == "2026-01-05T01:00:00+00:00"
    assert clock.seconds_at(clock.datetime(90)) == 90
    flag = {"up": False}
    clock.call_later(42, lambda: flag.update(up=True))
    assert clock.run_until(lambda: flag["up"], timeout="5m", step=10)
    assert clock.now() == 3600 + 50
    assert not clock.run_until(lambda: False, timeout=30, step=10)


def test_profile_same_seed_same_draws_and_streams_are_independent():
    a, b = LatencyProfile(seed=3), LatencyProfile(seed=3)
    draws_a = [a.sample("rds_multi_az_failover") for _ in range(5)]
    b.sample("ec2_launch_time")  # another stream must not shift this one
    assert draws_a == [b.sample("rds_multi_az_failover") for _ in range(5)]
    assert all(60 <= d <= 120 for d in draws_a)
    assert draws_a != [LatencyProfile(seed=4).sample("rds_multi_az_failover") for _ in range(5)]


def test_profile_streams_per_resource_differ_and_repeat_for_the_seed():
    # one stream per (key, operation:resource): the first restore of two tables differ; the same
    # seed gives the same draws; the key is part of the stream (same name, another key: another stream)
    a, b = LatencyProfile(seed=1), LatencyProfile(seed=1)
    orders = a.sample("dynamodb_restore_time", stream="restore:us-east-1/orders-pitr")
    users = a.sample("dynamodb_restore_time", stream="restore:us-east-1/users-pitr")
    assert orders != users
    assert b.sample("dynamodb_restore_time", stream="restore:us-east-1/users-pitr") == users
    assert b.sample("dynamodb_restore_time", stream="restore:us-east-1/orders-pitr") == orders
    assert a.sample("backup_restore_time", stream="restore:us-east-1/orders-pitr") != orders
    assert LatencyProfile(seed=2).sample("dynamodb_restore_time", stream="restore:us-east-1/orders-pitr") != orders


def test_profile_draws_do_not_depend_on_the_process_hash_seed():
    # streams are seeded with SHA-256, never hash(): another interpreter, another PYTHONHASHSEED, same draw
    import os
    import subprocess
    import sys

    code = ("from pytest_drtest.profile import LatencyProfile; "
            "print(repr(LatencyProfile(seed=1).sample('dynamodb_restore_time', stream='restore:us-east-1/t')))")
    draws = {
        subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONHASHSEED": hash_seed}, check=True,
                       capture_output=True, text=True).stdout.strip()
        for hash_seed in ("1", "2")
    }
    assert draws == {repr(LatencyProfile(seed=1).sample("dynamodb_restore_time", stream="restore:us-east-1/t"))}


def test_profile_overrides_file_and_lines(tmp_path):
    profile = LatencyProfile()
    path = tmp_path / "profile.toml"
    path.write_text('[latency]\nec2_launch_time = "30s"\nroute53_change_propagation = ["5s", "10s"]\n')
    profile.load_file(path)
    profile.apply_lines(["# comment", "dynamodb_replication_lag = 2s..4s", "route53_failure_threshold = 2"], origin="ini")
    assert profile.sample("ec2_launch_time") == 30
    assert 5 <= profile.sample("route53_change_propagation") <= 10
    assert profile.figures["dynamodb_replication_lag"].low == 2
    assert profile.value("route53_failure_threshold") == 2
    assert profile.origins["ec2_launch_time"] == str(path)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("nonsense_key = 1s", "unknown latency key 'nonsense_key'"),
        ("ec2_launch_time = soon", "'soon' is not a duration"),
        ("ec2_launch_time = 9s..3s", "low 9 is above high 3"),
        ("ec2_launch_time", "expected 'key = value'"),
    ],
)
def test_profile_bad_overrides_are_named(line, message):
    with pytest.raises(DrConfigError, match=message):
        LatencyProfile().apply_lines([line], origin="ini dr_latency")


def test_profile_file_errors_name_the_file(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("latency = [")
    with pytest.raises(DrConfigError, match="bad.toml: not valid TOML"):
        LatencyProfile().load_file(path)
    with pytest.raises(DrConfigError, match="profile file not found"):
        LatencyProfile().load_file(tmp_path / "missing.toml")
