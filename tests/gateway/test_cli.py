"""The AWS CLI v1 (a real client in another process) sees the emulated world as boto3 does."""
from __future__ import annotations

import datetime as dt

import psycopg
import pytest

from pytest_drtest import faults
from pytest_drtest.harness import Harness
from pytest_drtest.settings import Settings
from tests.gateway.conftest import Cli


def _table(dr: Harness, name: str) -> None:
    ddb = dr.client("dynamodb")
    ddb.create_table(TableName=name, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
    ddb.update_continuous_backups(TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})


def test_cli_pitr_restores_the_items_as_of_the_time_into_a_new_table(world: Harness, cli: Cli) -> None:
    _table(world, "orders")
    put = lambda key: cli.run("primary", "dynamodb", "put-item", "--table-name", "orders", "--item", f'{{"pk": {{"S": "{key}"}}}}')
    for key in ("a", "b", "c"):
        put(key)
    world.clock.sleep("10m")
    restore_at = world.clock.datetime().replace(microsecond=0)
    world.clock.sleep("10m")
    put("written-after")
    cli.run("primary", "dynamodb", "delete-item", "--table-name", "orders", "--key", '{"pk": {"S": "a"}}')
    world.clock.sleep("10m")

    window = cli.json("primary", "dynamodb", "describe-continuous-backups", "--table-name", "orders")
    pitr = window["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
    assert dt.datetime.fromtimestamp(pitr["EarliestRestorableDateTime"], dt.UTC) == world.clock.datetime(0)
    assert dt.datetime.fromtimestamp(pitr["LatestRestorableDateTime"], dt.UTC) == world.clock.datetime(world.clock.now() - 300)

    too_old = cli.run("primary", "dynamodb", "restore-table-to-point-in-time", "--source-table-name", "orders",
                      "--target-table-name", "never", "--restore-date-time", "1990-01-01T00:00:00Z", check=False)
    assert too_old.returncode != 0 and "InvalidRestoreTimeException" in too_old.stderr

    answer = cli.json("primary", "dynamodb", "restore-table-to-point-in-time", "--source-table-name", "orders",
                      "--target-table-name", "orders-restored", "--restore-date-time", restore_at.isoformat())
    assert answer["TableDescription"]["TableStatus"] == "CREATING"
    world.clock.sleep("2h")  # the restore takes modeled time; the CLI's process waits in none
    described = cli.json("primary", "dynamodb", "describe-table", "--table-name", "orders-restored")["Table"]
    assert described["TableStatus"] == "ACTIVE"
    items = cli.json("primary", "dynamodb", "scan", "--table-name", "orders-restored")["Items"]
    assert sorted(i["pk"]["S"] for i in items) == ["a", "b", "c"]  # "a" deleted and "written-after" written after T


def test_a_cli_call_to_a_lost_region_fails_and_works_again_when_it_is_back(world: Harness, cli: Cli) -> None:
    _table(world, "orders")
    world.emulation.world.lose_region(world.regions[0])  # type: ignore[union-attr]
    try:
        refused = cli.run("primary", "dynamodb", "put-item", "--table-name", "orders", "--item", '{"pk": {"S": "x"}}', check=False)
        assert refused.returncode != 0 and "Could not connect to the endpoint URL" in refused.stderr
        other = cli.run("dr", "dynamodb", "list-tables", check=False)
        assert other.returncode == 0, other.stderr  # the other region still answers
    finally:
        world.emulation.world.restore_region(world.regions[0])  # type: ignore[union-attr]
    cli.run("primary", "dynamodb", "put-item", "--table-name", "orders", "--item", '{"pk": {"S": "x"}}')
    assert world.client("dynamodb").get_item(TableName="orders", Key={"pk": {"S": "x"}})["Item"]


@pytest.fixture
def standby() -> Harness:
    with Harness(Settings(backend="moto-server"), strategy="warm-standby") as dr:
        dr.build()
        yield dr


def test_cli_reboot_with_failover_fails_the_instance_over_as_boto3_does(standby: Harness) -> None:
    dr, cli = standby, Cli(standby)
    ident = dr.topology.primary.database
    assert ident is not None
    before = cli.json("primary", "rds", "describe-db-instances", "--db-instance-identifier", ident)["DBInstances"][0]
    with dr.probe(interval="2s") as probe:
        dr.clock.sleep("1m")
        dr.mark_fault(f"aws rds reboot-db-instance --force-failover {ident}")
        answer = cli.json("primary", "rds", "reboot-db-instance", "--db-instance-identifier", ident, "--force-failover")
        assert answer["DBInstance"]["DBInstanceStatus"] == "rebooting"
        assert probe.wait_recovered(within="10m")
        result = probe.result()
    after = cli.json("primary", "rds", "describe-db-instances", "--db-instance-identifier", ident)["DBInstances"][0]
    assert (after["AvailabilityZone"], after["SecondaryAvailabilityZone"]) == (before["SecondaryAvailabilityZone"], before["AvailabilityZone"])
    assert after["DBInstanceStatus"] == "available"
    events = cli.json("primary", "rds", "describe-events", "--source-identifier", ident, "--source-type", "db-instance")["Events"]
    messages = [e["Message"] for e in events]
    assert "Multi-AZ instance failover started." in messages and "Multi-AZ instance failover completed." in messages
    assert result.rto_s is not None and result.rto_s > 0  # the probe saw the outage the failover caused
    assert result.lost_writes == []  # a synchronous standby loses nothing


def test_cli_promote_read_replica_during_a_region_loss_makes_the_dr_database_writable(standby: Harness) -> None:
    dr, cli = standby, Cli(standby)
    replica = dr.topology.dr.database
    assert replica is not None
    dr.inject(faults.RegionOutage("primary"))
    answer = cli.json("dr", "rds", "promote-read-replica", "--db-instance-identifier", replica)
    assert answer["DBInstance"]["DBInstanceStatus"] == "modifying"
    dr.clock.sleep("15m")
    instance = cli.json("dr", "rds", "describe-db-instances", "--db-instance-identifier", replica)["DBInstances"][0]
    assert instance["DBInstanceStatus"] == "available" and "ReadReplicaSourceDBInstanceIdentifier" not in instance
    endpoint = instance["Endpoint"]
    env = dr.env("dr")
    with psycopg.connect(host=endpoint["Address"], port=endpoint["Port"], user=env["DRTEST_DB_USER"],
                         password=env["DRTEST_DB_PASSWORD"], dbname=env["DRTEST_DB_NAME"], autocommit=True,
                         connect_timeout=5) as conn:
        conn.execute("INSERT INTO ledger (pk, payload, written_at) VALUES ('after-promotion', 'x', 0)")
        assert conn.execute("SELECT count(*) FROM ledger WHERE pk = 'after-promotion'").fetchone() == (1,)
