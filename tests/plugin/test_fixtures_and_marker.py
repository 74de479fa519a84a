"""The ``dr`` fixture and ``@pytest.mark.dr`` as users write them."""
from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]


def test_missed_objective_fails_with_a_readable_story(pytester: pytest.Pytester):
    pytester.makepyfile(
        """
        import pytest
        from pytest_drtest import faults
        from pytest_drtest.recovery import RUNBOOKS

        @pytest.mark.dr(strategy="pilot-light", rto="2m", rpo="5s")
        def test_pilot_light_is_too_slow_for_two_minutes(dr):
            with dr.probe() as probe:
                dr.clock.sleep("1m")
                dr.inject(faults.RegionOutage("primary"))
                RUNBOOKS["dns-failover"](dr.topology, dr.clock)
                probe.wait_recovered(within="1h")
            dr.assert_objectives(probe.result())
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*ObjectiveMissed: RTO * s exceeds objective 120 s (fault at 0 s, detected +*s, health check unhealthy +*s, *first good write +*s*",
        "-*test_pilot_light_is_too_slow_for_two_minutes*pilot-light*2m00s*FAIL*modeled*region-outage(primary)",
    ])


@pytest.mark.parametrize(
    ("marker", "message"),
    [
        ('strategy="hot-standby"', "unknown strategy 'hot-standby'"),
        ('rto="fast"', "@pytest.mark.dr: rto: 'fast' is not a duration"),
        ('regions=("us-east-1", "us-east-1")', "the DR region must differ"),
        ('colour="red"', "unexpected keyword argument 'colour'"),
    ],
)
def test_bad_marker_is_a_usage_error_at_collection(pytester: pytest.Pytester, marker, message):
    pytester.makepyfile(f"import pytest\n\n@pytest.mark.dr({marker})\ndef test_x(dr):\n    pass\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in result.stderr.str()


def _postgres_processes() -> set[int]:
    """PostgreSQL servers whose run is over: the ``p<pid>-`` of their data folder names a process
    that is gone (another xdist worker's live servers are not leftovers)."""
    import os
    import re
    import subprocess

    out = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True, check=True).stdout
    orphans = set()
    for line in out.splitlines():
        owner = re.search(r"drtest-pg[^ ]*/p(\d+)-", line)
        if owner and "postgres" in line and not os.path.exists(f"/proc/{owner.group(1)}"):
            orphans.add(int(line.split()[0]))
    return orphans


def test_faults_are_reverted_when_the_test_fails_or_is_interrupted(pytester: pytest.Pytester):
    log = pytester.path / "world.log"
    pytester.makepyfile(
        f"""
        import pytest
        from pytest_drtest import faults

        def _watch(dr):
            dr.emulation.world.listeners.append(lambda what, name: open({str(log)!r}, "a").write(what + "\\n"))

        def test_fails_after_injecting(dr):
            _watch(dr)
            dr.topology  # built (with its database): teardown must take it down too
            dr.inject(faults.RegionOutage("primary"))
            dr.inject(faults.AzOutage("dr:b"))
            assert False, "the test failed"

        def test_interrupted_after_injecting(dr):
            _watch(dr)
            dr.topology
            dr.inject(faults.PauseReplication("dynamodb", "orders"))
            raise KeyboardInterrupt
        """
    )
    before = _postgres_processes()
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    assert _postgres_processes() <= before  # the relational data plane left no server behind
    events = log.read_text().split()
    assert events[:4] == ["region-lost", "az-lost", "az-restored", "region-restored"]
    assert events[4:] == ["replication-paused", "replication-resumed"]


def test_users_boto3_clients_are_cut_off_by_a_region_outage(pytester: pytest.Pytester):
    pytester.makepyfile(
        """
        import boto3, botocore.exceptions, pytest
        from pytest_drtest import faults

        @pytest.mark.dr(strategy="active-active")
        def test_plain_boto3(dr):
            table = dr.topology.table_name("orders")
            east = boto3.client("dynamodb", region_name="us-east-1")
            west = boto3.client("dynamodb", region_name="us-west-2")
            east.put_item(TableName=table, Item={"pk": {"S": "a"}, "payload": {"S": "1"}})
            dr.clock.sleep("5s")
            assert west.get_item(TableName=table, Key={"pk": {"S": "a"}})["Item"]["payload"]["S"] == "1"
            dr.inject(faults.RegionOutage("us-east-1"))
            with pytest.raises(botocore.exceptions.EndpointConnectionError):
                east.get_item(TableName=table, Key={"pk": {"S": "a"}})
            west.put_item(TableName=table, Item={"pk": {"S": "b"}, "payload": {"S": "2"}})
        """
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_nothing_created_in_moto_outlives_its_test(pytester: pytest.Pytester):
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.dr(strategy="warm-standby")
        def test_first(dr):
            assert dr.topology.table_name("orders") in dr.client("dynamodb").list_tables()["TableNames"]

        def test_second(dr):
            for service, key in (("dynamodb", "TableNames"), ("autoscaling", "AutoScalingGroups")):
                call = "list_tables" if service == "dynamodb" else "describe_auto_scaling_groups"
                for region in ("us-east-1", "us-west-2"):
                    assert getattr(dr.client(service, region), call)()[key] == []
            assert dr.client("route53", "us-east-1").list_hosted_zones()["HostedZones"] == []
        """
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=2)


def test_scenario_selects_the_strategy_of_the_users_tests(pytester: pytest.Pytester):
    pytester.makepyfile(
        """
        def test_strategy(dr, dr_objectives):
            assert dr.strategy.name == "pilot-light"
            assert dr.topology.dr.capacity == 0
            assert dr_objectives.rto == 3600
        """
    )
    result = pytester.runpytest("--dr-scenario=pilot-light", "-k", "test_strategy", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_marker_overrides_only_what_it_sets_over_the_scenario(pytester: pytest.Pytester):
    pytester.makefile(".toml", mine='name = "mine"\nstrategy = "warm-standby"\nobjectives = { rto = "7m", rpo = "7s" }\n'
                      '[[experiments]]\nfault = { kind = "region-outage" }\n')
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.dr(rto="1m")
        def test_b(dr_objectives):
            assert (dr_objectives.rto, dr_objectives.rpo) == (60.0, 7.0)

        def test_c(dr_objectives):
            assert (dr_objectives.rto, dr_objectives.rpo) == (420.0, 7.0)
        """
    )
    pytester.runpytest("--dr-scenario=mine.toml", "-k", "test_", "-p", "no:cacheprovider").assert_outcomes(passed=2)


def test_own_application_path_without_a_topology(pytester: pytest.Pytester):
    pytester.makepyfile(
        """
        from pytest_drtest.probes import AppUnavailable

        class Store:
            def __init__(self, clock):
                self.clock, self.data, self.down_until = clock, {}, None
            def _check(self):
                if self.down_until is not None and self.clock.now() < self.down_until:
                    raise AppUnavailable("HTTP 503")
            def put(self, key, payload):
                self._check(); self.data[key] = payload; return "us-east-1"
            def get(self, key):
                self._check(); return "us-east-1", self.data.get(key)
            def read_all(self, keys):
                return "us-east-1", {k: self.data.get(k) for k in keys}

        def test_outage_of_my_own_app(dr):
            store = Store(dr.clock)
            with dr.probe(path=store, interval="1s") as probe:
                dr.clock.sleep("10s")
                dr.mark_fault("our own tooling took the app down")
                store.down_until = dr.clock.now() + 30
                assert probe.wait_recovered(within="5m")
                result = probe.result()
            assert 30 <= result.rto_s <= 32 and result.rpo_s == 0
            assert dr._topology is None  # nothing was built
        """
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
