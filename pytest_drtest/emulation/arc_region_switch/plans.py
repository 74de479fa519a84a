"""Region switch plans: the CloudFormation form (``AWS::ARCRegionSwitch::Plan``) and validation.

A plan file is what a team deploys with CloudFormation: a template holding one resource of type
``AWS::ARCRegionSwitch::Plan``, that resource (``{"Type": ..., "Properties": ...}``), or its
``Properties``. CloudFormation names members in PascalCase (``Workflows``, ``Steps``,
``ExecutionBlockType``, ``GlobalAuroraConfig``) where the API ([BC:arc-region-switch]
``CreatePlan``) has camelCase: :func:`plan_from_cloudformation` maps one to the other by the API's
shapes (map keys are kept), and refuses intrinsic functions (``Fn::Sub``, ``Ref``), which only
CloudFormation resolves. :func:`validate_plan` checks the API form against the shape and against
what the emulation runs.
"""
from __future__ import annotations

from typing import Any

from botocore.model import ListShape, MapShape, Shape, StructureShape

from pytest_drtest.emulation.shapes import ShapeError, check, input_shape

RESOURCE_TYPE = "AWS::ARCRegionSwitch::Plan"
#: Execution block types the emulation runs, and the configuration member each takes
#: ([ARC-DG:region-switch execution blocks]).
MODELED_BLOCKS = {
    "ManualApproval": "executionApprovalConfig",
    "AuroraGlobalDatabase": "globalAuroraConfig",
    "Route53HealthCheck": "route53HealthCheckConfig",
    "EC2AutoScaling": "ec2AsgCapacityIncreaseConfig",
    "CustomActionLambda": "customActionLambdaConfig",
    "RdsPromoteReadReplica": "rdsPromoteReadReplicaConfig",
    "Parallel": "parallelConfig",
    "DocumentDb": "documentDbConfig",
}


def plan_from_cloudformation(data: Any) -> dict[str, Any]:
    """The ``CreatePlan`` input of a CloudFormation plan document (template, resource or properties)."""
    if not isinstance(data, dict):
        raise ShapeError("", f"expected a CloudFormation template or an {RESOURCE_TYPE} resource")
    path = ""
    if "Resources" in data:
        plans = [(name, r) for name, r in (data.get("Resources") or {}).items() if isinstance(r, dict) and r.get("Type") == RESOURCE_TYPE]
        if len(plans) != 1:
            raise ShapeError("Resources", f"expected exactly one resource of type {RESOURCE_TYPE}, found {len(plans)}")
        path, data = f"Resources.{plans[0][0]}", plans[0][1]
    if "Type" in data:
        if data["Type"] != RESOURCE_TYPE:
            raise ShapeError(f"{path}.Type".lstrip("."), f"expected {RESOURCE_TYPE}, got {data['Type']!r}")
        path, data = f"{path}.Properties".lstrip("."), data.get("Properties")
    return _camel(data, input_shape("arc-region-switch", "CreatePlan"), path)  # type: ignore[no-any-return]


def _camel(value: Any, shape: Shape, path: str) -> Any:
    if isinstance(value, dict) and len(value) == 1 and next(iter(value)) in ("Ref", "Fn::Sub", "Fn::GetAtt", "Fn::Join", "Fn::If"):
        raise ShapeError(path, f"the intrinsic function {next(iter(value))} is resolved by CloudFormation only: write the value")
    if isinstance(shape, StructureShape):
        if not isinstance(value, dict):
            raise ShapeError(path, f"expected an object with {', '.join(_pascal(m) for m in shape.members)}")
        out = {}
        for key, item in value.items():
            member = next((m for m in shape.members if m.lower() == str(key).lower()), None)
            where = f"{path}.{key}" if path else str(key)
            if member is None:
                raise ShapeError(where, f"unknown property; expected one of: {', '.join(_pascal(m) for m in shape.members)}")
            out[member] = _camel(item, shape.members[member], where)
        return out
    if isinstance(shape, ListShape) and isinstance(value, list):
        return [_camel(item, shape.member, f"{path}[{i}]") for i, item in enumerate(value)]
    if isinstance(shape, MapShape):
        if _is_tag_list(value):
            return {str(t["Key"]): str(t["Value"]) for t in value}  # CloudFormation Tags: [{Key, Value}]
        if isinstance(value, dict):
            return {k: _camel(v, shape.value, f"{path}.{k}") for k, v in value.items()}
    return value


def _is_tag_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(t, dict) and set(t) == {"Key", "Value"} for t in value)


def _pascal(name: str) -> str:
    return name[:1].upper() + name[1:]


def validate_plan(plan: Any, *, templated: bool = False) -> dict[str, Any]:
    """Check a ``CreatePlan`` input: shape, then the workflows and steps the emulation runs
    (``templated``: ``${...}`` placeholders stand for values filled in later)."""
    check(plan, input_shape("arc-region-switch", "CreatePlan"), templated=templated)
    regions = plan["regions"]
    if len(set(regions)) != 2:
        raise ShapeError("regions", "a plan names two different Regions")
    known = not (templated and any("${" in str(r) for r in regions))  # placeholders: Regions known later
    if known and plan["recoveryApproach"] == "activePassive" and plan.get("primaryRegion") not in regions:
        raise ShapeError("primaryRegion", f"an activePassive plan needs primaryRegion, one of {', '.join(regions)}")
    names: set[str] = set()
    for i, workflow in enumerate(plan["workflows"]):
        path = f"workflows[{i}]"
        target = workflow.get("workflowTargetRegion")
        if known and target is not None and target not in regions:
            raise ShapeError(f"{path}.workflowTargetRegion", f"expected one of the plan's Regions {', '.join(regions)}, got {target!r}")
        _steps(workflow.get("steps") or [], f"{path}.steps", names)
    return plan  # type: ignore[no-any-return]


def _steps(steps: list[dict[str, Any]], path: str, names: set[str]) -> None:
    for j, step in enumerate(steps):
        where = f"{path}[{j}]"
        if step["name"] in names:
            raise ShapeError(f"{where}.name", f"step name {step['name']!r} is used twice")
        names.add(step["name"])
        kind = step["executionBlockType"]
        member = MODELED_BLOCKS.get(kind)
        if member is None:
            raise ShapeError(f"{where}.executionBlockType",
                             f"execution block type {kind!r} is not modeled by the emulation; expected one of: {', '.join(MODELED_BLOCKS)}")
        config = step["executionBlockConfiguration"]
        if set(config) != {member}:
            raise ShapeError(f"{where}.executionBlockConfiguration", f"a {kind} step takes exactly {member}, got {', '.join(config) or 'none'}")
        if kind == "Parallel":
            _steps(config[member]["steps"], f"{where}.executionBlockConfiguration.{member}.steps", names)
