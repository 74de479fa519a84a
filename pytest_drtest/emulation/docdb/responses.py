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

import datetime as _dt
from typing import Any

from pytest_drtest.emulation.core import (
    AwsError,
    Call,
    Emulation,
    ServiceEmulator,
    az_region,
)
from pytest_drtest.emulation.docdb.models import (
    AVAILABLE,
    CREATING,
    DELETING,
    ENGINE,
    FAILING_OVER,
    GLOBAL_MIN_MAJOR,
    GLOBAL_VERIFY_SHARE,
    PORT,
    SWITCHING_OVER,
    DocDbCluster,
    DocDbGlobal,
    DocDbInstance,
    GlobalFailover,
    key,
    resolve_version,
)
from pytest_drtest.emulation.rds_common import RdsEventLog, event_log, parse_rds_arn


class DocDbEmulator(ServiceEmulator):
    """Amazon DocumentDB clusters, instances, failover and global clusters on the clock."""

    service = "docdb"

    def __init__(self, emulation: Emulation) -> None:
        super().__init__(emulation)
        self.clusters: dict[tuple[str, str], DocDbCluster] = {}
        self.instances: dict[tuple[str, str], DocDbInstance] = {}
        self.globals: dict[str, DocDbGlobal] = {}
        self.events: RdsEventLog = event_log(emulation)  # DocumentDB shares RDS's event API

    # -- inspection -------------------------------------------------------------------------
    def cluster(self, region: str, identifier: str) -> DocDbCluster:
        """The cluster ``identifier`` (or ARN) in ``region``; KeyError if there is none."""
        arn_region, name = parse_rds_arn(identifier)
        found = self.clusters.get(key(arn_region or region, name))
        if found is None:
            raise KeyError(f"no DocumentDB cluster {identifier!r} in {region}")
        return found

    def replication_lag(self, region: str, identifier: str) -> float:
        """Seconds of the primary's writes a global secondary does not hold yet (0: not a secondary)."""
        cluster = self.cluster(region, identifier)
        if cluster.replicated_through is None:
            return 0.0
        return max(0.0, self.clock.now() - self._through(cluster))

    def global_failovers(self, global_id: str) -> list[GlobalFailover]:
        """Every switchover and failover of the global cluster, oldest first."""
        return list(self._global(global_id).history)

    # -- clusters ---------------------------------------------------------------------------
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

    # -- instances --------------------------------------------------------------------------
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

    # -- failover ---------------------------------------------------------------------------
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

    # -- global clusters --------------------------------------------------------------------
    def before_CreateGlobalCluster(self, call: Call) -> dict[str, Any]:
        p = call.params
        ident = p["GlobalClusterIdentifier"]
        if ident.lower() in self.globals:
            raise AwsError("GlobalClusterAlreadyExistsFault", f"Global cluster {ident} already exists", 400)
        source = None
        if p.get("SourceDBClusterIdentifier"):
            try:
                source = self.cluster(call.region, p["SourceDBClusterIdentifier"])
            except KeyError:
                raise AwsError("DBClusterNotFoundFault",
                               f"DBCluster {p['SourceDBClusterIdentifier']} not found.", 404) from None
            if p.get("Engine") or p.get("EngineVersion"):
                raise AwsError("InvalidParameterCombination", "When creating a global cluster from an existing "
                               "cluster, Engine and EngineVersion are inherited from the source cluster", 400)
            if source.global_id is not None:
                raise self._not_available(source, "is already a member of a global cluster")
            version = source.engine_version
        else:
            if p.get("Engine") != ENGINE:
                raise AwsError("InvalidParameterValue", "Engine 'docdb' must be specified for a global cluster "
                               "without a source cluster", 400)
            resolved = resolve_version(p.get("EngineVersion"))
            if resolved is None:
                raise AwsError("InvalidParameterCombination",
                               f"Cannot find version {p['EngineVersion']} for {ENGINE}", 400)
            version = resolved
        if int(version.split(".")[0]) < GLOBAL_MIN_MAJOR:
            raise AwsError("InvalidParameterCombination", f"Global clusters are not supported for engine version "
                           f"{version}", 400)
        token = f"{self.profile.rng(f'docdb.global-cluster-ids:{ident.lower()}').getrandbits(32):08x}"
        gdb = DocDbGlobal(
            id=ident.lower(), resource_id=f"cluster-{token}", engine_version=version,
            database_name=p.get("DatabaseName"), storage_encrypted=bool(p.get("StorageEncrypted", False)),
            deletion_protection=bool(p.get("DeletionProtection", False)),
        )
        self.globals[gdb.id] = gdb
        if source is not None:
            gdb.primary = source
            gdb.members.append(source)
            source.global_id = gdb.id
        return {"GlobalCluster": self._global_view(gdb)}

    def before_DescribeGlobalClusters(self, call: Call) -> dict[str, Any]:
        ident = call.params.get("GlobalClusterIdentifier")
        if ident:
            return {"GlobalClusters": [self._global_view(self._global(ident))]}
        return {"GlobalClusters": [self._global_view(g) for g in self.globals.values()]}

    def before_DeleteGlobalCluster(self, call: Call) -> dict[str, Any]:
        gdb = self._global(call.params.get("GlobalClusterIdentifier", ""))
        if gdb.members:
            raise AwsError("InvalidGlobalClusterStateFault", f"Global cluster {gdb.id} is not empty", 400)
        if gdb.deletion_protection:
            raise AwsError("InvalidParameterCombination", "Cannot delete protected global cluster", 400)
        del self.globals[gdb.id]
        view = self._global_view(gdb)
        view["Status"] = DELETING
        return {"GlobalCluster": view}

    def before_RemoveFromGlobalCluster(self, call: Call) -> dict[str, Any]:
        """[BC:docdb] RemoveFromGlobalCluster: the secondary becomes a standalone read-write cluster
        at once; what replication had not delivered stays behind."""
        gdb = self._global(call.params.get("GlobalClusterIdentifier", ""))
        cluster = self._member(gdb, call.params.get("DbClusterIdentifier", ""), call.region)
        if gdb.status != AVAILABLE:
            raise AwsError("InvalidGlobalClusterStateFault", f"Global cluster {gdb.id} is {gdb.status}", 400)
        if cluster is gdb.primary and len(gdb.members) > 1:
            # AWS documents no code; the primary leaves last (its secondaries would have no source)
            raise AwsError("InvalidGlobalClusterStateFault", f"Cluster {cluster.id} is the primary of global "
                           f"cluster {gdb.id}: remove the secondary clusters first", 400)
        gdb.members.remove(cluster)
        if cluster is gdb.primary:
            gdb.primary = None
        cluster.global_id = None
        self._promote(cluster)
        return {"GlobalCluster": self._global_view(gdb)}

    def before_SwitchoverGlobalCluster(self, call: Call) -> dict[str, Any]:
        return self._global_failover(call, allow_data_loss=False)

    def before_FailoverGlobalCluster(self, call: Call) -> dict[str, Any]:
        """[BC:docdb] FailoverGlobalCluster: ``AllowDataLoss`` fails over (the lag is lost), else (or
        with ``Switchover``) it switches over; the two flags together are refused."""
        if call.params.get("AllowDataLoss") and call.params.get("Switchover"):
            raise AwsError("InvalidParameterCombination", "AllowDataLoss can't be specified together with "
                           "Switchover", 400)
        return self._global_failover(call, allow_data_loss=bool(call.params.get("AllowDataLoss")))

    def _global_failover(self, call: Call, *, allow_data_loss: bool) -> dict[str, Any]:
        gdb = self._global(call.params.get("GlobalClusterIdentifier", ""))
        target = self._member(gdb, call.params.get("TargetDbClusterIdentifier", ""), call.region)
        source = gdb.primary
        if gdb.status != AVAILABLE or source is None:
            raise AwsError("InvalidGlobalClusterStateFault", f"Global cluster {gdb.id} is {gdb.status}", 400)
        if target is source:
            raise AwsError("InvalidGlobalClusterStateFault", f"Cluster {target.id} is already the primary", 400)
        if target.status != AVAILABLE or not any(self._serving(i) for i in target.members()):
            raise AwsError("InvalidDBClusterStateFault", f"Cluster {target.id} has no available instance", 400)
        if not allow_data_loss and not (self.world.region_up(source.region) and source.status == AVAILABLE
                                        and not self.world.is_paused("docdb", gdb.id)):
            # a switchover needs every member healthy ([ARC-DG:documentdb-global-cluster-block])
            raise AwsError("InvalidGlobalClusterStateFault", f"The primary cluster {source.id} is not available: "
                           "use AllowDataLoss to fail over", 400)
        started = self.clock.now()
        gdb.status = FAILING_OVER if allow_data_loss else SWITCHING_OVER
        gdb.failover_state = {"Status": "pending", "FromDbClusterArn": source.arn, "ToDbClusterArn": target.arn,
                              "IsDataLossAllowed": allow_data_loss}
        duration = self.profile.sample("docdb_global_failover", f"failover:{gdb.id}")
        fence: dict[str, float] = {}

        def fenced() -> None:
            if gdb.failover_state is not None:
                gdb.failover_state["Status"] = "failing-over"
            fence["at"] = self.clock.now()
            # a failover keeps what arrived; a switchover first lets the secondary catch up (no loss)
            fence["through"] = self._through(target) if allow_data_loss else fence["at"]

        def promoted() -> None:
            gdb.handles = []
            gdb.primary = target
            gdb.members.remove(target)
            gdb.members.insert(0, target)
            self._promote(target)
            for other in gdb.members:
                if other is not target:
                    self._attach_secondary(other)  # the old primary and the other secondaries follow
            gdb.status = AVAILABLE
            gdb.failover_state = None
            gdb.history.append(GlobalFailover(
                kind="failover" if allow_data_loss else "switchover", from_cluster=source.arn, to_cluster=target.arn,
                started=started, fenced_at=fence["at"], finished=self.clock.now(), lost_from=fence["through"],
                data_loss_window=fence["at"] - fence["through"]))
            self._cluster_event(target, "RDS-EVENT-0238" if allow_data_loss else "RDS-EVENT-0185",
                                f"Global {'failover' if allow_data_loss else 'switchover'} to DB cluster {target.id} "
                                f"in Region {target.region} completed.", "global-failover")

        gdb.handles = [self.later(duration * GLOBAL_VERIFY_SHARE, fenced, name=f"docdb:global-fence:{gdb.id}"),
                       self.later(duration, promoted, name=f"docdb:global-promote:{gdb.id}")]
        return {"GlobalCluster": self._global_view(gdb)}

    def _attach_secondary(self, cluster: DocDbCluster) -> None:
        """``cluster`` now receives its primary's volume with ``docdb_global_lag`` (under a second,
        [BC:docdb] CreateGlobalCluster); it has no primary instance."""
        cluster.lag = self.profile.sample("docdb_global_lag", f"lag:{cluster.region}/{cluster.id}")
        cluster.replicated_through = self.clock.now() - cluster.lag
        cluster.writer = None

    def _promote(self, cluster: DocDbCluster) -> None:
        """A secondary becomes read-write: the best serving instance is its primary instance."""
        cluster.replicated_through = None
        serving = [i for i in cluster.members() if i.status in (AVAILABLE, CREATING) and self.world.az_up(i.az)]
        cluster.writer = self._best(serving).id if serving else None

    def _through(self, cluster: DocDbCluster) -> float:
        """The primary's clock time up to which ``cluster``'s volume holds every write, now."""
        assert cluster.replicated_through is not None
        gdb = self.globals.get(cluster.global_id or "")
        primary = gdb.primary if gdb is not None else None
        flowing = (gdb is not None and primary is not None and primary is not cluster
                   and self.world.region_up(primary.region) and self.world.region_up(cluster.region)
                   and not self.world.is_paused("docdb", gdb.id))
        if flowing:
            cluster.replicated_through = max(cluster.replicated_through, self.clock.now() - cluster.lag)
        return cluster.replicated_through

    # -- the world --------------------------------------------------------------------------
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

    def _through_before(self, cluster: DocDbCluster, what: str, name: str) -> None:
        """Bring ``replicated_through`` up to the moment of a change that stops replication."""
        gdb = self.globals.get(cluster.global_id or "")
        if gdb is None or gdb.primary is None:
            return
        if what == "replication-paused" and name not in (f"docdb:{gdb.id}", "docdb:*"):
            return
        if what == "region-lost" and name not in (gdb.primary.region, cluster.region):
            return
        cluster.replicated_through = max(cluster.replicated_through or 0.0, self.clock.now() - cluster.lag)

    # -- events -----------------------------------------------------------------------------
    def before_DescribeEvents(self, call: Call) -> dict[str, Any]:
        return {"Events": self.events.describe(call.region, call.params)}

    def _event(self, region: str, source_id: str, source_type: str, event_id: str, message: str,
               *categories: str) -> None:
        self.events.record(region, source_id, source_type, event_id, message, categories)

    def _cluster_event(self, cluster: DocDbCluster, event_id: str, message: str, category: str) -> None:
        self._event(cluster.region, cluster.id, "db-cluster", event_id, message, category)

    # -- helpers ----------------------------------------------------------------------------
    def _global(self, identifier: str) -> DocDbGlobal:
        gdb = self.globals.get(parse_rds_arn(identifier)[1].lower())
        if gdb is None:
            raise AwsError("GlobalClusterNotFoundFault", f"Global cluster {identifier} not found", 404)
        return gdb

    def _member(self, gdb: DocDbGlobal, identifier: str, region: str) -> DocDbCluster:
        try:
            cluster = self.cluster(region, identifier)
        except KeyError:
            raise AwsError("DBClusterNotFoundFault", f"DBCluster {identifier} not found.", 404) from None
        if cluster not in gdb.members:
            raise AwsError("InvalidGlobalClusterStateFault",
                           f"Cluster {cluster.id} is not a member of global cluster {gdb.id}", 400)
        return cluster

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

    def _global_view(self, gdb: DocDbGlobal) -> dict[str, Any]:
        """A [BC:docdb] ``GlobalCluster``: the primary ``IsWriter``, each secondary's sync status."""
        members = []
        for cluster in gdb.members:
            member: dict[str, Any] = {"DBClusterArn": cluster.arn, "IsWriter": cluster is gdb.primary,
                                      "Readers": [c.arn for c in gdb.members if c is not gdb.primary]
                                      if cluster is gdb.primary else []}
            if cluster is not gdb.primary:
                member["SynchronizationStatus"] = "connected" if self._linked(gdb, cluster) else "pending-resync"
            members.append(member)
        view: dict[str, Any] = {
            "GlobalClusterIdentifier": gdb.id, "GlobalClusterResourceId": gdb.resource_id,
            "GlobalClusterArn": gdb.arn, "Status": gdb.status, "Engine": ENGINE,
            "EngineVersion": gdb.engine_version, "StorageEncrypted": gdb.storage_encrypted,
            "DeletionProtection": gdb.deletion_protection, "GlobalClusterMembers": members,
        }
        if gdb.database_name:
            view["DatabaseName"] = gdb.database_name
        if gdb.failover_state is not None:
            view["FailoverState"] = dict(gdb.failover_state)
        return view

    def _linked(self, gdb: DocDbGlobal, cluster: DocDbCluster) -> bool:
        primary = gdb.primary
        return (primary is not None and self.world.region_up(primary.region) and self.world.region_up(cluster.region)
                and not self.world.is_paused("docdb", gdb.id))
