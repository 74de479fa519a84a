"""DynamoDB as AWS runs it: item history, point-in-time restores, global tables, timed restores.

moto stores the DR configuration but does not behave like DynamoDB: a PITR restore copies the
CURRENT items and ignores the time, the restorable window is frozen, global-table replicas are
ignored and nothing replicates, and every restore is ACTIVE at once. The emulator adds, on the
run's clock:

* an **item history** per (region, table): every successful write with its clock time, so that
  :meth:`DynamoDbEmulator.items_as_of` rebuilds a table as it was at any instant (``tables``);
* **point-in-time recovery**: the restorable window, the exact errors, and a restore into a NEW
  table holding the items as of the restore time (``pitr``);
* **restores that take time**: the target reports ``CREATING`` (and refuses item calls) until the
  modeled restore time has passed, then ``ACTIVE`` — for PITR and on-demand backup restores
  (``tables``, ``backups``);
* **global tables, version 2019.11.21**: replicas added and removed with
  ``UpdateTable(ReplicaUpdates=...)`` (``CREATING`` for a modeled time, ``global_tables``); each
  write delivered to the other replicas after a modeled lag, last writer wins (the writes it
  discards kept in ``conflicts``), deliveries held while replication is paused or a region is
  lost, and the writes a lost region had not sent sent when it returns (``replication``).

Writes the emulator makes itself (replication deliveries, restored items) go through the backdoor
(deliveries straight into moto's models when moto answers DynamoDB in this process): they are
recorded in the destination's history and never replicated again.
"""
from __future__ import annotations

from pytest_drtest.emulation.dynamodb.models import (
    BATCH_WRITE_LIMIT,
    DEFAULT_RECOVERY_PERIOD_DAYS,
    GLOBAL_TABLE_VERSION,
    canonical_key,
    create_table_params,
    table_name_of,
)
from pytest_drtest.emulation.dynamodb.responses import DynamoDbEmulator

__all__ = [
    "BATCH_WRITE_LIMIT",
    "DEFAULT_RECOVERY_PERIOD_DAYS",
    "GLOBAL_TABLE_VERSION",
    "DynamoDbEmulator",
    "canonical_key",
    "create_table_params",
    "table_name_of",
]
