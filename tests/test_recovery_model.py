"""What the shipped runbooks wait for: a pilot light's database resize and warm-up, a backup & restore's
stack, and the copy-back after a point-in-time restore (embedded moto, virtual clock, small blueprints)."""
from __future__ import annotations

from pathlib import Path

import pytest

from pytest_drtest import faults
from pytest_drtest.harness import Harness
from pytest_drtest.measure import Milestone
from pytest_drtest.recovery import RUNBOOKS
from pytest_drtest.recovery.reapply import reapply_table, table_items
from pytest_drtest.settings import Settings

TINY = """
name = "tiny"
[compute]
capacity = 2
[[tables]]
name = "orders"
seed_items = 5
[backup]
schedule = "cron(0 * ? * * *)"
[database]
snapshot_every = "1h"
"""


@pytest.fixture
def tiny(tmp_path: Path) -> str:
    path = tmp_path / "tiny.toml"
    path.write_text(TINY)
    return str(path)


def _at(milestones: list[Milestone], kind: str) -> float:
    return next(m.t for m in milestones if m.kind == kind)


def test_pilot_light_scales_its_smaller_replica_up_and_warms_its_servers_before_the_dr_app_writes(tiny: str) -> None:
    settings = Settings(latency_lines=["rds_modify_class_time = 15m", "app_warmup_time = 4m", "rds_promotion_time = 2m",
                                       "ec2_launch_time = 1m"])
    with Harness(settings, strategy="pilot-light", blueprint=tiny) as dr:
        topology = dr.topology
        rds = dr.client("rds", "dr")
        replica = topology.dr.database
        assert replica is not None
        assert rds.describe_db_instances(DBInstanceIdentifier=replica)["DBInstances"][0]["DBInstanceClass"] == "db.t4g.medium"
        with dr.probe(interval="10s") as probe:
            dr.clock.sleep("1m")
            dr.inject(faults.RegionOutage("primary"))
            RUNBOOKS["dns-failover"](topology, dr.clock)
            assert probe.wait_recovered(within="1h")
            result = probe.result()
        instance = rds.describe_db_instances(DBInstanceIdentifier=replica)["DBInstances"][0]
    marks = result.milestones
    assert instance["DBInstanceClass"] == "db.r6g.large" and instance["DBInstanceStatus"] == "available"
    assert _at(marks, "db-resized") - _at(marks, "db-resize-started") == 900  # the modeled ModifyDBInstance
    assert _at(marks, "app-warm") - _at(marks, "scaled") == 240
    assert _at(marks, "db-promoted") >= _at(marks, "db-resized")  # the DR app writes only to the production class
    assert result.rto_s is not None and result.rto_s >= _at(marks, "db-resized") - result.fault_t >= 120 + 900


def test_backup_restore_restores_then_deploys_its_stack_then_warms_up_before_dns_moves(tiny: str) -> None:
    settings = Settings(latency_lines=[
        "stack_create_time = 10m", "app_warmup_time = 5m", "backup_job_time = 5m", "backup_copy_time = 10m",
        "backup_restore_time = 20m", "rds_restore_time = 15m", "rds_snapshot_time = 2m", "rds_snapshot_copy_time = 10m",
        "s3_glacier_standard = 12m",
    ])
    with Harness(settings, strategy="backup-restore", blueprint=tiny) as dr, dr.probe(interval="5m") as probe:
        dr.clock.sleep("80m")  # the 01:00 recovery point and the first snapshot reach the DR region
        dr.inject(faults.RegionOutage("primary"))
        RUNBOOKS["restore-from-backup"](dr.topology, dr.clock)
        assert probe.wait_recovered(within="1h")
        result = probe.result()
    marks = result.milestones
    restored = max(_at(marks, "table-restored"), _at(marks, "db-restored"), _at(marks, "glacier-restored"))
    assert _at(marks, "table-restored") - _at(marks, "recovery-point-chosen") == 20 * 60
    assert _at(marks, "stack-deploy-started") == restored  # the stack is deployed with the restored data stores
    assert _at(marks, "stack-created") - _at(marks, "stack-deploy-started") == 10 * 60
    assert _at(marks, "app-warm") - _at(marks, "scaled") == 5 * 60
    assert _at(marks, "dns-switched") >= _at(marks, "app-warm")
    assert result.rto_s is not None and result.rto_s >= _at(marks, "dns-switched") - result.fault_t - 5 * 60


def test_the_copy_back_never_overwrites_a_newer_write_nor_reapplies_the_corruption() -> None:
    with Harness(Settings(), strategy="warm-standby") as dr:
        ddb = dr.client("dynamodb")
        for name in ("damaged", "restored"):
            ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                             AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])

        def put(table: str, key: str, payload: str) -> None:
            ddb.put_item(TableName=table, Item={"pk": {"S": key}, "payload": {"S": payload}})

        for key in ("kept", "bad", "updated", "raced", "deleted"):
            put("restored", key, "restore point")  # what the restore delivered
        for key, payload in (("kept", "restore point"), ("bad", "CORRUPTED"), ("updated", "after"), ("raced", "after"),
                             ("new", "after")):
            put("damaged", key, payload)  # "deleted" was deleted after the restore point
        restored = table_items(ddb, "restored", ["pk"])
        put("restored", "raced", "newer, through the repointed application")
        done = reapply_table(ddb, "damaged", "restored", restored, ["pk"], [{"pk": {"S": "bad"}}])
        now = {k.split('"')[5]: v.get("payload", {}).get("S") for k, v in table_items(ddb, "restored", ["pk"]).items()}
    assert now == {"kept": "restore point", "bad": "restore point", "updated": "after", "new": "after",
                   "raced": "newer, through the repointed application"}
    assert [k.split('"')[5] for k in done.copied] == ["deleted", "new", "updated"]
    assert [k.split('"')[5] for k in done.corrupted] == ["bad"] and [k.split('"')[5] for k in done.newer] == ["raced"]
