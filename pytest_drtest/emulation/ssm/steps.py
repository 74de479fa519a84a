"""What each Automation action does ([SSM-UG:automation-actions]).

- ``aws:executeAwsApi``: one call through the emulation's hooked clients (the RDS or DynamoDB
  emulator sees it); ``outputs`` select from the response.
- ``aws:waitForAwsResourceProperty``: the call is repeated every ``automation_poll_interval`` until
  the selected property is one of ``DesiredValues`` (or the step's ``timeoutSeconds``).
- ``aws:assertAwsResourceProperty``: one call; any other value fails the step (``Verification``).
- ``aws:sleep``: ``Duration`` (ISO 8601) or until ``Timestamp``, on the clock.
- ``aws:branch``: the first ``Choices`` entry whose condition holds names the next step, else ``Default``.
- ``aws:executeScript``: the Python ``Handler`` of the inline ``Script`` is called with
  ``(InputPayload, context)`` in this process (boto3 clients it makes are hooked; ``AWS_REGION`` is
  the execution's); its return value is ``Payload``.
- ``aws:approve``: the step waits (``Waiting``) for ``SendAutomationSignal`` ``Approve`` or
  ``Reject``; the emulation's approver approves on its own after ``manual_approval_time`` (drawn
  per approval) unless ``auto_approve`` is turned off.
"""
from __future__ import annotations

import datetime as _dt
import traceback
from collections.abc import Callable
from typing import Any

import botocore.exceptions
from botocore import xform_name

from pytest_drtest.backends.base import patched_environ
from pytest_drtest.durations import parse_iso_duration
from pytest_drtest.emulation.core import ServiceEmulator
from pytest_drtest.emulation.principal import ServicePrincipal
from pytest_drtest.emulation.ssm.models import WAITING, Execution, StepRun
from pytest_drtest.emulation.ssm.variables import (
    api_parameters,
    operation_model,
    select,
    typed,
)


class StepFailed(Exception):
    """The step did not do its work: ``message`` as ``FailureMessage``, ``kind`` as ``FailureType``."""

    def __init__(self, message: str, kind: str = "Unexpected") -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind


_API_KEYS = ("Service", "Api", "PropertySelector", "DesiredValues")


class AutomationSteps(ServiceEmulator):
    """Runs one step; returns True when done, False when it completes later (``_step_succeeded``)."""

    service = "ssm"

    def _setup_steps(self) -> None:
        self.api = ServicePrincipal(self.emulation)
        self.auto_approve = True  # the emulated world's on-call approver answers aws:approve steps

    def _act(self, exe: Execution, run: StepRun) -> bool:
        action = run.step.action
        inputs = run.inputs
        if action == "aws:executeAwsApi":
            response = self._call(exe, run)
            self._outputs(run, response)
            return True
        if action == "aws:assertAwsResourceProperty":
            value = self._property(exe, run)
            if value not in self._desired(inputs):
                raise StepFailed(
                    f"Property {inputs['PropertySelector']} is {value!r}; expected one of {self._desired(inputs)}", "Verification"
                )
            return True
        if action == "aws:waitForAwsResourceProperty":
            self._poll(exe, run)
            return False
        if action == "aws:sleep":
            if "Duration" in inputs:
                delay = parse_iso_duration(str(inputs["Duration"]), what="Duration")
            else:
                delay = max(0.0, self.clock.seconds_at(_dt.datetime.fromisoformat(str(inputs["Timestamp"])))
                            - self.clock.now())
            exe.timer = self.later(delay, lambda: self._step_succeeded(exe, run), name=f"ssm {exe.id} {run.step.name} sleep")
            return False
        if action == "aws:branch":
            run.outputs["_next"] = self._branch(inputs)
            return True
        if action == "aws:executeScript":
            payload = self._script(exe, run)
            self._outputs(run, {"Payload": payload})
            run.outputs["OutputPayload"] = {"Payload": payload}
            return True
        if action == "aws:approve":
            run.status = WAITING
            exe.status = WAITING
            if self.auto_approve:
                delay = self.profile.sample("manual_approval_time", stream="ssm.approval")
                exe.waiting = self.later(delay, lambda: self.signal(exe, "Approve", "drtest approver"),
                                         name=f"ssm {exe.id} {run.step.name} approval")
            return False
        raise StepFailed(f"action {action} is not modeled")

    # -- API actions ---------------------------------------------------------------------------------
    def _call(self, exe: Execution, run: StepRun) -> dict[str, Any]:
        inputs = run.inputs
        operation = operation_model(str(inputs["Service"]), str(inputs["Api"]))
        params = api_parameters(operation, inputs, _API_KEYS)
        client = self.api.client(str(inputs["Service"]), exe.region)
        run.calls.append((str(inputs["Service"]), operation.name, params))
        try:
            response = getattr(client, xform_name(operation.name))(**params)
        except botocore.exceptions.ClientError as exc:
            err = exc.response.get("Error", {})
            raise StepFailed(f"An error occurred ({err.get('Code')}) when calling the {operation.name} operation: "
                             f"{err.get('Message')}") from None
        except (botocore.exceptions.ParamValidationError, botocore.exceptions.BotoCoreError) as exc:
            raise StepFailed(f"{operation.name}: {exc}") from None
        except Exception as exc:  # noqa: BLE001 - the emulator behind failed (moto raises bare KeyErrors): the step fails
            raise StepFailed(f"{operation.name} failed inside the emulator: {exc!r}") from None
        response.pop("ResponseMetadata", None)
        return dict(response)

    def _property(self, exe: Execution, run: StepRun) -> str:
        found = select(self._call(exe, run), str(run.inputs["PropertySelector"]))
        return "" if not found else typed(found, "String")

    @staticmethod
    def _desired(inputs: dict[str, Any]) -> list[str]:
        desired = inputs["DesiredValues"]
        return [str(v) for v in (desired if isinstance(desired, list) else [desired])]

    def _poll(self, exe: Execution, run: StepRun) -> None:
        if exe.done or run.status not in ("InProgress",):
            return
        try:
            value = self._property(exe, run)
        except StepFailed as exc:
            self._step_failed(exe, run, exc.message, exc.kind)
            return
        if value in self._desired(run.inputs):
            self._step_succeeded(exe, run)
            return
        exe.timer = self.later(self.profile.value("automation_poll_interval"), lambda: self._poll(exe, run),
                               name=f"ssm {exe.id} {run.step.name} poll")

    def _outputs(self, run: StepRun, response: dict[str, Any]) -> None:
        for out in run.step.outputs:
            try:
                run.outputs[out["Name"]] = typed(select(response, out["Selector"]), out.get("Type", "String"))
            except (ValueError, TypeError) as exc:
                raise StepFailed(f"output {out['Name']} ({out['Selector']}): {exc}") from None

    # -- the others ------------------------------------------------------------------------------------
    @staticmethod
    def _branch(inputs: dict[str, Any]) -> str:
        for choice in inputs["Choices"]:
            if _holds(choice):
                return str(choice["NextStep"])
        if inputs.get("Default"):
            return str(inputs["Default"])
        raise StepFailed("no choice of the branch matched and it has no Default")

    def _script(self, exe: Execution, run: StepRun) -> Any:
        inputs = run.inputs
        scope: dict[str, Any] = {"__name__": f"ssm_script_{run.step.name}"}
        try:
            exec(compile(str(inputs["Script"]), f"<{exe.document.name}:{run.step.name}>", "exec"), scope)  # noqa: S102
        except Exception as exc:  # noqa: BLE001 - the document's own script
            raise StepFailed(f"the script does not compile: {exc}") from None
        handler = scope.get(str(inputs["Handler"]))
        if not callable(handler):
            raise StepFailed(f"the script defines no function {inputs['Handler']!r}")
        context = {"automation:EXECUTION_ID": exe.id, "global:REGION": exe.region, "global:DATE_TIME": self._date_time()}
        env = {"AWS_REGION": exe.region, "AWS_DEFAULT_REGION": exe.region}
        try:
            with patched_environ(env):
                return handler(inputs.get("InputPayload") or {}, context)
        except Exception as exc:  # noqa: BLE001 - the document's own handler
            last = traceback.format_exception_only(type(exc), exc)[-1].strip()
            raise StepFailed(f"the handler raised {last}") from None

    def _date_time(self) -> str:
        return self.clock.datetime().strftime("%Y-%m-%d_%H.%M.%S")

    # implemented by the engine
    def signal(self, exe: Execution, kind: str, who: str) -> None:
        raise NotImplementedError

    def _step_succeeded(self, exe: Execution, run: StepRun) -> None:
        raise NotImplementedError

    def _step_failed(self, exe: Execution, run: StepRun, message: str, kind: str = "Unexpected") -> None:
        raise NotImplementedError


_STRING_OPS: dict[str, Callable[[str, str], bool]] = {
    "StringEquals": lambda a, b: a == b,
    "EqualsIgnoreCase": lambda a, b: a.lower() == b.lower(),
    "StartsWith": lambda a, b: a.startswith(b),
    "EndsWith": lambda a, b: a.endswith(b),
    "Contains": lambda a, b: b in a,
}
_NUMERIC_OPS: dict[str, Callable[[float, float], bool]] = {
    "NumericEquals": lambda a, b: a == b,
    "NumericGreater": lambda a, b: a > b,
    "NumericLesser": lambda a, b: a < b,
    "NumericGreaterOrEquals": lambda a, b: a >= b,
    "NumericLesserOrEquals": lambda a, b: a <= b,
}


def _holds(condition: dict[str, Any]) -> bool:
    """One ``aws:branch`` condition ([SSM-UG:automation-action-branch] operators, And/Or/Not)."""
    if "And" in condition:
        return all(_holds(c) for c in condition["And"])
    if "Or" in condition:
        return any(_holds(c) for c in condition["Or"])
    if "Not" in condition:
        return not _holds(condition["Not"])
    variable = condition.get("Variable")
    for op, string_test in _STRING_OPS.items():
        if op in condition:
            return string_test(_plain(variable), _plain(condition[op]))
    for op, number_test in _NUMERIC_OPS.items():
        if op in condition:
            return number_test(float(_plain(variable)), float(_plain(condition[op])))
    if "BooleanEquals" in condition:
        return _plain(variable).lower() == _plain(condition["BooleanEquals"]).lower()
    raise StepFailed(f"branch condition {condition!r} has no operator the emulation models")


def _plain(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list) and len(value) == 1:
        return str(value[0])
    return str(value)
