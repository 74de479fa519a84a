"""Backup plans and selections: what moto lacks (selections, ``UpdateBackupPlan``), in clock time.

moto stores plans (``CopyActions`` echoed) but raises NotImplementedError for selections and
``UpdateBackupPlan``. Selections follow [BC:backup] BackupSelection: ``Resources`` (a wildcard
only at the end), ``NotResources``, ``ListOfTags``, ``Conditions``, at most 500 ARNs or 30 with
wildcards. Every change re-arms the plan's schedules.
"""
from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from botocore.exceptions import ClientError

from pytest_drtest.emulation.backup.api import compact, invalid, paged
from pytest_drtest.emulation.backup.models import (
    DEFAULT_COMPLETION_WINDOW_MINUTES,
    DEFAULT_START_WINDOW_MINUTES,
    MAX_SELECTION_ARNS,
    MAX_SELECTION_WILDCARDS,
    SELECTION_NAME,
    Plan,
    PlanVersion,
    Selection,
    arn_parts,
    vault_of,
)
from pytest_drtest.emulation.backup.schedules import (
    DEFAULT_SCHEDULE,
    DEFAULT_TIMEZONE,
    BackupSchedule,
    Schedules,
)
from pytest_drtest.emulation.core import AwsError, Call


class Plans(Schedules):
    """``CreateBackupPlan`` and its kin, and ``CreateBackupSelection`` and its kin."""

    def before_CreateBackupPlan(self, call: Call) -> dict[str, Any] | None:
        self._validate_rules(call.params.get("BackupPlan", {}).get("Rules", []))
        return None

    def after_CreateBackupPlan(self, call: Call) -> None:
        parsed = call.parsed or {}
        self._plan_created[parsed["BackupPlanId"]] = self.clock.now()
        parsed["CreationDate"] = self.clock.datetime()

    def before_UpdateBackupPlan(self, call: Call) -> dict[str, Any]:
        plan = self._plan(call.region, call.params["BackupPlanId"])
        if plan is None or plan.deleted_at is not None:
            raise AwsError("ResourceNotFoundException", "Failed reading Backup plan with provided version")
        document = copy.deepcopy(call.params["BackupPlan"])
        self._validate_rules(document.get("Rules", []))
        old_ids = {rule["RuleName"]: rule.get("RuleId") for rule in plan.current.document.get("Rules", [])}
        for rule in document.get("Rules", []):
            rule.setdefault("ScheduleExpression", DEFAULT_SCHEDULE)
            rule.setdefault("StartWindowMinutes", DEFAULT_START_WINDOW_MINUTES)
            rule.setdefault("CompletionWindowMinutes", DEFAULT_COMPLETION_WINDOW_MINUTES)
            rule.setdefault("ScheduleExpressionTimezone", DEFAULT_TIMEZONE)
            rule["RuleId"] = old_ids.get(rule["RuleName"]) or self._new_id().lower()
        # "Updates the specified backup plan. The new version is uniquely identified by its ID."
        version = PlanVersion(self._new_version_id(), document, self.clock.now())
        plan.versions.append(version)
        plan.updated = True
        self._reschedule(plan)
        return compact({
            "BackupPlanId": plan.plan_id,
            "BackupPlanArn": plan.arn,
            "CreationDate": self.clock.datetime(),
            "VersionId": version.version_id,
            "AdvancedBackupSettings": document.get("AdvancedBackupSettings"),
        })

    def before_GetBackupPlan(self, call: Call) -> dict[str, Any] | None:
        plan = self._plans.get(call.params["BackupPlanId"])
        if plan is None or not plan.updated or plan.region != call.region:
            return None
        wanted = call.params.get("VersionId")
        versions = [v for v in plan.versions if wanted in (None, v.version_id)]
        if not versions:
            raise AwsError("ResourceNotFoundException", "Failed reading Backup plan with provided version")
        version = versions[-1]
        return compact({
            "BackupPlan": copy.deepcopy(version.document),
            "BackupPlanId": plan.plan_id,
            "BackupPlanArn": plan.arn,
            "VersionId": version.version_id,
            "CreatorRequestId": plan.creator_request_id,
            "CreationDate": self._date(version.created_at) or self._date(self._plan_created.get(plan.plan_id)),
            "DeletionDate": self._date(plan.deleted_at),
            "LastExecutionDate": self._date(plan.last_execution),
            "AdvancedBackupSettings": version.document.get("AdvancedBackupSettings"),
        })

    def after_GetBackupPlan(self, call: Call) -> None:
        self._rewrite_plan(call.parsed or {})

    def after_ListBackupPlans(self, call: Call) -> None:
        for entry in (call.parsed or {}).get("BackupPlansList", []):
            self._rewrite_plan(entry)

    def before_DeleteBackupPlan(self, call: Call) -> dict[str, Any] | None:
        plan = self._plan(call.region, call.params["BackupPlanId"])
        if plan is not None and plan.selections:
            # AWS: "A backup plan can only be deleted after all associated selections of
            # resources have been deleted." ([BC:backup] DeleteBackupPlan)
            message = "Related backup plan selections must be deleted prior to backup plan deletion"
            raise AwsError("InvalidRequestException", message)
        return None

    def after_DeleteBackupPlan(self, call: Call) -> None:
        parsed = call.parsed or {}
        plan_id = call.params["BackupPlanId"]
        self._plan_deleted[plan_id] = self.clock.now()
        parsed["DeletionDate"] = self.clock.datetime()
        plan = self._plans.get(plan_id)
        if plan is not None:
            plan.deleted_at = self.clock.now()
            parsed["VersionId"] = plan.current.version_id
            self._reschedule(plan)

    def _validate_rules(self, rules: Iterable[dict[str, Any]]) -> None:
        for rule in rules:
            try:
                BackupSchedule.parse(rule.get("ScheduleExpression"), rule.get("ScheduleExpressionTimezone"))
            except ValueError as exc:
                raise invalid(str(exc)) from None
            for action in rule.get("CopyActions") or []:
                destination = action.get("DestinationBackupVaultArn", "")
                if vault_of(destination) is None:
                    raise invalid(f"Invalid DestinationBackupVaultArn {destination!r}")

    def _plan(self, region: str, plan_id: str) -> Plan | None:
        """The plan ``plan_id`` of ``region`` (loaded from moto on first use), or None."""
        plan = self._plans.get(plan_id)
        if plan is not None:
            return plan if plan.region == region else None
        try:
            got = self.backdoor(region).get_backup_plan(BackupPlanId=plan_id)
        except ClientError:
            return None
        arn = got["BackupPlanArn"]
        document = copy.deepcopy(got["BackupPlan"])
        plan = Plan(
            plan_id=plan_id,
            arn=arn,
            region=region,
            account=arn.split(":")[4],
            creator_request_id=got.get("CreatorRequestId"),
            versions=[PlanVersion(got["VersionId"], document, self._plan_created.get(plan_id))],
            deleted_at=self._plan_deleted.get(plan_id),
        )
        if got.get("DeletionDate") is not None and plan.deleted_at is None:
            plan.deleted_at = self.clock.now()
        self._plans[plan_id] = plan
        return plan

    def _rewrite_plan(self, entry: dict[str, Any]) -> None:
        plan_id = entry.get("BackupPlanId", "")
        if plan_id in self._plan_created:
            entry["CreationDate"] = self.clock.datetime(self._plan_created[plan_id])
        if plan_id in self._plan_deleted:
            entry["DeletionDate"] = self.clock.datetime(self._plan_deleted[plan_id])
        plan = self._plans.get(plan_id)
        if plan is None:
            return
        if plan.last_execution is not None:
            entry["LastExecutionDate"] = self.clock.datetime(plan.last_execution)
        if plan.updated:
            entry["VersionId"] = plan.current.version_id
            entry["BackupPlanName"] = plan.current.document.get("BackupPlanName")
            if plan.current.created_at is not None:
                entry["CreationDate"] = self.clock.datetime(plan.current.created_at)

    # -- selections -------------------------------------------------------------------------
    def before_CreateBackupSelection(self, call: Call) -> dict[str, Any]:
        plan = self._plan(call.region, call.params["BackupPlanId"])
        if plan is None or plan.deleted_at is not None:
            # CreateBackupSelection models no ResourceNotFoundException.
            raise invalid(f"Invalid backup plan id {call.params['BackupPlanId']}")
        spec = copy.deepcopy(call.params["BackupSelection"])
        self._validate_selection(spec)
        creator = call.params.get("CreatorRequestId")
        for other in plan.selections.values():
            same_request = creator is not None and other.creator_request_id == creator
            if other.spec["SelectionName"] == spec["SelectionName"] or same_request:
                message = f"Backup selection {spec['SelectionName']} already exists in plan {plan.plan_id}"
                raise AwsError("AlreadyExistsException", message)
        selection = Selection(self._new_id().lower(), plan.plan_id, spec, self.clock.now(), creator)
        plan.selections[selection.selection_id] = selection
        self._reschedule(plan)
        return {
            "SelectionId": selection.selection_id,
            "BackupPlanId": plan.plan_id,
            "CreationDate": self.clock.datetime(selection.created_at),
        }

    def before_GetBackupSelection(self, call: Call) -> dict[str, Any]:
        _plan, selection = self._selection(call)
        return compact({
            "BackupSelection": copy.deepcopy(selection.spec),
            "SelectionId": selection.selection_id,
            "BackupPlanId": selection.plan_id,
            "CreationDate": self.clock.datetime(selection.created_at),
            "CreatorRequestId": selection.creator_request_id,
        })

    def before_ListBackupSelections(self, call: Call) -> dict[str, Any]:
        plan = self._plan(call.region, call.params["BackupPlanId"])
        if plan is None:
            raise AwsError("ResourceNotFoundException", f"Backup plan {call.params['BackupPlanId']} not found")
        members = [
            compact({
                "SelectionId": s.selection_id,
                "SelectionName": s.spec["SelectionName"],
                "BackupPlanId": s.plan_id,
                "CreationDate": self.clock.datetime(s.created_at),
                "CreatorRequestId": s.creator_request_id,
                "IamRoleArn": s.spec["IamRoleArn"],
            })
            for s in plan.selections.values()
        ]
        return paged(members, call.params, "BackupSelectionsList")

    def before_DeleteBackupSelection(self, call: Call) -> dict[str, Any]:
        plan, selection = self._selection(call)
        del plan.selections[selection.selection_id]
        self._reschedule(plan)
        return {}

    @staticmethod
    def _validate_selection(spec: dict[str, Any]) -> None:
        if not SELECTION_NAME.match(spec.get("SelectionName", "")):
            raise invalid("SelectionName must contain 1 to 50 alphanumeric or '-_.' characters")
        role = arn_parts(spec.get("IamRoleArn", ""))
        if role is None or role[2] != "iam":
            raise invalid(f"Invalid IamRoleArn {spec.get('IamRoleArn')!r}")
        for key in ("Resources", "NotResources"):
            arns = spec.get(key) or []
            wildcards = [arn for arn in arns if "*" in arn]
            if len(arns) > MAX_SELECTION_ARNS or len(wildcards) > MAX_SELECTION_WILDCARDS:
                limits = f"at most {MAX_SELECTION_ARNS} ARNs, or {MAX_SELECTION_WILDCARDS} with wildcards"
                raise invalid(f"{key} holds {limits}")
            for arn in arns:
                if arn == "*":
                    continue
                if arn_parts(arn) is None:
                    raise invalid(f"Invalid ARN {arn!r} in {key}")
                if "*" in arn[:-1]:
                    raise invalid(f"Invalid ARN pattern {arn!r} in {key}: a wildcard may only end the ARN")

    def _selection(self, call: Call) -> tuple[Plan, Selection]:
        plan = self._plan(call.region, call.params["BackupPlanId"])
        selection = plan.selections.get(call.params["SelectionId"]) if plan else None
        if plan is None or selection is None:
            raise AwsError("ResourceNotFoundException", f"Backup selection {call.params['SelectionId']} not found")
        return plan, selection
