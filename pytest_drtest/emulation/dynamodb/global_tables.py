"""Global tables, version 2019.11.21: replicas and replication with lag, last writer wins.

"DynamoDB Developer Guide, Global tables: how it works": each item replicates on its own and
asynchronously (usually within a second), conflicts go to the last writer on a per-item timestamp,
and writes held by an isolated Region are sent when it recovers. moto accepts ``ReplicaUpdates``
and ignores them.
"""
from __future__ import annotations

import copy
import math
from typing import Any

import botocore.exceptions

from pytest_drtest.emulation.core import AwsError, Call
from pytest_drtest.emulation.dynamodb.models import (
    Delivery,
    HistoryRecord,
    ReplicaProgress,
    create_table_params,
    error_code,
    table_name_of,
)
from pytest_drtest.emulation.dynamodb.tables import DynamoDbTables


class GlobalTables(DynamoDbTables):
    """``UpdateTable(ReplicaUpdates=...)`` and the deliveries of each write to the other replicas."""

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

    def on_world_change(self, what: str, name: str) -> None:
        if what == "region-lost":
            self._lose_from(name)
        elif what == "region-restored" or (what == "replication-resumed" and name.split(":", 1)[0] == self.service):
            self._release_held()

    # -- replicas ---------------------------------------------------------------------------
    def before_UpdateTable(self, call: Call) -> None:
        name = table_name_of(call.params["TableName"])
        if self._restoring_state(call.region, name) is not None or self._replica_creating(call.region, name):
            raise AwsError(
                "ResourceInUseException",
                f"Attempt to change a resource which is still in use: Table is being created: {name}",
            )
        if call.region in self._groups.get(name, ()) and self._updating(name):
            # [BC:dynamodb] UpdateTable: no other change until the table is ACTIVE again.
            raise AwsError(
                "ResourceInUseException",
                f"Attempt to change a resource which is still in use: Table is being updated: {name}",
            )
        updates = call.params.get("ReplicaUpdates") or []
        group = self._groups.get(name, [call.region])
        if updates and call.region not in group:
            raise AwsError("ValidationException", f"Table {name} in {call.region} is not a replica of the global table")
        # Error codes below are ValidationException (UpdateTable declares no replica-specific
        # error for 2019.11.21, [BC:dynamodb]); the messages paraphrase AWS's.
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

    def after_UpdateTable(self, call: Call) -> None:
        assert call.parsed is not None
        name = table_name_of(call.params["TableName"])
        for update in call.params.get("ReplicaUpdates", []):
            if "Create" in update:
                self._create_replica(call.region, name, update["Create"]["RegionName"])
            elif "Delete" in update:
                self._delete_replica(name, update["Delete"]["RegionName"])
        self._decorate(call.region, call.parsed["TableDescription"])

    def _create_replica(self, source_region: str, table: str, target: str) -> None:
        """CreateTableReplica in ``target``: same schema, billing mode and GSIs, current items copied."""
        source = self._client(source_region).describe_table(TableName=table)["Table"]
        self._state(source_region, table)
        params = create_table_params(table, source)
        stream = source.get("StreamSpecification")
        if not (stream and stream.get("StreamEnabled")):
            # Adding a replica turns on a NEW_AND_OLD_IMAGES stream (as AWS does: scylladb/scylladb#29928).
            stream = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
            self._client(source_region).update_table(TableName=table, StreamSpecification=stream)
        params["StreamSpecification"] = stream
        state = self._create_table(target, params, self._scan(source_region, table), origin="replica-seed")
        source_versions = self._tables[(source_region, table)].versions
        for record in state.history:
            state.versions[record.key] = source_versions.get(record.key, (record.time, 0))
        group = self._groups.setdefault(table, [source_region])
        group.append(target)
        self._add_replica_for(table, target, self._replica_create_time(table, target))

    def _replica_create_time(self, table: str, target: str) -> float:
        # CloudFormation user guide, AWS::DynamoDB::GlobalTable Replicas: a few minutes for an
        # empty table, up to several hours for large ones.
        return self.profile.sample("dynamodb_replica_create_time", stream=f"add-replica:{table}:{target}")

    def _add_replica_for(self, table: str, target: str, duration: float) -> None:
        """The replica is ``CREATING`` (the table ``UPDATING``) for ``duration``, then ``ACTIVE``
        ([BC:dynamodb] ReplicaStatus; the items written meanwhile reach it as any replica)."""
        if duration <= 0:
            return
        now = self.clock.now()
        progress = ReplicaProgress(started=now, done_at=now + duration)

        def active() -> None:
            if self._adding.get((table, target)) is progress:
                del self._adding[(table, target)]

        progress.handle = self.at(progress.done_at, active, name=f"dynamodb replica {table} in {target} active")
        self._adding[(table, target)] = progress

    def _delete_replica(self, table: str, target: str) -> None:
        """DeleteTableReplica: the replica table and its items go ([BC:dynamodb] ReplicationGroupUpdate)."""
        self._client(target).delete_table(TableName=table)
        self._forget_table(target, table)

    # -- replication ------------------------------------------------------------------------
    def _send(self, seq: int, table: str, record: HistoryRecord, source: str, dest: str) -> None:
        # [DDB-DG:V2globaltables_HowItWorks]: each item replicates on its own, asynchronously.
        lag = self.profile.sample("dynamodb_replication_lag", stream=f"replicate:{table}:{source}->{dest}")
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
        delivery.handle = self.at(
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
            if error_code(exc) == "ResourceNotFoundException":
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
