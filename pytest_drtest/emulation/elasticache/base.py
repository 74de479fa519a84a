"""Replication groups on the Redis data plane: nodes, replication links, endpoints, answers."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from pytest_drtest.emulation.core import AwsError, Emulation, Endpoint, ServiceEmulator
from pytest_drtest.emulation.elasticache.models import (
    AVAILABLE,
    PRIMARY,
    REDIS_PORT,
    CacheNode,
    GlobalDatastore,
    ReplicationGroup,
)
from pytest_drtest.emulation.rds_common import endpoint_address, switch_endpoint

if TYPE_CHECKING:
    from pytest_drtest.dataplane.redis import RedisPlane, RedisServer

log = logging.getLogger("pytest_drtest.emulation.elasticache")


class ElastiCacheBase(ServiceEmulator):
    """State of every replication group and global datastore, and their data plane."""

    service = "elasticache"

    def __init__(self, emulation: Emulation) -> None:
        super().__init__(emulation)
        self.groups: dict[tuple[str, str], ReplicationGroup] = {}
        self.globals: dict[str, GlobalDatastore] = {}
        self.events: list[dict[str, Any]] = []
        self._redis: RedisPlane | None = None
        self._redis_error: Exception | None = None

    # -- lookups and public API -----------------------------------------------------------------
    def group(self, region: str, group_id: str) -> ReplicationGroup:
        found = self.groups.get((region, group_id.lower()))
        if found is None or found.deleted:
            raise AwsError("ReplicationGroupNotFoundFault", f"Replication group {group_id} not found.", 404)
        return found

    def connection_info(self, region: str, group_id: str, *, reader: bool = False) -> dict[str, Any]:
        """``{"host", "port"}`` of the group's primary (or reader) endpoint for redis-py; raises
        ``RedisUnavailable`` (saying what to install) when no Redis server can run here."""
        rg = self.group(region, group_id)
        proxy = rg.reader_endpoint if reader else rg.primary_endpoint
        if proxy is None:
            self._require_plane()
            raise KeyError(f"replication group {rg.id} has no data plane")
        return {"host": proxy.host, "port": proxy.port}

    def node_server(self, region: str, group_id: str, node_id: str) -> RedisServer | None:
        """The Redis server of one node (for tests and inspection)."""
        rg = self.group(region, group_id)
        return next((n.server for n in rg.nodes if n.id == node_id), None)

    # -- the data plane -------------------------------------------------------------------------
    @property
    def redis(self) -> RedisPlane | None:
        """The run's Redis servers, or None (logged once) when no Redis server can run here."""
        if self._redis is None and self._redis_error is None:
            from pytest_drtest.dataplane.redis import RedisPlane, RedisUnavailable

            try:
                self._redis = RedisPlane(self.clock)
            except RedisUnavailable as exc:
                self._redis_error = exc
                log.warning("ElastiCache emulation without data: %s", exc)
        return self._redis

    def _require_plane(self) -> RedisPlane:
        plane = self.redis
        if plane is None:
            assert self._redis_error is not None
            raise self._redis_error
        return plane

    def _start_node(self, rg: ReplicationGroup, node: CacheNode) -> None:
        plane = self.redis
        node.server = plane.create_server(f"{rg.id[:30]}-{node.id[-3:]}") if plane is not None else None
        node.link = None

    def _serving(self, rg: ReplicationGroup, node: CacheNode) -> bool:
        return (node.up and self.world.az_up(node.az) and (node.server is None or node.server.running)
                and not rg.deleted)

    def _upstream(self, rg: ReplicationGroup, node: CacheNode) -> tuple[CacheNode, float] | None:
        """Where ``node`` replicates from, and the lag of that link; None for the datastore's primary."""
        if node.role != PRIMARY:
            primary = rg.primary()
            return (primary, self._sample("elasticache_replication_lag", f"replicate:{rg.region}/{node.id}")) if primary else None
        gds = self.globals.get(rg.global_id or "")
        if gds is None or gds.primary is rg:
            return None
        source = gds.primary.primary()
        return (source, self._sample("elasticache_global_lag", f"replicate:{gds.id}:{rg.region}")) if source else None

    def _wire(self, rg: ReplicationGroup) -> None:
        """Make every node of ``rg`` replicate from where it should (Redis ``REPLICAOF``)."""
        plane = self.redis
        if plane is None or rg.deleted:
            return
        for node in rg.nodes:
            if node.server is None or not node.server.running or not self._serving(rg, node):
                continue
            upstream = self._upstream(rg, node)
            if upstream is None:
                if node.link is not None:
                    plane.drop_link(node.link)
                    node.link = None
                node.server.promote()
                continue
            source, lag = upstream
            if source.server is None or not source.server.running:
                continue
            if node.link is not None and node.link.source is source.server and node.link.proxy.cut_bytes is None:
                continue
            if node.link is not None:
                plane.drop_link(node.link)
            node.link = plane.replicate(node.server, source.server, lag=lag)
            node.link.paused = self.world.is_paused("elasticache", rg.global_id or rg.id)

    def _cut_links_from(self, server: RedisServer | None) -> None:
        """Everything still held on links out of ``server`` is lost (the server or its region is gone)."""
        for rg in self.groups.values():
            for node in rg.nodes:
                if node.link is not None and node.link.source is server and node.link.proxy.cut_bytes is None:
                    node.link.cut()

    # -- endpoints ------------------------------------------------------------------------------
    def _endpoints(self, rg: ReplicationGroup) -> None:
        """The primary and reader endpoints on their own loopback addresses, port 6379."""
        plane = self.redis
        for which in ("primary", "reader"):
            host = rg.primary_host if which == "primary" else rg.reader_host
            address, port = endpoint_address(self.emulation, rg.region, host, REDIS_PORT)
            proxy = plane.endpoint(None, name=f"{rg.id[:30]}-{which}", host=address, port=port) if plane is not None else None
            if which == "primary":
                rg.primary_endpoint = proxy
            else:
                rg.reader_endpoint = proxy

            def healthy(proxy: Any = proxy, rg: ReplicationGroup = rg, which: str = which) -> bool:
                return proxy.target_port is not None if proxy is not None else self._answers(rg, which)

            self.emulation.register_endpoint(Endpoint(host, rg.region, healthy, f"elasticache-{which}",
                                                      address=address if self.emulation.addresses is not None else None))

    def _answers(self, rg: ReplicationGroup, which: str) -> bool:
        primary = rg.primary()
        if rg.status != AVAILABLE or rg.deleted or not self.world.region_up(rg.region):
            return False
        if which == "primary":
            return primary is not None and not rg.failing_over and self._serving(rg, primary)
        return any(self._serving(rg, n) for n in rg.nodes)

    def _route(self, rg: ReplicationGroup) -> None:
        """Point the endpoints at the nodes that answer them now (the primary endpoint follows the
        primary node: "ElastiCache propagates the DNS name of the promoted replica", AutoFailover)."""
        primary = rg.primary()
        port_of = {id(n): n.server.port for n in rg.nodes if n.server is not None}
        writer = port_of.get(id(primary)) if primary is not None and self._answers(rg, "primary") else None
        readers = [n for n in rg.replicas() if self._serving(rg, n) and id(n) in port_of]
        reader = port_of[id(readers[0])] if readers and self._answers(rg, "reader") else writer
        if rg.primary_endpoint is not None:
            switch_endpoint(rg.primary_endpoint, writer)
        if rg.reader_endpoint is not None:
            switch_endpoint(rg.reader_endpoint, reader)

    # -- answers --------------------------------------------------------------------------------
    def _group_fields(self, rg: ReplicationGroup, item: dict[str, Any]) -> None:
        """Rewrite moto's ``ReplicationGroup`` from the model ([BC:elasticache] ReplicationGroup)."""
        item["Status"] = rg.status
        item["MemberClusters"] = [n.id for n in rg.nodes]
        item["AutomaticFailover"] = "enabled" if rg.automatic_failover else "disabled"
        item["MultiAZ"] = "enabled" if rg.multi_az else "disabled"
        item["ReplicationGroupCreateTime"] = self.clock.datetime(rg.created)
        item["Engine"] = rg.engine
        item["CacheNodeType"] = rg.node_type

        def endpoint(proxy: Any, host: str) -> dict[str, Any]:
            if proxy is not None:
                return {"Address": proxy.host, "Port": proxy.port}
            return {"Address": host, "Port": REDIS_PORT}

        item["NodeGroups"] = [{
            "NodeGroupId": "0001", "Status": rg.status,
            "PrimaryEndpoint": endpoint(rg.primary_endpoint, rg.primary_host),
            "ReaderEndpoint": endpoint(rg.reader_endpoint, rg.reader_host),
            "NodeGroupMembers": [
                {"CacheClusterId": n.id, "CacheNodeId": "0001", "PreferredAvailabilityZone": n.az,
                 "CurrentRole": n.role,
                 "ReadEndpoint": {"Address": f"{n.id}.{rg.primary_host.split('.', 1)[1]}", "Port": REDIS_PORT}}
                for n in rg.nodes
            ],
        }]
        gds = self.globals.get(rg.global_id or "")
        if gds is not None:
            item["GlobalReplicationGroupInfo"] = {
                "GlobalReplicationGroupId": gds.id,
                "GlobalReplicationGroupMemberRole": "PRIMARY" if gds.primary is rg else "SECONDARY"}
        else:
            item.pop("GlobalReplicationGroupInfo", None)

    def _event(self, source_id: str, source_type: str, message: str) -> None:
        self.events.append({"SourceIdentifier": source_id, "SourceType": source_type, "Message": message,
                            "Date": self.clock.now()})

    def _sample(self, key: str, stream: str) -> float:
        return self.profile.sample(key, stream=stream)

    def close(self) -> None:
        super().close()
        if self._redis is not None:
            self._redis.close()
            self._redis = None
