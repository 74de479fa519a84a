"""The network of the emulated world as a client in the test process sees it (embedded backend).

DNS answers come from the Route 53 emulation; a load balancer answers when its region is up and
it has a healthy target. The probes' :class:`~pytest_drtest.probes.app.AppPath` reaches the world
through this object (the harness hands it over), never through the emulators themselves.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pytest_drtest.measure import EdgeRead
from pytest_drtest.probes.app import AppUnavailable

if TYPE_CHECKING:
    from pytest_drtest.emulation.core import Emulation


class InProcessReach:
    """DNS and reachability of load balancers, answered by the emulation in this process."""

    def __init__(self, emulation: Emulation) -> None:
        self.emulation = emulation

    def resolve(self, name: str, rtype: str, client_region: str) -> tuple[list[str], float]:
        route53: Any = self.emulation.services.get("route53")
        if route53 is None:
            return [], 0.0
        answer = route53.resolve(name, rtype, client_region)
        return list(answer.values), float(answer.ttl)

    def reach(self, host: str) -> str:
        endpoint = self.emulation.endpoints.get(host)
        if endpoint is None:
            raise AppUnavailable(f"{host}: connection timed out (unknown endpoint)")
        if not self.emulation.world.region_up(endpoint.region):
            raise AppUnavailable(f"{host}: connection timed out (region {endpoint.region} is down)")
        if not endpoint.is_healthy(self.emulation.world):
            raise AppUnavailable(f"{host}: HTTP 503 (no healthy targets)")
        return endpoint.region

    def view(self, domain: str, path: str, serve: Callable[[str], int]) -> EdgeRead:
        """A viewer ``GET`` of ``path`` through the CloudFront distribution ``domain``; ``serve(origin
        domain)`` answers for the application behind an origin that serves."""
        cloudfront: Any = self.emulation.services.get("cloudfront")
        if cloudfront is None:
            raise AppUnavailable(f"{domain}: no CloudFront in this emulation")
        try:
            answer = cloudfront.request(domain, path, "GET", serve=serve)
        except KeyError:
            raise AppUnavailable(f"{domain}: HTTP 403 (no such distribution)") from None
        region = cloudfront.origin_region(answer.domain) if answer.attempts[-1].status is not None else None
        return EdgeRead(self.emulation.clock.now(), answer.status, region, answer.failed_over, answer.seconds)

    def health_transitions(self, check_id: str) -> list[tuple[float, bool]]:
        """``(clock time, healthy)`` of every change of a Route 53 health check's status."""
        route53: Any = self.emulation.services.get("route53")
        return list(route53.transitions(check_id)) if route53 is not None else []
