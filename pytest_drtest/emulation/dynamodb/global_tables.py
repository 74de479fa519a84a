"""Global tables, version 2019.11.21: replicas added and removed with ``UpdateTable``.

moto accepts ``ReplicaUpdates`` and ignores them. Replication itself (lag, holds during outages,
last writer wins) is :mod:`pytest_drtest.emulation.dynamodb.replication`.
"""
from __future__ import annotations

from typing import Any

from pytest_drtest.emulation.core import AwsError, Call
from pytest_drtest.emulation.dynamodb.models import (
    ReplicaProgress,
    Version,
    create_table_params,
    table_name_of,
)
from pytest_drtest.emulation.dynamodb.replication import Replication


class GlobalTables(Replication):
    """``UpdateTable(ReplicaUpdates=...)``: replicas added and removed; the world's changes."""

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
    def before_UpdateTable(self, call: Call) -> dict[str, Any] | None:
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
        if updates:
            return self._update_replicas(call, name, updates)
        return None

    def _update_replicas(self, call: Call, name: str, updates: list[dict[str, Any]]) -> dict[str, Any]:
        """Answer an UpdateTable with ReplicaUpdates: the replicas are this emulator's own tables, so
        the backend never sees ReplicaUpdates (moto ignores them; LocalStack would make its own
        replica, one table behind both regions, where a write shows in the other region at once)."""
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
            state.versions[record.key] = source_versions.get(record.key, Version(record.time, 0, source_region))
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
