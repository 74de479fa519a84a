"""The restore check catches bad restores: the wrong time, the wrong table, in place — one per restore kind.

One small backup & restore topology (the only strategy with an AWS Backup plan; its database is an
RDS instance) writes probe traffic for 90 minutes; then each kind restores for real, once as of a
late time and once as of an early one, and ``verify_restore`` judges records that tell the truth
and records that do not. Aurora clusters are in ``test_restore_verification_aurora.py``.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pytest_drtest.harness import Harness
from pytest_drtest.recovery.steps import restore_database_to_time, wait_instance
from pytest_drtest.restores import verify_restore
from pytest_drtest.settings import Settings
from pytest_drtest.topology.build import backup_role, db_target

# one worker runs the module, so its module-scoped world is built once (pytest-xdist --dist loadgroup;
# while xdist cannot read the mark under pytest 9.2, tests/conftest.py's ONE_WORKER_FILES groups the file)
pytestmark = pytest.mark.xdist_group("restore-verification-world")


TINY = """
name = "tiny"
[compute]
capacity = 1
[[tables]]
name = "orders"
seed_items = 10
[backup]
schedule = "cron(0 * ? * * *)"
[database]
snapshot_every = "1h"
"""


@dataclass
class World:
    dr: Harness
    records: dict[str, dict[str, dict[str, Any]]]  # kind -> {"late": record, "early": record}

    def verify(self, record: dict[str, Any], **wrong: Any) -> Any:
        return verify_restore(self.dr.topology, self.dr.ledger, {**record, **wrong})


def write_blueprint(folder: Path) -> Path:
    path = folder / "tiny.toml"
    path.write_text(TINY)
    return path


def _table_restore(dr: Harness, kind: str, source: str, target: str, restore_t: float, call: Any) -> dict[str, Any]:
    ddb = dr.client("dynamodb")
    started = dr.clock.now()
    call()
    ddb.get_waiter("table_exists").wait(TableName=target, WaiterConfig={"Delay": 20, "MaxAttempts": 360})
    return {"kind": kind, "region": dr.regions[0], "source": source, "target": target, "restore_time": restore_t,
            "started": started, "completed": dr.clock.now()}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    blueprint = write_blueprint(tmp_path_factory.mktemp("tiny"))
    with Harness(Settings(), strategy="backup-restore", blueprint=str(blueprint)) as dr:
        topology, clock = dr.topology, dr.clock
        ddb, rds, backup = dr.client("dynamodb"), dr.client("rds"), dr.client("backup")
        source, database = topology.table_name(), topology.primary.database
        assert database is not None
        taken: dict[str, float] = {}
        with dr.probe(interval="60s"):
            clock.sleep("20m")
            for moment in ("early", "late"):  # an on-demand backup and a snapshot, each twice
                taken[moment] = clock.now()
                ddb.create_backup(TableName=source, BackupName=f"{source}-{moment}")
                rds.create_db_snapshot(DBSnapshotIdentifier=f"snap-{moment}", DBInstanceIdentifier=database)
                clock.sleep("15m")
            clock.sleep("80m")  # past two hourly AWS Backup rules (01:00, 02:00) and their jobs, and the PITR lag
        end = clock.now()
        records: dict[str, dict[str, dict[str, Any]]] = {k: {} for k in ("dynamodb-pitr", "dynamodb-backup", "aws-backup",
                                                                          "rds-pitr", "rds-snapshot")}
        backups = {b["BackupName"].rsplit("-", 1)[1]: b["BackupArn"] for b in ddb.list_backups(TableName=source)["BackupSummaries"]}
        points = sorted((p for p in backup.list_recovery_points_by_backup_vault(BackupVaultName=topology.primary.vault)["RecoveryPoints"]
                         if p["Status"] in ("AVAILABLE", "COMPLETED")), key=lambda p: p["CreationDate"])
        assert len(points) >= 2, points
        for moment, age in (("early", 30 * 60), ("late", 6 * 60)):  # the early restores exist before the late ones start
            at = clock.datetime(end - age).replace(microsecond=0)
            records["dynamodb-pitr"][moment] = _table_restore(
                dr, "dynamodb-pitr", source, f"pitr-{moment}", clock.seconds_at(at),
                lambda at=at, m=moment: ddb.restore_table_to_point_in_time(SourceTableName=source, TargetTableName=f"pitr-{m}",
                                                                           RestoreDateTime=at))
            records["dynamodb-backup"][moment] = _table_restore(
                dr, "dynamodb-backup", source, f"backup-{moment}", taken[moment],
                lambda m=moment: ddb.restore_table_from_backup(TargetTableName=f"backup-{m}", BackupArn=backups[m]))
            point = points[-1] if moment == "late" else points[-2]
            started = clock.now()
            job = backup.start_restore_job(RecoveryPointArn=point["RecoveryPointArn"], Metadata={"targetTableName": f"vault-{moment}"},
                                           IamRoleArn=backup_role(topology))["RestoreJobId"]
            clock.run_until(lambda j=job: backup.describe_restore_job(RestoreJobId=j)["Status"] == "COMPLETED", timeout="6h", step=60)
            records["aws-backup"][moment] = {"kind": "aws-backup", "region": dr.regions[0], "source": source,
                                             "target": f"vault-{moment}", "restore_time": clock.seconds_at(point["CreationDate"]),
                                             "started": started, "completed": clock.now()}
            restore_database_to_time(topology, at, clock)
            records["rds-pitr"][moment] = topology.restores.pop()
            started = clock.now()
            target = f"from-snap-{moment}"
            rds.get_waiter("db_snapshot_available").wait(DBSnapshotIdentifier=f"snap-{moment}", WaiterConfig={"Delay": 30, "MaxAttempts": 60})
            rds.restore_db_instance_from_db_snapshot(DBInstanceIdentifier=target, DBSnapshotIdentifier=f"snap-{moment}")
            wait_instance(topology, dr.regions[0], target, clock, what=f"restore of {target}")
            records["rds-snapshot"][moment] = {"kind": "rds-snapshot", "region": dr.regions[0], "source": database, "target": target,
                                               "restore_time": taken[moment], "started": started, "completed": clock.now(),
                                               "store": "sql", "db": db_target(topology, dr.regions[0], target, "instance")}
        yield World(dr, records)


KINDS = ("dynamodb-pitr", "dynamodb-backup", "aws-backup", "rds-pitr", "rds-snapshot")


@pytest.mark.parametrize("kind", KINDS)
def test_a_true_record_passes_with_the_probe_writes_in_it(world: World, kind: str) -> None:
    for moment in ("late", "early"):
        result = world.verify(world.records[kind][moment])
        assert result.passed, result.story()
        assert result.items_expected > 10 and result.items_matched == result.items_expected  # seed items and probe writes
        assert result.new_resource and result.source_untouched and result.reasons() == []


@pytest.mark.parametrize("kind", KINDS)
def test_a_restore_as_of_another_time_fails_naming_the_items(world: World, kind: str) -> None:
    late, early = world.records[kind]["late"], world.records[kind]["early"]
    claimed_later = world.verify(early, restore_time=late["restore_time"])  # the early restore, claimed as the late one
    assert not claimed_later.passed
    assert claimed_later.items_matched < claimed_later.items_expected and claimed_later.unexpected_items == 0
    assert "items the ledger held at" in claimed_later.story() and "are missing or hold another value" in claimed_later.story()
    assert claimed_later.missing_keys and all(k.startswith("probe#") for k in claimed_later.missing_keys)
    claimed_earlier = world.verify(late, restore_time=early["restore_time"])
    assert not claimed_earlier.passed and claimed_earlier.unexpected_items > 0
    assert "that did not exist at" in claimed_earlier.story() and "a restore as of another time?" in claimed_earlier.story()


@pytest.mark.parametrize("kind", KINDS)
def test_the_wrong_table_fails(world: World, kind: str) -> None:
    late, early = world.records[kind]["late"], world.records[kind]["early"]
    other = world.verify(late, target=early["target"], db=early.get("db"))  # another restore's target, made before this one
    assert not other.passed and not other.new_resource
    assert f"{early['target']} existed before the restore began" in other.story()
    assert other.items_matched < other.items_expected  # and it holds the other time's items


@pytest.mark.parametrize("kind", KINDS)
def test_a_restore_in_place_fails(world: World, kind: str) -> None:
    late = world.records[kind]["late"]
    in_place = {"target": late["source"]}
    if late.get("store") == "sql":
        in_place["db"] = db_target(world.dr.topology, world.dr.regions[0], late["source"], "instance")
    result = world.verify(late, **in_place)
    assert not result.passed and not result.new_resource
    assert f"restored in place: the target {late['source']} is the source itself" in result.story()
    assert result.unexpected_items > 0  # the live source holds the writes made after the restore time
