"""The DocumentDB emulator's state and the helpers every part of it uses: its clusters,
instances and global clusters, the event log it shares with RDS, and the views Describe calls answer."""
from __future__ import annotations

import datetime as _dt
from typing import Any

from pytest_drtest.emulation.core import (
    AwsError,
    Call,
    Emulation,
    ServiceEmulator,
)
from pytest_drtest.emulation.docdb.models import (
    AVAILABLE,
    ENGINE,
    DocDbCluster,
    DocDbGlobal,
    DocDbInstance,
    key,
)
from pytest_drtest.emulation.rds_common import RdsEventLog, event_log, parse_rds_arn


class DocDbBase(ServiceEmulator):
    """The DocumentDB emulator's state, events and views (:class:`DocDbEmulator` is the whole)."""

    service = "docdb"

    # -- state --------------------------------------------------------------------------------
    def __init__(self, emulation: Emulation) -> None:
        super().__init__(emulation)
        self.clusters: dict[tuple[str, str], DocDbCluster] = {}
        self.instances: dict[tuple[str, str], DocDbInstance] = {}
        self.globals: dict[str, DocDbGlobal] = {}
        self.events: RdsEventLog = event_log(emulation)  # DocumentDB shares RDS's event API

    def cluster(self, region: str, identifier: str) -> DocDbCluster:
        """The cluster ``identifier`` (or ARN) in ``region``; KeyError if there is none."""
        arn_region, name = parse_rds_arn(identifier)
        found = self.clusters.get(key(arn_region or region, name))
        if found is None:
            raise KeyError(f"no DocumentDB cluster {identifier!r} in {region}")
        return found

    # -- events -------------------------------------------------------------------------------
    def before_DescribeEvents(self, call: Call) -> dict[str, Any]:
        return {"Events": self.events.describe(call.region, call.params)}

    def _event(self, region: str, source_id: str, source_type: str, event_id: str, message: str,
               *categories: str) -> None:
        self.events.record(region, source_id, source_type, event_id, message, categories)

    def _cluster_event(self, cluster: DocDbCluster, event_id: str, message: str, category: str) -> None:
        self._event(cluster.region, cluster.id, "db-cluster", event_id, message, category)

    # -- helpers ------------------------------------------------------------------------------
    def _called_cluster(self, call: Call, param: str) -> DocDbCluster:
        ident = call.params.get(param) or ""
        try:
            return self.cluster(call.region, ident)
        except KeyError:
            raise AwsError("DBClusterNotFoundFault", f"DBCluster {ident} not found.", 404) from None

    @staticmethod
    def _not_available(cluster: DocDbCluster, why: str | None = None) -> AwsError:
        return AwsError("InvalidDBClusterStateFault",
                        f"Cluster {cluster.id} {why or f'is {cluster.status}, not available'}", 400)

    def _serving(self, instance: DocDbInstance) -> bool:
        return instance.status == AVAILABLE and self.world.az_up(instance.az)

    @staticmethod
    def _best(candidates: list[DocDbInstance]) -> DocDbInstance:
        """[DOCDB-DG:failover] failover tiers: the lowest tier first; a tie (sizes are not compared
        here) goes to the identifier."""
        return min(candidates, key=lambda i: (i.promotion_tier, i.id))

    def _place(self, cluster: DocDbCluster) -> str:
        counts = {az: 0 for az in cluster.azs}
        for instance in cluster.members():
            counts[instance.az] = counts.get(instance.az, 0) + 1
        usable = [az for az in cluster.azs if self.world.az_up(az)] or list(cluster.azs)
        return min(usable, key=lambda az: (counts[az], cluster.azs.index(az)))

    @staticmethod
    def _filter_values(filters: Any, name: str) -> set[str] | None:
        for f in filters or []:
            if f.get("Name") == name:
                return {str(v).lower() for v in f.get("Values", [])} | {str(v) for v in f.get("Values", [])}
        return None

    def _matches(self, cluster: DocDbCluster, filters: Any) -> bool:
        engines = self._filter_values(filters, "engine")
        ids = self._filter_values(filters, "db-cluster-id")
        return (engines is None or ENGINE in engines) and (ids is None or cluster.id in ids or cluster.arn in ids)

    def _dt(self, t: float) -> _dt.datetime:
        return self.clock.datetime(t)

    def _cluster_view(self, cluster: DocDbCluster) -> dict[str, Any]:
        """A [BC:docdb] ``DBCluster``."""
        host = f"{cluster.id}.cluster-{cluster.resource_id[8:20].lower()}.{cluster.region}.docdb.amazonaws.com"
        view: dict[str, Any] = {
            "AvailabilityZones": list(cluster.azs), "BackupRetentionPeriod": cluster.backup_retention,
            "DBClusterIdentifier": cluster.id, "DBClusterParameterGroup": f"default.docdb{cluster.engine_version[:3]}",
            "DBSubnetGroup": "default", "Status": cluster.status, "Endpoint": host,
            "ReaderEndpoint": host.replace(".cluster-", ".cluster-ro-", 1),
            "MultiAZ": len({i.az for i in cluster.members()}) > 1, "Engine": ENGINE,
            "EngineVersion": cluster.engine_version, "Port": cluster.port,
            "DBClusterMembers": [
                {"DBInstanceIdentifier": i.id, "IsClusterWriter": i.id == cluster.writer,
                 "DBClusterParameterGroupStatus": "in-sync", "PromotionTier": i.promotion_tier}
                for i in cluster.members()],
            "StorageEncrypted": cluster.storage_encrypted, "DbClusterResourceId": cluster.resource_id,
            "DBClusterArn": cluster.arn, "ClusterCreateTime": self._dt(cluster.created),
            "DeletionProtection": cluster.deletion_protection,
        }
        if cluster.master_user:
            view["MasterUsername"] = cluster.master_user
        gdb = self.globals.get(cluster.global_id or "")
        if gdb is not None and gdb.primary is not None and gdb.primary is not cluster:
            view["ReplicationSourceIdentifier"] = gdb.primary.arn
        return view

    def _instance_view(self, instance: DocDbInstance) -> dict[str, Any]:
        """A [BC:docdb] ``DBInstance``."""
        cluster = instance.cluster
        return {
            "DBInstanceIdentifier": instance.id, "DBInstanceClass": instance.instance_class, "Engine": ENGINE,
            "DBInstanceStatus": instance.status,
            "Endpoint": {"Address": f"{instance.id}.{cluster.resource_id[8:20].lower()}.{instance.region}"
                                    ".docdb.amazonaws.com", "Port": cluster.port},
            "InstanceCreateTime": self._dt(instance.created), "AvailabilityZone": instance.az,
            "EngineVersion": cluster.engine_version, "DBClusterIdentifier": cluster.id,
            "StorageEncrypted": cluster.storage_encrypted, "PromotionTier": instance.promotion_tier,
            "DBInstanceArn": instance.arn, "BackupRetentionPeriod": cluster.backup_retention,
        }
