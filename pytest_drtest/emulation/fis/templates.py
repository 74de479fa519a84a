"""Validation of FIS experiment templates, as ``CreateExperimentTemplate`` validates them.

Shape first ([BC:fis] ``CreateExperimentTemplateRequest``: unknown fields, types, limits), then
what FIS checks beyond the shape ([FIS-UG:experiment-templates], [FIS-UG:targets],
[FIS-UG:action-sequence]): action types and their parameters, target keys and resource types,
``startAfter`` names without cycles, ``selectionMode``, stop conditions. Every problem raises
:class:`~pytest_drtest.emulation.shapes.ShapeError` with the path inside the template.
"""
from __future__ import annotations

import re
from typing import Any

from pytest_drtest.durations import parse_iso_duration
from pytest_drtest.emulation.fis.models import (
    ACTIONS,
    MODELED,
    RESOURCE_TYPES,
    SELECTION,
)
from pytest_drtest.emulation.shapes import ShapeError, check, input_shape
from pytest_drtest.errors import DrConfigError

SELECTION_MODE = re.compile(r"^(ALL|COUNT\((\d+)\)|PERCENT\((\d+)\))$")
ALARM_ARN = re.compile(r"^arn:aws[a-z-]*:cloudwatch:[a-z0-9-]+:\d{12}:alarm:.+$")
DURATION_PARAMETERS = ("duration", "startInstancesAfterDuration", "maxDuration")
#: Target parameters FIS takes per resource type ([FIS-UG:targets] "Resource type parameters").
TARGET_PARAMETERS = {
    "aws:rds:cluster": ("writerAvailabilityZoneIdentifiers",),
    "aws:ec2:ebs-volume": ("availabilityZoneIdentifier",),
    "aws:elasticache:replicationgroup": ("availabilityZoneIdentifier",),
    "aws:elasticache:redis-replicationgroup": ("availabilityZoneIdentifier",),
    "aws:arc:zonal-shift-managed-resource": ("availabilityZoneIdentifier", "managedResourceTypes"),
}


def validate_template(template: Any) -> dict[str, Any]:
    """Check ``template`` (the ``CreateExperimentTemplate`` input, ``clientToken`` optional)."""
    check(template, input_shape("fis", "CreateExperimentTemplate"), skip=frozenset({"clientToken"}))
    targets: dict[str, Any] = template.get("targets") or {}
    actions: dict[str, Any] = template["actions"]
    if not actions:
        raise ShapeError("actions", "a template needs at least one action")
    for name, target in targets.items():
        _check_target(name, target)
    for name, action in actions.items():
        _check_action(name, action, targets, actions)
    _check_sequence(actions)
    for i, condition in enumerate(template["stopConditions"]):
        path = f"stopConditions[{i}]"
        if condition["source"] == "none":
            if condition.get("value"):
                raise ShapeError(f"{path}.value", "a stop condition with source 'none' has no value")
        elif condition["source"] == "aws:cloudwatch:alarm":
            if not ALARM_ARN.match(str(condition.get("value", ""))):
                raise ShapeError(f"{path}.value", "expected a CloudWatch alarm ARN (arn:aws:cloudwatch:REGION:ACCOUNT:alarm:NAME)")
        else:
            raise ShapeError(f"{path}.source", f"expected aws:cloudwatch:alarm or none, got {condition['source']!r}")
    options = template.get("experimentOptions") or {}
    if options.get("accountTargeting", "single-account") != "single-account":
        raise ShapeError("experimentOptions.accountTargeting", "the emulation runs single-account experiments only")
    return template  # type: ignore[no-any-return]


def _check_target(name: str, target: dict[str, Any]) -> None:
    path = f"targets.{name}"
    kind = target["resourceType"]
    if kind not in RESOURCE_TYPES:
        raise ShapeError(f"{path}.resourceType", f"unknown resource type {kind!r}; expected one of: {', '.join(sorted(RESOURCE_TYPES))}")
    mode = SELECTION_MODE.match(target["selectionMode"])
    if mode is None:
        raise ShapeError(f"{path}.selectionMode", f"expected one of {', '.join(SELECTION)}, got {target['selectionMode']!r}")
    number = mode.group(2) or mode.group(3)
    if number is not None and (int(number) < 1 or (mode.group(3) and int(number) > 100)):
        raise ShapeError(f"{path}.selectionMode", f"expected COUNT(n) with n >= 1 or PERCENT(n) with 1 <= n <= 100, got {target['selectionMode']!r}")
    if target.get("resourceArns") and target.get("resourceTags"):
        raise ShapeError(path, "resourceArns and resourceTags are exclusive: give one of them")
    allowed = TARGET_PARAMETERS.get(kind, ())
    for key in target.get("parameters") or {}:
        if key not in allowed:
            raise ShapeError(f"{path}.parameters.{key}",
                             f"unknown parameter for {kind}; expected: {', '.join(allowed) or 'none'}")
    for i, item in enumerate(target.get("filters") or []):
        if not item["values"]:
            raise ShapeError(f"{path}.filters[{i}].values", "expected at least one value")


def _check_action(name: str, action: dict[str, Any], targets: dict[str, Any], actions: dict[str, Any]) -> None:
    path = f"actions.{name}"
    action_id = action["actionId"]
    spec = ACTIONS.get(action_id)
    if spec is None:
        raise ShapeError(f"{path}.actionId", f"unknown action type {action_id!r}; the emulation runs: {', '.join(sorted(MODELED))}")
    parameters = action.get("parameters") or {}
    for key, value in parameters.items():
        if key not in spec.parameters:
            raise ShapeError(f"{path}.parameters.{key}", f"unknown parameter of {action_id}; expected: {', '.join(spec.parameters) or 'none'}")
        if key in DURATION_PARAMETERS:
            try:
                parse_iso_duration(value, what=key)
            except DrConfigError as exc:
                raise ShapeError(f"{path}.parameters.{key}", str(exc).split(": ", 1)[-1]) from None
    for key in spec.required:
        if key not in parameters:
            raise ShapeError(f"{path}.parameters.{key}", f"is required by {action_id}")
    given = action.get("targets") or {}
    for key, target_name in given.items():
        if key not in spec.targets:
            raise ShapeError(f"{path}.targets.{key}", f"unknown target key of {action_id}; expected: {', '.join(spec.targets) or 'none'}")
        if target_name not in targets:
            raise ShapeError(f"{path}.targets.{key}", f"no target named {target_name!r}; the template has: {', '.join(targets) or 'none'}")
        kind = targets[target_name]["resourceType"]
        if kind != spec.targets[key]:
            raise ShapeError(f"{path}.targets.{key}", f"{action_id} takes {spec.targets[key]} here, target {target_name!r} is {kind}")
    if spec.targets and not given:
        raise ShapeError(f"{path}.targets", f"{action_id} needs a target for {', '.join(spec.targets)}")
    for other in action.get("startAfter") or []:
        if other not in actions:
            raise ShapeError(f"{path}.startAfter", f"no action named {other!r}; the template has: {', '.join(actions)}")


def _check_sequence(actions: dict[str, Any]) -> None:
    """``startAfter`` must not loop ([FIS-UG:action-sequence])."""
    state: dict[str, int] = {}

    def visit(name: str, chain: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            loop = " -> ".join(chain[chain.index(name):] + [name])
            raise ShapeError(f"actions.{name}.startAfter", f"the actions wait for each other: {loop}")
        state[name] = 1
        for other in actions[name].get("startAfter") or []:
            visit(other, chain + [name])
        state[name] = 2

    for name in actions:
        visit(name, [])
