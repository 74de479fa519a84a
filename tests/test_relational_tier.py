"""The relational tier through the harness: RPO equals what the modeled lags really lost."""
from __future__ import annotations

import pytest

from pytest_drtest import faults
from pytest_drtest.emulation.rds import RdsInstanceEmulator
from pytest_drtest.harness import Harness
from pytest_drtest.recovery import RUNBOOKS
from pytest_drtest.settings import Settings


def test_region_loss_loses_exactly_the_writes_within_the_replication_lag():
    settings = Settings(latency_lines=["rds_replica_lag = 1s", "dynamodb_replication_lag = 1s"])
    with Harness(settings, strategy="warm-standby") as dr, dr.probe(interval="250ms") as probe:
        dr.clock.sleep("1m")
        fault = dr.inject(faults.RegionOutage("primary"))
        RUNBOOKS["dns-failover"](dr.topology, dr.clock)
        assert probe.wait_recovered(within="30m")
        result = probe.result()
    lost_ages = sorted(fault.injected_at - w.ack_t for w in result.lost_writes)
    # writes acknowledged within the last second before the loss were still in flight: lost;
    # everything older had reached the DR region (DynamoDB replica and RDS replica alike)
    assert lost_ages and all(0 <= age < 1.0 for age in lost_ages), lost_ages
    assert len(lost_ages) == 4  # one probe write every 250 ms
    assert result.rpo_s == pytest.approx(max(lost_ages))
    assert [m.kind for m in result.milestones if m.kind.startswith("db-")] == ["db-promotion-started", "db-promoted"]


def test_multi_az_failover_through_the_app_loses_nothing_and_takes_the_modeled_time():
    settings = Settings(latency_lines=["rds_multi_az_failover = 90s"])
    with Harness(settings, strategy="pilot-light") as dr:
        with dr.probe(interval="1s") as probe:
            dr.clock.sleep("1m")
            dr.inject(faults.RebootDatabase(failover=True))
            assert probe.wait_recovered(within="30m")
            result = probe.result()
        rds = dr.client("rds")
        instance = rds.describe_db_instances(DBInstanceIdentifier=dr.topology.primary.database)["DBInstances"][0]
    assert result.lost_writes == [] and result.rpo_s == 0
    assert 90 <= result.rto_s <= 92  # the endpoint refused for the modeled 90 s
    assert instance["AvailabilityZone"] != instance["SecondaryAvailabilityZone"]


def test_pause_replication_holds_the_cross_region_replica_until_reverted():
    from pytest_drtest.topology.build import db_connect, db_target

    with Harness(Settings(), strategy="warm-standby") as dr:
        topology = dr.topology
        primary = topology.app_config[topology.primary_region]["db"]
        replica = db_target(topology, topology.dr_region, topology.dr.database, "instance")
        fault = dr.inject(faults.PauseReplication("rds", "database"))
        with db_connect(topology, primary) as conn:
            conn.execute("INSERT INTO ledger (pk, payload) VALUES ('held', 'x')")
        dr.clock.sleep("1m")
        with db_connect(topology, replica) as conn:
            assert conn.execute("SELECT count(*) FROM ledger WHERE pk = 'held'").fetchone()[0] == 0
        fault.revert(faults.FaultContext(topology, dr.emulation.world))
        dr.clock.sleep("10s")
        dr.emulation.find(RdsInstanceEmulator).replica(topology.dr_region, topology.dr.database).wait_applied()
        with db_connect(topology, replica) as conn:
            assert conn.execute("SELECT payload FROM ledger WHERE pk = 'held'").fetchone()[0] == "x"
