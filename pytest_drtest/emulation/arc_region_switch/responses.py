"""The ARC Region switch emulator: plans validated and executed on the clock.

moto (5.2.5) has no ARC Region switch; botocore has its model ([BC:arc-region-switch]), so the
service is emulated whole: every operation below is answered here. Plans are global (one per
account, seen from every Region); executions are started from a Region that is up (the activated
Region's, when the other is lost).
"""
from __future__ import annotations

import copy
from typing import Any

from pytest_drtest.emulation.arc_region_switch.execution import PlanExecutions
from pytest_drtest.emulation.arc_region_switch.models import Plan, PlanExecution
from pytest_drtest.emulation.arc_region_switch.plans import validate_plan
from pytest_drtest.emulation.core import AwsError, Call, Emulation
from pytest_drtest.emulation.shapes import ShapeError


class ArcRegionSwitchEmulator(PlanExecutions):
    """ARC Region switch (see :mod:`pytest_drtest.emulation.arc_region_switch.execution`)."""

    service = "arc-region-switch"

    def __init__(self, emulation: Emulation) -> None:
        super().__init__(emulation)
        self._setup_executions()

    # -- plans ------------------------------------------------------------------------------------------
    def before_CreatePlan(self, call: Call) -> dict[str, Any]:
        body = {k: v for k, v in call.params.items()}
        try:
            validate_plan(body)
        except ShapeError as exc:
            raise AwsError("IllegalArgumentException", str(exc)) from None
        if any(p.name == body["name"] and not p.deleted for p in self.plans.values()):
            raise AwsError("IllegalArgumentException", f"a plan named {body['name']} exists")
        account = self.api.client("sts", call.region).get_caller_identity()["Account"]
        rng = self.profile.rng("arc.plan-ids")
        suffix = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(6))
        plan = Plan(f"arn:aws:arc-region-switch::{account}:plan/{body['name']}:{suffix}", copy.deepcopy(body), self.clock.now())
        self._create_health_checks(plan, call.region)
        self.sample_capacity(plan)
        self.plans[plan.arn] = plan
        return {"plan": self._plan_row(plan)}

    def _create_health_checks(self, plan: Plan, region: str) -> None:
        """One Route 53 health check per Region and health-check step: calculated with no child and a
        threshold of 0 (healthy); the execution inverts the deactivated Region's."""
        r53 = self.api.client("route53", region)
        for step in plan.steps():
            if step["executionBlockType"] != "Route53HealthCheck":
                continue
            for plan_region in plan.body["regions"]:
                check = r53.create_health_check(
                    CallerReference=f"{plan.arn}:{step['name']}:{plan_region}",
                    HealthCheckConfig={"Type": "CALCULATED", "HealthThreshold": 0, "ChildHealthChecks": []},
                )["HealthCheck"]["Id"]
                plan.health_checks[(step["name"], plan_region)] = check

    def _plan(self, arn: str) -> Plan:
        plan = self.plans.get(arn)
        if plan is None or plan.deleted:
            raise AwsError("ResourceNotFoundException", f"plan {arn} not found", 404)
        return plan

    def _plan_row(self, plan: Plan) -> dict[str, Any]:
        row = {k: copy.deepcopy(v) for k, v in plan.body.items() if k != "tags"}
        row.update(arn=plan.arn, owner=plan.arn.split(":")[4], version=plan.version, updatedAt=self.clock.datetime(plan.created))
        return row

    def before_GetPlan(self, call: Call) -> dict[str, Any]:
        return {"plan": self._plan_row(self._plan(call.params["arn"]))}

    def before_GetPlanInRegion(self, call: Call) -> dict[str, Any]:
        return self.before_GetPlan(call)

    def before_ListPlans(self, call: Call) -> dict[str, Any]:
        keys = ("arn", "owner", "name", "regions", "recoveryApproach", "primaryRegion", "version", "updatedAt", "description",
                "executionRole", "recoveryTimeObjectiveMinutes")
        rows = [{k: v for k, v in self._plan_row(p).items() if k in keys} for p in self.plans.values() if not p.deleted]
        return {"plans": rows}

    def before_ListPlansInRegion(self, call: Call) -> dict[str, Any]:
        return self.before_ListPlans(call)

    def before_DeletePlan(self, call: Call) -> dict[str, Any]:
        plan = self._plan(call.params["arn"])
        if any(e.plan is plan and not e.done for e in self.executions.values()):
            raise AwsError("IllegalStateException", f"plan {plan.arn} has an execution in progress")
        plan.deleted = True
        return {}

    def before_ListRoute53HealthChecks(self, call: Call) -> dict[str, Any]:
        plan = self._plan(call.params["arn"])
        rows = []
        for step in plan.steps():
            if step["executionBlockType"] != "Route53HealthCheck":
                continue
            config = step["executionBlockConfiguration"]["route53HealthCheckConfig"]
            for region in plan.body["regions"]:
                rows.append({"hostedZoneId": config["hostedZoneId"], "recordName": config["recordName"], "region": region,
                             "healthCheckId": plan.health_checks[(step["name"], region)]})
        return {"healthChecks": rows}

    def before_ListRoute53HealthChecksInRegion(self, call: Call) -> dict[str, Any]:
        return self.before_ListRoute53HealthChecks(call)

    # -- executions ---------------------------------------------------------------------------------------
    def before_StartPlanExecution(self, call: Call) -> dict[str, Any]:
        plan = self._plan(call.params["planArn"])
        target = call.params["targetRegion"]
        if target not in plan.body["regions"]:
            raise AwsError("IllegalArgumentException", f"{target} is not a Region of the plan ({', '.join(plan.body['regions'])})")
        if any(e.plan is plan and not e.done for e in self.executions.values()):
            raise AwsError("IllegalStateException", f"plan {plan.arn} has an execution in progress")
        try:
            exe = self.start(plan, call.region, target, call.params["action"], call.params.get("mode", "graceful"),
                             call.params.get("comment", ""))
        except LookupError as exc:
            raise AwsError("IllegalArgumentException", str(exc)) from None
        return {"executionId": exe.id, "plan": plan.arn, "planVersion": plan.version, "activateRegion": exe.activate,
                "deactivateRegion": exe.deactivate}

    def _execution(self, call: Call) -> PlanExecution:
        exe = self.executions.get(call.params["executionId"])
        if exe is None or exe.plan.arn != call.params["planArn"]:
            raise AwsError("ResourceNotFoundException", f"execution {call.params['executionId']} not found", 404)
        return exe

    def describe(self, exe: PlanExecution) -> dict[str, Any]:
        out: dict[str, Any] = {
            "planArn": exe.plan.arn, "executionId": exe.id, "version": exe.plan.version, "comment": exe.comment,
            "startTime": self.clock.datetime(exe.start), "mode": exe.mode, "executionState": exe.state,
            "executionAction": exe.action, "executionRegion": exe.region, "updatedAt": self.clock.datetime(),
            "stepStates": [self._step_state(exe, run.name) for run in exe.runs.values()],
        }
        if exe.end is not None:
            out["endTime"] = self.clock.datetime(exe.end)
        recovery = self.recovery_time(exe)
        if recovery is not None:
            out["actualRecoveryTime"] = recovery
        return out

    def _step_state(self, exe: PlanExecution, name: str) -> dict[str, Any]:
        run = exe.runs[name]
        row: dict[str, Any] = {"name": name, "status": run.status, "stepMode": exe.mode}
        if run.start is not None:
            row["startTime"] = self.clock.datetime(run.start)
        if run.end is not None:
            row["endTime"] = self.clock.datetime(run.end)
        return row

    def before_GetPlanExecution(self, call: Call) -> dict[str, Any]:
        out = self.describe(self._execution(call))
        out["plan"] = self._plan_row(self._execution(call).plan)
        return out

    def before_ListPlanExecutions(self, call: Call) -> dict[str, Any]:
        plan = self._plan(call.params["planArn"])
        wanted = call.params.get("state")
        rows = []
        for exe in self.executions.values():
            if exe.plan is plan and wanted in (None, exe.state):
                row = self.describe(exe)
                row.pop("stepStates", None)
                rows.append(row)
        return {"items": rows}

    def before_ListPlanExecutionEvents(self, call: Call) -> dict[str, Any]:
        exe = self._execution(call)
        wanted = call.params.get("name")
        return {"items": [dict(e) for e in exe.events if wanted in (None, e.get("stepName"))]}

    def before_ApprovePlanExecutionStep(self, call: Call) -> dict[str, Any]:
        try:
            self.approve(self._execution(call), call.params["stepName"], call.params["approval"] == "approve")
        except ValueError as exc:
            raise AwsError("IllegalStateException", str(exc)) from None
        return {}

    def before_CancelPlanExecution(self, call: Call) -> dict[str, Any]:
        try:
            self.cancel(self._execution(call))
        except ValueError as exc:
            raise AwsError("IllegalStateException", str(exc)) from None
        return {}

    def before_UpdatePlanExecution(self, call: Call) -> dict[str, Any]:
        exe = self._execution(call)
        action = call.params["action"]
        try:
            if action == "resume":
                self.resume(exe)
            elif action in ("switchToUngraceful", "switchToGraceful"):
                exe.mode = "ungraceful" if action == "switchToUngraceful" else "graceful"
            else:
                raise ValueError(f"action {action} is not modeled (resume, switchToGraceful, switchToUngraceful are)")
        except ValueError as exc:
            raise AwsError("IllegalStateException", str(exc)) from None
        return {}

    def before_UpdatePlanExecutionStep(self, call: Call) -> dict[str, Any]:
        exe = self._execution(call)
        if call.params["actionToTake"] != "skip":
            raise AwsError("IllegalArgumentException", "only actionToTake skip is modeled")
        try:
            self.skip(exe, call.params["stepName"])
        except ValueError as exc:
            raise AwsError("IllegalStateException", str(exc)) from None
        return {}
