"""The Aurora emulator: clusters and their member instances, reboots, and the world's changes."""
from __future__ import annotations

import contextlib
from typing import Any

from pytest_drtest.emulation.aurora.failover import Failover
from pytest_drtest.emulation.aurora.global_database import GlobalDatabases
from pytest_drtest.emulation.aurora.models import (
    AVAILABLE,
    ENGINE,
    FORCE_FAILOVER_AURORA,
    REBOOTING,
    AuroraCluster,
    AuroraInstance,
    cluster_key,
    readers_reboot_with_writer,
)
from pytest_drtest.emulation.aurora.snapshots import SnapshotsAndRestores
from pytest_drtest.emulation.core import AwsError, Call, Endpoint, az_region
from pytest_drtest.emulation.rds_common import (
    endpoint_address,
    set_master_password,
    switch_endpoint,
)


class AuroraEmulator(Failover, GlobalDatabases, SnapshotsAndRestores):
    """Aurora PostgreSQL clusters on real PostgreSQL; DB instances outside clusters are the rds emulator's."""

    # -- clusters ---------------------------------------------------------------------------
    def before_CreateDBCluster(self, call: Call) -> dict[str, Any] | None:
        if call.params.get("Engine") != ENGINE:
            return None
        key = cluster_key(call.region, call.params["DBClusterIdentifier"])
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

    def after_DescribeDBClusters(self, call: Call) -> None:
        if call.parsed is not None:
            self._rewrite_clusters(call.region, call.parsed.get("DBClusters", []))

    def before_ModifyDBCluster(self, call: Call) -> dict[str, Any] | None:
        cluster = self.clusters.get(cluster_key(call.region, call.params.get("DBClusterIdentifier", "")))
        if cluster is None or cluster.deleted or call.params.get("MasterUserPassword") is None:
            return None
        if cluster.replica is not None:
            # A global secondary is read-only and takes its roles from the primary cluster (AWS's
            # docs are silent on this call there: the emulation refuses it).
            raise AwsError("InvalidParameterCombination",
                           f"DB cluster {cluster.id} is a secondary cluster of a global database: change the "
                           "master user password on the primary cluster.")
        if cluster.status != AVAILABLE or cluster.fenced or cluster.head is None or not cluster.head.running:
            raise self._not_available(cluster)
        return None

    def after_ModifyDBCluster(self, call: Call) -> None:
        cluster = self.clusters.get(cluster_key(call.region, call.params.get("DBClusterIdentifier", "")))
        if cluster is None or call.parsed is None:
            return
        if call.params.get("MasterUserPassword") is not None:
            self._change_master_password(cluster, str(call.params["MasterUserPassword"]))
        if "EnableHttpEndpoint" in call.params:
            cluster.http_endpoint = bool(call.params["EnableHttpEndpoint"])
        if "BackupRetentionPeriod" in call.params:
            cluster.retention_days = int(call.params["BackupRetentionPeriod"])
        self._cluster_fields(cluster, call.parsed["DBCluster"])

    def _change_master_password(self, cluster: AuroraCluster, password: str) -> None:
        """MasterUserPassword: "Some modifications, such as turning on deletion protection and changing
        the master password, are applied immediately—regardless of when you choose to apply them"
        [BC:rds] ModifyDBCluster ``ApplyImmediately``. The role changes on the cluster volume's
        writer; readers and global secondaries follow through replication."""
        assert cluster.head is not None
        set_master_password(cluster.head, cluster.master_user, password)
        gdb = self.globals.get(cluster.global_id) if cluster.global_id else None
        secondaries = [m for m in gdb.members if m is not cluster] if gdb is not None else []
        for member in [cluster, *secondaries]:
            if member.master_user == cluster.master_user:
                member.password_changes.append((self.clock.now(), member.master_password))
                member.master_password = password

    def before_EnableHttpEndpoint(self, call: Call) -> dict[str, Any] | None:
        return self._http_endpoint(call, True)

    def before_DisableHttpEndpoint(self, call: Call) -> dict[str, Any] | None:
        return self._http_endpoint(call, False)

    def _http_endpoint(self, call: Call, enabled: bool) -> dict[str, Any] | None:
        arn = call.params.get("ResourceArn", "")
        cluster = self.data_api_target(call.region, arn)
        if cluster is None:
            return None
        cluster.http_endpoint = enabled
        return {"ResourceArn": arn, "HttpEndpointEnabled": enabled}

    def before_DeleteDBCluster(self, call: Call) -> dict[str, Any] | None:
        cluster = self.clusters.get(cluster_key(call.region, call.params.get("DBClusterIdentifier", "")))
        if cluster is None or cluster.deleted:
            return None
        if cluster.global_id is not None:  # detach first [AUR-UG:aurora-global-database-managing]
            raise self._not_available(
                cluster, "is a part of a global cluster, please remove it from globalcluster first")
        final = call.params.get("FinalDBSnapshotIdentifier")
        if final and not call.params.get("SkipFinalSnapshot") and cluster_key(call.region, final) in self.snapshots:
            raise AwsError("DBClusterSnapshotAlreadyExistsFault", f"Cluster snapshot {final} already exists", 400)
        return None

    def after_DeleteDBCluster(self, call: Call) -> None:
        cluster = self.clusters.get(cluster_key(call.region, call.params.get("DBClusterIdentifier", "")))
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
                switch_endpoint(proxy, None)
        if cluster.replica is not None:
            with contextlib.suppress(Exception):
                cluster.replica.close()
        self._retire(cluster, cluster.head)
        self._cluster_event(cluster, "RDS-EVENT-0171", "DB cluster deleted.", "deletion")

    # -- member instances -------------------------------------------------------------------
    def after_CreateDBInstance(self, call: Call) -> None:
        cluster_id = call.params.get("DBClusterIdentifier")
        if not cluster_id or call.parsed is None:
            return
        cluster = self.clusters.get(cluster_key(call.region, cluster_id))
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
        self.instances[cluster_key(call.region, instance.id)] = instance
        if cluster.replica is not None or (cluster.global_id is not None and cluster is not self._primary_of(cluster)):
            instance.server = cluster.head  # a secondary's instances read its replicated volume
        elif cluster.writer is None or cluster.writer_instance() is None:
            cluster.writer = instance.id  # the first instance of a cluster is its writer
            instance.server = cluster.head
        else:
            self._new_standby(cluster, instance)
        plane = self._plane()
        if plane is not None:
            host, port = endpoint_address(self.emulation, call.region, instance.host)
            instance.endpoint = plane.endpoint(name=f"{instance.id[:40]}-instance", host=host, port=port)
            proxy = instance.endpoint
            self.emulation.register_endpoint(Endpoint(instance.host, call.region, lambda: proxy.target_port is not None,
                                                      "aurora-instance", address=proxy.host))
        delay = self._sample("rds_create_time", f"create:{call.region}/{instance.id}")

        def available() -> None:
            if instance.deleted:
                return
            instance.status = AVAILABLE
            self._event(call.region, instance.id, "db-instance", "RDS-EVENT-0005", "DB instance created.", "creation")
            self._route(cluster)

        self.later(delay, available, name=f"aurora:instance-available:{instance.id}")
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
        instance = self.instances.get(cluster_key(call.region, call.params.get("DBInstanceIdentifier", "")))
        if instance is None or instance.deleted:
            return
        cluster = instance.cluster
        if call.parsed is not None:
            self._instance_fields(instance, call.parsed["DBInstance"])
            call.parsed["DBInstance"]["DBInstanceStatus"] = "deleting"
        instance.deleted = True
        if instance.endpoint is not None:
            switch_endpoint(instance.endpoint, None)
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

    # -- reboot -----------------------------------------------------------------------------
    def before_RebootDBInstance(self, call: Call) -> dict[str, Any] | None:
        instance = self._called_member(call)
        if instance is None:
            return None  # not a cluster member: the rds emulator's (or moto's DBInstanceNotFound)
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
        delay = self._sample("rds_reboot_time", f"reboot:{call.region}/{instance.id}")
        for member in rebooting:
            self._reboot(member, delay)
        self._route(cluster)
        self._instance_fields(instance, call.parsed["DBInstance"])

    def _called_member(self, call: Call) -> AuroraInstance | None:
        """The live cluster member a call's ``DBInstanceIdentifier`` names, or None (the rds emulator's, or unknown)."""
        instance = self.instances.get(cluster_key(call.region, call.params.get("DBInstanceIdentifier") or ""))
        return None if instance is None or instance.deleted else instance

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

        instance.reboot = self.later(delay, restarted, name=f"aurora:reboot:{instance.id}")

    # -- the world --------------------------------------------------------------------------
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
