"""Parsing and validating Automation documents (schemaVersion 0.3, YAML or JSON).

[SSM-UG:documents-schemas-features] "Schema 0.3 (Automation)": ``schemaVersion``, ``description``,
``assumeRole``, ``parameters`` (``type`` String, StringList, Integer, Boolean, MapList, StringMap;
``default``, ``allowedValues``, ``allowedPattern``), ``mainSteps`` (``name``, ``action``,
``inputs``, ``onFailure`` Abort / Continue / ``step:<name>``, ``isEnd``, ``isCritical``,
``nextStep``, ``maxAttempts``, ``timeoutSeconds``, ``outputs`` with ``Name``, ``Selector``,
``Type``) and ``outputs`` (``Step.Output``). [SSM-UG:automation-actions] the actions' inputs.
Every problem raises :class:`~pytest_drtest.emulation.shapes.ShapeError` naming its path.
"""
from __future__ import annotations

import json
import re
from typing import Any

import yaml

from pytest_drtest.durations import parse_iso_duration
from pytest_drtest.emulation.shapes import ShapeError
from pytest_drtest.emulation.ssm.models import (
    ACTION_INPUTS,
    API_ACTIONS,
    DOCUMENT_FIELDS,
    OUTPUT_TYPES,
    PARAMETER_FIELDS,
    PARAMETER_TYPES,
    SCRIPT_RUNTIMES,
    STEP_FIELDS,
    Document,
    Step,
)
from pytest_drtest.errors import DrConfigError

STEP_NAME = re.compile(r"^[A-Za-z0-9_]+$")


def load_content(content: str) -> Any:
    """A document's text (JSON, or YAML) -> data; ``ShapeError`` if it is neither."""
    try:
        return json.loads(content)
    except ValueError:
        pass
    try:
        return yaml.safe_load(content)
    except yaml.YAMLError as exc:
        raise ShapeError("", f"neither JSON nor YAML: {str(exc).splitlines()[0]}") from None


def parse_document(data: Any, name: str = "", source: str = "") -> Document:
    """Validate the data of an Automation document and return it parsed."""
    if not isinstance(data, dict):
        raise ShapeError("", "expected a document (an object with schemaVersion and mainSteps)")
    _known(data, DOCUMENT_FIELDS, "")
    if str(data.get("schemaVersion")) != "0.3":
        raise ShapeError("schemaVersion", f"expected '0.3' (Automation), got {data.get('schemaVersion')!r}")
    if data.get("files"):
        raise ShapeError("files", "attachments are not modeled: put the script inline (Script)")
    parameters = data.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise ShapeError("parameters", "expected an object of parameter definitions")
    for key, spec in parameters.items():
        _parameter(key, spec)
    raw_steps = data.get("mainSteps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise ShapeError("mainSteps", "expected a non-empty list of steps")
    steps = [_step(i, raw) for i, raw in enumerate(raw_steps)]
    names = [s.name for s in steps]
    for i, step in enumerate(steps):
        duplicate = names.index(step.name) != i
        if duplicate:
            raise ShapeError(f"mainSteps[{i}].name", f"step name {step.name!r} is used twice")
        for ref, where in _step_refs(step):
            if ref not in names:
                raise ShapeError(f"mainSteps[{i}].{where}", f"no step named {ref!r}; the steps are: {', '.join(names)}")
    outputs = data.get("outputs") or []
    if not isinstance(outputs, list) or not all(isinstance(o, str) for o in outputs):
        raise ShapeError("outputs", "expected a list of 'StepName.OutputName'")
    for i, ref in enumerate(outputs):
        step_name, _, output = ref.partition(".")
        known = {s.name: {o["Name"] for o in s.outputs} | _builtin_outputs(s) for s in steps}
        if step_name not in known or output not in known[step_name]:
            raise ShapeError(f"outputs[{i}]", f"{ref!r} names no output of a step")
    return Document(name, str(data.get("description") or ""), dict(parameters), tuple(steps), tuple(outputs), source)


def _known(data: dict[str, Any], fields: tuple[str, ...], path: str) -> None:
    unknown = sorted(set(data) - set(fields))
    if unknown:
        where = f"{path}.{unknown[0]}" if path else unknown[0]
        raise ShapeError(where, f"unknown field; expected one of: {', '.join(fields)}")


def _parameter(key: str, spec: Any) -> None:
    path = f"parameters.{key}"
    if not isinstance(spec, dict):
        raise ShapeError(path, "expected an object with a type")
    _known(spec, PARAMETER_FIELDS, path)
    if spec.get("type") not in PARAMETER_TYPES:
        raise ShapeError(f"{path}.type", f"expected one of: {', '.join(PARAMETER_TYPES)}; got {spec.get('type')!r}")


def _step(i: int, raw: Any) -> Step:
    path = f"mainSteps[{i}]"
    if not isinstance(raw, dict):
        raise ShapeError(path, "expected a step (an object with name, action and inputs)")
    _known(raw, STEP_FIELDS, path)
    name = raw.get("name")
    if not isinstance(name, str) or not STEP_NAME.match(name):
        raise ShapeError(f"{path}.name", f"expected a name of letters, digits and underscores, got {name!r}")
    action = raw.get("action")
    if action not in ACTION_INPUTS:
        raise ShapeError(f"{path}.action", f"action {action!r} is not modeled; expected one of: {', '.join(ACTION_INPUTS)}")
    inputs = raw.get("inputs") or {}
    if not isinstance(inputs, dict):
        raise ShapeError(f"{path}.inputs", "expected an object")
    _inputs(f"{path}.inputs", action, inputs)
    on_failure = str(raw.get("onFailure", "Abort"))
    if on_failure not in ("Abort", "Continue") and not on_failure.startswith("step:"):
        raise ShapeError(f"{path}.onFailure", f"expected Abort, Continue or step:<name>, got {on_failure!r}")
    outputs = raw.get("outputs") or []
    if not isinstance(outputs, list):
        raise ShapeError(f"{path}.outputs", "expected a list of {Name, Selector, Type}")
    for j, out in enumerate(outputs):
        where = f"{path}.outputs[{j}]"
        if not isinstance(out, dict) or not out.get("Name") or not out.get("Selector"):
            raise ShapeError(where, "expected Name and Selector")
        _known(out, ("Name", "Selector", "Type"), where)
        if out.get("Type", "String") not in OUTPUT_TYPES:
            raise ShapeError(f"{where}.Type", f"expected one of: {', '.join(OUTPUT_TYPES)}")
    attempts = raw.get("maxAttempts", 1)
    timeout = raw.get("timeoutSeconds")
    if not isinstance(attempts, int) or attempts < 1:
        raise ShapeError(f"{path}.maxAttempts", f"expected a positive integer, got {attempts!r}")
    if timeout is not None and (not isinstance(timeout, int) or timeout < 1):
        raise ShapeError(f"{path}.timeoutSeconds", f"expected a positive integer, got {timeout!r}")
    return Step(
        name=name, action=action, inputs=inputs, on_failure=on_failure, is_end=bool(raw.get("isEnd", False)),
        is_critical=bool(raw.get("isCritical", True)), next_step=raw.get("nextStep"), max_attempts=attempts,
        timeout=float(timeout) if timeout is not None else None, outputs=tuple(outputs),
        description=str(raw.get("description") or ""),
    )


def _inputs(path: str, action: str, inputs: dict[str, Any]) -> None:
    required, optional = ACTION_INPUTS[action]
    for key in required:
        if key not in inputs:
            raise ShapeError(f"{path}.{key}", f"is required by {action}")
    if action not in API_ACTIONS:
        _known(inputs, required + optional, path)
    if action == "aws:sleep":
        if ("Duration" in inputs) == ("Timestamp" in inputs):
            raise ShapeError(path, "aws:sleep takes exactly one of Duration and Timestamp")
        if "Duration" in inputs and "{{" not in str(inputs["Duration"]):
            try:
                parse_iso_duration(str(inputs["Duration"]), what="Duration")
            except DrConfigError as exc:
                raise ShapeError(f"{path}.Duration", str(exc).split(": ", 1)[-1]) from None
    elif action == "aws:executeScript" and inputs["Runtime"] not in SCRIPT_RUNTIMES:
        raise ShapeError(f"{path}.Runtime", f"expected one of: {', '.join(SCRIPT_RUNTIMES)} (Python handlers only)")
    elif action == "aws:branch":
        choices = inputs["Choices"]
        if not isinstance(choices, list) or not choices:
            raise ShapeError(f"{path}.Choices", "expected a non-empty list of choices")
        for j, choice in enumerate(choices):
            if not isinstance(choice, dict) or "NextStep" not in choice:
                raise ShapeError(f"{path}.Choices[{j}]", "expected a choice with NextStep")
    elif action in API_ACTIONS:
        from pytest_drtest.emulation.ssm.variables import operation_model

        try:
            operation_model(str(inputs["Service"]), str(inputs["Api"]))
        except KeyError as exc:
            raise ShapeError(f"{path}.Api", str(exc.args[0])) from None


def _step_refs(step: Step) -> list[tuple[str, str]]:
    refs = []
    if step.on_failure.startswith("step:"):
        refs.append((step.on_failure[5:], "onFailure"))
    if step.next_step:
        refs.append((step.next_step, "nextStep"))
    if step.action == "aws:branch":
        refs += [(c["NextStep"], f"inputs.Choices[{j}].NextStep") for j, c in enumerate(step.inputs["Choices"])]
        if step.inputs.get("Default"):
            refs.append((step.inputs["Default"], "inputs.Default"))
    return refs


def _builtin_outputs(step: Step) -> set[str]:
    """Outputs a step has without declaring them ([SSM-UG:automation-actions])."""
    if step.action == "aws:executeScript":
        return {"OutputPayload"}
    if step.action == "aws:approve":
        return {"ApprovalStatus", "ApproverDecisions"}
    return set()
