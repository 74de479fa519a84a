"""DAX state: clusters, their nodes across AZs, each node's item cache, and the stale reads seen."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from pytest_drtest.clock import Scheduled
from pytest_drtest.emulation.core import AwsError

#: DAX node types ("Amazon DynamoDB pricing", DAX; [BC:dax] CreateCluster NodeType).
NODE_FAMILIES: dict[str, tuple[str, ...]] = {
    "t2": ("small", "medium"), "t3": ("small", "medium"),
    "r4": ("large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "16xlarge"),
    "r5": ("large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "24xlarge"),
}
DAX_PORT = 8111  # the cluster endpoint's port ([BC:dax] Endpoint; DAX developer guide)
MAX_NODES = 11  # a primary and up to 10 read replicas ([DDB-DG:DAX.concepts.cluster] "Clusters")
CREATING, AVAILABLE, DELETING = "creating", "available", "deleting"
#: Why a read from the item cache was stale (see :class:`StaleRead`).
BYPASSED, NODE_LAG = "bypassed", "node-lag"


def check_node_type(node_type: str | None) -> str:
    """``dax.<family>.<size>`` of a family DAX offers; anything else is ``InvalidParameterValueException``."""
    match = re.fullmatch(r"dax\.([a-z0-9]+)\.([a-z0-9]+)", node_type or "")
    if match is None or match.group(2) not in NODE_FAMILIES.get(match.group(1), ()):
        raise AwsError("InvalidParameterValueException",
                       f"Invalid NodeType {node_type!r}: expected dax.<family>.<size> of the families "
                       f"{', '.join(sorted(NODE_FAMILIES))} (e.g. dax.r5.large)", 400)
    return str(node_type)


def cache_key(table: str, key: dict[str, Any]) -> str:
    """The item cache's key: the table and the item's primary key ([DDB-DG:DAX.concepts] "Item cache":
    items are stored by their primary key values)."""
    return f"{table}|{json.dumps(key, sort_keys=True)}"


@dataclass
class Cached:
    """An item cache entry: the item (None: a negative entry, the key had no item), when it was
    cached, and its order among the cluster's cache writes (a late copy never overwrites a newer one)."""

    item: dict[str, Any] | None
    cached_at: float
    seq: int


@dataclass
class StaleRead:
    """An eventually consistent read answered from an item cache with something the table no longer holds.

    ``cause`` is ``"bypassed"`` when the table changed without going through DAX (global-table
    replication into the Region, a restore or copy-back, another writer) or ``"node-lag"`` when the
    primary node already had the table's value and the answering node had not received it yet.
    AWS counts neither; the emulation keeps every one.
    """

    t: float
    table: str
    key: dict[str, Any]
    node: str
    served: dict[str, Any] | None
    current: dict[str, Any] | None
    cached_at: float
    cause: str

    def as_dict(self) -> dict[str, Any]:
        return {"t": self.t, "table": self.table, "key": self.key, "node": self.node, "served": self.served,
                "current": self.current, "age": self.t - self.cached_at, "cause": self.cause}


@dataclass
class DaxNode:
    """One node: its AZ and its own item cache (lost with the node)."""

    id: str
    az: str
    cache: dict[str, Cached] = field(default_factory=dict)
    up: bool = True  # False while its AZ is lost; it comes back with an empty cache
    epoch: int = 0  # times it was lost: a cache copy sent to it before a loss never lands


@dataclass
class DaxCluster:
    """A DAX cluster: a primary node and read replicas, each with its own item cache."""

    name: str
    region: str
    nodes: list[DaxNode]
    created: float
    item_ttl: float
    replication_lag: float
    token: str = "000000"  # of the endpoint names
    status: str = CREATING
    primary: int = 0  # index of the primary node
    failing_over: bool = False
    next_node: int = 0  # the client's round robin over the serving nodes
    seq: int = 0  # cache writes so far
    hits: int = 0
    misses: int = 0
    stale: list[StaleRead] = field(default_factory=list)
    handles: list[Scheduled] = field(default_factory=list)
    deleted: bool = False

    def primary_node(self) -> DaxNode:
        return self.nodes[self.primary]

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq
