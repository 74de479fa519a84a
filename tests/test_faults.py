"""The fault catalogue against a built topology (embedded moto, virtual clock)."""
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


def test_corrupt_table_overwrites_the_given_fraction_and_it_replicates(ws):
    before = _items(ws)
    fault = ws.inject(faults.CorruptTable(table="orders", fraction=0.1, seed=3))
    after = _items(ws)
    assert len(fault.corrupted) == round(len(before) * 0.1) == 20
    assert {k for k, v in after.items() if v == "CORRUPTED"} == set(fault.corrupted)
    ws.clock.sleep("10s")  # a bad deploy's writes replicate like any others
    assert {k for k, v in _items(ws, "dr").items() if v == "CORRUPTED"} == set(fault.corrupted)


def test_corrupt_table_delete_mode_removes_items(ws):
    fault = ws.inject(faults.CorruptTable(table="orders", fraction=0.05, mode="delete"))
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


def test_pause_replication_holds_dynamodb_until_reverted(ws):
    table = ws.topology.table_name("orders")
    east, west = ws.client("dynamodb", "primary"), ws.client("dynamodb", "dr")
    fault = ws.inject(faults.PauseReplication("dynamodb", "orders"))
    east.put_item(TableName=table, Item={"pk": {"S": "held"}, "payload": {"S": "x"}})
    ws.clock.sleep("1m")
    assert "Item" not in west.get_item(TableName=table, Key={"pk": {"S": "held"}})
    fault.revert(faults.FaultContext(ws.topology, ws.emulation.world))
    ws.clock.sleep("1s")
    assert west.get_item(TableName=table, Key={"pk": {"S": "held"}})["Item"]["payload"]["S"] == "x"


def test_region_outage_cuts_calls_and_revert_restores_them(ws):
    fault = ws.inject(faults.RegionOutage("dr"))
    with pytest.raises(botocore.exceptions.EndpointConnectionError):
        ws.client("dynamodb", "dr").list_tables()
    ws.client("dynamodb", "primary").list_tables()
    fault.revert(faults.FaultContext(ws.topology, ws.emulation.world))
    ws.client("dynamodb", "dr").list_tables()


def test_az_outage_resolves_role_letters(ws):
    fault = ws.inject(faults.AzOutage("primary:b"))
    assert fault.record["az"] == "us-east-1b"
    assert ws.emulation.world.lost_azs == {"us-east-1b"}


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        (faults.CorruptTable(table="users"), "unknown table 'users'"),
        (faults.CorruptTable(table="orders", fraction=1.5), "fraction must be in (0, 1]"),
        (faults.CorruptTable(table="orders", mode="shred"), "mode must be 'overwrite' or 'delete'"),
        (faults.DeleteObjects(bucket="logs"), "unknown bucket 'logs'"),
        (faults.PauseReplication("sqs"), "service must be 'dynamodb', 's3' or 'rds'"),
        (faults.AzOutage("primary:f"), "AZ 'us-east-1f' is not used by the topology"),
        (faults.RegionOutage("eu-west-1"), "region 'eu-west-1' is not part of the topology"),
    ],
)
def test_bad_targets_are_refused_before_anything_happens(ws, fault, message):
    with pytest.raises(DrConfigError) as exc:
        ws.inject(fault)
    assert message in str(exc.value)
    assert not ws.emulation.world.lost_regions and not ws.emulation.world.lost_azs and not ws.emulation.world.paused
