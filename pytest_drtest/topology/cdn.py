"""The blueprint's ``[cdn]``: a CloudFront distribution in front of the two Regions' load balancers.

The pattern of the CloudFront Developer Guide, "Optimize high availability with CloudFront origin
failover": an origin group whose primary is the primary Region's ALB and whose secondary is the DR
Region's, the default cache behavior targeting the group. CloudFront sends every request to the
primary first and the same request to the secondary when it cannot connect (``ConnectionAttempts``
× ``ConnectionTimeout``) or the primary answers a status code of ``FailoverCriteria`` — for
``GET``, ``HEAD`` and ``OPTIONS`` only. So the application's reads go through the distribution and
its writes keep the Route 53 record (:mod:`pytest_drtest.probes.app`). The cache behavior uses the
managed ``CachingDisabled`` policy: the probe's reads are of items that change, and the emulation
has no edge cache (every request is a miss).

A strategy whose DR Region has no load balancer before a disaster (backup & restore) cannot have
one: an origin group has exactly two members ([BC:cloudfront] ``OriginGroupMemberList``).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pytest_drtest.errors import DrConfigError

if TYPE_CHECKING:
    from pytest_drtest.topology.model import Topology

#: The managed cache policy ``Managed-CachingDisabled`` (CloudFront Developer Guide, "Use managed
#: cache policies")
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
GROUP_ID = "web"
#: CloudFront is global: its API is called in us-east-1 (the Region of its endpoint)
CLOUDFRONT_REGION = "us-east-1"


def check_cdn(topology: Topology) -> None:
    """Refuse ``[cdn]`` before anything is built when the strategy runs no load balancer in the DR
    Region before a disaster (backup & restore)."""
    if topology.blueprint.cdn is not None and topology.strategy.dr_capacity == "none":
        _refuse(topology, ["dr"])


def _refuse(topology: Topology, missing: list[str]) -> None:
    raise DrConfigError(
        f"[cdn] needs a load balancer in both Regions before a disaster (an origin group has exactly two "
        f"origins); the {topology.strategy.name} strategy has none in {', '.join(missing)}",
        source=topology.blueprint.source, field="cdn")


def distribution_config(topology: Topology) -> dict[str, Any]:
    """The ``DistributionConfig`` of the topology's distribution (its ALBs must exist)."""
    spec = topology.blueprint.cdn
    assert spec is not None
    stacks = [topology.primary, topology.dr]
    missing = [s.role for s in stacks if not s.alb_dns]
    if missing:
        _refuse(topology, missing)
    origins = [{
        "Id": stack.role, "DomainName": stack.alb_dns,
        "ConnectionAttempts": spec.connection_attempts, "ConnectionTimeout": spec.connection_timeout,
        "CustomOriginConfig": {"HTTPPort": 80, "HTTPSPort": 443, "OriginProtocolPolicy": "http-only"},
    } for stack in stacks]
    codes = list(spec.failover_status_codes)
    return {
        "CallerReference": f"{topology.name}-{topology.run_id or 'cdn'}",
        "Comment": f"{topology.name}: origin failover {topology.primary_region} -> {topology.dr_region}",
        "Enabled": True,
        "Origins": {"Quantity": 2, "Items": origins},
        "OriginGroups": {"Quantity": 1, "Items": [{
            "Id": GROUP_ID,
            "FailoverCriteria": {"StatusCodes": {"Quantity": len(codes), "Items": codes}},
            "Members": {"Quantity": 2, "Items": [{"OriginId": "primary"}, {"OriginId": "dr"}]},
        }]},
        "DefaultCacheBehavior": {"TargetOriginId": GROUP_ID, "ViewerProtocolPolicy": "allow-all",
                                 "CachePolicyId": CACHING_DISABLED},
    }


def build_cdn(topology: Topology) -> None:
    """Create the distribution (``CreateDistributionWithTags``), wait until it is ``Deployed``
    (botocore's ``distribution_deployed`` waiter) and note its domain name: the application's reads
    go there (:attr:`Topology.cdn_domain`)."""
    from pytest_drtest.topology.build import _tags

    if topology.blueprint.cdn is None:
        return
    config = distribution_config(topology)
    cloudfront = topology.clients.client("cloudfront", CLOUDFRONT_REGION)
    made = cloudfront.create_distribution_with_tags(DistributionConfigWithTags={
        "DistributionConfig": config, "Tags": {"Items": _tags(topology, "cdn", topology.primary)}})["Distribution"]
    topology.cdn_id, topology.cdn_domain = str(made["Id"]), str(made["DomainName"]).lower()
    ident = topology.cdn_id
    topology.cleanup.push(f"cloudfront distribution {ident}", lambda: delete_distribution(cloudfront, ident))
    cloudfront.get_waiter("distribution_deployed").wait(Id=ident)
    topology.note("cdn-deployed", f"{ident} ({topology.cdn_domain})")


def delete_distribution(cloudfront: Any, ident: str) -> None:
    """Disable, wait until deployed, delete: CloudFront deletes only a disabled distribution
    (``DistributionNotDisabled``), each change naming the current ``ETag`` as ``IfMatch``."""
    current = cloudfront.get_distribution_config(Id=ident)
    config = current["DistributionConfig"]
    etag = current["ETag"]
    if config.get("Enabled"):
        config["Enabled"] = False
        etag = cloudfront.update_distribution(Id=ident, IfMatch=etag, DistributionConfig=config)["ETag"]
        cloudfront.get_waiter("distribution_deployed").wait(Id=ident)
    cloudfront.delete_distribution(Id=ident, IfMatch=etag)
