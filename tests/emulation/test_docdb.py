"""Amazon DocumentDB's control plane: clusters, instances, failover and global clusters on the clock.

moto rejects ``Engine=docdb``; the emulator answers these calls itself. No data plane exists here
(no MongoDB-compatible server), so the RPO is the modeled window of writes a promotion loses.
"""
from __future__ import annotations

from typing import Any

import botocore.exceptions
import pytest

from pytest_drtest.emulation.docdb import DocDbEmulator

PRIMARY, DR = "us-east-1", "us-west-2"
CREATE, FAILOVER, LAG, GLOBAL_FAILOVER = 600.0, 25.0, 0.8, 50.0


@pytest.fixture(autouse=True)
def _docdb_answers_in_shape(answers_in_shape: Any) -> None:
    answers_in_shape("docdb")


@pytest.fixture
def docdb(emu_env: Any) -> DocDbEmulator:
    for key, value in {"docdb_create_time": CREATE, "docdb_failover": FAILOVER, "docdb_global_lag": LAG,
                       "docdb_global_failover": GLOBAL_FAILOVER}.items():
        emu_env.profile.override(key, value, origin="test")
    emulator = DocDbEmulator(emu_env.emulation)
    emu_env.emulation.add(emulator)
    return emulator


def make_cluster(emu_env: Any, name: str, region: str = PRIMARY, *, instances: dict[str, int] | None = None,
                 wait: bool = True, **extra: Any) -> dict[str, Any]:
    client = emu_env.client("docdb", region)
    params: dict[str, Any] = {"DBClusterIdentifier": name, "Engine": "docdb", **extra}
    if "GlobalClusterIdentifier" not in extra:
        params.update(MasterUsername="app", MasterUserPassword="secret123")
    cluster: dict[str, Any] = client.create_db_cluster(**params)["DBCluster"]
    for instance, tier in (instances if instances is not None else {f"{name}-1": 1, f"{name}-2": 1}).items():
        client.create_db_instance(DBInstanceIdentifier=instance, DBClusterIdentifier=name, Engine="docdb",
                                  DBInstanceClass="db.r6g.large", PromotionTier=tier)
    if wait:
        emu_env.clock.sleep(CREATE)
    return cluster


def describe(emu_env: Any, name: str, region: str = PRIMARY) -> dict[str, Any]:
    found: dict[str, Any] = emu_env.client("docdb", region).describe_db_clusters(DBClusterIdentifier=name)["DBClusters"][0]
    return found


def writer_of(cluster: dict[str, Any]) -> str | None:
    return next((m["DBInstanceIdentifier"] for m in cluster["DBClusterMembers"] if m["IsClusterWriter"]), None)


def error_code(excinfo: pytest.ExceptionInfo[botocore.exceptions.ClientError]) -> str:
    return str(excinfo.value.response["Error"]["Code"])


def test_moto_alone_rejects_the_docdb_engine(emu_env: Any) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        emu_env.client("docdb").create_db_cluster(DBClusterIdentifier="c", Engine="docdb", MasterUsername="app",
                                                  MasterUserPassword="secret123")
    assert error_code(excinfo) == "InvalidParameterValue"


def test_cluster_and_instances_are_creating_then_available_across_azs(emu_env: Any, docdb: DocDbEmulator) -> None:
    created = make_cluster(emu_env, "docs", wait=False)
    assert created["Status"] == "creating" and created["EngineVersion"] == "8.0.0" and created["Port"] == 27017
    client = emu_env.client("docdb")
    assert client.describe_db_instances(DBInstanceIdentifier="docs-1")["DBInstances"][0]["DBInstanceStatus"] == "creating"
    client.get_waiter("db_instance_available").wait(DBInstanceIdentifier="docs-2")
    assert emu_env.clock.now() == pytest.approx(CREATE, abs=60)
    cluster = describe(emu_env, "docs")
    assert cluster["Status"] == "available" and writer_of(cluster) == "docs-1" and cluster["MultiAZ"] is True
    azs = {i["AvailabilityZone"] for i in client.describe_db_instances()["DBInstances"]}
    assert azs == {"us-east-1a", "us-east-1b"}
    events = client.describe_events(SourceIdentifier="docs", SourceType="db-cluster")["Events"]
    assert [e["Message"] for e in events] == ["DB cluster created"]


def test_bad_input_gets_aws_error_codes(emu_env: Any, docdb: DocDbEmulator) -> None:
    client = emu_env.client("docdb")
    cases: list[tuple[dict[str, Any], str]] = [
        ({"EngineVersion": "6.0.0"}, "InvalidParameterCombination"),
        ({"MasterUserPassword": "short"}, "InvalidParameterValue"),
        ({"Engine": "aurora-postgresql"}, "InvalidParameterValue"),
    ]
    for extra, code in cases:
        params = {"DBClusterIdentifier": "bad", "Engine": "docdb", "MasterUsername": "app",
                  "MasterUserPassword": "secret123", **extra}
        with pytest.raises(botocore.exceptions.ClientError) as excinfo:
            client.create_db_cluster(**params)
        assert error_code(excinfo) == code, extra
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        client.create_global_cluster(GlobalClusterIdentifier="g", Engine="docdb", EngineVersion="3.6.0")
    assert error_code(excinfo) == "InvalidParameterCombination"  # global clusters need 4.0 or later
    with pytest.raises(client.exceptions.DBClusterNotFoundFault):
        client.describe_db_clusters(DBClusterIdentifier="nope")
    make_cluster(emu_env, "solo", instances={"solo-1": 1})
    with pytest.raises(client.exceptions.InvalidDBClusterStateFault):
        client.failover_db_cluster(DBClusterIdentifier="solo")  # no replica to promote
    with pytest.raises(client.exceptions.InvalidDBClusterStateFault):
        client.delete_db_cluster(DBClusterIdentifier="solo", SkipFinalSnapshot=True)  # it still has an instance


def test_failover_promotes_the_best_tier_after_the_modeled_time(emu_env: Any, docdb: DocDbEmulator) -> None:
    make_cluster(emu_env, "docs", instances={"docs-1": 1, "docs-2": 5, "docs-3": 0})
    client = emu_env.client("docdb")
    answer = client.failover_db_cluster(DBClusterIdentifier="docs")["DBCluster"]
    assert answer["Status"] == "failing-over" and writer_of(answer) == "docs-1"
    emu_env.clock.sleep(FAILOVER - 1)
    assert writer_of(describe(emu_env, "docs")) == "docs-1"
    emu_env.clock.sleep(1)
    cluster = describe(emu_env, "docs")
    assert cluster["Status"] == "available" and writer_of(cluster) == "docs-3"  # tier 0 wins
    client.failover_db_cluster(DBClusterIdentifier="docs", TargetDBInstanceIdentifier="docs-2")
    emu_env.clock.sleep(FAILOVER)
    assert writer_of(describe(emu_env, "docs")) == "docs-2"
    messages = [e["Message"] for e in client.describe_events(SourceIdentifier="docs")["Events"]]
    assert "Completed failover to DB instance: docs-2" in messages


def test_losing_the_primarys_az_fails_over_automatically(emu_env: Any, docdb: DocDbEmulator) -> None:
    make_cluster(emu_env, "docs")
    emu_env.emulation.world.lose_az("us-east-1a")  # docs-1, the primary, is there
    assert describe(emu_env, "docs")["Status"] == "failing-over"
    emu_env.clock.sleep(FAILOVER)
    assert writer_of(describe(emu_env, "docs")) == "docs-2"


def make_global(emu_env: Any) -> None:
    make_cluster(emu_env, "east")
    emu_env.client("docdb").create_global_cluster(
        GlobalClusterIdentifier="orders", SourceDBClusterIdentifier=describe(emu_env, "east")["DBClusterArn"])
    make_cluster(emu_env, "west", DR, GlobalClusterIdentifier="orders", instances={"west-1": 1})


def members(emu_env: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = emu_env.client("docdb").describe_global_clusters(
        GlobalClusterIdentifier="orders")["GlobalClusters"][0]["GlobalClusterMembers"]
    return found


def test_global_secondary_trails_by_the_lag_and_has_no_primary_instance(emu_env: Any, docdb: DocDbEmulator) -> None:
    make_global(emu_env)
    west = describe(emu_env, "west", DR)
    assert writer_of(west) is None and west["ReplicationSourceIdentifier"] == describe(emu_env, "east")["DBClusterArn"]
    assert [(m["IsWriter"], m.get("SynchronizationStatus")) for m in members(emu_env)] == [(True, None), (False, "connected")]
    assert docdb.replication_lag(DR, "west") == pytest.approx(LAG)
    emu_env.emulation.world.pause("docdb", "orders")
    emu_env.clock.sleep(30)
    assert docdb.replication_lag(DR, "west") == pytest.approx(30 + LAG)
    assert members(emu_env)[1]["SynchronizationStatus"] == "pending-resync"
    emu_env.emulation.world.resume("docdb", "orders")
    assert docdb.replication_lag(DR, "west") == pytest.approx(LAG)
    with pytest.raises(emu_env.client("docdb", DR).exceptions.InvalidDBClusterStateFault):
        emu_env.client("docdb", DR).failover_db_cluster(DBClusterIdentifier="west")


def test_switchover_loses_nothing_and_swaps_roles(emu_env: Any, docdb: DocDbEmulator) -> None:
    make_global(emu_env)
    client = emu_env.client("docdb")
    west_arn = describe(emu_env, "west", DR)["DBClusterArn"]
    started = emu_env.clock.now()
    answer = client.switchover_global_cluster(GlobalClusterIdentifier="orders", TargetDbClusterIdentifier=west_arn)
    state = answer["GlobalCluster"]["FailoverState"]
    assert answer["GlobalCluster"]["Status"] == "switching-over"
    assert (state["Status"], state["ToDbClusterArn"], state["IsDataLossAllowed"]) == ("pending", west_arn, False)
    emu_env.clock.sleep(GLOBAL_FAILOVER)
    view = client.describe_global_clusters(GlobalClusterIdentifier="orders")["GlobalClusters"][0]
    assert view["Status"] == "available" and "FailoverState" not in view
    first = view["GlobalClusterMembers"][0]
    assert (first["DBClusterArn"], first["IsWriter"]) == (west_arn, True)
    assert writer_of(describe(emu_env, "west", DR)) == "west-1" and writer_of(describe(emu_env, "east")) is None
    [record] = docdb.global_failovers("orders")
    assert record.kind == "switchover" and record.data_loss_window == 0
    assert record.finished - started == pytest.approx(GLOBAL_FAILOVER)


def test_failover_after_losing_the_primary_region_loses_the_lag(emu_env: Any, docdb: DocDbEmulator) -> None:
    make_global(emu_env)
    dr = emu_env.client("docdb", DR)
    west_arn = describe(emu_env, "west", DR)["DBClusterArn"]
    emu_env.clock.sleep(100)
    emu_env.emulation.world.lose_region(PRIMARY)
    with pytest.raises(dr.exceptions.InvalidGlobalClusterStateFault):  # a switchover needs a healthy primary
        dr.switchover_global_cluster(GlobalClusterIdentifier="orders", TargetDbClusterIdentifier=west_arn)
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        dr.failover_global_cluster(GlobalClusterIdentifier="orders", TargetDbClusterIdentifier=west_arn,
                                   AllowDataLoss=True, Switchover=True)
    assert error_code(excinfo) == "InvalidParameterCombination"
    lost_at = emu_env.clock.now()
    emu_env.clock.sleep(120)  # the on-call decides to fail over
    dr.failover_global_cluster(GlobalClusterIdentifier="orders", TargetDbClusterIdentifier=west_arn, AllowDataLoss=True)
    emu_env.clock.sleep(GLOBAL_FAILOVER)
    [record] = docdb.global_failovers("orders")
    assert record.kind == "failover"
    assert record.lost_from == pytest.approx(lost_at - LAG)  # what had reached us-west-2 when us-east-1 went
    assert record.finished - lost_at == pytest.approx(120 + GLOBAL_FAILOVER)
    assert writer_of(describe(emu_env, "west", DR)) == "west-1"
    old = [m for m in dr.describe_global_clusters(GlobalClusterIdentifier="orders")["GlobalClusters"][0][
        "GlobalClusterMembers"] if not m["IsWriter"]]
    assert [m["SynchronizationStatus"] for m in old] == ["pending-resync"]  # the old primary's region is out


def test_remove_from_global_cluster_makes_a_standalone_writable_cluster(emu_env: Any, docdb: DocDbEmulator) -> None:
    make_global(emu_env)
    dr = emu_env.client("docdb", DR)
    east_arn, west_arn = describe(emu_env, "east")["DBClusterArn"], describe(emu_env, "west", DR)["DBClusterArn"]
    with pytest.raises(dr.exceptions.InvalidGlobalClusterStateFault):
        dr.remove_from_global_cluster(GlobalClusterIdentifier="orders", DbClusterIdentifier=east_arn)
    with pytest.raises(dr.exceptions.InvalidGlobalClusterStateFault):
        dr.delete_global_cluster(GlobalClusterIdentifier="orders")
    dr.remove_from_global_cluster(GlobalClusterIdentifier="orders", DbClusterIdentifier=west_arn)
    west = describe(emu_env, "west", DR)
    assert writer_of(west) == "west-1" and "ReplicationSourceIdentifier" not in west
    assert [m["DBClusterArn"] for m in members(emu_env)] == [east_arn]


@pytest.mark.parametrize(("behavior", "mode", "kind"), [("switchoverOnly", "graceful", "switchover"),
                                                        ("switchoverOnly", "ungraceful", "failover")])
def test_an_arc_region_switch_documentdb_block_moves_the_primary(
        emu_env: Any, docdb: DocDbEmulator, behavior: str, mode: str, kind: str) -> None:
    from pytest_drtest.emulation.arc_region_switch import ArcRegionSwitchEmulator

    emu_env.emulation.add(ArcRegionSwitchEmulator(emu_env.emulation))
    make_global(emu_env)
    arns = [describe(emu_env, "east")["DBClusterArn"], describe(emu_env, "west", DR)["DBClusterArn"]]
    arc = emu_env.client("arc-region-switch", DR)
    plan = arc.create_plan(
        name="orders", executionRole="arn:aws:iam::123456789012:role/arc", regions=[PRIMARY, DR],
        recoveryApproach="activePassive", primaryRegion=PRIMARY,
        workflows=[{"workflowTargetAction": "activate", "workflowTargetRegion": DR, "steps": [{
            "name": "Docs", "executionBlockType": "DocumentDb", "executionBlockConfiguration": {"documentDbConfig": {
                "behavior": behavior, "globalClusterIdentifier": "orders", "databaseClusterArns": arns}}}]}])["plan"]
    ident = arc.start_plan_execution(planArn=plan["arn"], targetRegion=DR, action="activate", mode=mode)["executionId"]
    emu_env.clock.sleep(GLOBAL_FAILOVER + emu_env.profile.value("automation_poll_interval"))
    assert arc.get_plan_execution(planArn=plan["arn"], executionId=ident)["executionState"] == "completed"
    assert [m["IsWriter"] for m in members(emu_env) if m["DBClusterArn"] == arns[1]] == [True]
    assert [r.kind for r in docdb.global_failovers("orders")] == [kind]
