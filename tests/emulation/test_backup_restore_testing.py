"""AWS Backup restore testing: plans and selections on their schedule, the recovery point chosen,
the restore job, its validation result and the deletion of the restored table.

Real moto holds the vaults and DynamoDB tables; the emulator runs the rest on the virtual clock
(which starts at midnight). Backup and restore times are pinned with profile overrides.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError

from pytest_drtest.durations import parse_duration
from pytest_drtest.emulation.backup import BackupEmulator

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/backup"
TABLE_ARN = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/orders"
VAULT_ARN = f"arn:aws:backup:us-east-1:{ACCOUNT}:backup-vault:primary"
ITEMS = [{"pk": {"S": f"order-{i}"}, "total": {"N": str(10 * i)}} for i in range(3)]
SELECTION = {"RecoveryPointTypes": ["SNAPSHOT"], "IncludeVaults": ["*"]}


@dataclass
class Env:
    env: Any
    emulator: BackupEmulator
    backup: Any
    dynamodb: Any

    def at(self, offset: str) -> dt.datetime:
        epoch: dt.datetime = self.env.clock.epoch
        return epoch + dt.timedelta(seconds=parse_duration(offset))

    def sleep_until(self, offset: str) -> None:
        self.env.clock.sleep(parse_duration(offset) - self.env.clock.now())

    def back_up(self) -> str:
        """An on-demand backup of ``orders`` now (10 minutes); its recovery point ARN."""
        job = self.backup.start_backup_job(BackupVaultName="primary", ResourceArn=TABLE_ARN, IamRoleArn=ROLE)
        return str(job["RecoveryPointArn"])

    def plan(self, name: str = "nightly", schedule: str = "cron(30 3 ? * * *)", **selection: Any) -> str:
        plan = self.backup.create_restore_testing_plan(RestoreTestingPlan={
            "RestoreTestingPlanName": name, "ScheduleExpression": schedule,
            "RecoveryPointSelection": {"Algorithm": "LATEST_WITHIN_WINDOW", **SELECTION, **selection}})
        return str(plan["RestoreTestingPlanArn"])

    def select(self, plan: str = "nightly", name: str = "orders", **spec: Any) -> None:
        self.backup.create_restore_testing_selection(RestoreTestingPlanName=plan, RestoreTestingSelection={
            "RestoreTestingSelectionName": name, "ProtectedResourceType": "DynamoDB", "IamRoleArn": ROLE,
            "ProtectedResourceArns": [TABLE_ARN], **spec})

    def restore_tests(self, plan_arn: str) -> list[dict[str, Any]]:
        jobs = self.backup.list_restore_jobs(ByRestoreTestingPlanArn=plan_arn)["RestoreJobs"]
        return sorted(jobs, key=lambda j: j["CreationDate"])

    def table_names(self) -> list[str]:
        return list(self.dynamodb.list_tables()["TableNames"])


@pytest.fixture
def rt(emu_env: Any, answers_in_shape: Any) -> Iterator[Env]:
    emulator = emu_env.emulation.add(BackupEmulator(emu_env.emulation))
    for key, value in (("backup_job_time", "10m"), ("backup_restore_time", "30m")):
        emu_env.profile.override(key, value, origin="test")
    answers_in_shape("backup")
    dynamodb = emu_env.client("dynamodb", "us-east-1")
    dynamodb.create_table(TableName="orders", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                          AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                          BillingMode="PAY_PER_REQUEST", Tags=[{"Key": "tier", "Value": "gold"}])
    for item in ITEMS:
        dynamodb.put_item(TableName="orders", Item=item)
    backup = emu_env.client("backup", "us-east-1")
    backup.create_backup_vault(BackupVaultName="primary")
    yield Env(emu_env, emulator, backup, dynamodb)


def code(info: pytest.ExceptionInfo[ClientError]) -> str:
    return str(info.value.response["Error"]["Code"])


def test_the_plan_restores_the_latest_point_on_its_schedule_and_deletes_it_after_the_window(rt: Env) -> None:
    rt.back_up()
    rt.sleep_until("1h")
    rt.dynamodb.put_item(TableName="orders", Item={"pk": {"S": "order-late"}, "total": {"N": "1"}})
    latest = rt.back_up()  # at 1h, done 1h10m: the newest point
    plan_arn = rt.plan()
    rt.select(ValidationWindowHours=2)

    rt.sleep_until("3h29m")
    assert rt.restore_tests(plan_arn) == []
    rt.sleep_until("4h")  # fired at 03:30, the restore takes 30 minutes
    (job,) = rt.restore_tests(plan_arn)
    assert job["CreatedBy"] == {"RestoreTestingPlanArn": plan_arn}
    assert (job["Status"], job["RecoveryPointArn"], job["SourceResourceArn"]) == ("COMPLETED", latest, TABLE_ARN)
    assert (job["CreationDate"], job["CompletionDate"]) == (rt.at("3h30m"), rt.at("4h"))
    assert "ValidationStatus" not in job and "DeletionStatus" not in job
    restored = job["CreatedResourceArn"].rsplit("/", 1)[1]
    assert restored.startswith("orders-restore-test-")
    assert rt.dynamodb.scan(TableName=restored)["Count"] == 4  # the point's items, the late one too
    plan = rt.backup.get_restore_testing_plan(RestoreTestingPlanName="nightly")["RestoreTestingPlan"]
    assert plan["LastExecutionTime"] == rt.at("3h30m")
    assert (plan["StartWindowHours"], plan["RecoveryPointSelection"]["SelectionWindowDays"]) == (24, 30)  # defaults

    rt.sleep_until("5h59m")  # nobody validated: the table stays for ValidationWindowHours
    assert restored in rt.table_names()
    rt.sleep_until("6h")
    job = rt.backup.describe_restore_job(RestoreJobId=job["RestoreJobId"])
    assert job["DeletionStatus"] == "SUCCESSFUL" and "ValidationStatus" not in job
    assert rt.table_names() == ["orders"]
    rt.sleep_until("1d4h")  # the next night restores again
    assert len(rt.restore_tests(plan_arn)) == 2


def test_a_validation_result_ends_the_window_and_is_reported_on_the_job(rt: Env) -> None:
    rt.back_up()
    heard: list[dict[str, Any]] = []
    rt.emulator.on_restore_test(heard.append)
    plan_arn = rt.plan(schedule="cron(0 1 ? * * *)")
    rt.select(ValidationWindowHours=24)
    rt.sleep_until("1h30m")
    (record,) = heard
    assert record["Status"] == "COMPLETED" and record["RestoreTestingPlanName"] == "nightly"
    assert record["SnapshotTime"] == 0.0 and record["StartedAt"] == parse_duration("1h")
    job_id = record["RestoreJobId"]

    rt.backup.put_restore_validation_result(RestoreJobId=job_id, ValidationStatus="VALIDATING")
    rt.env.clock.sleep("1m")
    assert record["TargetTableName"] in rt.table_names()  # VALIDATING keeps it
    rt.backup.put_restore_validation_result(RestoreJobId=job_id, ValidationStatus="SUCCESSFUL",
                                            ValidationStatusMessage="3 of 3 items")
    rt.env.clock.sleep("1s")
    job = rt.backup.describe_restore_job(RestoreJobId=job_id)
    assert (job["ValidationStatus"], job["ValidationStatusMessage"], job["DeletionStatus"]) == (
        "SUCCESSFUL", "3 of 3 items", "SUCCESSFUL")
    assert rt.table_names() == ["orders"]
    assert rt.emulator.restore_tests()[0]["ValidationStatus"] == "SUCCESSFUL"
    with pytest.raises(ClientError) as closed:
        rt.backup.put_restore_validation_result(RestoreJobId=job_id, ValidationStatus="FAILED")
    assert code(closed) == "InvalidRequestException" and "has ended" in str(closed.value)
    with pytest.raises(ClientError) as unknown:
        rt.backup.put_restore_validation_result(RestoreJobId="nope", ValidationStatus="FAILED")
    assert code(unknown) == "ResourceNotFoundException"
    on_demand = rt.backup.start_restore_job(RecoveryPointArn=job["RecoveryPointArn"], IamRoleArn=ROLE,
                                            Metadata={"targetTableName": "by-hand"})["RestoreJobId"]
    assert rt.backup.get_restore_job_metadata(RestoreJobId=on_demand)["Metadata"] == {"targetTableName": "by-hand"}
    with pytest.raises(ClientError) as by_hand:
        rt.backup.put_restore_validation_result(RestoreJobId=on_demand, ValidationStatus="SUCCESSFUL")
    assert code(by_hand) == "InvalidRequestException" and "not started by a restore testing plan" in str(by_hand.value)
    assert [j["RestoreJobId"] for j in rt.restore_tests(plan_arn)] == [job_id]  # the on-demand job is not listed


def test_a_validation_still_running_when_the_window_closes_times_out(rt: Env) -> None:
    rt.back_up()
    heard: list[dict[str, Any]] = []
    rt.emulator.on_restore_test(heard.append)
    rt.plan(schedule="cron(0 1 ? * * *)")
    rt.select(ValidationWindowHours=1)
    rt.sleep_until("1h30m")
    rt.backup.put_restore_validation_result(RestoreJobId=heard[0]["RestoreJobId"], ValidationStatus="VALIDATING")
    rt.sleep_until("2h30m")
    job = rt.backup.describe_restore_job(RestoreJobId=heard[0]["RestoreJobId"])
    assert (job["ValidationStatus"], job["DeletionStatus"]) == ("TIMED_OUT", "SUCCESSFUL")


def test_the_selection_window_and_the_vaults_bound_the_points_a_run_may_choose(rt: Env) -> None:
    rt.back_up()  # at 0h
    rt.sleep_until("6h")  # the plans' first run is at 05:00 on day one
    rt.plan("recent", schedule="cron(0 5 ? * * *)", SelectionWindowDays=1)
    rt.select("recent")
    excluded = rt.plan("not_scratch", schedule="cron(0 5 ? * * *)", ExcludeVaults=[VAULT_ARN])
    rt.select("not_scratch")
    rt.sleep_until("1d5h10m")  # 05:00 on day one: the 0h point is 29 hours old
    assert rt.backup.list_restore_jobs()["RestoreJobs"] == []
    rt.back_up()
    rt.sleep_until("2d5h10m")
    (job,) = rt.backup.list_restore_jobs()["RestoreJobs"]
    assert job["RecoveryPointCreationDate"] == rt.at("1d5h10m")
    assert job["CreatedBy"]["RestoreTestingPlanArn"] != excluded  # the only vault is excluded there


def test_random_within_window_draws_seeded_points(rt: Env) -> None:
    points = []
    for hour in ("0h", "1h", "2h"):
        rt.sleep_until(hour)
        points.append(rt.back_up())
    arn = rt.plan(schedule="cron(0 5 ? * * *)", Algorithm="RANDOM_WITHIN_WINDOW")
    rt.select()
    rt.sleep_until("6d")
    chosen = [j["RecoveryPointArn"] for j in rt.restore_tests(arn)]
    assert len(chosen) == 6 and set(chosen) <= set(points)
    assert len(set(chosen)) > 1  # not always the latest


def test_conditions_choose_protected_resources_by_tag(rt: Env) -> None:
    rt.back_up()
    arn = rt.plan(schedule="cron(0 1 ? * * *)")
    rt.select(name="gold", ProtectedResourceArns=["*"], ProtectedResourceConditions={
        "StringEquals": [{"Key": "tier", "Value": "gold"}]})
    rt.select(name="not_gold", ProtectedResourceArns=["*"], ProtectedResourceConditions={
        "StringNotEquals": [{"Key": "tier", "Value": "gold"}]})
    rt.sleep_until("1h1m")
    assert [j["SourceResourceArn"] for j in rt.restore_tests(arn)] == [TABLE_ARN]  # the gold selection only
    selections = rt.backup.list_restore_testing_selections(RestoreTestingPlanName="nightly")["RestoreTestingSelections"]
    assert [s["RestoreTestingSelectionName"] for s in selections] == ["gold", "not_gold"]


def test_plans_and_selections_read_update_and_delete(rt: Env) -> None:
    rt.plan()
    rt.select(ValidationWindowHours=5, RestoreMetadataOverrides={"TargetTableName": "checked"})
    got = rt.backup.get_restore_testing_selection(RestoreTestingPlanName="nightly", RestoreTestingSelectionName="orders")
    assert got["RestoreTestingSelection"]["ValidationWindowHours"] == 5
    updated = rt.backup.update_restore_testing_plan(RestoreTestingPlanName="nightly",
                                                    RestoreTestingPlan={"ScheduleExpression": "cron(0 2 ? * * *)"})
    assert updated["UpdateTime"] == rt.at("0h")
    rt.back_up()
    rt.sleep_until("2h31m")  # the new schedule (02:00) and the overridden table name
    assert "checked" in rt.table_names()
    (job,) = rt.backup.list_restore_jobs()["RestoreJobs"]
    assert rt.backup.get_restore_job_metadata(RestoreJobId=job["RestoreJobId"])["Metadata"] == {"targetTableName": "checked"}
    (listed,) = rt.backup.list_restore_testing_plans()["RestoreTestingPlans"]
    assert (listed["ScheduleExpression"], listed["LastExecutionTime"]) == ("cron(0 2 ? * * *)", rt.at("2h"))
    rt.backup.update_restore_testing_selection(RestoreTestingPlanName="nightly", RestoreTestingSelectionName="orders",
                                               RestoreTestingSelection={"ValidationWindowHours": 0})
    with pytest.raises(ClientError) as busy:
        rt.backup.delete_restore_testing_plan(RestoreTestingPlanName="nightly")
    assert code(busy) == "InvalidRequestException"
    rt.backup.delete_restore_testing_selection(RestoreTestingPlanName="nightly", RestoreTestingSelectionName="orders")
    rt.backup.delete_restore_testing_plan(RestoreTestingPlanName="nightly")
    assert rt.backup.list_restore_testing_plans()["RestoreTestingPlans"] == []
    with pytest.raises(ClientError) as gone:
        rt.backup.get_restore_testing_plan(RestoreTestingPlanName="nightly")
    assert code(gone) == "ResourceNotFoundException"


@pytest.mark.parametrize(("plan", "expected", "says"), [
    ({"ScheduleExpression": "rate(1 day)"}, "InvalidParameterValueException", "expected cron("),
    ({"ScheduleExpression": "cron(0 5 * * * *)"}, "InvalidParameterValueException", "must be '?'"),
    ({"ScheduleExpressionTimezone": "Mars/Olympus"}, "InvalidParameterValueException", "Timezone"),
    ({"RestoreTestingPlanName": "has-dashes"}, "InvalidParameterValueException", "underscores"),
    ({"StartWindowHours": 169}, "InvalidParameterValueException", "StartWindowHours"),
    ({"RecoveryPointSelection": {**SELECTION, "Algorithm": "OLDEST"}}, "InvalidParameterValueException", "Algorithm"),
    ({"RecoveryPointSelection": {**SELECTION}}, "MissingParameterValueException", "Algorithm"),
    ({"RecoveryPointSelection": {"Algorithm": "LATEST_WITHIN_WINDOW", "IncludeVaults": ["*"]}},
     "MissingParameterValueException", "RecoveryPointTypes"),
    ({"RecoveryPointSelection": {**SELECTION, "Algorithm": "LATEST_WITHIN_WINDOW", "SelectionWindowDays": 366}},
     "InvalidParameterValueException", "SelectionWindowDays"),
    ({"RecoveryPointSelection": {**SELECTION, "Algorithm": "LATEST_WITHIN_WINDOW", "IncludeVaults": ["primary"]}},
     "InvalidParameterValueException", "backup vault ARN"),
])
def test_a_bad_plan_is_refused_with_aws_error_code(rt: Env, plan: dict[str, Any], expected: str, says: str) -> None:
    document = {"RestoreTestingPlanName": "p", "ScheduleExpression": "cron(0 5 ? * * *)",
                "RecoveryPointSelection": {"Algorithm": "LATEST_WITHIN_WINDOW", **SELECTION}, **plan}
    with pytest.raises(ClientError) as info:
        rt.backup.create_restore_testing_plan(RestoreTestingPlan=document)
    assert code(info) == expected and says in str(info.value)
    assert rt.backup.list_restore_testing_plans()["RestoreTestingPlans"] == []


@pytest.mark.parametrize(("spec", "expected", "says"), [
    ({"ProtectedResourceType": "Tape"}, "InvalidParameterValueException", "ProtectedResourceType"),
    ({"ProtectedResourceArns": ["*", TABLE_ARN]}, "InvalidParameterValueException", "not both"),
    ({"ProtectedResourceConditions": {"StringEquals": [{"Key": "tier", "Value": "gold"}]}},
     "InvalidParameterValueException", "not with specific ARNs"),
    ({"ProtectedResourceArns": ["arn:aws:s3:::bucket"]}, "InvalidParameterValueException", "DynamoDB resource"),
    ({"ProtectedResourceArns": [f"{TABLE_ARN}{i}" for i in range(31)]}, "InvalidParameterValueException", "at most 30"),
    ({"ProtectedResourceArns": []}, "MissingParameterValueException", "ProtectedResourceArns"),
    ({"ValidationWindowHours": 169}, "InvalidParameterValueException", "ValidationWindowHours"),
    ({"IamRoleArn": "backup-role"}, "InvalidParameterValueException", "IamRoleArn"),
    ({"RestoreTestingSelectionName": "a b"}, "InvalidParameterValueException", "underscores"),
])
def test_a_bad_selection_is_refused_with_aws_error_code(rt: Env, spec: dict[str, Any], expected: str, says: str) -> None:
    rt.plan()
    with pytest.raises(ClientError) as info:
        rt.select(**spec)
    assert code(info) == expected and says in str(info.value)


def test_selections_need_an_existing_plan_and_a_fresh_name(rt: Env) -> None:
    with pytest.raises(ClientError) as missing:
        rt.select("nope")
    assert code(missing) == "ResourceNotFoundException"
    rt.plan()
    rt.select()
    with pytest.raises(ClientError) as twice:
        rt.select()
    assert code(twice) == "AlreadyExistsException"
    with pytest.raises(ClientError) as plan_twice:
        rt.plan()
    assert code(plan_twice) == "AlreadyExistsException"


def test_a_failed_restore_test_is_heard_and_cannot_be_validated(rt: Env) -> None:
    rt.back_up()
    heard: list[dict[str, Any]] = []
    rt.emulator.on_restore_test(heard.append)
    rt.plan(schedule="cron(0 1 ? * * *)")
    rt.select()
    rt.sleep_until("1h10m")
    rt.env.emulation.world.lose_region("us-east-1")
    rt.sleep_until("1h30m")
    rt.env.emulation.world.restore_region("us-east-1")
    (record,) = heard
    assert record["Status"] == "FAILED" and "became unavailable" in record["StatusMessage"]
    with pytest.raises(ClientError) as info:
        rt.backup.put_restore_validation_result(RestoreJobId=record["RestoreJobId"], ValidationStatus="SUCCESSFUL")
    assert code(info) == "InvalidRequestException" and "is FAILED" in str(info.value)
    rt.sleep_until("1d1h30m")  # the next run, once the Region is back
    assert len(heard) == 2 and heard[1]["Status"] == "COMPLETED"
