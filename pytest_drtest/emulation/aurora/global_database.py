"""Aurora global databases: a primary cluster and read-only secondaries in other regions.

[AUR-UG:aurora-global-database]: storage-level replication, typically under a second
(``aurora_global_lag``, held on the clock). [BC:rds] SwitchoverGlobalCluster lets every secondary
catch up first (no loss); FailoverGlobalCluster with ``AllowDataLoss`` promotes what arrived; both
take ``aurora_global_failover`` and report ``FailoverState``. RemoveFromGlobalCluster stops
replication at once ([AUR-UG:aurora-global-database-disaster-recovery]). A lost region cuts the
link: what it held is lost. moto keeps global clusters in us-east-1 only and implements neither
failover nor switchover.
"""
from __future__ import annotations

import contextlib
from typing import Any

from pytest_drtest.emulation.aurora.models import (
    AVAILABLE,
    ENGINE,
    FAILING_OVER,
    GLOBAL_VERIFY_SHARE,
    SWITCHING_OVER,
    AuroraCluster,
    GlobalDatabase,
    cluster_key,
)
from pytest_drtest.emulation.aurora.storage import Storage
from pytest_drtest.emulation.core import AwsError, Call
from pytest_drtest.emulation.rds_common import parse_rds_arn


class GlobalDatabases(Storage):
    """``CreateGlobalCluster`` and its kin, secondaries' replication, global switchover and failover."""

    def before_CreateGlobalCluster(self, call: Call) -> dict[str, Any] | None:
        params = call.params
        source_id = params.get("SourceDBClusterIdentifier")
        source: AuroraCluster | None = None
        if source_id:
            arn_region, name = parse_rds_arn(source_id)
            source = self.clusters.get(cluster_key(arn_region or call.region, name))
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
        # seeded, so that the same run gives the same resource id and endpoint
        token = f"{self.profile.rng(f'aurora.global-cluster-ids:{identifier}').getrandbits(32):08x}"
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

    # -- secondaries ------------------------------------------------------------------------
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
        lag = self._sample("aurora_global_lag", f"replicate:{gdb.id}:{cluster.region}/{cluster.id}")
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

    # -- switchover and failover ------------------------------------------------------------
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
        duration = self._sample("aurora_global_failover", f"failover:{gdb.id}")
        verify = duration * GLOBAL_VERIFY_SHARE
        gdb.handles = [
            self.later(verify, lambda: self._global_fence(gdb, source, target, allow_data_loss),
                       name=f"aurora:global-fence:{gdb.id}"),
            self.later(duration, lambda: self._global_promote(gdb, source, target, allow_data_loss),
                       name=f"aurora:global-promote:{gdb.id}"),
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

    # -- the world --------------------------------------------------------------------------
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
