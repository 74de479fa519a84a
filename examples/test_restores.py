"""Example: prove that a point-in-time restore lands in a NEW table with the right data."""
from __future__ import annotations

import pytest


@pytest.mark.dr(strategy="pilot-light")
def test_pitr_restore_is_exact_to_the_second(dr):
    table = dr.topology.table_name("orders")
    ddb = dr.client("dynamodb", "primary")
    ddb.put_item(TableName=table, Item={"pk": {"S": "kept"}, "payload": {"S": "v1"}})
    ddb.put_item(TableName=table, Item={"pk": {"S": "deleted-later"}, "payload": {"S": "v1"}})
    dr.clock.sleep("1m")
    restore_to = dr.clock.datetime().replace(microsecond=0)
    dr.clock.sleep("1m")
    ddb.put_item(TableName=table, Item={"pk": {"S": "written-later"}, "payload": {"S": "v2"}})
    ddb.delete_item(TableName=table, Key={"pk": {"S": "deleted-later"}})
    dr.clock.sleep("5m")  # the latest restorable time trails now by 5 minutes

    ddb.restore_table_to_point_in_time(SourceTableName=table, TargetTableName="orders-as-of", RestoreDateTime=restore_to)
    assert ddb.describe_table(TableName="orders-as-of")["Table"]["TableStatus"] == "CREATING"
    # Restores take 15-60 min (modeled); the waiter's default 25 x 20 s would give up, as on AWS.
    ddb.get_waiter("table_exists").wait(TableName="orders-as-of", WaiterConfig={"Delay": 20, "MaxAttempts": 360})

    keys = {i["pk"]["S"] for i in ddb.scan(TableName="orders-as-of")["Items"]}
    assert {"kept", "deleted-later"} <= keys
    assert "written-later" not in keys
    assert "written-later" in {i["pk"]["S"] for i in ddb.scan(TableName=table)["Items"]}  # source untouched


@pytest.mark.dr(strategy="warm-standby")
def test_restore_outside_the_window_is_refused_as_aws_does(dr):
    ddb = dr.client("dynamodb", "primary")
    table = dr.topology.table_name("orders")
    with pytest.raises(ddb.exceptions.InvalidRestoreTimeException):
        ddb.restore_table_to_point_in_time(
            SourceTableName=table, TargetTableName="too-recent", RestoreDateTime=dr.clock.datetime()
        )
    with pytest.raises(ddb.exceptions.ResourceNotFoundException):
        ddb.describe_table(TableName="too-recent")  # nothing was created
