"""AWS Backup emulation: schedules, jobs, recovery points, copies and restores.

Real moto holds the vaults, plans and DynamoDB tables; the emulator runs everything else on the
virtual clock. Job, copy and restore times are pinned with profile overrides so times are exact.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError

from pytest_drtest.durations import parse_duration
from pytest_drtest.emulation.backup import BackupEmulator, BackupSchedule
from pytest_drtest.emulation.dynamodb import DynamoDbEmulator

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/backup"
TABLE_ARN = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/orders"
PRIMARY_VAULT_ARN = f"arn:aws:backup:us-east-1:{ACCOUNT}:backup-vault:primary"
DR_VAULT_ARN = f"arn:aws:backup:us-west-2:{ACCOUNT}:backup-vault:dr"
HOURLY = "cron(0 * ? * * *)"
SEED_ITEMS = [{"pk": {"S": f"order-{i}"}, "total": {"N": str(10 * i)}} for i in range(3)]


@dataclass
class BackupEnv:
    """The emulator, clients of both regions, a seeded ``orders`` table and two vaults."""

    env: Any
    emulator: BackupEmulator
    backup: Any  # us-east-1
    dr_backup: Any  # us-west-2
    dynamodb: Any  # us-east-1

    def at(self, offset: str) -> dt.datetime:
        """The clock datetime ``offset`` after the clock's start."""
        return self.env.clock.epoch + dt.timedelta(seconds=parse_duration(offset))

    def sleep_until(self, offset: str) -> None:
        self.env.clock.sleep(parse_duration(offset) - self.env.clock.now())

    def plan_with_selection(self, schedule: str = HOURLY, *, copy_to_dr: bool = True) -> str:
        rule: dict[str, Any] = {"RuleName": "hourly", "TargetBackupVaultName": "primary", "ScheduleExpression": schedule}
        if copy_to_dr:
            rule["CopyActions"] = [{"DestinationBackupVaultArn": DR_VAULT_ARN}]
        plan_id = self.backup.create_backup_plan(BackupPlan={"BackupPlanName": "orders-plan", "Rules": [rule]})["BackupPlanId"]
        self.backup.create_backup_selection(
            BackupPlanId=plan_id,
            BackupSelection={"SelectionName": "orders", "IamRoleArn": ROLE, "Resources": [TABLE_ARN]},
        )
        return str(plan_id)

    def start_backup(self, **extra: Any) -> dict[str, Any]:
        return dict(self.backup.start_backup_job(BackupVaultName="primary", ResourceArn=TABLE_ARN, IamRoleArn=ROLE, **extra))

    def describe_job(self, job_id: str) -> dict[str, Any]:
        return dict(self.backup.describe_backup_job(BackupJobId=job_id))


@pytest.fixture
def bk(emu_env: Any) -> Iterator[BackupEnv]:
    emulator = emu_env.emulation.add(BackupEmulator(emu_env.emulation))
    for key, value in (("backup_job_time", "10m"), ("backup_copy_time", "20m"), ("backup_restore_time", "30m")):
        emu_env.profile.override(key, value, origin="test")
    dynamodb = emu_env.client("dynamodb", "us-east-1")
    dynamodb.create_table(
        TableName="orders",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    for item in SEED_ITEMS:
        dynamodb.put_item(TableName="orders", Item=item)
    backup, dr_backup = emu_env.client("backup", "us-east-1"), emu_env.client("backup", "us-west-2")
    backup.create_backup_vault(BackupVaultName="primary")
    dr_backup.create_backup_vault(BackupVaultName="dr")
    yield BackupEnv(emu_env, emulator, backup, dr_backup, dynamodb)


def error_code(info: pytest.ExceptionInfo[ClientError]) -> str:
    return str(info.value.response["Error"]["Code"])


def test_vault_and_plan_dates_are_clock_datetimes(bk: BackupEnv) -> None:
    bk.env.clock.sleep("1h")
    bk.backup.create_backup_vault(BackupVaultName="later")
    plan_id = bk.backup.create_backup_plan(BackupPlan={"BackupPlanName": "p", "Rules": [{"RuleName": "r", "TargetBackupVaultName": "later"}]})["BackupPlanId"]

    vault = bk.backup.describe_backup_vault(BackupVaultName="later")
    assert vault["CreationDate"] == bk.at("1h")
    assert vault["NumberOfRecoveryPoints"] == 0
    plan = bk.backup.get_backup_plan(BackupPlanId=plan_id)
    assert plan["CreationDate"] == bk.at("1h")
    assert plan["BackupPlan"]["Rules"][0]["ScheduleExpression"] == "cron(0 5 ? * * *)"  # the model's default


def test_hourly_rule_backs_up_the_selected_table_every_hour(bk: BackupEnv) -> None:
    plan_id = bk.plan_with_selection(copy_to_dr=False)

    bk.sleep_until("3h10m")

    points = bk.emulator.recovery_points("us-east-1", "primary")
    assert [p["CreationDate"] for p in points] == [bk.at("1h"), bk.at("2h"), bk.at("3h")]
    assert [p["CompletionDate"] for p in points] == [bk.at("1h10m"), bk.at("2h10m"), bk.at("3h10m")]
    assert {p["Status"] for p in points} == {"AVAILABLE"}
    assert {p["ResourceArn"] for p in points} == {TABLE_ARN}
    assert all(p["ItemCount"] == 3 and p["ResourceType"] == "DynamoDB" for p in points)
    jobs = bk.backup.list_backup_jobs(ByState="COMPLETED")["BackupJobs"]
    assert len(jobs) == 3
    assert {job["CreatedBy"]["BackupPlanId"] for job in jobs} == {plan_id}
    listed = bk.backup.list_recovery_points_by_backup_vault(BackupVaultName="primary")["RecoveryPoints"]
    assert [p["CreationDate"] for p in listed] == [bk.at("3h"), bk.at("2h"), bk.at("1h")]  # newest first
    by_resource = bk.backup.list_recovery_points_by_resource(ResourceArn=TABLE_ARN)["RecoveryPoints"]
    assert [p["BackupVaultName"] for p in by_resource] == ["primary"] * 3
    assert bk.backup.describe_backup_vault(BackupVaultName="primary")["NumberOfRecoveryPoints"] == 3
    assert bk.backup.get_backup_plan(BackupPlanId=plan_id)["LastExecutionDate"] == bk.at("3h")


def test_copy_reaches_the_dr_vault_copy_time_after_the_backup_completes(bk: BackupEnv) -> None:
    bk.plan_with_selection()

    bk.sleep_until("1h29m59s")  # backup done at 1h10m, copy takes 20m
    assert bk.emulator.recovery_points("us-west-2", "dr") == []
    (copy_job,) = bk.backup.list_copy_jobs()["CopyJobs"]
    assert copy_job["State"] == "RUNNING"

    bk.env.clock.sleep("1s")
    (backup_job,) = bk.emulator.jobs()
    copy_job = bk.backup.describe_copy_job(CopyJobId=copy_job["CopyJobId"])["CopyJob"]
    assert copy_job["State"] == "COMPLETED"
    assert copy_job["CreationDate"] == bk.at("1h10m")
    assert copy_job["CompletionDate"] == bk.at("1h30m")
    assert copy_job["CreatedByBackupJobId"] == backup_job["BackupJobId"]
    assert copy_job["SourceRecoveryPointArn"] == backup_job["RecoveryPointArn"]
    assert copy_job["DestinationBackupVaultArn"] == DR_VAULT_ARN
    (copied,) = bk.dr_backup.list_recovery_points_by_backup_vault(BackupVaultName="dr")["RecoveryPoints"]
    assert copied["RecoveryPointArn"] == copy_job["DestinationRecoveryPointArn"]
    assert copied["SourceBackupVaultArn"] == PRIMARY_VAULT_ARN
    assert copied["CreationDate"] == bk.at("1h")  # copies keep the source's creation date
    assert copied["Status"] == "AVAILABLE"
    latest = bk.emulator.latest_recovery_point("us-west-2", "dr")
    assert latest is not None and latest["SourceRecoveryPointArn"] == backup_job["RecoveryPointArn"]

    bk.sleep_until("3h10m")
    assert len(bk.emulator.recovery_points("us-east-1", "primary")) == 3
    assert [p["CompletionDate"] for p in bk.emulator.recovery_points("us-west-2", "dr")] == [bk.at("1h30m"), bk.at("2h30m")]


def test_backup_job_goes_created_running_completed(bk: BackupEnv) -> None:
    started = bk.start_backup()
    job_id = started["BackupJobId"]
    assert started["CreationDate"] == bk.at("0s")
    assert bk.describe_job(job_id)["State"] == "CREATED"

    bk.env.clock.sleep(0)
    running = bk.describe_job(job_id)
    assert running["State"] == "RUNNING"
    assert running["ExpectedCompletionDate"] == bk.at("10m")
    point = bk.backup.describe_recovery_point(BackupVaultName="primary", RecoveryPointArn=started["RecoveryPointArn"])
    assert point["Status"] == "CREATING"

    bk.env.clock.sleep("10m")
    done = bk.describe_job(job_id)
    assert (done["State"], done["CompletionDate"], done["PercentDone"]) == ("COMPLETED", bk.at("10m"), "100.0")
    assert done["StartBy"] == bk.at("8h")  # default start window 480 min
    point = bk.backup.describe_recovery_point(BackupVaultName="primary", RecoveryPointArn=started["RecoveryPointArn"])
    assert (point["Status"], point["CreationDate"], point["CompletionDate"]) == ("AVAILABLE", bk.at("0s"), bk.at("10m"))
    assert bk.emulator.copy_jobs() == []  # an on-demand job has no copy actions


def test_restore_creates_a_new_table_with_exactly_the_snapshot(bk: BackupEnv) -> None:
    arn = bk.start_backup()["RecoveryPointArn"]
    bk.env.clock.sleep(0)  # the job starts: the table is read now
    late = {"pk": {"S": "late"}, "total": {"N": "1"}}
    bk.dynamodb.put_item(TableName="orders", Item=late)
    bk.env.clock.sleep("10m")

    metadata = bk.backup.get_recovery_point_restore_metadata(BackupVaultName="primary", RecoveryPointArn=arn)
    assert metadata["RestoreMetadata"]["targetTableName"] == "orders"
    job_id = bk.backup.start_restore_job(RecoveryPointArn=arn, Metadata={"targetTableName": "orders-restored"}, IamRoleArn=ROLE)["RestoreJobId"]
    assert bk.backup.describe_restore_job(RestoreJobId=job_id)["Status"] == "PENDING"
    bk.env.clock.sleep(0)
    assert bk.backup.describe_restore_job(RestoreJobId=job_id)["Status"] == "RUNNING"
    with pytest.raises(ClientError):
        bk.dynamodb.describe_table(TableName="orders-restored")

    bk.env.clock.sleep("30m")
    job = bk.backup.describe_restore_job(RestoreJobId=job_id)
    assert (job["Status"], job["CompletionDate"]) == ("COMPLETED", bk.at("40m"))
    assert job["CreatedResourceArn"] == f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/orders-restored"
    assert job["RecoveryPointCreationDate"] == bk.at("0s")
    restored = bk.dynamodb.scan(TableName="orders-restored")["Items"]
    assert sorted(i["pk"]["S"] for i in restored) == ["order-0", "order-1", "order-2"]
    assert len(bk.dynamodb.scan(TableName="orders")["Items"]) == 4  # the source is untouched
    key_schema = bk.dynamodb.describe_table(TableName="orders-restored")["Table"]["KeySchema"]
    assert key_schema == [{"AttributeName": "pk", "KeyType": "HASH"}]


def test_restore_items_enter_the_dynamodb_emulators_history(bk: BackupEnv) -> None:
    dynamodb_emulator = bk.env.emulation.add(DynamoDbEmulator(bk.env.emulation))
    arn = bk.start_backup()["RecoveryPointArn"]
    bk.env.clock.sleep("10m")
    bk.backup.start_restore_job(RecoveryPointArn=arn, Metadata={"targetTableName": "orders-restored"})
    bk.env.clock.sleep("30m")

    restored = dynamodb_emulator.items_as_of("us-east-1", "orders-restored", bk.env.clock.now())
    assert sorted(i["pk"]["S"] for i in restored) == ["order-0", "order-1", "order-2"]


def test_restore_into_an_existing_table_fails(bk: BackupEnv) -> None:
    arn = bk.start_backup()["RecoveryPointArn"]
    bk.env.clock.sleep("10m")

    job_id = bk.backup.start_restore_job(RecoveryPointArn=arn, Metadata={"targetTableName": "orders"})["RestoreJobId"]
    bk.env.clock.sleep("30m")

    job = bk.backup.describe_restore_job(RestoreJobId=job_id)
    assert (job["Status"], job["StatusMessage"]) == ("FAILED", "Table already exists: orders")
    assert "CreatedResourceArn" not in job
    assert bk.backup.list_restore_jobs(ByStatus="FAILED")["RestoreJobs"][0]["RestoreJobId"] == job_id


def test_unknown_recovery_point_is_resource_not_found(bk: BackupEnv) -> None:
    unknown = f"arn:aws:backup:us-east-1:{ACCOUNT}:recovery-point:00000000-0000-0000-0000-000000000000"
    with pytest.raises(ClientError) as restore:
        bk.backup.start_restore_job(RecoveryPointArn=unknown, Metadata={"targetTableName": "x"})
    with pytest.raises(ClientError) as describe:
        bk.backup.describe_recovery_point(BackupVaultName="primary", RecoveryPointArn=unknown)
    with pytest.raises(ClientError) as job:
        bk.backup.describe_backup_job(BackupJobId="NOPE")
    assert {error_code(restore), error_code(describe), error_code(job)} == {"ResourceNotFoundException"}


def test_region_lost_during_copy_fails_it_and_leaves_no_dr_recovery_point(bk: BackupEnv) -> None:
    bk.plan_with_selection()
    bk.sleep_until("1h15m")  # backup done at 1h10m, copy running until 1h30m
    bk.env.emulation.world.lose_region("us-west-2")

    bk.sleep_until("1h30m")
    (copy_job,) = bk.emulator.copy_jobs()
    assert (copy_job["State"], copy_job["CompletionDate"]) == ("FAILED", bk.at("1h30m"))
    assert "us-west-2" in copy_job["StatusMessage"]
    assert bk.emulator.recovery_points("us-west-2", "dr") == []
    assert len(bk.emulator.recovery_points("us-east-1", "primary")) == 1

    bk.env.emulation.world.restore_region("us-west-2")
    assert bk.dr_backup.list_recovery_points_by_backup_vault(BackupVaultName="dr")["RecoveryPoints"] == []


def test_region_lost_during_backup_fails_the_job_and_stops_schedules(bk: BackupEnv) -> None:
    bk.plan_with_selection()
    bk.sleep_until("1h5m")
    bk.env.emulation.world.lose_region("us-east-1")

    bk.sleep_until("2h30m")  # 02:00 falls while the region is lost: no job is created
    (job,) = bk.emulator.jobs()
    assert (job["State"], job["CompletionDate"]) == ("FAILED", bk.at("1h10m"))
    assert "never left the Region" in job["StatusMessage"]
    assert bk.emulator.recovery_points("us-east-1", "primary") == []
    assert bk.emulator.copy_jobs() == []

    bk.env.emulation.world.restore_region("us-east-1")
    bk.sleep_until("3h10m")
    assert [p["CreationDate"] for p in bk.emulator.recovery_points("us-east-1", "primary")] == [bk.at("3h")]


def test_start_backup_job_honours_the_idempotency_token(bk: BackupEnv) -> None:
    first = bk.start_backup(IdempotencyToken="nightly-1")
    bk.env.clock.sleep("1m")
    again = bk.start_backup(IdempotencyToken="nightly-1")
    other = bk.start_backup(IdempotencyToken="nightly-2")

    assert again["BackupJobId"] == first["BackupJobId"]
    assert again["CreationDate"] == first["CreationDate"] == bk.at("0s")
    assert other["BackupJobId"] != first["BackupJobId"]
    assert len(bk.emulator.jobs()) == 2


def test_unsupported_resources_fail_with_a_status_message(bk: BackupEnv) -> None:
    efs = f"arn:aws:elasticfilesystem:us-east-1:{ACCOUNT}:file-system/fs-1"
    job_id = bk.backup.start_backup_job(BackupVaultName="primary", ResourceArn=efs, IamRoleArn=ROLE)["BackupJobId"]
    bk.env.clock.sleep(0)

    job = bk.describe_job(job_id)
    assert (job["State"], job["ResourceType"]) == ("FAILED", "EFS")
    assert "DynamoDB tables and S3 buckets only" in job["StatusMessage"]
    assert [j["BackupJobId"] for j in bk.backup.list_backup_jobs(ByState="FAILED")["BackupJobs"]] == [job_id]
    assert bk.backup.list_backup_jobs(ByState="COMPLETED")["BackupJobs"] == []


@pytest.mark.parametrize(
    "expression",
    [
        "rate(1 hour)",  # not a cron expression
        "cron(0 5 * * *)",  # five fields
        "cron(0 5 * * ? * *)",  # seven fields
        "cron(0 5 1 * 2 *)",  # both day fields set: one must be '?'
        "cron(61 5 ? * * *)",  # minute out of range
        "cron(0 5 ? * 8 *)",  # days of week are 1-7
        "cron(H 5 ? * * *)",  # croniter's hash syntax is not AWS's
    ],
)
def test_invalid_cron_expressions_are_refused(bk: BackupEnv, expression: str) -> None:
    rule = {"RuleName": "r", "TargetBackupVaultName": "primary", "ScheduleExpression": expression}
    with pytest.raises(ClientError) as info:
        bk.backup.create_backup_plan(BackupPlan={"BackupPlanName": "bad", "Rules": [rule]})
    assert error_code(info) == "InvalidParameterValueException"


def test_schedules_more_frequent_than_hourly_are_refused(bk: BackupEnv) -> None:
    rule = {"RuleName": "r", "TargetBackupVaultName": "primary", "ScheduleExpression": "cron(0/10 * ? * * *)"}
    with pytest.raises(ClientError) as info:
        bk.backup.create_backup_plan(BackupPlan={"BackupPlanName": "bad", "Rules": [rule]})
    assert error_code(info) == "InvalidParameterValueException"
    assert "60 minutes" in info.value.response["Error"]["Message"]


def test_cron_uses_aws_day_numbers_and_the_rule_timezone() -> None:
    monday = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
    assert BackupSchedule.parse("cron(0 5 ? * 2 *)").next_after(monday) == monday.replace(hour=5)  # 2 = MON
    assert BackupSchedule.parse("cron(0 5 ? * 6L *)").next_after(monday).date() == dt.date(2026, 1, 30)  # last FRI
    assert BackupSchedule.parse("cron(0 5 ? * 2#2 *)").next_after(monday).date() == dt.date(2026, 1, 12)
    assert BackupSchedule.parse(None).next_after(monday) == monday.replace(hour=5)  # default cron(0 5 ? * * *)
    new_york = BackupSchedule.parse("cron(0 5 ? * * *)", "America/New_York")
    assert new_york.next_after(monday) == monday.replace(hour=10)


def test_selection_calls_and_their_errors(bk: BackupEnv) -> None:
    plan_id = bk.plan_with_selection(copy_to_dr=False)
    (listed,) = bk.backup.list_backup_selections(BackupPlanId=plan_id)["BackupSelectionsList"]
    got = bk.backup.get_backup_selection(BackupPlanId=plan_id, SelectionId=listed["SelectionId"])
    assert got["BackupSelection"]["Resources"] == [TABLE_ARN]
    assert got["CreationDate"] == bk.at("0s")

    def code(**kwargs: Any) -> str:
        selection = {"SelectionName": "s", "IamRoleArn": ROLE, "Resources": [TABLE_ARN]}
        selection.update(kwargs.pop("selection", {}))
        with pytest.raises(ClientError) as info:
            bk.backup.create_backup_selection(BackupPlanId=kwargs.pop("plan", plan_id), BackupSelection=selection)
        return error_code(info)

    assert code(plan="no-such-plan") == "InvalidParameterValueException"
    assert code(selection={"SelectionName": "orders"}) == "AlreadyExistsException"
    assert code(selection={"Resources": ["arn:aws:dynamodb:*:123456789012:table/orders"]}) == "InvalidParameterValueException"
    assert code(selection={"Resources": ["orders"]}) == "InvalidParameterValueException"
    with pytest.raises(ClientError) as missing:
        bk.backup.get_backup_selection(BackupPlanId=plan_id, SelectionId="no-such-selection")
    assert error_code(missing) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as in_use:
        bk.backup.delete_backup_plan(BackupPlanId=plan_id)
    assert error_code(in_use) == "InvalidRequestException"

    bk.backup.delete_backup_selection(BackupPlanId=plan_id, SelectionId=listed["SelectionId"])
    assert bk.backup.list_backup_selections(BackupPlanId=plan_id)["BackupSelectionsList"] == []
    assert bk.backup.delete_backup_plan(BackupPlanId=plan_id)["DeletionDate"] == bk.at("0s")


def test_selections_by_tags_conditions_and_exclusions(bk: BackupEnv) -> None:
    for name, tags in (("audit", {"backup": "hourly"}), ("scratch", {}), ("billing", {"env": "prod-eu"})):
        bk.dynamodb.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        if tags:
            arn = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/{name}"
            bk.dynamodb.tag_resource(ResourceArn=arn, Tags=[{"Key": k, "Value": v} for k, v in tags.items()])
    bk.dynamodb.tag_resource(ResourceArn=TABLE_ARN, Tags=[{"Key": "backup", "Value": "hourly"}])
    rule = {"RuleName": "hourly", "TargetBackupVaultName": "primary", "ScheduleExpression": HOURLY}
    by_tag = bk.backup.create_backup_plan(BackupPlan={"BackupPlanName": "by-tag", "Rules": [rule]})["BackupPlanId"]
    bk.backup.create_backup_selection(BackupPlanId=by_tag, BackupSelection={
        "SelectionName": "tagged",
        "IamRoleArn": ROLE,
        "ListOfTags": [{"ConditionType": "STRINGEQUALS", "ConditionKey": "backup", "ConditionValue": "hourly"}],
        "NotResources": [f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/audit"],
    })
    by_condition = bk.backup.create_backup_plan(BackupPlan={"BackupPlanName": "prod", "Rules": [rule]})["BackupPlanId"]
    bk.backup.create_backup_selection(BackupPlanId=by_condition, BackupSelection={
        "SelectionName": "prod",
        "IamRoleArn": ROLE,
        "Resources": [f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/*"],
        "Conditions": {"StringLike": [{"ConditionKey": "aws:ResourceTag/env", "ConditionValue": "prod*"}]},
    })

    bk.sleep_until("1h")
    chosen = {(job["CreatedBy"]["BackupPlanId"], job["ResourceName"]) for job in bk.emulator.jobs()}
    assert chosen == {(by_tag, "orders"), (by_condition, "billing")}


def test_plan_update_reschedules_and_deleting_the_selection_stops_jobs(bk: BackupEnv) -> None:
    plan_id = bk.plan_with_selection(copy_to_dr=False)
    rules = [{"RuleName": "hourly", "TargetBackupVaultName": "primary", "ScheduleExpression": "cron(30 4 ? * * *)"}]
    updated = bk.backup.update_backup_plan(BackupPlanId=plan_id, BackupPlan={"BackupPlanName": "orders-plan", "Rules": rules})

    plan = bk.backup.get_backup_plan(BackupPlanId=plan_id)
    assert plan["VersionId"] == updated["VersionId"]
    assert plan["BackupPlan"]["Rules"][0]["ScheduleExpression"] == "cron(30 4 ? * * *)"
    bk.sleep_until("4h29m")
    assert bk.emulator.jobs() == []
    bk.sleep_until("4h30m")
    (job,) = bk.emulator.jobs()
    assert job["CreationDate"] == bk.at("4h30m")
    assert job["CreatedBy"]["BackupPlanVersion"] == updated["VersionId"]

    (selection,) = bk.backup.list_backup_selections(BackupPlanId=plan_id)["BackupSelectionsList"]
    bk.backup.delete_backup_selection(BackupPlanId=plan_id, SelectionId=selection["SelectionId"])
    bk.sleep_until("2d")
    assert len(bk.emulator.jobs()) == 1
    assert bk.env.clock.pending() == 0
