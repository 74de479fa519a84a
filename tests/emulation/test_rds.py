"""RDS DB instance emulation on real PostgreSQL: statuses, failover, replicas, snapshots, PITR."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn

import psycopg
import pytest
from botocore.exceptions import ClientError

from pytest_drtest.dataplane import DataPlane, DataPlaneUnavailable
from pytest_drtest.emulation.rds import FORCE_FAILOVER_SINGLE_AZ, RdsInstanceEmulator

EAST, WEST = "us-east-1", "us-west-2"
#: Fixed figures, so that every transition lands at an exact clock time.
PROFILE = {
    "rds_create_time": 300, "rds_multi_az_failover": 60, "rds_reboot_time": 20, "rds_replica_lag": 1,
    "rds_promotion_time": 100, "rds_snapshot_time": 120, "rds_snapshot_copy_time": 900, "rds_restore_time": 600,
    "rds_pitr_latest_lag": 300,
}


@pytest.fixture(autouse=True)
def _rds_answers_in_shape(answers_in_shape: Any) -> None:
    """Every answer carries only fields of botocore's output shapes ([BC:rds])."""
    answers_in_shape("rds")


@pytest.fixture
def rds(emu_env: Any, postgres_or_skip: Callable[[Exception], NoReturn]) -> RdsInstanceEmulator:
    try:
        DataPlane.check()
    except DataPlaneUnavailable as exc:
        postgres_or_skip(exc)
    for key, value in PROFILE.items():
        emu_env.profile.override(key, value, origin="test")
    emulator = RdsInstanceEmulator(emu_env.emulation)
    emu_env.emulation.add(emulator)
    return emulator


def create(env: Any, ident: str, region: str = EAST, **extra: Any) -> dict[str, Any]:
    args = {"DBInstanceIdentifier": ident, "Engine": "postgres", "DBInstanceClass": "db.t3.micro",
            "MasterUsername": "app", "MasterUserPassword": "secret-pw", "DBName": "appdb", "AllocatedStorage": 20,
            **extra}
    return env.client("rds", region).create_db_instance(**args)["DBInstance"]  # type: ignore[no-any-return]


def wait_available(env: Any, ident: str, region: str = EAST) -> None:
    env.client("rds", region).get_waiter("db_instance_available").wait(DBInstanceIdentifier=ident)


def describe(env: Any, ident: str, region: str = EAST) -> dict[str, Any]:
    return env.client("rds", region).describe_db_instances(DBInstanceIdentifier=ident)["DBInstances"][0]  # type: ignore[no-any-return]


def connect(rds: RdsInstanceEmulator, ident: str, region: str = EAST) -> psycopg.Connection[Any]:
    return psycopg.connect(**rds.connection_info(region, ident), autocommit=True, connect_timeout=2)


def refuses(rds: RdsInstanceEmulator, ident: str, region: str = EAST) -> bool:
    try:
        with connect(rds, ident, region):
            return False
    except psycopg.OperationalError:
        return True


def sql(rds: RdsInstanceEmulator, ident: str, statement: str, region: str = EAST) -> list[tuple[Any, ...]]:
    with connect(rds, ident, region) as conn:
        cursor = conn.execute(statement)
        return cursor.fetchall() if cursor.description else []


def ids(rds: RdsInstanceEmulator, ident: str, region: str = EAST) -> list[int]:
    return [row[0] for row in sql(rds, ident, "SELECT id FROM t ORDER BY id", region)]


def code(excinfo: pytest.ExceptionInfo[ClientError]) -> str:
    return str(excinfo.value.response["Error"]["Code"])


def events(env: Any, ident: str, region: str = EAST) -> list[tuple[str, float]]:
    found = env.client("rds", region).describe_events(SourceIdentifier=ident, Duration=24 * 60)["Events"]
    return [(e["Message"], env.clock.seconds_at(e["Date"])) for e in found]


# -- creating ------------------------------------------------------------------------------------------
def test_create_is_creating_then_available_with_the_callers_master_user_and_database(
        emu_env: Any, rds: RdsInstanceEmulator) -> None:
    created = create(emu_env, "db1")

    info = rds.connection_info(EAST, "db1")
    assert created["DBInstanceStatus"] == "creating"
    # its own loopback address in the region's block, port 5432 as RDS reports it
    assert (created["Endpoint"]["Address"], created["Endpoint"]["Port"]) == (info["host"], 5432)
    assert emu_env.emulation.addresses.region_of(info["host"]) == EAST
    assert "LatestRestorableTime" not in created
    assert refuses(rds, "db1")  # nothing answers before the instance exists
    wait_available(emu_env, "db1")  # the waiter polls every 30 s on the virtual clock
    assert emu_env.clock.now() == 300
    with connect(rds, "db1") as conn:
        assert conn.execute("SELECT current_user, current_database()").fetchone() == ("app", "appdb")
        assert conn.execute("SELECT rolpassword IS NOT NULL FROM pg_authid WHERE rolname = 'app'").fetchone() == (True,)
    emu_env.clock.sleep(400)
    instance = describe(emu_env, "db1")
    assert instance["Endpoint"] == created["Endpoint"]
    assert instance["InstanceCreateTime"] == emu_env.clock.datetime(0)
    assert instance["LatestRestorableTime"] == emu_env.clock.datetime(400)  # now - 5 min
    assert events(emu_env, "db1") == [("DB instance created.", 300)]


def test_only_the_postgres_engine_is_emulated(emu_env: Any, rds: RdsInstanceEmulator) -> None:
    with pytest.raises(ClientError) as excinfo:
        create(emu_env, "mysql-db", Engine="mysql")
    assert code(excinfo) == "InvalidParameterCombination" and "postgres" in str(excinfo.value)
    with pytest.raises(ClientError) as excinfo:
        describe(emu_env, "mysql-db")
    assert code(excinfo) == "DBInstanceNotFound"


# -- reboot and Multi-AZ failover -----------------------------------------------------------------------
def test_forced_failover_refuses_the_endpoint_then_the_standby_serves_every_acknowledged_write(
        emu_env: Any, rds: RdsInstanceEmulator) -> None:
    create(emu_env, "db1", MultiAZ=True)
    wait_available(emu_env, "db1")
    before = describe(emu_env, "db1")
    assert before["MultiAZ"] is True and before["SecondaryAvailabilityZone"] != before["AvailabilityZone"]
    old_primary, old_standby = rds.server(EAST, "db1"), rds.standby(EAST, "db1")
    with connect(rds, "db1") as conn:
        conn.execute("CREATE TABLE t (id int PRIMARY KEY)")
        for i in range(1, 51):
            conn.execute("INSERT INTO t VALUES (%s)", (i,))  # each one acknowledged

    rebooting = emu_env.client("rds", EAST).reboot_db_instance(DBInstanceIdentifier="db1", ForceFailover=True)

    assert rebooting["DBInstance"]["DBInstanceStatus"] == "rebooting"
    assert refuses(rds, "db1")
    emu_env.clock.sleep(59)
    assert describe(emu_env, "db1")["DBInstanceStatus"] == "rebooting" and refuses(rds, "db1")
    emu_env.clock.sleep(1)
    after = describe(emu_env, "db1")
    assert after["DBInstanceStatus"] == "available"
    assert ids(rds, "db1") == list(range(1, 51))  # nothing lost
    assert rds.server(EAST, "db1") is old_standby and not old_primary.running
    assert (after["AvailabilityZone"], after["SecondaryAvailabilityZone"]) == (
        before["SecondaryAvailabilityZone"], before["AvailabilityZone"])
    new_standby = rds.standby(EAST, "db1")
    assert new_standby is not None and new_standby.running
    assert rds.server(EAST, "db1").query("SELECT sync_state FROM pg_stat_replication") == [("sync",)]
    assert after["Endpoint"] == before["Endpoint"]
    assert events(emu_env, "db1")[1:] == [
        ("Multi-AZ instance failover started.", 300),
        ("Multi-AZ failover to standby complete - DNS propagation may take a few minutes.", 360),
        ("Multi-AZ instance failover completed.", 360),
    ]


def test_reboot_without_failover_is_a_brief_outage_of_the_same_server(emu_env: Any, rds: RdsInstanceEmulator) -> None:
    create(emu_env, "db1", MultiAZ=True)
    wait_available(emu_env, "db1")
    server, az = rds.server(EAST, "db1"), describe(emu_env, "db1")["AvailabilityZone"]

    emu_env.client("rds", EAST).reboot_db_instance(DBInstanceIdentifier="db1")

    assert describe(emu_env, "db1")["DBInstanceStatus"] == "rebooting" and refuses(rds, "db1")
    emu_env.clock.sleep(19.9)
    assert refuses(rds, "db1")
    emu_env.clock.sleep(0.1)
    assert describe(emu_env, "db1")["DBInstanceStatus"] == "available"
    assert sql(rds, "db1", "SELECT current_setting('cluster_name')") == [(server.name,)]
    assert rds.server(EAST, "db1") is server and describe(emu_env, "db1")["AvailabilityZone"] == az
    assert [message for message, _ in events(emu_env, "db1")] == ["DB instance created.", "DB instance restarted."]


def test_reboot_errors(emu_env: Any, rds: RdsInstanceEmulator) -> None:
    client = emu_env.client("rds", EAST)
    create(emu_env, "single")
    with pytest.raises(ClientError) as excinfo:
        client.reboot_db_instance(DBInstanceIdentifier="single")  # still creating
    assert code(excinfo) == "InvalidDBInstanceState"
    wait_available(emu_env, "single")
    with pytest.raises(ClientError) as excinfo:
        client.reboot_db_instance(DBInstanceIdentifier="single", ForceFailover=True)
    assert code(excinfo) == "InvalidParameterCombination"
    assert excinfo.value.response["Error"]["Message"] == FORCE_FAILOVER_SINGLE_AZ
    assert describe(emu_env, "single")["DBInstanceStatus"] == "available" and not refuses(rds, "single")
    with pytest.raises(ClientError) as excinfo:
        client.reboot_db_instance(DBInstanceIdentifier="missing")
    assert code(excinfo) == "DBInstanceNotFound"


def test_losing_an_az_fails_a_multi_az_primary_over_and_leaves_a_single_az_instance_unreachable(
        emu_env: Any, rds: RdsInstanceEmulator) -> None:
    create(emu_env, "multi", MultiAZ=True, AvailabilityZone="us-east-1a")
    create(emu_env, "single", AvailabilityZone="us-east-1a")
    wait_available(emu_env, "multi")
    wait_available(emu_env, "single")
    for ident in ("multi", "single"):
        sql(rds, ident, "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1)")
    secondary = describe(emu_env, "multi")["SecondaryAvailabilityZone"]

    emu_env.emulation.world.lose_az("us-east-1a")  # t = 300

    assert describe(emu_env, "multi")["DBInstanceStatus"] == "rebooting"
    assert refuses(rds, "multi") and refuses(rds, "single")
    emu_env.clock.sleep(60)
    multi = describe(emu_env, "multi")
    assert multi["DBInstanceStatus"] == "available" and multi["AvailabilityZone"] == secondary
    assert multi["SecondaryAvailabilityZone"] not in ("us-east-1a", secondary)  # the new standby avoids the lost AZ
    assert ids(rds, "multi") == [1]
    assert [t for m, t in events(emu_env, "multi") if "failover" in m] == [300, 360, 360]
    emu_env.clock.sleep(600)
    assert refuses(rds, "single")  # no standby: it waits for its AZ
    emu_env.emulation.world.restore_az("us-east-1a")
    assert ids(rds, "single") == [1]


def test_losing_the_standby_az_keeps_the_primary_writing_until_a_new_standby_is_built(
        emu_env: Any, rds: RdsInstanceEmulator) -> None:
    create(emu_env, "multi", MultiAZ=True, AvailabilityZone="us-east-1a")
    wait_available(emu_env, "multi")
    standby_az = describe(emu_env, "multi")["SecondaryAvailabilityZone"]

    emu_env.emulation.world.lose_az(standby_az)  # t = 300

    sql(rds, "multi", "SET statement_timeout = '5s'; CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1)")
    assert rds.standby(EAST, "multi") is None and describe(emu_env, "multi")["DBInstanceStatus"] == "available"
    emu_env.clock.sleep(300)
    assert describe(emu_env, "multi")["SecondaryAvailabilityZone"] not in (standby_az, "us-east-1a")
    assert rds.server(EAST, "multi").query("SELECT sync_state FROM pg_stat_replication") == [("sync",)]
    assert events(emu_env, "multi")[1:] == [("Multi-AZ instance recovery started.", 300),
                                            ("Multi-AZ instance recovery completed.", 600)]


def test_stop_and_start(emu_env: Any, rds: RdsInstanceEmulator) -> None:
    client = emu_env.client("rds", EAST)
    create(emu_env, "db1")
    wait_available(emu_env, "db1")
    sql(rds, "db1", "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1)")
    with pytest.raises(ClientError) as excinfo:
        client.start_db_instance(DBInstanceIdentifier="db1")
    assert code(excinfo) == "InvalidDBInstanceState"

    assert client.stop_db_instance(DBInstanceIdentifier="db1")["DBInstance"]["DBInstanceStatus"] == "stopping"
    emu_env.clock.sleep(20)
    assert describe(emu_env, "db1")["DBInstanceStatus"] == "stopped" and refuses(rds, "db1")
    assert client.start_db_instance(DBInstanceIdentifier="db1")["DBInstance"]["DBInstanceStatus"] == "starting"
    emu_env.clock.sleep(19)
    assert describe(emu_env, "db1")["DBInstanceStatus"] == "starting" and refuses(rds, "db1")
    emu_env.clock.sleep(1)
    assert describe(emu_env, "db1")["DBInstanceStatus"] == "available" and ids(rds, "db1") == [1]


# -- read replicas ----------------------------------------------------------------------------------------
def test_read_replica_links_replication_and_promotion(emu_env: Any, rds: RdsInstanceEmulator) -> None:
    client = emu_env.client("rds", EAST)
    create(emu_env, "src")
    wait_available(emu_env, "src")
    sql(rds, "src", "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1)")
    replica = client.create_db_instance_read_replica(DBInstanceIdentifier="rep", SourceDBInstanceIdentifier="src")
    assert replica["DBInstance"]["DBInstanceStatus"] == "creating"
    wait_available(emu_env, "rep")
    rep = describe(emu_env, "rep")
    assert rep["ReadReplicaSourceDBInstanceIdentifier"] == "src"
    assert rep["StatusInfos"] == [{"StatusType": "read replication", "Normal": True, "Status": "replicating"}]
    assert describe(emu_env, "src")["ReadReplicaDBInstanceIdentifiers"] == ["rep"]
    sql(rds, "src", "INSERT INTO t VALUES (2)")
    emu_env.clock.sleep(0.9)
    link = rds.replica(EAST, "rep")
    assert link is not None
    link.wait_applied()
    assert ids(rds, "rep") == [1]  # held by the 1 s lag
    emu_env.clock.sleep(0.1)
    link.wait_applied()
    assert ids(rds, "rep") == [1, 2]  # the lag passed on the clock
    with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        sql(rds, "rep", "INSERT INTO t VALUES (3)")
    with pytest.raises(ClientError) as excinfo:
        client.promote_read_replica(DBInstanceIdentifier="src")
    assert code(excinfo) == "InvalidDBInstanceState"

    start = emu_env.clock.now()
    assert client.promote_read_replica(DBInstanceIdentifier="rep")["DBInstance"]["DBInstanceStatus"] == "modifying"

    seen: dict[str, float] = {}
    for _ in range(11):
        seen.setdefault(describe(emu_env, "rep")["DBInstanceStatus"], emu_env.clock.now() - start)
        emu_env.clock.sleep(10)
    assert seen == {"modifying": 0, "rebooting": 80, "available": 100}
    rep = describe(emu_env, "rep")
    assert "ReadReplicaSourceDBInstanceIdentifier" not in rep and "StatusInfos" not in rep
    assert describe(emu_env, "src")["ReadReplicaDBInstanceIdentifiers"] == []
    sql(rds, "rep", "INSERT INTO t VALUES (3)")  # writable now
    assert ids(rds, "rep") == [1, 2, 3] and ids(rds, "src") == [1, 2]
    with pytest.raises(ClientError) as excinfo:
        client.promote_read_replica(DBInstanceIdentifier="rep")
    assert code(excinfo) == "InvalidDBInstanceState"


def test_a_region_loss_loses_the_writes_the_cross_region_lag_still_held(emu_env: Any, rds: RdsInstanceEmulator) -> None:
    source = create(emu_env, "db1", BackupRetentionPeriod=7)
    wait_available(emu_env, "db1")
    west = emu_env.client("rds", WEST)
    west.create_db_instance_read_replica(DBInstanceIdentifier="db1-dr",
                                         SourceDBInstanceIdentifier=source["DBInstanceArn"])
    wait_available(emu_env, "db1-dr", WEST)
    sql(rds, "db1", "CREATE TABLE t (id int PRIMARY KEY)")
    emu_env.clock.sleep(5)
    sql(rds, "db1", "INSERT INTO t VALUES (1)")  # acknowledged 2 s before the loss
    emu_env.clock.sleep(1.5)
    sql(rds, "db1", "INSERT INTO t VALUES (2)")  # acknowledged 0.5 s before the loss: held by the 1 s lag
    emu_env.clock.sleep(0.5)

    emu_env.emulation.world.lose_region(EAST)

    assert refuses(rds, "db1")
    assert describe(emu_env, "db1-dr", WEST)["StatusInfos"] == [
        {"StatusType": "read replication", "Normal": False, "Status": "error", "Message": "Replication has stopped."}]
    emu_env.emulation.world.restore_region(EAST)
    assert ids(rds, "db1") == [1, 2]  # the source serves again ...
    emu_env.clock.sleep(10)
    assert describe(emu_env, "db1-dr", WEST)["StatusInfos"][0]["Status"] == "error"  # ... the link stays cut
    west.promote_read_replica(DBInstanceIdentifier="db1-dr")
    wait_available(emu_env, "db1-dr", WEST)
    assert ids(rds, "db1-dr", WEST) == [1]  # the write within the lag is really gone
    sql(rds, "db1-dr", "INSERT INTO t VALUES (3)", WEST)
    assert describe(emu_env, "db1")["ReadReplicaDBInstanceIdentifiers"] == []


def test_deleting_a_cross_region_replica_and_a_source_with_replicas(emu_env: Any, rds: RdsInstanceEmulator) -> None:
    east, west = emu_env.client("rds", EAST), emu_env.client("rds", WEST)
    source = create(emu_env, "src")
    wait_available(emu_env, "src")
    west.create_db_instance_read_replica(DBInstanceIdentifier="far", SourceDBInstanceIdentifier=source["DBInstanceArn"])
    east.create_db_instance_read_replica(DBInstanceIdentifier="near", SourceDBInstanceIdentifier="src")
    wait_available(emu_env, "far", WEST)
    wait_available(emu_env, "near")
    far_server = rds.server(WEST, "far")
    assert describe(emu_env, "src")["ReadReplicaDBInstanceIdentifiers"] == [
        "arn:aws:rds:us-west-2:123456789012:db:far", "near"]

    deleted = west.delete_db_instance(DBInstanceIdentifier="far", SkipFinalSnapshot=True)  # moto alone: ValueError

    assert deleted["DBInstance"]["DBInstanceStatus"] == "deleting" and not far_server.running
    assert describe(emu_env, "src")["ReadReplicaDBInstanceIdentifiers"] == ["near"]
    with pytest.raises(ClientError) as excinfo:
        describe(emu_env, "far", WEST)
    assert code(excinfo) == "DBInstanceNotFound"
    src_server = rds.server(EAST, "src")
    east.delete_db_instance(DBInstanceIdentifier="src", SkipFinalSnapshot=True)
    assert not src_server.running
    near = describe(emu_env, "near")  # its source gone, the replica is a standalone instance
    assert "ReadReplicaSourceDBInstanceIdentifier" not in near and near["DBInstanceStatus"] == "available"
    sql(rds, "near", "CREATE TABLE t (id int PRIMARY KEY)")
    east.delete_db_instance(DBInstanceIdentifier="near", SkipFinalSnapshot=True)
    assert rds.instances() == []


# -- snapshots -------------------------------------------------------------------------------------------------
def test_snapshot_copied_to_the_dr_region_restores_into_a_new_instance_there(
        emu_env: Any, rds: RdsInstanceEmulator) -> None:
    east, west = emu_env.client("rds", EAST), emu_env.client("rds", WEST)
    create(emu_env, "db1")
    wait_available(emu_env, "db1")
    sql(rds, "db1", "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1)")

    snap = east.create_db_snapshot(DBSnapshotIdentifier="snap1", DBInstanceIdentifier="db1")["DBSnapshot"]

    sql(rds, "db1", "INSERT INTO t VALUES (2)")  # after the call: not in the snapshot
    assert (snap["Status"], snap["PercentProgress"]) == ("creating", 0)
    assert snap["SnapshotCreateTime"] == emu_env.clock.datetime(300)
    assert describe(emu_env, "db1")["DBInstanceStatus"] == "backing-up"  # Single-AZ: I/O pauses
    emu_env.clock.sleep(60)
    assert east.describe_db_snapshots(DBSnapshotIdentifier="snap1")["DBSnapshots"][0]["PercentProgress"] == 50
    east.get_waiter("db_snapshot_available").wait(DBSnapshotIdentifier="snap1")
    assert emu_env.clock.now() == 420
    with pytest.raises(ClientError) as excinfo:  # not copied to the DR region yet
        west.restore_db_instance_from_db_snapshot(DBInstanceIdentifier="db1-dr",
                                                  DBSnapshotIdentifier=snap["DBSnapshotArn"])
    assert code(excinfo) == "DBSnapshotNotFound"

    copy = west.copy_db_snapshot(SourceDBSnapshotIdentifier=snap["DBSnapshotArn"],
                                 TargetDBSnapshotIdentifier="snap1-dr", SourceRegion=EAST)["DBSnapshot"]
    assert copy["Status"] == "creating" and copy["SourceRegion"] == EAST
    assert copy["OriginalSnapshotCreateTime"] == emu_env.clock.datetime(300)
    west.get_waiter("db_snapshot_available").wait(DBSnapshotIdentifier="snap1-dr")
    assert emu_env.clock.now() == 1320
    restored = west.restore_db_instance_from_db_snapshot(DBInstanceIdentifier="db1-dr", DBSnapshotIdentifier="snap1-dr")
    assert restored["DBInstance"]["DBInstanceStatus"] == "creating"
    wait_available(emu_env, "db1-dr", WEST)

    assert emu_env.clock.now() == 1920
    assert ids(rds, "db1-dr", WEST) == [1]
    assert sql(rds, "db1-dr", "SELECT current_user, current_database()", WEST) == [("app", "appdb")]
    assert ids(rds, "db1") == [1, 2]  # the source is untouched
    snap_events = emu_env.client("rds", EAST).describe_events(SourceType="db-snapshot", Duration=24 * 60)["Events"]
    assert [(e["Message"], emu_env.clock.seconds_at(e["Date"])) for e in snap_events] == [
        ("Creating manual snapshot.", 300), ("Manual snapshot created.", 420)]
    copy_events = west.describe_events(SourceType="db-snapshot", Duration=24 * 60)["Events"]
    assert [(e["Message"], emu_env.clock.seconds_at(e["Date"])) for e in copy_events] == [
        ("Started copy of snapshot snap1 from region us-east-1.", 420),
        ("Finished copy of snapshot snap1 in 15 minutes.", 1320)]
    assert events(emu_env, "db1-dr", WEST) == [("Restored from snapshot snap1-dr.", 1920)]
    with pytest.raises(ClientError) as excinfo:
        west.restore_db_instance_from_db_snapshot(DBInstanceIdentifier="db1-dr", DBSnapshotIdentifier="snap1-dr")
    assert code(excinfo) == "DBInstanceAlreadyExists"
    emu_env.emulation.world.lose_region(EAST)
    with pytest.raises(ClientError) as excinfo:  # a copy reads from the source region
        west.copy_db_snapshot(SourceDBSnapshotIdentifier=snap["DBSnapshotArn"], TargetDBSnapshotIdentifier="late")
    assert code(excinfo) == "DBSnapshotNotFound"
    assert [s["DBSnapshotIdentifier"] for s in west.describe_db_snapshots(SnapshotType="manual")["DBSnapshots"]] == [
        "snap1-dr"]
    assert ids(rds, "db1-dr", WEST) == [1]  # the restored instance lives on in the DR region


# -- point-in-time restore -------------------------------------------------------------------------------------
def test_pitr_restores_exactly_the_data_as_of_the_restore_time(emu_env: Any, rds: RdsInstanceEmulator) -> None:
    client, clock = emu_env.client("rds", EAST), emu_env.clock
    create(emu_env, "db1")
    wait_available(emu_env, "db1")  # t = 300
    sql(rds, "db1", "CREATE TABLE t (id int PRIMARY KEY)")
    clock.sleep(10)
    sql(rds, "db1", "INSERT INTO t VALUES (1), (2)")  # t = 310; row 1 is deleted after T
    clock.sleep(20)  # T = 330
    clock.sleep(10)
    sql(rds, "db1", "INSERT INTO t VALUES (3)")  # t = 340: after T
    sql(rds, "db1", "DELETE FROM t WHERE id = 1")
    clock.sleep(400)  # the latest restorable time (now - 5 min) passes T
    assert describe(emu_env, "db1")["LatestRestorableTime"] == clock.datetime(440)

    restored = client.restore_db_instance_to_point_in_time(
        SourceDBInstanceIdentifier="db1", TargetDBInstanceIdentifier="db1-pitr", RestoreTime=clock.datetime(330))

    assert restored["DBInstance"]["DBInstanceStatus"] == "creating"
    # a NEW instance: its own endpoint address (each endpoint has one, on port 5432)
    assert restored["DBInstance"]["Endpoint"]["Address"] != describe(emu_env, "db1")["Endpoint"]["Address"]
    assert restored["DBInstance"]["Endpoint"]["Port"] == 5432
    wait_available(emu_env, "db1-pitr")
    assert clock.now() == 1340
    assert ids(rds, "db1-pitr") == [1, 2]  # row 3 (after T) absent, row 1 (deleted after T) kept
    assert ids(rds, "db1") == [2, 3]  # the source is untouched
    assert events(emu_env, "db1-pitr") == [("Restored from DB instance db1 to db1-pitr.", 1340)]
    latest = client.restore_db_instance_to_point_in_time(
        SourceDBInstanceIdentifier="db1", TargetDBInstanceIdentifier="db1-latest", UseLatestRestorableTime=True)
    assert latest["DBInstance"]["DBInstanceStatus"] == "creating"
    wait_available(emu_env, "db1-latest")
    assert ids(rds, "db1-latest") == [2, 3]


def test_pitr_errors_create_nothing(emu_env: Any, rds: RdsInstanceEmulator) -> None:
    client, clock = emu_env.client("rds", EAST), emu_env.clock
    create(emu_env, "db1")
    create(emu_env, "other")
    wait_available(emu_env, "db1")
    clock.sleep(600)  # window: [0, 600]
    servers = set(emu_env.emulation.dataplane.servers)

    def refused(**args: Any) -> str:
        params = {"SourceDBInstanceIdentifier": "db1", "TargetDBInstanceIdentifier": "new", **args}
        with pytest.raises(ClientError) as excinfo:
            client.restore_db_instance_to_point_in_time(**{k: v for k, v in params.items() if v is not None})
        return code(excinfo)

    assert refused(RestoreTime=clock.datetime(100), UseLatestRestorableTime=True) == "InvalidParameterCombination"
    assert refused() == "InvalidParameterCombination"
    assert refused(RestoreTime=clock.datetime(601)) == "InvalidRestoreFault"  # after the latest restorable time
    assert refused(RestoreTime=clock.datetime(-1)) == "InvalidRestoreFault"  # before the instance existed
    assert refused(RestoreTime=clock.datetime(100), TargetDBInstanceIdentifier="other") == "DBInstanceAlreadyExists"
    assert refused(RestoreTime=clock.datetime(100), SourceDBInstanceIdentifier="missing") == "DBInstanceNotFound"
    assert refused(UseLatestRestorableTime=True, SourceDBInstanceIdentifier=None,
                   SourceDbiResourceId="db-UNKNOWN") == "DBInstanceNotFound"  # moto would clone the first instance
    with pytest.raises(ClientError) as excinfo:
        client.promote_read_replica(DBInstanceIdentifier="db1")
    assert code(excinfo) == "InvalidDBInstanceState"

    assert sorted(i["DBInstanceIdentifier"] for i in client.describe_db_instances()["DBInstances"]) == ["db1", "other"]
    assert set(emu_env.emulation.dataplane.servers) == servers
    by_resource_id = client.restore_db_instance_to_point_in_time(
        SourceDbiResourceId=describe(emu_env, "db1")["DbiResourceId"], TargetDBInstanceIdentifier="new",
        UseLatestRestorableTime=True)["DBInstance"]
    assert by_resource_id["DBInstanceIdentifier"] == "new"
    assert by_resource_id["DbiResourceId"] != describe(emu_env, "db1")["DbiResourceId"]


# -- automated backups -------------------------------------------------------------------------------------
def automated_backup(env: Any, ident: str, region: str = EAST) -> dict[str, Any]:
    rows = env.client("rds", region).describe_db_instance_automated_backups(DBInstanceIdentifier=ident)
    return rows["DBInstanceAutomatedBackups"][0]  # type: ignore[no-any-return]


def test_automated_backups_report_the_restore_window_creating_then_active(
        emu_env: Any, rds: RdsInstanceEmulator) -> None:
    # [BC:rds] DBInstanceAutomatedBackup: Status creating until the first backup, then active, with
    # RestoreWindow {EarliestTime, LatestTime}; DBInstance carries LatestRestorableTime only.
    clock = emu_env.clock
    create(emu_env, "db1")
    creating = automated_backup(emu_env, "db1")
    wait_available(emu_env, "db1")  # t = 300
    clock.sleep(400)
    active = automated_backup(emu_env, "db1")
    by_arn = emu_env.client("rds", EAST).describe_db_instance_automated_backups(
        DBInstanceAutomatedBackupsArn=active["DBInstanceAutomatedBackupsArn"])["DBInstanceAutomatedBackups"]
    listed = emu_env.client("rds", EAST).describe_db_instance_automated_backups(
        Filters=[{"Name": "status", "Values": ["active"]}])["DBInstanceAutomatedBackups"]

    assert (creating["Status"], "RestoreWindow" in creating) == ("creating", False)
    assert active["Status"] == "active"
    assert active["RestoreWindow"] == {"EarliestTime": clock.datetime(0), "LatestTime": clock.datetime(400)}
    assert describe(emu_env, "db1")["LatestRestorableTime"] == active["RestoreWindow"]["LatestTime"]
    assert "EarliestRestorableTime" not in describe(emu_env, "db1")
    assert active["DbiResourceId"] == describe(emu_env, "db1")["DbiResourceId"]
    assert active["DBInstanceAutomatedBackupsArn"].startswith("arn:aws:rds:us-east-1:123456789012:auto-backup:ab-")
    assert [row["DBInstanceIdentifier"] for row in by_arn] == [row["DBInstanceIdentifier"] for row in listed] == ["db1"]
    restored = emu_env.client("rds", EAST).restore_db_instance_to_point_in_time(
        SourceDBInstanceAutomatedBackupsArn=active["DBInstanceAutomatedBackupsArn"], TargetDBInstanceIdentifier="db1-ab",
        UseLatestRestorableTime=True)["DBInstance"]
    assert restored["DBInstanceStatus"] == "creating"


def test_the_earliest_restorable_time_is_within_the_backup_retention_period(
        emu_env: Any, rds: RdsInstanceEmulator) -> None:
    # [RDS-UG:USER_PIT]: the window reaches back no further than BackupRetentionPeriod days; 0 turns
    # automated backups (and PITR) off.
    client, clock = emu_env.client("rds", EAST), emu_env.clock
    day = 86400.0
    create(emu_env, "db1", BackupRetentionPeriod=2)
    wait_available(emu_env, "db1")
    clock.sleep(3 * day)
    window = automated_backup(emu_env, "db1")["RestoreWindow"]
    with pytest.raises(ClientError) as too_old:
        client.restore_db_instance_to_point_in_time(
            SourceDBInstanceIdentifier="db1", TargetDBInstanceIdentifier="old", RestoreTime=clock.datetime(clock.now() - 2 * day - 1))
    client.modify_db_instance(DBInstanceIdentifier="db1", BackupRetentionPeriod=0, ApplyImmediately=True)
    off = describe(emu_env, "db1")
    with pytest.raises(ClientError) as disabled:
        client.restore_db_instance_to_point_in_time(
            SourceDBInstanceIdentifier="db1", TargetDBInstanceIdentifier="new", UseLatestRestorableTime=True)

    assert window["EarliestTime"] == clock.datetime(clock.now() - 2 * day)
    assert code(too_old) == "InvalidRestoreFault"
    assert (off["BackupRetentionPeriod"], "LatestRestorableTime" in off) == (0, False)
    assert client.describe_db_instance_automated_backups()["DBInstanceAutomatedBackups"] == []
    assert code(disabled) == "PointInTimeRestoreNotEnabled"


def test_the_automated_snapshot_is_named_after_the_clock_and_restores_by_that_name(
        emu_env: Any, rds: RdsInstanceEmulator) -> None:
    # AWS names automated snapshots rds:<instance>-YYYY-MM-DD-HH-MM ([BC:rds] examples); moto uses the wall clock.
    client = emu_env.client("rds", EAST)
    create(emu_env, "db1")
    wait_available(emu_env, "db1")
    listed = client.describe_db_snapshots(DBInstanceIdentifier="db1", SnapshotType="automated")["DBSnapshots"]
    name = emu_env.clock.datetime(0).strftime("rds:db1-%Y-%m-%d-%H-%M")
    by_name = client.describe_db_snapshots(DBSnapshotIdentifier=name)["DBSnapshots"]
    client.restore_db_instance_from_db_snapshot(DBInstanceIdentifier="db1-restored", DBSnapshotIdentifier=name)
    wait_available(emu_env, "db1-restored")

    assert [s["DBSnapshotIdentifier"] for s in listed] == [name] == [s["DBSnapshotIdentifier"] for s in by_name]
    assert listed[0]["DBSnapshotArn"] == f"arn:aws:rds:us-east-1:123456789012:snapshot:{name}"
    assert listed[0]["SnapshotCreateTime"] == emu_env.clock.datetime(0)
    assert events(emu_env, "db1-restored")[-1][0] == f"Restored from snapshot {name}."


# -- credentials -------------------------------------------------------------------------------------------------
def login(rds: RdsInstanceEmulator, ident: str, password: str) -> tuple[Any, ...] | None:
    """``current_user`` of a login as the master user with ``password`` through the instance endpoint."""
    info = {**rds.connection_info(EAST, ident), "password": password}
    with psycopg.connect(**info, autocommit=True, connect_timeout=2) as conn:
        return conn.execute("SELECT current_user").fetchone()


def test_the_master_password_is_checked_changed_by_modify_and_kept_by_restores(
        emu_env: Any, rds: RdsInstanceEmulator) -> None:
    client, clock = emu_env.client("rds", EAST), emu_env.clock
    create(emu_env, "db1")
    wait_available(emu_env, "db1")
    assert login(rds, "db1", "secret-pw") == ("app",)
    with pytest.raises(psycopg.OperationalError, match='password authentication failed for user "app"'):
        login(rds, "db1", "not-the-password")
    client.create_db_snapshot(DBSnapshotIdentifier="before", DBInstanceIdentifier="db1")
    client.get_waiter("db_snapshot_available").wait(DBSnapshotIdentifier="before")
    clock.sleep(400)  # the latest restorable time passes the snapshot
    changed_at = clock.now()

    client.modify_db_instance(DBInstanceIdentifier="db1", MasterUserPassword="new-secret-pw", ApplyImmediately=True)

    assert rds.connection_info(EAST, "db1")["password"] == "new-secret-pw"
    assert login(rds, "db1", "new-secret-pw") == ("app",)
    with pytest.raises(psycopg.OperationalError, match='password authentication failed for user "app"'):
        login(rds, "db1", "secret-pw")
    clock.sleep(400)  # the latest restorable time passes the change
    # restores hold the password of their data: the snapshot's, and the one as of the restore time
    client.restore_db_instance_from_db_snapshot(DBInstanceIdentifier="from-snap", DBSnapshotIdentifier="before")
    client.restore_db_instance_to_point_in_time(SourceDBInstanceIdentifier="db1", TargetDBInstanceIdentifier="pitr",
                                                RestoreTime=clock.datetime(changed_at - 1))
    wait_available(emu_env, "from-snap")
    wait_available(emu_env, "pitr")
    for restored in ("from-snap", "pitr"):
        assert rds.connection_info(EAST, restored)["password"] == "secret-pw"
        assert login(rds, restored, "secret-pw") == ("app",)
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            login(rds, restored, "new-secret-pw")
    client.stop_db_instance(DBInstanceIdentifier="pitr")
    with pytest.raises(ClientError) as excinfo:
        client.modify_db_instance(DBInstanceIdentifier="pitr", MasterUserPassword="x" * 8, ApplyImmediately=True)
    assert code(excinfo) == "InvalidDBInstanceState"
