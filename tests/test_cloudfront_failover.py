"""CloudFront in front of the shipped warm-standby topology's two ALBs: a primary Region outage."""
from __future__ import annotations

from pytest_drtest import faults
from pytest_drtest.harness import Harness
from pytest_drtest.settings import Settings


def test_a_primary_region_outage_answers_from_the_dr_alb_after_the_connection_attempts() -> None:
    with Harness(Settings(), strategy="warm-standby") as dr:
        topology = dr.topology
        dr.wait_ready()
        origins = [
            {"Id": stack.role, "DomainName": stack.alb_dns, "ConnectionAttempts": 2, "ConnectionTimeout": 5,
             "CustomOriginConfig": {"HTTPPort": 80, "HTTPSPort": 443, "OriginProtocolPolicy": "http-only"}}
            for stack in (topology.primary, topology.dr)
        ]
        dist = dr.client("cloudfront").create_distribution(DistributionConfig={
            "CallerReference": "web", "Comment": "warm standby", "Enabled": True,
            "Origins": {"Quantity": 2, "Items": origins},
            "OriginGroups": {"Quantity": 1, "Items": [{
                "Id": "web", "FailoverCriteria": {"StatusCodes": {"Quantity": 4, "Items": [500, 502, 503, 504]}},
                "Members": {"Quantity": 2, "Items": [{"OriginId": "primary"}, {"OriginId": "dr"}]}}]},
            "DefaultCacheBehavior": {"TargetOriginId": "web", "ViewerProtocolPolicy": "allow-all",
                                     "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6"},
        })["Distribution"]
        cloudfront = dr.emulation.get("cloudfront")

        before = cloudfront.request(dist["DomainName"], "/")
        outage = dr.inject(faults.RegionOutage("primary"))
        during = cloudfront.request(dist["DomainName"], "/")
        dr.revert(outage)
        after = cloudfront.request(dist["DomainName"], "/")

    assert (before.status, before.origin_id, before.seconds) == (200, "primary", 0.0)
    assert (during.status, during.origin_id, during.failed_over, during.seconds) == (200, "dr", True, 10.0)
    assert after.origin_id == "primary"
