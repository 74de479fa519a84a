"""Plan executions on the clock ([ARC-DG:region-switch] "Executing a plan").

- ``StartPlanExecution(targetRegion, action, mode)`` runs the plan's workflow for that action and
  Region (``workflowTargetRegion``, or a workflow without one): ``activate`` R activates R and
  deactivates the other Region; ``deactivate`` R the reverse. The execution is ``pending``, then
  ``inProgress`` from the same clock instant; steps run in order.
- A failed step pauses the execution (``pausedByFailedStep``) until ``UpdatePlanExecution``
  ``resume`` (the step runs again) or ``UpdatePlanExecutionStep`` ``skip``; ``CancelPlanExecution``
  ends it ``canceled``. A manual approval makes it ``pendingManualApproval``.
- Done: ``completed``, with ``actualRecoveryTime`` (ISO 8601) from its start to the end of its
  last step: the plan's own measure of the recovery time.
"""
from __future__ import annotations

from typing import Any

from pytest_drtest.durations import format_iso_duration
from pytest_drtest.emulation.arc_region_switch.blocks import ExecutionBlocks, Finish
from pytest_drtest.emulation.arc_region_switch.models import (
    CANCELED,
    COMPLETED,
    IN_PROGRESS,
    PAUSED_BY_FAILED_STEP,
    PENDING,
    PENDING_APPROVAL,
    PENDING_STEP_APPROVAL,
    RUNNING,
    SKIPPED,
    STEP_CANCELED,
    STEP_COMPLETED,
    STEP_FAILED,
    Plan,
    PlanExecution,
    StepRun,
)


class PlanExecutions(ExecutionBlocks):
    """Executions by id."""

    def _setup_executions(self) -> None:
        self._setup_blocks()
        self.plans: dict[str, Plan] = {}
        self.executions: dict[str, PlanExecution] = {}

    def start(self, plan: Plan, region: str, target: str, action: str, mode: str, comment: str = "") -> PlanExecution:
        workflow = next(
            (w for w in plan.body["workflows"] if w["workflowTargetAction"] == action and w.get("workflowTargetRegion") in (None, target)),
            None,
        )
        if workflow is None:
            raise LookupError(f"the plan has no {action} workflow for {target}")
        other = next(r for r in plan.body["regions"] if r != target)
        activate, deactivate = (target, other) if action == "activate" else (other, target)
        rng = self.profile.rng("arc.execution-ids")
        ident = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(16))
        self.sample_capacity(plan)
        exe = PlanExecution(ident, plan, action, mode, activate, deactivate, list(workflow.get("steps") or []),
                            self.clock.now(), region, comment)
        self.executions[ident] = exe
        self._event(exe, "executionPending")
        self.later(0, lambda: self._begin(exe), name=f"arc {ident} start")
        return exe

    def _begin(self, exe: PlanExecution) -> None:
        if exe.state != PENDING:
            return
        exe.state = IN_PROGRESS
        self._event(exe, "executionStarted")
        self._next(exe)

    def _event(self, exe: PlanExecution, kind: str, step: dict[str, Any] | None = None, error: str | None = None) -> None:
        event: dict[str, Any] = {"eventId": f"{exe.id}-{len(exe.events) + 1:04d}", "timestamp": self.clock.datetime(), "type": kind}
        if exe.events:
            event["previousEventId"] = exe.events[-1]["eventId"]
        if step is not None:
            event["stepName"], event["executionBlockType"] = step["name"], step["executionBlockType"]
        if error is not None:
            event["error"] = error
        exe.events.append(event)

    def _next(self, exe: PlanExecution) -> None:
        if exe.done or exe.state == PAUSED_BY_FAILED_STEP:
            return
        if exe.current >= len(exe.steps):
            exe.state, exe.end = COMPLETED, self.clock.now()
            self._event(exe, "executionSucceeded")
            return
        step = exe.steps[exe.current]

        def finished(error: str | None) -> None:
            if exe.done:
                return
            if error is None:
                exe.current += 1
                self._next(exe)
            else:
                exe.state = PAUSED_BY_FAILED_STEP
                self._event(exe, "executionPaused", step, error)

        self.run_step(exe, step, finished)

    def run_step(self, exe: PlanExecution, step: dict[str, Any], finish: Finish) -> None:
        run = exe.runs.setdefault(step["name"], StepRun(step["name"], step["executionBlockType"]))
        run.token += 1
        token = run.token
        run.status, run.start, run.end, run.error = RUNNING, self.clock.now(), None, None
        self._event(exe, "stepStarted", step)

        def done(error: str | None) -> None:
            if run.token != token or run.status not in (RUNNING, PENDING_STEP_APPROVAL) or exe.done:
                return
            run.token += 1
            run.end = self.clock.now()
            if error is None:
                run.status = STEP_COMPLETED
                self._event(exe, "stepSucceeded", step)
            else:
                run.status, run.error = STEP_FAILED, error
                self._event(exe, "stepFailed", step, error)
            finish(error)

        config = next(iter(step["executionBlockConfiguration"].values()))
        minutes = config.get("timeoutMinutes") if isinstance(config, dict) else None
        if minutes:
            self.later(float(minutes) * 60, lambda: done(f"step {step['name']} timed out after {minutes} minutes"),
                       name=f"arc {exe.id} {step['name']} timeout")
        self.run_block(exe, step, done)

    def await_approval(self, exe: PlanExecution, step_name: str, finish: Finish) -> None:
        run = exe.runs[step_name]
        run.status = PENDING_STEP_APPROVAL
        exe.state = PENDING_APPROVAL
        self._event(exe, "stepPendingApproval", next(s for s in exe.plan.steps() if s["name"] == step_name))
        run.approve = finish
        if self.auto_approve:
            delay = self.profile.sample("manual_approval_time", stream="arc.approval")
            exe.waiting = self.later(delay, lambda: self.approve(exe, step_name, True), name=f"arc {exe.id} {step_name} approval")

    # -- from outside -----------------------------------------------------------------------------------
    def approve(self, exe: PlanExecution, step_name: str, approved: bool) -> None:
        run = exe.runs.get(step_name)
        if run is None or run.status != PENDING_STEP_APPROVAL:
            raise ValueError(f"step {step_name} of execution {exe.id} is not waiting for an approval")
        if exe.waiting is not None:
            exe.waiting.cancel()
            exe.waiting = None
        exe.state = IN_PROGRESS
        finish, run.approve = run.approve, None
        finish(None if approved else f"step {step_name} was declined")

    def resume(self, exe: PlanExecution) -> None:
        if exe.state != PAUSED_BY_FAILED_STEP:
            raise ValueError(f"execution {exe.id} is not paused by a failed step ({exe.state})")
        exe.state = IN_PROGRESS
        self._next(exe)

    def skip(self, exe: PlanExecution, step_name: str) -> None:
        if exe.current >= len(exe.steps) or exe.steps[exe.current]["name"] != step_name or exe.state != PAUSED_BY_FAILED_STEP:
            raise ValueError(f"step {step_name} of execution {exe.id} is not the failed step the execution is paused on")
        run = exe.runs[step_name]
        run.status, run.end = SKIPPED, self.clock.now()
        self._event(exe, "stepSkipped", exe.steps[exe.current])
        exe.state = IN_PROGRESS
        exe.current += 1
        self._next(exe)

    def cancel(self, exe: PlanExecution) -> None:
        if exe.done:
            raise ValueError(f"execution {exe.id} has already ended ({exe.state})")
        if exe.waiting is not None:
            exe.waiting.cancel()
        for run in exe.runs.values():
            if run.status in (RUNNING, PENDING_STEP_APPROVAL):
                run.status, run.end, run.token = STEP_CANCELED, self.clock.now(), run.token + 1
        exe.state, exe.end = CANCELED, self.clock.now()
        self._event(exe, "executionCanceled")

    def recovery_time(self, exe: PlanExecution) -> str | None:
        """``actualRecoveryTime`` of a completed execution."""
        if exe.state != COMPLETED or exe.end is None:
            return None
        return format_iso_duration(exe.end - exe.start)
