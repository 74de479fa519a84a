"""The ElastiCache emulator: replication groups on the clock, the world's changes, events."""
from __future__ import annotations

from typing import Any

from pytest_drtest.emulation.core import AwsError, Call
from pytest_drtest.emulation.elasticache.global_datastore import GlobalDatastores
from pytest_drtest.emulation.elasticache.models import (
    AVAILABLE,
    PRIMARY,
    CacheNode,
    ReplicationGroup,
    check_engine,
    check_node_type,
)
from pytest_drtest.regions import zones


class ElastiCacheEmulator(GlobalDatastores):
    """Valkey and Redis OSS replication groups (cluster mode disabled) on real Redis servers."""

    def before_CreateReplicationGroup(self, call: Call) -> None:
        params = call.params
        check_engine(params.get("Engine"), params.get("EngineVersion"))
        global_id = params.get("GlobalReplicationGroupId")
        if global_id:
            gds = self._global(global_id)
            if gds.status != AVAILABLE:
                raise AwsError("InvalidGlobalReplicationGroupState", f"Global datastore {gds.id} is {gds.status}", 400)
            if any(rg.region == call.region for rg in gds.members()):
                raise AwsError("InvalidParameterValue", f"Global datastore {gds.id} already has a member in {call.region}", 400)
        else:
            check_node_type(params.get("CacheNodeType"))
        if params.get("NumNodeGroups", 1) not in (None, 1) or params.get("ClusterMode") == "enabled":
            raise AwsError("InvalidParameterValue", "the emulation models cluster mode disabled (one node group) only", 400)
        if (params.get("MultiAZEnabled") or params.get("AutomaticFailoverEnabled")) and self._node_count(params) < 2:
            raise AwsError("InvalidParameterCombination",
                           "Multi-AZ and automatic failover need at least one replica (NumCacheClusters >= 2)", 400)
        key = (call.region, params["ReplicationGroupId"].lower())
        if key in self.groups and not self.groups[key].deleted:
            raise AwsError("ReplicationGroupAlreadyExistsFault", f"Replication group {key[1]} already exists", 400)

    @staticmethod
    def _node_count(params: dict[str, Any]) -> int:
        return int(params.get("NumCacheClusters") or (1 + int(params.get("ReplicasPerNodeGroup") or 0)))

    def after_CreateReplicationGroup(self, call: Call) -> None:
        if call.parsed is None:
            return
        params, item = call.params, call.parsed["ReplicationGroup"]
        global_id = params.get("GlobalReplicationGroupId")
        source = self._global(global_id).primary if global_id else None
        engine, version = ((source.engine, source.version) if source is not None
                           else check_engine(params.get("Engine"), params.get("EngineVersion")))
        count = self._node_count(params)
        azs = list(params.get("PreferredCacheClusterAZs") or [])
        region_azs = zones(call.region)  # spread across the Region's AZs, as ElastiCache places them by default
        azs += [region_azs[i % len(region_azs)] for i in range(len(azs), count)]
        rg_id = params["ReplicationGroupId"].lower()
        token = f"{rg_id}.{self.profile.rng(f'elasticache.endpoint-ids:{call.region}/{rg_id}').getrandbits(24):06x}"
        rg = ReplicationGroup(
            id=rg_id, region=call.region, engine=engine, version=version,
            node_type=source.node_type if source is not None else params["CacheNodeType"],
            primary_host=f"master.{token}.cache.amazonaws.com", reader_host=f"replica.{token}.cache.amazonaws.com",
            created=self.clock.now(), automatic_failover=bool(params.get("AutomaticFailoverEnabled")),
            multi_az=bool(params.get("MultiAZEnabled")),
            nodes=[CacheNode(f"{rg_id}-{i + 1:03d}", azs[i], PRIMARY if i == 0 else "replica") for i in range(count)],
        )
        self.groups[(call.region, rg_id)] = rg
        if global_id:
            self._join(rg, global_id)
        for node in rg.nodes:
            self._start_node(rg, node)
        self._endpoints(rg)
        self._wire(rg)
        self._route(rg)
        delay = self._sample("elasticache_create_time", f"create:{call.region}/{rg_id}")

        def available() -> None:
            if rg.deleted:
                return
            rg.status = AVAILABLE
            self._wire(rg)
            self._route(rg)
            self._event(rg.id, "replication-group", f"Replication group {rg.id} created")

        rg.handles.append(self.later(delay, available, name=f"elasticache:available:{rg_id}"))
        self._group_fields(rg, item)

    def _view(self, rg: ReplicationGroup) -> dict[str, Any]:
        try:
            found = self.backdoor(rg.region).describe_replication_groups(ReplicationGroupId=rg.id)["ReplicationGroups"]
            item = dict(found[0])
        except Exception:  # noqa: BLE001 - answered from the model
            item = {"ReplicationGroupId": rg.id}
        self._group_fields(rg, item)
        return item

    def after_DescribeReplicationGroups(self, call: Call) -> None:
        for item in (call.parsed or {}).get("ReplicationGroups", []):
            rg = self.groups.get((call.region, str(item.get("ReplicationGroupId", "")).lower()))
            if rg is not None and not rg.deleted:
                self._group_fields(rg, item)

    def before_DeleteReplicationGroup(self, call: Call) -> None:
        rg = self.group(call.region, call.params["ReplicationGroupId"])
        if rg.global_id:
            raise AwsError("InvalidReplicationGroupState",
                           f"Replication group {rg.id} is a member of {rg.global_id}: disassociate it first", 400)

    def after_DeleteReplicationGroup(self, call: Call) -> None:
        rg = self.groups.get((call.region, call.params["ReplicationGroupId"].lower()))
        if rg is None:
            return
        rg.deleted = True
        for handle in rg.handles:
            handle.cancel()
        for node in rg.nodes:
            if node.link is not None and self.redis is not None:
                self.redis.drop_link(node.link)
            if node.server is not None:
                node.server.kill()
        for proxy in (rg.primary_endpoint, rg.reader_endpoint):
            if proxy is not None:
                proxy.switch(None)
        self.emulation.forget_endpoint(rg.primary_host)
        self.emulation.forget_endpoint(rg.reader_host)
        if call.parsed is not None:
            call.parsed["ReplicationGroup"]["Status"] = "deleting"

    def before_DescribeEvents(self, call: Call) -> dict[str, Any]:
        """Events with clock times ([BC:elasticache] DescribeEvents), newest first as AWS lists them."""
        wanted_id, wanted_type = call.params.get("SourceIdentifier"), call.params.get("SourceType")
        events = [e for e in self.events
                  if (wanted_id is None or e["SourceIdentifier"] == wanted_id)
                  and (wanted_type is None or e["SourceType"] == wanted_type)]
        return {"Events": [{**e, "Date": self.clock.datetime(e["Date"])} for e in reversed(events)]}

    # -- the world ------------------------------------------------------------------------------
    def on_world_change(self, what: str, name: str) -> None:
        if what == "az-lost":
            self._az_lost(name)
        elif what == "az-restored":
            self._az_restored(name)
        elif what == "region-lost":
            for rg in [g for g in self.groups.values() if g.region == name and not g.deleted]:
                for node in rg.nodes:
                    self._cut_links_from(node.server)  # what the Region had not sent is lost with it
                self._route(rg)
        elif what == "region-restored":
            for rg in [g for g in self.groups.values() if g.region == name and not g.deleted]:
                self._wire(rg)
                self._route(rg)
            for rg in [g for g in self.groups.values() if g.region != name and not g.deleted]:
                self._wire(rg)  # secondaries whose source came back resync
        elif what in ("replication-paused", "replication-resumed"):
            service, _, resource = name.partition(":")
            if service != "elasticache":
                return
            for rg in self.groups.values():
                for node in rg.nodes:
                    if node.link is not None and resource in ("*", rg.id, rg.global_id or ""):
                        node.link.paused = what == "replication-paused"

