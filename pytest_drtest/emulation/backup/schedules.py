"""Backup plan schedules: each rule of a plan with selections fires at the times of its cron.

[BC:backup] BackupRule: ``ScheduleExpression`` in UTC unless ``ScheduleExpressionTimezone``
(default ``cron(0 5 ? * * *)``); the cron syntax is EventBridge's ("Amazon EventBridge User Guide,
Schedule expressions"), which AWS Backup references. A rule fires one backup job per resource its
plan's selections choose ("AWS Backup Developer Guide, Assigning resources programmatically"). A
lost Region runs no AWS Backup: its scheduled jobs are never created.
"""
from __future__ import annotations

import datetime as _dt
import fnmatch
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from pytest_drtest.emulation.backup.api import compact
from pytest_drtest.emulation.backup.jobs import Jobs
from pytest_drtest.emulation.backup.models import (
    DEFAULT_START_WINDOW_MINUTES,
    Plan,
    arn_matches,
    resource_type_of,
)

#: [BC:backup] BackupRuleInput.ScheduleExpression: the default when none is given.
DEFAULT_SCHEDULE = "cron(0 5 ? * * *)"
DEFAULT_TIMEZONE = "Etc/UTC"
#: AWS Backup refuses schedules more frequent than hourly: "The interval between backup jobs
#: shouldn't be less than 60 minutes." (re:Post QUwYlivOoWTHi1nSuSGjTVFg).
MIN_SCHEDULE_INTERVAL = 3600.0

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
            iterator = croniter(cron, _dt.datetime(2026, 1, 1, tzinfo=_dt.UTC))
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
        return nxt.astimezone(_dt.UTC)


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


class Schedules(Jobs):
    """One clock event per rule of each live plan with selections; each firing creates backup jobs."""

    def _reschedule(self, plan: Plan) -> None:
        """(Re)arm one clock event per rule for a live plan with selections; else cancel all."""
        for handle in plan.schedules.values():
            handle.cancel()
        plan.schedules.clear()
        if plan.deleted_at is not None or not plan.selections:
            return
        for rule in plan.current.document.get("Rules", []):
            self._arm_rule(plan, rule["RuleId"], self.clock.now())

    def _arm_rule(self, plan: Plan, rule_id: str, after: float) -> None:
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

        plan.schedules[rule_id] = self.at(when, fire, name=f"backup:{plan.plan_id}/{rule_id}")

    @staticmethod
    def _rule(plan: Plan, rule_id: str) -> dict[str, Any] | None:
        return next((r for r in plan.current.document.get("Rules", []) if r.get("RuleId") == rule_id), None)

    def _fire_rule(self, plan: Plan, rule_id: str, scheduled: float) -> None:
        """A rule's scheduled time: one backup job per selected resource, then the next time."""
        plan.schedules.pop(rule_id, None)
        rule = self._rule(plan, rule_id)
        if rule is None or plan.deleted_at is not None or not plan.selections:
            return
        # A lost Region runs no AWS Backup: its scheduled jobs are never created.
        if self.world.region_up(plan.region):
            plan.last_execution = scheduled
            created_by = compact({
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

    def _role_for(self, plan: Plan, resource_arn: str) -> str:
        for selection in plan.selections.values():
            if any(arn_matches(p, resource_arn) for p in selection.spec.get("Resources") or []):
                return str(selection.spec["IamRoleArn"])
        return str(next(iter(plan.selections.values())).spec["IamRoleArn"])

    def _selected_resources(self, plan: Plan) -> list[str]:
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
                excluded = any(arn_matches(p, pattern) for p in spec.get("NotResources") or [])
                if "*" not in pattern and resource_type_of(pattern) != "DynamoDB" and not excluded:
                    chosen[pattern] = None
        return list(chosen)

    @staticmethod
    def _selection_matches(spec: dict[str, Any], arn: str, tags: Callable[[str], dict[str, str]]) -> bool:
        """Resources OR ListOfTags (StringEquals), minus NotResources, AND every Condition
        ([BC:backup] BackupSelection; AWS Backup DG "Assigning resources programmatically")."""
        listed = any(arn_matches(p, arn) for p in spec.get("Resources") or [])
        tagged = any(
            tags(arn).get(c["ConditionKey"]) == c["ConditionValue"]
            for c in spec.get("ListOfTags") or []
            if c.get("ConditionType", "STRINGEQUALS") == "STRINGEQUALS"
        )
        if not (listed or tagged) or any(arn_matches(p, arn) for p in spec.get("NotResources") or []):
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
