"""Amazon DocumentDB state: instance-based clusters, their instances, global clusters.

Engine versions and their resolution are [BC:docdb] CreateDBCluster ``EngineVersion``: omitted or
``8.0`` gives the newest 8.0 minor version, ``5.0`` the 5.0 LTS minor version, a fully qualified
version (``5.0.0``) exactly that one.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pytest_drtest.clock import Scheduled
from pytest_drtest.emulation.rds_common import rds_arn

ENGINE = "docdb"
#: Fully qualified versions the emulation knows ([BC:docdb] DescribeDBEngineVersions answers them
#: on AWS); a major.minor alias resolves to the entry of :data:`ALIASES`.
VERSIONS = ("3.6.0", "4.0.0", "5.0.0", "8.0.0")
ALIASES = {"3.6": "3.6.0", "4.0": "4.0.0", "5.0": "5.0.0", "8.0": "8.0.0"}
DEFAULT_VERSION = "8.0.0"
#: Global clusters need DocumentDB 4.0 or higher ([DOCDB-DG:docdb-engine-version-supportability]).
GLOBAL_MIN_MAJOR = 4
#: The port DocumentDB instances listen on by default ([DOCDB-DG:connect_programmatically]).
PORT = 27017
#: Share of ``docdb_global_failover`` spent verifying the clusters (``FailoverState.Status``
#: ``pending``) before the old primary is fenced: a modeling choice (AWS gives no figure), as for Aurora.
GLOBAL_VERIFY_SHARE = 0.1

CREATING = "creating"
AVAILABLE = "available"
FAILING_OVER = "failing-over"
SWITCHING_OVER = "switching-over"
DELETING = "deleting"


def resolve_version(value: str | None) -> str | None:
    """The fully qualified version ``value`` names, or None when DocumentDB has no such version."""
    if value is None or value == "":
        return DEFAULT_VERSION
    if value in VERSIONS:
        return value
    return ALIASES.get(value)


def key(region: str, identifier: str) -> tuple[str, str]:
    return region, identifier.lower()


@dataclass
class DocDbInstance:
    id: str
    region: str
    cluster: DocDbCluster
    instance_class: str
    az: str
    promotion_tier: int
    created: float
    status: str = CREATING

    @property
    def arn(self) -> str:
        return rds_arn(self.region, "db", self.id)


@dataclass
class DocDbCluster:
    id: str
    region: str
    engine_version: str
    master_user: str | None
    port: int
    azs: list[str]
    created: float
    resource_id: str
    storage_encrypted: bool
    deletion_protection: bool
    backup_retention: int
    status: str = CREATING
    instances: dict[str, DocDbInstance] = field(default_factory=dict)
    writer: str | None = None
    global_id: str | None = None
    #: A global secondary: the primary's clock time its volume holds everything up to (moves with the
    #: lag; frozen while replication is paused or the primary's region is lost).
    replicated_through: float | None = None
    lag: float = 0.0
    failover_handle: Scheduled | None = None

    @property
    def arn(self) -> str:
        return rds_arn(self.region, "cluster", self.id)

    def members(self) -> list[DocDbInstance]:
        return list(self.instances.values())

    def readers(self) -> list[DocDbInstance]:
        return [i for i in self.instances.values() if i.id != self.writer]


@dataclass(frozen=True)
class GlobalFailover:
    """One global switchover or failover as it happened: the RTO and RPO model without a data plane.

    ``data_loss_window``: seconds of the old primary's writes (those acknowledged in
    ``[lost_from, fenced_at]``) the new primary does not have; 0 for a switchover, which waits for
    the secondary to catch up ([ARC-DG:documentdb-global-cluster-block]: RPO 0; a failover's RPO is
    the replication lag at the time of the failure).
    """

    kind: str  # "switchover" | "failover"
    from_cluster: str
    to_cluster: str
    started: float
    fenced_at: float
    finished: float
    lost_from: float
    data_loss_window: float


@dataclass
class DocDbGlobal:
    id: str
    resource_id: str
    engine_version: str
    database_name: str | None
    storage_encrypted: bool
    deletion_protection: bool
    members: list[DocDbCluster] = field(default_factory=list)
    primary: DocDbCluster | None = None
    status: str = AVAILABLE
    failover_state: dict[str, Any] | None = None
    history: list[GlobalFailover] = field(default_factory=list)
    handles: list[Scheduled] = field(default_factory=list)

    @property
    def arn(self) -> str:
        return rds_arn("", "global-cluster", self.id)
