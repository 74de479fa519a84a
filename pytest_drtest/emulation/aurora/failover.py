"""In-region failover: on request, and when the writer's AZ is lost.

[AUR-UG:Concepts.AuroraHighAvailability]: the reader with the best (lowest) ``PromotionTier``
becomes the writer, unless ``TargetDBInstanceIdentifier`` names one; a cluster without a reader
rebuilds its writer in place. [BC:rds] FailoverDBCluster: typically under 35 s
(``aurora_failover``); the cluster is ``failing-over`` meanwhile ([AUR-UG:Aurora.Status]); events
RDS-EVENT-0072/0073, -0071 and -0069 ([RDS-UG:USER_Events.Messages]).
"""
from __future__ import annotations

import contextlib
from typing import Any

from pytest_drtest.emulation.aurora.models import (
    AVAILABLE,
    FAILING_OVER,
    RECOVERING,
    AuroraCluster,
    AuroraInstance,
    cluster_key,
)
from pytest_drtest.emulation.aurora.storage import Storage
from pytest_drtest.emulation.core import AwsError, Call


class Failover(Storage):
    """``FailoverDBCluster`` and the automatic failover after the loss of the writer's AZ."""

    def before_FailoverDBCluster(self, call: Call) -> dict[str, Any] | None:
        cluster = self.clusters.get(cluster_key(call.region, call.params.get("DBClusterIdentifier", "")))
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
        duration = self._sample("aurora_failover", f"failover:{cluster.region}/{cluster.id}")
        cluster.failover_handle = self.later(
            duration, lambda: self._finish_failover(cluster, target), name=f"aurora:failover:{cluster.id}")

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
        delay = self._sample("rds_create_time", f"rebuild:{cluster.region}/{cluster.id}")

        def rebuilt() -> None:
            cluster.failover_handle = None
            if cluster.deleted or writer.deleted:
                return
            usable = [az for az in cluster.azs if self.world.az_up(az)]
            if not usable:
                cluster.failover_handle = self.later(delay, rebuilt, name=f"aurora:rebuild:{cluster.id}")
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

        cluster.failover_handle = self.later(delay, rebuilt, name=f"aurora:rebuild:{cluster.id}")

    # -- AZ loss ----------------------------------------------------------------------------
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
