"""S3 recovery after the delete-objects fault: the undelete-objects runbook and the s3-* restore checks."""
from __future__ import annotations

from typing import Any

import pytest

from pytest_drtest import faults
from pytest_drtest.errors import DrConfigError
from pytest_drtest.harness import Harness
from pytest_drtest.recovery import resolve_runbook
from pytest_drtest.recovery.runbooks import RUNBOOKS
from pytest_drtest.recovery.steps import RunbookFailed, record_restore
from pytest_drtest.scenario import (
    ProbeSettings,
    RestoreCheck,
    load_scenario,
    shipped_scenarios,
)
from pytest_drtest.settings import Settings


@pytest.fixture
def ws() -> Any:
    with Harness(Settings(), strategy="warm-standby") as harness:
        yield harness


def test_undelete_objects_brings_the_deleted_objects_back_and_the_check_passes(ws: Any) -> None:
    s3 = ws.client("s3")
    bucket = ws.topology.bucket_name("assets")
    ws.clock.sleep("1m")
    fault = ws.inject(faults.DeleteObjects(bucket="assets", prefix="seed/", fraction=0.5))
    ws.clock.sleep("5m")
    untouched = "seed/later.json"
    s3.put_object(Bucket=bucket, Key=untouched, Body=b"written after the fault")
    resolve_runbook("undelete-objects")(ws.topology, ws.clock)

    listed = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert set(fault.deleted) <= listed and untouched in listed
    [result] = ws.verify_restores()
    assert result.passed, result.story()
    assert (result.kind, result.items_expected, result.items_matched) == ("s3-versioning", 10, 10)
    assert result.target == result.source == bucket
    assert "objects-recovered" in [m.kind for m in ws.timeline.events]  # what ends the RTO of a data fault


def test_the_check_fails_when_every_version_was_deleted(ws: Any) -> None:
    assert ws.topology.bucket_name("assets")  # builds the topology
    ws.inject(faults.DeleteObjects(bucket="assets", prefix="seed/", fraction=0.25, versions=True))
    resolve_runbook("undelete-objects")(ws.topology, ws.clock)
    [result] = ws.verify_restores()
    assert not result.passed
    assert result.items_expected == 5 and result.items_matched == 0
    assert "5 of the 5 items" in result.reasons()[0]


def test_a_backup_restore_check_fails_in_place_and_on_wrong_objects(ws: Any) -> None:
    s3 = ws.client("s3")
    bucket = ws.topology.bucket_name("assets")
    expected = {o["Key"]: o["ETag"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    now = ws.clock.now()
    record_restore(ws.topology, kind="s3-backup", store="s3", region=ws.topology.primary_region, source=bucket,
                   target=bucket, restore_time=now, started=now, completed=now, expected=expected)
    s3.create_bucket(Bucket="assets-restored")
    s3.put_object(Bucket="assets-restored", Key="seed/00000.json", Body=b"another body")
    s3.put_object(Bucket="assets-restored", Key="stray", Body=b"x")
    record_restore(ws.topology, kind="s3-backup-pitr", store="s3", region=ws.topology.primary_region, source=bucket,
                   target="assets-restored", restore_time=now, started=now, completed=now, expected=expected)
    in_place, wrong = ws.verify_restores()
    assert not in_place.passed and "restored in place" in in_place.reasons()[0]
    assert not wrong.passed
    assert (wrong.items_matched, wrong.unexpected_items) == (0, 1)
    assert wrong.unexpected_keys == ["stray"]


def test_an_aws_backup_restore_into_a_new_bucket_passes_the_check(ws: Any) -> None:
    s3, backup = ws.client("s3"), ws.client("backup")
    bucket = ws.topology.bucket_name("assets")
    region = ws.topology.primary_region
    backup.create_backup_vault(BackupVaultName="s3-check")
    role = "arn:aws:iam::123456789012:role/backup"
    started = backup.start_backup_job(BackupVaultName="s3-check", ResourceArn=f"arn:aws:s3:::{bucket}", IamRoleArn=role)
    ws.clock.sleep("1h")
    taken = backup.describe_backup_job(BackupJobId=started["BackupJobId"])
    assert taken["State"] == "COMPLETED", taken.get("StatusMessage")
    expected = {o["Key"]: o["ETag"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    ws.inject(faults.DeleteObjects(bucket="assets", fraction=1.0, versions=True))  # nothing left in the bucket

    target = f"{bucket}-restored"
    begun = ws.clock.now()
    job = backup.start_restore_job(RecoveryPointArn=started["RecoveryPointArn"], IamRoleArn=role,
                                   Metadata={"DestinationBucketName": target, "NewBucket": "true"})["RestoreJobId"]
    ws.clock.sleep("2h")
    assert backup.describe_restore_job(RestoreJobId=job)["Status"] == "COMPLETED"
    record_restore(ws.topology, kind="s3-backup", store="s3", region=region, source=bucket, target=target,
                   restore_time=ws.clock.seconds_at(taken["CreationDate"]), started=begun, completed=ws.clock.now(),
                   expected=expected)
    [result] = ws.verify_restores()
    assert result.passed, result.story()
    assert result.items_expected == len(expected) == 20


@pytest.mark.parametrize("kind", ["s3-backup", "s3-backup-pitr"])
def test_scenario_s3_restore_checks_restore_into_a_new_bucket_and_pass(ws: Any, kind: str) -> None:
    check = RestoreCheck(kind, kind, "orders", 600.0, ProbeSettings(60.0, 1, 5.0), 2 * 3600.0, "assets")
    [result] = ws.run_restore_checks([check])
    assert result.passed, result.story()
    assert result.kind == kind and result.items_expected == 20
    assert result.target.startswith(ws.topology.bucket_name("assets") + "-restored-")
    assert result.target != result.source


def test_a_continuous_backup_that_does_not_reach_back_is_a_config_error(ws: Any) -> None:
    check = RestoreCheck("early", "s3-backup-pitr", "orders", 1800.0, ProbeSettings(60.0, 1, 5.0), 2400.0, "assets")
    with pytest.raises(DrConfigError, match="does not reach back to the restore time"):
        ws.run_restore_checks([check])


def test_scenario_files_name_a_blueprint_bucket_for_the_s3_kinds(tmp_path: Any) -> None:
    path = tmp_path / "s3.toml"
    path.write_text('name = "x"\nstrategy = "warm-standby"\n[[restore_checks]]\nkind = "s3-backup-pitr"\nage = "10m"\n'
                    'steady_state = "2h"\n[[restore_checks]]\nkind = "s3-backup"\nbucket = "assets"\nname = "snap"\nage = "1m"\n')
    first, second = load_scenario(path).restore_checks
    assert (first.kind, first.bucket, second.bucket) == ("s3-backup-pitr", "assets", "assets")
    path.write_text('name = "x"\nstrategy = "warm-standby"\n[[restore_checks]]\nkind = "s3-backup"\nbucket = "logs"\n')
    with pytest.raises(DrConfigError, match="unknown bucket 'logs'") as info:
        load_scenario(path)
    assert "restore_checks[0].bucket" in str(info.value)


LEAN = 'name = "lean"\n[compute]\ncapacity = 3\n[[tables]]\nname = "orders"\nseed_items = 20\n[[buckets]]\nname = "assets"\nseed_objects = 6\n'
GAME_DAY = """
name = "objects"
strategy = "warm-standby"
blueprint = "lean.toml"
steady_state = "1m"
probe = { interval = "5s", recovered_after = 3, timeout = "2h" }
objectives = { rto = "10m", rpo = "5m" }

[[experiments]]
name = "deleted-assets"
fault = { kind = "delete-objects", bucket = "assets", fraction = 0.5 }
runbook = "undelete-objects"
"""


def test_a_scenario_experiment_recovers_by_undelete_and_measures_the_rto(tmp_path: Any) -> None:
    (tmp_path / "lean.toml").write_text(LEAN, encoding="utf-8")
    path = tmp_path / "objects.toml"
    path.write_text(GAME_DAY, encoding="utf-8")
    scenario = load_scenario(path)
    with Harness(Settings(), test="objects::deleted-assets", scenario=scenario) as dr:
        record = dr.run_experiment(scenario.experiments[0])
        assert record.passed
        assert record.result.rto_s is not None and record.result.rto_s < 60
        assert [m.kind for m in record.result.milestones if m.kind == "objects-recovered"] == ["objects-recovered"]
        [restore] = dr.restore_results
        assert restore.kind == "s3-versioning" and restore.passed and restore.items_expected == 3


def test_copy_back_from_replica_recovers_objects_deleted_with_every_version(ws: Any) -> None:
    # deletes by version id are not replicated [S3-UG:replication-what-is-isnot-replicated]: the replica still has them
    s3 = ws.client("s3")
    bucket = ws.topology.bucket_name("assets")
    ws.clock.sleep("2m")  # the seed objects reach the replica
    fault = ws.inject(faults.DeleteObjects(bucket="assets", prefix="seed/", fraction=0.25, versions=True))
    assert not {o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]} & set(fault.deleted)
    resolve_runbook("copy-back-from-replica")(ws.topology, ws.clock)
    restored = {o["Key"]: o["ETag"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert {k: restored.get(k) for k in fault.deleted} == fault.etags
    [result] = ws.verify_restores()
    assert result.passed, result.story()
    assert (result.kind, result.items_expected, result.items_matched) == ("s3-replica-copy", 5, 5)
    assert (result.source, result.target) == (ws.topology.bucket_name("assets", "dr"), bucket)
    assert "objects-recovered" in [m.kind for m in ws.timeline.events]


def test_copy_back_from_replica_reads_the_version_before_the_replicated_delete_markers(ws: Any) -> None:
    bucket = ws.topology.bucket_name("assets")
    ws.clock.sleep("2m")
    fault = ws.inject(faults.DeleteObjects(bucket="assets", prefix="seed/", fraction=0.5))
    ws.clock.sleep("5m")  # the delete markers reach the replica too (the topology's rule replicates them)
    replica = ws.topology.bucket_name("assets", "dr")
    replica_keys = {o["Key"] for o in ws.client("s3", "dr").list_objects_v2(Bucket=replica)["Contents"]}
    assert not replica_keys & set(fault.deleted)
    resolve_runbook("copy-back-from-replica")(ws.topology, ws.clock)
    [result] = ws.verify_restores()
    assert result.passed, result.story()
    assert result.items_matched == len(fault.deleted) == 10
    assert ws.client("s3").head_object(Bucket=bucket, Key=fault.deleted[0])["ETag"] == fault.etags[fault.deleted[0]]
    # an object that differs from what it was before the fault fails the check
    ws.client("s3").put_object(Bucket=bucket, Key=fault.deleted[0], Body=b"overwritten after the copy back")
    [again] = ws.verify_restores()
    assert not again.passed and again.missing_keys == [fault.deleted[0]]


def test_the_replica_copy_check_fails_for_objects_that_never_reached_the_replica(ws: Any) -> None:
    s3 = ws.client("s3")
    bucket = ws.topology.bucket_name("assets")
    ws.clock.sleep("2m")
    s3.put_object(Bucket=bucket, Key="seed/fresh.json", Body=b"written just before the fault")  # not yet replicated
    ws.clock.sleep(0.5)  # the replication lag is 1 s at least
    fault = ws.inject(faults.DeleteObjects(bucket="assets", prefix="seed/fresh", versions=True))
    assert fault.deleted == ["seed/fresh.json"]
    resolve_runbook("copy-back-from-replica")(ws.topology, ws.clock)
    [result] = ws.verify_restores()
    assert not result.passed
    assert result.missing_keys == ["seed/fresh.json"]
    assert "1 of the 1 items" in result.reasons()[0]
    assert "1 not in the replica" in next(m.detail for m in ws.timeline.events if m.kind == "objects-recovered")
    # deleted by a plain delete before it was replicated: the version and then the marker reach the replica,
    # both made there after the fault; the source's history names the version, found in the replica by its id
    s3.put_object(Bucket=bucket, Key="seed/fresh-2.json", Body=b"also just before the fault")
    ws.clock.sleep(0.5)  # the replication lag is 1 s at least
    plain = ws.inject(faults.DeleteObjects(bucket="assets", prefix="seed/fresh-2"))
    ws.clock.sleep("2m")
    resolve_runbook("copy-back-from-replica")(ws.topology, ws.clock)
    lost, found = ws.verify_restores()
    assert not lost.passed and found.passed, found.story()
    assert s3.head_object(Bucket=bucket, Key="seed/fresh-2.json")["ETag"] == plain.etags["seed/fresh-2.json"]


def test_restore_bucket_from_backup_restores_the_recovery_point_before_the_fault_into_a_new_bucket() -> None:
    runbook = resolve_runbook("restore-bucket-from-backup")
    with Harness(Settings(), strategy="backup-restore") as br:
        bucket = br.topology.bucket_name("assets")
        runbook.prepare(br.topology, br.clock)  # type: ignore[attr-defined]
        br.clock.sleep("5h")  # the plan's rule (every 4 h) backs the bucket up
        br.client("s3").put_object(Bucket=bucket, Key="late/after-backup.json", Body=b"not in the recovery point")
        seeds = br.inject(faults.DeleteObjects(bucket="assets", prefix="seed/", fraction=0.5, versions=True))
        runbook(br.topology, br.clock)
        br.inject(faults.DeleteObjects(bucket="assets", prefix="late/"))
        runbook(br.topology, br.clock)
        restored, late = br.verify_restores()
        assert restored.passed, restored.story()
        assert restored.kind == "s3-backup" and restored.target.startswith(f"{bucket}-restored-")
        assert restored.items_expected == len(seeds.deleted) == 10
        assert restored.unexpected_items == 0  # the objects the fault did not delete are not compared
        assert not late.passed and late.missing_keys == ["late/after-backup.json"]  # written after the recovery point
        assert late.target != restored.target
        assert "recovery-point-chosen" in [m.kind for m in br.timeline.events]


def test_without_a_recovery_point_before_the_fault_or_a_replica_the_s3_runbooks_fail() -> None:
    runbook = resolve_runbook("restore-bucket-from-backup")
    with Harness(Settings(), strategy="backup-restore") as br:
        assert br.topology.bucket_name("assets")
        runbook.prepare(br.topology, br.clock)  # type: ignore[attr-defined]
        br.inject(faults.DeleteObjects(bucket="assets", fraction=0.5))
        with pytest.raises(RunbookFailed, match="no recovery point of .* made before the deletion"):
            runbook(br.topology, br.clock)
        with pytest.raises(RunbookFailed, match="no Cross-Region Replication replica"):  # backup & restore replicates nothing
            resolve_runbook("copy-back-from-replica")(br.topology, br.clock)


def test_restore_bucket_from_backup_needs_the_topologys_backup_plan(ws: Any) -> None:
    with pytest.raises(RunbookFailed, match="needs the topology's AWS Backup plan"):
        resolve_runbook("restore-bucket-from-backup").prepare(ws.topology, ws.clock)  # type: ignore[attr-defined]


@pytest.mark.parametrize(("name", "runbook"), [
    ("warm-standby", "copy-back-from-replica"), ("pilot-light", "copy-back-from-replica"),
    ("active-active", "copy-back-from-replica"), ("backup-restore", "restore-bucket-from-backup"),
])
def test_every_shipped_scenario_has_a_short_delete_objects_experiment(name: str, runbook: str) -> None:
    scenario = load_scenario(shipped_scenarios()[name])
    [experiment] = [e for e in scenario.experiments if e.fault.kind == "delete-objects"]
    assert experiment.runbook == runbook and resolve_runbook(experiment.runbook) is RUNBOOKS[runbook]
    assert experiment.probe.interval >= 30 and experiment.objectives.rpo == 0
