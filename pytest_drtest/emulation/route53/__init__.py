"""Route 53: health checks that observe endpoints, change propagation and health-aware DNS answers.

moto stores health checks and routing policies but every check reports ``Success``, there is no
DNS answer and ``GetChange`` says ``INSYNC`` at once. The emulator adds:

- health checks observed every ``RequestInterval`` seconds on the clock, flipping after
  ``FailureThreshold`` consecutive opposite results; ``Inverted``, ``Disabled`` and ``CALCULATED``
  (``health_checks``);
- ``ChangeResourceRecordSets`` changes that the DNS view shows only once ``INSYNC``
  (``route53_change_propagation``), with ``GetChange`` reporting ``PENDING`` until then
  (``propagation``);
- :meth:`Route53Emulator.resolve`: the record Route 53 would answer now (simple, failover,
  weighted, latency, alias with ``EvaluateTargetHealth``), and ``TestDNSAnswer`` built on it
  (``answers``);
- :class:`StubResolver`: a client-side cache that keeps each answer for its TTL (``resolver``).

Route 53 is a global service: a regional outage does not cut it off (the hub exempts it).
"""
from __future__ import annotations

from pytest_drtest.emulation.route53.models import (
    ALIAS_TTL,
    CHECKERS,
    REGION_LOCATIONS,
    STATUS_FAILURE,
    STATUS_SUCCESS,
    Answer,
    dns_name,
    region_distance,
)
from pytest_drtest.emulation.route53.resolver import StubResolver
from pytest_drtest.emulation.route53.responses import Route53Emulator

__all__ = [
    "ALIAS_TTL",
    "CHECKERS",
    "REGION_LOCATIONS",
    "STATUS_FAILURE",
    "STATUS_SUCCESS",
    "Answer",
    "Route53Emulator",
    "StubResolver",
    "dns_name",
    "region_distance",
]
