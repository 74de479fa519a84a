"""A client-side caching resolver over the emulated Route 53: how probes see DNS."""
from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_drtest.clock import Clock
from pytest_drtest.emulation.route53.models import dns_name

if TYPE_CHECKING:
    from pytest_drtest.emulation.route53.responses import Route53Emulator


class StubResolver:
    """A client's caching resolver: each answer is kept for its TTL on the clock (how probes see DNS)."""

    def __init__(self, route53: Route53Emulator, clock: Clock, client_region: str = "us-east-1") -> None:
        self.route53 = route53
        self.clock = clock
        self.client_region = client_region
        self._cache: dict[tuple[str, str], tuple[list[str], float]] = {}

    def lookup(self, name: str, rtype: str = "A") -> list[str]:
        """The values for ``name``: from the cache while its TTL lasts, else asked afresh."""
        key = (dns_name(name), rtype.upper())
        cached = self._cache.get(key)
        now = self.clock.now()
        if cached is not None and now < cached[1]:
            return list(cached[0])
        answer = self.route53.resolve(name, rtype, self.client_region)
        if answer.ttl > 0:
            self._cache[key] = (list(answer.values), now + answer.ttl)
        else:
            self._cache.pop(key, None)
        return list(answer.values)

    def flush(self) -> None:
        """Forget every cached answer."""
        self._cache.clear()
