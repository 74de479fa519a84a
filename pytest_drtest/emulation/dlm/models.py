"""Data Lifecycle Manager policies as the emulation models them, and the checks AWS makes.

[BC:dlm] CreateRule: ``Interval`` "The supported values are 1, 2, 3, 4, 6, 8, 12, and 24", unit
``HOURS``, at most one ``Times`` entry ``hh:mm`` (UTC) — "The operation occurs within a one-hour
window following the specified time. If you do not specify a time, Amazon Data Lifecycle Manager
selects a time within the next 24 hours" — or a ``CronExpression`` whose "schedule interval must
be between 1 hour and 1 year", never both. RetainRule: ``Count`` (1-1000) or ``Interval`` +
``IntervalUnit`` (``DAYS``/``WEEKS``/``MONTHS``/``YEARS``). A policy has one to four schedules
(ScheduleList) and a schedule up to three ``CrossRegionCopyRules``. Bad input is refused with
``InvalidRequestException`` (the code [BC:dlm] declares for CreateLifecyclePolicy and
UpdateLifecyclePolicy; AWS documents no finer code). [EC2-UG:snapshot-lifecycle] "Considerations":
"You cannot change the retention schedule of a policy from count-based to time-based after
creation"; 100 lifecycle policies per Region.
"""
from __future__ import annotations

import calendar
import datetime as _dt
import re
from dataclasses import dataclass, field
from typing import Any

from pytest_drtest.emulation.backup.schedules import BackupSchedule
from pytest_drtest.emulation.core import AwsError

INTERVAL_HOURS = (1, 2, 3, 4, 6, 8, 12, 24)
MAX_SCHEDULES = 4
MAX_COPY_RULES = 3
MAX_POLICIES_PER_REGION = 100
MAX_RETAIN_COUNT = 1000
#: The system tags on every snapshot a policy creates ([EC2-UG:snapshot-lifecycle], "Amazon Data
#: Lifecycle Manager tags"); ``aws:dlm:expirationTime`` only under age-based retention.
POLICY_ID_TAG = "aws:dlm:lifecycle-policy-id"
SCHEDULE_NAME_TAG = "aws:dlm:lifecycle-schedule-name"
EXPIRATION_TAG = "aws:dlm:expirationTime"
MANAGED_TAG = "dlm:managed"
SYSTEM_TAGS = frozenset({POLICY_ID_TAG, SCHEDULE_NAME_TAG, EXPIRATION_TAG, MANAGED_TAG})
RETENTION_UNITS = ("DAYS", "WEEKS", "MONTHS", "YEARS")
#: "selects a time within the next 24 hours" when a CreateRule has no Times ([BC:dlm] CreateRule).
UNSET_START_WINDOW = 86400.0


def invalid(message: str) -> AwsError:
    return AwsError("InvalidRequestException", message, 400)


@dataclass(frozen=True)
class Retention:
    """Count-based (``count``) or age-based (``interval`` ``unit``)."""

    count: int | None = None
    interval: int | None = None
    unit: str | None = None

    @property
    def age_based(self) -> bool:
        return self.count is None

    def expires(self, created: _dt.datetime) -> _dt.datetime | None:
        """When a snapshot created at ``created`` is to be deleted (age-based only). Months and
        years are calendar months and years (AWS documents no length; this model's choice)."""
        if self.interval is None or self.unit is None:
            return None
        if self.unit == "DAYS":
            return created + _dt.timedelta(days=self.interval)
        if self.unit == "WEEKS":
            return created + _dt.timedelta(weeks=self.interval)
        months = self.interval * (12 if self.unit == "YEARS" else 1)
        year, month = divmod(created.month - 1 + months, 12)
        year += created.year
        day = min(created.day, calendar.monthrange(year, month + 1)[1])
        return created.replace(year=year, month=month + 1, day=day)


@dataclass(frozen=True)
class CopyRule:
    target: str  # a Region
    encrypted: bool
    cmk_arn: str | None
    copy_tags: bool
    retention: Retention | None  # age-based only; None: the copies are kept


@dataclass(frozen=True)
class ScheduleSpec:
    name: str
    interval_hours: int | None
    time_of_day: tuple[int, int] | None  # (hour, minute) UTC
    cron: BackupSchedule | None
    retention: Retention
    copy_tags: bool
    tags_to_add: tuple[tuple[str, str], ...]
    copy_rules: tuple[CopyRule, ...]


@dataclass
class Policy:
    id: str
    region: str
    arn: str
    description: str
    state: str
    role_arn: str
    details: dict[str, Any]  # as the caller gave it (answered back)
    resource_types: tuple[str, ...]
    target_tags: tuple[tuple[str, str], ...]
    exclude_boot_volume: bool
    schedules: tuple[ScheduleSpec, ...]
    tags: dict[str, str]
    created: _dt.datetime
    modified: _dt.datetime
    anchors: dict[str, float] = field(default_factory=dict)  # schedule name -> start time (no Times given)


@dataclass
class ManagedSnapshot:
    """A snapshot a policy created (or copied), as the emulation tracks it."""

    snapshot_id: str
    region: str
    policy_id: str
    schedule: str
    resource_id: str  # the volume it is of
    created_at: float  # clock seconds
    ready_at: float  # pending until then, then completed
    expires_at: float | None  # age-based retention: deleted then (while the policy is enabled)
    encrypted: bool
    copy_of: str | None = None  # the source snapshot id, for a cross-Region copy
    deleted_at: float | None = None
    copied: bool = False  # its copies were started


def _tags(value: Any, where: str) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    found: list[tuple[str, str]] = []
    for tag in value:
        key = str(tag.get("Key", ""))
        if "\\" in key or "=" in key:
            raise invalid(f"{where}: a tag key can't contain '\\' or '=' ({key!r}).")
        if key.lower().startswith("aws:"):
            raise invalid(f"{where}: tag keys starting with 'aws:' are reserved ({key!r}).")
        found.append((key, str(tag.get("Value", ""))))
    return tuple(found)


def parse_retention(rule: Any, where: str) -> Retention:
    if not isinstance(rule, dict) or not rule:
        raise invalid(f"{where}: a RetainRule with Count or Interval and IntervalUnit is required.")
    count, interval, unit = rule.get("Count"), rule.get("Interval"), rule.get("IntervalUnit")
    if count is not None and (interval is not None or unit is not None):
        raise invalid(f"{where}: specify either Count or Interval and IntervalUnit, not both.")
    if count is not None:
        if not 1 <= int(count) <= MAX_RETAIN_COUNT:
            raise invalid(f"{where}: Count must be between 1 and {MAX_RETAIN_COUNT}, got {count}.")
        return Retention(count=int(count))
    if interval is None or unit is None:
        raise invalid(f"{where}: Interval and IntervalUnit go together.")
    if unit not in RETENTION_UNITS:
        raise invalid(f"{where}: IntervalUnit must be one of {', '.join(RETENTION_UNITS)}, got {unit!r}.")
    if int(interval) < 1:
        raise invalid(f"{where}: Interval must be at least 1, got {interval}.")
    return Retention(interval=int(interval), unit=str(unit))


def parse_schedule(raw: Any, index: int, source_region: str, known_regions: set[str]) -> ScheduleSpec:
    where = f"Schedules[{index}]"
    if not isinstance(raw, dict):
        raise invalid(f"{where}: expected a schedule.")
    name = str(raw.get("Name") or f"Schedule {index + 1}")
    rule = raw.get("CreateRule")
    if not isinstance(rule, dict):
        raise invalid(f"{where}: a CreateRule is required.")
    if rule.get("Location", "CLOUD") != "CLOUD":
        raise invalid(f"{where}.CreateRule: only Location CLOUD is emulated (snapshots in the source's Region).")
    if rule.get("Scripts"):
        raise invalid(f"{where}.CreateRule: pre and post scripts are not emulated.")
    cron_text, interval, unit, times = rule.get("CronExpression"), rule.get("Interval"), rule.get("IntervalUnit"), rule.get("Times")
    interval_hours: int | None = None
    time_of_day: tuple[int, int] | None = None
    cron: BackupSchedule | None = None
    if cron_text is not None:
        if interval is not None or unit is not None or times:
            raise invalid(f"{where}.CreateRule: specify either CronExpression or Interval, IntervalUnit and Times, not both.")
        try:
            cron = BackupSchedule.parse(str(cron_text))
        except ValueError as exc:
            text = str(exc)
            if "60 minutes" in text:
                text = f"The schedule interval of {cron_text} must be between 1 hour and 1 year."
            raise invalid(f"{where}.CreateRule: {text}") from None
    else:
        if interval is None:
            raise invalid(f"{where}.CreateRule: specify either CronExpression or Interval and IntervalUnit.")
        if int(interval) not in INTERVAL_HOURS:
            raise invalid(f"{where}.CreateRule: Interval must be one of {', '.join(map(str, INTERVAL_HOURS))} hours, got {interval}.")
        if unit != "HOURS":
            raise invalid(f"{where}.CreateRule: IntervalUnit must be HOURS, got {unit!r}.")
        interval_hours = int(interval)
        if times:
            if len(times) > 1:
                raise invalid(f"{where}.CreateRule: Times takes one start time, got {len(times)}.")
            match = re.fullmatch(r"(0[0-9]|1[0-9]|2[0-3]):([0-5][0-9])", str(times[0]))
            if match is None:
                raise invalid(f"{where}.CreateRule: Times must be hh:mm (UTC), got {times[0]!r}.")
            time_of_day = (int(match.group(1)), int(match.group(2)))
    retention = parse_retention(raw.get("RetainRule"), f"{where}.RetainRule")
    copy_rules_raw = raw.get("CrossRegionCopyRules") or []
    if len(copy_rules_raw) > MAX_COPY_RULES:
        raise invalid(f"{where}: at most {MAX_COPY_RULES} CrossRegionCopyRules, got {len(copy_rules_raw)}.")
    copy_rules: list[CopyRule] = []
    for j, copy_raw in enumerate(copy_rules_raw):
        cwhere = f"{where}.CrossRegionCopyRules[{j}]"
        target = copy_raw.get("Target") or copy_raw.get("TargetRegion")
        if not target:
            raise invalid(f"{cwhere}: a Target Region is required.")
        if str(target).startswith("arn:"):
            raise invalid(f"{cwhere}: copies to an Outpost are not emulated.")
        if target not in known_regions:
            raise invalid(f"{cwhere}: {target!r} is not a Region.")
        if target == source_region:
            raise invalid(f"{cwhere}: the target Region must differ from the policy's Region {source_region}.")
        retain = copy_raw.get("RetainRule")
        copy_rules.append(CopyRule(
            target=str(target),
            encrypted=bool(copy_raw.get("Encrypted")),
            cmk_arn=copy_raw.get("CmkArn"),
            copy_tags=bool(copy_raw.get("CopyTags")),
            retention=parse_retention(retain, f"{cwhere}.RetainRule") if retain else None,
        ))
    for unsupported in ("FastRestoreRule", "ShareRules", "DeprecateRule", "ArchiveRule", "VariableTags"):
        if raw.get(unsupported):
            raise invalid(f"{where}: {unsupported} is not emulated.")
    return ScheduleSpec(
        name=name,
        interval_hours=interval_hours,
        time_of_day=time_of_day,
        cron=cron,
        retention=retention,
        copy_tags=bool(raw.get("CopyTags")),
        tags_to_add=_tags(raw.get("TagsToAdd"), f"{where}.TagsToAdd"),
        copy_rules=tuple(copy_rules),
    )


@dataclass(frozen=True)
class ParsedDetails:
    resource_types: tuple[str, ...]
    target_tags: tuple[tuple[str, str], ...]
    exclude_boot_volume: bool
    schedules: tuple[ScheduleSpec, ...]


def parse_details(details: Any, region: str, known_regions: set[str]) -> ParsedDetails:
    """Check a custom EBS snapshot policy's PolicyDetails; raise InvalidRequestException."""
    if not isinstance(details, dict):
        raise invalid("PolicyDetails is required for a custom policy (default policies are not emulated).")
    policy_type = details.get("PolicyType", "EBS_SNAPSHOT_MANAGEMENT")
    if policy_type != "EBS_SNAPSHOT_MANAGEMENT":
        raise invalid(f"PolicyType {policy_type} is not emulated (EBS_SNAPSHOT_MANAGEMENT only).")
    if details.get("PolicyLanguage", "STANDARD") != "STANDARD":
        raise invalid("Default policies (PolicyLanguage SIMPLIFIED) are not emulated.")
    if [loc for loc in details.get("ResourceLocations") or ["CLOUD"] if loc != "CLOUD"]:
        raise invalid("Only ResourceLocations CLOUD is emulated.")
    resource_types = tuple(details.get("ResourceTypes") or ())
    if len(resource_types) != 1 or resource_types[0] not in ("VOLUME", "INSTANCE"):
        raise invalid(f"ResourceTypes must be [VOLUME] or [INSTANCE], got {list(resource_types)}.")
    target_tags = _tags(details.get("TargetTags"), "TargetTags")
    if not target_tags:
        raise invalid("TargetTags: at least one target tag is required.")
    parameters = details.get("Parameters") or {}
    if parameters.get("ExcludeDataVolumeTags"):
        raise invalid("Parameters.ExcludeDataVolumeTags is not emulated.")
    exclude_boot = bool(parameters.get("ExcludeBootVolume"))
    if exclude_boot and resource_types[0] != "INSTANCE":
        raise invalid("Parameters.ExcludeBootVolume applies to policies that target instances only.")
    raw_schedules = details.get("Schedules") or []
    if not 1 <= len(raw_schedules) <= MAX_SCHEDULES:
        raise invalid(f"A policy has one mandatory schedule and up to three optional ones; got {len(raw_schedules)}.")
    schedules = tuple(parse_schedule(raw, i, region, known_regions) for i, raw in enumerate(raw_schedules))
    names = [s.name for s in schedules]
    if len(set(names)) != len(names):
        raise invalid(f"Schedule names must be unique within a policy: {names}.")
    return ParsedDetails(resource_types, target_tags, exclude_boot, schedules)


def iso(when: _dt.datetime) -> str:
    """``2026-01-05T09:00:00.000Z`` (the form of ``aws:dlm:expirationTime``; AWS documents none)."""
    return when.astimezone(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
