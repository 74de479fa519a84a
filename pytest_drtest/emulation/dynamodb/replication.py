"""Replication of global tables: each write delivered to the other replicas, last writer wins.

[DDB-DG:V2globaltables_HowItWorks]: each item replicates on its own and asynchronously (usually
within a second, ``dynamodb_replication_lag``); conflicts go to the last writer on a per-item
timestamp and every replica converges. "Availability and durability": an isolated Region keeps
the writes it acknowledged that had not left it and sends them when it recovers ("all previously
successful writes will be propagated eventually"), and its backlog of incoming writes is then
applied. A write that lost to a later write of another region is discarded everywhere, silently
(no metric counts conflicts): the emulator keeps the list (:meth:`Replication.conflicts`).
"""
from __future__ import annotations

import copy
from typing import Any

import botocore.exceptions

from pytest_drtest.emulation.dynamodb.models import (
    Delivery,
    HistoryRecord,
    Version,
    error_code,
)
from pytest_drtest.emulation.dynamodb.tables import DynamoDbTables


class Replication(DynamoDbTables):
    """Deliveries of each write to the other replicas: lag, holds, last writer wins."""

    def pending_replication(self, table: str) -> int:
        """Replicated writes of ``table`` not yet applied (in flight or held)."""
        return sum(1 for delivery in self._in_flight.values() if delivery.table == table)

    def held_in_region(self, table: str) -> list[dict[str, Any]]:
        """Writes of ``table`` acknowledged in a region that was lost before they left it, not yet
        sent: ``key``, ``op``, ``source_region``, ``written_at``, ``held_since``, ``destinations``."""
        held: dict[int, dict[str, Any]] = {}
        for delivery in sorted(self._in_flight.values(), key=lambda d: d.seq):
            if delivery.table != table or delivery.stranded_since is None:
                continue
            entry = held.setdefault(delivery.seq, {
                "key": copy.deepcopy(delivery.key_item), "op": "delete" if delivery.image is None else "put",
                "source_region": delivery.source, "written_at": delivery.written_at,
                "held_since": delivery.stranded_since, "destinations": [],
            })
            entry["destinations"].append(delivery.dest)
        return list(held.values())

    def conflicts(self, table: str) -> list[dict[str, Any]]:
        """Writes of ``table`` discarded by last writer wins against a later write of another
        region (made there before this one arrived): ``key``, ``op``, ``item`` (None for a delete),
        ``source_region``, ``written_at``, ``lost_to`` (``region``, ``written_at``), ``detected_in``,
        ``detected_at``."""
        return [copy.deepcopy(entry) for entry in self._conflicts if entry["table"] == table]

    # -- sending ----------------------------------------------------------------------------
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
            lag=lag,
        )
        self._in_flight[delivery.ident] = delivery
        self._schedule(delivery)

    def _schedule(self, delivery: Delivery) -> None:
        delivery.handle = self.at(
            delivery.due, lambda: self._arrive(delivery),
            name=f"dynamodb replicate {delivery.table} {delivery.source}->{delivery.dest}",
        )

    def _blocked(self, delivery: Delivery) -> bool:
        return (
            not self.world.region_up(delivery.dest)
            or not self.world.region_up(delivery.source)
            or self.world.is_paused(self.service, delivery.table)
        )

    def _arrive(self, delivery: Delivery) -> None:
        delivery.handle = None
        if delivery.ident not in self._in_flight:
            return
        if self._blocked(delivery):
            # Held while replication is paused or a region is unreachable; sent on recovery
            # ([DDB-DG:V2globaltables_HowItWorks] "Availability and durability").
            delivery.held = True
            return
        self._apply(delivery)

    # -- applying, last writer wins -----------------------------------------------------------
    def _apply(self, delivery: Delivery) -> None:
        """Apply one delivery through the backdoor, last writer wins on the source write time."""
        del self._in_flight[delivery.ident]
        state = self._tables.get((delivery.dest, delivery.table))
        if state is None:
            return
        version = Version(delivery.written_at, delivery.seq, delivery.source)
        current = state.versions.get(delivery.key)
        # [DDB-DG:V2globaltables_HowItWorks]: last writer wins on a per-item timestamp.
        if current is not None and current.order >= version.order:
            if current.region != delivery.source:
                self._conflict(delivery, current)
            return
        if not self._write_replica(delivery):
            return
        state.versions[delivery.key] = version
        self._record(
            state,
            delivery.image if delivery.image is not None else delivery.key_item,
            origin="replication",
            source_region=delivery.source,
            delete=delivery.image is None,
        )

    def _write_replica(self, delivery: Delivery) -> bool:
        """Write the delivery into the destination replica (False: the table is gone there):
        straight into moto's model when moto answers DynamoDB in this process, as a
        ``PutItem`` / ``DeleteItem`` of the backdoor would, else through the backdoor."""
        backend = self.moto_backend(delivery.dest)
        if backend is not None:
            from moto.dynamodb.exceptions import ResourceNotFoundException

            try:
                with self.emulation.lock:
                    if delivery.image is None:
                        backend.delete_item(delivery.table, delivery.key_item)
                    else:
                        backend.put_item(delivery.table, delivery.image, overwrite=True)
            except ResourceNotFoundException:
                return False
            return True
        client = self._client(delivery.dest)
        try:
            if delivery.image is None:
                client.delete_item(TableName=delivery.table, Key=delivery.key_item)
            else:
                client.put_item(TableName=delivery.table, Item=delivery.image)
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) == "ResourceNotFoundException":
                return False
            raise
        return True

    def _conflict(self, delivery: Delivery, winner: Version) -> None:
        """The delivered write lost to a later one that another region took before it arrived
        there: it is gone everywhere (the winner replaces it in its own region too)."""
        if any(entry["table"] == delivery.table and entry["seq"] == delivery.seq for entry in self._conflicts):
            return  # already discarded in another replica
        self._conflicts.append({
            "table": delivery.table, "seq": delivery.seq, "key": copy.deepcopy(delivery.key_item),
            "op": "delete" if delivery.image is None else "put", "item": copy.deepcopy(delivery.image),
            "source_region": delivery.source,
            "written_at": delivery.written_at, "lost_to": {"region": winner.region, "written_at": winner.time},
            "detected_in": delivery.dest, "detected_at": self.clock.now(),
        })

    # -- outages ------------------------------------------------------------------------------
    def _lose_from(self, region: str) -> None:
        """The region is lost: the writes it acknowledged that had not left it stay there, held."""
        now = self.clock.now()
        for delivery in self._in_flight.values():
            if delivery.source == region and delivery.stranded_since is None:
                if delivery.handle is not None:
                    delivery.handle.cancel()
                    delivery.handle = None
                delivery.stranded_since = now

    def _release_held(self) -> None:
        """After a recovery or a resume: writes held in their returning region are sent (they
        arrive after the replication lag); writes held at their destination or by a pause are
        applied now, in write order."""
        now = self.clock.now()
        for delivery in sorted(self._in_flight.values(), key=lambda d: d.seq):
            if delivery.ident not in self._in_flight:
                continue
            if delivery.stranded_since is not None:
                if not self.world.region_up(delivery.source):
                    continue
                delivery.stranded_since = None
                delivery.held = False
                delivery.due = max(delivery.due, now + delivery.lag)
                self._schedule(delivery)
            elif delivery.held and not self._blocked(delivery):
                self._apply(delivery)
