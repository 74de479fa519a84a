"""The DAX emulator: clusters on the clock, nodes across AZs, failover, the world's changes.

- **Clusters.** ``CreateCluster`` is ``creating`` for ``dax_create_time``, then ``available``; its
  nodes (``<name>-a``, ``-b``, ...) are spread over the Region's AZs unless ``AvailabilityZones``
  places them ("we recommend that you provision your DAX cluster with at least three nodes ... in
  multiple Availability Zones", [DDB-DG:DAX.consistency]). ``DescribeClusters`` reports them with
  ``ActiveNodes``, per-node status and AZ; ``IncreaseReplicationFactor`` and
  ``DecreaseReplicationFactor`` add and remove nodes (at once, with empty caches).
- **Nodes across AZs.** A node in a lost AZ stops serving and loses its item cache; it comes back
  empty when the AZ does. When it was the primary, a replica becomes primary after ``dax_failover``
  ([DDB-DG:DAX.concepts.cluster] "Clusters": read replicas give high availability, DAX fails over
  to one when the primary fails and makes it the new primary); writes fail meanwhile (only the
  primary writes to DynamoDB), reads go on on the replicas. A lost Region makes the cluster
  unreachable; its nodes keep their caches, whose entries expire on the clock.
- **The data path** is :class:`~pytest_drtest.emulation.dax.client.DaxClient` (:meth:`DaxEmulator.client`).
"""
from __future__ import annotations

from typing import Any

from pytest_drtest.emulation.core import (
    AwsError,
    Call,
    Emulation,
    ServiceEmulator,
    az_region,
)
from pytest_drtest.emulation.dax.client import DaxClient
from pytest_drtest.emulation.dax.models import (
    AVAILABLE,
    DAX_PORT,
    DELETING,
    MAX_NODES,
    DaxCluster,
    DaxNode,
    check_node_type,
)
from pytest_drtest.regions import zones


class DaxEmulator(ServiceEmulator):
    """DAX clusters in front of the DynamoDB emulation."""

    service = "dax"

    def __init__(self, emulation: Emulation) -> None:
        super().__init__(emulation)
        self.clusters: dict[tuple[str, str], DaxCluster] = {}

    # -- public API -----------------------------------------------------------------------------
    def cluster(self, region: str, name: str) -> DaxCluster:
        found = self.clusters.get((region, name.lower()))
        if found is None or found.deleted:
            raise AwsError("ClusterNotFoundFault", f"Cluster {name} not found.", 400)
        return found

    def client(self, region: str, name: str, dynamodb: Any) -> DaxClient:
        """A DAX client of the cluster: ``get_item``, ``batch_get_item``, ``put_item``,
        ``update_item``, ``delete_item`` in front of ``dynamodb`` (a hooked DynamoDB client of the
        same Region, so that the DynamoDB emulation sees DAX's reads and writes)."""
        return DaxClient(self, self.cluster(region, name), dynamodb)

    def stale_reads(self, region: str, name: str) -> list[dict[str, Any]]:
        """Every read the cluster answered from an item cache with what the table no longer held."""
        return [read.as_dict() for read in self.cluster(region, name).stale]

    def cache_stats(self, region: str, name: str) -> dict[str, int]:
        """Item cache ``hits`` and ``misses`` (as DAX's ItemCacheHits/ItemCacheMisses count them) and ``stale`` hits."""
        cluster = self.cluster(region, name)
        return {"hits": cluster.hits, "misses": cluster.misses, "stale": len(cluster.stale)}

    def node_serving(self, cluster: DaxCluster, node: DaxNode) -> bool:
        return node.up and self.world.az_up(node.az) and not cluster.deleted and cluster.status == AVAILABLE

    # -- control plane --------------------------------------------------------------------------
    def before_CreateCluster(self, call: Call) -> None:
        check_node_type(call.params.get("NodeType"))
        count = int(call.params.get("ReplicationFactor") or 0)
        if not 1 <= count <= MAX_NODES:
            raise AwsError("InvalidParameterValueException", f"ReplicationFactor must be 1 to {MAX_NODES} nodes", 400)
        azs = call.params.get("AvailabilityZones") or []
        if len(azs) > count:
            raise AwsError("InvalidParameterValueException",
                           "AvailabilityZones names more zones than the cluster has nodes (ReplicationFactor)", 400)
        for az in azs:
            if az not in zones(call.region):
                raise AwsError("InvalidParameterValueException", f"{az} is not an Availability Zone of {call.region}", 400)
        name = str(call.params.get("ClusterName", "")).lower()
        if (call.region, name) in self.clusters and not self.clusters[(call.region, name)].deleted:
            # moto replaces the cluster silently
            raise AwsError("ClusterAlreadyExistsFault", f"Cluster {name} already exists.", 400)

    def after_CreateCluster(self, call: Call) -> None:
        name = call.params["ClusterName"].lower()
        count = int(call.params["ReplicationFactor"])
        azs = self._spread(call.region, list(call.params.get("AvailabilityZones") or []), count)
        cluster = DaxCluster(
            name=name, region=call.region, created=self.clock.now(),
            nodes=[DaxNode(self._node_id(name, i), azs[i]) for i in range(count)],
            item_ttl=self.profile.sample("dax_item_ttl", stream=f"ttl:{call.region}/{name}"),
            replication_lag=self.profile.sample("dax_node_replication_lag", stream=f"replicate:{call.region}/{name}"),
            token=f"{self.profile.rng(f'dax.cluster-ids:{call.region}/{name}').getrandbits(24):06x}",
        )
        self.clusters[(call.region, name)] = cluster
        delay = self.profile.sample("dax_create_time", stream=f"create:{call.region}/{name}")

        def available() -> None:
            cluster.status = AVAILABLE

        cluster.handles.append(self.later(delay, available, name=f"dax:available:{name}"))
        if call.parsed is not None:
            self._cluster_fields(cluster, call.parsed["Cluster"])

    @staticmethod
    def _node_id(name: str, index: int) -> str:
        return f"{name}-{chr(ord('a') + index)}"

    @staticmethod
    def _spread(region: str, azs: list[str], count: int, start: int = 0) -> list[str]:
        """``azs`` then the Region's AZs in turn, for ``count`` nodes."""
        region_azs = zones(region)
        return azs + [region_azs[i % len(region_azs)] for i in range(start + len(azs), start + count)]

    def after_DescribeClusters(self, call: Call) -> None:
        for item in (call.parsed or {}).get("Clusters", []):
            cluster = self.clusters.get((call.region, str(item.get("ClusterName", "")).lower()))
            if cluster is not None and not cluster.deleted:
                self._cluster_fields(cluster, item)

    def after_DeleteCluster(self, call: Call) -> None:
        cluster = self.clusters.get((call.region, call.params["ClusterName"].lower()))
        if cluster is None:
            return
        cluster.deleted = True
        for handle in cluster.handles:
            handle.cancel()
        for node in cluster.nodes:
            node.cache.clear()
        if call.parsed is not None:
            call.parsed["Cluster"]["Status"] = DELETING

    def after_IncreaseReplicationFactor(self, call: Call) -> None:
        cluster = self.cluster(call.region, call.params["ClusterName"])
        count = int(call.params["NewReplicationFactor"]) - len(cluster.nodes)
        azs = self._spread(cluster.region, list(call.params.get("AvailabilityZones") or []), count, len(cluster.nodes))
        cluster.nodes += [DaxNode(self._node_id(cluster.name, len(cluster.nodes) + i), azs[i]) for i in range(count)]
        if call.parsed is not None:
            self._cluster_fields(cluster, call.parsed["Cluster"])

    def after_DecreaseReplicationFactor(self, call: Call) -> None:
        cluster = self.cluster(call.region, call.params["ClusterName"])
        primary = cluster.primary_node()
        wanted = int(call.params["NewReplicationFactor"])
        removed = set(call.params.get("NodeIdsToRemove") or [n.id for n in cluster.nodes[wanted:]])
        cluster.nodes = [n for n in cluster.nodes if n.id not in removed]
        cluster.primary = cluster.nodes.index(primary) if primary in cluster.nodes else 0
        if call.parsed is not None:
            self._cluster_fields(cluster, call.parsed["Cluster"])

    def _cluster_fields(self, cluster: DaxCluster, item: dict[str, Any]) -> None:
        """Rewrite moto's ``Cluster`` from the model ([BC:dax] Cluster, Node)."""
        item["Status"] = cluster.status
        item["TotalNodes"] = len(cluster.nodes)
        item["ActiveNodes"] = sum(1 for n in cluster.nodes if self.node_serving(cluster, n))
        address = f"{cluster.name}.{cluster.token}.dax-clusters.{cluster.region}.amazonaws.com"
        if cluster.status != AVAILABLE:
            item["ClusterDiscoveryEndpoint"] = {"Port": DAX_PORT}
            item.pop("Nodes", None)
            return
        item["ClusterDiscoveryEndpoint"] = {"Address": address, "Port": DAX_PORT, "URL": f"dax://{address}"}
        host = f"{cluster.token}.nodes.dax-clusters.{cluster.region}.amazonaws.com"
        item["Nodes"] = [
            {"NodeId": node.id, "Endpoint": {"Address": f"{node.id}.{host}", "Port": DAX_PORT},
             "NodeCreateTime": self.clock.datetime(cluster.created), "AvailabilityZone": node.az,
             "NodeStatus": "available" if self.node_serving(cluster, node) else "failed",
             "ParameterGroupStatus": "in-sync"}
            for node in cluster.nodes
        ]

    # -- the world ------------------------------------------------------------------------------
    def on_world_change(self, what: str, name: str) -> None:
        if what not in ("az-lost", "az-restored"):
            return  # a lost Region: the client finds no route; the nodes keep their caches
        for cluster in [c for c in self.clusters.values() if not c.deleted and c.region == az_region(name)]:
            if what == "az-lost":
                for node in cluster.nodes:
                    if node.az == name:
                        node.up = False
                        node.epoch += 1
                        node.cache.clear()  # the node is gone; DAX replaces it with an empty one
                if cluster.primary_node().az == name and not cluster.failing_over:
                    self._fail_over(cluster)
            else:
                for node in cluster.nodes:
                    if node.az == name:
                        node.up = True

    def _fail_over(self, cluster: DaxCluster) -> None:
        """The primary's node is lost: a serving replica becomes primary after ``dax_failover``."""
        cluster.failing_over = True
        delay = self.profile.sample("dax_failover", stream=f"failover:{cluster.region}/{cluster.name}")

        def promoted() -> None:
            cluster.failing_over = False
            serving = [i for i, n in enumerate(cluster.nodes) if self.node_serving(cluster, n)]
            if serving and not self.node_serving(cluster, cluster.primary_node()):
                cluster.primary = serving[0]

        cluster.handles.append(self.later(delay, promoted, name=f"dax:failover:{cluster.name}"))
