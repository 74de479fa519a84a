"""Aurora PostgreSQL state: clusters, their member instances, cluster snapshots, global databases."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pytest_drtest.clock import Scheduled
from pytest_drtest.emulation.rds_common import rds_arn

if TYPE_CHECKING:
    from pytest_drtest.dataplane import (
        AsyncReplica,
        EndpointProxy,
        PostgresServer,
        Snapshot,
    )

ENGINE = "aurora-postgresql"

CREATING = "creating"
AVAILABLE = "available"
FAILING_OVER = "failing-over"
SWITCHING_OVER = "switching-over"
#: An instance whose AZ (or host) is gone; RDS keeps trying to recover it, so waiters keep polling.
RECOVERING = "rebooting"
REBOOTING = "rebooting"

#: Aurora PostgreSQL versions without "read availability", where rebooting the writer reboots every
#: reader too, unavailable until the writer is back: major -> highest such minor (11 and lower: all;
#: 15 and higher: none) [AUR-UG:aurora-reboot-cluster]; [AUR-UG:aurora-mysql-survivable-replicas].
READERS_REBOOT_WITH_WRITER = {12: 13, 13: 9, 14: 6}
#: The answer to ForceFailover on an instance that is not Multi-AZ (an Aurora
#: member instance never is); the code is the likely one (unverified).
FORCE_FAILOVER_AURORA = (
    "ForceFailover cannot be specified since the instance is not configured for either MultiAZ or High Availability. "
    "To fail over an Aurora DB cluster, use FailoverDBCluster."
)

#: Share of ``aurora_global_failover`` spent verifying the clusters (``FailoverState.Status``
#: ``pending``) before the old primary is fenced; a modeling choice, AWS gives no figure.
GLOBAL_VERIFY_SHARE = 0.1


@dataclass
class AuroraInstance:
    """A DB instance that is a member of an Aurora cluster."""

    id: str
    region: str
    cluster: AuroraCluster
    az: str
    promotion_tier: int
    host: str
    created: float
    status: str = CREATING
    server: PostgresServer | None = None  # the writer's: the volume; a reader's: its sync standby
    endpoint: EndpointProxy | None = None
    reboot: Scheduled | None = None  # the end of a reboot in progress
    deleted: bool = False

    @property
    def arn(self) -> str:
        return rds_arn(self.region, "db", self.id)


@dataclass
class AuroraCluster:
    """An Aurora PostgreSQL DB cluster as the emulation sees it."""

    id: str
    region: str
    host: str
    reader_host: str
    port: int
    azs: list[str]
    master_user: str
    master_password: str
    database_name: str | None
    http_endpoint: bool
    created: float
    retention_days: int = 1
    pitr_lag: float = 300.0  # LatestRestorableTime lags now by this much
    status: str = CREATING
    instances: dict[str, AuroraInstance] = field(default_factory=dict)
    writer: str | None = None
    head: PostgresServer | None = None  # the volume: a primary, or a global secondary's replica
    replica: AsyncReplica | None = None  # set while this cluster is a global secondary
    global_id: str | None = None
    sync_status: str = "connected"
    fenced: bool = False  # writes stopped by a global switchover/failover
    restorable_from: float | None = None  # EarliestRestorableTime (None while a restore runs)
    writer_proxy: EndpointProxy | None = None
    reader_proxy: EndpointProxy | None = None
    failover_handle: Scheduled | None = None
    retired: list[PostgresServer] = field(default_factory=list)
    deleted: bool = False
    automated_snapshot_ids: dict[str, str] = field(default_factory=dict)  # clock-dated name -> moto's
    password_changes: list[tuple[float, str | None]] = field(default_factory=list)  # (when, password before)

    @property
    def arn(self) -> str:
        return rds_arn(self.region, "cluster", self.id)

    def members(self) -> list[AuroraInstance]:
        return [i for i in self.instances.values() if not i.deleted]

    def writer_instance(self) -> AuroraInstance | None:
        return self.instances.get(self.writer) if self.writer else None

    def readers(self) -> list[AuroraInstance]:
        return [i for i in self.members() if i.id != self.writer]


@dataclass
class ClusterSnapshot:
    """A manual DB cluster snapshot and the base backup holding its data."""

    id: str
    region: str
    cluster_id: str
    created: float
    master_user: str
    master_password: str
    database_name: str | None
    port: int
    status: str = CREATING
    data: Snapshot | None = None

    @property
    def arn(self) -> str:
        return rds_arn(self.region, "cluster-snapshot", self.id)


@dataclass
class GlobalDatabase:
    """An Aurora global database: one primary cluster and secondary clusters in other regions."""

    id: str
    resource_id: str
    engine: str
    engine_version: str
    database_name: str | None
    storage_encrypted: bool
    deletion_protection: bool
    endpoint: str
    tags: list[dict[str, str]]
    members: list[AuroraCluster] = field(default_factory=list)
    primary: AuroraCluster | None = None
    status: str = AVAILABLE
    failover_state: dict[str, Any] | None = None
    handles: list[Scheduled] = field(default_factory=list)

    @property
    def arn(self) -> str:
        return rds_arn("", "global-cluster", self.id)


def cluster_key(region: str, identifier: str) -> tuple[str, str]:
    return region, identifier.lower()


def readers_reboot_with_writer(engine_version: str) -> bool:
    """Whether rebooting the writer of an Aurora PostgreSQL ``engine_version`` reboots the readers."""
    try:
        major, minor = (int(part) for part in (engine_version.split(".") + ["0"])[:2])
    except ValueError:
        return True  # unknown: moto's default (12.7) has no read availability
    return major <= 11 or minor <= READERS_REBOOT_WITH_WRITER.get(major, -1)
