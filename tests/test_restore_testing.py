"""AWS Backup restore testing of a topology's probe table, validated by the harness against the ledger.

A small backup & restore topology (hourly AWS Backup rule, no database) takes probe writes; a
restore testing plan restores the newest recovery point every hour at :30. The harness checks each
restored table against the ledger, puts SUCCESSFUL or FAILED with PutRestoreValidationResult, and
AWS Backup deletes the table; the report lists each restore test with its plan and validation.
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_drtest import faults
from pytest_drtest.errors import DrConfigError
from pytest_drtest.harness import Harness
from pytest_drtest.report import RunReport, summary_lines
from pytest_drtest.report_html import render_html
from pytest_drtest.restores import RestoreResult
from pytest_drtest.scenario import load_scenario
from pytest_drtest.settings import Settings
from pytest_drtest.topology.build import account_of, backup_role

TINY = """
name = "tiny"
[compute]
capacity = 1
[[tables]]
name = "orders"
seed_items = 10
[backup]
schedule = "cron(0 * ? * * *)"
"""
TEST = "tests/test_restore_testing.py::restore_tests"


@pytest.fixture
def dr(tmp_path: Path) -> Iterator[Harness]:
    blueprint = tmp_path / "tiny.toml"
    blueprint.write_text(TINY)
    with Harness(Settings(), strategy="backup-restore", blueprint=str(blueprint), test=TEST) as harness:
        yield harness


def restore_testing(dr: Harness, window_hours: int = 4, region: str = "primary") -> str:
    """An hourly (at :30) restore testing plan of the probe table's recovery points in the vault of
    ``region`` (the DR vault holds the copies); its ARN."""
    topology = dr.topology
    backup = dr.client("backup", region)
    account = account_of(topology)
    stack = topology.primary if region == "primary" else topology.dr
    vault_arn = f"arn:aws:backup:{stack.region}:{account}:backup-vault:{stack.vault}"
    plan = backup.create_restore_testing_plan(RestoreTestingPlan={
        "RestoreTestingPlanName": "hourly_check", "ScheduleExpression": "cron(30 * ? * * *)",
        "RecoveryPointSelection": {"Algorithm": "LATEST_WITHIN_WINDOW", "RecoveryPointTypes": ["SNAPSHOT"],
                                   "IncludeVaults": [vault_arn]}})
    table_arn = f"arn:aws:dynamodb:{topology.primary_region}:{account}:table/{topology.table_name()}"
    backup.create_restore_testing_selection(RestoreTestingPlanName="hourly_check", RestoreTestingSelection={
        "RestoreTestingSelectionName": "probe_table", "ProtectedResourceType": "DynamoDB",
        "IamRoleArn": backup_role(topology), "ProtectedResourceArns": [table_arn], "ValidationWindowHours": window_hours})
    return str(plan["RestoreTestingPlanArn"])


def jobs_of(dr: Harness, plan_arn: str, region: str = "primary") -> dict[str, dict[str, Any]]:
    listed = dr.client("backup", region).list_restore_jobs(ByRestoreTestingPlanArn=plan_arn)["RestoreJobs"]
    return {j["RestoreJobId"]: j for j in listed}


def test_each_restore_test_is_checked_against_the_ledger_and_its_verdict_put(dr: Harness) -> None:
    plan_arn = restore_testing(dr)
    dr_plan_arn = restore_testing(dr, region="dr")
    with dr.probe(interval="180s"):
        dr.clock.sleep("3h40m")  # backups at 01:00, 02:00, 03:00; restore tests at 01:30, 02:30, 03:30

    of_copies = [r for r in dr.restore_results if r.region == dr.regions[1]]
    results = [r for r in dr.restore_results if r.region == dr.regions[0]]
    assert len(results) >= 2 and of_copies  # the copies reach the DR vault tens of minutes after each backup
    jobs = {**jobs_of(dr, plan_arn), **jobs_of(dr, dr_plan_arn, "dr")}
    for result in results + of_copies:
        assert result.passed, result.story()
        assert result.made_by == "plan hourly_check" and result.test == TEST
        assert result.kind == "aws-backup-restore-test" and result.new_resource
        assert result.items_expected > 10 and result.items_matched == result.items_expected  # seed items and probe writes
        assert result.duration_s > 0
        job = jobs[result.restore_job_id]
        assert job["CreatedBy"] == {"RestoreTestingPlanArn": plan_arn if result in results else dr_plan_arn}
        assert job["ValidationStatus"] == result.validation_status == "SUCCESSFUL"
        assert job["ValidationStatusMessage"].startswith("restore check passed")
        assert job["DeletionStatus"] == "SUCCESSFUL"  # deleted once validated, not after the 4-hour window
    for region in ("primary", "dr"):
        assert not [t for t in dr.client("dynamodb", region).list_tables()["TableNames"] if "restore-test" in t]
    # the later test restores a later point: it holds more of the probe's writes
    assert results[1].restore_t - results[0].restore_t == 3600 and results[1].items_expected > results[0].items_expected

    assert of_copies[0].source == results[0].source and of_copies[0].restore_t in {r.restore_t for r in results}
    lines = summary_lines(RunReport(restores=list(results)).as_dict())
    header = next(line for line in lines if line.startswith("restore "))
    assert "validation" in header and "made by" in header
    rows = [line for line in lines if line.startswith("aws-backup-restore-test")]
    assert len(rows) == len(results) and all("SUCCESSFUL" in r and r.endswith("plan hourly_check") for r in rows)
    as_json = RunReport(restores=list(results)).as_dict()["restores"][0]
    assert (as_json["made_by"], as_json["validation_status"]) == ("plan hourly_check", "SUCCESSFUL")
    assert RestoreResult.from_dict(as_json).made_by == "plan hourly_check"
    assert "plan hourly_check (validation SUCCESSFUL)" in render_html(RunReport(restores=list(results)).as_dict())


def test_a_backup_of_corrupted_data_fails_its_restore_test(dr: Harness) -> None:
    plan_arn = restore_testing(dr, window_hours=0)
    with dr.probe(interval="60s"):
        dr.clock.sleep("40m")
        fault = faults.CorruptTable(fraction=0.5)
        dr.inject(fault)  # a bad deploy before the 01:00 backup
        dr.clock.sleep("1h50m")  # the 01:30 restore test has completed

    first = dr.restore_results[0]
    assert not first.passed and first.validation_status == "FAILED"
    assert first.items_expected - first.items_matched == len(fault.corrupted) > 0  # every corrupted item, no other
    assert first.missing_keys == sorted(fault.corrupted)[:20]  # the first 20 named
    job = jobs_of(dr, plan_arn)[first.restore_job_id]
    assert job["ValidationStatus"] == "FAILED" and "are missing or hold another value" in job["ValidationStatusMessage"]
    assert job["DeletionStatus"] == "SUCCESSFUL"


def test_restore_tests_of_other_tables_are_left_to_their_owner(dr: Harness) -> None:
    topology = dr.topology
    ddb, backup = dr.client("dynamodb"), dr.client("backup")
    ddb.create_table(TableName="elsewhere", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
    arn = f"arn:aws:dynamodb:{topology.primary_region}:{account_of(topology)}:table/elsewhere"
    backup.start_backup_job(BackupVaultName=topology.primary.vault, ResourceArn=arn, IamRoleArn=backup_role(topology))
    backup.create_restore_testing_plan(RestoreTestingPlan={
        "RestoreTestingPlanName": "other", "ScheduleExpression": "cron(30 * ? * * *)",
        "RecoveryPointSelection": {"Algorithm": "LATEST_WITHIN_WINDOW", "RecoveryPointTypes": ["SNAPSHOT"],
                                   "IncludeVaults": ["*"]}})
    backup.create_restore_testing_selection(RestoreTestingPlanName="other", RestoreTestingSelection={
        "RestoreTestingSelectionName": "elsewhere", "ProtectedResourceType": "DynamoDB",
        "IamRoleArn": backup_role(topology), "ProtectedResourceArns": [arn], "ValidationWindowHours": 1})
    dr.clock.sleep("2h35m")  # restore tests at 00:30, 01:30 and 02:30 of the on-demand point
    plan_arn = backup.list_restore_testing_plans()["RestoreTestingPlans"][0]["RestoreTestingPlanArn"]
    jobs = sorted(backup.list_restore_jobs(ByRestoreTestingPlanArn=plan_arn)["RestoreJobs"], key=lambda j: j["CreationDate"])
    assert len(jobs) == 3 and {j["SourceResourceArn"] for j in jobs} == {arn}
    first = jobs[0]  # done by 01:30, its 1-hour window closed by 02:30: deleted, never validated
    assert (first["Status"], first["DeletionStatus"]) == ("COMPLETED", "SUCCESSFUL") and "ValidationStatus" not in first
    assert dr.restore_results == []  # the ledger knows the probe table only


def test_a_restore_test_whose_job_fails_is_a_failed_restore_with_no_validation(dr: Harness) -> None:
    plan_arn = restore_testing(dr)
    dr.clock.sleep("1h40m")  # the 01:30 restore test runs (15 minutes at least)
    dr.inject(faults.RegionOutage("primary"))
    dr.clock.sleep("1h")

    (result,) = dr.restore_results
    assert not result.passed and result.validation_status == "" and result.made_by == "plan hourly_check"
    assert result.reasons()[0] == (f"the restore test's job failed: Region {dr.regions[0]} became unavailable "
                                   "before the restore completed")
    assert result.items_matched == 0 and result.items_expected == len(result.missing_keys) == 10  # the seed items
    dr.revert(dr.active_faults[0])
    (job,) = jobs_of(dr, plan_arn).values()
    assert job["Status"] == "FAILED" and "ValidationStatus" not in job and "DeletionStatus" not in job


SCENARIO = """
name = "restore-tests"
strategy = "backup-restore"
blueprint = "tiny.toml"
steady_state = "3h"
probe = { interval = "3m" }

[[restore_checks]]
name = "orders-restore-testing"
kind = "aws-backup-restore-testing"
{fields}
"""


def scenario_file(folder: Path, fields: str = "") -> Path:
    (folder / "tiny.toml").write_text(TINY)
    path = folder / "scenario.toml"
    path.write_text(SCENARIO.replace("{fields}", fields))
    return path


def test_a_scenario_restore_check_runs_a_restore_testing_plan(tmp_path: Path) -> None:
    scenario = load_scenario(scenario_file(tmp_path, 'schedule = "cron(45 * ? * * *)"\nvalidation_window_hours = 2'))
    (check,) = scenario.restore_checks
    assert check.restore_testing == {"schedule": "cron(45 * ? * * *)", "algorithm": "LATEST_WITHIN_WINDOW",
                                     "selection_window_days": 30, "validation_window_hours": 2}
    with Harness(Settings(), test="restore-tests::restore-checks", scenario=scenario) as dr:
        results = dr.run_restore_checks(scenario.restore_checks)
        assert results and all(r.passed and r.made_by == "plan drtest_orders_restore_testing" for r in results)
        plan = dr.client("backup").get_restore_testing_plan(RestoreTestingPlanName="drtest_orders_restore_testing")
        assert plan["RestoreTestingPlan"]["ScheduleExpression"] == "cron(45 * ? * * *)"


@pytest.mark.parametrize(("fields", "field", "says"), [
    ('schedule = "rate(1 hour)"', "schedule", "expected cron("),
    ('schedule = "cron(*/10 * ? * * *)"', "schedule", "less than 60 minutes"),
    ('algorithm = "OLDEST"', "algorithm", "expected one of LATEST_WITHIN_WINDOW, RANDOM_WITHIN_WINDOW"),
    ("selection_window_days = 0", "selection_window_days", "from 1 to 365"),
    ("validation_window_hours = 200", "validation_window_hours", "from 0 to 168"),
    ('validation_window = "2h"', "restore_checks[0]", "unknown field(s) validation_window"),
])
def test_a_bad_restore_testing_check_names_the_file_and_field(tmp_path: Path, fields: str, field: str, says: str) -> None:
    path = scenario_file(tmp_path, fields)
    with pytest.raises(DrConfigError) as info:
        load_scenario(path)
    message = str(info.value)
    assert str(path) in message and field in message and says in message


def test_restore_testing_checks_need_the_backup_restore_strategy(tmp_path: Path) -> None:
    path = scenario_file(tmp_path)
    path.write_text(path.read_text().replace('strategy = "backup-restore"', 'strategy = "warm-standby"'))
    with pytest.raises(DrConfigError, match="needs the backup-restore strategy"):
        load_scenario(path)
