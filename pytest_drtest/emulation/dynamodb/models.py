"""DynamoDB state the emulation keeps, and the pure functions on it.

Terms and shapes follow botocore's ``dynamodb/2012-08-10`` model ([BC:dynamodb]).
"""
from __future__ import annotations

import base64
import copy
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

import botocore.exceptions

from pytest_drtest.clock import Scheduled

#: ``TableDescription.GlobalTableVersion`` of the current global tables ([BC:dynamodb]).
GLOBAL_TABLE_VERSION = "2019.11.21"
#: ``RecoveryPeriodInDays`` when the caller gives none ([BC:dynamodb] PointInTimeRecoverySpecification).
DEFAULT_RECOVERY_PERIOD_DAYS = 35
#: ``BatchWriteItem`` takes at most 25 requests ([BC:dynamodb]).
BATCH_WRITE_LIMIT = 25

Item = dict[str, Any]


@dataclass
class HistoryRecord:
    """One write to one item of one table, as it became visible in that table's region."""

    time: float
    key: str  # canonical key (see :func:`canonical_key`)
    key_item: Item
    image: Item | None  # the item right after the write; None for a delete
    origin: str  # "write" (a caller's call), "replication", "restore", "replica-seed", "seed"
    source_region: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "time": self.time,
            "op": "delete" if self.image is None else "put",
            "key": copy.deepcopy(self.key_item),
            "item": copy.deepcopy(self.image),
            "origin": self.origin,
            "source_region": self.source_region,
        }


class Version(NamedTuple):
    """Which write an item's value in a replica comes from: last writer wins on ``order``."""

    time: float  # the write's time in the region that took it
    seq: int  # the emulator's global write sequence (ties)
    region: str  # the region that took the write

    @property
    def order(self) -> tuple[float, int]:
        return (self.time, self.seq)


@dataclass
class RestoreProgress:
    """A table being restored: ``CREATING`` until ``done_at`` on the clock."""

    done_at: float
    summary: dict[str, Any]
    handle: Scheduled | None = None
    done: bool = False


@dataclass
class TableState:
    """What the emulator knows of one table in one region."""

    region: str
    name: str
    key_names: tuple[str, ...]
    created_at: float | None  # None: the table existed before the emulator saw it
    history: list[HistoryRecord] = field(default_factory=list)
    pitr_enabled_at: float | None = None
    pitr_period_days: int = DEFAULT_RECOVERY_PERIOD_DAYS
    restore: RestoreProgress | None = None
    #: last-writer-wins version per item key
    versions: dict[str, Version] = field(default_factory=dict)

    @property
    def restoring(self) -> bool:
        return self.restore is not None and not self.restore.done


@dataclass
class ReplicaProgress:
    """A replica being added to a global table: ``CREATING`` until ``done_at`` on the clock."""

    started: float
    done_at: float
    handle: Scheduled | None = None

    def percent(self, now: float) -> int:
        span = self.done_at - self.started
        return 0 if span <= 0 else max(0, min(99, int(100 * (now - self.started) / span)))


@dataclass
class BackupRecord:
    """What moto does not keep of an on-demand backup: clock times and the source's billing."""

    created_at: float
    table_created_at: float | None
    billing_mode: str
    throughput: dict[str, Any]


@dataclass(eq=False)
class Delivery:
    """One replicated write on its way from ``source`` to ``dest``."""

    seq: int
    table: str
    key: str
    key_item: Item
    image: Item | None
    source: str
    dest: str
    written_at: float
    due: float
    lag: float = 0.0  # the replication lag drawn for it
    handle: Scheduled | None = None
    held: bool = False  # blocked when it was due: its destination lost, or replication paused
    stranded_since: float | None = None  # its source region was lost before it left: held there

    @property
    def ident(self) -> tuple[int, str]:
        return (self.seq, self.dest)


def _canonical_value(value: dict[str, Any]) -> list[Any]:
    ((kind, raw),) = value.items()
    if kind == "N":
        try:
            return [kind, str(Decimal(str(raw)).normalize())]
        except InvalidOperation:
            return [kind, str(raw)]
    if kind == "B":
        data = raw.encode() if isinstance(raw, str) else bytes(raw)
        return [kind, base64.b64encode(data).decode()]
    return [kind, raw]


def canonical_key(key_names: Iterable[str], item: Item) -> str:
    """A string naming an item's primary key: equal for equal DynamoDB keys (``1`` and ``1.0``)."""
    return json.dumps([[name, _canonical_value(item[name])] for name in key_names])


def table_name_of(name_or_arn: str) -> str:
    """``arn:aws:dynamodb:r:a:table/orders`` (or ``orders``) -> ``orders``."""
    if name_or_arn.startswith("arn:"):
        return name_or_arn.split(":", 5)[5].split("/")[1]
    return name_or_arn


def arn_region(arn: str) -> str:
    return arn.split(":")[3]


def error_code(exc: botocore.exceptions.ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def create_table_params(name: str, like: dict[str, Any], overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """``CreateTable`` parameters of a table shaped like the TableDescription ``like``.

    ``overrides`` takes the restore overrides of [BC:dynamodb] (``BillingModeOverride``,
    ``ProvisionedThroughputOverride``, ``GlobalSecondaryIndexOverride``,
    ``LocalSecondaryIndexOverride``, ``SSESpecificationOverride``).
    """
    overrides = overrides or {}
    billing = (
        overrides.get("BillingModeOverride")
        or (like.get("BillingModeSummary") or {}).get("BillingMode")
        or "PROVISIONED"
    )
    provisioned = billing == "PROVISIONED"

    def throughput(source: dict[str, Any] | None) -> dict[str, int]:
        source = source or {}
        return {
            "ReadCapacityUnits": max(1, int(source.get("ReadCapacityUnits") or 0)),
            "WriteCapacityUnits": max(1, int(source.get("WriteCapacityUnits") or 0)),
        }

    table_throughput = overrides.get("ProvisionedThroughputOverride") or like.get("ProvisionedThroughput")
    params: dict[str, Any] = {
        "TableName": name,
        "KeySchema": [{"AttributeName": k["AttributeName"], "KeyType": k["KeyType"]} for k in like["KeySchema"]],
        "BillingMode": billing,
    }
    if provisioned:
        params["ProvisionedThroughput"] = throughput(table_throughput)
    if "GlobalSecondaryIndexOverride" in overrides:
        gsis = overrides["GlobalSecondaryIndexOverride"] or []
    else:
        gsis = like.get("GlobalSecondaryIndexes") or []
    cleaned_gsis = []
    for gsi in gsis:
        entry: dict[str, Any] = {
            "IndexName": gsi["IndexName"],
            "KeySchema": gsi["KeySchema"],
            "Projection": gsi["Projection"],
        }
        if provisioned:
            entry["ProvisionedThroughput"] = throughput(gsi.get("ProvisionedThroughput") or table_throughput)
        cleaned_gsis.append(entry)
    if "LocalSecondaryIndexOverride" in overrides:
        lsis = overrides["LocalSecondaryIndexOverride"] or []
    else:
        lsis = like.get("LocalSecondaryIndexes") or []
    cleaned_lsis = [
        {"IndexName": i["IndexName"], "KeySchema": i["KeySchema"], "Projection": i["Projection"]} for i in lsis
    ]
    if cleaned_gsis:
        params["GlobalSecondaryIndexes"] = cleaned_gsis
    if cleaned_lsis:
        params["LocalSecondaryIndexes"] = cleaned_lsis
    used = {k["AttributeName"] for k in params["KeySchema"]}
    for index in cleaned_gsis + cleaned_lsis:
        used.update(k["AttributeName"] for k in index["KeySchema"])
    params["AttributeDefinitions"] = [a for a in like["AttributeDefinitions"] if a["AttributeName"] in used]
    if overrides.get("SSESpecificationOverride"):
        params["SSESpecification"] = overrides["SSESpecificationOverride"]
    return params
