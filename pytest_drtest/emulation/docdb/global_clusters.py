"""DocumentDB global clusters: a primary cluster and up to five read-only secondaries in other
regions, storage-based replication with ``docdb_global_lag``, switchover and failover on the clock
([DOCDB-DG:global-clusters])."""
from __future__ import annotations

from typing import Any

from pytest_drtest.emulation.core import (
    AwsError,
    Call,
)
from pytest_drtest.emulation.docdb.base import DocDbBase
from pytest_drtest.emulation.docdb.models import (
    AVAILABLE,
    CREATING,
    DELETING,
    ENGINE,
    FAILING_OVER,
    GLOBAL_MIN_MAJOR,
    GLOBAL_VERIFY_SHARE,
    SWITCHING_OVER,
    DocDbCluster,
    DocDbGlobal,
    GlobalFailover,
    resolve_version,
)
from pytest_drtest.emulation.rds_common import parse_rds_arn


class GlobalClusters(DocDbBase):
    """Global clusters, their replication and their switchovers and failovers."""

    # -- inspection ---------------------------------------------------------------------------
    def replication_lag(self, region: str, identifier: str) -> float:
        """Seconds of the primary's writes a global secondary does not hold yet (0: not a secondary)."""
        cluster = self.cluster(region, identifier)
        if cluster.replicated_through is None:
            return 0.0
        return max(0.0, self.clock.now() - self._through(cluster))

    def global_failovers(self, global_id: str) -> list[GlobalFailover]:
        """Every switchover and failover of the global cluster, oldest first."""
        return list(self._global(global_id).history)

    # -- global clusters ----------------------------------------------------------------------
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

    # -- replication --------------------------------------------------------------------------
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

    # -- helpers ------------------------------------------------------------------------------
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
