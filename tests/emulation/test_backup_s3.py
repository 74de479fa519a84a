"""AWS Backup for S3: snapshot and continuous backups of a versioned bucket, restores into a NEW bucket."""
from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError

from pytest_drtest.emulation.backup import BackupEmulator
from pytest_drtest.emulation.s3 import S3Emulator

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/backup"
BUCKET = "docs"
BUCKET_ARN = f"arn:aws:s3:::{BUCKET}"
JOB, RESTORE = 600.0, 1800.0


@dataclass
class Env:
    env: Any
    emulator: BackupEmulator
    backup: Any
    s3: Any

    def sleep(self, seconds: float) -> None:
        self.env.clock.sleep(seconds)

    def objects(self, bucket: str) -> dict[str, bytes]:
        listed = self.s3.list_objects_v2(Bucket=bucket).get("Contents", [])
        return {o["Key"]: self.s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in listed}

    def backup_now(self) -> str:
        answer = self.backup.start_backup_job(BackupVaultName="primary", ResourceArn=BUCKET_ARN, IamRoleArn=ROLE)
        self.sleep(JOB + 1)
        job = self.backup.describe_backup_job(BackupJobId=answer["BackupJobId"])
        assert job["State"] == "COMPLETED", job.get("StatusMessage")
        return str(answer["RecoveryPointArn"])

    def restore(self, arn: str, **metadata: str) -> dict[str, Any]:
        job_id = self.backup.start_restore_job(RecoveryPointArn=arn, IamRoleArn=ROLE, Metadata=metadata)["RestoreJobId"]
        self.sleep(RESTORE + 1)
        return dict(self.backup.describe_restore_job(RestoreJobId=job_id))

    def continuous_plan(self, days: int = 35) -> str:
        rule = {"RuleName": "pitr", "TargetBackupVaultName": "primary", "ScheduleExpression": "cron(0 * ? * * *)",
                "EnableContinuousBackup": True, "Lifecycle": {"DeleteAfterDays": days}}
        plan_id = self.backup.create_backup_plan(BackupPlan={"BackupPlanName": "docs", "Rules": [rule]})["BackupPlanId"]
        self.backup.create_backup_selection(BackupPlanId=plan_id, BackupSelection={
            "SelectionName": "docs", "IamRoleArn": ROLE, "Resources": [BUCKET_ARN]})
        return str(plan_id)


@pytest.fixture
def bk(emu_env: Any) -> Iterator[Env]:
    emu_env.emulation.add(S3Emulator(emu_env.emulation))
    emulator = emu_env.emulation.add(BackupEmulator(emu_env.emulation))
    emu_env.profile.override("backup_s3_job_time", JOB, origin="test")
    emu_env.profile.override("backup_s3_restore_time", RESTORE, origin="test")
    s3 = emu_env.client("s3", "us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    for key in ("a", "b"):
        s3.put_object(Bucket=BUCKET, Key=key, Body=f"{key}-1".encode(), ContentType="text/plain")
    backup = emu_env.client("backup", "us-east-1")
    backup.create_backup_vault(BackupVaultName="primary")
    yield Env(emu_env, emulator, backup, s3)


def error_code(info: pytest.ExceptionInfo[ClientError]) -> str:
    return str(info.value.response["Error"]["Code"])


def test_a_snapshot_backup_restores_into_a_new_bucket_as_of_the_backup(bk: Env, answers_in_shape: Any) -> None:
    answers_in_shape("backup")
    arn = bk.backup_now()
    point = bk.backup.describe_recovery_point(BackupVaultName="primary", RecoveryPointArn=arn)
    assert (point["ResourceType"], point["Status"], point["ResourceArn"]) == ("S3", "AVAILABLE", BUCKET_ARN)
    bk.s3.put_object(Bucket=BUCKET, Key="c", Body=b"c-1")  # after the backup
    bk.s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": "a"}, {"Key": "b"}]})

    job = bk.restore(arn, DestinationBucketName="docs-restored", NewBucket="true")

    assert job["Status"] == "COMPLETED" and job["ResourceType"] == "S3"
    assert job["CreatedResourceArn"] == "arn:aws:s3:::docs-restored"
    assert bk.objects("docs-restored") == {"a": b"a-1", "b": b"b-1"}
    assert bk.s3.head_object(Bucket="docs-restored", Key="a")["ContentType"] == "text/plain"
    assert bk.objects(BUCKET) == {"c": b"c-1"}  # the source is not touched


def test_a_restore_runs_for_its_modeled_time(bk: Env) -> None:
    arn = bk.backup_now()
    job_id = bk.backup.start_restore_job(RecoveryPointArn=arn, IamRoleArn=ROLE, Metadata={
        "DestinationBucketName": "later", "NewBucket": "true"})["RestoreJobId"]
    bk.sleep(RESTORE - 1)
    assert bk.backup.describe_restore_job(RestoreJobId=job_id)["Status"] == "RUNNING"
    with pytest.raises(ClientError):
        bk.s3.head_bucket(Bucket="later")
    bk.sleep(2)
    assert bk.backup.describe_restore_job(RestoreJobId=job_id)["Status"] == "COMPLETED"


def test_continuous_backup_restores_to_any_second_of_its_window(bk: Env, answers_in_shape: Any) -> None:
    answers_in_shape("backup")
    bk.continuous_plan()
    bk.sleep(3600 + JOB + 1)  # the rule's first run: the full backup of the continuous point
    [point] = bk.backup.list_recovery_points_by_backup_vault(BackupVaultName="primary")["RecoveryPoints"]
    arn = point["RecoveryPointArn"]
    assert ":recovery-point:continuous:" in arn and point["Status"] == "AVAILABLE"
    bk.sleep(60)
    bk.s3.put_object(Bucket=BUCKET, Key="a", Body=b"a-2")
    bk.s3.put_object(Bucket=BUCKET, Key="c", Body=b"c-1")
    bk.sleep(60)
    as_of = bk.env.clock.datetime().replace(microsecond=0)
    bk.sleep(60)
    bk.s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": "a"}, {"Key": "b"}, {"Key": "c"}]})
    bk.s3.put_object(Bucket=BUCKET, Key="d", Body=b"d-1")

    job = bk.restore(arn, DestinationBucketName="docs-pitr", NewBucket="true", RestoreTime=as_of.isoformat())
    assert job["Status"] == "COMPLETED", job.get("StatusMessage")
    assert bk.objects("docs-pitr") == {"a": b"a-2", "b": b"b-1", "c": b"c-1"}

    # the next runs of the rule update the same point instead of making new ones
    bk.sleep(3600)
    assert len(bk.backup.list_recovery_points_by_backup_vault(BackupVaultName="primary")["RecoveryPoints"]) == 1
    latest = bk.restore(arn, DestinationBucketName="docs-now", NewBucket="true",
                        RestoreTime=bk.env.clock.datetime().replace(microsecond=0).isoformat())
    assert latest["Status"] == "COMPLETED"
    assert bk.objects("docs-now") == {"d": b"d-1"}


def test_restore_time_outside_the_window_or_on_a_snapshot_is_refused(bk: Env) -> None:
    bk.continuous_plan(days=1)
    bk.sleep(3600 + JOB + 1)
    [point] = bk.backup.list_recovery_points_by_backup_vault(BackupVaultName="primary")["RecoveryPoints"]
    before = bk.env.clock.datetime(0).isoformat()  # before the full backup
    with pytest.raises(ClientError) as early:
        bk.backup.start_restore_job(RecoveryPointArn=point["RecoveryPointArn"], IamRoleArn=ROLE, Metadata={
            "DestinationBucketName": "x", "NewBucket": "true", "RestoreTime": before})
    assert error_code(early) == "InvalidParameterValueException"
    assert "outside the restorable window" in str(early.value)
    bk.sleep(2 * 86400)  # a one-day retention: the window slides
    with pytest.raises(ClientError) as old:
        bk.backup.start_restore_job(RecoveryPointArn=point["RecoveryPointArn"], IamRoleArn=ROLE, Metadata={
            "DestinationBucketName": "x", "NewBucket": "true",
            "RestoreTime": bk.env.clock.datetime(bk.env.clock.now() - 1.5 * 86400).isoformat()})
    assert error_code(old) == "InvalidParameterValueException"

    snapshot = bk.backup_now()
    with pytest.raises(ClientError) as not_continuous:
        bk.backup.start_restore_job(RecoveryPointArn=snapshot, IamRoleArn=ROLE, Metadata={
            "DestinationBucketName": "x", "NewBucket": "true", "RestoreTime": bk.env.clock.datetime().isoformat()})
    assert error_code(not_continuous) == "InvalidParameterValueException"


def test_continuous_retention_is_1_to_35_days(bk: Env) -> None:
    with pytest.raises(ClientError) as info:
        bk.continuous_plan(days=36)
    assert error_code(info) == "InvalidParameterValueException"
    assert "1 to 35 days" in str(info.value)


def test_a_restore_into_an_existing_bucket_keeps_its_objects(bk: Env) -> None:
    arn = bk.backup_now()
    bk.s3.create_bucket(Bucket="target")
    bk.s3.put_object(Bucket="target", Key="a", Body=b"theirs")
    job = bk.restore(arn, DestinationBucketName="target", NewBucket="false")
    assert job["Status"] == "COMPLETED"
    assert bk.objects("target") == {"a": b"theirs", "b": b"b-1"}  # not destructive: "a" was skipped
    restored = bk.emulator.s3_restore(job["RestoreJobId"])
    assert restored is not None and (restored["restored"], restored["skipped"]) == (["b"], ["a"])


def test_new_bucket_that_exists_fails_the_job(bk: Env) -> None:
    arn = bk.backup_now()
    bk.s3.create_bucket(Bucket="taken")
    job = bk.restore(arn, DestinationBucketName="taken", NewBucket="true")
    assert job["Status"] == "FAILED" and "already exists" in job["StatusMessage"]


def test_item_level_restore_and_metadata_errors(bk: Env) -> None:
    arn = bk.backup_now()
    job = bk.restore(arn, DestinationBucketName="one", NewBucket="true", ItemsToRestore=json.dumps([f"s3://{BUCKET}/b"]))
    assert job["Status"] == "COMPLETED" and bk.objects("one") == {"b": b"b-1"}
    with pytest.raises(ClientError) as missing:
        bk.backup.start_restore_job(RecoveryPointArn=arn, IamRoleArn=ROLE, Metadata={"NewBucket": "true"})
    assert error_code(missing) == "MissingParameterValueException"
    with pytest.raises(ClientError) as bad:
        bk.backup.start_restore_job(RecoveryPointArn=arn, IamRoleArn=ROLE, Metadata={
            "DestinationBucketName": "x", "NewBucket": "yes"})
    assert error_code(bad) == "InvalidParameterValueException"


def test_an_unversioned_bucket_cannot_be_backed_up(bk: Env) -> None:
    bk.s3.create_bucket(Bucket="plain")
    job_id = bk.backup.start_backup_job(BackupVaultName="primary", ResourceArn="arn:aws:s3:::plain",
                                        IamRoleArn=ROLE)["BackupJobId"]
    bk.sleep(1)
    job = bk.backup.describe_backup_job(BackupJobId=job_id)
    assert job["State"] == "FAILED" and "versioning" in job["StatusMessage"]


def test_restore_metadata_names_the_bucket(bk: Env) -> None:
    arn = bk.backup_now()
    metadata = bk.backup.get_recovery_point_restore_metadata(BackupVaultName="primary", RecoveryPointArn=arn)
    assert metadata["ResourceType"] == "S3"
    assert metadata["RestoreMetadata"]["DestinationBucketName"] == BUCKET
