"""AWS Backup restore testing, validated against the ledger.

A restore testing plan ([docs/restore-testing.md](../docs/restore-testing.md)) restores a recovery
point of the topology's probe table into a NEW table on its schedule. AWS leaves the validation to
the owner ("AWS Backup Developer Guide, Restore testing validation": an EventBridge rule on the
restore job's ``COMPLETED`` runs a check that calls ``PutRestoreValidationResult``); in the emulated
world the harness is that check: when such a job completes it runs the plugin's restore check
(:func:`~pytest_drtest.restores.verify_restore`: a new table holding exactly the ledger's items as of
the recovery point's creation) and puts ``SUCCESSFUL`` or ``FAILED`` with the check's story. AWS
Backup then deletes the restored table. Each restore test is a :class:`RestoreResult` of the test
(``made_by`` = the plan), so the report lists it with its job's duration and validation.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import botocore.exceptions

from pytest_drtest.restores import RestoreResult, not_restored, verify_restore

if TYPE_CHECKING:
    from collections.abc import Callable

    from pytest_drtest.harness import Harness

KIND = "aws-backup-restore-test"
#: Where the docs are silent: the longest ValidationStatusMessage put (the check's story is cut there).
MAX_MESSAGE = 1000


def watch_restore_tests(harness: Harness) -> Callable[[], None] | None:
    """Validate every restore test of the harness's emulated AWS Backup; returns the remover."""
    from pytest_drtest.emulation.backup import BackupEmulator

    if harness.emulation is None:
        return None
    try:
        backup = harness.emulation.find(BackupEmulator)
    except KeyError:
        return None
    return backup.on_restore_test(lambda job: validate_restore_test(harness, job))


def validate_restore_test(harness: Harness, job: dict[str, Any]) -> RestoreResult | None:
    """Check a restore test's table against the ledger and put the verdict (None: not the topology's
    probe table, whose contents the ledger does not know; the plan's owner validates it)."""
    topology = harness._topology
    region = str(job["Region"])
    source_arn = str(job.get("SourceResourceArn", ""))
    parts = source_arn.split(":", 5)
    source_region = parts[3] if len(parts) == 6 else region
    source = source_arn.rsplit("/", 1)[-1]
    if topology is None or source_region not in topology.regions:
        return None
    if topology.regions[source_region].tables.get(topology.probe_table) != source:
        return None
    plan = str(job.get("RestoreTestingPlanName", ""))
    target = str(job["TargetTableName"])
    started = float(job.get("StartedAt") or job.get("CompletedAt") or harness.clock.now())
    completed = float(job.get("CompletedAt") or harness.clock.now())
    record = {"kind": KIND, "region": region, "source_region": source_region, "source": source, "target": target,
              "restore_time": float(job["SnapshotTime"]), "started": started, "completed": completed}
    if job.get("Status") != "COMPLETED":
        result = _failed_restore(harness, record, str(job.get("StatusMessage") or job.get("Status")))
    else:
        try:
            result = verify_restore(topology, harness.ledger, record)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            result = _failed_restore(harness, record, f"the restored table could not be read: {exc}")
    result.test = harness.test
    result.made_by = f"plan {plan}"
    result.restore_job_id = str(job["RestoreJobId"])
    if job.get("Status") == "COMPLETED":
        status = "SUCCESSFUL" if result.passed else "FAILED"
        message = ("restore check passed: " + result.story()) if result.passed else result.story()
        harness.client("backup", region).put_restore_validation_result(
            RestoreJobId=result.restore_job_id, ValidationStatus=status, ValidationStatusMessage=message[:MAX_MESSAGE])
        result.validation_status = status
    topology.note("restore-test-validated", f"{plan}: {target} {result.validation_status or 'restore FAILED'}")
    harness.restore_results.append(result)
    return result


def _failed_restore(harness: Harness, record: dict[str, Any], why: str) -> RestoreResult:
    """The restore job itself failed (or its table cannot be read): nothing to compare."""
    expected = harness.ledger.state_as_of(record["restore_time"])
    return RestoreResult(
        kind=KIND, region=record["region"], source=record["source"], target=record["target"],
        restore_time=harness.clock.datetime(record["restore_time"]).isoformat(), restore_t=record["restore_time"],
        new_resource=False, source_untouched=None, items_expected=len(expected), items_matched=0, unexpected_items=0,
        duration_s=record["completed"] - record["started"], modeled=harness.clock.modeled,
        not_restored=not_restored("dynamodb"), problems=[f"the restore test's job failed: {why}"],
        missing_keys=sorted(expected)[:20],  # nothing was restored
    )


# -- the "aws-backup-restore-testing" restore check of a scenario -------------------------------------
SCENARIO_KIND = "aws-backup-restore-testing"


def restore_testing_settings(check: Any) -> dict[str, Any]:
    """The plan fields of an ``aws-backup-restore-testing`` restore check (a :class:`~pytest_drtest.config.Fields`),
    checked as AWS checks them; a :class:`DrConfigError` names the file and field otherwise."""
    from pytest_drtest.emulation.backup.restore_testing import (
        ALGORITHMS,
        MAX_SELECTION_WINDOW_DAYS,
        MAX_VALIDATION_WINDOW_HOURS,
    )
    from pytest_drtest.emulation.backup.schedules import BackupSchedule
    from pytest_drtest.errors import DrConfigError

    schedule = check.get("schedule", str, "cron(30 * ? * * *)")
    try:
        BackupSchedule.parse(schedule)
    except ValueError as exc:
        raise DrConfigError(f"{exc} (an AWS cron expression, as a restore testing plan's ScheduleExpression)",
                            source=check.source, field=check._name("schedule")) from None
    algorithm = check.get("algorithm", str, "LATEST_WITHIN_WINDOW", choices=ALGORITHMS)
    settings: dict[str, Any] = {"schedule": schedule, "algorithm": algorithm}
    for key, low, high, default in (("selection_window_days", 1, MAX_SELECTION_WINDOW_DAYS, 30),
                                    ("validation_window_hours", 0, MAX_VALIDATION_WINDOW_HOURS, 0)):
        value = check.get(key, int, default)
        if isinstance(value, bool) or not low <= value <= high:
            raise DrConfigError(f"expected an integer from {low} to {high}, got {value!r}", source=check.source,
                                field=check._name(key))
        settings[key] = value
    return settings


def plan_name(check_name: str) -> str:
    """A restore testing plan name (letters, digits, underscores, at most 50) from a check's name."""
    return ("drtest_" + "".join(c if c.isalnum() else "_" for c in check_name))[:50]


def start_restore_testing(dr: Harness, name: str, settings: dict[str, Any]) -> None:
    """Create the restore testing plan of a check: the probe table's points in the primary vault."""
    from pytest_drtest.topology.build import account_of, backup_role

    topology = dr.topology
    backup = dr.client("backup", topology.primary_region)
    account = account_of(topology)
    backup.create_restore_testing_plan(RestoreTestingPlan={
        "RestoreTestingPlanName": plan_name(name), "ScheduleExpression": settings["schedule"],
        "RecoveryPointSelection": {
            "Algorithm": settings["algorithm"], "RecoveryPointTypes": ["SNAPSHOT"],
            "IncludeVaults": [f"arn:aws:backup:{topology.primary_region}:{account}:backup-vault:{topology.primary.vault}"],
            "SelectionWindowDays": settings["selection_window_days"]}})
    backup.create_restore_testing_selection(RestoreTestingPlanName=plan_name(name), RestoreTestingSelection={
        "RestoreTestingSelectionName": "probe_table", "ProtectedResourceType": "DynamoDB",
        "IamRoleArn": backup_role(topology), "ValidationWindowHours": settings["validation_window_hours"],
        "ProtectedResourceArns": [f"arn:aws:dynamodb:{topology.primary_region}:{account}:table/{topology.table_name()}"]})


def restore_tests_of(dr: Harness, name: str) -> list[RestoreResult]:
    """The restore tests the check's plan made (validated as they completed)."""
    from pytest_drtest.errors import DrConfigError

    made = [r for r in dr.restore_results if r.made_by == f"plan {plan_name(name)}"]
    if not made:
        raise DrConfigError(f"{name}: no restore test of its plan completed during the steady state; lengthen "
                            "steady_state past the backup schedule, the restore testing schedule and a restore")
    return made
