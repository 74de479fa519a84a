"""The clusters the Aurora emulation owns: lookups, the public API, responses from the model."""
from __future__ import annotations

import itertools
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from pytest_drtest.emulation.aurora.models import (
    AVAILABLE,
    CREATING,
    ENGINE,
    AuroraCluster,
    AuroraInstance,
    ClusterSnapshot,
    GlobalDatabase,
    cluster_key,
)
from pytest_drtest.emulation.core import AwsError, Emulation
from pytest_drtest.emulation.rds_common import (
    RdsFamilyEmulator,
    parse_rds_arn,
    restore_window,
)

if TYPE_CHECKING:
    from pytest_drtest.dataplane import DataPlane, EndpointProxy, PostgresServer

log = logging.getLogger("pytest_drtest.emulation.aurora")


class AuroraBase(RdsFamilyEmulator):
    """State of every Aurora cluster, instance, snapshot and global database; shared plumbing."""

    def __init__(self, emulation: Emulation) -> None:
        super().__init__(emulation)
        self.clusters: dict[tuple[str, str], AuroraCluster] = {}
        self.instances: dict[tuple[str, str], AuroraInstance] = {}
        self.snapshots: dict[tuple[str, str], ClusterSnapshot] = {}
        self.globals: dict[str, GlobalDatabase] = {}
        self._plane_error: Exception | None = None
        self._names = itertools.count(1)

    def cluster(self, region: str, cluster_id: str) -> AuroraCluster:
        """The cluster ``cluster_id`` (an identifier or ARN) in ``region``; KeyError if not Aurora's."""
        arn_region, name = parse_rds_arn(cluster_id)
        cluster = self.clusters.get(cluster_key(arn_region or region, name))
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
        return self._credentials(cluster, proxy)

    def instance_connection_info(self, region: str, instance_id: str) -> dict[str, Any]:
        """Like :meth:`connection_info`, for one member instance's own endpoint."""
        instance = self.instances.get(cluster_key(region, instance_id))
        if instance is None or instance.deleted:
            raise KeyError(f"no Aurora instance {instance_id!r} in {region}")
        if instance.endpoint is None:
            self._require_plane()
            raise KeyError(f"instance {instance.id!r} has no data plane")
        return self._credentials(instance.cluster, instance.endpoint)

    def resolve(self, host: str) -> tuple[str, int] | None:
        """The ``(address, port)`` behind an Aurora endpoint's AWS-shaped host name, or None."""
        wanted = host.lower().rstrip(".")
        for cluster in self.clusters.values():
            if cluster.deleted:
                continue
            for name, proxy in ((cluster.host, cluster.writer_proxy), (cluster.reader_host, cluster.reader_proxy)):
                if name.lower() == wanted and proxy is not None:
                    return proxy.host, proxy.port
            for instance in cluster.members():
                if instance.host.lower() == wanted and instance.endpoint is not None:
                    return instance.endpoint.host, instance.endpoint.port
        return None

    def data_api_target(self, region: str, resource_arn: str) -> AuroraCluster | None:
        """The cluster behind an rds-data ``resourceArn`` (None: not an Aurora cluster of ours)."""
        arn_region, name = parse_rds_arn(resource_arn)
        if arn_region is not None and arn_region != region:
            return None
        cluster = self.clusters.get(cluster_key(region, name))
        return None if cluster is None or cluster.deleted else cluster

    def writer_server(self, cluster: AuroraCluster) -> PostgresServer:
        """The server the Data API runs statements on, or ``AwsError`` as rds-data answers ([BC:rds-data])."""
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

    # -- plumbing ---------------------------------------------------------------------------
    def _plane(self) -> DataPlane | None:
        """The run's data plane, or None (once, with a warning) when PostgreSQL cannot run here."""
        if self._plane_error is not None:
            return None
        from pytest_drtest.dataplane.runtime import DataPlaneUnavailable

        try:
            return self.plane
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

    def _credentials(self, cluster: AuroraCluster, proxy: EndpointProxy) -> dict[str, Any]:
        return {"host": proxy.host, "port": proxy.port, **self.master_credentials(cluster)}

    def _server_name(self, cluster: AuroraCluster, role: str) -> str:
        return f"aur{next(self._names)}-{cluster.id[:40]}-{role}"

    def _cluster_event(self, cluster: AuroraCluster, event_id: str, message: str, category: str) -> None:
        self._event(cluster.region, cluster.id, "db-cluster", event_id, message, category)

    @staticmethod
    def _not_available(cluster: AuroraCluster, why: str | None = None) -> AwsError:
        return AwsError("InvalidDBClusterStateFault",
                        f"DB cluster {cluster.id} {why or f'is {cluster.status}, not available'}", 400)

    def _sample(self, key: str, stream: str) -> float:
        return self.profile.sample(key, stream=stream)

    def _serving(self, instance: AuroraInstance) -> bool:
        cluster = instance.cluster
        return (
            instance.status == AVAILABLE and not instance.deleted and cluster.status != CREATING
            and self.world.az_up(instance.az) and instance.server is not None and instance.server.running
        )

    @staticmethod
    def _best(candidates: list[AuroraInstance]) -> AuroraInstance:
        """Lowest PromotionTier first; a tie (instance sizes are not modeled) goes to the identifier."""
        return min(candidates, key=lambda i: (i.promotion_tier, i.id))

    def _primary_of(self, cluster: AuroraCluster) -> AuroraCluster | None:
        gdb = self.globals.get(cluster.global_id or "")
        return gdb.primary if gdb is not None else None

    def _live_clusters(self, region: str | None = None) -> list[AuroraCluster]:
        return [c for c in self.clusters.values() if not c.deleted and (region is None or c.region == region)]

    def _restore_window(self, cluster: AuroraCluster) -> tuple[float, float] | None:
        """(earliest, latest) restorable clock times, no older than the retention period; latest lags
        ``rds_pitr_latest_lag`` [AUR-UG:Aurora.Managing.Backups]. None while a restore runs."""
        if cluster.restorable_from is None:
            return None
        return restore_window(self.clock.now(), cluster.restorable_from, cluster.pitr_lag, cluster.retention_days)

    # -- new clusters -----------------------------------------------------------------------
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
            pitr_lag=self._sample("rds_pitr_latest_lag", f"pitr:{region}/{identifier.lower()}"),
        )
        self.clusters[cluster_key(region, cluster.id)] = cluster
        return cluster

    # -- responses from the model -----------------------------------------------------------
    def _cluster_fields(self, cluster: AuroraCluster, item: dict[str, Any]) -> None:
        """Rewrite a moto ``DBCluster`` dict in place from the model."""
        clock = self.clock
        item["Status"] = cluster.status
        # Endpoints are reported as their own loopback addresses (port 5432, the cluster's Port), so that
        # every client connects without the world's DNS, which answers the AWS-shaped names.
        if cluster.writer_proxy is not None:
            item["Endpoint"], item["Port"] = cluster.writer_proxy.host, cluster.writer_proxy.port
        else:
            item["Endpoint"], item["Port"] = cluster.host, cluster.port
        reader = cluster.reader_proxy  # an address only where it answers on the cluster's Port (there is no reader port)
        item["ReaderEndpoint"] = reader.host if reader is not None and reader.port == item["Port"] else cluster.reader_host
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
            endpoint.update({"Address": instance.endpoint.host, "Port": instance.endpoint.port})
        else:
            endpoint.update({"Address": instance.host, "Port": instance.cluster.port})
        item["Endpoint"] = endpoint
        item["DbInstancePort"] = endpoint["Port"]

    def _rewrite_clusters(self, region: str, items: Iterable[dict[str, Any]]) -> None:
        for item in items:
            cluster = self.clusters.get(cluster_key(region, item.get("DBClusterIdentifier", "")))
            if cluster is not None and not cluster.deleted:
                self._cluster_fields(cluster, item)

    def _rewrite_instances(self, region: str, items: Iterable[dict[str, Any]]) -> None:
        for item in items:
            if not item.get("DBClusterIdentifier"):
                continue
            instance = self.instances.get(cluster_key(region, item.get("DBInstanceIdentifier", "")))
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
