"""Aurora PostgreSQL: clusters, member instances, failover, global databases, PITR and snapshots.

What moto does (moto 5.2.5, checked): a DB cluster is ``creating`` on the first describe and
``available`` after; every member instance is ``available`` at once and lands in AZ ``a``;
``failover_db_cluster`` swaps the writer flag instantly and picks the first reader (not the best
PromotionTier); global clusters live in us-east-1's backend only, so a source cluster in another
region is "not found", the source is reported ``IsWriter: false``, ``remove_from_global_cluster``
does nothing across regions and ``failover_global_cluster``/``switchover_global_cluster`` are
NotImplemented; ``restore_db_cluster_to_point_in_time`` ignores the time (and copies the source's
global membership); snapshots are ``available`` at once; no data exists anywhere.

What this module adds (AWS-SEMANTICS §0, §7), on the run's clock and on real PostgreSQL
(:mod:`pytest_drtest.dataplane`):

- **Storage.** A cluster's volume is one PostgreSQL server. The writer instance runs on it; each
  reader is a synchronous standby (``FIRST n`` of all readers, ``remote_apply``), so a failover to
  any reader loses no acknowledged write and a read on a reader sees every acknowledged write.
  Aurora's shared storage gives the same guarantees ([AUR-UG:Aurora.Overview]).
- **Endpoints.** The writer endpoint, the reader endpoint and every instance endpoint are stable
  127.0.0.1 ports (:class:`~pytest_drtest.dataplane.EndpointProxy`). Responses keep AWS-shaped
  host names; :meth:`AuroraEmulator.connection_info` and :meth:`AuroraEmulator.resolve` give the
  local address. The reader endpoint goes to a reader, or to the writer when there is none
  ([AUR-UG:Aurora.Overview.Endpoints]).
- **Lifecycle.** Clusters and instances are ``creating`` for ``rds_create_time``; restores for
  ``rds_restore_time``; cluster snapshots for ``rds_snapshot_time``.
- **Failover** (§7.1). ``failing-over`` for ``aurora_failover``: the old writer stops at once, the
  writer endpoint refuses, then the chosen reader (TargetDBInstanceIdentifier, else the best
  PromotionTier, then the identifier) is promoted, the old writer comes back as a reader, flags
  swap and events RDS-EVENT-0072/0073 and -0071 are logged. A cluster without a reader refuses
  the call (``InvalidDBClusterStateFault``, as moto and the API reference say). Losing the writer's
  AZ fails over automatically; with no reader the writer is rebuilt in place in an AZ that is up
  (the UG's "typically under 10 minutes": modeled with ``rds_create_time``, the closest key).
- **Reboot** (§6.2) of a member instance: ``rebooting`` for ``rds_reboot_time``, then ``available``
  on the same server (no data lost, no failover) and RDS-EVENT-0006. Its endpoints refuse meanwhile:
  the writer's instance and cluster endpoints, or a reader's instance endpoint. On Aurora PostgreSQL
  versions without "read availability" (moto's default 12.7) the readers reboot with the writer.
  ``ForceFailover`` is refused: an Aurora instance is not Multi-AZ (FailoverDBCluster fails over).
- **Global database** (§7.3). A secondary cluster is an async replica of the primary's volume whose
  lag (``aurora_global_lag``) is held on the clock; it has no writer (writes fail read-only).
  ``switchover_global_cluster`` lets the secondary catch up before promoting it (no loss);
  ``failover_global_cluster(AllowDataLoss=True)`` cuts replication and promotes what arrived;
  both take ``aurora_global_failover``, report ``failing-over``/``switching-over`` with a
  ``FailoverState`` and then swap roles; the old primary is rebuilt as a secondary.
  ``remove_from_global_cluster`` promotes a secondary at once (replication stops: the lag is lost).
  A lost region cuts the replication link: what it held is lost.
- **PITR and snapshots** (§7.4). Restores land in NEW clusters without instances, holding exactly the
  data as of the time (PostgreSQL's WAL archive, replayed to the clock time).

Events go to the shared :class:`~pytest_drtest.emulation.rds_common.RdsEventLog`, which answers
``DescribeEvents``.
"""
from __future__ import annotations

import contextlib
import itertools
import logging
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pytest_drtest.clock import Scheduled
from pytest_drtest.emulation.core import AwsError, Call, Emulation, Endpoint, ServiceEmulator, az_region
from pytest_drtest.emulation.rds_common import RdsEventLog, event_log, parse_rds_arn, rds_arn

if TYPE_CHECKING:
    from pytest_drtest.dataplane import AsyncReplica, DataPlane, EndpointProxy, PostgresServer, Snapshot

log = logging.getLogger("pytest_drtest.emulation.aurora")

ENGINE = "aurora-postgresql"
LOCALHOST = "127.0.0.1"

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
#: AWS-SEMANTICS §6.2: the answer to ForceFailover on an instance that is not Multi-AZ (an Aurora
#: member instance never is); the code is the likely one (unverified).
FORCE_FAILOVER_AURORA = (
    "ForceFailover cannot be specified since the instance is not configured for either MultiAZ or High Availability. "
    "To fail over an Aurora DB cluster, use FailoverDBCluster."
)

#: Share of ``aurora_global_failover`` spent verifying the clusters (``FailoverState.Status``
#: ``pending``) before the old primary is fenced; a modeling choice, AWS gives no figure.
GLOBAL_VERIFY_SHARE = 0.1
_DAY = 86400.0


# -- model --------------------------------------------------------------------------------------
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


def _cluster_key(region: str, identifier: str) -> tuple[str, str]:
    return region, identifier.lower()


def readers_reboot_with_writer(engine_version: str) -> bool:
    """Whether rebooting the writer of an Aurora PostgreSQL ``engine_version`` reboots the readers."""
    try:
        major, minor = (int(part) for part in (engine_version.split(".") + ["0"])[:2])
    except ValueError:
        return True  # unknown: moto's default (12.7) has no read availability
    return major <= 11 or minor <= READERS_REBOOT_WITH_WRITER.get(major, -1)


# -- the emulator -------------------------------------------------------------------------------
class AuroraEmulator(ServiceEmulator):
    """Aurora PostgreSQL clusters on real PostgreSQL; DB instances outside clusters are rds.py's."""

    service = "rds"

    def __init__(self, emulation: Emulation) -> None:
        super().__init__(emulation)
        self.clusters: dict[tuple[str, str], AuroraCluster] = {}
        self.instances: dict[tuple[str, str], AuroraInstance] = {}
        self.snapshots: dict[tuple[str, str], ClusterSnapshot] = {}
        self.globals: dict[str, GlobalDatabase] = {}
        self.events: RdsEventLog = event_log(emulation)
        self._handles: list[Scheduled] = []
        self._plane_error: Exception | None = None
        self._names = itertools.count(1)

    # == public API ==============================================================================
    def cluster(self, region: str, cluster_id: str) -> AuroraCluster:
        """The cluster ``cluster_id`` (an identifier or ARN) in ``region``; KeyError if not Aurora's."""
        arn_region, name = parse_rds_arn(cluster_id)
        cluster = self.clusters.get(_cluster_key(arn_region or region, name))
        if cluster is None or cluster.deleted:
            raise KeyError(f"no Aurora cluster {cluster_id!r} in {region}")
        return cluster

    def connection_info(self, region: str, cluster_id: str, *, reader: bool = False) -> dict[str, Any]:
        """How to reach the cluster's writer (or reader) endpoint with psycopg.

        ``{"host", "port", "user", "password", "dbname"}``: the endpoint's stable 127.0.0.1 port
        and the cluster's master credentials and database. Raises ``DataPlaneUnavailable`` when
        PostgreSQL cannot run here.
        """
        cluster = self.cluster(region, cluster_id)
        proxy = cluster.reader_proxy if reader else cluster.writer_proxy
        if proxy is None:
            self._require_plane()
            raise KeyError(f"cluster {cluster.id!r} has no data plane")
        return self._credentials(cluster, proxy.port)

    def instance_connection_info(self, region: str, instance_id: str) -> dict[str, Any]:
        """Like :meth:`connection_info`, for one member instance's own endpoint."""
        instance = self.instances.get(_cluster_key(region, instance_id))
        if instance is None or instance.deleted:
            raise KeyError(f"no Aurora instance {instance_id!r} in {region}")
        if instance.endpoint is None:
            self._require_plane()
            raise KeyError(f"instance {instance.id!r} has no data plane")
        return self._credentials(instance.cluster, instance.endpoint.port)

    def resolve(self, host: str) -> tuple[str, int] | None:
        """The local ``(127.0.0.1, port)`` behind an Aurora endpoint's AWS-shaped host name (the
        ``ReaderEndpoint`` of a response, or :attr:`AuroraCluster.host`), or None."""
        wanted = host.lower().rstrip(".")
        for cluster in self.clusters.values():
            if cluster.deleted:
                continue
            for name, proxy in ((cluster.host, cluster.writer_proxy), (cluster.reader_host, cluster.reader_proxy)):
                if name.lower() == wanted and proxy is not None:
                    return LOCALHOST, proxy.port
            for instance in cluster.members():
                if instance.host.lower() == wanted and instance.endpoint is not None:
                    return LOCALHOST, instance.endpoint.port
        return None

    def data_api_target(self, region: str, resource_arn: str) -> AuroraCluster | None:
        """The cluster behind an rds-data ``resourceArn`` (None: not an Aurora cluster of ours)."""
        arn_region, name = parse_rds_arn(resource_arn)
        if arn_region is not None and arn_region != region:
            return None
        cluster = self.clusters.get(_cluster_key(region, name))
        return None if cluster is None or cluster.deleted else cluster

    def writer_server(self, cluster: AuroraCluster) -> PostgresServer:
        """The server the Data API runs statements on, or ``AwsError`` as rds-data answers (§7.5)."""
        if not cluster.http_endpoint:
            raise AwsError("HttpEndpointNotEnabledException",
                           f"HttpEndpoint is not enabled for cluster {cluster.arn}", 400)
        if not cluster.members():
            raise AwsError("DatabaseNotFoundException", f"DB cluster {cluster.id} has no DB instance", 404)
        if self._plane() is None:
            raise AwsError("InternalServerErrorException",
                           f"the PostgreSQL data plane is unavailable: {self._plane_error}", 500)
        writer = cluster.writer_instance()
        if cluster.replica is not None:  # a global secondary: read-only, no writer
            serving = [i for i in cluster.members() if self._serving(i)]
            if serving and cluster.head is not None:
                return cluster.head
        elif (writer is not None and cluster.status == AVAILABLE and not cluster.fenced
              and self._serving(writer) and writer.server is not None):
            return writer.server
        raise AwsError("DatabaseUnavailableException",
                       f"The writer instance of DB cluster {cluster.id} is not available", 504)

    def master_credentials(self, cluster: AuroraCluster) -> dict[str, Any]:
        return {"user": cluster.master_user, "password": cluster.master_password,
                "dbname": cluster.database_name or "postgres"}

    # == plumbing ================================================================================
    def _plane(self) -> DataPlane | None:
        """The run's data plane, or None (once, with a warning) when PostgreSQL cannot run here."""
        if self._plane_error is not None:
            return None
        from pytest_drtest.dataplane.runtime import DataPlaneUnavailable

        try:
            return self.emulation.dataplane  # type: ignore[no-any-return]
        except DataPlaneUnavailable as exc:
            self._plane_error = exc
            log.warning("Aurora emulation without data: %s", exc)
            return None

    def _require_plane(self) -> DataPlane:
        plane = self._plane()
        if plane is None:
            assert self._plane_error is not None
            raise self._plane_error
        return plane

    def _credentials(self, cluster: AuroraCluster, port: int) -> dict[str, Any]:
        return {"host": LOCALHOST, "port": port, **self.master_credentials(cluster)}

    def _later(self, delay: float, fn: Callable[[], None], name: str) -> Scheduled:
        self._handles = [h for h in self._handles if not h.cancelled and h.when >= self.clock.now()]
        handle = self.clock.call_later(max(0.0, delay), fn, name=f"aurora:{name}")
        self._handles.append(handle)
        return handle

    def _server_name(self, cluster: AuroraCluster, role: str) -> str:
        return f"aur{next(self._names)}-{cluster.id[:40]}-{role}"

    def _event(self, region: str, source_id: str, source_type: str, event_id: str, message: str,
               category: str) -> None:
        self.events.record(region, source_id, source_type, event_id, message, (category,))

    def _cluster_event(self, cluster: AuroraCluster, event_id: str, message: str, category: str) -> None:
        self._event(cluster.region, cluster.id, "db-cluster", event_id, message, category)

    @staticmethod
    def _not_available(cluster: AuroraCluster, why: str | None = None) -> AwsError:
        return AwsError("InvalidDBClusterStateFault",
                        f"DB cluster {cluster.id} {why or f'is {cluster.status}, not available'}", 400)

    def _sample(self, key: str, stream: str) -> float:
        return self.profile.sample(key, stream=stream)

    # == data plane helpers ======================================================================
    def _new_volume(self, cluster: AuroraCluster) -> None:
        """An empty volume with the cluster's master user and database (CreateDBCluster)."""
        plane = self._plane()
        if plane is None:
            return
        server = plane.create_server(self._server_name(cluster, "vol"))
        cluster.head = server
        from psycopg import sql

        with server.connect() as conn:
            user = sql.Identifier(cluster.master_user)
            password = sql.Literal(cluster.master_password or "")
            if cluster.master_user == "postgres":
                conn.execute(sql.SQL("ALTER ROLE postgres PASSWORD {}").format(password))
            else:
                conn.execute(sql.SQL("CREATE ROLE {} LOGIN SUPERUSER PASSWORD {}").format(user, password))
            if cluster.database_name and cluster.database_name != "postgres":
                conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(cluster.database_name), user))
        self._configure_volume(cluster)

    def _configure_volume(self, cluster: AuroraCluster) -> None:
        """Make every live reader's standby synchronous (``FIRST n``): no reader misses a commit."""
        head = cluster.head
        if head is None or cluster.replica is not None or not head.running:
            return
        names = [
            i.server.name for i in cluster.members()
            if i.server is not None and i.server is not head and i.server.running
        ]
        quoted = ", ".join(f'"{name}"' for name in names)
        head.configure(
            synchronous_standby_names=f"FIRST {len(names)} ({quoted})" if names else None,
            synchronous_commit="remote_apply",
        )

    def _new_standby(self, cluster: AuroraCluster, instance: AuroraInstance) -> None:
        """Give a reader of a primary cluster its own synchronous standby of the volume."""
        plane = self._plane()
        if plane is None or cluster.head is None or not cluster.head.running:
            instance.server = None
            return
        instance.server = plane.add_sync_standby(cluster.head, self._server_name(cluster, instance.id[:12]))
        self._configure_volume(cluster)

    def _retire(self, cluster: AuroraCluster, server: PostgresServer | None) -> None:
        """Kill a server that no longer serves the cluster (its folder goes with the data plane)."""
        if server is None:
            return
        with contextlib.suppress(Exception):
            server.kill()
        if server not in cluster.retired:
            cluster.retired.append(server)

    def _proxies(self, cluster: AuroraCluster) -> None:
        """Create the cluster's writer and reader endpoints (once) and register their health."""
        plane = self._plane()
        if plane is None or cluster.writer_proxy is not None:
            return
        cluster.writer_proxy = plane.endpoint(name=f"{cluster.id[:40]}-writer")
        cluster.reader_proxy = plane.endpoint(name=f"{cluster.id[:40]}-reader")
        writer, reader = cluster.writer_proxy, cluster.reader_proxy
        self.emulation.register_endpoint(
            Endpoint(cluster.host, cluster.region, lambda: writer.target_port is not None, "aurora-writer"))
        self.emulation.register_endpoint(
            Endpoint(cluster.reader_host, cluster.region, lambda: reader.target_port is not None, "aurora-reader"))

    def _serving(self, instance: AuroraInstance) -> bool:
        cluster = instance.cluster
        return (
            instance.status == AVAILABLE and not instance.deleted and cluster.status != CREATING
            and self.world.az_up(instance.az) and instance.server is not None and instance.server.running
        )

    def _route(self, cluster: AuroraCluster) -> None:
        """Point every endpoint of the cluster at the node that should answer it now (§7.2)."""
        if cluster.writer_proxy is None or cluster.reader_proxy is None or cluster.deleted:
            return
        up = self.world.region_up(cluster.region)
        writer = cluster.writer_instance()
        writer_port: int | None = None
        if up and cluster.status != CREATING and not cluster.fenced:
            if cluster.replica is not None:  # a secondary: read-only through every endpoint
                if cluster.head is not None and any(self._serving(i) for i in cluster.members()):
                    writer_port = cluster.head.port
            elif writer is not None and cluster.status == AVAILABLE and self._serving(writer):
                writer_port = writer.server.port  # type: ignore[union-attr]
        readers = sorted(
            (i for i in cluster.members() if i is not writer and self._serving(i)),
            key=lambda i: (i.promotion_tier, i.id),
        )
        reader_port = readers[0].server.port if up and readers else writer_port  # type: ignore[union-attr]
        _switch(cluster.writer_proxy, writer_port)
        _switch(cluster.reader_proxy, reader_port)
        for instance in cluster.members():
            if instance.endpoint is None:
                continue
            stopped_writer = instance is writer and (cluster.fenced or cluster.status == FAILING_OVER)
            serving = up and self._serving(instance) and not stopped_writer
            _switch(instance.endpoint, instance.server.port if serving else None)  # type: ignore[union-attr]

    # == responses ===============================================================================
    def _cluster_fields(self, cluster: AuroraCluster, item: dict[str, Any]) -> None:
        """Rewrite a moto ``DBCluster`` dict in place from the model."""
        clock = self.clock
        item["Status"] = cluster.status
        if cluster.writer_proxy is not None:  # directly connectable, as rds.py reports instances
            item["Endpoint"], item["Port"] = LOCALHOST, cluster.writer_proxy.port
        else:
            item["Endpoint"], item["Port"] = cluster.host, cluster.port
        # The API has no reader port: an AWS-shaped name that resolve() and connection_info() map.
        item["ReaderEndpoint"] = cluster.reader_host
        item["HttpEndpointEnabled"] = cluster.http_endpoint
        item["ClusterCreateTime"] = clock.datetime(cluster.created)
        item["MasterUsername"] = cluster.master_user
        item["DBClusterMembers"] = [
            {"DBInstanceIdentifier": i.id, "IsClusterWriter": i.id == cluster.writer,
             "DBClusterParameterGroupStatus": "in-sync", "PromotionTier": i.promotion_tier}
            for i in cluster.members()
        ]
        item["MultiAZ"] = len({i.az for i in cluster.members()}) > 1
        if cluster.database_name:
            item["DatabaseName"] = cluster.database_name
        window = self._restore_window(cluster)
        if window is None:  # "null until the restore finishes" [AUR-UG:Aurora.Managing.Backups]
            item.pop("EarliestRestorableTime", None)
            item.pop("LatestRestorableTime", None)
        else:
            item["EarliestRestorableTime"] = clock.datetime(window[0])
            item["LatestRestorableTime"] = clock.datetime(window[1])
        if cluster.global_id:
            item["GlobalClusterIdentifier"] = cluster.global_id
        else:
            item.pop("GlobalClusterIdentifier", None)

    def _instance_fields(self, instance: AuroraInstance, item: dict[str, Any]) -> None:
        item["DBInstanceStatus"] = instance.status
        item["AvailabilityZone"] = instance.az
        item["PromotionTier"] = instance.promotion_tier
        item["InstanceCreateTime"] = self.clock.datetime(instance.created)
        item["MultiAZ"] = False
        endpoint = dict(item.get("Endpoint") or {})
        if instance.endpoint is not None:
            endpoint.update({"Address": LOCALHOST, "Port": instance.endpoint.port})
        else:
            endpoint.update({"Address": instance.host, "Port": instance.cluster.port})
        item["Endpoint"] = endpoint
        item["DbInstancePort"] = endpoint["Port"]

    def _rewrite_clusters(self, region: str, items: Iterable[dict[str, Any]]) -> None:
        for item in items:
            cluster = self.clusters.get(_cluster_key(region, item.get("DBClusterIdentifier", "")))
            if cluster is not None and not cluster.deleted:
                self._cluster_fields(cluster, item)

    def _rewrite_instances(self, region: str, items: Iterable[dict[str, Any]]) -> None:
        for item in items:
            if not item.get("DBClusterIdentifier"):
                continue
            instance = self.instances.get(_cluster_key(region, item.get("DBInstanceIdentifier", "")))
            if instance is not None and not instance.deleted:
                self._instance_fields(instance, item)

    def _cluster_view(self, cluster: AuroraCluster) -> dict[str, Any]:
        """The full ``DBCluster`` dict (moto's, through the backdoor, rewritten)."""
        try:
            found = self.backdoor(cluster.region).describe_db_clusters(DBClusterIdentifier=cluster.id)["DBClusters"]
            item = dict(found[0])
        except Exception:  # noqa: BLE001 - moto may have lost it; answer from the model
            item = {"DBClusterIdentifier": cluster.id, "DBClusterArn": cluster.arn, "Engine": ENGINE,
                    "Port": cluster.port, "AvailabilityZones": list(cluster.azs)}
        self._cluster_fields(cluster, item)
        return item

    def _global_view(self, gdb: GlobalDatabase) -> dict[str, Any]:
        primary = gdb.primary
        secondaries = [c for c in gdb.members if c is not primary]
        members = []
        for cluster in gdb.members:
            member: dict[str, Any] = {
                "DBClusterArn": cluster.arn,
                "Readers": [c.arn for c in secondaries] if cluster is primary else [],
                "IsWriter": cluster is primary,
            }
            if cluster is not primary:
                member["GlobalWriteForwardingStatus"] = "disabled"
                member["SynchronizationStatus"] = cluster.sync_status
            members.append(member)
        view: dict[str, Any] = {
            "GlobalClusterIdentifier": gdb.id, "GlobalClusterResourceId": gdb.resource_id,
            "GlobalClusterArn": gdb.arn, "Status": gdb.status, "Engine": gdb.engine,
            "EngineVersion": gdb.engine_version, "StorageEncrypted": gdb.storage_encrypted,
            "DeletionProtection": gdb.deletion_protection, "GlobalClusterMembers": members,
            "Endpoint": gdb.endpoint, "TagList": list(gdb.tags),
        }
        if gdb.database_name:
            view["DatabaseName"] = gdb.database_name
        if gdb.failover_state is not None:
            view["FailoverState"] = dict(gdb.failover_state)
        return view

    def _restore_window(self, cluster: AuroraCluster) -> tuple[float, float] | None:
        """(earliest, latest) restorable clock times; latest lags ``rds_pitr_latest_lag`` (§6.5)."""
        if cluster.restorable_from is None:
            return None
        now = self.clock.now()
        earliest = max(cluster.restorable_from, now - cluster.retention_days * _DAY)
        return earliest, max(earliest, now - cluster.pitr_lag)

    # == clusters ================================================================================
    def before_CreateDBCluster(self, call: Call) -> dict[str, Any] | None:
        if call.params.get("Engine") != ENGINE:
            return None
        key = _cluster_key(call.region, call.params["DBClusterIdentifier"])
        if key in self.clusters and not self.clusters[key].deleted:
            raise AwsError("DBClusterAlreadyExistsFault", f"DB cluster {key[1]} already exists", 400)
        global_id = call.params.get("GlobalClusterIdentifier")
        if global_id:
            gdb = self.globals.get(global_id.lower())
            if gdb is None:
                raise AwsError("GlobalClusterNotFoundFault", f"Global cluster {global_id} not found", 404)
            if gdb.primary is not None and gdb.primary.region == call.region:
                raise AwsError("InvalidGlobalClusterStateFault",
                               f"Global cluster {gdb.id} already has a member in {call.region}", 400)
        return None

    def after_CreateDBCluster(self, call: Call) -> None:
        if call.params.get("Engine") != ENGINE or call.parsed is None:
            return
        item = call.parsed["DBCluster"]
        gdb = self.globals.get((call.params.get("GlobalClusterIdentifier") or "").lower())
        source = gdb.primary if gdb is not None else None
        cluster = self._new_cluster(call.region, item, call.params, like=source)
        if gdb is not None and source is not None:
            self._attach_secondary(gdb, cluster)
        else:
            self._new_volume(cluster)
            if gdb is not None:
                gdb.primary = cluster
                gdb.members.append(cluster)
                cluster.global_id = gdb.id
        cluster.restorable_from = self.clock.now()
        self._schedule_available(cluster, "rds_create_time", created_event=True)
        self._proxies(cluster)
        self._route(cluster)
        self._cluster_fields(cluster, item)

    def _new_cluster(self, region: str, item: dict[str, Any], params: dict[str, Any], *,
                     like: AuroraCluster | None = None) -> AuroraCluster:
        identifier = item["DBClusterIdentifier"]
        cluster = AuroraCluster(
            id=identifier.lower(), region=region,
            host=item.get("Endpoint") or f"{identifier}.cluster-local.{region}.rds.amazonaws.com",
            reader_host=item.get("ReaderEndpoint") or f"{identifier}.cluster-ro-local.{region}.rds.amazonaws.com",
            port=int(item.get("Port") or 5432),
            azs=list(item.get("AvailabilityZones") or [f"{region}a", f"{region}b", f"{region}c"]),
            master_user=(like.master_user if like else params.get("MasterUsername")) or "postgres",
            master_password=(like.master_password if like else params.get("MasterUserPassword")) or "",
            database_name=(like.database_name if like else params.get("DatabaseName")),
            http_endpoint=bool(params.get("EnableHttpEndpoint")),
            created=self.clock.now(),
            retention_days=int(params.get("BackupRetentionPeriod") or 1),
            pitr_lag=self._sample("rds_pitr_latest_lag", f"rds_pitr_latest_lag:{region}:{identifier.lower()}"),
        )
        self.clusters[_cluster_key(region, cluster.id)] = cluster
        return cluster

    def _schedule_available(self, cluster: AuroraCluster, key: str, *, created_event: bool,
                            then: Callable[[], None] | None = None) -> None:
        delay = self._sample(key, f"{key}:{cluster.region}:{cluster.id}")

        def available() -> None:
            if cluster.deleted:
                return
            cluster.status = AVAILABLE
            if created_event:
                self._cluster_event(cluster, "RDS-EVENT-0170", "DB cluster created.", "creation")
            if then is not None:
                then()
            self._route(cluster)

        self._later(delay, available, f"available:{cluster.id}")

    def after_DescribeDBClusters(self, call: Call) -> None:
        if call.parsed is not None:
            self._rewrite_clusters(call.region, call.parsed.get("DBClusters", []))

    def after_ModifyDBCluster(self, call: Call) -> None:
        cluster = self.clusters.get(_cluster_key(call.region, call.params.get("DBClusterIdentifier", "")))
        if cluster is None or call.parsed is None:
            return
        if "EnableHttpEndpoint" in call.params:
            cluster.http_endpoint = bool(call.params["EnableHttpEndpoint"])
        if "BackupRetentionPeriod" in call.params:
            cluster.retention_days = int(call.params["BackupRetentionPeriod"])
        self._cluster_fields(cluster, call.parsed["DBCluster"])

    def _http_endpoint(self, call: Call, enabled: bool) -> dict[str, Any] | None:
        arn = call.params.get("ResourceArn", "")
        cluster = self.data_api_target(call.region, arn)
        if cluster is None:
            return None
        cluster.http_endpoint = enabled
        return {"ResourceArn": arn, "HttpEndpointEnabled": enabled}

    def before_EnableHttpEndpoint(self, call: Call) -> dict[str, Any] | None:
        return self._http_endpoint(call, True)

    def before_DisableHttpEndpoint(self, call: Call) -> dict[str, Any] | None:
        return self._http_endpoint(call, False)

    def before_DeleteDBCluster(self, call: Call) -> dict[str, Any] | None:
        cluster = self.clusters.get(_cluster_key(call.region, call.params.get("DBClusterIdentifier", "")))
        if cluster is None or cluster.deleted:
            return None
        if cluster.global_id is not None:  # detach first [AUR-UG:aurora-global-database-managing]
            raise self._not_available(
                cluster, "is a part of a global cluster, please remove it from globalcluster first")
        final = call.params.get("FinalDBSnapshotIdentifier")
        if final and not call.params.get("SkipFinalSnapshot") and _cluster_key(call.region, final) in self.snapshots:
            raise AwsError("DBClusterSnapshotAlreadyExistsFault", f"Cluster snapshot {final} already exists", 400)
        return None

    def after_DeleteDBCluster(self, call: Call) -> None:
        cluster = self.clusters.get(_cluster_key(call.region, call.params.get("DBClusterIdentifier", "")))
        if cluster is None or cluster.deleted:
            return
        if call.parsed is not None:
            self._cluster_fields(cluster, call.parsed["DBCluster"])
            call.parsed["DBCluster"]["Status"] = "deleting"
        final = call.params.get("FinalDBSnapshotIdentifier")
        if final and not call.params.get("SkipFinalSnapshot"):
            self._take_snapshot(cluster, str(final))
        cluster.deleted = True
        if cluster.failover_handle is not None:
            cluster.failover_handle.cancel()
        for proxy in (cluster.writer_proxy, cluster.reader_proxy):
            if proxy is not None:
                _switch(proxy, None)
        if cluster.replica is not None:
            with contextlib.suppress(Exception):
                cluster.replica.close()
        self._retire(cluster, cluster.head)
        self._cluster_event(cluster, "RDS-EVENT-0171", "DB cluster deleted.", "deletion")

    # == instances ===============================================================================
    def before_CreateDBInstance(self, call: Call) -> dict[str, Any] | None:
        cluster_id = call.params.get("DBClusterIdentifier")
        if not cluster_id:
            return None
        cluster = self.clusters.get(_cluster_key(call.region, cluster_id))
        if cluster is None or cluster.deleted:
            return None  # not Aurora PostgreSQL's (or missing: moto answers DBClusterNotFoundFault)
        return None

    def after_CreateDBInstance(self, call: Call) -> None:
        cluster_id = call.params.get("DBClusterIdentifier")
        if not cluster_id or call.parsed is None:
            return
        cluster = self.clusters.get(_cluster_key(call.region, cluster_id))
        if cluster is None or cluster.deleted:
            return
        item = call.parsed["DBInstance"]
        instance = AuroraInstance(
            id=item["DBInstanceIdentifier"].lower(), region=call.region, cluster=cluster,
            az=call.params.get("AvailabilityZone") or self._place(cluster),
            promotion_tier=int(call.params.get("PromotionTier", 1)),
            host=(item.get("Endpoint") or {}).get("Address")
            or f"{item['DBInstanceIdentifier']}.local.{call.region}.rds.amazonaws.com",
            created=self.clock.now(),
        )
        cluster.instances[instance.id] = instance
        self.instances[_cluster_key(call.region, instance.id)] = instance
        if cluster.replica is not None or (cluster.global_id is not None and cluster is not self._primary_of(cluster)):
            instance.server = cluster.head  # a secondary's instances read its replicated volume
        elif cluster.writer is None or cluster.writer_instance() is None:
            cluster.writer = instance.id  # the first instance of a cluster is its writer
            instance.server = cluster.head
        else:
            self._new_standby(cluster, instance)
        plane = self._plane()
        if plane is not None:
            instance.endpoint = plane.endpoint(name=f"{instance.id[:40]}-instance")
            proxy = instance.endpoint
            self.emulation.register_endpoint(
                Endpoint(instance.host, call.region, lambda: proxy.target_port is not None, "aurora-instance"))
        delay = self._sample("rds_create_time", f"rds_create_time:{call.region}:{instance.id}")

        def available() -> None:
            if instance.deleted:
                return
            instance.status = AVAILABLE
            self._event(call.region, instance.id, "db-instance", "RDS-EVENT-0005", "DB instance created.", "creation")
            self._route(cluster)

        self._later(delay, available, f"instance-available:{instance.id}")
        self._route(cluster)
        self._instance_fields(instance, item)

    def _place(self, cluster: AuroraCluster) -> str:
        """The cluster AZ with the fewest members (ties: the first); moto puts all in ``a``."""
        counts = {az: 0 for az in cluster.azs}
        for instance in cluster.members():
            counts[instance.az] = counts.get(instance.az, 0) + 1
        usable = [az for az in cluster.azs if self.world.az_up(az)] or list(cluster.azs)
        return min(usable, key=lambda az: (counts.get(az, 0), cluster.azs.index(az)))

    def after_DescribeDBInstances(self, call: Call) -> None:
        if call.parsed is not None:
            self._rewrite_instances(call.region, call.parsed.get("DBInstances", []))

    def after_DeleteDBInstance(self, call: Call) -> None:
        instance = self.instances.get(_cluster_key(call.region, call.params.get("DBInstanceIdentifier", "")))
        if instance is None or instance.deleted:
            return
        cluster = instance.cluster
        if call.parsed is not None:
            self._instance_fields(instance, call.parsed["DBInstance"])
            call.parsed["DBInstance"]["DBInstanceStatus"] = "deleting"
        instance.deleted = True
        if instance.endpoint is not None:
            _switch(instance.endpoint, None)
        if instance.id == cluster.writer:
            cluster.writer = None
            candidates = [i for i in cluster.readers() if self._serving(i)]
            if candidates and cluster.replica is None:
                # Deleting the writer promotes a reader: a failover ([AUR-UG:Concepts.AuroraHighAvailability]).
                self._start_failover(cluster, self._best(candidates), old_writer=instance)
            # else the volume stays: a later CreateDBInstance gives the cluster a writer again
        elif instance.server is not None and instance.server is not cluster.head:
            self._retire(cluster, instance.server)
            self._configure_volume(cluster)
        self._event(call.region, instance.id, "db-instance", "RDS-EVENT-0003", "DB instance deleted.", "deletion")
        self._route(cluster)

    # == reboot (§6.2) ===========================================================================
    def _called_member(self, call: Call) -> AuroraInstance | None:
        """The live cluster member a call's ``DBInstanceIdentifier`` names, or None (rds.py's or unknown)."""
        instance = self.instances.get(_cluster_key(call.region, call.params.get("DBInstanceIdentifier") or ""))
        return None if instance is None or instance.deleted else instance

    def before_RebootDBInstance(self, call: Call) -> dict[str, Any] | None:
        instance = self._called_member(call)
        if instance is None:
            return None  # not a cluster member: rds.py's (or moto's DBInstanceNotFound)
        # "You can only reboot each DB instance in your cluster when it's in the available state"
        # [AUR-UG:USER_RebootCluster].
        if instance.status != AVAILABLE:
            raise AwsError("InvalidDBInstanceState",
                           f"DB instance {instance.id} is not in available state (it is {instance.status}).", 400)
        if instance.cluster.status != AVAILABLE:
            raise AwsError("InvalidDBInstanceState", f"DB instance {instance.id} cannot be rebooted while its "
                           f"DB cluster {instance.cluster.id} is {instance.cluster.status}.", 400)
        if call.params.get("ForceFailover"):
            raise AwsError("InvalidParameterCombination", FORCE_FAILOVER_AURORA, 400)
        return None

    def after_RebootDBInstance(self, call: Call) -> None:
        instance = self._called_member(call)
        if instance is None or call.parsed is None:
            return
        cluster = instance.cluster
        rebooting = [instance]
        if instance.id == cluster.writer and readers_reboot_with_writer(
                str(self._cluster_view(cluster).get("EngineVersion") or "")):
            rebooting += [i for i in cluster.readers() if i.status == AVAILABLE]
        # The readers stay unavailable until the writer is back [AUR-UG:aurora-reboot-cluster]: one delay.
        delay = self._sample("rds_reboot_time", f"rds_reboot_time:{call.region}:{instance.id}")
        for member in rebooting:
            self._reboot(member, delay)
        self._route(cluster)
        self._instance_fields(instance, call.parsed["DBInstance"])

    def _reboot(self, instance: AuroraInstance, delay: float) -> None:
        """``rebooting`` for ``delay`` (its endpoints refuse; the server and its data stay), then ``available``."""
        instance.status = REBOOTING

        def restarted() -> None:
            instance.reboot = None
            if instance.deleted:
                return
            instance.status = AVAILABLE
            self._event(instance.region, instance.id, "db-instance", "RDS-EVENT-0006", "DB instance restarted.",
                        "availability")
            self._route(instance.cluster)

        instance.reboot = self._later(delay, restarted, f"reboot:{instance.id}")

    # == in-region failover (§7.1) ===============================================================
    @staticmethod
    def _best(candidates: list[AuroraInstance]) -> AuroraInstance:
        """Lowest PromotionTier first; a tie (instance sizes are not modeled) goes to the identifier."""
        return min(candidates, key=lambda i: (i.promotion_tier, i.id))

    def before_FailoverDBCluster(self, call: Call) -> dict[str, Any] | None:
        cluster = self.clusters.get(_cluster_key(call.region, call.params.get("DBClusterIdentifier", "")))
        if cluster is None or cluster.deleted:
            return None
        if cluster.status != AVAILABLE or cluster.fenced:
            raise self._not_available(cluster)
        if cluster.replica is not None or cluster.writer_instance() is None:
            raise self._not_available(cluster, "has no writer instance to fail over")
        readers = [i for i in cluster.readers() if self._serving(i)]
        target_id = call.params.get("TargetDBInstanceIdentifier")
        if target_id:
            target = cluster.instances.get(target_id.lower())
            if target is None or target.deleted or target.id == cluster.writer:
                raise AwsError("InvalidDBInstanceState",
                               f"{target_id} is not a reader instance of DB cluster {cluster.id}", 400)
            if target not in readers:
                raise AwsError("InvalidDBInstanceState",
                               f"Instance {target_id} should be in valid state for failover.", 400)
        elif not readers:
            # The API refuses a cluster without a replica (moto too); AWS rebuilds such a writer in
            # place only on a failure, which this emulator models for AZ loss.
            raise AwsError("InvalidDBClusterStateFault",
                           f"Database cluster:{cluster.id} should have at least two database instances in valid "
                           "states or a valid target instance for failover.", 400)
        else:
            target = self._best(readers)
        self._start_failover(cluster, target, old_writer=cluster.writer_instance())
        return {"DBCluster": self._cluster_view(cluster)}

    def _start_failover(self, cluster: AuroraCluster, target: AuroraInstance, *, old_writer: AuroraInstance | None,
                        lost: bool = False) -> None:
        """``failing-over`` for ``aurora_failover``: the old writer stops now, ``target`` is promoted at the end."""
        cluster.status = FAILING_OVER
        old_az = old_writer.az if old_writer is not None else None
        if old_az is not None and old_az == target.az:
            self._cluster_event(cluster, "RDS-EVENT-0072",
                                f"Started same AZ failover to DB instance: {target.id}.", "failover")
        else:
            self._cluster_event(cluster, "RDS-EVENT-0073",
                                f"Started cross AZ failover to DB instance: {target.id}.", "failover")
        old_head = cluster.head
        if old_head is not None and old_head.running:
            with contextlib.suppress(Exception):
                if lost:
                    old_head.kill()  # the host is gone
                else:
                    old_head.stop("immediate")  # the writer restarts as a reader: it stops serving now
        self._route(cluster)
        duration = self._sample("aurora_failover", f"aurora_failover:{cluster.region}:{cluster.id}")
        cluster.failover_handle = self._later(
            duration, lambda: self._finish_failover(cluster, target), f"failover:{cluster.id}")

    def _finish_failover(self, cluster: AuroraCluster, target: AuroraInstance) -> None:
        cluster.failover_handle = None
        if cluster.deleted:
            return
        if target.deleted or not self._serving_node(target):
            # The chosen reader went away meanwhile: take the next best one, or fail (RDS-EVENT-0069).
            others = [i for i in cluster.readers() if i is not target and self._serving(i)]
            if not others:
                cluster.status = AVAILABLE
                self._cluster_event(cluster, "RDS-EVENT-0069",
                                    "Cluster failover failed, check the health of your cluster instances "
                                    "and try again.",
                                    "failover")
                self._route(cluster)
                return
            target = self._best(others)
        old_head = cluster.head
        new_head = target.server
        if new_head is not None and old_head is not None and new_head is not old_head:
            new_head.promote()
            cluster.head = new_head
            self._retire(cluster, old_head)
            plane = self._plane()
            if plane is not None and any(r.source is old_head and not r.promoted for r in plane.replicas):
                plane.retarget_replicas(old_head, new_head)  # global secondaries follow the new writer
            for reader in cluster.members():
                if reader is target or reader.deleted:
                    continue
                # A standby of the old writer may hold WAL the new one never got: rebuild it.
                self._retire(cluster, reader.server)
                reader.server = None
                if self.world.az_up(reader.az):
                    self._new_standby(cluster, reader)
                else:
                    reader.status = RECOVERING
            self._configure_volume(cluster)
        cluster.writer = target.id
        cluster.status = AVAILABLE
        self._cluster_event(cluster, "RDS-EVENT-0071",
                            f"Completed failover to DB instance: {target.id}.", "failover")
        with contextlib.suppress(Exception):  # keep moto's writer flag in step (it answers other tools)
            self.backdoor(cluster.region).failover_db_cluster(
                DBClusterIdentifier=cluster.id, TargetDBInstanceIdentifier=target.id)
        self._route(cluster)

    @staticmethod
    def _serving_node(instance: AuroraInstance) -> bool:
        return instance.server is not None and instance.server.running

    def _rebuild_in_place(self, cluster: AuroraCluster, writer: AuroraInstance) -> None:
        """No replica: the writer comes back on the same volume in an AZ that is up
        ([AUR-UG:Concepts.AuroraHighAvailability])."""
        cluster.status = FAILING_OVER
        writer.status = RECOVERING
        self._route(cluster)
        delay = self._sample("rds_create_time", f"rebuild:{cluster.region}:{cluster.id}")

        def rebuilt() -> None:
            cluster.failover_handle = None
            if cluster.deleted or writer.deleted:
                return
            usable = [az for az in cluster.azs if self.world.az_up(az)]
            if not usable:
                cluster.failover_handle = self._later(delay, rebuilt, f"rebuild:{cluster.id}")
                return
            writer.az = usable[0]
            if cluster.head is not None and not cluster.head.running:
                cluster.head.start()
            writer.server = cluster.head
            writer.status = AVAILABLE
            cluster.status = AVAILABLE
            self._configure_volume(cluster)
            self._cluster_event(cluster, "RDS-EVENT-0071",
                                f"Completed failover to DB instance: {writer.id}.", "failover")
            self._route(cluster)

        cluster.failover_handle = self._later(delay, rebuilt, f"rebuild:{cluster.id}")

    # == global databases (§7.3) =================================================================
    def _primary_of(self, cluster: AuroraCluster) -> AuroraCluster | None:
        gdb = self.globals.get(cluster.global_id or "")
        return gdb.primary if gdb is not None else None

    def _global(self, identifier: str) -> GlobalDatabase:
        gdb = self.globals.get((identifier or "").lower())
        if gdb is None:
            raise AwsError("GlobalClusterNotFoundFault", f"Global cluster {identifier} not found", 404)
        return gdb

    def _member(self, gdb: GlobalDatabase, identifier: str, region: str) -> AuroraCluster:
        arn_region, name = parse_rds_arn(identifier or "")
        for cluster in gdb.members:
            if cluster.id == name.lower() and (arn_region is None or arn_region == cluster.region):
                return cluster
        raise AwsError("DBClusterNotFoundFault",
                       f"DB cluster {identifier} is not a member of global cluster {gdb.id}", 404)

    def before_CreateGlobalCluster(self, call: Call) -> dict[str, Any] | None:
        params = call.params
        source_id = params.get("SourceDBClusterIdentifier")
        source: AuroraCluster | None = None
        if source_id:
            arn_region, name = parse_rds_arn(source_id)
            source = self.clusters.get(_cluster_key(arn_region or call.region, name))
            if source is None or source.deleted:
                return None  # not ours: moto answers (or fails)
            if params.get("Engine"):
                raise AwsError("InvalidParameterCombination",
                               "When creating global cluster from existing db cluster, value for engineName should "
                               "not be specified since it will be inherited from source cluster", 400)
            if source.global_id is not None:
                raise self._not_available(source, "is already in a global cluster")
        elif params.get("Engine") != ENGINE:
            return None
        identifier = params["GlobalClusterIdentifier"].lower()
        if identifier in self.globals:
            raise AwsError("GlobalClusterAlreadyExistsFault", f"Global cluster {identifier} already exists", 400)
        token = secrets.token_hex(4)
        version = params.get("EngineVersion")
        if version is None and source is not None:
            with contextlib.suppress(Exception):
                version = self._cluster_view(source).get("EngineVersion")
        gdb = GlobalDatabase(
            id=identifier, resource_id=f"cluster-{token}", engine=ENGINE, engine_version=version or "12.7",
            database_name=params.get("DatabaseName") or (source.database_name if source else None),
            storage_encrypted=bool(params.get("StorageEncrypted", False)),
            deletion_protection=bool(params.get("DeletionProtection", False)),
            endpoint=f"{identifier}.global-{token}.global.rds.amazonaws.com", tags=list(params.get("Tags") or []),
        )
        self.globals[identifier] = gdb
        if source is not None:  # the source becomes the primary (moto would report IsWriter: false)
            gdb.primary = source
            gdb.members.append(source)
            source.global_id = gdb.id
        return {"GlobalCluster": self._global_view(gdb)}

    def before_DescribeGlobalClusters(self, call: Call) -> dict[str, Any] | None:
        wanted = (call.params.get("GlobalClusterIdentifier") or "").lower()
        if not wanted:
            return None  # moto lists its own; after_ adds ours
        if wanted in self.globals:
            return {"GlobalClusters": [self._global_view(self.globals[wanted])]}
        theirs = self.backdoor("us-east-1").describe_global_clusters().get("GlobalClusters", [])
        found = [g for g in theirs if g.get("GlobalClusterIdentifier") == wanted]
        if not found:
            raise AwsError("GlobalClusterNotFoundFault", f"Global cluster {wanted} not found", 404)
        return {"GlobalClusters": found}  # moto ignores the filter

    def after_DescribeGlobalClusters(self, call: Call) -> None:
        if call.parsed is None:
            return
        theirs = [g for g in call.parsed.get("GlobalClusters", [])
                  if g.get("GlobalClusterIdentifier") not in self.globals]
        call.parsed["GlobalClusters"] = theirs + [self._global_view(g) for g in self.globals.values()]

    def before_DeleteGlobalCluster(self, call: Call) -> dict[str, Any] | None:
        gdb = self.globals.get((call.params.get("GlobalClusterIdentifier") or "").lower())
        if gdb is None:
            return None
        if gdb.members:
            raise AwsError("InvalidGlobalClusterStateFault", f"Global cluster {gdb.arn} is not empty", 400)
        if gdb.deletion_protection:
            raise AwsError("InvalidParameterCombination", "Cannot delete protected global cluster", 400)
        view = self._global_view(gdb)
        view["Status"] = "deleting"
        del self.globals[gdb.id]
        return {"GlobalCluster": view}

    def before_ModifyGlobalCluster(self, call: Call) -> dict[str, Any] | None:
        gdb = self.globals.get((call.params.get("GlobalClusterIdentifier") or "").lower())
        if gdb is None:
            return None
        if "DeletionProtection" in call.params:
            gdb.deletion_protection = bool(call.params["DeletionProtection"])
        return {"GlobalCluster": self._global_view(gdb)}

    def _attach_secondary(self, gdb: GlobalDatabase, cluster: AuroraCluster) -> None:
        """A secondary's volume: an async replica of the primary's, lag ``aurora_global_lag``."""
        gdb.members.append(cluster)
        cluster.global_id = gdb.id
        self._resync(gdb, cluster)

    def _resync(self, gdb: GlobalDatabase, cluster: AuroraCluster) -> None:
        """(Re)build a secondary's volume from the primary's, when both regions are up."""
        primary = gdb.primary
        plane = self._plane()
        if primary is None or plane is None or primary.head is None:
            return
        both_up = self.world.region_up(primary.region) and self.world.region_up(cluster.region)
        if not both_up or not primary.head.running:
            cluster.sync_status = "pending-resync"
            return
        if cluster.replica is not None:
            with contextlib.suppress(Exception):
                cluster.replica.close()
        old = cluster.head
        lag = self._sample("aurora_global_lag", f"aurora_global_lag:{gdb.id}:{cluster.region}:{cluster.id}")
        cluster.replica = plane.add_replica(primary.head, self._server_name(cluster, "replica"), lag=lag)
        cluster.replica.paused = self._paused(gdb, cluster)
        cluster.head = cluster.replica.server
        cluster.writer = None
        for instance in cluster.members():
            if instance.server is not None and instance.server is not old:
                self._retire(cluster, instance.server)
            instance.server = cluster.head
        self._retire(cluster, old)
        cluster.sync_status = "connected"
        cluster.fenced = False
        self._route(cluster)

    def _paused(self, gdb: GlobalDatabase, cluster: AuroraCluster) -> bool:
        return self.world.is_paused("rds", gdb.id) or self.world.is_paused("rds", cluster.id)

    def _promote_volume(self, cluster: AuroraCluster) -> None:
        """Make a secondary's replica a standalone primary with a writer and synchronous readers."""
        replica = cluster.replica
        cluster.replica = None
        if replica is not None and cluster.head is not None:
            if not replica.promoted:
                replica.promote()
            plane = self._plane()
            if plane is not None:
                with contextlib.suppress(Exception):
                    plane.snapshot(cluster.head)  # a PITR base for the new lineage
        cluster.restorable_from = self.clock.now()
        cluster.sync_status = "connected"
        members = cluster.members()
        candidates = [i for i in members if i.status == AVAILABLE and self.world.az_up(i.az)] or members
        if candidates:
            writer = self._best(candidates)
            cluster.writer = writer.id
            writer.server = cluster.head
            for reader in cluster.members():
                if reader is not writer:
                    reader.server = None
                    if self.world.az_up(reader.az):
                        self._new_standby(cluster, reader)
        self._configure_volume(cluster)

    def _demote(self, gdb: GlobalDatabase, cluster: AuroraCluster) -> None:
        """The old primary becomes a secondary: fenced (no writes, its volume kept) until it is rebuilt
        from the new primary, at once or when its region comes back."""
        if cluster.failover_handle is not None:
            cluster.failover_handle.cancel()
            cluster.failover_handle = None
            cluster.status = AVAILABLE
        cluster.fenced = True
        cluster.sync_status = "pending-resync"
        self._route(cluster)
        self._resync(gdb, cluster)

    def _detach(self, gdb: GlobalDatabase, cluster: AuroraCluster, *, promote: bool) -> None:
        if cluster in gdb.members:
            gdb.members.remove(cluster)
        cluster.global_id = None
        cluster.fenced = False  # a demoted primary not yet rebuilt keeps its own data, standalone
        if gdb.primary is cluster:
            gdb.primary = None
        if promote and cluster.replica is not None:
            self._promote_volume(cluster)
        elif cluster.replica is not None:
            with contextlib.suppress(Exception):
                cluster.replica.close()
            cluster.replica = None
        self._route(cluster)

    def before_RemoveFromGlobalCluster(self, call: Call) -> dict[str, Any] | None:
        gdb = self.globals.get((call.params.get("GlobalClusterIdentifier") or "").lower())
        if gdb is None:
            return None
        cluster = self._member(gdb, call.params.get("DbClusterIdentifier", ""), call.region)
        if gdb.status != AVAILABLE:
            raise AwsError("InvalidGlobalClusterStateFault", f"Global cluster {gdb.id} is {gdb.status}", 400)
        if cluster is gdb.primary and len(gdb.members) > 1:
            raise AwsError("InvalidGlobalClusterStateFault",
                           "The primary cluster can be removed only after every secondary cluster", 400)
        # "Replication stops at once and the cluster becomes standalone read/write"
        # [AUR-UG:aurora-global-database-disaster-recovery]: what the lag still held is lost.
        self._detach(gdb, cluster, promote=True)
        return {"GlobalCluster": self._global_view(gdb)}

    def before_SwitchoverGlobalCluster(self, call: Call) -> dict[str, Any] | None:
        return self._global_failover(call, allow_data_loss=False)

    def before_FailoverGlobalCluster(self, call: Call) -> dict[str, Any] | None:
        allow = bool(call.params.get("AllowDataLoss"))
        if allow and call.params.get("Switchover"):
            raise AwsError("InvalidParameterCombination", "AllowDataLoss and Switchover can't be combined", 400)
        # Without AllowDataLoss the call is a switchover [BC:rds] FailoverGlobalCluster.
        return self._global_failover(call, allow_data_loss=allow)

    def _global_failover(self, call: Call, *, allow_data_loss: bool) -> dict[str, Any] | None:
        gdb = self._global(call.params.get("GlobalClusterIdentifier", ""))
        target = self._member(gdb, call.params.get("TargetDbClusterIdentifier", ""), call.region)
        source = gdb.primary
        if gdb.status != AVAILABLE or source is None:
            raise AwsError("InvalidGlobalClusterStateFault", f"Global cluster {gdb.id} is {gdb.status}", 400)
        if target is source:
            raise AwsError("InvalidGlobalClusterStateFault", f"DB cluster {target.id} is already the primary", 400)
        if target.status != AVAILABLE:
            raise AwsError("InvalidDBClusterStateFault", f"DB cluster {target.id} is {target.status}", 400)
        if not allow_data_loss and not (self.world.region_up(source.region) and source.status == AVAILABLE):
            # A switchover needs healthy clusters; an outage calls for AllowDataLoss [BC:rds].
            raise AwsError("InvalidGlobalClusterStateFault",
                           f"The primary DB cluster {source.id} is not available: use AllowDataLoss to fail over", 400)
        gdb.status = FAILING_OVER if allow_data_loss else SWITCHING_OVER
        gdb.failover_state = {"Status": "pending", "FromDbClusterArn": source.arn, "ToDbClusterArn": target.arn,
                              "IsDataLossAllowed": allow_data_loss}
        if not allow_data_loss:
            self._cluster_event(target, "RDS-EVENT-0181",
                                f"Global switchover to DB cluster {target.id} in Region {target.region} started.",
                                "global failover")
        duration = self._sample("aurora_global_failover", f"aurora_global_failover:{gdb.id}")
        verify = duration * GLOBAL_VERIFY_SHARE
        gdb.handles = [
            self._later(verify, lambda: self._global_fence(gdb, source, target, allow_data_loss),
                        f"global-fence:{gdb.id}"),
            self._later(duration, lambda: self._global_promote(gdb, source, target, allow_data_loss),
                        f"global-promote:{gdb.id}"),
        ]
        return {"GlobalCluster": self._global_view(gdb)}

    def _global_fence(self, gdb: GlobalDatabase, source: AuroraCluster, target: AuroraCluster,
                      allow_data_loss: bool) -> None:
        """Stop writes on the old primary; a switchover then drains the lag, a failover cuts it."""
        if gdb.failover_state is not None:
            gdb.failover_state["Status"] = FAILING_OVER if allow_data_loss else SWITCHING_OVER
        reachable = self.world.region_up(source.region)
        source.fenced = True
        self._route(source)
        if reachable:
            self._cluster_event(source, "RDS-EVENT-0182",
                                f"Old primary DB cluster {source.id} in Region {source.region} successfully shut down.",
                                "global failover")
        replica = target.replica
        if replica is None:
            return
        if allow_data_loss:
            if replica.proxy.cut_report is None:
                replica.cut()  # what the lag still holds is lost [BC:rds] FailoverGlobalCluster
            return
        held = replica.proxy.held()[0]
        self._cluster_event(target, "RDS-EVENT-0183",
                            "Waiting for data synchronization across global cluster members. Current lags "
                            f"behind primary DB cluster: {replica.lag if held else 0:g} s.", "global failover")
        replica.capture()
        replica.paused = False
        replica.lag = 0.0
        replica.wait_applied()  # every acknowledged write reaches the secondary: no loss

    def _global_promote(self, gdb: GlobalDatabase, source: AuroraCluster, target: AuroraCluster,
                        allow_data_loss: bool) -> None:
        gdb.handles = []
        self._promote_volume(target)
        gdb.primary = target
        gdb.members.remove(target)
        gdb.members.insert(0, target)
        self._cluster_event(target, "RDS-EVENT-0184",
                            f"New primary DB cluster {target.id} in Region {target.region} was successfully promoted.",
                            "global failover")
        for other in gdb.members:
            if other is not target and other is not source:
                self._resync(gdb, other)  # other secondaries follow the new primary
        self._demote(gdb, source)
        gdb.status = AVAILABLE
        gdb.failover_state = None
        if allow_data_loss:
            self._cluster_event(target, "RDS-EVENT-0238",
                                f"Global failover to DB cluster {target.id} in Region {target.region} completed.",
                                "global failover")
        else:
            self._cluster_event(target, "RDS-EVENT-0185",
                                f"Global switchover to DB cluster {target.id} in Region {target.region} finished.",
                                "global failover")
        self._route(target)

    # == PITR and snapshots (§7.4) ===============================================================
    def before_RestoreDBClusterToPointInTime(self, call: Call) -> dict[str, Any] | None:
        params = call.params
        arn_region, name = parse_rds_arn(params.get("SourceDBClusterIdentifier") or "")
        source = self.clusters.get(_cluster_key(arn_region or call.region, name))
        if source is None or source.deleted:
            raise AwsError("DBClusterNotFoundFault", f"DBCluster {name} not found.", 404)
        target_key = _cluster_key(call.region, params["DBClusterIdentifier"])
        if target_key in self.clusters and not self.clusters[target_key].deleted:
            raise AwsError("DBClusterAlreadyExistsFault", f"DB cluster {target_key[1]} already exists", 400)
        restore_time = params.get("RestoreToTime")
        latest = bool(params.get("UseLatestRestorableTime"))
        copy_on_write = params.get("RestoreType") == "copy-on-write"
        if restore_time is not None and latest:
            raise AwsError("InvalidParameterCombination",
                           "Cannot specify both RestoreToTime and UseLatestRestorableTime", 400)
        if restore_time is not None and copy_on_write:
            raise AwsError("InvalidParameterCombination",
                           "RestoreToTime cannot be specified when RestoreType is copy-on-write", 400)
        window = self._restore_window(source)
        if window is None:
            raise AwsError("InvalidDBClusterStateFault", f"DB cluster {source.id} is still being restored", 400)
        if restore_time is not None:
            t = self.clock.seconds_at(restore_time)
            if not window[0] <= t <= window[1]:
                raise AwsError(
                    "InvalidRestoreFault",
                    f"Restore time {restore_time.isoformat()} is outside the restorable window "
                    f"{self.clock.datetime(window[0]).isoformat()} - {self.clock.datetime(window[1]).isoformat()}", 400)
        elif latest:
            t = window[1]
        elif copy_on_write:
            t = self.clock.now()  # a clone shares the current pages
        else:
            raise AwsError("InvalidParameterCombination", "Specify RestoreToTime or UseLatestRestorableTime", 400)
        if source.replica is not None:
            raise AwsError("InvalidDBClusterStateFault",
                           f"DB cluster {source.id} is a global secondary: restore from the primary cluster", 400)
        call.context["dr_aurora_restore"] = (source, t)
        return None

    def after_RestoreDBClusterToPointInTime(self, call: Call) -> None:
        source, t = call.context.get("dr_aurora_restore", (None, None))
        if source is None or call.parsed is None:
            return
        item = call.parsed["DBCluster"]
        cluster = self._new_cluster(call.region, item, call.params, like=source)
        cluster.port = int(call.params.get("Port") or source.port)
        plane = self._plane()
        if plane is not None and source.head is not None:
            cluster.head = plane.restore_to_time(source.head, t, self._server_name(cluster, "pitr"))
            plane.snapshot(cluster.head)  # the restored cluster's own PITR base
        self._configure_volume(cluster)
        self._restored(cluster, f"Restored from DB cluster {source.id} to {cluster.id}.", item)

    def _restored(self, cluster: AuroraCluster, message: str, item: dict[str, Any]) -> None:
        """A restored cluster: ``creating`` for ``rds_restore_time``, no instances, no restore window yet."""
        cluster.restorable_from = None

        def done() -> None:
            cluster.restorable_from = self.clock.now()
            self._cluster_event(cluster, "RDS-EVENT-0170", "DB cluster created.", "creation")
            log.debug(message)

        self._schedule_available(cluster, "rds_restore_time", created_event=False, then=done)
        self._proxies(cluster)
        self._route(cluster)
        self._cluster_fields(cluster, item)

    def before_CreateDBClusterSnapshot(self, call: Call) -> dict[str, Any] | None:
        cluster = self.clusters.get(_cluster_key(call.region, call.params.get("DBClusterIdentifier", "")))
        if cluster is None or cluster.deleted:
            return None
        if cluster.status != AVAILABLE:
            raise self._not_available(cluster)
        key = _cluster_key(call.region, call.params["DBClusterSnapshotIdentifier"])
        if key in self.snapshots:
            raise AwsError("DBClusterSnapshotAlreadyExistsFault", f"Cannot create the snapshot because a snapshot with "
                           f"the identifier {key[1]} already exists.", 400)
        return None

    def after_CreateDBClusterSnapshot(self, call: Call) -> None:
        cluster = self.clusters.get(_cluster_key(call.region, call.params.get("DBClusterIdentifier", "")))
        if cluster is None or cluster.deleted or call.parsed is None:
            return
        snap = self._take_snapshot(cluster, call.parsed["DBClusterSnapshot"]["DBClusterSnapshotIdentifier"])
        self._snapshot_fields(snap, call.parsed["DBClusterSnapshot"])

    def _take_snapshot(self, cluster: AuroraCluster, identifier: str) -> ClusterSnapshot:
        """A base backup of the volume now; ``creating`` -> ``available`` after ``rds_snapshot_time``."""
        snap = ClusterSnapshot(
            id=identifier.lower(), region=cluster.region, cluster_id=cluster.id,
            created=self.clock.now(), master_user=cluster.master_user, master_password=cluster.master_password,
            database_name=cluster.database_name, port=cluster.port,
        )
        plane = self._plane()
        if plane is not None and cluster.head is not None and cluster.head.running:
            snap.data = plane.snapshot(cluster.head, f"csnap{next(self._names)}")
        self.snapshots[_cluster_key(cluster.region, snap.id)] = snap
        self._event(cluster.region, snap.id, "db-cluster-snapshot", "RDS-EVENT-0074",
                    "Creating manual cluster snapshot.", "backup")

        def available() -> None:
            snap.status = AVAILABLE
            self._event(cluster.region, snap.id, "db-cluster-snapshot", "RDS-EVENT-0075",
                        "Manual cluster snapshot created.", "backup")

        self._later(self._sample("rds_snapshot_time", f"rds_snapshot_time:{cluster.region}:{snap.id}"), available,
                    f"snapshot:{snap.id}")
        return snap

    def _snapshot_fields(self, snap: ClusterSnapshot, item: dict[str, Any]) -> None:
        item["Status"] = snap.status
        item["PercentProgress"] = 100 if snap.status == AVAILABLE else 0
        item["SnapshotCreateTime"] = self.clock.datetime(snap.created)
        cluster = self.clusters.get(_cluster_key(snap.region, snap.cluster_id))
        if cluster is not None:
            item["ClusterCreateTime"] = self.clock.datetime(cluster.created)

    def after_DescribeDBClusterSnapshots(self, call: Call) -> None:
        if call.parsed is None:
            return
        for item in call.parsed.get("DBClusterSnapshots", []):
            snap = self.snapshots.get(_cluster_key(call.region, item.get("DBClusterSnapshotIdentifier", "")))
            if snap is not None:
                self._snapshot_fields(snap, item)

    def after_DeleteDBClusterSnapshot(self, call: Call) -> None:
        snap = self.snapshots.pop(_cluster_key(call.region, call.params.get("DBClusterSnapshotIdentifier", "")), None)
        if snap is None:
            return
        if call.parsed is not None:
            self._snapshot_fields(snap, call.parsed["DBClusterSnapshot"])
            call.parsed["DBClusterSnapshot"]["Status"] = "deleted"
        plane = self._plane()
        if plane is not None and snap.data is not None:
            plane.delete_snapshot(snap.data)

    def before_RestoreDBClusterFromSnapshot(self, call: Call) -> dict[str, Any] | None:
        arn_region, name = parse_rds_arn(call.params.get("SnapshotIdentifier", ""))
        snap = self.snapshots.get(_cluster_key(arn_region or call.region, name))
        if snap is None:
            return None
        if snap.status != AVAILABLE:
            raise AwsError("InvalidDBClusterSnapshotStateFault", f"DB cluster snapshot {snap.id} is {snap.status}", 400)
        target_key = _cluster_key(call.region, call.params["DBClusterIdentifier"])
        if target_key in self.clusters and not self.clusters[target_key].deleted:
            raise AwsError("DBClusterAlreadyExistsFault", f"DB cluster {target_key[1]} already exists", 400)
        call.context["dr_aurora_snapshot"] = snap
        return None

    def after_RestoreDBClusterFromSnapshot(self, call: Call) -> None:
        snap: ClusterSnapshot | None = call.context.get("dr_aurora_snapshot")
        if snap is None or call.parsed is None:
            return
        item = call.parsed["DBCluster"]
        cluster = self._new_cluster(call.region, item, call.params)
        cluster.master_user, cluster.master_password = snap.master_user, snap.master_password
        cluster.database_name = snap.database_name
        cluster.port = int(call.params.get("Port") or snap.port)
        plane = self._plane()
        if plane is not None and snap.data is not None:
            cluster.head = plane.restore_snapshot(snap.data, self._server_name(cluster, "snap"))
        self._configure_volume(cluster)
        self._restored(cluster, f"Restored from snapshot {snap.id}.", item)

    # == events ==================================================================================
    def before_DescribeEvents(self, call: Call) -> dict[str, Any]:
        """Answered from the shared RDS event log (rds_common), with clock times."""
        return {"Events": self.events.describe(call.region, call.params)}

    # == world changes ===========================================================================
    def on_world_change(self, what: str, name: str) -> None:
        if what == "az-lost":
            for cluster in self._live_clusters(region=az_region(name)):
                self._lose_az(cluster, name)
        elif what == "az-restored":
            for cluster in self._live_clusters(region=az_region(name)):
                self._restore_az(cluster, name)
        elif what == "region-lost":
            self._lose_region(name)
        elif what == "region-restored":
            self._restore_region(name)
        elif what in ("replication-paused", "replication-resumed"):
            service, _, resource = name.partition(":")
            if service == "rds":
                self._pause_replication(resource, what == "replication-paused")

    def _live_clusters(self, region: str | None = None) -> list[AuroraCluster]:
        return [c for c in self.clusters.values() if not c.deleted and (region is None or c.region == region)]

    def _lose_az(self, cluster: AuroraCluster, az: str) -> None:
        writer = cluster.writer_instance()
        for instance in cluster.members():
            if instance.az != az:
                continue
            if instance.reboot is not None:  # the AZ's recovery decides when it is back
                instance.reboot.cancel()
                instance.reboot = None
            instance.status = RECOVERING
            if instance is not writer and instance.server is not None and instance.server is not cluster.head:
                self._retire(cluster, instance.server)  # the host is gone
                instance.server = None
        self._configure_volume(cluster)  # commits never wait for a standby that is gone
        if writer is not None and writer.az == az and cluster.replica is None:
            if cluster.failover_handle is not None:  # already failing over: that one goes on
                self._route(cluster)
                return
            candidates = [i for i in cluster.readers() if self._serving(i)]
            if candidates:
                self._start_failover(cluster, self._best(candidates), old_writer=writer, lost=True)
            else:
                if cluster.head is not None:
                    with contextlib.suppress(Exception):
                        cluster.head.kill()
                self._rebuild_in_place(cluster, writer)
        self._route(cluster)

    def _restore_az(self, cluster: AuroraCluster, az: str) -> None:
        for instance in cluster.members():
            if instance.az != az or instance.status != RECOVERING:
                continue
            if cluster.failover_handle is not None and instance.id == cluster.writer:
                continue  # being rebuilt in place
            if cluster.replica is not None:
                instance.server = cluster.head
            elif instance.id != cluster.writer:
                self._retire(cluster, instance.server)
                self._new_standby(cluster, instance)
            instance.status = AVAILABLE
        self._route(cluster)

    def _lose_region(self, region: str) -> None:
        for gdb in self.globals.values():
            primary = gdb.primary
            for cluster in gdb.members:
                if cluster is primary or cluster.replica is None:
                    continue
                if region in (cluster.region, primary.region if primary else None):
                    if cluster.replica.proxy.cut_report is None and not cluster.replica.promoted:
                        cluster.replica.cut()  # what the link still held is lost with the region
                    cluster.sync_status = "pending-resync"
        for cluster in self._live_clusters(region=region):
            self._route(cluster)

    def _restore_region(self, region: str) -> None:
        for cluster in self._live_clusters(region=region):
            self._route(cluster)
        for gdb in self.globals.values():
            for cluster in list(gdb.members):
                if cluster is gdb.primary or cluster.sync_status != "pending-resync":
                    continue
                self._resync(gdb, cluster)

    def _pause_replication(self, resource: str, paused: bool) -> None:
        for gdb in self.globals.values():
            for cluster in gdb.members:
                if cluster.replica is None or resource not in ("*", gdb.id, cluster.id):
                    continue
                cluster.replica.paused = paused
                if not paused:
                    cluster.replica.proxy.release_due()

    def close(self) -> None:
        for handle in self._handles:
            handle.cancel()
        self._handles.clear()
        for gdb in self.globals.values():
            for handle in gdb.handles:
                handle.cancel()
        for cluster in self.clusters.values():
            if cluster.failover_handle is not None:
                cluster.failover_handle.cancel()


def _switch(proxy: EndpointProxy, port: int | None) -> None:
    """Retarget an endpoint only when its target changes (a switch drops open connections)."""
    if proxy.target_port != port:
        proxy.switch(port)
