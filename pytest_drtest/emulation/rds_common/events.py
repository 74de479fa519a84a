"""The RDS event log both RDS emulators write and ``DescribeEvents`` reads, in clock time.

Event identifiers, messages and categories are those of [RDS-UG:USER_Events.Messages]; moto logs
only creation events, in wall time.
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pytest_drtest.emulation.rds_common.arns import rds_arn

if TYPE_CHECKING:
    from pytest_drtest.emulation.core import Emulation

#: DescribeEvents SourceType values (botocore rds model)
SOURCE_TYPES = ("db-instance", "db-parameter-group", "db-security-group", "db-snapshot", "db-cluster",
                "db-cluster-snapshot", "custom-engine-version", "db-proxy", "blue-green-deployment")


@dataclass(frozen=True)
class RdsEvent:
    t: float
    region: str
    source_id: str
    source_type: str
    event_id: str  # e.g. "RDS-EVENT-0013"
    message: str
    categories: tuple[str, ...]


@dataclass
class RdsEventLog:
    """Every event the RDS emulators recorded, with clock times."""

    emulation: Emulation
    events: list[RdsEvent] = field(default_factory=list)

    def record(self, region: str, source_id: str, source_type: str, event_id: str, message: str,
               categories: tuple[str, ...] | list[str]) -> RdsEvent:
        event = RdsEvent(self.emulation.clock.now(), region, source_id, source_type, event_id, message, tuple(categories))
        self.events.append(event)
        return event

    def describe(self, region: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """``Events`` of a DescribeEvents call in ``region``, filtered as AWS does."""
        clock = self.emulation.clock
        end = params.get("EndTime")
        start = params.get("StartTime")
        end_t = clock.seconds_at(end) if isinstance(end, _dt.datetime) else clock.now()
        if isinstance(start, _dt.datetime):
            start_t = clock.seconds_at(start)
        else:
            start_t = end_t - 60 * float(params.get("Duration", 60))  # AWS default: the past hour
        wanted = set(params.get("EventCategories") or [])
        out = []
        for e in self.events:
            if e.region != region or not start_t <= e.t <= end_t:
                continue
            if params.get("SourceIdentifier") and e.source_id != params["SourceIdentifier"]:
                continue
            if params.get("SourceType") and e.source_type != params["SourceType"]:
                continue
            if wanted and not wanted & set(e.categories):
                continue
            kind = {"db-instance": "db", "db-cluster": "cluster", "db-snapshot": "snapshot",
                    "db-cluster-snapshot": "cluster-snapshot"}.get(e.source_type, e.source_type)
            out.append({
                "SourceIdentifier": e.source_id, "SourceType": e.source_type, "Message": e.message,
                "EventCategories": list(e.categories), "Date": clock.datetime(e.t),
                "SourceArn": rds_arn(region, kind, e.source_id),
            })
        return out


def event_log(emulation: Emulation) -> RdsEventLog:
    """The run's shared RDS event log (created on first use)."""
    log = emulation.__dict__.get("_rds_event_log")
    if log is None:
        log = RdsEventLog(emulation)
        emulation.__dict__["_rds_event_log"] = log
    return log
