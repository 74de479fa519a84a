"""AWS Backup restore testing: plans and selections that restore recovery points on a schedule.

moto 5.2.5 has no restore testing API; this emulator answers it (shapes of [BC:backup]
``CreateRestoreTestingPlan`` and its kin). "AWS Backup Developer Guide, Restore testing": when the
plan's scheduled time arrives, AWS Backup starts restore jobs (the same jobs as ``StartRestoreJob``)
for the resources its selections choose, from a recovery point its ``RecoveryPointSelection``
chooses; "Once the optional validation completes or the validation window closes, AWS Backup
deletes the resources involved with the restore test".

* a plan fires at the times of its ``ScheduleExpression`` (AWS cron, in ``ScheduleExpressionTimezone``;
  the cron of :class:`BackupSchedule`), once it has selections, unless its Region is lost;
* per selection and protected resource (a resource with a recovery point of the selection's
  ``ProtectedResourceType`` in an included vault: ``ProtectedResourceArns`` ``["*"]`` with
  ``ProtectedResourceConditions`` on the resource's tags, or up to 30 ARNs), the recovery point is
  the newest (``LATEST_WITHIN_WINDOW``) or a seeded random one (``RANDOM_WITHIN_WINDOW``, stream
  ``backup.restore-testing:<plan>/<selection>/<resource ARN>``) of those created within
  ``SelectionWindowDays`` (default 30) before the run, in vaults matching ``IncludeVaults`` and no
  ``ExcludeVaults`` pattern, of the ``RecoveryPointTypes``; the restore job carries
  ``CreatedBy.RestoreTestingPlanArn``;
* a completed job waits for ``PutRestoreValidationResult``: ``SUCCESSFUL``, ``FAILED`` or
  ``TIMED_OUT`` ends the validation and the restored table is deleted then; ``VALIDATING`` keeps
  it; else it is deleted when ``ValidationWindowHours`` (0..168) have passed since the job
  completed (``DeletionStatus`` ``DELETING`` then ``SUCCESSFUL`` or ``FAILED``).

Listeners (:meth:`RestoreTesting.on_restore_test`) hear every restore test's job when it completes
or fails: the harness validates the restored table against the ledger and puts the verdict.
Restores run for DynamoDB recovery points; selections of other resource types are stored and start
no job (the docs page says so).
"""
from __future__ import annotations

import copy
import fnmatch
import re
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from pytest_drtest.emulation.backup.api import compact, error_message, invalid, paged
from pytest_drtest.emulation.backup.jobs import Jobs
from pytest_drtest.emulation.backup.models import (
    Job,
    RecoveryPoint,
    RestoreJob,
    RestoreTestingPlan,
    RestoreTestingSelection,
    arn_parts,
    resource_type_of,
)
from pytest_drtest.emulation.backup.schedules import (
    DEFAULT_SCHEDULE,
    DEFAULT_TIMEZONE,
    BackupSchedule,
)
from pytest_drtest.emulation.core import AwsError, Call, Emulation
from pytest_drtest.emulation.principal import ServicePrincipal

#: [BC:backup] RestoreTestingPlanName / RestoreTestingSelectionName: "only alphanumeric characters and
#: underscores. Maximum length is 50."
NAME = re.compile(r"^[A-Za-z0-9_]{1,50}$")
#: [BC:backup] RestoreTestingSelectionForCreate.ProtectedResourceType: the supported types.
PROTECTED_RESOURCE_TYPES = ("Aurora", "DocumentDB", "DynamoDB", "EBS", "EC2", "EFS", "FSx", "Neptune", "RDS", "S3")
ALGORITHMS = ("LATEST_WITHIN_WINDOW", "RANDOM_WITHIN_WINDOW")
RECOVERY_POINT_TYPES = ("CONTINUOUS", "SNAPSHOT")
DEFAULT_START_WINDOW_HOURS = 24  # [BC:backup] StartWindowHours: "Defaults to 24 hours", at most 168
MAX_START_WINDOW_HOURS = 168
DEFAULT_SELECTION_WINDOW_DAYS = 30  # [BC:backup] SelectionWindowDays: 1 to 365, default 30
MAX_SELECTION_WINDOW_DAYS = 365
MAX_VALIDATION_WINDOW_HOURS = 168  # [BC:backup] ValidationWindowHours: 0 to 168
MAX_PROTECTED_ARNS = 30  # "you can include up to 30 specific protected resource ARNs"
FINAL_VALIDATIONS = ("SUCCESSFUL", "FAILED", "TIMED_OUT")

RestoreTestListener = Callable[[dict[str, Any]], object]


class RestoreTesting(Jobs):
    """Restore testing plans and selections, their scheduled runs, validation results and deletions."""

    def __init__(self, emulation: Emulation) -> None:
        super().__init__(emulation)
        self._rt_plans: dict[tuple[str, str], RestoreTestingPlan] = {}  # (region, name) -> plan
        self._rt_listeners: list[RestoreTestListener] = []
        self._rt_principal = ServicePrincipal(emulation)

    # -- what the harness and tests read -------------------------------------------------------
    def on_restore_test(self, listener: RestoreTestListener) -> Callable[[], None]:
        """Call ``listener(job)`` when a restore test's job completes or fails; returns the remover.

        ``job`` is the DescribeRestoreJob shape plus ``Region``, ``TargetTableName``, ``StartedAt``
        and ``CompletedAt`` (clock seconds), ``SnapshotTime`` (clock seconds of the recovery point's
        data) and ``RestoreTestingPlanName``."""
        self._rt_listeners.append(listener)
        return lambda: self._rt_listeners.remove(listener) if listener in self._rt_listeners else None

    def restore_tests(self) -> list[dict[str, Any]]:
        """Every restore job a restore testing plan made (the listener's records), in creation order."""
        return [self._restore_test_record(job) for job in self._restore_jobs.values() if job.created_by]

    def close(self) -> None:
        super().close()  # cancels the schedules and the deletions
        for plan in self._rt_plans.values():
            plan.schedule = None

    # -- plans ---------------------------------------------------------------------------------
    def before_CreateRestoreTestingPlan(self, call: Call) -> dict[str, Any]:
        document = copy.deepcopy(call.params["RestoreTestingPlan"])
        name = document["RestoreTestingPlanName"]
        if not NAME.match(name):
            raise invalid(f"RestoreTestingPlanName {name!r} must be 1 to 50 alphanumeric characters or underscores")
        if (call.region, name) in self._rt_plans:
            raise AwsError("AlreadyExistsException", f"Restore testing plan {name} already exists")
        self._check_plan(document)
        self._plan_defaults(document)
        account = self._account(call.region)
        plan = RestoreTestingPlan(
            name=name,
            # AWS leaves the ARN's form to the service: restore-testing-plan:<name>-<id> here.
            arn=f"arn:aws:backup:{call.region}:{account}:restore-testing-plan:{name}-{self._new_id().lower()[:8]}",
            region=call.region,
            account=account,
            document=document,
            created_at=self.clock.now(),
            creator_request_id=call.params.get("CreatorRequestId"),
        )
        self._rt_plans[(call.region, name)] = plan
        self._arm_plan(plan)
        return {"CreationTime": self.clock.datetime(plan.created_at), "RestoreTestingPlanArn": plan.arn,
                "RestoreTestingPlanName": plan.name}

    def before_GetRestoreTestingPlan(self, call: Call) -> dict[str, Any]:
        plan = self._rt_plan(call, call.params["RestoreTestingPlanName"])
        return {"RestoreTestingPlan": compact({
            **self._plan_summary(plan),
            "CreatorRequestId": plan.creator_request_id,
            "RecoveryPointSelection": copy.deepcopy(plan.document["RecoveryPointSelection"]),
        })}

    def before_ListRestoreTestingPlans(self, call: Call) -> dict[str, Any]:
        plans = [self._plan_summary(p) for (region, _), p in self._rt_plans.items() if region == call.region]
        return paged(plans, call.params, "RestoreTestingPlans")

    def before_UpdateRestoreTestingPlan(self, call: Call) -> dict[str, Any]:
        plan = self._rt_plan(call, call.params["RestoreTestingPlanName"])
        document = {**copy.deepcopy(plan.document), **copy.deepcopy(call.params["RestoreTestingPlan"])}
        self._check_plan(document)
        self._plan_defaults(document)
        plan.document = document
        plan.updated_at = self.clock.now()
        self._arm_plan(plan)
        return {"CreationTime": self.clock.datetime(plan.created_at), "RestoreTestingPlanArn": plan.arn,
                "RestoreTestingPlanName": plan.name, "UpdateTime": self.clock.datetime(plan.updated_at)}

    def before_DeleteRestoreTestingPlan(self, call: Call) -> dict[str, Any]:
        name = call.params["RestoreTestingPlanName"]
        plan = self._rt_plans.get((call.region, name))
        # DeleteRestoreTestingPlan models no ResourceNotFoundException: InvalidRequestException for both.
        if plan is None:
            raise AwsError("InvalidRequestException", f"Restore testing plan {name} does not exist")
        if plan.selections:
            raise AwsError("InvalidRequestException", f"Restore testing plan {name} has selections: "
                           "delete every restore testing selection of the plan first")
        if plan.schedule is not None:
            plan.schedule.cancel()
        del self._rt_plans[(call.region, name)]
        return {}

    def _check_plan(self, document: dict[str, Any]) -> None:
        """The plan's schedule, start window and recovery point selection, as [BC:backup] bounds them."""
        try:
            BackupSchedule.parse(document.get("ScheduleExpression"), document.get("ScheduleExpressionTimezone"))
        except ValueError as exc:
            raise invalid(f"ScheduleExpression: {exc}") from None
        hours = document.get("StartWindowHours")
        if hours is not None and not 1 <= hours <= MAX_START_WINDOW_HOURS:
            raise invalid(f"StartWindowHours must be 1 to {MAX_START_WINDOW_HOURS} hours, got {hours}")
        selection = document.get("RecoveryPointSelection") or {}
        for required in ("Algorithm", "RecoveryPointTypes", "IncludeVaults"):
            if not selection.get(required):
                raise AwsError("MissingParameterValueException", f"RecoveryPointSelection.{required} is required")
        if selection["Algorithm"] not in ALGORITHMS:
            raise invalid(f"RecoveryPointSelection.Algorithm must be one of {', '.join(ALGORITHMS)}, "
                          f"got {selection['Algorithm']!r}")
        days = selection.get("SelectionWindowDays")
        if days is not None and not 1 <= days <= MAX_SELECTION_WINDOW_DAYS:
            raise invalid(f"RecoveryPointSelection.SelectionWindowDays must be 1 to {MAX_SELECTION_WINDOW_DAYS}, got {days}")
        for key in ("IncludeVaults", "ExcludeVaults"):
            for pattern in selection.get(key) or []:
                parts = arn_parts(pattern)
                if pattern != "*" and (parts is None or parts[2] != "backup" or not parts[5].startswith("backup-vault:")):
                    raise invalid(f"RecoveryPointSelection.{key}: {pattern!r} is neither '*' nor a backup vault ARN "
                                  "(wildcards allowed: arn:aws:backup:*:*:backup-vault:name-*)")

    @staticmethod
    def _plan_defaults(document: dict[str, Any]) -> None:
        document.setdefault("ScheduleExpression", DEFAULT_SCHEDULE)
        document.setdefault("ScheduleExpressionTimezone", DEFAULT_TIMEZONE)
        document.setdefault("StartWindowHours", DEFAULT_START_WINDOW_HOURS)
        document["RecoveryPointSelection"].setdefault("SelectionWindowDays", DEFAULT_SELECTION_WINDOW_DAYS)

    def _plan_summary(self, plan: RestoreTestingPlan) -> dict[str, Any]:
        return compact({
            "CreationTime": self.clock.datetime(plan.created_at),
            "LastExecutionTime": self._date(plan.last_execution),
            "LastUpdateTime": self._date(plan.updated_at),
            "RestoreTestingPlanArn": plan.arn,
            "RestoreTestingPlanName": plan.name,
            "ScheduleExpression": plan.document["ScheduleExpression"],
            "ScheduleExpressionTimezone": plan.document["ScheduleExpressionTimezone"],
            "StartWindowHours": plan.document["StartWindowHours"],
        })

    def _rt_plan(self, call: Call, name: str) -> RestoreTestingPlan:
        plan = self._rt_plans.get((call.region, name))
        if plan is None:
            raise AwsError("ResourceNotFoundException", f"Restore testing plan {name} does not exist")
        return plan

    def _account(self, region: str) -> str:
        return str(self.backdoor(region, "sts").get_caller_identity()["Account"])

    # -- selections ----------------------------------------------------------------------------
    def before_CreateRestoreTestingSelection(self, call: Call) -> dict[str, Any]:
        plan = self._rt_plan(call, call.params["RestoreTestingPlanName"])
        spec = copy.deepcopy(call.params["RestoreTestingSelection"])
        name = spec["RestoreTestingSelectionName"]
        if not NAME.match(name):
            raise invalid(f"RestoreTestingSelectionName {name!r} must be 1 to 50 alphanumeric characters or underscores")
        if name in plan.selections:
            raise AwsError("AlreadyExistsException", f"Restore testing selection {name} already exists in plan {plan.name}")
        self._check_selection(spec)
        selection = RestoreTestingSelection(name, plan.name, spec, self.clock.now(), call.params.get("CreatorRequestId"))
        plan.selections[name] = selection
        return {"CreationTime": self.clock.datetime(selection.created_at), "RestoreTestingPlanArn": plan.arn,
                "RestoreTestingPlanName": plan.name, "RestoreTestingSelectionName": name}

    def before_GetRestoreTestingSelection(self, call: Call) -> dict[str, Any]:
        plan, selection = self._rt_selection(call)
        return {"RestoreTestingSelection": compact({
            **copy.deepcopy(selection.spec),
            "CreationTime": self.clock.datetime(selection.created_at),
            "CreatorRequestId": selection.creator_request_id,
            "RestoreTestingPlanName": plan.name,
        })}

    def before_ListRestoreTestingSelections(self, call: Call) -> dict[str, Any]:
        plan = self._rt_plan(call, call.params["RestoreTestingPlanName"])
        listed = [
            compact({
                "CreationTime": self.clock.datetime(s.created_at),
                "IamRoleArn": s.spec["IamRoleArn"],
                "ProtectedResourceType": s.spec["ProtectedResourceType"],
                "RestoreTestingPlanName": plan.name,
                "RestoreTestingSelectionName": s.name,
                "ValidationWindowHours": s.spec.get("ValidationWindowHours"),
            })
            for s in plan.selections.values()
        ]
        return paged(listed, call.params, "RestoreTestingSelections")

    def before_UpdateRestoreTestingSelection(self, call: Call) -> dict[str, Any]:
        plan, selection = self._rt_selection(call)
        spec = {**copy.deepcopy(selection.spec), **copy.deepcopy(call.params["RestoreTestingSelection"])}
        self._check_selection(spec)
        selection.spec = spec
        selection.updated_at = self.clock.now()
        return {"CreationTime": self.clock.datetime(selection.created_at), "RestoreTestingPlanArn": plan.arn,
                "RestoreTestingPlanName": plan.name, "RestoreTestingSelectionName": selection.name,
                "UpdateTime": self.clock.datetime(selection.updated_at)}

    def before_DeleteRestoreTestingSelection(self, call: Call) -> dict[str, Any]:
        plan, selection = self._rt_selection(call)
        del plan.selections[selection.name]
        return {}

    def _rt_selection(self, call: Call) -> tuple[RestoreTestingPlan, RestoreTestingSelection]:
        plan = self._rt_plan(call, call.params["RestoreTestingPlanName"])
        name = call.params["RestoreTestingSelectionName"]
        selection = plan.selections.get(name)
        if selection is None:
            raise AwsError("ResourceNotFoundException", f"Restore testing selection {name} does not exist in plan {plan.name}")
        return plan, selection

    @staticmethod
    def _check_selection(spec: dict[str, Any]) -> None:
        """[BC:backup] RestoreTestingSelectionForCreate: a type, a role, ARNs or ``*`` with conditions."""
        kind = spec.get("ProtectedResourceType")
        if kind not in PROTECTED_RESOURCE_TYPES:
            raise invalid(f"ProtectedResourceType must be one of {', '.join(PROTECTED_RESOURCE_TYPES)}, got {kind!r}")
        role = arn_parts(spec.get("IamRoleArn", ""))
        if role is None or role[2] != "iam":
            raise invalid(f"Invalid IamRoleArn {spec.get('IamRoleArn')!r}")
        arns = list(spec.get("ProtectedResourceArns") or [])
        conditions = spec.get("ProtectedResourceConditions") or {}
        if not arns and not conditions:
            raise AwsError("MissingParameterValueException",
                           "a restore testing selection needs ProtectedResourceArns or ProtectedResourceConditions")
        if "*" in arns and len(arns) > 1:
            raise invalid("ProtectedResourceArns is either the wildcard ['*'] or specific ARNs, not both")
        if conditions and arns and arns != ["*"]:
            raise invalid("ProtectedResourceConditions go with ProtectedResourceArns ['*'], not with specific ARNs")
        if len(arns) > MAX_PROTECTED_ARNS:
            raise invalid(f"ProtectedResourceArns holds at most {MAX_PROTECTED_ARNS} ARNs, got {len(arns)}")
        for arn in arns:
            if arn != "*" and (arn_parts(arn) is None or resource_type_of(arn) != kind):
                raise invalid(f"ProtectedResourceArns: {arn!r} is not the ARN of a {kind} resource")
        for operator, listed in conditions.items():
            if operator not in ("StringEquals", "StringNotEquals"):
                raise invalid(f"ProtectedResourceConditions: unknown operator {operator!r}; expected StringEquals or StringNotEquals")
            for condition in listed:
                if str(condition.get("Key", "")).lower().startswith("aws:"):
                    raise invalid(f"ProtectedResourceConditions.{operator}: tag key {condition['Key']!r} can't start with aws:")
        hours = spec.get("ValidationWindowHours")
        if hours is not None and not 0 <= hours <= MAX_VALIDATION_WINDOW_HOURS:
            raise invalid(f"ValidationWindowHours must be 0 to {MAX_VALIDATION_WINDOW_HOURS}, got {hours}")

    # -- the schedule and a run ----------------------------------------------------------------
    def _arm_plan(self, plan: RestoreTestingPlan, after: float | None = None) -> None:
        if plan.schedule is not None:
            plan.schedule.cancel()
        schedule = BackupSchedule.parse(plan.document["ScheduleExpression"], plan.document["ScheduleExpressionTimezone"])
        when = self.clock.seconds_at(schedule.next_after(self.clock.datetime(self.clock.now() if after is None else after)))
        plan.schedule = self.at(when, lambda: self._run_plan(plan, when), name=f"backup:restore-testing {plan.name}")

    def _run_plan(self, plan: RestoreTestingPlan, scheduled: float) -> None:
        """The scheduled time: one restore job per selected protected resource, then the next time."""
        plan.schedule = None
        if self._rt_plans.get((plan.region, plan.name)) is not plan:
            return
        if self.world.region_up(plan.region) and plan.selections:  # a lost Region runs no AWS Backup
            plan.last_execution = scheduled
            for selection in plan.selections.values():
                for resource_arn, point in self._chosen_points(plan, selection).items():
                    self._start_restore_test(plan, selection, resource_arn, point)
        self._arm_plan(plan, after=scheduled)

    def _chosen_points(self, plan: RestoreTestingPlan, selection: RestoreTestingSelection) -> dict[str, RecoveryPoint]:
        """Protected resource ARN -> the recovery point its restore test restores."""
        spec, choice = selection.spec, plan.document["RecoveryPointSelection"]
        if spec["ProtectedResourceType"] != "DynamoDB":
            return {}  # restores are emulated for DynamoDB tables only (docs/restore-testing.md)
        now = self.clock.now()
        oldest = now - 86400.0 * choice["SelectionWindowDays"]
        types = set(choice["RecoveryPointTypes"])
        candidates: dict[str, list[RecoveryPoint]] = {}
        for rp in self._recovery_points.values():
            kind = "CONTINUOUS" if ":recovery-point:continuous:" in rp.arn else "SNAPSHOT"
            if (rp.region != plan.region or rp.status != "AVAILABLE" or rp.resource_type != spec["ProtectedResourceType"]
                    or kind not in types or not oldest <= rp.creation <= now
                    or not any(_vault_matches(p, rp.vault_arn) for p in choice["IncludeVaults"])
                    or any(_vault_matches(p, rp.vault_arn) for p in choice.get("ExcludeVaults") or [])):
                continue
            candidates.setdefault(rp.resource_arn, []).append(rp)
        arns = list(spec.get("ProtectedResourceArns") or ["*"])
        chosen: dict[str, RecoveryPoint] = {}
        for resource_arn in sorted(candidates):
            if arns != ["*"] and resource_arn not in arns:
                continue
            if not self._conditions_hold(plan.region, resource_arn, spec.get("ProtectedResourceConditions") or {}):
                continue
            points = sorted(candidates[resource_arn], key=lambda rp: (rp.creation, rp.arn))
            if choice["Algorithm"] == "LATEST_WITHIN_WINDOW":
                chosen[resource_arn] = points[-1]
            else:
                rng = self.profile.rng(f"backup.restore-testing:{plan.name}/{selection.name}/{resource_arn}")
                chosen[resource_arn] = points[rng.randrange(len(points))]
        return chosen

    def _conditions_hold(self, region: str, resource_arn: str, conditions: dict[str, Any]) -> bool:
        """``StringEquals``/``StringNotEquals`` on the resource's tags (a deleted resource has none)."""
        if not conditions:
            return True
        try:
            listed = self.backdoor(region, "dynamodb").list_tags_of_resource(ResourceArn=resource_arn).get("Tags", [])
        except ClientError:
            listed = []
        tags = {t["Key"]: t["Value"] for t in listed}
        equal = all(tags.get(c["Key"]) == c["Value"] for c in conditions.get("StringEquals") or [])
        unequal = all(tags.get(c["Key"]) != c["Value"] for c in conditions.get("StringNotEquals") or [])
        return equal and unequal

    def _start_restore_test(self, plan: RestoreTestingPlan, selection: RestoreTestingSelection, resource_arn: str,
                            rp: RecoveryPoint) -> RestoreJob:
        overrides = {str(k).lower(): str(v) for k, v in (selection.spec.get("RestoreMetadataOverrides") or {}).items()}
        # AWS infers the new table's name ("Restore testing inferred metadata"); its form is not
        # documented: <source>-restore-test-<id> here, unless RestoreMetadataOverrides names it.
        job_serial = self._new_id().lower()[:8]
        target = overrides.get("targettablename") or f"{rp.resource_name}-restore-test-{job_serial}"[:255]
        job = self._create_restore_job(plan.region, rp, target, selection.spec["IamRoleArn"], None)
        job.created_by = {"RestoreTestingPlanArn": plan.arn}
        job.metadata = {"targetTableName": target}
        window = selection.spec.get("ValidationWindowHours")
        job.validation_window_hours = 0 if window is None else int(window)
        return job

    # -- after the restore: validation and deletion ----------------------------------------------
    def _restore_completed(self, job: RestoreJob) -> None:
        super()._restore_completed(job)
        if not job.created_by:
            return
        completed = job.completed if job.completed is not None else self.clock.now()
        window_end = completed + 3600.0 * (job.validation_window_hours or 0)
        job.deletion = self.at(window_end, lambda: self._window_closed(job), name=f"backup:validation-window {job.job_id}")
        self._tell(job)

    def _fail(self, job: Job, message: str) -> None:
        super()._fail(job, message)
        if isinstance(job, RestoreJob) and job.created_by:
            self._tell(job)

    def _tell(self, job: RestoreJob) -> None:
        record = self._restore_test_record(job)
        for listener in list(self._rt_listeners):
            listener(record)

    def _window_closed(self, job: RestoreJob) -> None:
        """The validation window's end: a validation still running timed out; the resource goes."""
        job.deletion = None
        if job.validation_status == "VALIDATING":
            # Where the docs are silent: a validation still VALIDATING at the window's end is TIMED_OUT.
            job.validation_status = "TIMED_OUT"
            job.validation_message = (job.validation_message or "") + " (the validation window closed)"
        self._delete_restored(job)

    def _delete_restored(self, job: RestoreJob) -> None:
        """Delete the restored table through DynamoDB's API (so the DynamoDB emulator sees it)."""
        if job.deletion_status is not None:
            return
        job.deletion_status = "DELETING"
        try:
            self._rt_principal.client("dynamodb", job.region).delete_table(TableName=job.target_table)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":  # gone already: nothing to delete
                job.deletion_status, job.deletion_message = "FAILED", error_message(exc)
                return
        except BotoCoreError as exc:  # the Region is lost
            job.deletion_status, job.deletion_message = "FAILED", str(exc)
            return
        job.deletion_status = "SUCCESSFUL"

    def before_PutRestoreValidationResult(self, call: Call) -> dict[str, Any]:
        job = self._restore_jobs.get(call.params["RestoreJobId"])
        if job is None or job.region != call.region:
            raise AwsError("ResourceNotFoundException", f"Restore job {call.params['RestoreJobId']} not found")
        if not job.created_by:
            raise AwsError("InvalidRequestException", f"Restore job {job.job_id} was not started by a restore testing plan")
        if job.state != "COMPLETED":
            raise AwsError("InvalidRequestException", f"Restore job {job.job_id} is {job.state}: only a COMPLETED "
                           "restore test can be validated")
        if job.deletion_status is not None:
            raise AwsError("InvalidRequestException", f"The validation of restore job {job.job_id} has ended: "
                           f"its restored resource is deleted ({job.deletion_status})")
        job.validation_status = call.params["ValidationStatus"]
        job.validation_message = call.params.get("ValidationStatusMessage")
        if job.validation_status in FINAL_VALIDATIONS:
            # "The data will be deleted upon the completion of the validation script or the end of
            # the specified retention period, whichever comes first." ([BC:backup] ValidationWindowHours)
            if job.deletion is not None:
                job.deletion.cancel()
                job.deletion = None
            self.at(self.clock.now(), lambda: self._delete_restored(job), name=f"backup:delete-restored {job.job_id}")
        return {}

    def _restore_test_fields(self, job: RestoreJob) -> dict[str, Any]:
        """The restore testing members of a restore job's description ([BC:backup] DescribeRestoreJobOutput)."""
        return compact({
            "CreatedBy": copy.deepcopy(job.created_by) if job.created_by else None,
            "ValidationStatus": job.validation_status,
            "ValidationStatusMessage": job.validation_message,
            "DeletionStatus": job.deletion_status,
            "DeletionStatusMessage": job.deletion_message,
        })

    def _restore_test_record(self, job: RestoreJob) -> dict[str, Any]:
        plan_arn = (job.created_by or {}).get("RestoreTestingPlanArn", "")
        plan_name = next((p.name for p in self._rt_plans.values() if p.arn == plan_arn),
                         str(plan_arn).rsplit(":", 1)[-1])
        return {
            **self._describe_restore_job(job),  # type: ignore[attr-defined]  # BackupEmulator's
            "Region": job.region,
            "TargetTableName": job.target_table,
            "StartedAt": job.started,
            "CompletedAt": job.completed,
            "SnapshotTime": job.recovery_point.creation,
            "RestoreTestingPlanName": plan_name,
        }


def _vault_matches(pattern: str, vault_arn: str) -> bool:
    """``IncludeVaults``/``ExcludeVaults``: ``*``, an ARN, or an ARN with ``*`` wildcards."""
    return pattern == "*" or fnmatch.fnmatchcase(vault_arn, pattern)
