"""The fault catalogue: on the shipped topology and on a team's own resources (embedded moto, virtual clock)."""
from __future__ import annotations

import botocore.exceptions
import pytest

from pytest_drtest import faults
from pytest_drtest.errors import DrConfigError
from pytest_drtest.harness import Harness
from pytest_drtest.settings import Settings


@pytest.fixture
def ws():
    with Harness(Settings(), strategy="warm-standby") as harness:
        yield harness


def _items(dr, region="primary"):
    table = dr.topology.table_name("orders", region)
    return {i["pk"]["S"]: i["payload"]["S"] for i in dr.client("dynamodb", region).scan(TableName=table)["Items"]}


# -- on the shipped topology (logical names) ---------------------------------------------------------
def test_corrupt_table_overwrites_the_given_fraction_and_it_replicates(ws):
    before = _items(ws)
    fault = ws.inject(faults.CorruptTable(table="orders", fraction=0.1, seed=3))
    after = _items(ws)
    assert len(fault.corrupted) == round(len(before) * 0.1) == 20
    assert {k for k, v in after.items() if v == "CORRUPTED"} == set(fault.corrupted)
    ws.clock.sleep("10s")  # a bad deploy's writes replicate like any others
    assert {k for k, v in _items(ws, "dr").items() if v == "CORRUPTED"} == set(fault.corrupted)
    fault = ws.inject(faults.CorruptTable(table="orders", fraction=0.05, mode="delete", seed=4))
    assert len(_items(ws)) == 200 - len(fault.corrupted) == 190


def test_delete_objects_plain_deletes_leave_versions_permanent_deletes_do_not(ws):
    s3 = ws.client("s3")
    bucket = ws.topology.bucket_name("assets")
    marked = ws.inject(faults.DeleteObjects(bucket="assets", prefix="seed/", fraction=0.5))
    assert len(marked.deleted) == 10
    listed = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert listed.isdisjoint(marked.deleted)
    versions = s3.list_object_versions(Bucket=bucket, Prefix=marked.deleted[0])
    assert versions["Versions"] and versions["DeleteMarkers"]  # recoverable: undelete
    gone = ws.inject(faults.DeleteObjects(bucket="assets", prefix="seed/", fraction=1.0, versions=True))
    assert len(gone.deleted) == 10  # the remaining live objects
    versions = s3.list_object_versions(Bucket=bucket, Prefix=gone.deleted[0])
    assert not versions.get("Versions") and not versions.get("DeleteMarkers")


def test_pause_replication_holds_dynamodb_until_reverted_by_logical_or_physical_name(ws):
    table = ws.topology.table_name("orders")
    east, west = ws.client("dynamodb", "primary"), ws.client("dynamodb", "dr")
    for name, key in (("orders", "held"), (table, "held-too")):
        fault = ws.inject(faults.PauseReplication("dynamodb", name))
        assert fault.record["resource"] == table
        east.put_item(TableName=table, Item={"pk": {"S": key}, "payload": {"S": "x"}})
        ws.clock.sleep("1m")
        assert "Item" not in west.get_item(TableName=table, Key={"pk": {"S": key}})
        ws.revert(fault)
        ws.clock.sleep("5s")
        assert west.get_item(TableName=table, Key={"pk": {"S": key}})["Item"]["payload"]["S"] == "x"


def test_az_outage_resolves_role_letters(ws):
    fault = ws.inject(faults.AzOutage("primary:b"))
    assert fault.record["az"] == "us-east-1b"
    assert ws.emulation.world.lost_azs == {"us-east-1b"}


def test_bad_targets_on_the_topology_are_refused_before_anything_happens(ws):
    ws.topology  # noqa: B018 - build it: the logical names resolve against it
    cases = [
        (faults.CorruptTable(table="users"), "table 'users' does not exist in us-east-1; tables there: dr-warm-standby-orders"),
        (faults.CorruptTable(table="orders", fraction=1.5), "fraction must be in (0, 1], got 1.5"),
        (faults.CorruptTable(table="orders", mode="shred"), "mode must be 'overwrite' or 'delete', got 'shred'"),
        (faults.DeleteObjects(bucket="logs"), "bucket 'logs' does not exist; buckets: dr-warm-standby-assets"),
        (faults.PauseReplication("sqs"), "service must be 'dynamodb', 's3' or 'rds', got 'sqs'"),
        (faults.AzOutage("primary:f"), "AZ 'us-east-1f' is not used by the topology; it uses us-east-1a, us-east-1b, us-east-1c"),
        (faults.RegionOutage("moon-1"), "region 'moon-1' does not exist; expected 'primary' (us-east-1), 'dr' (us-west-2)"),
        (faults.RebootDatabase(database="payments"), ("no DB instance or cluster 'payments' in us-east-1 or us-west-2; "
                                                    "DB instances and clusters there: dr-warm-standby-db")),
    ]
    for fault, message in cases:
        with pytest.raises(DrConfigError) as exc:
            ws.inject(fault)
        assert message in str(exc.value), (fault, str(exc.value))
    world = ws.emulation.world
    assert not world.lost_regions and not world.lost_azs and not world.paused and not ws.active_faults


# -- on a team's own resources (nothing is built) ----------------------------------------------------
@pytest.fixture
def own():
    with Harness(Settings(), strategy="warm-standby") as harness:
        yield harness
        assert harness._topology is None  # no fault built the shipped topology


def _table(dr, name, region="primary"):
    ddb = dr.client("dynamodb", region)
    ddb.create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}, {"AttributeName": "n", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}, {"AttributeName": "n", "AttributeType": "N"}],
    )
    for i in range(10):
        ddb.put_item(TableName=name, Item={"id": {"S": f"k{i}"}, "n": {"N": str(i)}, "payload": {"S": "ok"}})
    return ddb


def test_data_faults_on_own_table_and_bucket_build_nothing_and_take_no_clock_time(own):
    ddb = _table(own, "carts")
    s3 = own.client("s3")
    s3.create_bucket(Bucket="receipts")
    for i in range(4):
        s3.put_object(Bucket="receipts", Key=f"r/{i}", Body=b"x")
    start = own.clock.now()
    corrupt = own.inject(faults.CorruptTable(table="carts", fraction=0.3))
    deleted = own.inject(faults.DeleteObjects(bucket="receipts", fraction=0.5))
    assert own.clock.now() == start
    payloads = {(i["id"]["S"], i["n"]["N"]): i["payload"]["S"] for i in ddb.scan(TableName="carts")["Items"]}
    assert sorted(k for k, v in payloads.items() if v == "CORRUPTED") == [tuple(c.split("|")) for c in corrupt.corrupted]
    assert len(corrupt.corrupted) == 3 and len(payloads) == 10  # the composite key was kept
    assert {o["Key"] for o in s3.list_objects_v2(Bucket="receipts")["Contents"]} == {"r/0", "r/1", "r/2", "r/3"} - set(deleted.deleted)
    assert deleted.record == {"bucket": "receipts", "region": "us-east-1", "objects": 2, "versions": False}


def test_with_block_reverts_and_revert_records_a_milestone(own):
    dynamodb = own.client("dynamodb", "dr")
    with own.inject(faults.RegionOutage("dr")) as outage:
        with pytest.raises(botocore.exceptions.EndpointConnectionError):
            dynamodb.list_tables()
        own.clock.sleep("30s")
    dynamodb.list_tables()
    assert [(m.kind, m.t) for m in own.timeline.events] == [("fault", 0.0), ("fault-reverted", 30.0)]
    with pytest.raises(DrConfigError, match=r"dr.revert: region-outage\(dr\) is already reverted \(at clock 30.0 s\)"):
        own.revert(outage)
    with pytest.raises(DrConfigError, match=r"dr.revert: az-outage\(primary:a\) was never injected in this test"):
        own.revert(faults.AzOutage())
    with pytest.raises(DrConfigError, match=r"region-outage\(dr\) is already injected in this test"):
        own.inject(outage)


def test_teardown_reverts_what_is_left_newest_first():
    events: list[str] = []
    dr = Harness(Settings(), strategy="warm-standby").start()
    try:
        dr.emulation.world.listeners.append(lambda what, name: events.append(f"{what} {name}"))
        dr.inject(faults.RegionOutage("dr"))
        zone = dr.inject(faults.AzOutage("us-east-1d"))
        dr.inject(faults.PauseReplication("s3", "*"))
        dr.revert(zone)
    finally:
        dr.close()
    assert events == [
        "region-lost us-west-2", "az-lost us-east-1d", "replication-paused s3:*", "az-restored us-east-1d",
        "replication-resumed s3:*", "region-restored us-west-2",
    ]
    assert [m.kind for m in dr.timeline.events].count("fault-reverted") == 3


def test_pause_replication_of_own_global_table_until_reverted(own):
    ddb = _table(own, "sessions")
    ddb.update_table(TableName="sessions", ReplicaUpdates=[{"Create": {"RegionName": "us-west-2"}}])
    west = own.client("dynamodb", "dr")
    west.get_waiter("table_exists").wait(TableName="sessions", WaiterConfig={"Delay": 20, "MaxAttempts": 90})  # replica CREATING first
    key = {"id": {"S": "new"}, "n": {"N": "1"}}
    with own.inject(faults.PauseReplication("dynamodb", "sessions")):
        ddb.put_item(TableName="sessions", Item={**key, "payload": {"S": "x"}})
        own.clock.sleep("1m")
        assert "Item" not in west.get_item(TableName="sessions", Key=key)
    own.clock.sleep("5s")
    assert west.get_item(TableName="sessions", Key=key)["Item"]["payload"]["S"] == "x"


def test_own_names_that_do_not_exist_and_logical_names_without_a_topology_are_refused(own):
    _table(own, "carts")
    build = "is a resource of the shipped topology, which is not built: use dr.topology (or dr.probe()) first, or name a physical resource"
    cases = [
        (faults.CorruptTable(table="cart"), "corrupt-table(cart, 0.1, overwrite): table 'cart' does not exist in us-east-1; tables there: carts"),
        (faults.CorruptTable(table="orders"), f"table 'orders' {build}"),
        (faults.CorruptTable(), f"the probes' table {build}"),
        (faults.PauseReplication("dynamodb", "orders"), f"table 'orders' {build}"),
        (faults.PauseReplication("rds", "database"), f"'database' (the topology's DR replica) {build}"),
        (faults.PauseReplication("s3", "nowhere"), "bucket 'nowhere' does not exist; there are no buckets"),
        (faults.RebootDatabase(), f"the application's database {build}"),
        (faults.CorruptDatabase(), f"the application's database {build}"),
        (faults.CorruptDatabase(database="x"), "on your own database, name the SQL table (table=...) and the master password"),
        (faults.AzOutage("primary:database"), f"'primary:database' (the AZ of the topology's database) {build}"),
        (faults.AzOutage("us-west-2z"), "unknown AZ 'us-west-2z': us-west-2 has us-west-2a, us-west-2b, us-west-2c, us-west-2d"),
        (faults.DeleteObjects(), f"the blueprint's bucket {build}"),
    ]
    for fault, message in cases:
        with pytest.raises(DrConfigError) as exc:
            own.inject(fault)
        assert message in str(exc.value), (fault, str(exc.value))
    assert not own.active_faults and own.fault_t is None


def test_reboot_and_corrupt_own_database(own):
    import psycopg

    rds = own.client("rds")
    rds.create_db_instance(DBInstanceIdentifier="payments", Engine="postgres", DBInstanceClass="db.t4g.micro",
                           MultiAZ=True, MasterUsername="app", MasterUserPassword="s3cret-pass", DBName="pay",
                           AllocatedStorage=20, BackupRetentionPeriod=1)
    rds.get_waiter("db_instance_available").wait(DBInstanceIdentifier="payments", WaiterConfig={"Delay": 30, "MaxAttempts": 60})
    endpoint = rds.describe_db_instances(DBInstanceIdentifier="payments")["DBInstances"][0]["Endpoint"]
    with psycopg.connect(host=endpoint["Address"], port=endpoint["Port"], user="app", password="s3cret-pass",
                         dbname="pay", autocommit=True) as conn:
        conn.execute("CREATE TABLE charges (id int PRIMARY KEY, note text)")
        conn.execute("INSERT INTO charges SELECT g, 'paid' FROM generate_series(1, 10) g")
    before = rds.describe_db_instances(DBInstanceIdentifier="payments")["DBInstances"][0]
    own.inject(faults.RebootDatabase(database="payments", failover=True))
    assert rds.describe_db_instances(DBInstanceIdentifier="payments")["DBInstances"][0]["DBInstanceStatus"] == "rebooting"
    rds.get_waiter("db_instance_available").wait(DBInstanceIdentifier="payments", WaiterConfig={"Delay": 10, "MaxAttempts": 60})
    after = rds.describe_db_instances(DBInstanceIdentifier="payments")["DBInstances"][0]
    assert after["AvailabilityZone"] == before["SecondaryAvailabilityZone"]  # failed over to the standby
    with pytest.raises(DrConfigError, match='password: payments refused the master password .*password authentication failed for user "app"'):
        own.inject(faults.CorruptDatabase(database="payments", table="charges", password="wrong-pass", column="note"))
    bad = own.inject(faults.CorruptDatabase(database="payments", table="charges", password="s3cret-pass", column="note",
                                            fraction=0.3))
    endpoint = after["Endpoint"]
    with psycopg.connect(host=endpoint["Address"], port=endpoint["Port"], user="app", password="s3cret-pass",
                         dbname="pay", autocommit=True) as conn:
        damaged = sorted(str(r[0]) for r in conn.execute("SELECT id FROM charges WHERE note = 'CORRUPTED'").fetchall())
    assert damaged == bad.corrupted and len(damaged) == 3
    assert bad.record["database"] == "payments" and bad.record["rows"] == 3
    with own.inject(faults.PauseReplication("rds", "payments")) as paused:  # an instance id, as a replica's source
        assert paused.record["resource"] == "payments" and ("rds", "payments") in own.emulation.world.paused
    assert not own.emulation.world.paused
