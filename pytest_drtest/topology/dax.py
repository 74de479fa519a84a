"""The blueprint's ``[dax]``: a DAX cluster in front of the probe table in each Region whose application
has the table.

A DAX cluster is regional and serves every table of its Region ([DDB-DG:DAX.concepts] "How DAX
works": the cluster is reached from the application's VPC and passes what it does not cache to
DynamoDB in the same Region), so a global table gets one cluster per Region, as AWS's guidance for
DAX with global tables puts it ("DAX and global tables": each Region's application uses a cluster in
its own Region). Writes replicated into a Region's table do not go through its cluster: what that
cluster cached stays until the item TTL ([DDB-DG:DAX.consistency] "Strategies for writes"). The
application writes through the cluster and reads eventually consistent through it (the reads DAX
caches); the probes count each answer that was stale (:func:`pytest_drtest.probes.wiring.stale_reads`).
"""
from __future__ import annotations

import re
from functools import partial
from typing import TYPE_CHECKING, Any

from pytest_drtest.errors import DrConfigError

if TYPE_CHECKING:
    from pytest_drtest.topology.model import RegionStack, Topology

MAX_NAME = 20  # ClusterName: 1-20 letters, digits or hyphens, starting with a letter ([BC:dax] CreateCluster)


def cluster_name(table: str) -> str:
    """``<table>-dax`` for the blueprint's (logical) probe table: regional, so the same name in both Regions."""
    base = re.sub(r"[^a-z0-9]+", "-", table.lower()).strip("-") or "app"
    if not base[0].isalpha():
        base = f"t{base}"
    return f"{base[:MAX_NAME - 4].rstrip('-')}-dax"


def build_dax(topology: Topology) -> None:
    """Create the clusters (``CreateCluster``, ``ReplicationFactor`` nodes spread over the AZs), wait
    until each is ``available`` (``DescribeClusters`` every 30 s: botocore has no DAX waiter), and
    point each Region's application at its cluster (``app_config[region]["dax"]``)."""
    from pytest_drtest.topology.build import _tags, account_of

    spec = topology.blueprint.dax
    if spec is None:
        return
    if topology.dax_connect is None:
        raise DrConfigError("[dax] needs an emulated backend: the DAX data path is the emulation's in-process "
                            "client (the DAX wire protocol is not served)", source=topology.blueprint.source, field="dax")
    stacks = [s for s in (topology.primary, topology.dr) if topology.probe_table in s.tables]
    name = cluster_name(topology.probe_table)
    role = f"arn:aws:iam::{account_of(topology)}:role/{topology.name}-dax"
    for stack in stacks:
        dax = topology.clients.client("dax", stack.region)
        dax.create_cluster(ClusterName=name, NodeType=spec.node_type, ReplicationFactor=spec.nodes, IamRoleArn=role,
                           Description=f"{topology.name}: read cache of {stack.tables[topology.probe_table]}",
                           Tags=_tags(topology, "dax", stack))
        topology.cleanup.push(f"dax {stack.region}/{name}", partial(_delete, topology, stack))
        stack.dax = name
    for stack in stacks:
        wait_dax_cluster(topology, topology.clients.client("dax", stack.region), name)
        topology.app_config.setdefault(stack.region, {})["dax"] = name


def wait_dax_cluster(topology: Topology, dax: Any, name: str) -> dict[str, Any]:
    """Poll ``DescribeClusters`` every 30 s of the clock until ``name`` is ``available`` (botocore
    has no DAX waiter); its description."""
    from pytest_drtest.topology.build import poll_until

    def available() -> bool:
        return bool(dax.describe_clusters(ClusterNames=[name])["Clusters"][0]["Status"] == "available")

    poll_until(topology, available, f"DAX cluster {dax.meta.region_name}/{name}")
    return dict(dax.describe_clusters(ClusterNames=[name])["Clusters"][0])


def _delete(topology: Topology, stack: RegionStack) -> None:
    if stack.dax is not None:
        topology.clients.client("dax", stack.region).delete_cluster(ClusterName=stack.dax)
