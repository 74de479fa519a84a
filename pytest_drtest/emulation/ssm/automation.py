"""Automation executions on the clock: steps in order, retries, timeouts, failure handling.

[SSM-UG:automation-actions] "Properties shared by all actions":

- ``StartAutomationExecution`` answers at once; the execution is ``Pending`` and ``InProgress``
  from the same clock instant; each step ``InProgress`` then ``Success``, ``Failed``,
  ``TimedOut`` (``timeoutSeconds``) or ``Cancelled``; an approval step ``Waiting``.
- A failed step is retried up to ``maxAttempts``; then ``onFailure``: ``Abort`` (the default)
  ends the execution ``Failed``; ``Continue`` goes on to the next step; ``step:<name>`` jumps.
  A failed step with ``isCritical`` (default true) makes the final status ``Failed``.
- After a step: ``isEnd`` ends the execution; ``nextStep`` (or a branch's choice) jumps; else the
  next step in the list. The execution's ``Outputs`` are the document's ``outputs``.
- ``StopAutomationExecution``: ``Cancelling``, then ``Cancelled``.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from pytest_drtest.emulation.ssm.models import (
    CANCELLED,
    CANCELLING,
    FAILED,
    IN_PROGRESS,
    PENDING,
    SUCCESS,
    TIMED_OUT,
    WAITING,
    Document,
    Execution,
    StepRun,
)
from pytest_drtest.emulation.ssm.steps import AutomationSteps, StepFailed
from pytest_drtest.emulation.ssm.variables import Unresolved, substitute


class InvalidParameters(ValueError):
    """The parameters of ``StartAutomationExecution`` do not fit the document."""


class AutomationEngine(AutomationSteps):
    """Executions by id; ``start`` one, ``signal`` it, ``stop_execution`` it."""

    def _setup_engine(self) -> None:
        self._setup_steps()
        self.executions: dict[str, Execution] = {}
        self._accounts: dict[str, str] = {}

    # -- starting ---------------------------------------------------------------------------------
    def start(self, region: str, document: Document, raw: dict[str, list[str]]) -> Execution:
        params = self._parameters(document, raw)
        rng = self.profile.rng("ssm.execution-ids")
        ident = "-".join("".join(rng.choice("0123456789abcdef") for _ in range(n)) for n in (8, 4, 4, 4, 12))
        exe = Execution(ident, region, document, params, dict(raw), self.clock.now())
        self.executions[ident] = exe
        self.later(0, lambda: self._begin(exe), name=f"ssm {ident} start")
        return exe

    @staticmethod
    def _parameters(document: Document, raw: dict[str, list[str]]) -> dict[str, Any]:
        unknown = sorted(set(raw) - set(document.parameters))
        if unknown:
            raise InvalidParameters(f"Parameter {unknown[0]!r} is not defined in the document; it takes: "
                                    f"{', '.join(document.parameters) or 'none'}")
        values: dict[str, Any] = {}
        for name, spec in document.parameters.items():
            if name in raw:
                values[name] = _typed_parameter(name, spec["type"], raw[name])
            elif "default" in spec:
                values[name] = spec["default"]
            else:
                raise InvalidParameters(f"Parameter {name!r} is required (no default)")
            allowed = spec.get("allowedValues")
            if allowed and values[name] not in allowed and not (isinstance(values[name], list) and set(values[name]) <= set(allowed)):
                raise InvalidParameters(f"Parameter {name!r} is {values[name]!r}; allowed values: {', '.join(map(str, allowed))}")
        return values

    def _begin(self, exe: Execution) -> None:
        if exe.status == PENDING:
            exe.status = IN_PROGRESS
            self._run(exe)

    # -- running ------------------------------------------------------------------------------------
    def _run(self, exe: Execution) -> None:
        if exe.done or exe.status == CANCELLING:
            return
        if exe.current >= len(exe.document.steps):
            return self._finish(exe)
        step = exe.document.steps[exe.current]
        run = StepRun(step, self._step_id(exe))
        exe.steps.append(run)
        self._attempt(exe, run)

    def _step_id(self, exe: Execution) -> str:
        rng = self.profile.rng("ssm.step-ids")
        return "-".join("".join(rng.choice("0123456789abcdef") for _ in range(n)) for n in (8, 4, 4, 4, 12))

    def _attempt(self, exe: Execution, run: StepRun) -> None:
        run.attempts += 1
        run.status, run.start, run.end, run.failure = IN_PROGRESS, self.clock.now(), None, None
        exe.status = IN_PROGRESS
        if run.step.timeout is not None:
            attempt = run.attempts
            self.later(run.step.timeout, lambda: self._timed_out(exe, run, attempt), name=f"ssm {exe.id} {run.step.name} timeout")
        try:
            run.inputs = substitute(dict(run.step.inputs), lambda name: self._lookup(exe, name))
            done = self._act(exe, run)
        except Unresolved as exc:
            return self._step_failed(exe, run, f"variable {exc} is not defined", "Verification")
        except StepFailed as exc:
            return self._step_failed(exe, run, exc.message, exc.kind)
        if done:
            self._step_succeeded(exe, run)

    def _lookup(self, exe: Execution, name: str) -> Any:
        if name in exe.parameters:
            return exe.parameters[name]
        builtins = {
            "global:REGION": exe.region, "global:ACCOUNT_ID": self._account(exe.region), "global:AWS_PARTITION": "aws",
            "global:DATE_TIME": self._date_time(), "global:DATE": self.clock.datetime().strftime("%Y-%m-%d"),
            "automation:EXECUTION_ID": exe.id,
        }
        if name in builtins:
            return builtins[name]
        step, _, output = name.partition(".")
        for run in reversed(exe.steps):
            if run.step.name == step and output in run.outputs:
                return run.outputs[output]
        raise Unresolved(name)

    def _account(self, region: str) -> str:
        if region not in self._accounts:
            self._accounts[region] = self.api.client("sts", region).get_caller_identity()["Account"]
        return self._accounts[region]

    def _timed_out(self, exe: Execution, run: StepRun, attempt: int) -> None:
        if run.attempts == attempt and run.status in (IN_PROGRESS, WAITING) and not exe.done:
            self._cancel_wait(exe)
            self._step_failed(exe, run, f"Step timed out after {run.step.timeout:g} seconds", "Verification", status=TIMED_OUT)

    def _cancel_wait(self, exe: Execution) -> None:
        for handle in (exe.timer, exe.waiting):
            if handle is not None:
                handle.cancel()
        exe.timer = exe.waiting = None

    def _step_succeeded(self, exe: Execution, run: StepRun) -> None:
        if exe.done or run.status not in (IN_PROGRESS, WAITING):
            return
        self._cancel_wait(exe)
        run.status, run.end = SUCCESS, self.clock.now()
        exe.status = IN_PROGRESS
        step = run.step
        target = run.outputs.pop("_next", None) or step.next_step
        if step.is_end and target is None:
            return self._finish(exe)
        exe.current = exe.document.index(target) if target else exe.current + 1
        self._run(exe)

    def _step_failed(self, exe: Execution, run: StepRun, message: str, kind: str = "Unexpected", *, status: str = FAILED) -> None:
        if exe.done:
            return
        self._cancel_wait(exe)
        run.failure, run.failure_type, run.end = message, kind, self.clock.now()
        if status == FAILED and run.attempts < run.step.max_attempts:
            return self._attempt(exe, run)
        run.status = status
        step = run.step
        if step.on_failure == "Abort":
            return self._finish(exe, FAILED if status == FAILED else TIMED_OUT,
                                f"Step {step.name} ({step.action}) {status.lower()}: {message}")
        if step.is_critical:
            exe.failed_critical = True
            exe.failure = f"Step {step.name} ({step.action}) {status.lower()}: {message}"
        exe.status = IN_PROGRESS
        exe.current = exe.document.index(step.on_failure[5:]) if step.on_failure.startswith("step:") else exe.current + 1
        self._run(exe)

    def _finish(self, exe: Execution, status: str | None = None, message: str | None = None) -> None:
        if exe.done:
            return
        self._cancel_wait(exe)
        exe.status = status or (FAILED if exe.failed_critical else SUCCESS)
        exe.failure = message or exe.failure
        exe.end = self.clock.now()
        for ref in exe.document.outputs:
            try:
                exe.outputs[ref] = self._lookup(exe, ref)
            except Unresolved:
                continue  # the step did not run (a branch went elsewhere)
        callbacks, exe.finished = exe.finished, []
        for callback in callbacks:
            callback(exe.status, exe.failure or "")

    # -- from outside ---------------------------------------------------------------------------------
    def signal(self, exe: Execution, kind: str, who: str) -> None:
        """``SendAutomationSignal`` ``Approve``/``Reject`` to the waiting approval step."""
        run = exe.steps[-1] if exe.steps else None
        if run is None or run.status != WAITING:
            raise ValueError(f"automation execution {exe.id} is not waiting for an approval")
        decision = {"Approver": who, "Decision": "Approved" if kind == "Approve" else "Rejected",
                    "DecisionTime": self.clock.datetime().isoformat()}
        run.outputs["ApproverDecisions"] = [json.dumps(decision)]
        if kind == "Approve":
            run.outputs["ApprovalStatus"] = "Approved"
            self._step_succeeded(exe, run)
        else:
            run.outputs["ApprovalStatus"] = "Rejected"
            self._step_failed(exe, run, f"The approval was rejected by {who}", "Verification")

    def stop_execution(self, ident: str, *, quiet: bool = False) -> None:
        """``StopAutomationExecution``: ``Cancelling`` now, ``Cancelled`` at the clock's next step."""
        exe = self.executions.get(ident)
        if exe is None or exe.done or exe.status == CANCELLING:
            return
        self._cancel_wait(exe)
        exe.status = CANCELLING
        for run in exe.steps:
            if run.status in (IN_PROGRESS, WAITING, PENDING):
                run.status, run.end = CANCELLED, self.clock.now()
        self.later(0, lambda: self._finish(exe, CANCELLED, "The execution was cancelled (StopAutomationExecution)"),
                   name=f"ssm {ident} cancelled")

    def when_finished(self, ident: str, callback: Callable[[str, str], None]) -> None:
        """Call ``callback(status, failure message)`` when the execution ends (at once if it has)."""
        exe = self.executions[ident]
        if exe.done:
            callback(exe.status, exe.failure or "")
        else:
            exe.finished.append(callback)


def _typed_parameter(name: str, kind: str, values: list[str]) -> Any:
    try:
        if kind == "StringList":
            return list(values)
        value = values[0] if values else ""
        if kind == "Integer":
            return int(value)
        if kind == "Boolean":
            if value.lower() not in ("true", "false"):
                raise ValueError("expected true or false")
            return value.lower() == "true"
        if kind in ("StringMap", "MapList"):
            return json.loads(value) if kind == "StringMap" else [json.loads(v) for v in values]
        return value
    except (ValueError, IndexError) as exc:
        raise InvalidParameters(f"Parameter {name!r} of type {kind}: {exc}") from None
