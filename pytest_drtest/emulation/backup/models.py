"""AWS Backup state: plans and selections, recovery points, and the three kinds of job.

Shapes and states follow botocore's ``backup/2018-11-15`` model ([BC:backup]).
"""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from pytest_drtest.clock import Scheduled

#: Defaults moto applies to a created plan's rules; updates apply the same so reads stay alike.
DEFAULT_START_WINDOW_MINUTES = 480
DEFAULT_COMPLETION_WINDOW_MINUTES = 10080
#: [BC:backup] BackupSelection.Resources holds at most 500 ARNs, or 30 with wildcards.
MAX_SELECTION_ARNS = 500
MAX_SELECTION_WILDCARDS = 30
SELECTION_NAME = re.compile(r"^[A-Za-z0-9\-_.]{1,50}$")
ID_NAMESPACE = uuid.UUID("6f1d3c2e-5b7a-4e0f-9a61-2d8c4b1e7a90")

# Resource types as AWS Backup names them ([BC:backup] ListBackupJobsInput.ByResourceType).
_SERVICE_RESOURCE_TYPES = {
    "dynamodb": "DynamoDB",
    "rds": "RDS",
    "s3": "S3",
    "elasticfilesystem": "EFS",
    "fsx": "FSx",
    "redshift": "Redshift",
    "storagegateway": "Storage Gateway",
    "timestream": "Timestream",
    "cloudformation": "CloudFormation",
    "eks": "EKS",
}


@dataclass
class PlanVersion:
    version_id: str
    document: dict[str, Any]  # BackupPlan as GetBackupPlan shows it (rules carry RuleId)
    created_at: float | None


@dataclass
class Selection:
    selection_id: str
    plan_id: str
    spec: dict[str, Any]  # BackupSelection as the caller gave it
    created_at: float
    creator_request_id: str | None


@dataclass
class Plan:
    """What this emulator knows of a moto plan: its versions, selections and schedules."""

    plan_id: str
    arn: str
    region: str
    account: str
    creator_request_id: str | None
    versions: list[PlanVersion]
    updated: bool = False  # True once UpdateBackupPlan ran: reads are answered from here
    deleted_at: float | None = None
    last_execution: float | None = None
    selections: dict[str, Selection] = field(default_factory=dict)
    schedules: dict[str, Scheduled] = field(default_factory=dict)  # RuleId -> next firing

    @property
    def current(self) -> PlanVersion:
        return self.versions[-1]


@dataclass
class RecoveryPoint:
    arn: str
    region: str
    account: str
    vault_name: str
    vault_arn: str
    resource_arn: str
    resource_type: str
    resource_name: str
    iam_role_arn: str
    created_by: dict[str, Any]
    lifecycle: dict[str, Any] | None
    creation: float  # clock time of the data (the source's snapshot time for a copy)
    initiation: float
    status: str = "CREATING"
    completion: float | None = None
    size: int = 0
    source_vault_arn: str | None = None
    source_recovery_point_arn: str | None = None
    table: dict[str, Any] = field(default_factory=dict)  # DescribeTable at snapshot time
    items: list[dict[str, Any]] = field(default_factory=list)  # low-level (typed) items


@dataclass(kw_only=True)
class Job:
    """Fields common to backup, copy and restore jobs."""

    job_id: str
    region: str
    account: str
    state: str
    created: float
    iam_role_arn: str
    started: float | None = None
    duration: float | None = None
    completed: float | None = None
    status_message: str | None = None
    idempotency_token: str | None = None

    @property
    def expected_completion(self) -> float | None:
        return None if self.started is None or self.duration is None else self.started + self.duration

    def percent_done(self, now: float) -> str:
        if self.state == "COMPLETED":
            return "100.0"
        if self.started is None or not self.duration:
            return "0.0"
        return f"{min(99.9, 100.0 * (now - self.started) / self.duration):.1f}"


@dataclass(kw_only=True)
class BackupJob(Job):
    vault_name: str
    vault_arn: str
    resource_arn: str
    resource_type: str
    resource_name: str
    recovery_point_arn: str
    start_by: float
    created_by: dict[str, Any]
    lifecycle: dict[str, Any] | None = None
    copy_actions: list[dict[str, Any]] = field(default_factory=list)
    size: int | None = None
    point: RecoveryPoint | None = None  # the recovery point being made, from RUNNING on


@dataclass(kw_only=True)
class CopyJob(Job):
    source: RecoveryPoint
    destination_vault_arn: str
    destination_recovery_point_arn: str
    lifecycle: dict[str, Any] | None = None
    created_by_backup_job_id: str | None = None


@dataclass(kw_only=True)
class RestoreJob(Job):
    recovery_point: RecoveryPoint
    target_table: str
    created_resource_arn: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)  # StartRestoreJob's Metadata (GetRestoreJobMetadata)
    # restore testing ([BC:backup] RestoreJobsListMember): the plan that made it, its validation, the deletion
    created_by: dict[str, Any] | None = None
    validation_window_hours: int | None = None
    validation_status: str | None = None
    validation_message: str | None = None
    deletion_status: str | None = None
    deletion_message: str | None = None
    deletion: Scheduled | None = None  # the end of the validation window


@dataclass
class RestoreTestingSelection:
    """A restore testing selection as the caller gave it ([BC:backup] RestoreTestingSelectionForCreate)."""

    name: str
    plan_name: str
    spec: dict[str, Any]
    created_at: float
    creator_request_id: str | None
    updated_at: float | None = None


@dataclass
class RestoreTestingPlan:
    """A restore testing plan ([BC:backup] RestoreTestingPlanForCreate, defaults applied) and its schedule."""

    name: str
    arn: str
    region: str
    account: str
    document: dict[str, Any]
    created_at: float
    creator_request_id: str | None
    updated_at: float | None = None
    last_execution: float | None = None
    selections: dict[str, RestoreTestingSelection] = field(default_factory=dict)
    schedule: Scheduled | None = None


def arn_parts(arn: str) -> list[str] | None:
    """``arn:partition:service:region:account:resource`` -> its six parts, or None."""
    parts = arn.split(":", 5)
    return parts if len(parts) == 6 and parts[0] == "arn" else None


def resource_type_of(arn: str) -> str:
    parts = arn_parts(arn)
    if parts is None:
        return "Unknown"
    service, resource = parts[2], parts[5]
    if service == "ec2":
        return "EBS" if resource.startswith("volume/") else "EC2"
    if service == "rds" and resource.startswith("cluster:"):
        return "Aurora"
    return _SERVICE_RESOURCE_TYPES.get(service, service)


def arn_matches(pattern: str, arn: str) -> bool:
    """Selection ARNs: exact, or a prefix pattern ending in ``*`` ([BC:backup] BackupSelection.Resources)."""
    if pattern.endswith("*"):
        return arn.startswith(pattern[:-1])
    return pattern == arn


def vault_of(arn: str) -> tuple[str, str, str] | None:
    """``(region, account, name)`` of a backup vault ARN, or None if ``arn`` is not one."""
    parts = arn_parts(arn)
    if parts is None or parts[2] != "backup" or not parts[5].startswith("backup-vault:"):
        return None
    return parts[3], parts[4], parts[5].split(":", 1)[1]


def item_size(item: dict[str, Any]) -> int:
    """Approximate size of a DynamoDB item: attribute names plus values (DynamoDB DG, "Item sizes")."""
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def _value_size(typed: dict[str, Any]) -> int:
    """Size of one typed (low-level) attribute value such as ``{"S": "abc"}``."""
    kind, inner = next(iter(typed.items()))
    if kind == "S":
        return len(inner.encode())
    if kind == "N":
        return len(str(inner).lstrip("-").replace(".", "")) // 2 + 1
    if kind == "B":
        return len(inner)
    if kind in ("SS", "NS", "BS"):
        return sum(_value_size({kind[0]: value}) for value in inner)
    if kind == "L":
        return 3 + sum(_value_size(value) + 1 for value in inner)
    if kind == "M":
        return 3 + sum(len(name.encode()) + _value_size(value) + 1 for name, value in inner.items())
    return 1  # BOOL, NULL
