"""What a DAX client sees: the DynamoDB item API answered by the modeled cluster's item caches.

[DDB-DG:DAX.consistency] "DAX and DynamoDB consistency models", [DDB-DG:DAX.concepts] "Item cache":

- **Read-through.** An eventually consistent ``GetItem``/``BatchGetItem`` is answered from the
  answering node's item cache while the entry is younger than the item TTL (``dax_item_ttl``,
  5 minutes by default: the ``record-ttl-millis`` parameter, 300000). A miss reads DynamoDB
  (eventually consistent) and caches the result, a missing item too ("Negative caching"); the
  entry reaches the other nodes after ``dax_node_replication_lag`` (DAX replicates an item into
  every node's cache when it is written through the cache or read from the table in a newer
  version, "Configuring your DAX cluster", cache invalidation). Strongly consistent reads pass
  through to DynamoDB and are not cached.
- **Write-through.** ``PutItem``/``UpdateItem``/``DeleteItem`` go to DynamoDB first; once it
  succeeds the primary node's item cache takes the new item (a delete leaves a negative entry),
  which reaches the other nodes after ``dax_node_replication_lag`` ("Consistency among DAX cluster
  nodes": eventually consistent, usually under one second). Until then another node answers the
  older entry.
- **Bypassed writes.** DAX does not see writes made to DynamoDB directly (global-table replication
  into the Region, a restore's copy-back, another application): its entries stay until the TTL
  ("Strategies for writes"). Each cached answer that differs from what the table holds now is
  counted as a :class:`~pytest_drtest.emulation.dax.models.StaleRead`.
- **Routing.** Reads go round robin to the nodes that serve (a node in a lost AZ does not); writes
  go to the primary, and fail while it is lost and no replica has been promoted yet.

The DAX wire protocol is not served: this client is called in-process.
"""
from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import botocore.exceptions

from pytest_drtest.emulation.dax.models import (
    AVAILABLE,
    BYPASSED,
    NODE_LAG,
    Cached,
    DaxCluster,
    DaxNode,
    StaleRead,
    cache_key,
)

if TYPE_CHECKING:
    from pytest_drtest.emulation.dax.responses import DaxEmulator


T = TypeVar("T")


def _locked(method: Callable[..., T]) -> Callable[..., T]:
    """Run a client call under the world lock, as every API call into the emulated world runs."""

    @functools.wraps(method)
    def run(self: DaxClient, *args: Any, **kwargs: Any) -> T:
        with self.emulator.emulation.lock:
            return method(self, *args, **kwargs)

    return run


class DaxUnavailable(Exception):
    """The DAX cluster did not answer (not available, no serving node, no primary for a write, a lost Region)."""


class DaxClient:
    """A DAX client of one cluster in front of a (hooked) DynamoDB client of the same Region."""

    def __init__(self, emulator: DaxEmulator, cluster: DaxCluster, dynamodb: Any) -> None:
        self.emulator = emulator
        self.cluster = cluster
        self.dynamodb = dynamodb
        self.last_hit = False  # whether the last eventually consistent read came from an item cache
        self.last_node: str | None = None  # the node that answered the last read
        self.last_stale = False  # whether that answer was stale
        self._keys: dict[str, list[str]] = {}

    # -- routing ----------------------------------------------------------------------------------
    def _require_up(self) -> None:
        cluster = self.cluster
        if cluster.deleted:
            raise DaxUnavailable(f"DAX cluster {cluster.name}: deleted")
        if cluster.status != AVAILABLE:
            raise DaxUnavailable(f"DAX cluster {cluster.name}: {cluster.status}")
        if not self.emulator.world.region_up(cluster.region):
            raise DaxUnavailable(f"DAX cluster {cluster.name}: no route to the cluster ({cluster.region} is lost)")

    def _read_node(self) -> DaxNode:
        self._require_up()
        cluster = self.cluster
        serving = [n for n in cluster.nodes if self.emulator.node_serving(cluster, n)]
        if not serving:
            raise DaxUnavailable(f"DAX cluster {cluster.name}: no node serving")
        node = serving[cluster.next_node % len(serving)]
        cluster.next_node += 1
        self.last_node = node.id
        return node

    def _write_node(self) -> DaxNode:
        self._require_up()
        cluster = self.cluster
        primary = cluster.primary_node()
        if cluster.failing_over or not self.emulator.node_serving(cluster, primary):
            raise DaxUnavailable(f"DAX cluster {cluster.name}: the primary node {primary.id} is lost; no replica promoted yet")
        return primary

    # -- the item caches --------------------------------------------------------------------------
    def _cache(self, first: DaxNode, key: str, item: dict[str, Any] | None) -> None:
        """Put an entry on ``first`` now, and on every other node after the replication lag."""
        cluster, clock = self.cluster, self.emulator.clock
        entry = Cached(copy.deepcopy(item), clock.now(), cluster.next_seq())
        first.cache[key] = entry
        for node in cluster.nodes:
            if node is not first and self.emulator.node_serving(cluster, node):
                self.emulator.later(cluster.replication_lag, functools.partial(self._arrive, node, node.epoch, key, entry),
                                    name=f"dax:replicate:{cluster.name}")

    def _arrive(self, node: DaxNode, epoch: int, key: str, entry: Cached) -> None:
        if node.epoch != epoch or node not in self.cluster.nodes or not self.emulator.node_serving(self.cluster, node):
            return  # a node lost meanwhile gets nothing: it comes back empty
        held = node.cache.get(key)
        if held is None or held.seq < entry.seq:
            node.cache[key] = entry

    def _lookup(self, node: DaxNode, key: str) -> Cached | None:
        entry = node.cache.get(key)
        if entry is None or self.emulator.clock.now() >= entry.cached_at + self.cluster.item_ttl:
            return None
        return entry

    @_locked
    def peek(self, table: str, key: dict[str, Any], node: str | None = None) -> Cached | None:
        """The live entry of ``key`` on ``node`` (default: the primary's), without reading through."""
        found = next((n for n in self.cluster.nodes if n.id == node), None) if node else self.cluster.primary_node()
        return None if found is None else self._lookup(found, cache_key(table, key))

    def _current(self, table: str, key: dict[str, Any]) -> dict[str, Any] | None:
        """What the table holds now (a strongly consistent read behind the scenes; None: no item, or no table)."""
        try:
            found = self.emulator.backdoor(self.cluster.region, "dynamodb").get_item(
                TableName=table, Key=key, ConsistentRead=True)
        except botocore.exceptions.ClientError:
            return None
        item: dict[str, Any] | None = found.get("Item")
        return item

    def _served(self, node: DaxNode, table: str, key: dict[str, Any], entry: Cached) -> None:
        """Count a cache hit, and a stale read when the table holds something else now."""
        cluster = self.cluster
        cluster.hits += 1
        current = self._current(table, key)
        self.last_stale = entry.item != current
        if not self.last_stale:
            return
        primary = self._lookup(cluster.primary_node(), cache_key(table, key))
        cause = NODE_LAG if node is not cluster.primary_node() and primary is not None and primary.item == current else BYPASSED
        cluster.stale.append(StaleRead(self.emulator.clock.now(), table, copy.deepcopy(key), node.id,
                                       copy.deepcopy(entry.item), current, entry.cached_at, cause))

    def _read(self, node: DaxNode, table: str, key: dict[str, Any]) -> dict[str, Any] | None:
        """One eventually consistent read of ``key`` on ``node``: from its cache, else read through."""
        ckey = cache_key(table, key)
        entry = self._lookup(node, ckey)
        self.last_hit = entry is not None
        self.last_stale = False
        if entry is not None:
            self._served(node, table, key, entry)
            return copy.deepcopy(entry.item)
        self.cluster.misses += 1
        found: dict[str, Any] | None = self.dynamodb.get_item(TableName=table, Key=key).get("Item")
        self._cache(node, ckey, found)
        return found

    # -- the DynamoDB item API --------------------------------------------------------------------
    @_locked
    def get_item(self, *, TableName: str, Key: dict[str, Any], ConsistentRead: bool = False) -> dict[str, Any]:
        if ConsistentRead:  # passed through to DynamoDB, not cached ("Strongly consistent and transactional reads")
            self._require_up()
            self.last_hit = self.last_stale = False
            self.last_node = None
            return dict(self.dynamodb.get_item(TableName=TableName, Key=Key, ConsistentRead=True))
        found = self._read(self._read_node(), TableName, Key)
        return {"Item": found} if found is not None else {}

    @_locked
    def batch_get_item(self, *, RequestItems: dict[str, dict[str, Any]]) -> dict[str, Any]:
        """Every key of one request answered by one node; a table's ``ConsistentRead`` passes through."""
        node = self._read_node()
        responses: dict[str, list[dict[str, Any]]] = {}
        for table, request in RequestItems.items():
            keys = request["Keys"]
            if request.get("ConsistentRead"):
                found = self.dynamodb.batch_get_item(RequestItems={table: {"Keys": keys, "ConsistentRead": True}})
                responses[table] = list(found.get("Responses", {}).get(table, []))
                continue
            responses[table] = [item for key in keys if (item := self._read(node, table, key)) is not None]
        return {"Responses": responses, "UnprocessedKeys": {}}

    @_locked
    def put_item(self, *, TableName: str, Item: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        primary = self._write_node()
        result = dict(self.dynamodb.put_item(TableName=TableName, Item=Item, **kwargs))
        key = {k: Item[k] for k in self._key_names(TableName)}
        self._cache(primary, cache_key(TableName, key), Item)
        return result

    @_locked
    def update_item(self, *, TableName: str, Key: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        primary = self._write_node()
        result = dict(self.dynamodb.update_item(TableName=TableName, Key=Key, **kwargs))
        self._cache(primary, cache_key(TableName, Key), self._current(TableName, Key))  # the new image
        return result

    @_locked
    def delete_item(self, *, TableName: str, Key: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        primary = self._write_node()
        result = dict(self.dynamodb.delete_item(TableName=TableName, Key=Key, **kwargs))
        self._cache(primary, cache_key(TableName, Key), None)
        return result

    def _key_names(self, table: str) -> list[str]:
        if table not in self._keys:
            schema = self.dynamodb.describe_table(TableName=table)["Table"]["KeySchema"]
            self._keys[table] = [k["AttributeName"] for k in schema]
        return self._keys[table]
