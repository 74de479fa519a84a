"""AWS Backup for DynamoDB tables: selections, scheduled jobs, recovery points, copies, restores.

moto 5.2.5 stores backup vaults and plans (``CopyActions`` echoed) and nothing else: selections
raise NotImplementedError, ``UpdateBackupPlan`` too, and jobs, recovery points, copy and restore
jobs answer 404. This emulator answers those operations itself (in ``before_`` hooks, with the
response shapes of botocore's ``backup/2018-11-15`` model) and runs the jobs on the clock,
following ``/work/shared/AWS-SEMANTICS.md`` §5:

* a rule of a plan with selections starts a backup job per selected table at each time of its
  ``ScheduleExpression`` (AWS cron, UTC unless ``ScheduleExpressionTimezone``);
* a backup job is ``CREATED`` -> ``RUNNING`` -> ``COMPLETED`` (or ``FAILED``); the table is read
  when the job starts, and its recovery point is ``CREATING`` then ``AVAILABLE``;
* a completed job starts one copy job per ``CopyAction``; the copy lands in the destination vault
  only when it completes, and fails if either Region is lost by then — this is what decides the
  RPO of a backup & restore strategy;
* a restore job is ``PENDING`` -> ``RUNNING`` -> ``COMPLETED`` and creates a NEW table holding
  exactly the recovery point's items.

Recovery points are modeled as *advanced* DynamoDB backups (ARNs ``arn:aws:backup:...:
recovery-point:<id>``): cross-Region copy of DynamoDB backups requires them (AWS Backup DG,
"Advanced DynamoDB backup"). Vault and plan reads keep coming from moto; their timestamps are
rewritten to clock datetimes and ``NumberOfRecoveryPoints`` to this emulator's count.
"""
from __future__ import annotations

import base64
import copy
import datetime as _dt
import fnmatch
import itertools
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from botocore.exceptions import ClientError
from botocore.utils import parse_to_aware_datetime
from croniter import croniter

from pytest_drtest.clock import Scheduled
from pytest_drtest.emulation.core import AwsError, Call, ServiceEmulator
from pytest_drtest.emulation.dynamodb import BATCH_WRITE_LIMIT, create_table_params

if TYPE_CHECKING:
    from pytest_drtest.emulation.core import Emulation

#: botocore model [BC:backup] BackupRuleInput.ScheduleExpression: the default when none is given.
DEFAULT_SCHEDULE = "cron(0 5 ? * * *)"
DEFAULT_TIMEZONE = "Etc/UTC"
#: Defaults moto applies to a created plan's rules; updates apply the same so reads stay alike.
DEFAULT_START_WINDOW_MINUTES = 480
DEFAULT_COMPLETION_WINDOW_MINUTES = 10080
#: AWS Backup refuses schedules more frequent than hourly: "The interval between backup jobs
#: shouldn't be less than 60 minutes." (re:Post QUwYlivOoWTHi1nSuSGjTVFg).
MIN_SCHEDULE_INTERVAL = 3600.0
#: botocore model: BackupSelection.Resources holds at most 500 ARNs, or 30 with wildcards.
MAX_SELECTION_ARNS = 500
MAX_SELECTION_WILDCARDS = 30
_NAME = re.compile(r"^[A-Za-z0-9\-_.]{1,50}$")
_ID_NAMESPACE = uuid.UUID("6f1d3c2e-5b7a-4e0f-9a61-2d8c4b1e7a90")

# Resource types as AWS Backup names them (model: ListBackupJobsInput.ByResourceType).
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


# -- schedules ----------------------------------------------------------------------------------
_AWS_DAYS = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"}
_AWS_MONTHS = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"}


@dataclass(frozen=True)
class BackupSchedule:
    """A backup rule's AWS cron expression, translated for ``croniter``.

    AWS cron has six fields ``min hour day-of-month month day-of-week year``, ``?`` for "no
    value" and days of week numbered 1 (SUN) to 7 (SAT), ``nL`` for the last weekday n of the
    month and ``n#k`` for its k-th occurrence (Amazon EventBridge "Schedule expressions", which
    AWS Backup references). croniter numbers days 0 (SUN) to 6 and writes ``Ln``; the year field
    is dropped (a year-bounded schedule runs every year here).
    """

    expression: str
    cron: str
    timezone: str

    @classmethod
    def parse(cls, expression: str | None, timezone: str | None = None) -> BackupSchedule:
        """Parse an AWS ``cron(...)`` expression; raise ``ValueError`` with the reason."""
        expression = expression or DEFAULT_SCHEDULE
        timezone = timezone or DEFAULT_TIMEZONE
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"Invalid ScheduleExpressionTimezone {timezone!r}") from None
        match = re.fullmatch(r"\s*cron\((.*)\)\s*", expression)
        if match is None:
            raise ValueError(
                f"Invalid schedule expression {expression!r}: "
                "expected cron(minutes hours day-of-month month day-of-week year)"
            )
        fields = match.group(1).split()
        if len(fields) != 6:
            raise ValueError(f"Invalid cron expression {expression!r}: expected 6 fields, got {len(fields)}")
        minute, hour, day_of_month, month, day_of_week, year = fields
        if not re.fullmatch(r"\*|\?|[0-9,\-/]+", year):
            raise ValueError(f"Invalid cron expression {expression!r}: bad year field {year!r}")
        if day_of_month != "?" and day_of_week != "?":
            # EventBridge cron: one of day-of-month and day-of-week must be '?'.
            raise ValueError(f"Invalid cron expression {expression!r}: day-of-month or day-of-week must be '?'")
        # Only AWS syntax: croniter's own extensions (H, R) are refused here.
        if not (
            re.fullmatch(r"[0-9*,/\-]+", minute)
            and re.fullmatch(r"[0-9*,/\-]+", hour)
            and re.fullmatch(r"\?|[0-9*,/\-]+|L|LW|\d+W", day_of_month)
            and re.fullmatch(r"[0-9*,/\-]+|[A-Za-z]{3}(-[A-Za-z]{3})?", month)
            and all(name.upper() in _AWS_MONTHS for name in re.findall(r"[A-Za-z]+", month))
        ):
            raise ValueError(f"Invalid cron expression {expression!r}")
        dom = "*" if day_of_month == "?" else day_of_month
        cron = " ".join([minute, hour, dom, month, _translate_day_of_week(day_of_week, expression)])
        try:
            iterator = croniter(cron, _dt.datetime(2026, 1, 1, tzinfo=_dt.timezone.utc))
            times = [iterator.get_next(_dt.datetime) for _ in range(48)]
        except (ValueError, KeyError) as exc:
            raise ValueError(f"Invalid cron expression {expression!r}: {exc}") from None
        if min((b - a).total_seconds() for a, b in itertools.pairwise(times)) < MIN_SCHEDULE_INTERVAL:
            raise ValueError("The interval between backup jobs shouldn't be less than 60 minutes.")
        return cls(expression, cron, timezone)

    def next_after(self, when: _dt.datetime) -> _dt.datetime:
        """The first scheduled time strictly after ``when`` (an aware datetime), in UTC."""
        start = when.astimezone(ZoneInfo(self.timezone))
        nxt: _dt.datetime = croniter(self.cron, start).get_next(_dt.datetime)
        return nxt.astimezone(_dt.timezone.utc)


def _translate_day_of_week(text: str, expression: str) -> str:
    """AWS day-of-week (1=SUN..7=SAT, ``nL``, ``n#k``, ``?``) -> croniter (0=SUN..6=SAT)."""
    if text in ("?", "*"):
        return "*"

    def day(token: str) -> str:
        if token.upper() in _AWS_DAYS:
            return token.upper()
        if token.isdigit() and 1 <= int(token) <= 7:
            return str(int(token) - 1)
        raise ValueError(f"Invalid cron expression {expression!r}: bad day of week {token!r}")

    parts = []
    for part in text.split(","):
        if part == "L":
            parts.append("6")  # the last day of the week: Saturday
        elif m := re.fullmatch(r"(\w+)#([1-5])", part):
            parts.append(f"{day(m.group(1))}#{m.group(2)}")
        elif m := re.fullmatch(r"(\w+)L", part):
            parts.append(f"L{day(m.group(1))}")
        elif m := re.fullmatch(r"(\*|\w+)(?:-(\w+))?(?:/(\d+))?", part):
            first = "*" if m.group(1) == "*" else day(m.group(1))
            text_part = first + (f"-{day(m.group(2))}" if m.group(2) else "") + (f"/{m.group(3)}" if m.group(3) else "")
            parts.append(text_part)
        else:
            raise ValueError(f"Invalid cron expression {expression!r}: bad day of week {part!r}")
    return ",".join(parts)


# -- records ------------------------------------------------------------------------------------
@dataclass
class _PlanVersion:
    version_id: str
    document: dict[str, Any]  # BackupPlan as GetBackupPlan shows it (rules carry RuleId)
    created_at: float | None


@dataclass
class _Selection:
    selection_id: str
    plan_id: str
    spec: dict[str, Any]  # BackupSelection as the caller gave it
    created_at: float
    creator_request_id: str | None


@dataclass
class _Plan:
    """What this emulator knows of a moto plan: its versions, selections and schedules."""

    plan_id: str
    arn: str
    region: str
    account: str
    creator_request_id: str | None
    versions: list[_PlanVersion]
    updated: bool = False  # True once UpdateBackupPlan ran: reads are answered from here
    deleted_at: float | None = None
    last_execution: float | None = None
    selections: dict[str, _Selection] = field(default_factory=dict)
    schedules: dict[str, Scheduled] = field(default_factory=dict)  # RuleId -> next firing

    @property
    def current(self) -> _PlanVersion:
        return self.versions[-1]


@dataclass
class _RecoveryPoint:
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
class _Job:
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
class _BackupJob(_Job):
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


@dataclass(kw_only=True)
class _CopyJob(_Job):
    source: _RecoveryPoint
    destination_vault_arn: str
    destination_recovery_point_arn: str
    lifecycle: dict[str, Any] | None = None
    created_by_backup_job_id: str | None = None


@dataclass(kw_only=True)
class _RestoreJob(_Job):
    recovery_point: _RecoveryPoint
    target_table: str
    created_resource_arn: str | None = None


def _invalid(message: str) -> AwsError:
    return AwsError("InvalidParameterValueException", message)


def _message(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Message") or exc)


def _compact(record: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in record.items() if value is not None}


def _arn_parts(arn: str) -> list[str] | None:
    """``arn:partition:service:region:account:resource`` -> its six parts, or None."""
    parts = arn.split(":", 5)
    return parts if len(parts) == 6 and parts[0] == "arn" else None


def _resource_type(arn: str) -> str:
    parts = _arn_parts(arn)
    if parts is None:
        return "Unknown"
    service, resource = parts[2], parts[5]
    if service == "ec2":
        return "EBS" if resource.startswith("volume/") else "EC2"
    if service == "rds" and resource.startswith("cluster:"):
        return "Aurora"
    return _SERVICE_RESOURCE_TYPES.get(service, service)


def _arn_matches(pattern: str, arn: str) -> bool:
    """Selection ARNs: exact, or a prefix pattern ending in ``*`` (model: BackupSelection.Resources)."""
    if pattern.endswith("*"):
        return arn.startswith(pattern[:-1])
    return pattern == arn


def _item_size(item: dict[str, Any]) -> int:
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


def _page(items: list[dict[str, Any]], params: dict[str, Any], key: str) -> dict[str, Any]:
    """Apply ``MaxResults``/``NextToken`` (an offset) to a list response."""
    token = params.get("NextToken") or "0"
    if not str(token).isdigit():
        raise _invalid(f"Invalid NextToken {token!r}")
    start = int(token)
    limit = int(params.get("MaxResults") or 1000)
    page: dict[str, Any] = {key: items[start : start + limit]}
    if start + limit < len(items):
        page["NextToken"] = str(start + limit)
    return page


def _when(value: Any) -> _dt.datetime | None:
    return None if value is None else parse_to_aware_datetime(value)


def _field(record: dict[str, Any], path: str) -> Any:
    """``record["A"]["B"]`` for ``path`` ``"A.B"`` (None when absent)."""
    value: Any = record
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _listed(
    records: Iterable[dict[str, Any]], params: dict[str, Any], equal: dict[str, str], key: str
) -> dict[str, Any]:
    """A List* response: ``records`` kept by the ``By*`` filters, then paged.

    ``equal`` maps a filter parameter to the record field it must equal; ``ByCreatedAfter/Before``
    and ``ByCompleteAfter/Before`` compare ``CreationDate`` and ``CompletionDate``.
    """
    created_after, created_before = _when(params.get("ByCreatedAfter")), _when(params.get("ByCreatedBefore"))
    done_after, done_before = _when(params.get("ByCompleteAfter")), _when(params.get("ByCompleteBefore"))

    def keep(record: dict[str, Any]) -> bool:
        if any(params.get(name) and _field(record, path) != params[name] for name, path in equal.items()):
            return False
        created, completed = record.get("CreationDate"), record.get("CompletionDate")
        if (created_after and created < created_after) or (created_before and created > created_before):
            return False
        if done_after is None and done_before is None:
            return True
        return completed is not None and not (
            (done_after and completed < done_after) or (done_before and completed > done_before)
        )

    return _page([record for record in records if keep(record)], params, key)


def _vault_of(arn: str) -> tuple[str, str, str] | None:
    """``(region, account, name)`` of a backup vault ARN, or None if ``arn`` is not one."""
    parts = _arn_parts(arn)
    if parts is None or parts[2] != "backup" or not parts[5].startswith("backup-vault:"):
        return None
    return parts[3], parts[4], parts[5].split(":", 1)[1]


# -- the emulator -------------------------------------------------------------------------------
class BackupEmulator(ServiceEmulator):
    """AWS Backup jobs, recovery points, copies and restores of DynamoDB tables, on the clock."""

    service = "backup"

    def __init__(self, emulation: Emulation) -> None:
        super().__init__(emulation)
        self._ids = itertools.count(1)
        self._plans: dict[str, _Plan] = {}
        self._plan_created: dict[str, float] = {}
        self._plan_deleted: dict[str, float] = {}
        self._vault_created: dict[tuple[str, str], float] = {}
        self._recovery_points: dict[str, _RecoveryPoint] = {}  # ARN -> recovery point
        self._backup_jobs: dict[str, _BackupJob] = {}
        self._copy_jobs: dict[str, _CopyJob] = {}
        self._restore_jobs: dict[str, _RestoreJob] = {}
        self._scheduled: list[Scheduled] = []

    # -- public API for the harness --------------------------------------------------------------
    def recovery_points(self, vault_region: str, vault_name: str) -> list[dict[str, Any]]:
        """AVAILABLE recovery points of a vault, oldest first (clock datetimes, plus
        ``SnapshotTime``: the clock seconds at which the data was read)."""
        points = [
            rp for rp in self._recovery_points.values()
            if rp.region == vault_region and rp.vault_name == vault_name and rp.status == "AVAILABLE"
        ]
        return [self._record(rp) for rp in sorted(points, key=lambda rp: (rp.creation, rp.arn))]

    def latest_recovery_point(self, region: str, vault: str) -> dict[str, Any] | None:
        """The newest AVAILABLE recovery point of a vault (by snapshot time), or None."""
        points = self.recovery_points(region, vault)
        return points[-1] if points else None

    def jobs(self) -> list[dict[str, Any]]:
        """Every backup job (DescribeBackupJob shape plus ``Region``), in creation order."""
        return [{**self._describe_backup_job(job), "Region": job.region} for job in self._backup_jobs.values()]

    def copy_jobs(self) -> list[dict[str, Any]]:
        """Every copy job (CopyJob shape plus ``Region``, the source Region), in creation order."""
        return [{**self._describe_copy_job(job), "Region": job.region} for job in self._copy_jobs.values()]

    def restore_jobs(self) -> list[dict[str, Any]]:
        """Every restore job (DescribeRestoreJob shape plus ``Region``), in creation order."""
        return [{**self._describe_restore_job(job), "Region": job.region} for job in self._restore_jobs.values()]

    def close(self) -> None:
        for handle in self._scheduled:
            handle.cancel()
        self._scheduled.clear()
        for plan in self._plans.values():
            plan.schedules.clear()

    # -- helpers ---------------------------------------------------------------------------------
    def _new_id(self) -> str:
        """A uuid-shaped id, deterministic from a counter (same calls, same ids)."""
        return str(uuid.uuid5(_ID_NAMESPACE, str(next(self._ids)))).upper()

    def _new_version_id(self) -> str:
        return base64.b64encode(str(uuid.uuid5(_ID_NAMESPACE, f"v{next(self._ids)}")).encode()).decode()

    def _date(self, t: float | None) -> _dt.datetime | None:
        return None if t is None else self.clock.datetime(t)

    def _at(self, t: float, fn: Callable[[], None], name: str) -> Scheduled:
        now = self.clock.now()
        if len(self._scheduled) > 256:
            self._scheduled = [h for h in self._scheduled if not h.cancelled and (h.when >= now or h.interval)]
        handle = self.clock.call_at(t, fn, name=f"backup:{name}")
        self._scheduled.append(handle)
        return handle

    def _vault_arn(self, region: str, name: str) -> str | None:
        try:
            return str(self.backdoor(region).describe_backup_vault(BackupVaultName=name)["BackupVaultArn"])
        except ClientError:
            return None

    def _require_vault(self, region: str, name: str) -> str:
        arn = self._vault_arn(region, name)
        if arn is None:
            raise AwsError("ResourceNotFoundException", f"Backup vault {name} does not exist in {region}")
        return arn

    def _find_recovery_point(self, region: str, arn: str, vault_name: str | None = None) -> _RecoveryPoint:
        rp = self._recovery_points.get(arn)
        if rp is None or rp.region != region or (vault_name is not None and rp.vault_name != vault_name):
            raise AwsError("ResourceNotFoundException", f"Recovery point {arn} not found")
        return rp

    # -- vaults (moto answers; dates and counts rewritten) ----------------------------------------
    def after_CreateBackupVault(self, call: Call) -> None:
        self._vault_created[(call.region, call.params["BackupVaultName"])] = self.clock.now()
        self._rewrite_vault(call.region, call.parsed or {})

    def after_DescribeBackupVault(self, call: Call) -> None:
        self._rewrite_vault(call.region, call.parsed or {})

    def after_ListBackupVaults(self, call: Call) -> None:
        for vault in (call.parsed or {}).get("BackupVaultList", []):
            self._rewrite_vault(call.region, vault)

    def _rewrite_vault(self, region: str, vault: dict[str, Any]) -> None:
        name = vault.get("BackupVaultName")
        created = self._vault_created.get((region, name or ""))
        if created is not None:
            vault["CreationDate"] = self.clock.datetime(created)
        if "BackupVaultArn" in vault:
            vault["NumberOfRecoveryPoints"] = sum(
                1 for rp in self._recovery_points.values() if rp.vault_arn == vault["BackupVaultArn"]
            )

    def before_DeleteBackupVault(self, call: Call) -> dict[str, Any] | None:
        name = call.params["BackupVaultName"]
        if any(rp.region == call.region and rp.vault_name == name for rp in self._recovery_points.values()):
            # AWS Backup API: DeleteBackupVault — "the vault must be empty".
            raise AwsError(
                "InvalidRequestException", "Backup vault cannot be deleted because it contains recovery points"
            )
        self._vault_created.pop((call.region, name), None)
        return None

    # -- plans -----------------------------------------------------------------------------------
    def before_CreateBackupPlan(self, call: Call) -> dict[str, Any] | None:
        self._validate_rules(call.params.get("BackupPlan", {}).get("Rules", []))
        return None

    def after_CreateBackupPlan(self, call: Call) -> None:
        parsed = call.parsed or {}
        self._plan_created[parsed["BackupPlanId"]] = self.clock.now()
        parsed["CreationDate"] = self.clock.datetime()

    def _validate_rules(self, rules: Iterable[dict[str, Any]]) -> None:
        for rule in rules:
            try:
                BackupSchedule.parse(rule.get("ScheduleExpression"), rule.get("ScheduleExpressionTimezone"))
            except ValueError as exc:
                raise _invalid(str(exc)) from None
            for action in rule.get("CopyActions") or []:
                destination = action.get("DestinationBackupVaultArn", "")
                if _vault_of(destination) is None:
                    raise _invalid(f"Invalid DestinationBackupVaultArn {destination!r}")

    def _plan(self, region: str, plan_id: str) -> _Plan | None:
        """The plan ``plan_id`` of ``region`` (loaded from moto on first use), or None."""
        plan = self._plans.get(plan_id)
        if plan is not None:
            return plan if plan.region == region else None
        try:
            got = self.backdoor(region).get_backup_plan(BackupPlanId=plan_id)
        except ClientError:
            return None
        arn = got["BackupPlanArn"]
        document = copy.deepcopy(got["BackupPlan"])
        plan = _Plan(
            plan_id=plan_id,
            arn=arn,
            region=region,
            account=arn.split(":")[4],
            creator_request_id=got.get("CreatorRequestId"),
            versions=[_PlanVersion(got["VersionId"], document, self._plan_created.get(plan_id))],
            deleted_at=self._plan_deleted.get(plan_id),
        )
        if got.get("DeletionDate") is not None and plan.deleted_at is None:
            plan.deleted_at = self.clock.now()
        self._plans[plan_id] = plan
        return plan

    def before_UpdateBackupPlan(self, call: Call) -> dict[str, Any]:
        plan = self._plan(call.region, call.params["BackupPlanId"])
        if plan is None or plan.deleted_at is not None:
            raise AwsError("ResourceNotFoundException", "Failed reading Backup plan with provided version")
        document = copy.deepcopy(call.params["BackupPlan"])
        self._validate_rules(document.get("Rules", []))
        old_ids = {rule["RuleName"]: rule.get("RuleId") for rule in plan.current.document.get("Rules", [])}
        for rule in document.get("Rules", []):
            rule.setdefault("ScheduleExpression", DEFAULT_SCHEDULE)
            rule.setdefault("StartWindowMinutes", DEFAULT_START_WINDOW_MINUTES)
            rule.setdefault("CompletionWindowMinutes", DEFAULT_COMPLETION_WINDOW_MINUTES)
            rule.setdefault("ScheduleExpressionTimezone", DEFAULT_TIMEZONE)
            rule["RuleId"] = old_ids.get(rule["RuleName"]) or self._new_id().lower()
        # "Updates the specified backup plan. The new version is uniquely identified by its ID."
        version = _PlanVersion(self._new_version_id(), document, self.clock.now())
        plan.versions.append(version)
        plan.updated = True
        self._reschedule(plan)
        return _compact({
            "BackupPlanId": plan.plan_id,
            "BackupPlanArn": plan.arn,
            "CreationDate": self.clock.datetime(),
            "VersionId": version.version_id,
            "AdvancedBackupSettings": document.get("AdvancedBackupSettings"),
        })

    def before_GetBackupPlan(self, call: Call) -> dict[str, Any] | None:
        plan = self._plans.get(call.params["BackupPlanId"])
        if plan is None or not plan.updated or plan.region != call.region:
            return None
        wanted = call.params.get("VersionId")
        versions = [v for v in plan.versions if wanted in (None, v.version_id)]
        if not versions:
            raise AwsError("ResourceNotFoundException", "Failed reading Backup plan with provided version")
        version = versions[-1]
        return _compact({
            "BackupPlan": copy.deepcopy(version.document),
            "BackupPlanId": plan.plan_id,
            "BackupPlanArn": plan.arn,
            "VersionId": version.version_id,
            "CreatorRequestId": plan.creator_request_id,
            "CreationDate": self._date(version.created_at) or self._date(self._plan_created.get(plan.plan_id)),
            "DeletionDate": self._date(plan.deleted_at),
            "LastExecutionDate": self._date(plan.last_execution),
            "AdvancedBackupSettings": version.document.get("AdvancedBackupSettings"),
        })

    def after_GetBackupPlan(self, call: Call) -> None:
        self._rewrite_plan(call.parsed or {})

    def after_ListBackupPlans(self, call: Call) -> None:
        for entry in (call.parsed or {}).get("BackupPlansList", []):
            self._rewrite_plan(entry)

    def _rewrite_plan(self, entry: dict[str, Any]) -> None:
        plan_id = entry.get("BackupPlanId", "")
        if plan_id in self._plan_created:
            entry["CreationDate"] = self.clock.datetime(self._plan_created[plan_id])
        if plan_id in self._plan_deleted:
            entry["DeletionDate"] = self.clock.datetime(self._plan_deleted[plan_id])
        plan = self._plans.get(plan_id)
        if plan is None:
            return
        if plan.last_execution is not None:
            entry["LastExecutionDate"] = self.clock.datetime(plan.last_execution)
        if plan.updated:
            entry["VersionId"] = plan.current.version_id
            entry["BackupPlanName"] = plan.current.document.get("BackupPlanName")
            if plan.current.created_at is not None:
                entry["CreationDate"] = self.clock.datetime(plan.current.created_at)

    def before_DeleteBackupPlan(self, call: Call) -> dict[str, Any] | None:
        plan = self._plan(call.region, call.params["BackupPlanId"])
        if plan is not None and plan.selections:
            # AWS: "A backup plan can only be deleted after all associated selections of
            # resources have been deleted." (model: DeleteBackupPlan)
            message = "Related backup plan selections must be deleted prior to backup plan deletion"
            raise AwsError("InvalidRequestException", message)
        return None

    def after_DeleteBackupPlan(self, call: Call) -> None:
        parsed = call.parsed or {}
        plan_id = call.params["BackupPlanId"]
        self._plan_deleted[plan_id] = self.clock.now()
        parsed["DeletionDate"] = self.clock.datetime()
        plan = self._plans.get(plan_id)
        if plan is not None:
            plan.deleted_at = self.clock.now()
            parsed["VersionId"] = plan.current.version_id
            self._reschedule(plan)

    # -- selections ------------------------------------------------------------------------------
    def before_CreateBackupSelection(self, call: Call) -> dict[str, Any]:
        plan = self._plan(call.region, call.params["BackupPlanId"])
        if plan is None or plan.deleted_at is not None:
            # CreateBackupSelection models no ResourceNotFoundException.
            raise _invalid(f"Invalid backup plan id {call.params['BackupPlanId']}")
        spec = copy.deepcopy(call.params["BackupSelection"])
        self._validate_selection(spec)
        creator = call.params.get("CreatorRequestId")
        for other in plan.selections.values():
            same_request = creator is not None and other.creator_request_id == creator
            if other.spec["SelectionName"] == spec["SelectionName"] or same_request:
                message = f"Backup selection {spec['SelectionName']} already exists in plan {plan.plan_id}"
                raise AwsError("AlreadyExistsException", message)
        selection = _Selection(self._new_id().lower(), plan.plan_id, spec, self.clock.now(), creator)
        plan.selections[selection.selection_id] = selection
        self._reschedule(plan)
        return {
            "SelectionId": selection.selection_id,
            "BackupPlanId": plan.plan_id,
            "CreationDate": self.clock.datetime(selection.created_at),
        }

    @staticmethod
    def _validate_selection(spec: dict[str, Any]) -> None:
        if not _NAME.match(spec.get("SelectionName", "")):
            raise _invalid("SelectionName must contain 1 to 50 alphanumeric or '-_.' characters")
        role = _arn_parts(spec.get("IamRoleArn", ""))
        if role is None or role[2] != "iam":
            raise _invalid(f"Invalid IamRoleArn {spec.get('IamRoleArn')!r}")
        for key in ("Resources", "NotResources"):
            arns = spec.get(key) or []
            wildcards = [arn for arn in arns if "*" in arn]
            if len(arns) > MAX_SELECTION_ARNS or len(wildcards) > MAX_SELECTION_WILDCARDS:
                limits = f"at most {MAX_SELECTION_ARNS} ARNs, or {MAX_SELECTION_WILDCARDS} with wildcards"
                raise _invalid(f"{key} holds {limits}")
            for arn in arns:
                if arn == "*":
                    continue
                if _arn_parts(arn) is None:
                    raise _invalid(f"Invalid ARN {arn!r} in {key}")
                if "*" in arn[:-1]:
                    raise _invalid(f"Invalid ARN pattern {arn!r} in {key}: a wildcard may only end the ARN")

    def _selection(self, call: Call) -> tuple[_Plan, _Selection]:
        plan = self._plan(call.region, call.params["BackupPlanId"])
        selection = plan.selections.get(call.params["SelectionId"]) if plan else None
        if plan is None or selection is None:
            raise AwsError("ResourceNotFoundException", f"Backup selection {call.params['SelectionId']} not found")
        return plan, selection

    def before_GetBackupSelection(self, call: Call) -> dict[str, Any]:
        _plan, selection = self._selection(call)
        return _compact({
            "BackupSelection": copy.deepcopy(selection.spec),
            "SelectionId": selection.selection_id,
            "BackupPlanId": selection.plan_id,
            "CreationDate": self.clock.datetime(selection.created_at),
            "CreatorRequestId": selection.creator_request_id,
        })

    def before_ListBackupSelections(self, call: Call) -> dict[str, Any]:
        plan = self._plan(call.region, call.params["BackupPlanId"])
        if plan is None:
            raise AwsError("ResourceNotFoundException", f"Backup plan {call.params['BackupPlanId']} not found")
        members = [
            _compact({
                "SelectionId": s.selection_id,
                "SelectionName": s.spec["SelectionName"],
                "BackupPlanId": s.plan_id,
                "CreationDate": self.clock.datetime(s.created_at),
                "CreatorRequestId": s.creator_request_id,
                "IamRoleArn": s.spec["IamRoleArn"],
            })
            for s in plan.selections.values()
        ]
        return _page(members, call.params, "BackupSelectionsList")

    def before_DeleteBackupSelection(self, call: Call) -> dict[str, Any]:
        plan, selection = self._selection(call)
        del plan.selections[selection.selection_id]
        self._reschedule(plan)
        return {}

    # -- scheduling ------------------------------------------------------------------------------
    def _reschedule(self, plan: _Plan) -> None:
        """(Re)arm one clock event per rule for a live plan with selections; else cancel all."""
        for handle in plan.schedules.values():
            handle.cancel()
        plan.schedules.clear()
        if plan.deleted_at is not None or not plan.selections:
            return
        for rule in plan.current.document.get("Rules", []):
            self._arm_rule(plan, rule["RuleId"], self.clock.now())

    def _arm_rule(self, plan: _Plan, rule_id: str, after: float) -> None:
        rule = self._rule(plan, rule_id)
        if rule is None:
            return
        try:
            schedule = BackupSchedule.parse(rule.get("ScheduleExpression"), rule.get("ScheduleExpressionTimezone"))
        except ValueError:
            return  # a plan written behind the hooks with an expression AWS would refuse
        when = self.clock.seconds_at(schedule.next_after(self.clock.datetime(after)))

        def fire() -> None:
            self._fire_rule(plan, rule_id, when)

        plan.schedules[rule_id] = self._at(when, fire, f"{plan.plan_id}/{rule_id}")

    @staticmethod
    def _rule(plan: _Plan, rule_id: str) -> dict[str, Any] | None:
        return next((r for r in plan.current.document.get("Rules", []) if r.get("RuleId") == rule_id), None)

    def _fire_rule(self, plan: _Plan, rule_id: str, scheduled: float) -> None:
        """A rule's scheduled time: one backup job per selected resource, then the next time."""
        plan.schedules.pop(rule_id, None)
        rule = self._rule(plan, rule_id)
        if rule is None or plan.deleted_at is not None or not plan.selections:
            return
        # A lost Region runs no AWS Backup: its scheduled jobs are never created.
        if self.world.region_up(plan.region):
            plan.last_execution = scheduled
            created_by = _compact({
                "BackupPlanId": plan.plan_id,
                "BackupPlanArn": plan.arn,
                "BackupPlanName": plan.current.document.get("BackupPlanName"),
                "BackupPlanVersion": plan.current.version_id,
                "BackupRuleId": rule_id,
                "BackupRuleName": rule.get("RuleName"),
                "BackupRuleCron": rule.get("ScheduleExpression"),
                "BackupRuleTimezone": rule.get("ScheduleExpressionTimezone"),
            })
            vault_name = rule["TargetBackupVaultName"]
            vault_arn = self._vault_arn(plan.region, vault_name) or (
                f"arn:aws:backup:{plan.region}:{plan.account}:backup-vault:{vault_name}"
            )
            for resource_arn in self._selected_resources(plan):
                self._create_backup_job(
                    region=plan.region,
                    account=plan.account,
                    vault_name=vault_name,
                    vault_arn=vault_arn,
                    resource_arn=resource_arn,
                    iam_role_arn=self._role_for(plan, resource_arn),
                    start_window_minutes=rule.get("StartWindowMinutes") or DEFAULT_START_WINDOW_MINUTES,
                    lifecycle=rule.get("Lifecycle"),
                    created_by=created_by,
                    copy_actions=list(rule.get("CopyActions") or []),
                )
        self._arm_rule(plan, rule_id, scheduled)

    def _role_for(self, plan: _Plan, resource_arn: str) -> str:
        for selection in plan.selections.values():
            if any(_arn_matches(p, resource_arn) for p in selection.spec.get("Resources") or []):
                return str(selection.spec["IamRoleArn"])
        return str(next(iter(plan.selections.values())).spec["IamRoleArn"])

    def _selected_resources(self, plan: _Plan) -> list[str]:
        """ARNs the plan's selections choose now: DynamoDB tables of the plan's Region, plus
        explicitly listed ARNs of other types (their jobs fail: DynamoDB only here)."""
        dynamodb = self.backdoor(plan.region, "dynamodb")
        names: list[str] = []
        kwargs: dict[str, Any] = {}
        while True:
            page = dynamodb.list_tables(**kwargs)
            names += page.get("TableNames", [])
            if "LastEvaluatedTableName" not in page:
                break
            kwargs["ExclusiveStartTableName"] = page["LastEvaluatedTableName"]
        tables = [f"arn:aws:dynamodb:{plan.region}:{plan.account}:table/{name}" for name in names]
        tags_cache: dict[str, dict[str, str]] = {}

        def tags(arn: str) -> dict[str, str]:
            if arn not in tags_cache:
                listed = dynamodb.list_tags_of_resource(ResourceArn=arn).get("Tags", [])
                tags_cache[arn] = {tag["Key"]: tag["Value"] for tag in listed}
            return tags_cache[arn]

        chosen: dict[str, None] = {}
        for selection in plan.selections.values():
            spec = selection.spec
            for arn in tables:
                if self._selection_matches(spec, arn, tags):
                    chosen[arn] = None
            for pattern in spec.get("Resources") or []:
                excluded = any(_arn_matches(p, pattern) for p in spec.get("NotResources") or [])
                if "*" not in pattern and _resource_type(pattern) != "DynamoDB" and not excluded:
                    chosen[pattern] = None
        return list(chosen)

    @staticmethod
    def _selection_matches(spec: dict[str, Any], arn: str, tags: Callable[[str], dict[str, str]]) -> bool:
        """Resources OR ListOfTags (StringEquals), minus NotResources, AND every Condition
        (model: BackupSelection; AWS Backup DG "Assigning resources programmatically")."""
        listed = any(_arn_matches(p, arn) for p in spec.get("Resources") or [])
        tagged = any(
            tags(arn).get(c["ConditionKey"]) == c["ConditionValue"]
            for c in spec.get("ListOfTags") or []
            if c.get("ConditionType", "STRINGEQUALS") == "STRINGEQUALS"
        )
        if not (listed or tagged) or any(_arn_matches(p, arn) for p in spec.get("NotResources") or []):
            return False
        conditions = spec.get("Conditions") or {}

        def holds(operator: str, condition: dict[str, str]) -> bool:
            value = tags(arn).get(condition["ConditionKey"].removeprefix("aws:ResourceTag/"))
            wanted = condition["ConditionValue"]
            like = value is not None and fnmatch.fnmatchcase(value, wanted)
            return {
                "StringEquals": value == wanted,
                "StringNotEquals": value != wanted,
                "StringLike": like,
                "StringNotLike": not like,
            }[operator]

        return all(holds(operator, c) for operator, listed_conditions in conditions.items() for c in listed_conditions)

    # -- backup jobs -----------------------------------------------------------------------------
    def before_StartBackupJob(self, call: Call) -> dict[str, Any]:
        params = call.params
        token = params.get("IdempotencyToken")
        if token:
            for job in self._backup_jobs.values():
                if job.region == call.region and job.idempotency_token == token:
                    # "Retrying a successful request with the same idempotency token results
                    # in a success message with no action taken." (model: StartBackupJob)
                    return self._start_backup_output(job)
        resource_arn = params["ResourceArn"]
        parts = _arn_parts(resource_arn)
        if parts is None:
            raise _invalid(f"Invalid ResourceArn {resource_arn!r}")
        if parts[3] and parts[3] != call.region:
            # The vault and the resource must be in the same Region (unverified message).
            raise _invalid(f"Resource {resource_arn} is not in Region {call.region}")
        vault_arn = self._require_vault(call.region, params["BackupVaultName"])
        job = self._create_backup_job(
            region=call.region,
            account=vault_arn.split(":")[4],
            vault_name=params["BackupVaultName"],
            vault_arn=vault_arn,
            resource_arn=resource_arn,
            iam_role_arn=params["IamRoleArn"],
            start_window_minutes=params.get("StartWindowMinutes") or DEFAULT_START_WINDOW_MINUTES,
            lifecycle=params.get("Lifecycle"),
            created_by={},
            copy_actions=[],
            idempotency_token=token,
        )
        return self._start_backup_output(job)

    def _start_backup_output(self, job: _BackupJob) -> dict[str, Any]:
        return {
            "BackupJobId": job.job_id,
            "RecoveryPointArn": job.recovery_point_arn,
            "CreationDate": self.clock.datetime(job.created),
            "IsParent": False,
        }

    def _create_backup_job(
        self,
        *,
        region: str,
        account: str,
        vault_name: str,
        vault_arn: str,
        resource_arn: str,
        iam_role_arn: str,
        start_window_minutes: int,
        lifecycle: dict[str, Any] | None,
        created_by: dict[str, Any],
        copy_actions: list[dict[str, Any]],
        idempotency_token: str | None = None,
    ) -> _BackupJob:
        """A job in ``CREATED``; it starts at once (on the clock's next step)."""
        now = self.clock.now()
        resource = (_arn_parts(resource_arn) or ["", "", "", "", "", ""])[5]
        job = _BackupJob(
            job_id=self._new_id(),
            region=region,
            account=account,
            state="CREATED",
            created=now,
            iam_role_arn=iam_role_arn,
            idempotency_token=idempotency_token,
            vault_name=vault_name,
            vault_arn=vault_arn,
            resource_arn=resource_arn,
            resource_type=_resource_type(resource_arn),
            resource_name=resource.split("/", 1)[1] if "/" in resource else resource,
            recovery_point_arn=f"arn:aws:backup:{region}:{account}:recovery-point:{self._new_id()}",
            # "StartBy ... is calculated by adding the start window to the scheduled time."
            start_by=now + 60.0 * float(start_window_minutes),
            created_by=created_by,
            lifecycle=copy.deepcopy(lifecycle) if lifecycle else None,
            copy_actions=copy.deepcopy(copy_actions),
        )
        self._backup_jobs[job.job_id] = job
        self._at(now, lambda: self._start_backup_job(job), f"start {job.job_id}")
        return job

    def _fail(self, job: _Job, message: str) -> None:
        job.state = "FAILED"
        job.completed = self.clock.now()
        job.status_message = message

    def _start_backup_job(self, job: _BackupJob) -> None:
        """``RUNNING``: the table's items and description are read now (the snapshot)."""
        if job.state != "CREATED":
            return
        now = self.clock.now()
        job.state = "RUNNING"
        job.started = now
        if job.resource_type != "DynamoDB":
            self._fail(
                job,
                "pytest-drtest emulates AWS Backup for DynamoDB tables only; "
                f"resource type {job.resource_type} is not supported",
            )
            return
        if not self.world.region_up(job.region):
            self._fail(job, f"Region {job.region} is unavailable")
            return
        if self._vault_arn(job.region, job.vault_name) is None:
            self._fail(job, f"Backup vault {job.vault_name} does not exist")
            return
        try:
            table, items = self._snapshot(job.region, job.resource_name)
        except ClientError as exc:
            self._fail(job, f"Resource {job.resource_arn} could not be backed up: {_message(exc)}")
            return
        job.size = sum(_item_size(item) for item in items)
        job.duration = self.profile.sample("backup_job_time", stream="backup.job")
        rp = _RecoveryPoint(
            arn=job.recovery_point_arn,
            region=job.region,
            account=job.account,
            vault_name=job.vault_name,
            vault_arn=job.vault_arn,
            resource_arn=job.resource_arn,
            resource_type=job.resource_type,
            resource_name=job.resource_name,
            iam_role_arn=job.iam_role_arn,
            created_by=job.created_by,
            lifecycle=job.lifecycle,
            creation=now,
            initiation=job.created,
            size=job.size,
            table=table,
            items=items,
        )
        self._recovery_points[rp.arn] = rp
        self._at(now + job.duration, lambda: self._complete_backup_job(job, rp), f"complete {job.job_id}")

    def _snapshot(self, region: str, table_name: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        dynamodb = self.backdoor(region, "dynamodb")
        table = copy.deepcopy(dynamodb.describe_table(TableName=table_name)["Table"])
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"TableName": table_name, "ConsistentRead": True}
        while True:
            page = dynamodb.scan(**kwargs)
            items += page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return table, items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _complete_backup_job(self, job: _BackupJob, rp: _RecoveryPoint) -> None:
        if job.state != "RUNNING":
            return
        if not self.world.region_up(job.region):
            # The snapshot never left the lost Region: no recovery point survives.
            self._recovery_points.pop(rp.arn, None)
            self._fail(
                job,
                f"Region {job.region} became unavailable before the backup completed; "
                "the snapshot never left the Region",
            )
            return
        now = self.clock.now()
        job.state = "COMPLETED"
        job.completed = now
        rp.status = "AVAILABLE"
        rp.completion = now
        self._arm_expiry(rp)
        for action in job.copy_actions:
            self._create_copy_job(
                region=job.region,
                source=rp,
                destination_vault_arn=action["DestinationBackupVaultArn"],
                iam_role_arn=job.iam_role_arn,
                lifecycle=action.get("Lifecycle"),
                created_by_backup_job_id=job.job_id,
            )

    def _arm_expiry(self, rp: _RecoveryPoint) -> None:
        """Delete the recovery point ``DeleteAfterDays`` after its creation date (model: Lifecycle)."""
        days = (rp.lifecycle or {}).get("DeleteAfterDays")
        if days and days > 0:

            def expire() -> None:
                self._recovery_points.pop(rp.arn, None)

            self._at(rp.creation + 86400.0 * days, expire, f"expire {rp.arn}")

    def _describe_backup_job(self, job: _BackupJob) -> dict[str, Any]:
        now = self.clock.now()
        return _compact({
            "AccountId": job.account,
            "BackupJobId": job.job_id,
            "BackupVaultName": job.vault_name,
            "BackupVaultArn": job.vault_arn,
            "VaultType": "BACKUP_VAULT",
            "RecoveryPointArn": job.recovery_point_arn,
            "RecoveryPointLifecycle": job.lifecycle,
            "IsEncrypted": True,
            "ResourceArn": job.resource_arn,
            "CreationDate": self.clock.datetime(job.created),
            "CompletionDate": self._date(job.completed),
            "State": job.state,
            "StatusMessage": job.status_message,
            "PercentDone": job.percent_done(now),
            "BackupSizeInBytes": job.size,
            "IamRoleArn": job.iam_role_arn,
            "CreatedBy": job.created_by or None,
            "ResourceType": job.resource_type,
            "BytesTransferred": job.size if job.state == "COMPLETED" else None,
            "ExpectedCompletionDate": self._date(job.expected_completion),
            "StartBy": self.clock.datetime(job.start_by),
            "IsParent": False,
            "ResourceName": job.resource_name,
            "InitiationDate": self.clock.datetime(job.created),
        })

    def _backup_job(self, call: Call) -> _BackupJob:
        job = self._backup_jobs.get(call.params["BackupJobId"])
        if job is None or job.region != call.region:
            raise AwsError("ResourceNotFoundException", f"Backup job {call.params['BackupJobId']} not found")
        return job

    def before_DescribeBackupJob(self, call: Call) -> dict[str, Any]:
        return self._describe_backup_job(self._backup_job(call))

    def before_ListBackupJobs(self, call: Call) -> dict[str, Any]:
        mine = [job for job in reversed(self._backup_jobs.values()) if job.region == call.region]
        jobs = [self._describe_backup_job(job) for job in mine]
        filters = {
            "ByState": "State",
            "ByBackupVaultName": "BackupVaultName",
            "ByResourceArn": "ResourceArn",
            "ByResourceType": "ResourceType",
        }
        return _listed(jobs, call.params, filters, "BackupJobs")  # newest first

    # -- copy jobs -------------------------------------------------------------------------------
    def before_StartCopyJob(self, call: Call) -> dict[str, Any]:
        p = call.params
        token = p.get("IdempotencyToken")
        if token:
            for job in self._copy_jobs.values():
                if job.region == call.region and job.idempotency_token == token:
                    return self._start_copy_output(job)
        rp = self._find_recovery_point(call.region, p["RecoveryPointArn"], p["SourceBackupVaultName"])
        if rp.status != "AVAILABLE":
            raise AwsError("InvalidRequestException", f"Recovery point {rp.arn} is not AVAILABLE (status {rp.status})")
        if _vault_of(p["DestinationBackupVaultArn"]) is None:
            raise _invalid(f"Invalid DestinationBackupVaultArn {p['DestinationBackupVaultArn']!r}")
        job = self._create_copy_job(
            region=call.region,
            source=rp,
            destination_vault_arn=p["DestinationBackupVaultArn"],
            iam_role_arn=p["IamRoleArn"],
            lifecycle=p.get("Lifecycle"),
            created_by_backup_job_id=None,
            idempotency_token=token,
        )
        return self._start_copy_output(job)

    def _start_copy_output(self, job: _CopyJob) -> dict[str, Any]:
        return {"CopyJobId": job.job_id, "CreationDate": self.clock.datetime(job.created), "IsParent": False}

    def _create_copy_job(
        self,
        *,
        region: str,
        source: _RecoveryPoint,
        destination_vault_arn: str,
        iam_role_arn: str,
        lifecycle: dict[str, Any] | None,
        created_by_backup_job_id: str | None,
        idempotency_token: str | None = None,
    ) -> _CopyJob:
        now = self.clock.now()
        dest_region, dest_account, _name = _vault_of(destination_vault_arn) or (region, source.account, "")
        dest_recovery_point = f"arn:aws:backup:{dest_region}:{dest_account}:recovery-point:{self._new_id()}"
        job = _CopyJob(
            job_id=self._new_id(),
            region=region,
            account=source.account,
            state="CREATED",
            created=now,
            iam_role_arn=iam_role_arn,
            idempotency_token=idempotency_token,
            destination_vault_arn=destination_vault_arn,
            destination_recovery_point_arn=dest_recovery_point,
            # "If you don't specify a lifecycle, AWS Backup applies the lifecycle policy of the
            # source backup to the destination backup." (Security Hub / Backup API CopyAction)
            lifecycle=copy.deepcopy(lifecycle) if lifecycle else source.lifecycle,
            created_by_backup_job_id=created_by_backup_job_id,
            source=source,
        )
        self._copy_jobs[job.job_id] = job
        self._at(now, lambda: self._start_copy_job(job), f"start {job.job_id}")
        return job

    def _start_copy_job(self, job: _CopyJob) -> None:
        if job.state != "CREATED":
            return
        now = self.clock.now()
        job.state = "RUNNING"
        job.started = now
        job.duration = self.profile.sample("backup_copy_time", stream="backup.copy")
        self._at(now + job.duration, lambda: self._complete_copy_job(job), f"complete {job.job_id}")

    def _complete_copy_job(self, job: _CopyJob) -> None:
        if job.state != "RUNNING":
            return
        source = job.source
        destination = _vault_of(job.destination_vault_arn)
        if destination is None:
            self._fail(job, f"Invalid destination backup vault ARN {job.destination_vault_arn}")
            return
        dest_region, dest_account, dest_vault = destination
        for region in dict.fromkeys((source.region, dest_region)):
            if not self.world.region_up(region):
                self._fail(job, f"Copy failed: Region {region} became unavailable before the copy completed")
                return
        if self._vault_arn(dest_region, dest_vault) is None:
            self._fail(job, f"Destination backup vault {job.destination_vault_arn} does not exist")
            return
        now = self.clock.now()
        job.state = "COMPLETED"
        job.completed = now
        # "Copies retain their source configuration, including creation dates ... The creation
        # date refers to when the source was created" (AWS Backup DG, "Copy a backup").
        copied = _RecoveryPoint(
            arn=job.destination_recovery_point_arn,
            region=dest_region,
            account=dest_account,
            vault_name=dest_vault,
            vault_arn=job.destination_vault_arn,
            resource_arn=source.resource_arn,
            resource_type=source.resource_type,
            resource_name=source.resource_name,
            iam_role_arn=job.iam_role_arn,
            created_by=source.created_by,
            lifecycle=job.lifecycle,
            creation=source.creation,
            initiation=job.created,
            status="AVAILABLE",
            completion=now,
            size=source.size,
            source_vault_arn=source.vault_arn,
            source_recovery_point_arn=source.arn,
            table=source.table,
            items=source.items,
        )
        self._recovery_points[copied.arn] = copied
        self._arm_expiry(copied)

    def _describe_copy_job(self, job: _CopyJob) -> dict[str, Any]:
        source = job.source
        return _compact({
            "AccountId": job.account,
            "CopyJobId": job.job_id,
            "SourceBackupVaultArn": source.vault_arn,
            "SourceRecoveryPointArn": source.arn,
            "DestinationBackupVaultArn": job.destination_vault_arn,
            "DestinationVaultType": "BACKUP_VAULT",
            "DestinationRecoveryPointArn": job.destination_recovery_point_arn,
            "DestinationRecoveryPointLifecycle": job.lifecycle,
            "ResourceArn": source.resource_arn,
            "CreationDate": self.clock.datetime(job.created),
            "CompletionDate": self._date(job.completed),
            "State": job.state,
            "StatusMessage": job.status_message,
            "BackupSizeInBytes": source.size,
            "IamRoleArn": job.iam_role_arn,
            "CreatedBy": source.created_by or None,
            "CreatedByBackupJobId": job.created_by_backup_job_id,
            "ResourceType": source.resource_type,
            "IsParent": False,
            "ResourceName": source.resource_name,
        })

    def before_DescribeCopyJob(self, call: Call) -> dict[str, Any]:
        job = self._copy_jobs.get(call.params["CopyJobId"])
        if job is None or job.region != call.region:
            raise AwsError("ResourceNotFoundException", f"Copy job {call.params['CopyJobId']} not found")
        return {"CopyJob": self._describe_copy_job(job)}

    def before_ListCopyJobs(self, call: Call) -> dict[str, Any]:
        jobs = [self._describe_copy_job(job) for job in reversed(self._copy_jobs.values()) if job.region == call.region]
        filters = {
            "ByState": "State",
            "ByResourceArn": "ResourceArn",
            "ByResourceType": "ResourceType",
            "ByDestinationVaultArn": "DestinationBackupVaultArn",
            "BySourceRecoveryPointArn": "SourceRecoveryPointArn",
        }
        return _listed(jobs, call.params, filters, "CopyJobs")

    # -- recovery points -------------------------------------------------------------------------
    def _describe_recovery_point(self, rp: _RecoveryPoint) -> dict[str, Any]:
        lifecycle = rp.lifecycle or {}
        calculated = _compact({
            "MoveToColdStorageAt": self.clock.datetime(rp.creation + 86400.0 * lifecycle["MoveToColdStorageAfterDays"])
            if lifecycle.get("MoveToColdStorageAfterDays", 0) > 0 else None,
            "DeleteAt": self.clock.datetime(rp.creation + 86400.0 * lifecycle["DeleteAfterDays"])
            if lifecycle.get("DeleteAfterDays", 0) > 0 else None,
        })
        return _compact({
            "RecoveryPointArn": rp.arn,
            "BackupVaultName": rp.vault_name,
            "BackupVaultArn": rp.vault_arn,
            "SourceBackupVaultArn": rp.source_vault_arn,
            "ResourceArn": rp.resource_arn,
            "ResourceType": rp.resource_type,
            "CreatedBy": rp.created_by or None,
            "IamRoleArn": rp.iam_role_arn,
            "Status": rp.status,
            "CreationDate": self.clock.datetime(rp.creation),
            "InitiationDate": self.clock.datetime(rp.initiation),
            "CompletionDate": self._date(rp.completion),
            "BackupSizeInBytes": rp.size,
            "CalculatedLifecycle": calculated or None,
            "Lifecycle": rp.lifecycle,
            "IsEncrypted": True,
            "IsParent": False,
            "ResourceName": rp.resource_name,
            "VaultType": "BACKUP_VAULT",
        })

    def _record(self, rp: _RecoveryPoint) -> dict[str, Any]:
        """The harness's view of a recovery point: the API shape plus where its data comes from."""
        return {
            **self._describe_recovery_point(rp),
            "Region": rp.region,
            "SourceRecoveryPointArn": rp.source_recovery_point_arn,
            "SnapshotTime": rp.creation,
            "ItemCount": len(rp.items),
        }

    def _points(self, region: str, keep: Callable[[_RecoveryPoint], bool]) -> list[_RecoveryPoint]:
        """Recovery points of ``region`` that ``keep`` accepts, newest first (AWS leaves the order open)."""
        points = [rp for rp in self._recovery_points.values() if rp.region == region and keep(rp)]
        return sorted(points, key=lambda rp: (rp.creation, rp.arn), reverse=True)

    def before_ListRecoveryPointsByBackupVault(self, call: Call) -> dict[str, Any]:
        vault = call.params["BackupVaultName"]
        self._require_vault(call.region, vault)
        in_vault = self._points(call.region, lambda rp: rp.vault_name == vault)
        points = [self._describe_recovery_point(rp) for rp in in_vault]
        filters = {
            "ByResourceArn": "ResourceArn",
            "ByResourceType": "ResourceType",
            "ByBackupPlanId": "CreatedBy.BackupPlanId",
        }
        return _listed(points, call.params, filters, "RecoveryPoints")

    def before_ListRecoveryPointsByResource(self, call: Call) -> dict[str, Any]:
        resource = call.params["ResourceArn"]
        listed = [
            _compact({
                "RecoveryPointArn": rp.arn,
                "CreationDate": self.clock.datetime(rp.creation),
                "Status": rp.status,
                "BackupSizeBytes": rp.size,
                "BackupVaultName": rp.vault_name,
                "IsParent": False,
                "ResourceName": rp.resource_name,
                "VaultType": "BACKUP_VAULT",
            })
            for rp in self._points(call.region, lambda rp: rp.resource_arn == resource)
        ]
        return _page(listed, call.params, "RecoveryPoints")

    def before_DescribeRecoveryPoint(self, call: Call) -> dict[str, Any]:
        rp = self._find_recovery_point(call.region, call.params["RecoveryPointArn"], call.params["BackupVaultName"])
        return {**self._describe_recovery_point(rp), "StorageClass": "WARM"}

    def before_DeleteRecoveryPoint(self, call: Call) -> dict[str, Any]:
        rp = self._find_recovery_point(call.region, call.params["RecoveryPointArn"], call.params["BackupVaultName"])
        if rp.status == "CREATING":
            raise AwsError("InvalidResourceStateException", f"Recovery point {rp.arn} is being created")
        del self._recovery_points[rp.arn]
        return {}

    def before_GetRecoveryPointRestoreMetadata(self, call: Call) -> dict[str, Any]:
        rp = self._find_recovery_point(call.region, call.params["RecoveryPointArn"], call.params["BackupVaultName"])
        return {
            "BackupVaultArn": rp.vault_arn,
            "RecoveryPointArn": rp.arn,
            # AWS Backup DG "Restore a DynamoDB table": the new table's name is targetTableName.
            "RestoreMetadata": {"targetTableName": rp.resource_name},
            "ResourceType": rp.resource_type,
        }

    # -- restore jobs ----------------------------------------------------------------------------
    def before_StartRestoreJob(self, call: Call) -> dict[str, Any]:
        p = call.params
        token = p.get("IdempotencyToken")
        if token:
            for job in self._restore_jobs.values():
                if job.region == call.region and job.idempotency_token == token:
                    return {"RestoreJobId": job.job_id}
        rp = self._find_recovery_point(call.region, p["RecoveryPointArn"])
        if rp.status != "AVAILABLE":
            raise AwsError("InvalidRequestException", f"Recovery point {rp.arn} is not AVAILABLE (status {rp.status})")
        target = (p.get("Metadata") or {}).get("targetTableName")
        if not target:
            raise _invalid("Metadata must hold targetTableName, the name of the new table")
        now = self.clock.now()
        job = _RestoreJob(
            job_id=self._new_id(),
            region=call.region,
            account=rp.account,
            state="PENDING",
            created=now,
            iam_role_arn=p.get("IamRoleArn") or rp.iam_role_arn,
            idempotency_token=token,
            recovery_point=rp,
            target_table=target,
        )
        self._restore_jobs[job.job_id] = job
        self._at(now, lambda: self._start_restore_job(job), f"start {job.job_id}")
        return {"RestoreJobId": job.job_id}

    def _start_restore_job(self, job: _RestoreJob) -> None:
        if job.state != "PENDING":
            return
        now = self.clock.now()
        job.state = "RUNNING"
        job.started = now
        job.duration = self.profile.sample("backup_restore_time", stream="backup.restore")
        self._at(now + job.duration, lambda: self._complete_restore_job(job), f"complete {job.job_id}")

    def _complete_restore_job(self, job: _RestoreJob) -> None:
        """Create the NEW table (key schema, indexes, billing mode of the snapshot) and its items."""
        rp = job.recovery_point
        if job.state != "RUNNING":
            return
        if not self.world.region_up(job.region):
            self._fail(job, f"Region {job.region} became unavailable before the restore completed")
            return
        dynamodb = self.backdoor(job.region, "dynamodb")
        try:
            dynamodb.describe_table(TableName=job.target_table)
        except ClientError:
            pass
        else:
            # DynamoDB RestoreTableFromBackup: TableAlreadyExistsException "Table already exists: <name>".
            self._fail(job, f"Table already exists: {job.target_table}")
            return
        try:
            created = self._create_table(job.region, job.target_table, rp)
        except (ClientError, AwsError) as exc:
            message = exc.message if isinstance(exc, AwsError) else _message(exc)
            self._fail(job, f"Restore failed: {message}")
            return
        job.state = "COMPLETED"
        job.completed = self.clock.now()
        job.created_resource_arn = created["TableArn"]

    def _create_table(self, region: str, name: str, rp: _RecoveryPoint) -> dict[str, Any]:
        """Create table ``name`` shaped like the snapshot, holding its items; its TableDescription.

        Through the DynamoDB emulator when there is one, so that the items enter its history
        (later PITR restores and ledger checks see them); else straight into the backdoor.
        """
        dynamodb_emulator = self.emulation.services.get("dynamodb")
        if dynamodb_emulator is not None and hasattr(dynamodb_emulator, "create_table_with_items"):
            return dict(dynamodb_emulator.create_table_with_items(region, name, rp.table, rp.items))
        dynamodb = self.backdoor(region, "dynamodb")
        description = dynamodb.create_table(**create_table_params(name, rp.table))["TableDescription"]
        for start in range(0, len(rp.items), BATCH_WRITE_LIMIT):
            batch = rp.items[start : start + BATCH_WRITE_LIMIT]
            requests: dict[str, Any] = {name: [{"PutRequest": {"Item": item}} for item in batch]}
            while requests:
                requests = dynamodb.batch_write_item(RequestItems=requests).get("UnprocessedItems") or {}
        return dict(description)

    def _describe_restore_job(self, job: _RestoreJob) -> dict[str, Any]:
        rp = job.recovery_point
        return _compact({
            "AccountId": job.account,
            "RestoreJobId": job.job_id,
            "RecoveryPointArn": rp.arn,
            "SourceResourceArn": rp.resource_arn,
            "BackupVaultArn": rp.vault_arn,
            "CreationDate": self.clock.datetime(job.created),
            "CompletionDate": self._date(job.completed),
            "Status": job.state,
            "StatusMessage": job.status_message,
            "PercentDone": job.percent_done(self.clock.now()),
            "BackupSizeInBytes": rp.size,
            "IamRoleArn": job.iam_role_arn,
            "ExpectedCompletionTimeMinutes": round(job.duration / 60) if job.duration else None,
            "CreatedResourceArn": job.created_resource_arn,
            "ResourceType": rp.resource_type,
            "RecoveryPointCreationDate": self.clock.datetime(rp.creation),
            "IsParent": False,
        })

    def before_DescribeRestoreJob(self, call: Call) -> dict[str, Any]:
        job = self._restore_jobs.get(call.params["RestoreJobId"])
        if job is None or job.region != call.region:
            raise AwsError("ResourceNotFoundException", f"Restore job {call.params['RestoreJobId']} not found")
        return self._describe_restore_job(job)

    def before_ListRestoreJobs(self, call: Call) -> dict[str, Any]:
        mine = [job for job in reversed(self._restore_jobs.values()) if job.region == call.region]
        jobs = [self._describe_restore_job(job) for job in mine]
        return _listed(jobs, call.params, {"ByStatus": "Status", "ByResourceType": "ResourceType"}, "RestoreJobs")
