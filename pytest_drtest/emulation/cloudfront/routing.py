"""Viewer requests through a distribution: origin groups fail over per request, on the clock's terms.

CloudFront Developer Guide, "Optimize high availability with CloudFront origin failover": on a
cache miss the request goes to the primary origin of the origin group; when the primary "returns
an HTTP status code that you've configured for failover" or "CloudFront fails to connect to the
primary origin", CloudFront sends the same request to the secondary. Every request starts at the
primary ("CloudFront routes all incoming requests to the primary origin, even when a previous
request failed over"), and only ``GET``, ``HEAD`` and ``OPTIONS`` fail over. Connecting takes up to
``ConnectionAttempts`` × ``ConnectionTimeout`` ("By default, CloudFront tries to connect to the
primary origin ... for as long as 30 seconds (3 connection attempts of 10 seconds each) before
failing over"); when the secondary (or a lone origin) cannot be reached CloudFront answers 504.

The emulation has no cache (every request is a miss) and models no time for an origin that
answers: the modeled time of a request is the connection timeouts it waited out. What an origin
that can be reached answers is the emulation's model of it (an ALB's 503 without registered
targets...), or, with ``serve``, what the application behind it really answers: the probes'
application path and the network world's edge pass the request on to it.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import botocore.exceptions

from pytest_drtest.emulation.cloudfront.models import (
    CONNECTION_FAILURE_STATUS,
    FAILOVER_METHODS,
    S3_MISSING_KEY_STATUS,
    S3_ORIGIN,
    UNRESOLVED_STATUS,
    Attempt,
    DistributionSpec,
    OriginSpec,
    ViewerResponse,
)
from pytest_drtest.emulation.core import ServiceEmulator

if TYPE_CHECKING:
    from pytest_drtest.emulation.compute import ComputeModel


class Routing(ServiceEmulator):
    """``request()``: what a viewer gets through a distribution, and from which origin."""

    distributions: dict[str, DistributionSpec]
    app_status: dict[str, int]

    def request(self, distribution: str, path: str = "/", method: str = "GET", *,
                serve: Callable[[str], int] | None = None) -> ViewerResponse:
        """Send a viewer request through ``distribution`` (its Id or its ``*.cloudfront.net``
        domain name): which origin answered, with what status, after how many modeled seconds.
        The clock does not move; a probe that wants the time to pass sleeps ``seconds``.

        ``serve(origin domain) -> HTTP status``: the application behind an origin that the model
        finds serving (an ALB with a healthy target) answers the request itself; its status then
        decides the failover, as the origin's answer does on CloudFront."""
        spec = self.distribution(distribution)
        method = method.upper()
        target = spec.behavior_for(path).target
        tried: list[Attempt] = []
        group = spec.groups.get(target)
        if group is None:
            tried.append(self._try(spec.origins[target], path, serve))
        else:
            tried.append(self._try(spec.origins[group.primary], path, serve))
            first = tried[0].status
            if method in FAILOVER_METHODS and (first is None or first in group.status_codes):
                tried.append(self._try(spec.origins[group.secondary], path, serve))
        last = tried[-1]
        return ViewerResponse(
            distribution_id=spec.id,
            path=path,
            method=method,
            status=CONNECTION_FAILURE_STATUS if last.status is None else last.status,
            origin_id=last.origin_id,
            domain=last.domain,
            seconds=sum(a.seconds for a in tried),
            failed_over=len(tried) > 1,
            attempts=tried,
        )

    def distribution(self, name: str) -> DistributionSpec:
        """A distribution the emulation saw created, by Id or domain name (KeyError if none)."""
        wanted = name.lower().rstrip(".")
        for spec in self.distributions.values():
            if spec.id.lower() == wanted or spec.domain.lower() == wanted:
                return spec
        known = ", ".join(sorted(self.distributions)) or "none"
        raise KeyError(f"no CloudFront distribution {name!r} (known: {known})")

    def set_origin_status(self, domain: str, status: int | None) -> None:
        """The application behind origin ``domain`` answers ``status`` to every request it gets
        (``None``: it serves again, 200). The origin must still be reachable to answer at all."""
        key = domain.lower().rstrip(".")
        if status is None:
            self.app_status.pop(key, None)
        else:
            self.app_status[key] = int(status)

    # -- one origin ---------------------------------------------------------------------------
    def _try(self, origin: OriginSpec, path: str, serve: Callable[[str], int] | None = None) -> Attempt:
        status = self._origin_answer(origin.domain, origin.path.rstrip("/") + "/" + path.lstrip("/"))
        if status is None:  # every connection attempt times out
            return Attempt(origin.id, origin.domain, None, origin.attempts * origin.timeout, origin.attempts)
        key = origin.domain.lower().rstrip(".")
        if status == 200 and serve is not None and key not in self.app_status:
            status = serve(key)
        return Attempt(origin.id, origin.domain, status, 0.0, 1)

    def origin_region(self, domain: str) -> str | None:
        """The Region of the endpoint behind origin ``domain`` (None for one the emulation does not know)."""
        endpoint = self.emulation.endpoints.get(domain.lower().rstrip("."))
        return None if endpoint is None else endpoint.region

    def _origin_answer(self, domain: str, path: str) -> int | None:
        """The origin's HTTP status, or None when CloudFront cannot connect to it."""
        key = domain.lower().rstrip(".")
        endpoint = self.emulation.endpoints.get(key)
        s3 = S3_ORIGIN.match(key) if endpoint is None else None
        if s3 is not None:
            status = self._s3_answer(s3.group("bucket"), path.lstrip("/"))
        elif endpoint is None:
            return UNRESOLVED_STATUS  # the name does not resolve (a deleted load balancer too)
        elif endpoint.kind == "alb":
            status = self._compute().alb_answer(key)
        else:
            status = 200 if endpoint.is_healthy(self.world) else None
        if status == 200:
            return self.app_status.get(key, 200)
        return status

    def _s3_answer(self, bucket: str, object_key: str) -> int | None:
        """An S3 origin: no connection while the bucket's home Region is lost; 404 for a bucket that
        does not exist (``NoSuchBucket``); else 200 for an object that exists, 403 for one that does
        not (``S3_MISSING_KEY_STATUS``)."""
        from pytest_drtest.emulation.s3 import S3Emulator

        try:
            region = self.emulation.find(S3Emulator).bucket_region(bucket)
        except KeyError:  # no S3 emulator: ask the backend
            try:
                location = self.backdoor("us-east-1", "s3").get_bucket_location(Bucket=bucket)
                region = location.get("LocationConstraint") or "us-east-1"
            except botocore.exceptions.ClientError:
                region = None
        if region is None:
            return 404
        if not self.world.region_up(region):
            return None
        try:
            self.backdoor(region, "s3").head_object(Bucket=bucket, Key=object_key)
        except botocore.exceptions.ClientError:
            return S3_MISSING_KEY_STATUS
        return 200

    def _compute(self) -> ComputeModel:
        from pytest_drtest.emulation.compute import Elbv2Emulator

        model: ComputeModel = self.emulation.find(Elbv2Emulator).model
        return model
