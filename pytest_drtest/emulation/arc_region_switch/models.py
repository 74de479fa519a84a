"""Region switch plans and executions: states as [BC:arc-region-switch] ``ExecutionState``,
``StepStatus`` and ``ExecutionEventType`` name them."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# ExecutionState
PENDING, IN_PROGRESS, COMPLETED, CANCELED = "pending", "inProgress", "completed", "canceled"
PAUSED_BY_FAILED_STEP, PENDING_APPROVAL, FAILED = "pausedByFailedStep", "pendingManualApproval", "failed"
EXECUTION_DONE = (COMPLETED, CANCELED, FAILED)
# StepStatus
NOT_STARTED, RUNNING, STEP_FAILED, STEP_COMPLETED = "notStarted", "running", "failed", "completed"
STEP_CANCELED, SKIPPED, PENDING_STEP_APPROVAL = "canceled", "skipped", "pendingApproval"


@dataclass
class Plan:
    arn: str
    body: dict[str, Any]  # the CreatePlan input (API form)
    created: float
    version: str = "1"
    health_checks: dict[tuple[str, str], str] = field(default_factory=dict)  # (step name, region) -> health check id
    capacity: dict[str, int] = field(default_factory=dict)  # ASG ARN -> the largest desired capacity seen
    deleted: bool = False

    @property
    def name(self) -> str:
        return str(self.body["name"])

    def steps(self) -> list[dict[str, Any]]:
        """Every step of every workflow, Parallel members included."""
        return plan_steps(self.body)


def plan_steps(plan: dict[str, Any]) -> list[dict[str, Any]]:
    """Every step of every workflow of a plan (API shape), Parallel members included."""
    out: list[dict[str, Any]] = []

    def walk(steps: list[dict[str, Any]]) -> None:
        for step in steps:
            out.append(step)
            if step["executionBlockType"] == "Parallel":
                walk(step["executionBlockConfiguration"]["parallelConfig"]["steps"])

    for workflow in plan["workflows"]:
        walk(workflow.get("steps") or [])
    return out


@dataclass
class StepRun:
    name: str
    block: str
    status: str = NOT_STARTED
    start: float | None = None
    end: float | None = None
    error: str | None = None
    token: int = 0  # bumped at each attempt: late callbacks of an old attempt are ignored
    approve: Any = None  # a manual approval's finish(error) while it waits


@dataclass
class PlanExecution:
    id: str
    plan: Plan
    action: str  # activate | deactivate
    mode: str  # graceful | ungraceful
    activate: str  # the Region being activated
    deactivate: str
    steps: list[dict[str, Any]]  # the workflow's top-level steps, in order
    start: float
    region: str  # the Region the execution was started in
    comment: str = ""
    state: str = PENDING
    end: float | None = None
    runs: dict[str, StepRun] = field(default_factory=dict)
    current: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)
    waiting: Any = None  # the approver's handle

    @property
    def done(self) -> bool:
        return self.state in EXECUTION_DONE
