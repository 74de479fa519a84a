"""DynamoDB as AWS runs it: item history, point-in-time restores, global tables, timed restores.

moto 5.2 stores the DR configuration but does not behave like DynamoDB (``/work/shared/NOTES.md``):
a PITR restore copies the CURRENT items and ignores the time, the restorable window is frozen,
global-table replicas are ignored and nothing replicates, and every restore is ACTIVE at once.
This emulator adds, on the run's clock:

* an **item history** per (region, table): every successful write with its clock time, so that
  :meth:`DynamoDbEmulator.items_as_of` rebuilds a table as it was at any instant;
* **point-in-time recovery** (AWS-SEMANTICS §1.1, §1.2): the restorable window, the exact errors,
  and a restore into a NEW table holding the items as of the restore time;
* **restores that take time**: the target reports ``CREATING`` (and refuses item calls) until the
  modeled restore time has passed, then ``ACTIVE`` — for PITR and on-demand backup restores (§1.3);
* **global tables, version 2019.11.21** (§1.4): replicas added and removed with
  ``UpdateTable(ReplicaUpdates=...)``, each write delivered to the other replicas after a modeled
  lag, last writer wins, deliveries held while replication is paused or the destination region is
  lost, and lost when the source region is lost before they left it.

Writes the emulator makes itself (replication deliveries, restored items) go through the backdoor:
they are recorded in the destination's history and never replicated again.
"""

from __future__ import annotations

import base64
import copy
import datetime as _dt
import itertools
import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import botocore.exceptions
from botocore.utils import parse_to_aware_datetime

from pytest_drtest.clock import Scheduled
from pytest_drtest.emulation.core import AwsError, Call, Emulation, ServiceEmulator

#: ``TableDescription.GlobalTableVersion`` of the current global tables ([BC:dynamodb]).
GLOBAL_TABLE_VERSION = "2019.11.21"
#: ``RecoveryPeriodInDays`` when the caller gives none ([BC:dynamodb] PointInTimeRecoverySpecification).
DEFAULT_RECOVERY_PERIOD_DAYS = 35
#: ``BatchWriteItem`` takes at most 25 requests ([BC:dynamodb]).
BATCH_WRITE_LIMIT = 25

Item = dict[str, Any]


# -- state ------------------------------------------------------------------------------------
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
    #: last-writer-wins version per item key: (source write time, global write sequence)
    versions: dict[str, tuple[float, int]] = field(default_factory=dict)

    @property
    def restoring(self) -> bool:
        return self.restore is not None and not self.restore.done


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
    handle: Scheduled | None = None
    held: bool = False

    @property
    def ident(self) -> tuple[int, str]:
        return (self.seq, self.dest)


# -- helpers ----------------------------------------------------------------------------------
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


def _arn_region(arn: str) -> str:
    return arn.split(":")[3]


def _error_code(exc: botocore.exceptions.ClientError) -> str:
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


# -- the emulator -----------------------------------------------------------------------------
class DynamoDbEmulator(ServiceEmulator):
    """DynamoDB's DR behaviour (PITR, backups, global tables) on the run's clock."""

    service = "dynamodb"

    def __init__(self, emulation: Emulation) -> None:
        super().__init__(emulation)
        self._tables: dict[tuple[str, str], TableState] = {}
        self._groups: dict[str, list[str]] = {}  # global table name -> replica regions, in join order
        self._in_flight: dict[tuple[int, str], Delivery] = {}  # by (seq, dest); in write order
        self._lost: list[dict[str, Any]] = []
        self._backups: dict[str, BackupRecord] = {}  # by backup ARN
        self._write_seq = itertools.count(1)
        self._pitr_lag: float | None = None

    # -- public API -------------------------------------------------------------------------
    def items_as_of(self, region: str, table: str, t: float) -> list[Item]:
        """The table's items (DynamoDB JSON) as they were at clock time ``t``.

        An item written after ``t`` is absent; one deleted after ``t`` is present.
        """
        state = self._state(region, table)
        if state is None:
            raise KeyError(f"no DynamoDB table {table!r} in {region}")
        current: dict[str, Item | None] = {}
        for record in state.history:
            if record.time > t:
                break
            current[record.key] = record.image
        return [copy.deepcopy(image) for image in current.values() if image is not None]

    def table_history(self, region: str, table: str) -> list[dict[str, Any]]:
        """Every recorded write of the table: ``time``, ``op``, ``key``, ``item``, ``origin``, ``source_region``."""
        state = self._state(region, table)
        return [record.as_dict() for record in state.history] if state else []

    def pending_replication(self, table: str) -> int:
        """Replicated writes of ``table`` not yet applied (in flight or held)."""
        return sum(1 for delivery in self._in_flight.values() if delivery.table == table)

    def lost_in_flight(self, table: str) -> list[dict[str, Any]]:
        """Writes whose replication was lost with their source region: ``key``, ``source_region``,
        ``written_at``, ``lost_at``, ``op``, ``destinations``."""
        return [copy.deepcopy(entry) for entry in self._lost if entry["table"] == table]

    def is_global(self, region: str, table: str) -> bool:
        """Whether ``table`` in ``region`` is a replica of a global table."""
        return region in self._groups.get(table, ())

    def replica_regions(self, table: str) -> list[str]:
        """The regions of the global table ``table`` (empty if it is not global)."""
        return list(self._groups.get(table, ()))

    def restore_status(self, region: str, table: str) -> str:
        """``CREATING`` while a restore into ``table`` runs, ``ACTIVE`` once it is done.

        Raises ``KeyError`` if ``table`` was never the target of a restore.
        """
        state = self._tables.get((region, table))
        if state is None or state.restore is None:
            raise KeyError(f"{table!r} in {region} is not the target of a restore")
        return "CREATING" if state.restoring else "ACTIVE"

    def create_table_with_items(
        self,
        region: str,
        name: str,
        like: dict[str, Any],
        items: list[Item],
        *,
        creating_for: float | None = None,
        restore_summary: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Create ``name`` in ``region`` shaped like the TableDescription ``like``, holding ``items``.

        For the AWS Backup emulator and the harness. The items enter the table's history.
        With ``creating_for`` seconds the table reports ``CREATING`` (with ``restore_summary``)
        until then. Raises :class:`AwsError` ``TableAlreadyExistsException`` if the name is taken.
        Returns the new TableDescription.
        """
        self._create_table(region, create_table_params(name, like), items, origin="restore")
        if creating_for is not None:
            self._start_restore(region, name, creating_for, restore_summary or {})
        return self._describe(region, name)

    # -- world and teardown -----------------------------------------------------------------
    def on_world_change(self, what: str, name: str) -> None:
        if what == "region-lost":
            self._lose_from(name)
        elif what == "region-restored" or (what == "replication-resumed" and name.split(":", 1)[0] == self.service):
            self._release_held()

    def close(self) -> None:
        for delivery in self._in_flight.values():
            if delivery.handle is not None:
                delivery.handle.cancel()
        self._in_flight.clear()
        for state in self._tables.values():
            if state.restore is not None and state.restore.handle is not None:
                state.restore.handle.cancel()
                state.restore.handle = None

    # -- table state ------------------------------------------------------------------------
    def _client(self, region: str) -> Any:
        return self.backdoor(region)

    def _state(self, region: str, table: str) -> TableState | None:
        """The table's state; a table the emulator has not seen is adopted with its current items."""
        table = table_name_of(table)
        state = self._tables.get((region, table))
        if state is not None:
            return state
        try:
            description = self._client(region).describe_table(TableName=table)["Table"]
        except botocore.exceptions.ClientError as exc:
            if _error_code(exc) == "ResourceNotFoundException":
                return None
            raise
        state = self._new_state(region, table, description["KeySchema"], created_at=None)
        for item in self._scan(region, table):
            self._record(state, item, origin="seed", source_region=region)
        return state

    def _new_state(
        self, region: str, table: str, key_schema: list[dict[str, Any]], created_at: float | None
    ) -> TableState:
        hash_keys = [k["AttributeName"] for k in key_schema if k["KeyType"] == "HASH"]
        range_keys = [k["AttributeName"] for k in key_schema if k["KeyType"] == "RANGE"]
        state = TableState(region, table, tuple(hash_keys + range_keys), created_at)
        self._tables[(region, table)] = state
        return state

    def _scan(self, region: str, table: str) -> Iterator[Item]:
        paginator = self._client(region).get_paginator("scan")
        for page in paginator.paginate(TableName=table, ConsistentRead=True):
            yield from page.get("Items", [])

    def _record(
        self,
        state: TableState,
        item: Item,
        *,
        origin: str,
        source_region: str,
        delete: bool = False,
    ) -> HistoryRecord:
        key_item = {name: copy.deepcopy(item[name]) for name in state.key_names}
        record = HistoryRecord(
            time=self.clock.now(),
            key=canonical_key(state.key_names, item),
            key_item=key_item,
            image=None if delete else copy.deepcopy(item),
            origin=origin,
            source_region=source_region,
        )
        state.history.append(record)
        return record

    def _forget_table(self, region: str, table: str) -> None:
        state = self._tables.pop((region, table), None)
        if state is not None and state.restore is not None and state.restore.handle is not None:
            state.restore.handle.cancel()
        self._leave_group(region, table)

    def _describe(self, region: str, table: str) -> dict[str, Any]:
        description: dict[str, Any] = self._client(region).describe_table(TableName=table)["Table"]
        self._decorate(region, description)
        return description

    def _decorate(self, region: str, description: dict[str, Any]) -> None:
        """Rewrite a TableDescription in place: clock times, restore progress, global replicas."""
        table = description.get("TableName")
        if not table:
            return
        state = self._tables.get((region, table))
        if state is not None:
            if state.created_at is not None:
                description["CreationDateTime"] = self.clock.datetime(state.created_at)
            if state.restore is not None:
                # [BC:dynamodb] RestoreSummary; CREATING -> ACTIVE, then RestoreInProgress false.
                description["RestoreSummary"] = dict(state.restore.summary, RestoreInProgress=state.restoring)
                if state.restoring:
                    description["TableStatus"] = "CREATING"
        group = self._groups.get(table)
        if group and region in group:
            # AWS-SEMANTICS §1.4: GlobalTableVersion and Replicas[] once replicated.
            description["GlobalTableVersion"] = GLOBAL_TABLE_VERSION
            description["Replicas"] = [{"RegionName": r, "ReplicaStatus": "ACTIVE"} for r in group]

    def _create_table(self, region: str, params: dict[str, Any], items: Iterable[Item], *, origin: str) -> TableState:
        """Create a table through the backdoor, fill it, and start its history."""
        client = self._client(region)
        try:
            client.create_table(**params)
        except botocore.exceptions.ClientError as exc:
            if _error_code(exc) in ("ResourceInUseException", "TableAlreadyExistsException"):
                raise AwsError("TableAlreadyExistsException", f"Table already exists: {params['TableName']}") from None
            raise
        state = self._new_state(region, params["TableName"], params["KeySchema"], created_at=self.clock.now())
        batch: list[Item] = []
        for item in items:
            batch.append(item)
            self._record(state, item, origin=origin, source_region=region)
            if len(batch) == BATCH_WRITE_LIMIT:
                self._batch_put(region, state.name, batch)
                batch = []
        if batch:
            self._batch_put(region, state.name, batch)
        return state

    def _batch_put(self, region: str, table: str, items: list[Item]) -> None:
        request: dict[str, Any] = {table: [{"PutRequest": {"Item": item}} for item in items]}
        client = self._client(region)
        while request:
            request = client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}

    def _restoring_state(self, region: str, table: str) -> TableState | None:
        state = self._tables.get((region, table_name_of(table)))
        return state if state is not None and state.restoring else None

    # -- restores that take time ------------------------------------------------------------
    def _start_restore(self, region: str, table: str, duration: float, summary: dict[str, Any]) -> None:
        """The target reports CREATING for ``duration`` seconds ([DDB-DG:CreateBackup]: poll table_exists)."""
        state = self._tables[(region, table)]
        progress = RestoreProgress(done_at=self.clock.now() + duration, summary=summary)

        def finish() -> None:
            progress.done = True
            progress.handle = None

        progress.handle = self.clock.call_at(progress.done_at, finish, name=f"dynamodb restore {region}/{table}")
        state.restore = progress

    def _restore_duration(self) -> float:
        # [DDB-DG:CreateBackup]: 95% of restores finish in under 1 h, not proportional to size.
        return self.profile.sample("dynamodb_restore_time", stream="dynamodb.restore")

    def _reject_if_creating(self, call: Call) -> None:
        """Item calls on a table still CREATING fail as if it did not exist yet (AWS-SEMANTICS §1.2)."""
        for table in self._tables_of_call(call):
            if self._restoring_state(call.region, table) is not None:
                raise AwsError("ResourceNotFoundException", "Requested resource not found")

    @staticmethod
    def _tables_of_call(call: Call) -> list[str]:
        params = call.params
        if "TableName" in params:
            return [params["TableName"]]
        if "RequestItems" in params:
            return list(params["RequestItems"])
        names = []
        for entry in params.get("TransactItems", []):
            for action in entry.values():
                if isinstance(action, dict) and "TableName" in action:
                    names.append(action["TableName"])
        return names

    def before_GetItem(self, call: Call) -> None:
        self._reject_if_creating(call)

    before_PutItem = before_GetItem
    before_UpdateItem = before_GetItem
    before_DeleteItem = before_GetItem
    before_Query = before_GetItem
    before_Scan = before_GetItem
    before_BatchGetItem = before_GetItem
    before_BatchWriteItem = before_GetItem
    before_TransactGetItems = before_GetItem
    before_TransactWriteItems = before_GetItem

    def before_DeleteTable(self, call: Call) -> None:
        if self._restoring_state(call.region, call.params["TableName"]) is not None:
            raise AwsError("ResourceInUseException", f"Table is being created: {call.params['TableName']}")

    def before_CreateBackup(self, call: Call) -> None:
        # [BC:dynamodb] CreateBackup: TableInUseException while the table is being created.
        if self._restoring_state(call.region, call.params["TableName"]) is not None:
            raise AwsError("TableInUseException", f"Table is being created: {call.params['TableName']}")

    def before_UpdateContinuousBackups(self, call: Call) -> None:
        # AWS-SEMANTICS §1.1: backups cannot be enabled until the table is ACTIVE.
        if self._restoring_state(call.region, call.params["TableName"]) is not None:
            raise AwsError(
                "ContinuousBackupsUnavailableException", "Backups are being enabled for the table. Please retry later"
            )

    # -- table lifecycle --------------------------------------------------------------------
    def after_CreateTable(self, call: Call) -> None:
        assert call.parsed is not None
        name = table_name_of(call.params["TableName"])
        self._forget_table(call.region, name)
        self._new_state(call.region, name, call.params["KeySchema"], created_at=self.clock.now())
        self._decorate(call.region, call.parsed["TableDescription"])

    def after_DescribeTable(self, call: Call) -> None:
        assert call.parsed is not None
        self._decorate(call.region, call.parsed["Table"])

    def after_DeleteTable(self, call: Call) -> None:
        assert call.parsed is not None
        name = table_name_of(call.params["TableName"])
        self._decorate(call.region, call.parsed["TableDescription"])
        self._forget_table(call.region, name)

    # -- item writes ------------------------------------------------------------------------
    def after_PutItem(self, call: Call) -> None:
        self._local_write(call.region, call.params["TableName"], call.params["Item"])

    def after_UpdateItem(self, call: Call) -> None:
        self._local_update(call.region, call.params["TableName"], call.params["Key"])

    def after_DeleteItem(self, call: Call) -> None:
        self._local_write(call.region, call.params["TableName"], call.params["Key"], delete=True)

    def after_BatchWriteItem(self, call: Call) -> None:
        assert call.parsed is not None
        unprocessed = call.parsed.get("UnprocessedItems") or {}
        for table, requests in call.params["RequestItems"].items():
            skipped = [json.dumps(r, sort_keys=True, default=repr) for r in unprocessed.get(table, [])]
            for request in requests:
                if json.dumps(request, sort_keys=True, default=repr) in skipped:
                    continue
                if "PutRequest" in request:
                    self._local_write(call.region, table, request["PutRequest"]["Item"])
                elif "DeleteRequest" in request:
                    self._local_write(call.region, table, request["DeleteRequest"]["Key"], delete=True)

    def after_TransactWriteItems(self, call: Call) -> None:
        # Each item of a transaction replicates on its own (AWS-SEMANTICS §1.4).
        for entry in call.params["TransactItems"]:
            if "Put" in entry:
                self._local_write(call.region, entry["Put"]["TableName"], entry["Put"]["Item"])
            elif "Update" in entry:
                self._local_update(call.region, entry["Update"]["TableName"], entry["Update"]["Key"])
            elif "Delete" in entry:
                self._local_write(call.region, entry["Delete"]["TableName"], entry["Delete"]["Key"], delete=True)

    def _local_update(self, region: str, table: str, key: Item) -> None:
        """An UpdateItem's new image, read back with a consistent read."""
        name = table_name_of(table)
        image = self._client(region).get_item(TableName=name, Key=key, ConsistentRead=True).get("Item")
        if image is None:
            self._local_write(region, name, key, delete=True)
        else:
            self._local_write(region, name, image)

    def _local_write(self, region: str, table: str, item: Item, *, delete: bool = False) -> None:
        """Record a caller's successful write and send it to the other replicas."""
        name = table_name_of(table)
        state = self._state(region, name)
        if state is None:
            return
        record = self._record(state, item, origin="write", source_region=region, delete=delete)
        seq = next(self._write_seq)
        state.versions[record.key] = (record.time, seq)
        group = self._groups.get(name, [])
        if region in group:
            for dest in group:
                if dest != region:
                    self._send(seq, name, record, region, dest)

    # -- global tables: replicas ------------------------------------------------------------
    def before_UpdateTable(self, call: Call) -> dict[str, Any] | None:
        name = table_name_of(call.params["TableName"])
        if self._restoring_state(call.region, name) is not None:
            raise AwsError(
                "ResourceInUseException",
                f"Attempt to change a resource which is still in use: Table is being created: {name}",
            )
        updates = call.params.get("ReplicaUpdates") or []
        group = self._groups.get(name, [call.region])
        if updates and call.region not in group:
            raise AwsError("ValidationException", f"Table {name} in {call.region} is not a replica of the global table")
        # Error codes below are ValidationException (UpdateTable declares no replica-specific
        # error for 2019.11.21, AWS-SEMANTICS §1.4); the messages paraphrase AWS's.
        for update in updates:
            if "Create" in update:
                target = update["Create"]["RegionName"]
                if target in group:
                    raise AwsError("ValidationException", f"Table '{name}' already has a replica in {target}")
                if self._table_exists(target, name):
                    raise AwsError(
                        "ValidationException", f"Cannot create a replica of '{name}': a table {name} exists in {target}"
                    )
            elif "Delete" in update:
                target = update["Delete"]["RegionName"]
                if target not in group or target == call.region:
                    raise AwsError(
                        "ValidationException", f"Cannot delete the replica of '{name}' in {target} from {call.region}"
                    )
        if updates:
            return self._update_replicas(call, name, updates)
        return None

    def _update_replicas(self, call: Call, name: str, updates: list[dict[str, Any]]) -> dict[str, Any]:
        """Answer an UpdateTable with ReplicaUpdates: the replicas are this emulator's own tables, so the
        backend never sees ReplicaUpdates (moto ignores them; LocalStack would make its own replica, one
        table behind both regions, where a write shows in the other region at once)."""
        others = {key: value for key, value in call.params.items() if key != "ReplicaUpdates"}
        if len(others) > 1:
            self._client(call.region).update_table(**others)
        for update in updates:
            if "Create" in update:
                self._create_replica(call.region, name, update["Create"]["RegionName"])
            elif "Delete" in update:
                self._delete_replica(name, update["Delete"]["RegionName"])
        return {"TableDescription": self._describe(call.region, name)}

    def after_UpdateTable(self, call: Call) -> None:
        assert call.parsed is not None
        self._decorate(call.region, call.parsed["TableDescription"])

    def _table_exists(self, region: str, table: str) -> bool:
        try:
            self._client(region).describe_table(TableName=table)
        except botocore.exceptions.ClientError as exc:
            if _error_code(exc) == "ResourceNotFoundException":
                return False
            raise
        return True

    def _create_replica(self, source_region: str, table: str, target: str) -> None:
        """CreateTableReplica in ``target``: same schema, billing mode and GSIs, current items copied."""
        source = self._client(source_region).describe_table(TableName=table)["Table"]
        self._state(source_region, table)
        params = create_table_params(table, source)
        stream = source.get("StreamSpecification")
        if not (stream and stream.get("StreamEnabled")):
            # AWS-SEMANTICS §1.4: adding a replica turns on a NEW_AND_OLD_IMAGES stream.
            stream = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
            self._client(source_region).update_table(TableName=table, StreamSpecification=stream)
        params["StreamSpecification"] = stream
        state = self._create_table(target, params, self._scan(source_region, table), origin="replica-seed")
        source_versions = self._tables[(source_region, table)].versions
        for record in state.history:
            state.versions[record.key] = source_versions.get(record.key, (record.time, 0))
        group = self._groups.setdefault(table, [source_region])
        group.append(target)

    def _delete_replica(self, table: str, target: str) -> None:
        """DeleteTableReplica: the replica table and its items go (AWS-SEMANTICS §1.4)."""
        self._client(target).delete_table(TableName=table)
        self._forget_table(target, table)

    def _leave_group(self, region: str, table: str) -> None:
        group = self._groups.get(table)
        if not group or region not in group:
            return
        group.remove(region)
        for delivery in [d for d in self._in_flight.values() if d.table == table and d.dest == region]:
            self._drop(delivery)
        if len(group) < 2:
            del self._groups[table]

    # -- global tables: replication ---------------------------------------------------------
    def _send(self, seq: int, table: str, record: HistoryRecord, source: str, dest: str) -> None:
        # [DDB-DG:V2globaltables_HowItWorks]: each item replicates on its own, asynchronously.
        lag = self.profile.sample("dynamodb_replication_lag", stream="dynamodb.replication")
        delivery = Delivery(
            seq=seq,
            table=table,
            key=record.key,
            key_item=copy.deepcopy(record.key_item),
            image=copy.deepcopy(record.image),
            source=source,
            dest=dest,
            written_at=record.time,
            due=record.time + lag,
        )
        delivery.handle = self.clock.call_at(
            delivery.due, lambda: self._arrive(delivery), name=f"dynamodb replicate {table} {source}->{dest}"
        )
        self._in_flight[delivery.ident] = delivery

    def _blocked(self, delivery: Delivery) -> bool:
        return not self.world.region_up(delivery.dest) or self.world.is_paused(self.service, delivery.table)

    def _arrive(self, delivery: Delivery) -> None:
        delivery.handle = None
        if delivery.ident not in self._in_flight:
            return
        if self._blocked(delivery):
            # Held while replication is paused or the destination is unreachable; sent on
            # recovery ([DDB-DG:V2globaltables_HowItWorks] "Availability and durability").
            delivery.held = True
            return
        self._apply(delivery)

    def _apply(self, delivery: Delivery) -> None:
        """Apply one delivery through the backdoor, last writer wins on the source write time."""
        del self._in_flight[delivery.ident]
        state = self._tables.get((delivery.dest, delivery.table))
        if state is None:
            return
        version = (delivery.written_at, delivery.seq)
        # [DDB-DG:V2globaltables_HowItWorks]: last writer wins on a per-item timestamp.
        if state.versions.get(delivery.key, (-math.inf, 0)) >= version:
            return
        client = self._client(delivery.dest)
        try:
            if delivery.image is None:
                client.delete_item(TableName=delivery.table, Key=delivery.key_item)
            else:
                client.put_item(TableName=delivery.table, Item=delivery.image)
        except botocore.exceptions.ClientError as exc:
            if _error_code(exc) == "ResourceNotFoundException":
                return
            raise
        state.versions[delivery.key] = version
        self._record(
            state,
            delivery.image if delivery.image is not None else delivery.key_item,
            origin="replication",
            source_region=delivery.source,
            delete=delivery.image is None,
        )

    def _release_held(self) -> None:
        """Apply, in write order, every held delivery that can now go through."""
        for delivery in sorted((d for d in self._in_flight.values() if d.held), key=lambda d: d.seq):
            if delivery.ident in self._in_flight and not self._blocked(delivery):
                self._apply(delivery)

    def _drop(self, delivery: Delivery) -> None:
        if delivery.handle is not None:
            delivery.handle.cancel()
        del self._in_flight[delivery.ident]

    def _lose_from(self, region: str) -> None:
        """The region is lost: the writes that had not left it are lost with it."""
        lost: dict[tuple[str, int], dict[str, Any]] = {}
        for delivery in [d for d in self._in_flight.values() if d.source == region]:
            self._drop(delivery)
            entry = lost.setdefault(
                (delivery.table, delivery.seq),
                {
                    "table": delivery.table,
                    "key": copy.deepcopy(delivery.key_item),
                    "op": "delete" if delivery.image is None else "put",
                    "source_region": region,
                    "written_at": delivery.written_at,
                    "lost_at": self.clock.now(),
                    "destinations": [],
                },
            )
            entry["destinations"].append(delivery.dest)
        self._lost.extend(sorted(lost.values(), key=lambda e: (e["written_at"], e["table"])))

    # -- point-in-time recovery -------------------------------------------------------------
    def _latest_lag(self) -> float:
        if self._pitr_lag is None:
            # [DDB-DG:PointInTimeRecovery_Howitworks]: LatestRestorableDateTime is about now - 5 min.
            self._pitr_lag = self.profile.sample("dynamodb_pitr_latest_lag", stream="dynamodb.pitr")
        return self._pitr_lag

    def _window(self, state: TableState) -> tuple[float, float]:
        """[earliest, latest] restorable clock times, whole seconds (the restore granularity)."""
        assert state.pitr_enabled_at is not None
        now = self.clock.now()
        earliest = self._to_second(max(state.pitr_enabled_at, now - state.pitr_period_days * 86400), up=True)
        latest = max(earliest, self._to_second(now - self._latest_lag()))
        return earliest, latest

    def _to_second(self, t: float, *, up: bool = False) -> float:
        """Clock time ``t`` rounded down (or up) to a whole second of its datetime."""
        when = self.clock.datetime(t)
        whole = when.replace(microsecond=0)
        if up and whole < when:
            whole += _dt.timedelta(seconds=1)
        return self.clock.seconds_at(whole)

    def _pitr_description(self, state: TableState | None) -> dict[str, Any]:
        if state is None or state.pitr_enabled_at is None:
            # AWS-SEMANTICS §1.1: disabled -> only the status, no timestamps.
            return {"PointInTimeRecoveryStatus": "DISABLED"}
        earliest, latest = self._window(state)
        return {
            "PointInTimeRecoveryStatus": "ENABLED",
            "RecoveryPeriodInDays": state.pitr_period_days,
            "EarliestRestorableDateTime": self.clock.datetime(earliest),
            "LatestRestorableDateTime": self.clock.datetime(latest),
        }

    def _sync_pitr(self, state: TableState, moto_status: str | None) -> None:
        """Follow a PITR flag changed behind the emulator's back (through the backdoor)."""
        if moto_status == "ENABLED" and state.pitr_enabled_at is None:
            state.pitr_enabled_at = self.clock.now()  # the window starts when the emulator sees it
        elif moto_status == "DISABLED":
            state.pitr_enabled_at = None

    def _rewrite_continuous_backups(self, region: str, table: str, parsed: dict[str, Any]) -> None:
        description = parsed.setdefault("ContinuousBackupsDescription", {})
        state = self._state(region, table)
        if state is not None:
            self._sync_pitr(
                state, (description.get("PointInTimeRecoveryDescription") or {}).get("PointInTimeRecoveryStatus")
            )
        description["ContinuousBackupsStatus"] = "ENABLED"
        description["PointInTimeRecoveryDescription"] = self._pitr_description(state)

    def after_UpdateContinuousBackups(self, call: Call) -> None:
        assert call.parsed is not None
        table = table_name_of(call.params["TableName"])
        spec = call.params["PointInTimeRecoverySpecification"]
        state = self._state(call.region, table)
        if state is not None:
            if spec.get("PointInTimeRecoveryEnabled"):
                # Re-enabling after a disable restarts the window (AWS-SEMANTICS §1.1).
                if state.pitr_enabled_at is None:
                    state.pitr_enabled_at = self.clock.now()
                if "RecoveryPeriodInDays" in spec:
                    state.pitr_period_days = int(spec["RecoveryPeriodInDays"])
            else:
                state.pitr_enabled_at = None
                state.pitr_period_days = DEFAULT_RECOVERY_PERIOD_DAYS
        self._rewrite_continuous_backups(call.region, table, call.parsed)

    def after_DescribeContinuousBackups(self, call: Call) -> None:
        assert call.parsed is not None
        self._rewrite_continuous_backups(call.region, table_name_of(call.params["TableName"]), call.parsed)

    def before_RestoreTableToPointInTime(self, call: Call) -> dict[str, Any]:
        """Answered here, never by moto (which copies the current items): AWS-SEMANTICS §1.2."""
        params = call.params
        target = params["TargetTableName"]
        if ("SourceTableArn" in params) == ("SourceTableName" in params):
            raise AwsError("ValidationException", "Exactly one of SourceTableArn and SourceTableName must be given")
        has_time = params.get("RestoreDateTime") is not None
        use_latest = bool(params.get("UseLatestRestorableTime"))
        if has_time == use_latest:
            # Code unverified (AWS-SEMANTICS §11.17): both or neither time option.
            raise AwsError(
                "ValidationException", "Exactly one of RestoreDateTime and UseLatestRestorableTime must be given"
            )
        if "SourceTableArn" in params:
            source_region, source_name = _arn_region(params["SourceTableArn"]), table_name_of(params["SourceTableArn"])
        else:
            source_region, source_name = call.region, params["SourceTableName"]
        if not self.world.region_up(source_region):
            # Cross-region restore from a lost region: its backups cannot be reached (code unverified).
            raise AwsError(
                "TableNotFoundException",
                f"Source table not reachable: {source_name} in {source_region} (region unavailable)",
            )
        state = self._state(source_region, source_name)
        if state is None:
            raise AwsError("TableNotFoundException", f"Table not found: {source_name}")
        if self._restoring_state(call.region, target) is not None:
            raise AwsError("TableInUseException", f"Table is being created: {target}")
        if self._table_exists(call.region, target):
            raise AwsError("TableAlreadyExistsException", f"Table already exists: {target}")
        moto_pitr = self._client(source_region).describe_continuous_backups(TableName=source_name)[
            "ContinuousBackupsDescription"
        ]
        self._sync_pitr(state, (moto_pitr.get("PointInTimeRecoveryDescription") or {}).get("PointInTimeRecoveryStatus"))
        if state.pitr_enabled_at is None:
            raise AwsError(
                "PointInTimeRecoveryUnavailableException",
                f"Point in time recovery is not enabled for table '{source_name}'",
            )
        earliest, latest = self._window(state)
        if use_latest:
            restore_at = latest
        else:
            when = params["RestoreDateTime"]
            if isinstance(when, (int, float)):
                when = _dt.datetime.fromtimestamp(when, _dt.UTC)
            # [BC:dynamodb]: the restore point is to the second.
            restore_at = self._to_second(self.clock.seconds_at(parse_to_aware_datetime(when)))
            if not earliest <= restore_at <= latest:
                raise AwsError(
                    "InvalidRestoreTimeException",
                    f"Restore time {self.clock.datetime(restore_at).isoformat()} is outside the restorable window "
                    f"[{self.clock.datetime(earliest).isoformat()}, {self.clock.datetime(latest).isoformat()}]",
                )
        source = self._client(source_region).describe_table(TableName=source_name)["Table"]
        # A new table, never in place; PITR off, streams/TTL/tags not restored ([BC:dynamodb]).
        self._create_table(
            call.region,
            create_table_params(target, source, params),
            self.items_as_of(source_region, source_name, restore_at),
            origin="restore",
        )
        summary = {"SourceTableArn": source["TableArn"], "RestoreDateTime": self.clock.datetime(restore_at)}
        self._start_restore(call.region, target, self._restore_duration(), summary)
        return {"TableDescription": self._describe(call.region, target)}

    # -- on-demand backups ------------------------------------------------------------------
    def record_backup(self, region: str, backup_arn: str, table: str, t: float | None = None) -> None:
        """Remember that ``backup_arn`` of ``table`` was taken at clock time ``t`` (default: now).

        For backups made through the backdoor (e.g. by the AWS Backup emulator): their
        ``BackupCreationDateTime`` is then reported on the clock, as for the callers' backups.
        """
        source = self._client(region).describe_table(TableName=table)["Table"]
        state = self._tables.get((region, table_name_of(table)))
        self._backups[backup_arn] = BackupRecord(
            created_at=self.clock.now() if t is None else t,
            table_created_at=state.created_at if state is not None else None,
            billing_mode=(source.get("BillingModeSummary") or {}).get("BillingMode") or "PROVISIONED",
            throughput=source.get("ProvisionedThroughput") or {},
        )

    def _backup_time(self, details: dict[str, Any]) -> None:
        backup = self._backups.get(details.get("BackupArn", ""))
        if backup is not None:
            details["BackupCreationDateTime"] = self.clock.datetime(backup.created_at)

    def after_CreateBackup(self, call: Call) -> None:
        assert call.parsed is not None
        details = call.parsed["BackupDetails"]
        self.record_backup(call.region, details["BackupArn"], call.params["TableName"])
        self._backup_time(details)

    def after_DescribeBackup(self, call: Call) -> None:
        assert call.parsed is not None
        self._rewrite_backup_description(call.parsed["BackupDescription"])

    def after_DeleteBackup(self, call: Call) -> None:
        assert call.parsed is not None
        self._rewrite_backup_description(call.parsed["BackupDescription"])

    def _rewrite_backup_description(self, description: dict[str, Any]) -> None:
        details = description.get("BackupDetails", {})
        self._backup_time(details)
        backup = self._backups.get(details.get("BackupArn", ""))
        source = description.get("SourceTableDetails")
        if backup is not None and source is not None:
            source["BillingMode"] = backup.billing_mode
            if backup.table_created_at is not None:
                source["TableCreationDateTime"] = self.clock.datetime(backup.table_created_at)

    def before_ListBackups(self, call: Call) -> dict[str, Any]:
        """Answered here so that the time-range filter uses clock times, not moto's wall clock."""
        params = {k: v for k, v in call.params.items() if k not in ("TimeRangeLowerBound", "TimeRangeUpperBound")}
        parsed: dict[str, Any] = self._client(call.region).list_backups(**params)
        parsed.pop("ResponseMetadata", None)
        lower = call.params.get("TimeRangeLowerBound")
        upper = call.params.get("TimeRangeUpperBound")
        kept = []
        for summary in parsed.get("BackupSummaries", []):
            self._backup_time(summary)
            created = summary["BackupCreationDateTime"]
            if lower is not None and created < parse_to_aware_datetime(lower):
                continue
            if upper is not None and created > parse_to_aware_datetime(upper):
                continue
            kept.append(summary)
        parsed["BackupSummaries"] = kept
        return parsed

    def before_RestoreTableFromBackup(self, call: Call) -> None:
        if self._restoring_state(call.region, call.params["TargetTableName"]) is not None:
            raise AwsError("TableInUseException", f"Table is being created: {call.params['TargetTableName']}")

    def after_RestoreTableFromBackup(self, call: Call) -> None:
        """moto restored the snapshot: add the billing mode, the history and the CREATING period."""
        assert call.parsed is not None
        description = call.parsed["TableDescription"]
        target = description["TableName"]
        backup_arn = call.params["BackupArn"]
        backup = self._backups.get(backup_arn)
        # The billing mode is carried over or overridden (AWS-SEMANTICS §1.2); moto drops it.
        billing = call.params.get("BillingModeOverride") or (backup.billing_mode if backup else None)
        if billing and billing != (description.get("BillingModeSummary") or {}).get("BillingMode"):
            update: dict[str, Any] = {"TableName": target, "BillingMode": billing}
            if billing == "PROVISIONED":
                source = call.params.get("ProvisionedThroughputOverride") or (backup.throughput if backup else {})
                update["ProvisionedThroughput"] = {
                    "ReadCapacityUnits": max(1, int(source.get("ReadCapacityUnits") or 0)),
                    "WriteCapacityUnits": max(1, int(source.get("WriteCapacityUnits") or 0)),
                }
            self._client(call.region).update_table(**update)
            summary_from_moto = description.get("RestoreSummary")
            description.clear()
            description.update(self._client(call.region).describe_table(TableName=target)["Table"])
            if summary_from_moto is not None:
                description["RestoreSummary"] = summary_from_moto
        self._forget_table(call.region, target)
        state = self._new_state(call.region, target, description["KeySchema"], created_at=self.clock.now())
        for item in self._scan(call.region, target):
            self._record(state, item, origin="restore", source_region=call.region)
        moto_summary = description.get("RestoreSummary") or {}
        summary: dict[str, Any] = {"SourceBackupArn": backup_arn}
        if moto_summary.get("SourceTableArn"):
            summary["SourceTableArn"] = moto_summary["SourceTableArn"]
        summary["RestoreDateTime"] = (
            self.clock.datetime(backup.created_at) if backup else moto_summary.get("RestoreDateTime")
        )
        self._start_restore(call.region, target, self._restore_duration(), summary)
        self._decorate(call.region, description)
