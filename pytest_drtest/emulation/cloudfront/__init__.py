"""CloudFront origin groups: per-request failover between two origins (the two Regions' ALBs).

What moto does (moto 5.2.5): ``OriginGroups`` are stored unchecked, a cache behavior that targets
an origin group is refused (``NoSuchOrigin``), and nothing serves a request. This package checks
origin groups as CloudFront does (``models``), keeps the caller's targets in the answers
(``responses``) and sends viewer requests through a distribution (``routing``): the primary
origin first, the secondary on a configured status code or a connection failure, with the
connection timeouts as the modeled time of the request.
"""
from __future__ import annotations

from pytest_drtest.emulation.cloudfront.models import (
    FAILOVER_STATUS_CODES,
    Attempt,
    DistributionSpec,
    OriginGroupSpec,
    OriginSpec,
    ViewerResponse,
)
from pytest_drtest.emulation.cloudfront.responses import CloudFrontEmulator

__all__ = [
    "FAILOVER_STATUS_CODES",
    "Attempt",
    "CloudFrontEmulator",
    "DistributionSpec",
    "OriginGroupSpec",
    "OriginSpec",
    "ViewerResponse",
]
