"""AWS FIS experiments: the action and target catalogue, states and reasons, the experiment model.

Action ids, their target keys, resource types and parameters are those of the FIS actions
reference ([FIS-UG:fis-actions-reference]); states are [BC:fis] ``ExperimentStatus`` and
``ExperimentActionStatus``; reasons as the AWS CLI shows them ([CLI-EX:fis/start-experiment],
[CLI-EX:fis/stop-experiment]); error codes as [FIS-UG:troubleshooting] lists them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# -- states ([BC:fis]) ---------------------------------------------------------------------------
PENDING, INITIATING, RUNNING, COMPLETED = "pending", "initiating", "running", "completed"
STOPPING, STOPPED, FAILED, CANCELLED, SKIPPED = "stopping", "stopped", "failed", "cancelled", "skipped"
EXPERIMENT_DONE = (COMPLETED, STOPPED, FAILED, CANCELLED)
ACTION_DONE = (COMPLETED, STOPPED, FAILED, CANCELLED, SKIPPED)

REASONS = {  # experiment status -> reason, as FIS words them ([CLI-EX:fis/*])
    INITIATING: "Experiment is initiating.",
    RUNNING: "Experiment is running.",
    COMPLETED: "Experiment completed.",
    STOPPING: "Stopping Experiment.",
    STOPPED: "Experiment stopped.",
}
ACTION_REASONS = {
    PENDING: "Initial state",
    RUNNING: "Action is running.",
    COMPLETED: "Action was completed.",
    STOPPED: "Action was stopped.",
    CANCELLED: "Action was cancelled.",
    SKIPPED: "Action was skipped because its targets resolved no resources (emptyTargetResolutionMode skip).",
}

# [FIS-UG:troubleshooting] error codes
CONFIGURATION_FAILURE = "ConfigurationFailure"
DEPENDENT_SERVICE_FAILURE = "DependentServiceFailure"
INVALID_TARGET = "InvalidTarget"


@dataclass(frozen=True)
class ActionSpec:
    """One FIS action type: its target keys (key -> resource type) and parameters."""

    targets: dict[str, str] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    modeled: bool = True  # False: known to FIS, not run by the emulation (see docs/fis.md)

    @property
    def parameters(self) -> tuple[str, ...]:
        return self.required + self.optional


_DURATION = ("duration",)
#: FIS actions the emulation runs. [FIS-UG:fis-actions-reference]
MODELED: dict[str, ActionSpec] = {
    "aws:fis:wait": ActionSpec(required=_DURATION),
    "aws:ec2:stop-instances": ActionSpec(
        {"Instances": "aws:ec2:instance"}, optional=("startInstancesAfterDuration", "completeIfInstancesTerminated")
    ),
    "aws:ec2:terminate-instances": ActionSpec({"Instances": "aws:ec2:instance"}),
    "aws:ec2:asg-insufficient-instance-capacity-error": ActionSpec(
        {"AutoScalingGroups": "aws:ec2:autoscaling-group"}, required=("availabilityZoneIdentifiers", "duration"),
        optional=("percentage",),
    ),
    "aws:rds:reboot-db-instances": ActionSpec({"DBInstances": "aws:rds:db"}, optional=("forceFailover",)),
    "aws:rds:failover-db-cluster": ActionSpec({"Clusters": "aws:rds:cluster"}),
    "aws:dynamodb:global-table-pause-replication": ActionSpec({"Tables": "aws:dynamodb:global-table"}, required=_DURATION),
    "aws:s3:bucket-pause-replication": ActionSpec(
        {"Buckets": "aws:s3:bucket"}, required=_DURATION, optional=("region", "prefixes")
    ),
    "aws:network:disrupt-connectivity": ActionSpec(
        {"Subnets": "aws:ec2:subnet"}, required=_DURATION, optional=("scope", "prefixListIdentifier")
    ),
    "aws:network:route-table-disrupt-cross-region-connectivity": ActionSpec(
        {"Subnets": "aws:ec2:subnet"}, required=_DURATION, optional=("region",)
    ),
    "aws:network:transit-gateway-disrupt-cross-region-connectivity": ActionSpec(
        {"TransitGateways": "aws:ec2:transit-gateway"}, required=_DURATION, optional=("region",)
    ),
    "aws:arc:start-zonal-autoshift": ActionSpec(
        {"ManagedResources": "aws:arc:zonal-shift-managed-resource"}, required=("availabilityZoneIdentifier", "duration"),
        optional=("managedResourceTypes",),
    ),
    "aws:ssm:start-automation-execution": ActionSpec(required=("documentArn", "maxDuration"), optional=("documentParameters",)),
}

#: FIS actions the emulation does not run: a template may hold them; one that resolves targets
#: fails the experiment naming it, one whose targets resolve nothing is skipped (``skip`` mode).
NOT_MODELED: dict[str, ActionSpec] = {
    "aws:ec2:reboot-instances": ActionSpec({"Instances": "aws:ec2:instance"}, modeled=False),
    "aws:ec2:send-spot-instance-interruptions": ActionSpec(
        {"SpotInstances": "aws:ec2:spot-instance"}, required=("durationBeforeInterruption",), modeled=False
    ),
    "aws:ec2:api-insufficient-instance-capacity-error": ActionSpec(
        {"Roles": "aws:iam:role"}, required=("availabilityZoneIdentifiers", "duration"), optional=("percentage",),
        modeled=False,
    ),
    "aws:ebs:pause-volume-io": ActionSpec({"Volumes": "aws:ec2:ebs-volume"}, required=_DURATION, modeled=False),
    "aws:elasticache:replicationgroup-interrupt-az-power": ActionSpec(
        {"ReplicationGroups": "aws:elasticache:replicationgroup"}, required=_DURATION, modeled=False
    ),
    "aws:elasticache:interrupt-cluster-az-power": ActionSpec(
        {"ReplicationGroups": "aws:elasticache:redis-replicationgroup"}, required=_DURATION, modeled=False
    ),
    "aws:ssm:send-command": ActionSpec(
        {"Instances": "aws:ec2:instance"}, required=("documentArn", "duration"), optional=("documentVersion", "documentParameters"),
        modeled=False,
    ),
    "aws:fis:inject-api-internal-error": ActionSpec(
        {"Roles": "aws:iam:role"}, required=("duration", "service", "operations", "percentage"), modeled=False
    ),
    "aws:fis:inject-api-throttle-error": ActionSpec(
        {"Roles": "aws:iam:role"}, required=("duration", "service", "operations", "percentage"), modeled=False
    ),
    "aws:fis:inject-api-unavailable-error": ActionSpec(
        {"Roles": "aws:iam:role"}, required=("duration", "service", "operations", "percentage"), modeled=False
    ),
    "aws:ecs:stop-task": ActionSpec({"Tasks": "aws:ecs:task"}, modeled=False),
    "aws:ecs:drain-container-instances": ActionSpec(
        {"Clusters": "aws:ecs:cluster"}, required=("drainagePercentage", "duration"), modeled=False
    ),
    "aws:eks:terminate-nodegroup-instances": ActionSpec(
        {"Nodegroups": "aws:eks:nodegroup"}, required=("instanceTerminationPercentage",), modeled=False
    ),
    "aws:lambda:invocation-error": ActionSpec(
        {"Functions": "aws:lambda:function"}, required=("duration",), optional=("invocationPercentage", "preventExecution"),
        modeled=False,
    ),
    "aws:cloudwatch:assert-alarm-state": ActionSpec(required=("alarmArns", "alarmStates"), modeled=False),
    "aws:directconnect:virtual-interface-disconnect": ActionSpec(
        {"DXVirtualInterfaces": "aws:directconnect:virtual-interface"}, required=_DURATION, modeled=False
    ),
}
ACTIONS: dict[str, ActionSpec] = {**MODELED, **NOT_MODELED}

#: Resource types of FIS targets ([FIS-UG:targets]) and the resource ARN forms the emulation resolves.
RESOURCE_TYPES = frozenset(
    {spec_type for spec in ACTIONS.values() for spec_type in spec.targets.values()}
    | {"aws:ecs:cluster", "aws:eks:pod", "aws:eks:cluster"}
)
SELECTION = ("ALL", "COUNT(n)", "PERCENT(n)")  # [FIS-UG:targets] selectionMode


@dataclass
class ResolvedResource:
    """A target's resource: its ARN and the attributes filters look at (the service's Describe row)."""

    arn: str
    attributes: dict[str, Any]
    tags: dict[str, str]
    region: str
    ident: str  # the id the service's API takes (instance id, DB identifier, table or bucket name, ...)


@dataclass
class ActionRun:
    """One action of one experiment, as it runs."""

    name: str
    action_id: str
    parameters: dict[str, str]
    targets: dict[str, str]  # target key -> target name
    start_after: list[str]
    description: str = ""
    status: str = PENDING
    reason: str = ACTION_REASONS[PENDING]
    start: float | None = None
    end: float | None = None
    undo: list[Any] = field(default_factory=list)  # callables that revert what the action did
    timer: Any = None  # the scheduled end of a timed action
    expire_reason: str | None = None  # set: reaching the end of the duration fails the action (maxDuration)
    resources: dict[str, list[ResolvedResource]] = field(default_factory=dict)  # target key -> resources


@dataclass
class Experiment:
    """An experiment started from a template; ``actions`` by name, in template order."""

    id: str
    arn: str
    region: str
    template_id: str
    template: dict[str, Any]
    actions: dict[str, ActionRun]
    creation: float
    tags: dict[str, str] = field(default_factory=dict)
    status: str = INITIATING
    reason: str = REASONS[INITIATING]
    error: dict[str, str] | None = None
    start: float = 0.0
    end: float | None = None
    resolved: dict[str, list[ResolvedResource]] = field(default_factory=dict)  # target name -> resources
    actions_mode: str = "run-all"
    stop_alarms: list[str] = field(default_factory=list)

    @property
    def empty_mode(self) -> str:
        return str((self.template.get("experimentOptions") or {}).get("emptyTargetResolutionMode", "fail"))

    @property
    def done(self) -> bool:
        return self.status in EXPERIMENT_DONE
