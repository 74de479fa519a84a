"""After a point-in-time restore: copy back what changed after the restore point and the corruption did not touch.

The DynamoDB developer guide's best practices for PITR recovery ("Recovery by initiating a table
restore"): the restore lands in a NEW table, which "you can compare to the original table to find
differences"; "Recovery by rolling back unwanted writes in-place": undo "only those writes that you
identify as mistakes". The shipped ``pitr-restore`` runbook does both halves: it restores to just
before the corruption, points the application at the restored copy, then copies back from the
damaged original every item (row) that differs from what the restore delivered — the changes made
after the restore point, including the writes the application made to the original until it was
repointed — except the items the bad deploy wrote (``fault.corrupted_keys`` / ``fault.corrupted``:
on AWS you would take them from the deploy's logs or an incremental export of the corruption window
with old and new images).

What it cannot recover: a change made after the restore point to an item the corruption then
overwrote or deleted (the restore has the older value, the original the corrupted one); anything in
a dropped table. Each copy is conditional on the restored item being unchanged since the restore
(DynamoDB ``ConditionExpression``; SQL ``WHERE``), so a newer write the application made to the
restored copy after the repointing is never overwritten.
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import botocore.exceptions

if TYPE_CHECKING:
    from pytest_drtest.topology.model import Topology


@dataclass
class Reapplied:
    """What a copy-back did: keys copied (or deleted), keys skipped as the bad deploy's, keys newer in the restore."""

    copied: list[str] = field(default_factory=list)
    corrupted: list[str] = field(default_factory=list)
    newer: list[str] = field(default_factory=list)
    dropped: bool = False  # the damaged table is gone: nothing to copy back

    def describe(self, source: str) -> str:
        if self.dropped:
            return f"the table of {source} was dropped: nothing written after the restore point can be copied back"
        return (f"{len(self.copied)} item(s) changed after the restore point copied back from {source}; "
                f"{len(self.corrupted)} written by the corruption left as restored"
                + (f"; {len(self.newer)} already newer in the restored copy" if self.newer else ""))


def _key_text(key: dict[str, Any]) -> str:
    return json.dumps(key, sort_keys=True)


# -- DynamoDB ------------------------------------------------------------------------------------------
def table_items(ddb: Any, table: str, key_names: list[str]) -> dict[str, dict[str, Any]]:
    """Every item of ``table`` (strongly consistent scan), by its key as text."""
    items: dict[str, dict[str, Any]] = {}
    for page in ddb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
        for item in page["Items"]:
            items[_key_text({k: item[k] for k in key_names})] = item
    return items


def _unchanged(before: dict[str, Any] | None, key_names: list[str]) -> dict[str, Any]:
    """A condition that holds while the restored item is still ``before`` (absent when None)."""
    if before is None:
        return {"ConditionExpression": "attribute_not_exists(#k0)", "ExpressionAttributeNames": {"#k0": key_names[0]}}
    names = {f"#a{i}": name for i, name in enumerate(sorted(before))}
    values = {f":v{i}": before[name] for i, name in enumerate(sorted(before))}
    clause = " AND ".join(f"#a{i} = :v{i}" for i in range(len(names)))
    return {"ConditionExpression": clause, "ExpressionAttributeNames": names, "ExpressionAttributeValues": values}


def reapply_table(
    ddb: Any, source: str, target: str, restored: dict[str, dict[str, Any]], key_names: list[str],
    corrupted_keys: Iterable[dict[str, Any]],
) -> Reapplied:
    """Copy from ``source`` into ``target`` every item that differs from ``restored`` (the target right
    after the restore), but those the corruption wrote; each put/delete conditional on the target item
    still being what the restore delivered."""
    done = Reapplied()
    damaged = table_items(ddb, source, key_names)
    bad = {_key_text(k) for k in corrupted_keys}
    for key in sorted(set(damaged) | set(restored)):
        now, then = damaged.get(key), restored.get(key)
        if now == then:
            continue
        if key in bad:
            done.corrupted.append(key)
            continue
        condition = _unchanged(then, key_names)
        try:
            if now is None:
                ddb.delete_item(TableName=target, Key=json.loads(key), **condition)
            else:
                ddb.put_item(TableName=target, Item=now, **condition)
            done.copied.append(key)
        except botocore.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            done.newer.append(key)
    return done


# -- the relational tier -------------------------------------------------------------------------------
def sql_snapshot(topology: Topology, target: dict[str, Any]) -> dict[str, tuple[Any, ...]]:
    """``pk -> (payload, written_at)`` of the ledger table of ``target``; empty when the table is gone."""
    from pytest_drtest.topology.build import db_connect

    spec = topology.blueprint.database
    assert spec is not None
    with db_connect(topology, target) as conn:
        if conn.execute("SELECT to_regclass(%s)", (spec.table,)).fetchone()[0] is None:
            return {}
        return {str(r[0]): (r[1], r[2]) for r in conn.execute(f"SELECT pk, payload, written_at FROM {spec.table}").fetchall()}


def reapply_sql(
    topology: Topology, source: dict[str, Any], target: dict[str, Any], restored: dict[str, tuple[Any, ...]],
    corrupted: Iterable[str],
) -> Reapplied:
    """The same for the ledger table of the database: rows of ``source`` that differ from ``restored``."""
    from pytest_drtest.topology.build import db_connect

    spec = topology.blueprint.database
    assert spec is not None
    done = Reapplied()
    damaged = sql_snapshot(topology, source)
    if not damaged:
        done.dropped = True
        return done
    bad = set(corrupted)
    table = spec.table
    with db_connect(topology, target) as conn:
        for pk in sorted(set(damaged) | set(restored)):
            now, then = damaged.get(pk), restored.get(pk)
            if now == then:
                continue
            if pk in bad:
                done.corrupted.append(pk)
                continue
            if now is None:
                assert then is not None
                changed = conn.execute(f"DELETE FROM {table} WHERE pk = %s AND payload = %s", (pk, then[0])).rowcount
            elif then is None:
                changed = conn.execute(f"INSERT INTO {table} (pk, payload, written_at) VALUES (%s, %s, %s) "
                                       "ON CONFLICT (pk) DO NOTHING", (pk, now[0], now[1])).rowcount
            else:
                changed = conn.execute(f"UPDATE {table} SET payload = %s, written_at = %s WHERE pk = %s AND payload = %s",
                                       (now[0], now[1], pk, then[0])).rowcount
            (done.copied if changed else done.newer).append(pk)
    return done
