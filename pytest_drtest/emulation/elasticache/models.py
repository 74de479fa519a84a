"""ElastiCache (Valkey / Redis OSS, cluster mode disabled) state: replication groups, nodes, global datastores."""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pytest_drtest.clock import Scheduled
from pytest_drtest.emulation.core import AwsError

if TYPE_CHECKING:
    from pytest_drtest.dataplane import EndpointProxy
    from pytest_drtest.dataplane.redis import RedisLink, RedisServer

#: Engine versions ElastiCache offers for node-based clusters ("Supported engines and versions",
#: ElastiCache user guide): Redis OSS 4.0.10 to 7.1, Valkey 7.2 to 8.1. A major alone picks its newest minor.
ENGINE_VERSIONS: dict[str, tuple[str, ...]] = {
    "redis": ("4.0.10", "5.0.6", "6.0", "6.2", "7.0", "7.1"),
    "valkey": ("7.2", "8.0", "8.1"),
}
DEFAULT_VERSION = {"redis": "7.1", "valkey": "8.0"}
#: Node families and sizes of the current generations ("Supported node types", ElastiCache user guide).
NODE_FAMILIES: dict[str, tuple[str, ...]] = {
    "t3": ("micro", "small", "medium"), "t4g": ("micro", "small", "medium"),
    "m5": ("large", "xlarge", "2xlarge", "4xlarge", "12xlarge", "24xlarge"),
    "m6g": ("large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge"),
    "m7g": ("large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge"),
    "r5": ("large", "xlarge", "2xlarge", "4xlarge", "12xlarge", "24xlarge"),
    "r6g": ("large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge"),
    "r7g": ("large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge"),
}
REDIS_PORT = 6379  # the default port of ElastiCache Valkey and Redis OSS endpoints

CREATING = "creating"
AVAILABLE = "available"
MODIFYING = "modifying"
DELETING = "deleting"
PRIMARY = "primary"
REPLICA = "replica"


def check_engine(engine: str | None, version: str | None) -> tuple[str, str]:
    """``(engine, full version)``; an unknown engine or version is AWS's ``InvalidParameterValue``."""
    name = (engine or "redis").lower()
    if name not in ENGINE_VERSIONS:
        raise AwsError("InvalidParameterValue", f"Invalid engine {engine!r}: expected valkey or redis", 400)
    known = ENGINE_VERSIONS[name]
    if not version:
        return name, DEFAULT_VERSION[name]
    if version in known:
        return name, version
    matching = [v for v in known if v.split(".")[0] == version.split(".")[0] and version.count(".") == 0]
    if matching:
        return name, matching[-1]
    raise AwsError("InvalidParameterValue",
                   f"Cannot find version {version} for {name}; supported: {', '.join(known)}", 400)


def check_node_type(node_type: str | None) -> str:
    """A current-generation ``cache.<family>.<size>``; anything else is ``InvalidParameterValue``."""
    match = re.fullmatch(r"cache\.([a-z0-9]+)\.([a-z0-9]+)", node_type or "")
    if match is None or match.group(2) not in NODE_FAMILIES.get(match.group(1), ()):
        raise AwsError("InvalidParameterValue",
                       f"Invalid CacheNodeType {node_type!r}: expected cache.<family>.<size> of the families "
                       f"{', '.join(sorted(NODE_FAMILIES))} (e.g. cache.r7g.large)", 400)
    return str(node_type)


def global_prefix(region: str) -> str:
    """The emulation's five-letter Global Datastore id prefix of ``region`` (AWS gives each Region a
    fixed prefix, [BC:elasticache] CreateGlobalReplicationGroup; the emulation derives one)."""
    digest = hashlib.sha256(region.encode()).digest()
    return "".join(chr(ord("a") + b % 26) for b in digest[:5])


@dataclass
class CacheNode:
    """One node (a cache cluster of one node, ``<group>-00N``) of a replication group."""

    id: str
    az: str
    role: str = REPLICA
    server: RedisServer | None = None
    link: RedisLink | None = None  # its replication link (a replica, or a secondary's primary)
    up: bool = True  # False while its AZ or host is lost and it is not yet recovered
    recovery: Scheduled | None = None


@dataclass
class ReplicationGroup:
    """A Valkey or Redis OSS (cluster mode disabled) replication group: one shard, a primary and replicas."""

    id: str
    region: str
    engine: str
    version: str
    node_type: str
    primary_host: str
    reader_host: str
    created: float
    automatic_failover: bool
    multi_az: bool
    nodes: list[CacheNode] = field(default_factory=list)
    status: str = CREATING
    global_id: str | None = None
    primary_endpoint: EndpointProxy | None = None
    reader_endpoint: EndpointProxy | None = None
    failing_over: bool = False
    handles: list[Scheduled] = field(default_factory=list)
    deleted: bool = False

    def primary(self) -> CacheNode | None:
        return next((n for n in self.nodes if n.role == PRIMARY), None)

    def replicas(self) -> list[CacheNode]:
        return [n for n in self.nodes if n.role != PRIMARY]


@dataclass
class GlobalDatastore:
    """A Global Datastore: a primary replication group and secondaries in other Regions."""

    id: str
    description: str
    primary: ReplicationGroup
    secondaries: list[ReplicationGroup] = field(default_factory=list)
    status: str = CREATING
    handles: list[Scheduled] = field(default_factory=list)

    def members(self) -> list[ReplicationGroup]:
        return [self.primary, *self.secondaries]
