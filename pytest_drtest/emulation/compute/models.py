"""EC2 Auto Scaling, EC2 and ELBv2 state: groups, their instances, load balancers, activities.

Values follow botocore's models ([BC:autoscaling], [BC:ec2], [BC:elbv2]).
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

PENDING = "Pending"
IN_SERVICE = "InService"
TERMINATING = "Terminating"
TERMINATED = "Terminated"
DETACHED = "Detached"
LIVE_STATES = (PENDING, IN_SERVICE)

#: EC2 ``InstanceState`` per Auto Scaling lifecycle state (the instance runs while it drains).
EC2_STATE = {
    PENDING: {"Code": 0, "Name": "pending"},
    IN_SERVICE: {"Code": 16, "Name": "running"},
    TERMINATING: {"Code": 16, "Name": "running"},
    DETACHED: {"Code": 16, "Name": "running"},
    TERMINATED: {"Code": 48, "Name": "terminated"},
}
EC2_STOPPED = {"Code": 80, "Name": "stopped"}  # [BC:ec2] InstanceStateName

# ELBv2 TargetHealth values ([BC:elbv2] TargetHealth.State / Reason / Description).
TARGET_INITIAL = {
    "State": "initial",
    "Reason": "Elb.RegistrationInProgress",
    "Description": "Target registration is in progress",
}
TARGET_HEALTHY = {"State": "healthy"}
TARGET_UNHEALTHY = {"State": "unhealthy", "Reason": "Target.Timeout", "Description": "Request timed out"}
TARGET_DRAINING = {
    "State": "draining",
    "Reason": "Target.DeregistrationInProgress",
    "Description": "Target deregistration is in progress",
}
TARGET_NOT_REGISTERED = {
    "State": "unused",
    "Reason": "Target.NotRegistered",
    "Description": "Target is not registered to the target group",
}

DEFAULT_DEREGISTRATION_DELAY = 300.0  # [BC:elbv2] deregistration_delay.timeout_seconds default
SUSPENDED_BLOCKING_REPLACEMENT = frozenset({"HealthCheck", "ReplaceUnhealthy"})


@dataclass(frozen=True)
class InstanceView:
    """One instance of a group as the emulation sees it (for the harness and runbooks)."""

    id: str
    asg: str
    region: str
    az: str
    lifecycle_state: str
    healthy: bool  # the group's HealthStatus is Healthy
    serving: bool  # InService in an AZ that is up: it answers traffic


@dataclass(frozen=True)
class ComputeEvent:
    """Something the compute model did, with its clock time (for reports)."""

    at: float
    kind: str  # launch | in-service | unhealthy | terminate | terminated | detach
    region: str
    asg: str
    instance_id: str
    az: str
    detail: str = ""
    replaces: str | None = None


@dataclass
class Activity:
    """A scaling activity as DescribeScalingActivities reports it."""

    activity_id: str
    region: str
    group: str
    group_arn: str | None
    description: str
    cause: str
    start: float
    details: dict[str, str]
    status_code: str
    progress: int
    end: float | None = None

    def finish(self, t: float) -> None:
        self.status_code, self.progress, self.end = "Successful", 100, t

    def to_api(self, datetime: Callable[[float], Any]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ActivityId": self.activity_id,
            "AutoScalingGroupName": self.group,
            "Description": self.description,
            "Cause": self.cause,
            "StartTime": datetime(self.start),
            "StatusCode": self.status_code,
            "Progress": self.progress,
            "Details": json.dumps(self.details, separators=(",", ":")),
        }
        if self.end is not None:
            out["EndTime"] = datetime(self.end)
        if self.group_arn:
            out["AutoScalingGroupARN"] = self.group_arn
        return out


@dataclass
class Instance:
    id: str
    region: str
    asg: str
    az: str
    subnet_id: str | None
    launched_at: float
    template: dict[str, Any]  # the instance as moto's Auto Scaling listed it last
    state: str = PENDING
    health: str = "Healthy"
    target_groups: set[str] = field(default_factory=set)
    registered: bool = True  # still a target (live or draining)
    draining: bool = False
    in_service_at: float | None = None
    waiting_for_az: bool = False
    stopped_at: float | None = None  # StopInstances: the instance does not run (until StartInstances)


@dataclass
class Group:
    region: str
    name: str
    arn: str | None = None
    min_size: int = 0
    max_size: int = 0
    desired: int = 0
    health_check_type: str = "EC2"
    azs: list[str] = field(default_factory=list)
    subnet_by_az: dict[str, str] = field(default_factory=dict)
    target_groups: list[str] = field(default_factory=list)
    suspended: set[str] = field(default_factory=set)
    deleted: bool = False


@dataclass
class LoadBalancer:
    arn: str
    name: str
    dns_name: str
    region: str
    azs: list[str]
    deleted: bool = False


@dataclass
class Reason:
    """Why a group's instances changed: picks the Cause texts of the activities."""

    kind: str  # create | update | set-desired | delete | terminate | detach | attach | health | ec2-terminated | observed
    instance_ids: frozenset[str] = frozenset()
    decrement: bool = False
    constraints: tuple[int, int, int] | None = None  # min, max, desired (UpdateAutoScalingGroup)


def forward_targets(actions: Iterable[dict[str, Any]]) -> set[str]:
    arns: set[str] = set()
    for action in actions:
        if action.get("Type") != "forward":
            continue
        if action.get("TargetGroupArn"):
            arns.add(action["TargetGroupArn"])
        for tg in (action.get("ForwardConfig") or {}).get("TargetGroups", []):
            arns.add(tg["TargetGroupArn"])
    return arns
