"""The tables the DynamoDB emulation knows: item history, restore progress, replica groups.

Every table the emulator sees gets a :class:`~.models.TableState`; a table made behind its back is
adopted with its current items. Restored tables report ``CREATING`` for ``dynamodb_restore_time``
([DDB-DG:CreateBackup]: 95 % of restores finish within an hour, whatever the size) and answer item
calls only once ``ACTIVE``.
"""
from __future__ import annotations

import copy
import datetime as _dt
import itertools
from collections.abc import Iterable, Iterator
from typing import Any

import botocore.exceptions

from pytest_drtest.emulation.core import AwsError, Emulation, ServiceEmulator
from pytest_drtest.emulation.dynamodb.models import (
    BATCH_WRITE_LIMIT,
    GLOBAL_TABLE_VERSION,
    BackupRecord,
    Delivery,
    HistoryRecord,
    Item,
    ReplicaProgress,
    RestoreProgress,
    TableState,
    canonical_key,
    create_table_params,
    error_code,
    table_name_of,
)


class DynamoDbTables(ServiceEmulator):
    """State of every table and the plumbing each DynamoDB behaviour builds on."""

    service = "dynamodb"

    def __init__(self, emulation: Emulation) -> None:
        super().__init__(emulation)
        self._tables: dict[tuple[str, str], TableState] = {}
        self._groups: dict[str, list[str]] = {}  # global table name -> replica regions, in join order
        self._adding: dict[tuple[str, str], ReplicaProgress] = {}  # (table, region) of replicas being created
        self._in_flight: dict[tuple[int, str], Delivery] = {}  # by (seq, dest); in write order
        self._conflicts: list[dict[str, Any]] = []  # writes discarded by last writer wins
        self._backups: dict[str, BackupRecord] = {}  # by backup ARN
        self._write_seq = itertools.count(1)
        self._pitr_lags: dict[tuple[str, str], float] = {}  # per (region, table): drawn once

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
            if error_code(exc) == "ResourceNotFoundException":
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
        adding = self._adding.pop((table, region), None)
        if adding is not None and adding.handle is not None:
            adding.handle.cancel()
        self._leave_group(region, table)

    def _updating(self, table: str) -> bool:
        """A replica of the global table ``table`` is being created: the table is UPDATING."""
        return any(name == table for name, _ in self._adding)

    def _replica_creating(self, region: str, table: str) -> bool:
        """``table`` in ``region`` is a replica still being created (its table is CREATING)."""
        return (table_name_of(table), region) in self._adding

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
            # [BC:dynamodb] TableDescription: GlobalTableVersion and Replicas[] once replicated; a
            # replica being added is CREATING (with ReplicaStatusPercentProgress) and the table
            # UPDATING meanwhile (UpdateTable doc), the new replica's own table CREATING.
            description["GlobalTableVersion"] = GLOBAL_TABLE_VERSION
            replicas: list[dict[str, Any]] = []
            for member in group:
                entry: dict[str, Any] = {"RegionName": member, "ReplicaStatus": "ACTIVE"}
                progress = self._adding.get((table, member))
                if progress is not None:
                    entry["ReplicaStatus"] = "CREATING"
                    entry["ReplicaStatusPercentProgress"] = str(progress.percent(self.clock.now()))
                replicas.append(entry)
            description["Replicas"] = replicas
            if self._updating(table):
                description["TableStatus"] = "CREATING" if (table, region) in self._adding else "UPDATING"

    def _create_table(self, region: str, params: dict[str, Any], items: Iterable[Item], *, origin: str) -> TableState:
        """Create a table through the backdoor, fill it, and start its history."""
        client = self._client(region)
        try:
            client.create_table(**params)
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) in ("ResourceInUseException", "TableAlreadyExistsException"):
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

    def _table_exists(self, region: str, table: str) -> bool:
        try:
            self._client(region).describe_table(TableName=table)
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) == "ResourceNotFoundException":
                return False
            raise
        return True

    def _leave_group(self, region: str, table: str) -> None:
        group = self._groups.get(table)
        if not group or region not in group:
            return
        group.remove(region)
        for delivery in [d for d in self._in_flight.values() if d.table == table and d.dest == region]:
            self._drop(delivery)
        if len(group) < 2:
            del self._groups[table]

    def _drop(self, delivery: Delivery) -> None:
        if delivery.handle is not None:
            delivery.handle.cancel()
        del self._in_flight[delivery.ident]

    # -- restores that take time ------------------------------------------------------------
    def _start_restore(self, region: str, table: str, duration: float, summary: dict[str, Any]) -> None:
        """The target reports CREATING for ``duration`` seconds ([DDB-DG:CreateBackup]: poll table_exists)."""
        state = self._tables[(region, table)]
        progress = RestoreProgress(done_at=self.clock.now() + duration, summary=summary)

        def finish() -> None:
            progress.done = True
            progress.handle = None

        progress.handle = self.at(progress.done_at, finish, name=f"dynamodb restore {region}/{table}")
        state.restore = progress

    def _restore_duration(self, region: str, target: str, summary: dict[str, Any]) -> float:
        """How long the restore of ``summary``'s source (table and restore time) into ``target`` takes."""
        # [DDB-DG:CreateBackup]: 95% of restores finish in under 1 h, not proportional to size.
        when: Any = summary.get("RestoreDateTime")
        origin = f"{summary.get('SourceTableArn', '')}@{when.isoformat() if isinstance(when, _dt.datetime) else when}"
        return self.profile.sample("dynamodb_restore_time", stream=f"restore:{region}/{target}<-{origin}")
