"""Global Datastore: a primary replication group replicated to secondaries in other Regions.

ElastiCache user guide, "Replication across AWS Regions using global datastores": the primary
cluster takes writes and replicates them asynchronously to the secondaries, which only take reads;
``FailoverGlobalReplicationGroup`` promotes a secondary to primary (the old primary becomes a
secondary); ``DisassociateGlobalReplicationGroup`` makes a secondary a standalone group. The lag
(``elasticache_global_lag``) is held on the clock: a lost primary Region loses what it held.
"""
from __future__ import annotations

from typing import Any

from pytest_drtest.emulation.core import AwsError, Call
from pytest_drtest.emulation.elasticache.failover import Failover
from pytest_drtest.emulation.elasticache.models import (
    AVAILABLE,
    MODIFYING,
    GlobalDatastore,
    ReplicationGroup,
    global_prefix,
)
from pytest_drtest.emulation.rds_common.arns import ACCOUNT


class GlobalDatastores(Failover):
    """The Global Datastore API and its replication on the clock."""

    def _global(self, global_id: str | None) -> GlobalDatastore:
        gds = self.globals.get((global_id or "").lower())
        if gds is None:
            raise AwsError("GlobalReplicationGroupNotFoundFault", f"Global datastore {global_id} not found", 404)
        return gds

    def _global_view(self, gds: GlobalDatastore, members: bool = True) -> dict[str, Any]:
        primary = gds.primary
        view: dict[str, Any] = {
            "GlobalReplicationGroupId": gds.id, "GlobalReplicationGroupDescription": gds.description,
            "Status": gds.status, "CacheNodeType": primary.node_type, "Engine": primary.engine,
            "EngineVersion": primary.version, "ClusterEnabled": False,
            "ARN": f"arn:aws:elasticache::{self._account()}:globalreplicationgroup:{gds.id}",
        }
        if members:
            view["Members"] = [
                {"ReplicationGroupId": rg.id, "ReplicationGroupRegion": rg.region,
                 "Role": "PRIMARY" if rg is primary else "SECONDARY",
                 "AutomaticFailover": "enabled" if rg.automatic_failover else "disabled", "Status": "associated"}
                for rg in gds.members()
            ]
        return view

    def _account(self) -> str:
        return ACCOUNT

    def before_CreateGlobalReplicationGroup(self, call: Call) -> dict[str, Any]:
        rg = self.group(call.region, call.params["PrimaryReplicationGroupId"])
        if rg.status != AVAILABLE or rg.global_id:
            raise AwsError("InvalidReplicationGroupState",
                           f"Replication group {rg.id} is {rg.status}" + (f" and in {rg.global_id}" if rg.global_id else ""), 400)
        gds_id = f"{global_prefix(call.region)}-{call.params['GlobalReplicationGroupIdSuffix']}"
        if gds_id.lower() in self.globals:
            raise AwsError("GlobalReplicationGroupAlreadyExistsFault", f"Global datastore {gds_id} already exists", 400)
        gds = GlobalDatastore(gds_id, call.params.get("GlobalReplicationGroupDescription", ""), rg)
        self.globals[gds_id.lower()] = gds
        rg.global_id = gds.id
        delay = self._sample("elasticache_create_time", f"create:global/{gds.id}")

        def available() -> None:
            gds.status = AVAILABLE

        gds.handles.append(self.later(delay, available, name=f"elasticache:global:{gds.id}"))
        return {"GlobalReplicationGroup": self._global_view(gds)}

    def before_DescribeGlobalReplicationGroups(self, call: Call) -> dict[str, Any]:
        wanted = call.params.get("GlobalReplicationGroupId")
        found = [self._global(wanted)] if wanted else list(self.globals.values())
        members = bool(call.params.get("ShowMemberInfo"))
        return {"GlobalReplicationGroups": [self._global_view(g, members) for g in found]}

    def before_FailoverGlobalReplicationGroup(self, call: Call) -> dict[str, Any]:
        """Promote the secondary in ``PrimaryRegion`` after ``elasticache_global_failover``: if the old
        primary's Region is up the secondary first receives what is on its way (no loss), else the
        link is cut and what it held is lost (a modeling choice: AWS documents no drain)."""
        gds = self._global(call.params["GlobalReplicationGroupId"])
        region, target_id = call.params["PrimaryRegion"], call.params["PrimaryReplicationGroupId"]
        target = next((rg for rg in gds.secondaries if rg.region == region and rg.id == target_id.lower()), None)
        if target is None:
            if gds.primary.region == region and gds.primary.id == target_id.lower():
                raise AwsError("InvalidParameterValue", f"{target_id} in {region} is already the primary of {gds.id}", 400)
            raise AwsError("InvalidParameterValue", f"{target_id} in {region} is not a member of {gds.id}", 400)
        if gds.status != AVAILABLE:
            raise AwsError("InvalidGlobalReplicationGroupState", f"Global datastore {gds.id} is {gds.status}", 400)
        gds.status = MODIFYING
        old = gds.primary
        old_primary = old.primary()
        if not self.world.region_up(old.region) and old_primary is not None:
            self._cut_links_from(old_primary.server)
        old.failing_over = True  # writes stop on the old primary while the roles change
        self._route(old)
        delay = self._sample("elasticache_global_failover", f"failover:{gds.id}->{region}")
        gds.handles.append(self.later(delay, lambda: self._swap(gds, old, target), name=f"elasticache:global-failover:{gds.id}"))
        return {"GlobalReplicationGroup": self._global_view(gds)}

    def _swap(self, gds: GlobalDatastore, old: ReplicationGroup, new: ReplicationGroup) -> None:
        new_primary = new.primary()
        if new_primary is not None and new_primary.link is not None and self.redis is not None:
            link = new_primary.link
            if link.proxy.cut_bytes is None:  # the old primary's Region is up: let what is on its way arrive
                link.paused = False
                link.proxy.lag = 0.0
                link.proxy.release_due()
            self.redis.drop_link(link)
            new_primary.link = None
        gds.secondaries = [rg for rg in gds.secondaries if rg is not new] + [old]
        gds.primary = new
        old.failing_over = False
        gds.status = AVAILABLE
        for rg in gds.members():
            self._wire(rg)
            self._route(rg)
        self._event(new.id, "replication-group", f"Replication group {new.id} is the primary of {gds.id}")

    def before_DisassociateGlobalReplicationGroup(self, call: Call) -> dict[str, Any]:
        gds = self._global(call.params["GlobalReplicationGroupId"])
        rg = next((g for g in gds.secondaries if g.id == call.params["ReplicationGroupId"].lower()
                   and g.region == call.params["ReplicationGroupRegion"]), None)
        if rg is None:
            raise AwsError("InvalidParameterValue",
                           f"{call.params['ReplicationGroupId']} is not a secondary of {gds.id}", 400)
        gds.secondaries.remove(rg)
        rg.global_id = None
        self._wire(rg)  # replication stops: the group is standalone and takes writes
        self._route(rg)
        return {"GlobalReplicationGroup": self._global_view(gds)}

    def before_DeleteGlobalReplicationGroup(self, call: Call) -> dict[str, Any]:
        gds = self._global(call.params["GlobalReplicationGroupId"])
        if gds.secondaries:
            raise AwsError("InvalidGlobalReplicationGroupState",
                           f"Global datastore {gds.id} still has secondary clusters: disassociate them first", 400)
        view = self._global_view(gds)
        del self.globals[gds.id.lower()]
        gds.primary.global_id = None
        for handle in gds.handles:
            handle.cancel()
        view["Status"] = "deleting"
        return {"GlobalReplicationGroup": view}

    def _join(self, rg: ReplicationGroup, global_id: str) -> None:
        """A new group created with ``GlobalReplicationGroupId`` is a secondary of that datastore."""
        gds = self._global(global_id)
        gds.secondaries.append(rg)
        rg.global_id = gds.id
