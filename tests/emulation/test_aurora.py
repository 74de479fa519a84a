"""Aurora PostgreSQL and the RDS Data API on real PostgreSQL.

Every test drives moto through the hooked clients and checks data with psycopg through the
cluster's endpoints; the clock is virtual, so modeled minutes cost nothing.
"""
from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Callable
from typing import Any, NoReturn

import botocore.exceptions
import pytest

from pytest_drtest.dataplane import DataPlane, DataPlaneUnavailable
from pytest_drtest.emulation.aurora import AuroraEmulator
from pytest_drtest.emulation.rds_common import event_log
from pytest_drtest.emulation.rds_data import RdsDataEmulator, to_psycopg

psycopg = pytest.importorskip("psycopg")

PRIMARY, DR = "us-east-1", "us-west-2"
ENGINE = "aurora-postgresql"
CREATE, FAILOVER, GLOBAL_LAG, GLOBAL_FAILOVER = 60.0, 30.0, 1.0, 60.0
SNAPSHOT, RESTORE, PITR_LAG = 120.0, 600.0, 300.0
REBOOT = 20.0


@pytest.fixture(autouse=True)
def _rds_answers_in_shape(answers_in_shape: Any) -> None:
    """Every answer carries only fields of botocore's output shapes ([BC:rds])."""
    answers_in_shape("rds")


@pytest.fixture
def aurora(emu_env: Any, postgres_or_skip: Callable[[Exception], NoReturn]) -> AuroraEmulator:
    try:
        DataPlane.check()
    except DataPlaneUnavailable as exc:
        postgres_or_skip(exc)
    for key, value in {
        "rds_create_time": CREATE, "aurora_failover": FAILOVER, "aurora_global_lag": GLOBAL_LAG,
        "aurora_global_failover": GLOBAL_FAILOVER, "rds_snapshot_time": SNAPSHOT, "rds_restore_time": RESTORE,
        "rds_pitr_latest_lag": PITR_LAG, "rds_reboot_time": REBOOT,
    }.items():
        emu_env.profile.override(key, value, origin="test")
    emulator = AuroraEmulator(emu_env.emulation)
    emu_env.emulation.add(emulator)
    emu_env.emulation.add(RdsDataEmulator(emu_env.emulation))
    return emulator


def create_cluster(emu_env: Any, name: str, region: str = PRIMARY, *, instances: dict[str, int] | None = None,
                   wait: bool = True, **extra: Any) -> dict[str, Any]:
    """A cluster with ``instances`` {identifier: PromotionTier}; the first one is the writer."""
    rds = emu_env.client("rds", region)
    params: dict[str, Any] = {"DBClusterIdentifier": name, "Engine": ENGINE, **extra}
    if "GlobalClusterIdentifier" not in extra:
        params.update(MasterUsername="app", MasterUserPassword="secret123", DatabaseName="orders")
    cluster: dict[str, Any] = rds.create_db_cluster(**params)["DBCluster"]
    for instance, tier in (instances if instances is not None else {f"{name}-1": 1}).items():
        rds.create_db_instance(DBInstanceIdentifier=instance, DBClusterIdentifier=name, Engine=ENGINE,
                               DBInstanceClass="db.r6g.large", PromotionTier=tier)
    if wait:
        emu_env.clock.sleep(CREATE)
    return cluster


def make_secret(emu_env: Any, name: str, secret: Any, region: str = PRIMARY) -> str:
    """A Secrets Manager secret (a dict is stored as JSON, as the Data API reads it); its ARN."""
    text = json.dumps(secret) if isinstance(secret, dict) else str(secret)
    arn: str = emu_env.client("secretsmanager", region).create_secret(Name=name, SecretString=text)["ARN"]
    return arn


def describe(emu_env: Any, name: str, region: str = PRIMARY) -> dict[str, Any]:
    rds = emu_env.client("rds", region)
    found: list[dict[str, Any]] = rds.describe_db_clusters(DBClusterIdentifier=name)["DBClusters"]
    return found[0]


def writer_of(cluster: dict[str, Any]) -> str:
    return str(next(m["DBInstanceIdentifier"] for m in cluster["DBClusterMembers"] if m["IsClusterWriter"]))


def sql(info: dict[str, Any], statement: str, params: Any = None) -> list[tuple[Any, ...]]:
    with psycopg.connect(**info, autocommit=True, connect_timeout=5) as conn:
        cur = conn.execute(statement, params)
        return cur.fetchall() if cur.description else []


def ids(info: dict[str, Any]) -> list[int]:
    return [row[0] for row in sql(info, "SELECT id FROM t ORDER BY id")]


def refused(info: dict[str, Any]) -> bool:
    try:
        sql(info, "SELECT 1")
    except psycopg.OperationalError:
        return True
    return False


def error_code(exc: pytest.ExceptionInfo[Any]) -> tuple[str, int]:
    response = exc.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


# -- clusters and endpoints -----------------------------------------------------------------------
def test_cluster_is_creating_then_available_with_members_spread_over_azs(emu_env: Any, aurora: AuroraEmulator) -> None:
    rds = emu_env.client("rds")
    created = create_cluster(emu_env, "prod", instances={"prod-1": 1, "prod-2": 0}, wait=False)
    assert created["Status"] == "creating" and created["DBClusterMembers"] == []
    assert describe(emu_env, "prod")["Status"] == "creating"
    rds.get_waiter("db_cluster_available").wait(DBClusterIdentifier="prod", WaiterConfig={"Delay": 5})
    assert emu_env.clock.now() == CREATE

    cluster = describe(emu_env, "prod")
    in_sync = {"DBClusterParameterGroupStatus": "in-sync"}
    assert cluster["DBClusterMembers"] == [
        {"DBInstanceIdentifier": "prod-1", "IsClusterWriter": True, **in_sync, "PromotionTier": 1},
        {"DBInstanceIdentifier": "prod-2", "IsClusterWriter": False, **in_sync, "PromotionTier": 0},
    ]
    assert cluster["MultiAZ"] is True and cluster["ClusterCreateTime"] == emu_env.clock.datetime(0)
    instances = {i["DBInstanceIdentifier"]: i for i in rds.describe_db_instances()["DBInstances"]}
    assert {k: (v["DBInstanceStatus"], v["AvailabilityZone"]) for k, v in instances.items()} == {
        "prod-1": ("available", "us-east-1a"), "prod-2": ("available", "us-east-1b")}

    writer, reader = aurora.connection_info(PRIMARY, "prod"), aurora.connection_info(PRIMARY, "prod", reader=True)
    assert (writer["user"], writer["password"], writer["dbname"]) == ("app", "secret123", "orders")
    sql(writer, "CREATE TABLE t (id int PRIMARY KEY)")
    sql(writer, "INSERT INTO t VALUES (1)")
    assert sql(writer, "SELECT current_user, current_database(), pg_is_in_recovery()") == [("app", "orders", False)]
    # A reader is a synchronous (remote_apply) standby: it already shows the acknowledged row.
    assert sql(reader, "SELECT pg_is_in_recovery()") == [(True,)] and ids(reader) == [1]
    # Every endpoint is its own loopback address on the cluster's port 5432: the writer, the reader
    # (connectable as reported: the API has no reader port) and each instance; DNS answers the names.
    assert (cluster["Endpoint"], cluster["Port"]) == (writer["host"], 5432) and writer["port"] == 5432
    assert (cluster["ReaderEndpoint"], 5432) == (reader["host"], reader["port"])
    assert aurora.resolve(aurora.cluster(PRIMARY, "prod").reader_host) == (reader["host"], 5432)
    assert len({cluster["Endpoint"], cluster["ReaderEndpoint"], instances["prod-2"]["Endpoint"]["Address"]}) == 3
    assert sql({**writer, "host": cluster["ReaderEndpoint"]}, "SELECT pg_is_in_recovery()") == [(True,)]
    assert sql({**writer, "host": instances["prod-2"]["Endpoint"]["Address"]}, "SELECT pg_is_in_recovery()") == [(True,)]
    assert emu_env.emulation.endpoint_healthy(aurora.cluster(PRIMARY, "prod").reader_host)
    assert emu_env.emulation.endpoint_healthy(aurora.cluster(PRIMARY, "prod").host)


def test_reader_endpoint_goes_to_the_writer_when_there_is_no_reader(emu_env: Any, aurora: AuroraEmulator) -> None:
    create_cluster(emu_env, "solo")
    reader = aurora.connection_info(PRIMARY, "solo", reader=True)
    sql(reader, "CREATE TABLE t (id int)")  # writes work through it [AUR-UG:Aurora.Overview.Endpoints]
    assert sql(reader, "SELECT pg_is_in_recovery()") == [(False,)]


# -- failover ---------------------------------------------------------------------------------------
def test_failover_loses_nothing_and_the_writer_endpoint_refuses_until_it_ends(
        emu_env: Any, aurora: AuroraEmulator) -> None:
    rds = emu_env.client("rds")
    create_cluster(emu_env, "prod", instances={"prod-1": 1, "prod-2": 2, "prod-3": 0})
    writer = aurora.connection_info(PRIMARY, "prod")
    sql(writer, "CREATE TABLE t (id int PRIMARY KEY)")
    for i in range(1, 51):
        sql(writer, "INSERT INTO t VALUES (%s)", (i,))
    started = emu_env.clock.now()

    answer = rds.failover_db_cluster(DBClusterIdentifier="prod")["DBCluster"]
    assert answer["Status"] == "failing-over"
    assert refused(writer)
    assert ids(aurora.connection_info(PRIMARY, "prod", reader=True)) == list(range(1, 51))  # readers keep serving
    emu_env.clock.sleep(FAILOVER - 1)
    assert describe(emu_env, "prod")["Status"] == "failing-over" and refused(writer)
    emu_env.clock.sleep(1)

    cluster = describe(emu_env, "prod")
    assert cluster["Status"] == "available"
    assert writer_of(cluster) == "prod-3"  # the best (lowest) PromotionTier
    assert ids(writer) == list(range(1, 51))  # nothing acknowledged was lost
    sql(writer, "INSERT INTO t VALUES (51)")
    new_writer = aurora.instance_connection_info(PRIMARY, "prod-3")
    assert sql(new_writer, "SELECT pg_is_in_recovery(), count(*) FROM t") == [(False, 51)]
    old_writer = aurora.instance_connection_info(PRIMARY, "prod-1")  # back as a reader
    assert sql(old_writer, "SELECT pg_is_in_recovery(), count(*) FROM t") == [(True, 51)]
    events = [(e.event_id, e.t - started, e.message) for e in event_log(emu_env.emulation).events
              if e.source_type == "db-cluster" and e.event_id in ("RDS-EVENT-0073", "RDS-EVENT-0071")]
    assert events == [("RDS-EVENT-0073", 0.0, "Started cross AZ failover to DB instance: prod-3."),
                      ("RDS-EVENT-0071", FAILOVER, "Completed failover to DB instance: prod-3.")]


def test_failover_target_and_errors(emu_env: Any, aurora: AuroraEmulator) -> None:
    rds = emu_env.client("rds")
    create_cluster(emu_env, "solo")
    with pytest.raises(botocore.exceptions.ClientError) as no_replica:
        rds.failover_db_cluster(DBClusterIdentifier="solo")
    assert error_code(no_replica) == ("InvalidDBClusterStateFault", 400)

    create_cluster(emu_env, "prod", instances={"prod-1": 1, "prod-2": 0, "prod-3": 15})
    rds.failover_db_cluster(DBClusterIdentifier="prod", TargetDBInstanceIdentifier="prod-3")
    with pytest.raises(botocore.exceptions.ClientError) as busy:
        rds.failover_db_cluster(DBClusterIdentifier="prod")
    assert error_code(busy) == ("InvalidDBClusterStateFault", 400)
    emu_env.clock.sleep(FAILOVER)
    assert writer_of(describe(emu_env, "prod")) == "prod-3"
    with pytest.raises(botocore.exceptions.ClientError) as not_reader:
        rds.failover_db_cluster(DBClusterIdentifier="prod", TargetDBInstanceIdentifier="prod-3")
    assert error_code(not_reader) == ("InvalidDBInstanceState", 400)
    with pytest.raises(botocore.exceptions.ClientError) as missing:
        rds.failover_db_cluster(DBClusterIdentifier="nope")
    assert error_code(missing) == ("DBClusterNotFoundFault", 404)


def test_losing_the_writers_az_fails_over_automatically(emu_env: Any, aurora: AuroraEmulator) -> None:
    create_cluster(emu_env, "prod", instances={"prod-1": 1, "prod-2": 1})
    writer = aurora.connection_info(PRIMARY, "prod")
    sql(writer, "CREATE TABLE t (id int PRIMARY KEY)")
    sql(writer, "INSERT INTO t VALUES (1), (2)")

    emu_env.emulation.world.lose_az("us-east-1a")  # prod-1's AZ
    assert describe(emu_env, "prod")["Status"] == "failing-over" and refused(writer)
    emu_env.clock.sleep(FAILOVER)
    cluster = describe(emu_env, "prod")
    assert (cluster["Status"], writer_of(cluster)) == ("available", "prod-2")
    assert ids(writer) == [1, 2]
    sql(writer, "INSERT INTO t VALUES (3)")  # commits do not wait for the lost standby
    lost = emu_env.client("rds").describe_db_instances(DBInstanceIdentifier="prod-1")["DBInstances"][0]
    assert lost["DBInstanceStatus"] == "rebooting"

    emu_env.emulation.world.restore_az("us-east-1a")  # prod-1 comes back as a reader
    reader = aurora.instance_connection_info(PRIMARY, "prod-1")
    assert sql(reader, "SELECT pg_is_in_recovery()") == [(True,)] and ids(reader) == [1, 2, 3]


# -- reboot ----------------------------------------------------------------------------------------
def restarted_events(emu_env: Any, since: float) -> list[tuple[str, float, str]]:
    return [(e.source_id, e.t - since, e.message) for e in event_log(emu_env.emulation).events
            if e.event_id == "RDS-EVENT-0006"]


def test_rebooting_the_writer_refuses_its_endpoints_for_the_reboot_time_and_keeps_the_data(
        emu_env: Any, aurora: AuroraEmulator) -> None:
    rds = emu_env.client("rds")
    create_cluster(emu_env, "prod", instances={"prod-1": 1, "prod-2": 1})  # moto's default 12.7
    writer = aurora.connection_info(PRIMARY, "prod")
    reader = aurora.connection_info(PRIMARY, "prod", reader=True)
    own = {i: aurora.instance_connection_info(PRIMARY, i) for i in ("prod-1", "prod-2")}
    sql(writer, "CREATE TABLE t (id int PRIMARY KEY)")
    sql(writer, "INSERT INTO t VALUES (1), (2)")
    started = emu_env.clock.now()

    answer = rds.reboot_db_instance(DBInstanceIdentifier="prod-1")["DBInstance"]
    assert answer["DBInstanceStatus"] == "rebooting"
    # Without read availability (Aurora PostgreSQL 12.13 and lower) the readers reboot with the writer.
    statuses = {i["DBInstanceIdentifier"]: i["DBInstanceStatus"] for i in rds.describe_db_instances()["DBInstances"]}
    assert statuses == {"prod-1": "rebooting", "prod-2": "rebooting"}
    cluster = describe(emu_env, "prod")
    assert (cluster["Status"], writer_of(cluster)) == ("available", "prod-1")  # no failover
    emu_env.clock.sleep(REBOOT - 1)
    assert all(refused(info) for info in (writer, reader, own["prod-1"], own["prod-2"]))

    rds.get_waiter("db_instance_available").wait(DBInstanceIdentifier="prod-1", WaiterConfig={"Delay": 1})
    assert emu_env.clock.now() - started == REBOOT
    assert writer_of(describe(emu_env, "prod")) == "prod-1"
    assert ids(writer) == [1, 2]  # the same server: nothing lost
    sql(writer, "INSERT INTO t VALUES (3)")
    assert sql(own["prod-1"], "SELECT pg_is_in_recovery()") == [(False,)]
    assert ids(reader) == [1, 2, 3] and ids(own["prod-2"]) == [1, 2, 3]
    assert restarted_events(emu_env, started) == [("prod-1", REBOOT, "DB instance restarted."),
                                                  ("prod-2", REBOOT, "DB instance restarted.")]


def test_rebooting_a_reader_leaves_the_writer_serving(emu_env: Any, aurora: AuroraEmulator) -> None:
    rds = emu_env.client("rds")
    create_cluster(emu_env, "prod", instances={"prod-1": 1, "prod-2": 1})
    writer = aurora.connection_info(PRIMARY, "prod")
    rebooting = aurora.instance_connection_info(PRIMARY, "prod-2")
    sql(writer, "CREATE TABLE t (id int PRIMARY KEY)")
    started = emu_env.clock.now()

    assert rds.reboot_db_instance(DBInstanceIdentifier="prod-2")["DBInstance"]["DBInstanceStatus"] == "rebooting"
    sql(writer, "INSERT INTO t VALUES (1)")
    assert refused(rebooting) and ids(aurora.instance_connection_info(PRIMARY, "prod-1")) == [1]
    emu_env.clock.sleep(REBOOT - 1)
    assert refused(rebooting)
    emu_env.clock.sleep(1)
    assert rds.describe_db_instances(DBInstanceIdentifier="prod-2")["DBInstances"][0]["DBInstanceStatus"] == "available"
    assert ids(rebooting) == [1] and writer_of(describe(emu_env, "prod")) == "prod-1"
    assert restarted_events(emu_env, started) == [("prod-2", REBOOT, "DB instance restarted.")]


def test_with_read_availability_the_readers_keep_serving_while_the_writer_reboots(
        emu_env: Any, aurora: AuroraEmulator) -> None:
    create_cluster(emu_env, "prod", instances={"prod-1": 1, "prod-2": 1}, EngineVersion="15.4")
    writer = aurora.connection_info(PRIMARY, "prod")
    reader = aurora.connection_info(PRIMARY, "prod", reader=True)
    sql(writer, "CREATE TABLE t (id int PRIMARY KEY)")
    sql(writer, "INSERT INTO t VALUES (1)")

    emu_env.client("rds").reboot_db_instance(DBInstanceIdentifier="prod-1")
    assert refused(writer) and ids(reader) == [1]
    emu_env.clock.sleep(REBOOT)
    assert ids(writer) == [1]


def test_reboot_errors(emu_env: Any, aurora: AuroraEmulator) -> None:
    rds = emu_env.client("rds")
    create_cluster(emu_env, "prod", instances={"prod-1": 1, "prod-2": 1}, wait=False)
    with pytest.raises(botocore.exceptions.ClientError) as creating:
        rds.reboot_db_instance(DBInstanceIdentifier="prod-1")
    assert error_code(creating) == ("InvalidDBInstanceState", 400)
    emu_env.clock.sleep(CREATE)

    with pytest.raises(botocore.exceptions.ClientError) as force_failover:
        rds.reboot_db_instance(DBInstanceIdentifier="prod-1", ForceFailover=True)
    assert error_code(force_failover) == ("InvalidParameterCombination", 400)  # Aurora: FailoverDBCluster
    rds.reboot_db_instance(DBInstanceIdentifier="prod-2")
    with pytest.raises(botocore.exceptions.ClientError) as rebooting:
        rds.reboot_db_instance(DBInstanceIdentifier="prod-2")
    assert error_code(rebooting) == ("InvalidDBInstanceState", 400)
    emu_env.clock.sleep(REBOOT)

    rds.failover_db_cluster(DBClusterIdentifier="prod")
    with pytest.raises(botocore.exceptions.ClientError) as failing_over:
        rds.reboot_db_instance(DBInstanceIdentifier="prod-2")
    assert error_code(failing_over) == ("InvalidDBInstanceState", 400)
    with pytest.raises(botocore.exceptions.ClientError) as missing:
        rds.reboot_db_instance(DBInstanceIdentifier="nope")  # not a member: moto (or rds.py) answers
    assert error_code(missing) == ("DBInstanceNotFound", 404)


# -- global database ------------------------------------------------------------------------------
def global_database(emu_env: Any, *, from_source: bool = True) -> tuple[str, str]:
    """prod (us-east-1, writer + reader) as primary of global ``g``, dr (us-west-2, 1 instance) as secondary."""
    prod = create_cluster(emu_env, "prod", instances={"prod-1": 1, "prod-2": 1})
    rds = emu_env.client("rds")
    if from_source:
        rds.create_global_cluster(GlobalClusterIdentifier="g", SourceDBClusterIdentifier=prod["DBClusterArn"])
    dr = create_cluster(emu_env, "dr", DR, instances={"dr-1": 1}, GlobalClusterIdentifier="g")
    return prod["DBClusterArn"], dr["DBClusterArn"]


def members(emu_env: Any) -> dict[str, bool]:
    gdb = emu_env.client("rds").describe_global_clusters(GlobalClusterIdentifier="g")["GlobalClusters"][0]
    return {m["DBClusterArn"].split(":")[-1]: m["IsWriter"] for m in gdb["GlobalClusterMembers"]}


def test_global_database_from_a_source_cluster_replicates_with_lag_to_a_read_only_secondary(
        emu_env: Any, aurora: AuroraEmulator) -> None:
    prod_arn, dr_arn = global_database(emu_env)
    gdb = emu_env.client("rds", DR).describe_global_clusters(GlobalClusterIdentifier="g")["GlobalClusters"][0]
    writer_member = next(m for m in gdb["GlobalClusterMembers"] if m["IsWriter"])
    assert writer_member["DBClusterArn"] == prod_arn and writer_member["Readers"] == [dr_arn]  # moto: IsWriter false
    assert describe(emu_env, "dr", DR)["GlobalClusterIdentifier"] == "g"
    assert writer_of(describe(emu_env, "prod")) == "prod-1"
    assert all(not m["IsClusterWriter"] for m in describe(emu_env, "dr", DR)["DBClusterMembers"])

    primary, secondary = aurora.connection_info(PRIMARY, "prod"), aurora.connection_info(DR, "dr")
    assert secondary["user"] == "app" and secondary["dbname"] == "orders"
    sql(primary, "CREATE TABLE t (id int PRIMARY KEY)")
    sql(primary, "INSERT INTO t VALUES (1)")
    emu_env.clock.sleep(0.5)
    assert sql(secondary, "SELECT to_regclass('t') IS NULL") == [(True,)]  # still held by the lag
    emu_env.clock.sleep(GLOBAL_LAG)
    aurora.cluster(DR, "dr").replica.wait_applied()  # type: ignore[union-attr]
    assert ids(secondary) == [1]
    with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        sql(secondary, "INSERT INTO t VALUES (2)")

    emu_env.emulation.world.pause("rds", "g")  # replication paused: the stream is held, whatever the lag
    sql(primary, "INSERT INTO t VALUES (3)")
    emu_env.clock.sleep(10 * GLOBAL_LAG)
    assert ids(secondary) == [1]
    emu_env.emulation.world.resume("rds", "g")
    # The data plane tags WAL of a paused link when it arrives, which may be one clock move after
    # the commit (it captures only running links before a move): give it one lag to be released.
    emu_env.clock.sleep(GLOBAL_LAG)
    aurora.cluster(DR, "dr").replica.wait_applied()  # type: ignore[union-attr]
    assert ids(secondary) == [1, 3]


def test_region_loss_then_detach_and_promote_loses_exactly_the_lag(emu_env: Any, aurora: AuroraEmulator) -> None:
    _, dr_arn = global_database(emu_env)
    primary = aurora.connection_info(PRIMARY, "prod")
    sql(primary, "CREATE TABLE t (id int PRIMARY KEY)")
    emu_env.clock.sleep(5)
    sql(primary, "INSERT INTO t VALUES (1)")  # acknowledged 2 s before the region loss
    emu_env.clock.sleep(1.5)
    sql(primary, "INSERT INTO t VALUES (2)")  # acknowledged 0.5 s before
    emu_env.clock.sleep(0.5)

    emu_env.emulation.world.lose_region(PRIMARY)
    rds = emu_env.client("rds", DR)
    answer = rds.remove_from_global_cluster(GlobalClusterIdentifier="g", DbClusterIdentifier=dr_arn)["GlobalCluster"]
    assert [m["DBClusterArn"] for m in answer["GlobalClusterMembers"]] == [aurora.cluster(PRIMARY, "prod").arn]
    cluster = describe(emu_env, "dr", DR)
    assert "GlobalClusterIdentifier" not in cluster and writer_of(cluster) == "dr-1"
    promoted = aurora.connection_info(DR, "dr")
    assert ids(promoted) == [1]  # row 2 was still in the replication lag when the region died
    sql(promoted, "INSERT INTO t VALUES (3)")  # standalone read/write
    assert ids(promoted) == [1, 3]


def test_switchover_loses_nothing_and_swaps_roles(emu_env: Any, aurora: AuroraEmulator) -> None:
    prod_arn, dr_arn = global_database(emu_env)
    old_primary = aurora.connection_info(PRIMARY, "prod")
    sql(old_primary, "CREATE TABLE t (id int PRIMARY KEY)")
    sql(old_primary, "INSERT INTO t SELECT generate_series(1, 100)")  # nothing replicated yet

    rds = emu_env.client("rds", DR)
    gdb = rds.switchover_global_cluster(GlobalClusterIdentifier="g", TargetDbClusterIdentifier=dr_arn)["GlobalCluster"]
    assert gdb["Status"] == "switching-over"
    assert gdb["FailoverState"] == {"Status": "pending", "FromDbClusterArn": prod_arn, "ToDbClusterArn": dr_arn,
                                    "IsDataLossAllowed": False}
    emu_env.clock.sleep(GLOBAL_FAILOVER)
    gdb = rds.describe_global_clusters(GlobalClusterIdentifier="g")["GlobalClusters"][0]
    assert gdb["Status"] == "available" and "FailoverState" not in gdb
    assert members(emu_env) == {"dr": True, "prod": False}

    new_primary = aurora.connection_info(DR, "dr")
    assert ids(new_primary) == list(range(1, 101))  # every acknowledged write made it
    sql(new_primary, "INSERT INTO t VALUES (101)")
    with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):  # the old primary is now a secondary
        sql(old_primary, "INSERT INTO t VALUES (102)")
    emu_env.clock.sleep(GLOBAL_LAG)
    aurora.cluster(PRIMARY, "prod").replica.wait_applied()  # type: ignore[union-attr]
    assert ids(old_primary)[-1] == 101
    switch_events = [e.event_id for e in event_log(emu_env.emulation).events if e.categories == ("global failover",)]
    assert switch_events == ["RDS-EVENT-0181", "RDS-EVENT-0182", "RDS-EVENT-0183", "RDS-EVENT-0184", "RDS-EVENT-0185"]


def test_failover_global_cluster_states(emu_env: Any, aurora: AuroraEmulator) -> None:
    prod_arn, dr_arn = global_database(emu_env)
    rds = emu_env.client("rds", DR)
    with pytest.raises(botocore.exceptions.ClientError) as same:
        rds.failover_global_cluster(GlobalClusterIdentifier="g", TargetDbClusterIdentifier=prod_arn, AllowDataLoss=True)
    assert error_code(same) == ("InvalidGlobalClusterStateFault", 400)

    started = emu_env.clock.now()
    gdb = rds.failover_global_cluster(GlobalClusterIdentifier="g", TargetDbClusterIdentifier=dr_arn,
                                      AllowDataLoss=True)["GlobalCluster"]
    assert gdb["Status"] == "failing-over"
    assert gdb["FailoverState"] == {"Status": "pending", "FromDbClusterArn": prod_arn, "ToDbClusterArn": dr_arn,
                                    "IsDataLossAllowed": True}
    emu_env.clock.sleep(GLOBAL_FAILOVER * 0.1)
    gdb = rds.describe_global_clusters(GlobalClusterIdentifier="g")["GlobalClusters"][0]
    assert gdb["FailoverState"]["Status"] == "failing-over" and members(emu_env) == {"prod": True, "dr": False}
    assert refused(aurora.connection_info(PRIMARY, "prod"))  # the old primary is shut down
    with pytest.raises(botocore.exceptions.ClientError) as busy:
        rds.switchover_global_cluster(GlobalClusterIdentifier="g", TargetDbClusterIdentifier=dr_arn)
    assert error_code(busy) == ("InvalidGlobalClusterStateFault", 400)
    emu_env.clock.sleep(GLOBAL_FAILOVER * 0.9)

    gdb = rds.describe_global_clusters(GlobalClusterIdentifier="g")["GlobalClusters"][0]
    assert gdb["Status"] == "available" and "FailoverState" not in gdb
    assert members(emu_env) == {"dr": True, "prod": False}
    sql(aurora.connection_info(DR, "dr"), "CREATE TABLE after_failover (id int)")
    events = [(e.event_id, e.t - started) for e in event_log(emu_env.emulation).events
              if e.categories == ("global failover",)]
    assert events == [("RDS-EVENT-0182", GLOBAL_FAILOVER * 0.1), ("RDS-EVENT-0184", GLOBAL_FAILOVER),
                      ("RDS-EVENT-0238", GLOBAL_FAILOVER)]
    with pytest.raises(botocore.exceptions.ClientError) as unknown:
        rds.failover_global_cluster(GlobalClusterIdentifier="nope", TargetDbClusterIdentifier=dr_arn,
                                    AllowDataLoss=True)
    assert error_code(unknown) == ("GlobalClusterNotFoundFault", 404)


def test_an_empty_global_cluster_takes_its_first_member_as_primary(emu_env: Any, aurora: AuroraEmulator) -> None:
    rds = emu_env.client("rds")
    rds.create_global_cluster(GlobalClusterIdentifier="g", Engine=ENGINE)
    create_cluster(emu_env, "prod", GlobalClusterIdentifier="g", MasterUsername="app", MasterUserPassword="secret123")
    create_cluster(emu_env, "dr", DR, GlobalClusterIdentifier="g")
    assert members(emu_env) == {"prod": True, "dr": False}
    with pytest.raises(botocore.exceptions.ClientError) as not_empty:
        rds.delete_global_cluster(GlobalClusterIdentifier="g")
    assert error_code(not_empty) == ("InvalidGlobalClusterStateFault", 400)
    with pytest.raises(botocore.exceptions.ClientError) as member:
        rds.delete_db_cluster(DBClusterIdentifier="prod", SkipFinalSnapshot=True)
    assert error_code(member) == ("InvalidDBClusterStateFault", 400)


def test_after_a_region_loss_and_a_global_failover_the_old_primary_comes_back_as_a_secondary(
        emu_env: Any, aurora: AuroraEmulator) -> None:
    prod_arn, dr_arn = global_database(emu_env)
    old_primary = aurora.connection_info(PRIMARY, "prod")
    sql(old_primary, "CREATE TABLE t (id int PRIMARY KEY)")
    sql(old_primary, "INSERT INTO t VALUES (1)")
    emu_env.clock.sleep(5)
    emu_env.emulation.world.lose_region(PRIMARY)

    rds = emu_env.client("rds", DR)
    rds.failover_global_cluster(GlobalClusterIdentifier="g", TargetDbClusterIdentifier=dr_arn, AllowDataLoss=True)
    emu_env.clock.sleep(GLOBAL_FAILOVER)
    gdb = rds.describe_global_clusters(GlobalClusterIdentifier="g")["GlobalClusters"][0]
    roles = {m["DBClusterArn"]: (m["IsWriter"], m.get("SynchronizationStatus")) for m in gdb["GlobalClusterMembers"]}
    assert roles == {dr_arn: (True, None), prod_arn: (False, "pending-resync")}
    new_primary = aurora.connection_info(DR, "dr")
    sql(new_primary, "INSERT INTO t VALUES (2)")

    emu_env.emulation.world.restore_region(PRIMARY)  # rebuilt from the new primary, not split-brained
    gdb = rds.describe_global_clusters(GlobalClusterIdentifier="g")["GlobalClusters"][0]
    assert next(m for m in gdb["GlobalClusterMembers"] if not m["IsWriter"])["SynchronizationStatus"] == "connected"
    assert ids(old_primary) == [1, 2]  # the base copy holds everything up to now
    with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        sql(old_primary, "INSERT INTO t VALUES (3)")
    sql(new_primary, "INSERT INTO t VALUES (4)")
    emu_env.clock.sleep(GLOBAL_LAG)
    aurora.cluster(PRIMARY, "prod").replica.wait_applied()  # type: ignore[union-attr]
    assert ids(old_primary) == [1, 2, 4]


def poll_until_writer(emu_env: Any, cluster: str, every: float = 1.0) -> float:
    """Poll DescribeGlobalClusters as a runbook does; the clock time ``cluster`` is first reported writer."""
    rds = emu_env.client("rds", DR)
    while True:
        gdb = rds.describe_global_clusters(GlobalClusterIdentifier="g")["GlobalClusters"][0]
        writers = [m["DBClusterArn"].split(":")[-1] for m in gdb["GlobalClusterMembers"] if m["IsWriter"]]
        if gdb["Status"] == "available" and writers == [cluster]:
            return float(emu_env.clock.now())
        emu_env.clock.sleep(every)


def test_after_a_region_loss_the_promoted_writer_endpoint_takes_writes_as_soon_as_it_is_reported_writer(
        emu_env: Any, aurora: AuroraEmulator) -> None:
    _, dr_arn = global_database(emu_env)
    sql(aurora.connection_info(PRIMARY, "prod"), "CREATE TABLE t (id int PRIMARY KEY)")
    emu_env.clock.sleep(2 * GLOBAL_LAG)
    emu_env.emulation.world.lose_region(PRIMARY)
    started = emu_env.clock.now()
    emu_env.client("rds", DR).failover_global_cluster(GlobalClusterIdentifier="g", TargetDbClusterIdentifier=dr_arn,
                                                      AllowDataLoss=True)
    writer = aurora.connection_info(DR, "dr")  # the cluster's Port: the same endpoint before and after
    with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        sql(writer, "INSERT INTO t VALUES (1)")  # still a secondary

    assert poll_until_writer(emu_env, "dr") == started + GLOBAL_FAILOVER
    sql(writer, "INSERT INTO t VALUES (2)")  # at once: no clock move after the promotion
    assert ids(writer) == [2]


def test_a_promoted_cluster_whose_only_instance_is_still_creating_serves_once_the_instance_is_available(
        emu_env: Any, aurora: AuroraEmulator) -> None:
    """The cluster's writer endpoint is its writer instance's: an instance still ``creating`` serves
    nothing, promoted or not (the ``db_cluster_available`` waiter does not wait for members, [BW:rds])."""
    prod = create_cluster(emu_env, "prod", instances={"prod-1": 1, "prod-2": 1})
    rds = emu_env.client("rds", DR)
    emu_env.client("rds").create_global_cluster(GlobalClusterIdentifier="g",
                                                SourceDBClusterIdentifier=prod["DBClusterArn"])
    dr_arn = create_cluster(emu_env, "dr", DR, instances={}, GlobalClusterIdentifier="g")["DBClusterArn"]
    sql(aurora.connection_info(PRIMARY, "prod"), "CREATE TABLE t (id int PRIMARY KEY)")
    emu_env.profile.override("rds_create_time", 5 * CREATE, origin="test")
    created = emu_env.clock.now()
    rds.create_db_instance(DBInstanceIdentifier="dr-1", DBClusterIdentifier="dr", Engine=ENGINE,
                           DBInstanceClass="db.r6g.large")
    emu_env.clock.sleep(2 * GLOBAL_LAG)
    emu_env.emulation.world.lose_region(PRIMARY)
    rds.failover_global_cluster(GlobalClusterIdentifier="g", TargetDbClusterIdentifier=dr_arn, AllowDataLoss=True)

    poll_until_writer(emu_env, "dr")
    assert writer_of(describe(emu_env, "dr", DR)) == "dr-1"
    assert rds.describe_db_instances(DBInstanceIdentifier="dr-1")["DBInstances"][0]["DBInstanceStatus"] == "creating"
    writer = aurora.connection_info(DR, "dr")
    assert refused(writer)
    emu_env.clock.sleep(created + 5 * CREATE - emu_env.clock.now())
    assert rds.describe_db_instances(DBInstanceIdentifier="dr-1")["DBInstances"][0]["DBInstanceStatus"] == "available"
    sql(writer, "INSERT INTO t VALUES (1)")
    assert ids(writer) == [1]


def test_a_demoted_primary_detached_before_its_region_returns_keeps_its_own_data(
        emu_env: Any, aurora: AuroraEmulator) -> None:
    prod_arn, dr_arn = global_database(emu_env)
    old_primary = aurora.connection_info(PRIMARY, "prod")
    sql(old_primary, "CREATE TABLE t (id int PRIMARY KEY)")
    sql(old_primary, "INSERT INTO t VALUES (1)")
    emu_env.clock.sleep(2 * GLOBAL_LAG)
    sql(old_primary, "INSERT INTO t VALUES (2)")  # never replicated: the region dies first
    emu_env.clock.sleep(GLOBAL_LAG / 2)
    emu_env.emulation.world.lose_region(PRIMARY)
    rds = emu_env.client("rds", DR)
    rds.failover_global_cluster(GlobalClusterIdentifier="g", TargetDbClusterIdentifier=dr_arn, AllowDataLoss=True)
    emu_env.clock.sleep(GLOBAL_FAILOVER)
    assert ids(aurora.connection_info(DR, "dr")) == [1]

    rds.remove_from_global_cluster(GlobalClusterIdentifier="g", DbClusterIdentifier=prod_arn)
    emu_env.emulation.world.restore_region(PRIMARY)
    assert writer_of(describe(emu_env, "prod")) == "prod-1"
    assert ids(old_primary) == [1, 2]  # standalone, with what it had: two diverged clusters, as on AWS
    sql(old_primary, "INSERT INTO t VALUES (3)")


# -- PITR and snapshots -----------------------------------------------------------------------------
def test_cluster_pitr_holds_exactly_the_data_as_of_the_time(emu_env: Any, aurora: AuroraEmulator) -> None:
    rds = emu_env.client("rds")
    create_cluster(emu_env, "prod")
    writer = aurora.connection_info(PRIMARY, "prod")
    sql(writer, "CREATE TABLE t (id int PRIMARY KEY)")
    sql(writer, "INSERT INTO t VALUES (1), (2)")
    emu_env.clock.sleep(10)
    target = emu_env.clock.now()
    emu_env.clock.sleep(10)
    sql(writer, "INSERT INTO t VALUES (3)")  # after T: absent from the restore
    sql(writer, "DELETE FROM t WHERE id = 1")  # after T: present in the restore
    emu_env.clock.sleep(PITR_LAG)
    latest = describe(emu_env, "prod")["LatestRestorableTime"]
    assert latest == emu_env.clock.datetime(emu_env.clock.now() - PITR_LAG)

    restored = rds.restore_db_cluster_to_point_in_time(
        DBClusterIdentifier="prod-pitr", SourceDBClusterIdentifier="prod",
        RestoreToTime=emu_env.clock.datetime(target))["DBCluster"]
    assert restored["Status"] == "creating" and restored["DBClusterMembers"] == []
    assert "LatestRestorableTime" not in restored and "GlobalClusterIdentifier" not in restored
    rds.get_waiter("db_cluster_available").wait(DBClusterIdentifier="prod-pitr")
    rds.create_db_instance(DBInstanceIdentifier="prod-pitr-1", DBClusterIdentifier="prod-pitr", Engine=ENGINE,
                           DBInstanceClass="db.r6g.large")
    rds.get_waiter("db_instance_available").wait(DBInstanceIdentifier="prod-pitr-1")
    assert writer_of(describe(emu_env, "prod-pitr")) == "prod-pitr-1"
    assert ids(aurora.connection_info(PRIMARY, "prod-pitr")) == [1, 2]
    assert ids(writer) == [2, 3]  # the source is untouched


def test_cluster_pitr_errors(emu_env: Any, aurora: AuroraEmulator) -> None:
    rds = emu_env.client("rds")
    create_cluster(emu_env, "prod")
    create_cluster(emu_env, "other", instances={})
    emu_env.clock.sleep(PITR_LAG)
    cases = {
        ("InvalidRestoreFault", 400): {"DBClusterIdentifier": "new", "SourceDBClusterIdentifier": "prod",
                                       "RestoreToTime": emu_env.clock.datetime(emu_env.clock.now() - 10)},
        ("DBClusterAlreadyExistsFault", 400): {"DBClusterIdentifier": "other", "SourceDBClusterIdentifier": "prod",
                                               "UseLatestRestorableTime": True},
        ("DBClusterNotFoundFault", 404): {"DBClusterIdentifier": "new", "SourceDBClusterIdentifier": "nope",
                                          "UseLatestRestorableTime": True},
    }
    for expected, params in cases.items():
        with pytest.raises(botocore.exceptions.ClientError) as exc:
            rds.restore_db_cluster_to_point_in_time(**params)
        assert error_code(exc) == expected
    with pytest.raises(botocore.exceptions.ClientError) as before_creation:
        rds.restore_db_cluster_to_point_in_time(DBClusterIdentifier="new", SourceDBClusterIdentifier="prod",
                                                RestoreToTime=emu_env.clock.datetime(0) - _dt.timedelta(seconds=1))
    assert error_code(before_creation) == ("InvalidRestoreFault", 400)


def test_cluster_snapshot_restores_into_a_new_cluster(emu_env: Any, aurora: AuroraEmulator) -> None:
    rds = emu_env.client("rds")
    create_cluster(emu_env, "prod")
    writer = aurora.connection_info(PRIMARY, "prod")
    sql(writer, "CREATE TABLE t (id int PRIMARY KEY)")
    sql(writer, "INSERT INTO t VALUES (1)")
    taken = emu_env.clock.now()
    snapshot = rds.create_db_cluster_snapshot(DBClusterSnapshotIdentifier="s1", DBClusterIdentifier="prod")
    assert snapshot["DBClusterSnapshot"]["Status"] == "creating"
    sql(writer, "INSERT INTO t VALUES (2)")  # after the snapshot
    with pytest.raises(botocore.exceptions.ClientError) as not_ready:
        rds.restore_db_cluster_from_snapshot(DBClusterIdentifier="copy", SnapshotIdentifier="s1", Engine=ENGINE)
    assert error_code(not_ready) == ("InvalidDBClusterSnapshotStateFault", 400)
    rds.get_waiter("db_cluster_snapshot_available").wait(DBClusterSnapshotIdentifier="s1", WaiterConfig={"Delay": 10})
    assert emu_env.clock.now() == taken + SNAPSHOT
    described = rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier="s1")["DBClusterSnapshots"][0]
    assert (described["Status"], described["SnapshotCreateTime"]) == ("available", emu_env.clock.datetime(taken))

    restored = rds.restore_db_cluster_from_snapshot(DBClusterIdentifier="copy", SnapshotIdentifier="s1",
                                                    Engine=ENGINE)["DBCluster"]
    assert (restored["Status"], restored["DBClusterMembers"]) == ("creating", [])
    with pytest.raises(botocore.exceptions.ClientError) as exists:
        rds.restore_db_cluster_from_snapshot(DBClusterIdentifier="copy", SnapshotIdentifier="s1", Engine=ENGINE)
    assert error_code(exists) == ("DBClusterAlreadyExistsFault", 400)
    emu_env.clock.sleep(RESTORE)
    assert describe(emu_env, "copy")["Status"] == "available"
    rds.create_db_instance(DBInstanceIdentifier="copy-1", DBClusterIdentifier="copy", Engine=ENGINE,
                           DBInstanceClass="db.r6g.large")
    emu_env.clock.sleep(CREATE)
    copy = aurora.connection_info(PRIMARY, "copy")
    assert copy["user"] == "app" and ids(copy) == [1]
    assert ids(writer) == [1, 2]
    messages = [e.message for e in event_log(emu_env.emulation).events if e.source_type == "db-cluster-snapshot"]
    assert messages == ["Creating manual cluster snapshot.", "Manual cluster snapshot created."]

    rds.delete_db_instance(DBInstanceIdentifier="prod-1", SkipFinalSnapshot=True)
    rds.delete_db_cluster(DBClusterIdentifier="prod", FinalDBSnapshotIdentifier="final")
    rds.get_waiter("db_cluster_snapshot_available").wait(DBClusterSnapshotIdentifier="final")
    rds.restore_db_cluster_from_snapshot(DBClusterIdentifier="last", SnapshotIdentifier="final", Engine=ENGINE)
    rds.create_db_instance(DBInstanceIdentifier="last-1", DBClusterIdentifier="last", Engine=ENGINE,
                           DBInstanceClass="db.r6g.large")
    emu_env.clock.sleep(RESTORE)
    assert ids(aurora.connection_info(PRIMARY, "last")) == [1, 2]


# -- Data API ---------------------------------------------------------------------------------------
def test_data_api_round_trip(emu_env: Any, aurora: AuroraEmulator) -> None:
    arn = create_cluster(emu_env, "prod", EnableHttpEndpoint=True)["DBClusterArn"]
    assert describe(emu_env, "prod")["HttpEndpointEnabled"] is True
    data = emu_env.client("rds-data")
    master = make_secret(emu_env, "prod-master", {"username": "app", "password": "secret123"})

    def run(statement: str, **extra: Any) -> dict[str, Any]:
        answer: dict[str, Any] = data.execute_statement(resourceArn=arn, secretArn=master, database="orders",
                                                        sql=statement, **extra)
        return answer

    run("CREATE TABLE items (id bigint PRIMARY KEY, name text, price numeric(8,2), ok boolean, blob bytea, "
        "made date, score float8)")
    inserted = run("INSERT INTO items VALUES (:id, :name, :price, :ok, :blob, :made, :score)", parameters=[
        {"name": "id", "value": {"longValue": 7}}, {"name": "name", "value": {"stringValue": "50% off: 'x'"}},
        {"name": "price", "value": {"stringValue": "9.99"}, "typeHint": "DECIMAL"},
        {"name": "ok", "value": {"booleanValue": True}}, {"name": "blob", "value": {"blobValue": b"\x00\x01"}},
        {"name": "made", "value": {"stringValue": "2026-01-05"}, "typeHint": "DATE"},
        {"name": "score", "value": {"doubleValue": 0.5}}])
    assert inserted["numberOfRecordsUpdated"] == 1 and "records" not in inserted
    run("INSERT INTO items (id, name) VALUES (8, NULL)")

    answer = run("SELECT id, name, price, ok, blob, made, score, id::text::int AS cast FROM items WHERE id = :id",
                 parameters=[{"name": "id", "value": {"longValue": 7}}], includeResultMetadata=True)
    assert answer["records"] == [[{"longValue": 7}, {"stringValue": "50% off: 'x'"}, {"stringValue": "9.99"},
                                  {"booleanValue": True}, {"blobValue": b"\x00\x01"}, {"stringValue": "2026-01-05"},
                                  {"doubleValue": 0.5}, {"longValue": 7}]]
    assert answer["numberOfRecordsUpdated"] == 0
    assert [(c["name"], c["typeName"], c["type"]) for c in answer["columnMetadata"]] == [
        ("id", "int8", -5), ("name", "text", 12), ("price", "numeric", 2), ("ok", "bool", -7),
        ("blob", "bytea", -2), ("made", "date", 91), ("score", "float8", 8), ("cast", "int4", 4)]
    null_row = run("SELECT name FROM items WHERE id = 8")
    assert null_row["records"] == [[{"isNull": True}]]
    as_json = run("SELECT id, name FROM items ORDER BY id", formatRecordsAs="JSON")
    assert "records" not in as_json
    assert as_json["formattedRecords"] == '[{"id": 7, "name": "50% off: \'x\'"}, {"id": 8, "name": null}]'

    tx = data.begin_transaction(resourceArn=arn, secretArn=master, database="orders")["transactionId"]
    run("DELETE FROM items WHERE id = 8", transactionId=tx)
    rolled_back = data.rollback_transaction(resourceArn=arn, secretArn=master, transactionId=tx)
    assert rolled_back["transactionStatus"] == "Rollback Complete"
    assert len(run("SELECT id FROM items")["records"]) == 2
    with pytest.raises(botocore.exceptions.ClientError) as gone:
        data.commit_transaction(resourceArn=arn, secretArn=master, transactionId=tx)
    assert error_code(gone) == ("TransactionNotFoundException", 404)
    # the writer's data, seen by psycopg as the master user
    assert sql(aurora.connection_info(PRIMARY, "prod"), "SELECT count(*) FROM items") == [(2,)]
    # statements run as the secret's user
    sql(aurora.connection_info(PRIMARY, "prod"), "CREATE ROLE analyst LOGIN PASSWORD 'analyst-pw'")
    analyst = make_secret(emu_env, "prod-analyst", {"username": "analyst", "password": "analyst-pw"})
    who = data.execute_statement(resourceArn=arn, secretArn=analyst, database="orders", sql="SELECT current_user")
    assert who["records"] == [[{"stringValue": "analyst"}]]
    with pytest.raises(botocore.exceptions.ClientError) as denied:
        data.execute_statement(resourceArn=arn, secretArn=analyst, database="orders", sql="SELECT * FROM items")
    assert error_code(denied) == ("DatabaseErrorException", 400)
    assert "permission denied" in denied.value.response["Error"]["Message"]


def test_data_api_errors(emu_env: Any, aurora: AuroraEmulator) -> None:
    data = emu_env.client("rds-data")
    no_http = create_cluster(emu_env, "plain")["DBClusterArn"]
    empty = create_cluster(emu_env, "empty", instances={}, EnableHttpEndpoint=True)["DBClusterArn"]
    prod = create_cluster(emu_env, "prod", instances={"prod-1": 1, "prod-2": 1},
                          EnableHttpEndpoint=True)["DBClusterArn"]
    master = make_secret(emu_env, "master", {"username": "app", "password": "secret123"})

    def code(arn: str, statement: str = "SELECT 1", secret: str | None = None, **extra: Any) -> tuple[str, int]:
        with pytest.raises(botocore.exceptions.ClientError) as exc:
            data.execute_statement(resourceArn=arn, secretArn=secret or master, sql=statement, **extra)
        return error_code(exc)

    assert code(no_http) == ("HttpEndpointNotEnabledException", 400)
    assert code(empty) == ("DatabaseNotFoundException", 404)
    assert code(prod, "SELEC 1") == ("DatabaseErrorException", 400)
    assert code(prod, "SELECT * FROM missing") == ("DatabaseErrorException", 400)
    assert code(prod, "SELECT :x") == ("BadRequestException", 400)
    assert code(prod, "SELECT :x", parameters=[{"name": "x", "value": {"arrayValue": {"longValues": [1]}}}]) == \
        ("BadRequestException", 400)
    assert code(aurora.cluster(PRIMARY, "prod").arn.replace("prod", "nope")) == ("BadRequestException", 400)
    # the secret: it must exist in the cluster's region, hold JSON credentials, and they must log in
    assert code(prod, secret=master.replace(":master", ":absent")) == ("SecretsErrorException", 400)
    assert code(prod, secret=make_secret(emu_env, "master", {"username": "app", "password": "secret123"},
                                         region=DR)) == ("SecretsErrorException", 400)
    assert code(prod, secret=make_secret(emu_env, "plain-text", "secret123")) == ("InvalidSecretException", 400)
    assert code(prod, secret=make_secret(emu_env, "no-user", {"password": "x"})) == ("InvalidSecretException", 400)
    wrong = make_secret(emu_env, "wrong", {"username": "app", "password": "not-it"})
    with pytest.raises(botocore.exceptions.ClientError) as refused_login:
        data.execute_statement(resourceArn=prod, secretArn=wrong, sql="SELECT 1")
    assert error_code(refused_login) == ("BadRequestException", 400)
    assert refused_login.value.response["Error"]["Message"] == 'FATAL: password authentication failed for user "app"'
    with pytest.raises(botocore.exceptions.ClientError) as refused_tx:
        data.begin_transaction(resourceArn=prod, secretArn=wrong)
    assert error_code(refused_tx) == ("BadRequestException", 400)

    emu_env.client("rds").failover_db_cluster(DBClusterIdentifier="prod")
    assert code(prod) == ("DatabaseUnavailableException", 504)
    emu_env.clock.sleep(FAILOVER)
    assert data.execute_statement(resourceArn=prod, secretArn=master, sql="SELECT 1")["records"] == [[{"longValue": 1}]]


def test_modify_db_cluster_changes_the_master_password_at_once_for_every_endpoint(
        emu_env: Any, aurora: AuroraEmulator) -> None:
    arn = create_cluster(emu_env, "prod", instances={"prod-1": 1, "prod-2": 1}, EnableHttpEndpoint=True)["DBClusterArn"]
    old = make_secret(emu_env, "old", {"username": "app", "password": "secret123"})
    new = make_secret(emu_env, "new", {"username": "app", "password": "rotated-pw"})
    writer, reader = aurora.connection_info(PRIMARY, "prod"), aurora.connection_info(PRIMARY, "prod", reader=True)
    with pytest.raises(psycopg.OperationalError, match='password authentication failed for user "app"'):
        sql({**writer, "password": "rotated-pw"}, "SELECT 1")

    emu_env.client("rds").modify_db_cluster(DBClusterIdentifier="prod", MasterUserPassword="rotated-pw")

    assert aurora.connection_info(PRIMARY, "prod")["password"] == "rotated-pw"
    for info in (writer, reader):  # the reader follows through replication
        assert sql({**info, "password": "rotated-pw"}, "SELECT current_user") == [("app",)]
        with pytest.raises(psycopg.OperationalError, match='password authentication failed for user "app"'):
            sql(info, "SELECT 1")  # the password it was created with
    data = emu_env.client("rds-data")
    assert data.execute_statement(resourceArn=arn, secretArn=new, sql="SELECT 1")["records"] == [[{"longValue": 1}]]
    with pytest.raises(botocore.exceptions.ClientError) as stale:
        data.execute_statement(resourceArn=arn, secretArn=old, sql="SELECT 1")
    assert error_code(stale) == ("BadRequestException", 400)


def test_named_parameters_skip_literals_comments_and_casts() -> None:
    query, values = to_psycopg(
        "SELECT :a::int, ':b', \"c:d\", $$:e$$ -- :f\n, 5 % 2 /* :g */ WHERE x = :a",
        [{"name": "a", "value": {"longValue": 1}}])
    assert query == "SELECT %(a)s::int, ':b', \"c:d\", $$:e$$ -- :f\n, 5 %% 2 /* :g */ WHERE x = %(a)s"
    assert values == {"a": 1}


# -- restore times as AWS takes them, automated snapshot names, seeded ids -------------------------
def test_cluster_pitr_takes_the_restore_time_as_a_string_and_the_latest_time_as_reported(
        emu_env: Any, aurora: AuroraEmulator) -> None:
    # botocore takes a timestamp as a datetime or an ISO 8601 string; a time copied from
    # LatestRestorableTime (rounded to the microsecond) lies in the window, as for DB instances.
    rds = emu_env.client("rds")
    create_cluster(emu_env, "prod")
    emu_env.clock.sleep(PITR_LAG + 0.0000007)  # the latest restorable time is not a whole microsecond
    latest = describe(emu_env, "prod")["LatestRestorableTime"]
    as_text = (emu_env.clock.datetime(CREATE)).strftime("%Y-%m-%dT%H:%M:%SZ")

    copied = rds.restore_db_cluster_to_point_in_time(
        DBClusterIdentifier="at-latest", SourceDBClusterIdentifier="prod", RestoreToTime=latest)["DBCluster"]
    from_text = rds.restore_db_cluster_to_point_in_time(
        DBClusterIdentifier="at-text", SourceDBClusterIdentifier="prod", RestoreToTime=as_text)["DBCluster"]
    with pytest.raises(botocore.exceptions.ClientError) as late:
        rds.restore_db_cluster_to_point_in_time(DBClusterIdentifier="late", SourceDBClusterIdentifier="prod",
                                                RestoreToTime=latest + _dt.timedelta(milliseconds=1))

    assert copied["Status"] == from_text["Status"] == "creating"
    assert error_code(late) == ("InvalidRestoreFault", 400)


def test_the_automated_cluster_snapshot_is_named_after_the_clock(emu_env: Any, aurora: AuroraEmulator) -> None:
    # rds:<cluster>-YYYY-MM-DD-HH-MM at the clock's time ([BC:rds] examples); moto uses the wall clock.
    rds = emu_env.client("rds")
    create_cluster(emu_env, "prod")
    name = emu_env.clock.datetime(0).strftime("rds:prod-%Y-%m-%d-%H-%M")  # its first backup: at creation

    listed = rds.describe_db_cluster_snapshots(DBClusterIdentifier="prod", SnapshotType="automated")["DBClusterSnapshots"]
    by_name = rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=name)["DBClusterSnapshots"]

    assert [s["DBClusterSnapshotIdentifier"] for s in listed] == [name] == [s["DBClusterSnapshotIdentifier"] for s in by_name]
    assert listed[0]["SnapshotCreateTime"] == emu_env.clock.datetime(0)
    assert listed[0]["DBClusterSnapshotArn"] == f"arn:aws:rds:us-east-1:123456789012:cluster-snapshot:{name}"

