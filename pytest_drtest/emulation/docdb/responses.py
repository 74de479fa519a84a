"""The DocumentDB emulator: the control plane of instance-based clusters and global clusters.

moto (5.2.5) sends botocore's ``docdb`` calls to its RDS backend, whose cluster engines are
``aurora-mysql``, ``aurora-postgresql``, ``mysql``, ``neptune`` and ``postgres``: ``CreateDBCluster``
with ``Engine=docdb`` fails with ``InvalidParameterValue`` and ``CreateGlobalCluster`` raises a bare
``KeyError('docdb')`` (no default engine version). This emulator therefore answers the DocumentDB
operations below itself, from its own model, and never reaches moto for them.

There is no data plane: no MongoDB-compatible server is installable here (no Debian package, no
PyPI server), so clusters hold no documents. The RTO and RPO model still works: statuses and
failovers take modeled time on the clock, a global secondary's volume trails its primary by
``docdb_global_lag`` (frozen while replication is paused or the primary's region is lost), and every
global switchover or failover is recorded with the window of writes it loses
(:meth:`DocDbEmulator.global_failovers`).
"""
from __future__ import annotations

from typing import Any

from pytest_drtest.emulation.core import (
    AwsError,
    Call,
    az_region,
)
from pytest_drtest.emulation.docdb.global_clusters import GlobalClusters
from pytest_drtest.emulation.docdb.models import (
    AVAILABLE,
    CREATING,
    DELETING,
    ENGINE,
    FAILING_OVER,
    PORT,
    DocDbCluster,
    DocDbInstance,
    key,
    resolve_version,
)
from pytest_drtest.emulation.rds_common import parse_rds_arn


class DocDbEmulator(GlobalClusters):
    """Amazon DocumentDB clusters, instances, failover and global clusters on the clock."""

    # -- clusters and instances ---------------------------------------------------------------
    def before_CreateDBCluster(self, call: Call) -> dict[str, Any]:
        p = call.params
        if p.get("Engine") != ENGINE:
            raise AwsError("InvalidParameterValue", f"Invalid DB engine: {p.get('Engine')!r}; DocumentDB "
                           f"clusters take Engine '{ENGINE}'", 400)
        ident = p["DBClusterIdentifier"]
        if key(call.region, ident) in self.clusters:
            raise AwsError("DBClusterAlreadyExistsFault", f"DB Cluster {ident} already exists", 400)
        gdb = None
        if p.get("GlobalClusterIdentifier"):
            gdb = self._global(p["GlobalClusterIdentifier"])
            if any(m.region == call.region for m in gdb.members):
                raise AwsError("InvalidGlobalClusterStateFault",
                               f"Global cluster {gdb.id} already has a member in {call.region}", 400)
        version = resolve_version(p.get("EngineVersion"))
        if version is None:  # AWS documents no code for this; RDS answers InvalidParameterCombination
            raise AwsError("InvalidParameterCombination", f"Cannot find version {p['EngineVersion']} for {ENGINE}", 400)
        if gdb is not None and version != gdb.engine_version:
            raise AwsError("InvalidParameterCombination", f"The engine version {version} does not match the "
                           f"global cluster's {gdb.engine_version}", 400)
        secondary = gdb is not None and gdb.primary is not None
        if not secondary:  # [BC:docdb] CreateDBCluster MasterUsername / MasterUserPassword
            if not p.get("MasterUsername"):
                raise AwsError("InvalidParameterValue", "The parameter MasterUsername must be provided and must "
                               "not be blank.", 400)
            password = p.get("MasterUserPassword") or ""
            if not p.get("ManageMasterUserPassword") and not 8 <= len(password) <= 100:
                raise AwsError("InvalidParameterValue", "The parameter MasterUserPassword is not a valid password "
                               "because it must contain from 8 to 100 characters.", 400)
        token = f"{self.profile.rng(f'docdb.cluster-ids:{call.region}/{ident.lower()}').getrandbits(64):016X}"
        cluster = DocDbCluster(
            id=ident.lower(), region=call.region, engine_version=version,
            master_user=p.get("MasterUsername") or (gdb.primary.master_user if gdb and gdb.primary else None),
            port=int(p.get("Port") or PORT),
            azs=list(p.get("AvailabilityZones") or [f"{call.region}{z}" for z in "abc"]),
            created=self.clock.now(), resource_id=f"cluster-{token[:26]}",
            storage_encrypted=bool(p.get("StorageEncrypted", False)),
            deletion_protection=bool(p.get("DeletionProtection", False)),
            backup_retention=int(p.get("BackupRetentionPeriod") or 1),
        )
        self.clusters[key(call.region, cluster.id)] = cluster
        if gdb is not None:
            cluster.global_id = gdb.id
            gdb.members.append(cluster)
            if secondary:
                self._attach_secondary(cluster)
            else:
                gdb.primary = cluster
        delay = self.profile.sample("docdb_create_time", f"create:{call.region}/{cluster.id}")

        def available() -> None:
            if cluster.status == CREATING:
                cluster.status = AVAILABLE
                self._cluster_event(cluster, "RDS-EVENT-0170", "DB cluster created", "creation")

        self.later(delay, available, name=f"docdb:cluster-available:{cluster.id}")
        return {"DBCluster": self._cluster_view(cluster)}

    def before_DescribeDBClusters(self, call: Call) -> dict[str, Any]:
        ident = call.params.get("DBClusterIdentifier")
        if ident:
            try:
                return {"DBClusters": [self._cluster_view(self.cluster(call.region, ident))]}
            except KeyError:
                raise AwsError("DBClusterNotFoundFault", f"DBCluster {ident} not found.", 404) from None
        items = [c for c in self.clusters.values() if c.region == call.region]
        return {"DBClusters": [self._cluster_view(c) for c in items if self._matches(c, call.params.get("Filters"))]}

    def before_DeleteDBCluster(self, call: Call) -> dict[str, Any]:
        cluster = self._called_cluster(call, "DBClusterIdentifier")
        if cluster.global_id is not None:
            raise AwsError("InvalidDBClusterStateFault", f"Cluster {cluster.id} is a part of a global cluster, "
                           "please remove it from globalcluster first", 400)
        if cluster.members():
            raise AwsError("InvalidDBClusterStateFault", f"Cluster {cluster.id} cannot be deleted, it still "
                           "contains DB instances in non-deleting state.", 400)
        if cluster.deletion_protection:
            raise AwsError("InvalidParameterCombination", "Cannot delete protected Cluster, please disable "
                           "deletion protection and try again.", 400)
        if cluster.status not in (AVAILABLE, CREATING):
            raise self._not_available(cluster)
        if not call.params.get("SkipFinalSnapshot") and not call.params.get("FinalDBSnapshotIdentifier"):
            raise AwsError("InvalidParameterCombination", "FinalDBSnapshotIdentifier is required unless "
                           "SkipFinalSnapshot is specified.", 400)
        del self.clusters[key(cluster.region, cluster.id)]
        if cluster.failover_handle is not None:
            cluster.failover_handle.cancel()
        view = self._cluster_view(cluster)
        view["Status"] = DELETING
        self._cluster_event(cluster, "RDS-EVENT-0171", "DB cluster deleted", "deletion")
        return {"DBCluster": view}

    def before_CreateDBInstance(self, call: Call) -> dict[str, Any]:
        p = call.params
        if p.get("Engine") != ENGINE:
            raise AwsError("InvalidParameterValue", f"Invalid DB engine: {p.get('Engine')!r}", 400)
        cluster = self._called_cluster(call, "DBClusterIdentifier")
        ident = p["DBInstanceIdentifier"].lower()
        if key(call.region, ident) in self.instances:
            raise AwsError("DBInstanceAlreadyExists", f"DB instance {ident} already exists", 400)
        tier = int(p.get("PromotionTier", 1))
        if not 0 <= tier <= 15:  # [BC:docdb] CreateDBInstance PromotionTier: 0-15
            raise AwsError("InvalidParameterValue", f"PromotionTier {tier} is not in 0-15", 400)
        az = p.get("AvailabilityZone") or self._place(cluster)
        if az not in cluster.azs:
            raise AwsError("InvalidParameterCombination", f"Availability zone {az} is not one of the cluster's", 400)
        instance = DocDbInstance(ident, call.region, cluster, p["DBInstanceClass"], az, tier, self.clock.now())
        cluster.instances[ident] = instance
        self.instances[key(call.region, ident)] = instance
        if cluster.writer is None and cluster.replicated_through is None:
            cluster.writer = ident  # the first instance of a primary (or standalone) cluster is its writer
        delay = self.profile.sample("docdb_create_time", f"create:{call.region}/{ident}")

        def available() -> None:
            if instance.status == CREATING:
                instance.status = AVAILABLE
                self._event(instance.region, instance.id, "db-instance", "RDS-EVENT-0005", "DB instance created",
                            "creation")

        self.later(delay, available, name=f"docdb:instance-available:{ident}")
        return {"DBInstance": self._instance_view(instance)}

    def before_DescribeDBInstances(self, call: Call) -> dict[str, Any]:
        ident = call.params.get("DBInstanceIdentifier")
        if ident:
            found = self.instances.get(key(call.region, parse_rds_arn(ident)[1]))
            if found is None:
                raise AwsError("DBInstanceNotFound", f"DBInstance {ident} not found.", 404)
            return {"DBInstances": [self._instance_view(found)]}
        wanted = self._filter_values(call.params.get("Filters"), "db-cluster-id")
        items = [i for i in self.instances.values() if i.region == call.region
                 and (wanted is None or i.cluster.id in wanted or i.cluster.arn in wanted)]
        return {"DBInstances": [self._instance_view(i) for i in items]}

    def before_DeleteDBInstance(self, call: Call) -> dict[str, Any]:
        ident = call.params.get("DBInstanceIdentifier", "")
        instance = self.instances.get(key(call.region, ident))
        if instance is None:
            raise AwsError("DBInstanceNotFound", f"DBInstance {ident} not found.", 404)
        cluster = instance.cluster
        del self.instances[key(call.region, instance.id)]
        del cluster.instances[instance.id]
        view = self._instance_view(instance)
        view["DBInstanceStatus"] = DELETING
        self._event(instance.region, instance.id, "db-instance", "RDS-EVENT-0003", "DB instance deleted", "deletion")
        if instance.id == cluster.writer:
            cluster.writer = None
            candidates = [i for i in cluster.readers() if self._serving(i)]
            if candidates:  # deleting the primary promotes a replica: a failover
                self._start_failover(cluster, self._best(candidates))
        return {"DBInstance": view}

    def before_FailoverDBCluster(self, call: Call) -> dict[str, Any]:
        """[BC:docdb] FailoverDBCluster: promote a replica (the target, else the best tier)."""
        cluster = self._called_cluster(call, "DBClusterIdentifier")
        if cluster.status != AVAILABLE:
            raise self._not_available(cluster)
        if cluster.replicated_through is not None:
            raise AwsError("InvalidDBClusterStateFault", f"Cluster {cluster.id} is a global secondary: it has no "
                           "primary instance to fail over", 400)
        candidates = [i for i in cluster.readers() if self._serving(i)]
        target_id = call.params.get("TargetDBInstanceIdentifier")
        if target_id:
            target = cluster.instances.get(target_id.lower())
            if target is None or target.id == cluster.writer:
                raise AwsError("InvalidDBInstanceState", f"{target_id} is not a replica of cluster {cluster.id}", 400)
            if target not in candidates:
                raise AwsError("InvalidDBInstanceState", f"DB instance {target.id} is {target.status}", 400)
        elif not candidates:  # [DOCDB-DG:failover]: failover needs a primary and at least one replica
            raise AwsError("InvalidDBClusterStateFault", f"Cluster {cluster.id} has no replica to fail over to", 400)
        else:
            target = self._best(candidates)
        self._start_failover(cluster, target)
        return {"DBCluster": self._cluster_view(cluster)}

    def _start_failover(self, cluster: DocDbCluster, target: DocDbInstance) -> None:
        """``failing-over`` for ``docdb_failover`` ([DOCDB-DG:db-cluster-fault-tolerance]: typically
        under 30 s), then the target is the primary and the old primary a replica."""
        cluster.status = FAILING_OVER
        self._cluster_event(cluster, "RDS-EVENT-0072", f"Started same AZ failover to DB instance: {target.id}"
                            if (cluster.instances.get(cluster.writer or "") or target).az == target.az
                            else f"Started cross AZ failover to DB instance: {target.id}", "failover")
        delay = self.profile.sample("docdb_failover", f"failover:{cluster.region}/{cluster.id}")

        def done() -> None:
            cluster.failover_handle = None
            if key(cluster.region, cluster.id) not in self.clusters:
                return
            if target.id not in cluster.instances or not self._serving(target):
                survivors = [i for i in cluster.readers() if self._serving(i) and i is not target]
                if survivors:
                    self._start_failover(cluster, self._best(survivors))
                    return
                self._cluster_event(cluster, "RDS-EVENT-0069", "Cluster failover failed", "failover")
                cluster.status = AVAILABLE
                return
            cluster.writer = target.id
            cluster.status = AVAILABLE
            self._cluster_event(cluster, "RDS-EVENT-0071", f"Completed failover to DB instance: {target.id}",
                                "failover")

        cluster.failover_handle = self.later(delay, done, name=f"docdb:failover:{cluster.id}")

    # -- the world ----------------------------------------------------------------------------
    def on_world_change(self, what: str, name: str) -> None:
        if what in ("region-lost", "replication-paused"):
            for cluster in self.clusters.values():  # freeze what each secondary had received
                if cluster.replicated_through is not None:
                    self._through_before(cluster, what, name)
        if what == "az-lost":
            for cluster in list(self.clusters.values()):
                if cluster.region != az_region(name) or cluster.status != AVAILABLE:
                    continue
                writer = cluster.instances.get(cluster.writer or "")
                if writer is not None and writer.az == name:
                    candidates = [i for i in cluster.readers() if self._serving(i)]
                    if candidates:  # the primary's AZ is gone: automatic failover [DOCDB-DG:failover]
                        self._start_failover(cluster, self._best(candidates))
