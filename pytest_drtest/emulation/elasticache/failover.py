"""Multi-AZ automatic failover: a lost primary (its AZ, or ``TestFailover``) and node recovery.

ElastiCache user guide, "Minimizing downtime with Multi-AZ" (AutoFailover): when the primary
fails, a read replica is promoted (the one with the least replication lag) and the primary
endpoint's DNS name follows it; the failed node is then replaced ("Recovering cache nodes",
"Finished recovery", [BC:elasticache] TestFailover). Replication is asynchronous: what the old
primary acknowledged and had not yet sent is lost with it.
"""
from __future__ import annotations

from pytest_drtest.emulation.core import AwsError, Call, az_region
from pytest_drtest.emulation.elasticache.base import ElastiCacheBase
from pytest_drtest.emulation.elasticache.models import (
    AVAILABLE,
    PRIMARY,
    REPLICA,
    CacheNode,
    ReplicationGroup,
)


class Failover(ElastiCacheBase):
    """In-region failover and node recovery on the clock."""

    def before_TestFailover(self, call: Call) -> dict[str, object]:
        """[BC:elasticache] TestFailover: the primary of the node group fails; a replica takes over."""
        rg = self.group(call.region, call.params["ReplicationGroupId"])
        if call.params.get("NodeGroupId") not in ("0001", "1"):
            raise AwsError("NodeGroupNotFoundFault", f"Node group {call.params.get('NodeGroupId')} not found in {rg.id}", 404)
        if rg.status != AVAILABLE or rg.failing_over:
            raise AwsError("InvalidReplicationGroupState", f"Replication group {rg.id} is not available", 400)
        if not rg.automatic_failover or not any(self._serving(rg, n) for n in rg.replicas()):
            # the code for a group without automatic failover is assumed (AWS documents none)
            raise AwsError("TestFailoverNotAvailableFault",
                           f"Test failover is not available for {rg.id}: automatic failover needs a replica", 400)
        self._event(rg.id, "replication-group", "Test Failover API called for node group 0001")
        primary = rg.primary()
        assert primary is not None
        self._primary_lost(rg, primary, recover=True)
        self._after_describe(call, rg)
        return {"ReplicationGroup": self._view(rg)}

    def _after_describe(self, call: Call, rg: ReplicationGroup) -> None:
        """Hook for subclasses that keep answers in step (nothing here)."""

    def _view(self, rg: ReplicationGroup) -> dict[str, object]:
        raise NotImplementedError

    # -- the primary is lost -------------------------------------------------------------------
    def _primary_lost(self, rg: ReplicationGroup, primary: CacheNode, *, recover: bool) -> None:
        """The primary stops at once; what it had not replicated is lost; a replica is promoted after
        ``elasticache_failover`` when automatic failover is on (else the group has no primary until
        the node is recovered)."""
        primary.up = False
        self._cut_links_from(primary.server)
        if primary.server is not None:
            primary.server.kill()
        rg.failing_over = True
        self._route(rg)
        if not rg.automatic_failover:
            self._schedule_recovery(rg, primary)
            return
        delay = self._sample("elasticache_failover", f"failover:{rg.region}/{rg.id}")
        rg.handles.append(self.later(delay, lambda: self._promote(rg, primary, recover), name=f"elasticache:failover:{rg.id}"))

    def _promote(self, rg: ReplicationGroup, old: CacheNode, recover: bool) -> None:
        if rg.deleted:
            return
        candidates = [n for n in rg.replicas() if self._serving(rg, n)]
        if not candidates:  # nothing to promote: wait for the node to come back
            rg.failing_over = False
            self._schedule_recovery(rg, old)
            return
        new = candidates[0]
        if new.link is not None and self.redis is not None:
            self.redis.drop_link(new.link)
            new.link = None
        old.role, new.role = REPLICA, PRIMARY
        rg.failing_over = False
        self._wire(rg)
        self._route(rg)
        self._event(new.id, "cache-cluster", f"Failover from primary node {old.id} to replica node {new.id} completed")
        self._event(rg.id, "replication-group", f"Failover from primary node {old.id} to replica node {new.id} completed")
        if recover or self.world.az_up(old.az):
            self._schedule_recovery(rg, old)

    def _schedule_recovery(self, rg: ReplicationGroup, node: CacheNode) -> None:
        """Replace a failed node after ``elasticache_node_recovery_time`` (in its AZ once it is back)."""
        if node.recovery is not None and not node.recovery.cancelled:
            return
        self._event(node.id, "cache-cluster", f"Recovering cache nodes {node.id}")
        delay = self._sample("elasticache_node_recovery_time", f"recover:{rg.region}/{node.id}")

        def recovered() -> None:
            node.recovery = None
            if rg.deleted:
                return
            if not self.world.az_up(node.az):
                return  # on_world_change("az-restored") schedules it again
            self._start_node(rg, node)  # a replaced node starts empty and syncs from the primary
            node.up = True
            self._wire(rg)
            self._route(rg)
            self._event(node.id, "cache-cluster", f"Finished recovery for cache nodes {node.id}")

        node.recovery = self.later(delay, recovered, name=f"elasticache:recover:{node.id}")

    # -- the world changes ---------------------------------------------------------------------
    def _az_lost(self, az: str) -> None:
        for rg in [g for g in self.groups.values() if not g.deleted and g.region == az_region(az)]:
            for node in [n for n in rg.nodes if n.az == az and n.up]:
                if node.role == PRIMARY:
                    self._primary_lost(rg, node, recover=False)
                else:
                    node.up = False
                    self._cut_links_from(node.server)
                    if node.server is not None:
                        node.server.kill()
            self._route(rg)

    def _az_restored(self, az: str) -> None:
        for rg in [g for g in self.groups.values() if not g.deleted and g.region == az_region(az)]:
            for node in [n for n in rg.nodes if n.az == az and not n.up]:
                self._schedule_recovery(rg, node)
