"""DynamoDB emulation: item history, PITR, timed restores, global tables, backups."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from pytest_drtest.emulation.dynamodb import DynamoDbEmulator

EAST, WEST = "us-east-1", "us-west-2"
TABLE = "orders"


@pytest.fixture
def ddb(emu_env: Any) -> DynamoDbEmulator:
    emulator = DynamoDbEmulator(emu_env.emulation)
    emu_env.emulation.add(emulator)
    return emulator


def make_table(env: Any, region: str = EAST, name: str = TABLE, *, pitr: bool = False) -> Any:
    client = env.client("dynamodb", region)
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    if pitr:
        enable_pitr(client, name)
    return client


def enable_pitr(client: Any, name: str = TABLE, enabled: bool = True) -> Any:
    return client.update_continuous_backups(
        TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": enabled}
    )["ContinuousBackupsDescription"]


def put(client: Any, pk: str, value: str = "v", table: str = TABLE) -> None:
    client.put_item(TableName=table, Item={"pk": {"S": pk}, "value": {"S": value}})


def key(pk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}}


def pks(items: list[dict[str, Any]]) -> list[str]:
    return sorted(item["pk"]["S"] for item in items)


def scan(client: Any, table: str = TABLE) -> list[str]:
    return pks(client.scan(TableName=table)["Items"])


def value_of(client: Any, pk: str, table: str = TABLE) -> str | None:
    item = client.get_item(TableName=table, Key=key(pk)).get("Item")
    return None if item is None else item["value"]["S"]


def code(excinfo: pytest.ExceptionInfo[ClientError]) -> str:
    return str(excinfo.value.response["Error"]["Code"])


def wait_active(client: Any, table: str) -> None:
    # Restores take 15-60 min: more patience than the waiter's default 25 x 20 s.
    client.get_waiter("table_exists").wait(TableName=table, WaiterConfig={"Delay": 20, "MaxAttempts": 200})


def restore(client: Any, when: Any = None, target: str = "orders-restored", **extra: Any) -> Any:
    args: dict[str, Any] = {"SourceTableName": TABLE, "TargetTableName": target, **extra}
    if when is not None:
        args["RestoreDateTime"] = when
    return client.restore_table_to_point_in_time(**args)["TableDescription"]


def make_global(env: Any, ddb: DynamoDbEmulator, lag: float = 2.0) -> tuple[Any, Any]:
    env.profile.override("dynamodb_replication_lag", lag, origin="test")
    env.profile.override("dynamodb_replica_create_time", 0, origin="test")  # ACTIVE at once
    east = make_table(env)
    east.update_table(TableName=TABLE, ReplicaUpdates=[{"Create": {"RegionName": WEST}}])
    return east, env.client("dynamodb", WEST)


# -- item history ---------------------------------------------------------------------------------
def test_items_as_of_follows_puts_updates_and_deletes(emu_env: Any, ddb: DynamoDbEmulator) -> None:
    client = make_table(emu_env)
    put(client, "a", "v1")
    emu_env.clock.sleep(10)
    client.update_item(
        TableName=TABLE,
        Key=key("a"),
        UpdateExpression="SET #v = :v",
        ExpressionAttributeNames={"#v": "value"},
        ExpressionAttributeValues={":v": {"S": "v2"}},
    )
    emu_env.clock.sleep(10)
    client.delete_item(TableName=TABLE, Key=key("a"))

    assert [i["value"]["S"] for i in ddb.items_as_of(EAST, TABLE, 5)] == ["v1"]
    assert [i["value"]["S"] for i in ddb.items_as_of(EAST, TABLE, 15)] == ["v2"]
    assert ddb.items_as_of(EAST, TABLE, 25) == []
    assert [(r["time"], r["op"]) for r in ddb.table_history(EAST, TABLE)] == [(0, "put"), (10, "put"), (20, "delete")]


def test_batch_and_transact_writes_enter_the_history(emu_env: Any, ddb: DynamoDbEmulator) -> None:
    client = make_table(emu_env)
    put(client, "gone")
    client.batch_write_item(
        RequestItems={
            TABLE: [
                {"PutRequest": {"Item": {"pk": {"S": "b1"}}}},
                {"DeleteRequest": {"Key": key("gone")}},
            ]
        }
    )
    emu_env.clock.sleep(5)
    client.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": TABLE, "Item": {"pk": {"S": "t1"}}}},
            {
                "Update": {
                    "TableName": TABLE,
                    "Key": key("b1"),
                    "UpdateExpression": "SET n = :n",
                    "ExpressionAttributeValues": {":n": {"N": "7"}},
                }
            },
        ]
    )
    assert pks(ddb.items_as_of(EAST, TABLE, 1)) == ["b1"]
    after = {i["pk"]["S"]: i for i in ddb.items_as_of(EAST, TABLE, 5)}
    assert sorted(after) == ["b1", "t1"] and after["b1"]["n"] == {"N": "7"}


# -- PITR window ----------------------------------------------------------------------------------
def test_pitr_window_is_enable_time_to_now_minus_five_minutes(emu_env: Any, ddb: DynamoDbEmulator) -> None:
    client = make_table(emu_env)
    emu_env.clock.sleep(50)
    pitr = enable_pitr(client)["PointInTimeRecoveryDescription"]
    assert pitr["PointInTimeRecoveryStatus"] == "ENABLED"
    assert pitr["EarliestRestorableDateTime"] == pitr["LatestRestorableDateTime"] == emu_env.clock.datetime(50)
    emu_env.clock.sleep(1000)
    pitr = client.describe_continuous_backups(TableName=TABLE)["ContinuousBackupsDescription"][
        "PointInTimeRecoveryDescription"
    ]
    assert pitr["EarliestRestorableDateTime"] == emu_env.clock.datetime(50)
    assert pitr["LatestRestorableDateTime"] == emu_env.clock.datetime(1050 - 300)


def test_disabling_pitr_drops_timestamps_and_reenabling_restarts_the_window(
    emu_env: Any, ddb: DynamoDbEmulator
) -> None:
    client = make_table(emu_env, pitr=True)
    emu_env.clock.sleep(600)
    assert enable_pitr(client, enabled=False)["PointInTimeRecoveryDescription"] == {
        "PointInTimeRecoveryStatus": "DISABLED"
    }
    emu_env.clock.sleep(100)
    pitr = enable_pitr(client)["PointInTimeRecoveryDescription"]
    assert pitr["EarliestRestorableDateTime"] == pitr["LatestRestorableDateTime"] == emu_env.clock.datetime(700)


# -- PITR restores --------------------------------------------------------------------------------
@pytest.fixture
def history(emu_env: Any, ddb: DynamoDbEmulator) -> Any:
    """a, b written at 0; restore point 100; at 110 c written and b deleted; now 410 (latest = 110)."""
    client = make_table(emu_env, pitr=True)
    put(client, "a")
    put(client, "b")
    emu_env.clock.sleep(110)
    put(client, "c")
    client.delete_item(TableName=TABLE, Key=key("b"))
    emu_env.clock.sleep(300)
    return client


def test_pitr_restore_holds_the_items_as_of_the_restore_time(emu_env: Any, history: Any) -> None:
    restore(history, emu_env.clock.datetime(100))
    wait_active(history, "orders-restored")
    # c (written after T) is absent, b (deleted after T) is present.
    assert scan(history, "orders-restored") == ["a", "b"]


def test_pitr_restore_lands_in_a_new_table_and_leaves_the_source_alone(emu_env: Any, history: Any) -> None:
    described = restore(history, emu_env.clock.datetime(100))
    source = history.describe_table(TableName=TABLE)["Table"]
    assert described["TableName"] == "orders-restored"
    assert described["RestoreSummary"] == {
        "SourceTableArn": source["TableArn"],
        "RestoreDateTime": emu_env.clock.datetime(100),
        "RestoreInProgress": True,
    }
    assert scan(history) == ["a", "c"]
    wait_active(history, "orders-restored")
    target_pitr = history.describe_continuous_backups(TableName="orders-restored")["ContinuousBackupsDescription"]
    assert target_pitr["PointInTimeRecoveryDescription"] == {"PointInTimeRecoveryStatus": "DISABLED"}


def test_pitr_restore_with_latest_restorable_time(emu_env: Any, history: Any) -> None:
    described = restore(history, UseLatestRestorableTime=True)
    assert described["RestoreSummary"]["RestoreDateTime"] == emu_env.clock.datetime(110)
    wait_active(history, "orders-restored")
    assert scan(history, "orders-restored") == ["a", "c"]


def test_cross_region_pitr_restore_by_arn_lands_in_the_calling_region(emu_env: Any, history: Any) -> None:
    west = emu_env.client("dynamodb", WEST)
    arn = history.describe_table(TableName=TABLE)["Table"]["TableArn"]
    west.restore_table_to_point_in_time(
        SourceTableArn=arn, TargetTableName="orders-dr", RestoreDateTime=emu_env.clock.datetime(100)
    )
    wait_active(west, "orders-dr")
    assert scan(west, "orders-dr") == ["a", "b"]
    with pytest.raises(ClientError) as excinfo:
        history.describe_table(TableName="orders-dr")
    assert code(excinfo) == "ResourceNotFoundException"


@pytest.mark.parametrize(
    "source",
    [{"SourceTableName": "missing"}, {"SourceTableArn": "arn:aws:dynamodb:us-west-2:123456789012:table/orders"}],
)
def test_restore_from_a_missing_source_is_table_not_found(emu_env: Any, history: Any, source: dict[str, str]) -> None:
    with pytest.raises(ClientError) as excinfo:
        history.restore_table_to_point_in_time(TargetTableName="orders-x", UseLatestRestorableTime=True, **source)
    assert code(excinfo) == "TableNotFoundException"


def test_restore_without_pitr_is_unavailable(emu_env: Any, ddb: DynamoDbEmulator) -> None:
    client = make_table(emu_env)
    with pytest.raises(ClientError) as excinfo:
        restore(client, UseLatestRestorableTime=True)
    assert code(excinfo) == "PointInTimeRecoveryUnavailableException"


def test_restore_onto_an_existing_table_is_refused(emu_env: Any, history: Any) -> None:
    make_table(emu_env, name="taken")
    with pytest.raises(ClientError) as excinfo:
        restore(history, UseLatestRestorableTime=True, target="taken")
    assert code(excinfo) == "TableAlreadyExistsException"


def test_restore_onto_a_table_still_being_restored_is_in_use(emu_env: Any, history: Any) -> None:
    restore(history, UseLatestRestorableTime=True)
    with pytest.raises(ClientError) as excinfo:
        restore(history, UseLatestRestorableTime=True)
    assert code(excinfo) == "TableInUseException"


def test_window_is_reported_in_whole_seconds(emu_env: Any, ddb: DynamoDbEmulator) -> None:
    client = make_table(emu_env)
    emu_env.clock.sleep(10.25)
    enable_pitr(client)  # enabled at 10.25: the first whole restorable second is 11
    emu_env.clock.sleep(400)
    pitr = client.describe_continuous_backups(TableName=TABLE)["ContinuousBackupsDescription"]
    window = pitr["PointInTimeRecoveryDescription"]
    assert (window["EarliestRestorableDateTime"], window["LatestRestorableDateTime"]) == (
        emu_env.clock.datetime(11),
        emu_env.clock.datetime(110),
    )


@pytest.mark.parametrize("times", ["both", "neither"])
def test_restore_needs_exactly_one_time_option(emu_env: Any, history: Any, times: str) -> None:
    extra = {"RestoreDateTime": emu_env.clock.datetime(100), "UseLatestRestorableTime": True} if times == "both" else {}
    with pytest.raises(ClientError) as excinfo:
        restore(history, **extra)
    assert code(excinfo) == "ValidationException"


@pytest.mark.parametrize(("at", "ok"), [(999, False), (1000, True), (1700, True), (1700.9, True), (1701, False)])
def test_restore_window_boundaries(emu_env: Any, ddb: DynamoDbEmulator, at: float, ok: bool) -> None:
    client = make_table(emu_env)
    emu_env.clock.sleep(1000)
    enable_pitr(client)
    emu_env.clock.sleep(1000)  # window: [1000, 1700], to the second
    if ok:
        assert restore(client, emu_env.clock.datetime(at))["TableStatus"] == "CREATING"
    else:
        with pytest.raises(ClientError) as excinfo:
            restore(client, emu_env.clock.datetime(at))
        assert code(excinfo) == "InvalidRestoreTimeException"


def test_restored_table_is_creating_until_the_restore_time_then_active(
    emu_env: Any, history: Any, ddb: DynamoDbEmulator
) -> None:
    emu_env.profile.override("dynamodb_restore_time", "20m", origin="test")
    start = emu_env.clock.now()
    assert restore(history, UseLatestRestorableTime=True)["TableStatus"] == "CREATING"
    assert ddb.restore_status(EAST, "orders-restored") == "CREATING"
    for call in (
        lambda: history.get_item(TableName="orders-restored", Key=key("a")),
        lambda: put(history, "z", table="orders-restored"),
    ):
        with pytest.raises(ClientError) as excinfo:
            call()
        assert code(excinfo) == "ResourceNotFoundException"

    wait_active(history, "orders-restored")

    assert emu_env.clock.now() == start + 1200
    table = history.describe_table(TableName="orders-restored")["Table"]
    assert (table["TableStatus"], table["RestoreSummary"]["RestoreInProgress"]) == ("ACTIVE", False)
    assert ddb.restore_status(EAST, "orders-restored") == "ACTIVE"
    assert value_of(history, "a") == "v"


# -- global tables --------------------------------------------------------------------------------
def replica_statuses(client: Any) -> tuple[str, list[tuple[str, str]]]:
    table = client.describe_table(TableName=TABLE)["Table"]
    return table["TableStatus"], [(r["RegionName"], r["ReplicaStatus"]) for r in table["Replicas"]]


def test_an_added_replica_is_creating_and_the_table_updating_for_the_modeled_time(
    emu_env: Any, ddb: DynamoDbEmulator
) -> None:
    # [BC:dynamodb] ReplicaStatus CREATING -> ACTIVE; the table is UPDATING meanwhile and takes no
    # other UpdateTable (ResourceInUseException); the new replica's table answers no item call yet.
    emu_env.profile.override("dynamodb_replica_create_time", "4m", origin="test")
    east = make_table(emu_env)
    put(east, "a")
    answer = east.update_table(TableName=TABLE, ReplicaUpdates=[{"Create": {"RegionName": WEST}}])["TableDescription"]
    west = emu_env.client("dynamodb", WEST)
    put(east, "b")  # the table still serves while UPDATING
    with pytest.raises(ClientError) as again:
        east.update_table(TableName=TABLE, ReplicaUpdates=[{"Create": {"RegionName": "eu-west-1"}}])
    with pytest.raises(ClientError) as not_yet:
        west.get_item(TableName=TABLE, Key=key("a"))
    progress = east.describe_table(TableName=TABLE)["Table"]["Replicas"][1]["ReplicaStatusPercentProgress"]
    emu_env.clock.sleep(120)
    halfway = progress, east.describe_table(TableName=TABLE)["Table"]["Replicas"][1]["ReplicaStatusPercentProgress"]
    during = replica_statuses(east), replica_statuses(west)
    emu_env.clock.sleep(120 - 0.5)
    still = replica_statuses(east)
    emu_env.clock.sleep(0.5)

    assert answer["TableStatus"] == "UPDATING"
    assert [(r["RegionName"], r["ReplicaStatus"]) for r in answer["Replicas"]] == [(EAST, "ACTIVE"), (WEST, "CREATING")]
    assert code(again) == "ResourceInUseException"
    assert code(not_yet) == "ResourceNotFoundException"
    assert halfway == ("0", "50")
    assert during == (("UPDATING", [(EAST, "ACTIVE"), (WEST, "CREATING")]), ("CREATING", [(EAST, "ACTIVE"), (WEST, "CREATING")]))
    assert still == ("UPDATING", [(EAST, "ACTIVE"), (WEST, "CREATING")])
    assert replica_statuses(east) == replica_statuses(west) == ("ACTIVE", [(EAST, "ACTIVE"), (WEST, "ACTIVE")])
    assert scan(west) == ["a", "b"]


def test_replica_is_created_with_the_items_and_described_in_every_region(emu_env: Any, ddb: DynamoDbEmulator) -> None:
    east = make_table(emu_env)
    put(east, "a")
    east.update_table(TableName=TABLE, ReplicaUpdates=[{"Create": {"RegionName": WEST}}])
    west = emu_env.client("dynamodb", WEST)
    emu_env.clock.run_until(lambda: replica_statuses(east)[0] == "ACTIVE", timeout=3600, step=20)
    assert scan(west) == ["a"]
    for client in (east, west):
        table = client.describe_table(TableName=TABLE)["Table"]
        assert table["GlobalTableVersion"] == "2019.11.21"
        assert table["Replicas"] == [
            {"RegionName": EAST, "ReplicaStatus": "ACTIVE"},
            {"RegionName": WEST, "ReplicaStatus": "ACTIVE"},
        ]
    assert ddb.is_global(WEST, TABLE) and ddb.replica_regions(TABLE) == [EAST, WEST]


def test_replicated_write_is_visible_only_after_the_lag(emu_env: Any, ddb: DynamoDbEmulator) -> None:
    east, west = make_global(emu_env, ddb, lag=2.0)
    put(east, "b")
    emu_env.clock.sleep(1.9)
    assert value_of(west, "b") is None and ddb.pending_replication(TABLE) == 1
    emu_env.clock.sleep(0.1)
    assert value_of(west, "b") == "v" and ddb.pending_replication(TABLE) == 0
    east.delete_item(TableName=TABLE, Key=key("b"))
    emu_env.clock.sleep(2)
    assert value_of(west, "b") is None
    assert [(r["time"], r["op"], r["origin"]) for r in ddb.table_history(WEST, TABLE)] == [
        (2, "put", "replication"),
        (4, "delete", "replication"),
    ]


@pytest.mark.parametrize("direct", [True, False], ids=["into-moto-models", "through-the-backdoor"])
def test_replication_writes_the_same_replica_into_moto_directly_or_through_a_request(
    emu_env: Any, ddb: DynamoDbEmulator, direct: bool
) -> None:
    # In-process moto takes deliveries into its models; a DynamoDB elsewhere (LocalStack) through
    # PutItem / DeleteItem requests: the replica must be the same either way.
    emu_env.backdoor.moto_in_process = direct
    assert (ddb.moto_backend(WEST) is not None) is direct
    east, west = make_global(emu_env, ddb, lag=1.0)
    east.put_item(TableName=TABLE, Item={"pk": {"S": "a"}, "value": {"S": "v"}, "n": {"N": "3"},
                                         "tags": {"SS": ["x", "y"]}, "doc": {"M": {"l": {"L": [{"BOOL": True}]}}}})
    put(east, "b")
    emu_env.clock.sleep(1)
    east.delete_item(TableName=TABLE, Key=key("b"))
    emu_env.clock.sleep(1)
    assert west.get_item(TableName=TABLE, Key=key("a"))["Item"] == east.get_item(TableName=TABLE, Key=key("a"))["Item"]
    assert scan(west) == ["a"]
    assert [r["origin"] for r in ddb.table_history(WEST, TABLE)] == ["replication"] * 3


def test_writes_acknowledged_in_a_lost_region_are_held_there_and_sent_when_it_returns(
    emu_env: Any, ddb: DynamoDbEmulator
) -> None:
    # [DDB-DG:V2globaltables_HowItWorks] "Availability and durability": the isolated region's
    # writes that had not left it are sent when it recovers, after the replication lag.
    east, west = make_global(emu_env, ddb, lag=2.0)
    put(east, "b")  # t = 0, due in the west at 2
    emu_env.clock.sleep(1)
    emu_env.emulation.world.lose_region(EAST)
    emu_env.clock.sleep(10)
    during = value_of(west, "b"), ddb.pending_replication(TABLE), ddb.held_in_region(TABLE)
    emu_env.emulation.world.restore_region(EAST)  # t = 11
    emu_env.clock.sleep(2 - 0.1)
    not_yet = value_of(west, "b")
    emu_env.clock.sleep(0.1)

    assert during == (None, 1, [{"key": key("b"), "op": "put", "source_region": EAST, "written_at": 0,
                                  "held_since": 1, "destinations": [WEST]}])
    assert not_yet is None
    assert value_of(west, "b") == "v" and ddb.pending_replication(TABLE) == 0 and ddb.held_in_region(TABLE) == []
    assert ddb.table_history(WEST, TABLE)[-1]["time"] == 13
    assert ddb.conflicts(TABLE) == []


def test_a_held_write_that_loses_to_a_later_write_of_the_other_region_is_overwritten_everywhere(
    emu_env: Any, ddb: DynamoDbEmulator
) -> None:
    # Writes to the same item during the split are settled by last writer wins: the held write
    # reaches the west after the later west write and is discarded; the west write replaces it
    # in the east; the regions converge; the loss is kept in conflicts().
    east, west = make_global(emu_env, ddb, lag=2.0)
    put(east, "x", "east")  # t = 0, held in the east by the loss at 1
    emu_env.clock.sleep(1)
    emu_env.emulation.world.lose_region(EAST)
    put(west, "x", "west")  # t = 1: the west never saw the east's write
    emu_env.clock.sleep(9)
    emu_env.emulation.world.restore_region(EAST)  # t = 10: the west's write reaches the east now
    emu_env.clock.sleep(5)

    assert (value_of(east, "x"), value_of(west, "x")) == ("west", "west")
    assert ddb.conflicts(TABLE) == [{
        "table": TABLE, "seq": ddb.conflicts(TABLE)[0]["seq"], "key": key("x"), "op": "put",
        "item": {"pk": {"S": "x"}, "value": {"S": "east"}}, "source_region": EAST,
        "written_at": 0, "lost_to": {"region": WEST, "written_at": 1}, "detected_in": WEST, "detected_at": 12,
    }]


def test_writes_to_a_lost_destination_are_held_and_delivered_on_restore(emu_env: Any, ddb: DynamoDbEmulator) -> None:
    east, west = make_global(emu_env, ddb)
    emu_env.emulation.world.lose_region(WEST)
    put(east, "b")
    emu_env.clock.sleep(60)
    assert ddb.pending_replication(TABLE) == 1
    emu_env.emulation.world.restore_region(WEST)
    assert value_of(west, "b") == "v" and ddb.pending_replication(TABLE) == 0
    assert ddb.table_history(WEST, TABLE)[-1]["time"] == 60


def test_paused_replication_is_held_then_applied_in_order_on_resume(emu_env: Any, ddb: DynamoDbEmulator) -> None:
    east, west = make_global(emu_env, ddb)
    emu_env.emulation.world.pause("dynamodb", TABLE)
    put(east, "b", "first")
    emu_env.clock.sleep(1)
    put(east, "b", "second")
    emu_env.clock.sleep(30)
    assert value_of(west, "b") is None and ddb.pending_replication(TABLE) == 2
    emu_env.emulation.world.resume("dynamodb", TABLE)
    assert value_of(west, "b") == "second" and ddb.pending_replication(TABLE) == 0


def test_concurrent_writes_converge_on_the_last_writer(emu_env: Any, ddb: DynamoDbEmulator) -> None:
    east, west = make_global(emu_env, ddb, lag=2.0)
    put(east, "x", "east")  # t=0, reaches west at 2
    emu_env.clock.sleep(1)
    put(west, "x", "west")  # t=1, reaches east at 3: the later write wins everywhere
    emu_env.clock.sleep(5)
    assert (value_of(east, "x"), value_of(west, "x")) == ("west", "west")


def test_deleting_a_replica_removes_its_table(emu_env: Any, ddb: DynamoDbEmulator) -> None:
    east, west = make_global(emu_env, ddb)
    east.update_table(TableName=TABLE, ReplicaUpdates=[{"Delete": {"RegionName": WEST}}])
    with pytest.raises(ClientError) as excinfo:
        west.describe_table(TableName=TABLE)
    assert code(excinfo) == "ResourceNotFoundException"
    assert not ddb.is_global(EAST, TABLE) and "Replicas" not in east.describe_table(TableName=TABLE)["Table"]


# -- on-demand backups ----------------------------------------------------------------------------
def test_backup_times_are_clock_times(emu_env: Any, ddb: DynamoDbEmulator) -> None:
    client = make_table(emu_env)
    emu_env.clock.sleep(3600)
    details = client.create_backup(TableName=TABLE, BackupName="nightly")["BackupDetails"]
    assert details["BackupCreationDateTime"] == emu_env.clock.datetime(3600)
    described = client.describe_backup(BackupArn=details["BackupArn"])["BackupDescription"]["BackupDetails"]
    assert described["BackupCreationDateTime"] == emu_env.clock.datetime(3600)
    listed = client.list_backups(TableName=TABLE, TimeRangeLowerBound=emu_env.clock.datetime(3000))["BackupSummaries"]
    assert [b["BackupCreationDateTime"] for b in listed] == [emu_env.clock.datetime(3600)]
    assert (
        client.list_backups(TableName=TABLE, TimeRangeLowerBound=emu_env.clock.datetime(4000))["BackupSummaries"] == []
    )


def test_backup_restore_is_creating_then_active_with_the_snapshot(emu_env: Any, ddb: DynamoDbEmulator) -> None:
    client = make_table(emu_env)
    put(client, "a")
    arn = client.create_backup(TableName=TABLE, BackupName="snap")["BackupDetails"]["BackupArn"]
    emu_env.clock.sleep(10)
    put(client, "c")
    described = client.restore_table_from_backup(TargetTableName="from-backup", BackupArn=arn)["TableDescription"]
    assert described["TableStatus"] == "CREATING"
    assert described["RestoreSummary"]["SourceBackupArn"] == arn
    assert described["RestoreSummary"]["RestoreInProgress"] is True
    assert described["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"  # carried over
    with pytest.raises(ClientError) as excinfo:
        client.scan(TableName="from-backup")
    assert code(excinfo) == "ResourceNotFoundException"
    wait_active(client, "from-backup")
    assert scan(client, "from-backup") == ["a"]
    assert [(r["time"], r["origin"]) for r in ddb.table_history(EAST, "from-backup")] == [(10, "restore")]


# -- helper for other emulators -------------------------------------------------------------------
def test_create_table_with_items_copies_the_schema_and_records_history(emu_env: Any, ddb: DynamoDbEmulator) -> None:
    client = make_table(emu_env)
    like = client.describe_table(TableName=TABLE)["Table"]
    emu_env.clock.sleep(5)
    made = ddb.create_table_with_items(WEST, "copy", like, [{"pk": {"S": "a"}}, {"pk": {"S": "b"}}])
    assert made["KeySchema"] == like["KeySchema"] and made["CreationDateTime"] == emu_env.clock.datetime(5)
    assert scan(emu_env.client("dynamodb", WEST), "copy") == ["a", "b"]
    assert pks(ddb.items_as_of(WEST, "copy", 5)) == ["a", "b"]
