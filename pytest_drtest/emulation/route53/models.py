"""Route 53 state: health checks, changes, answers, and the zones as the name servers serve them."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from pytest_drtest.clock import Scheduled
from pytest_drtest.emulation.core import Emulation, ServiceEmulator

#: Checker regions reported by ``GetHealthCheckStatus``, with an address from each region's published
#: ``ROUTE53_HEALTHCHECKS`` range of ip-ranges.json (the addresses are illustrative).
CHECKERS: tuple[tuple[str, str], ...] = (
    ("us-east-1", "54.243.31.193"),
    ("us-west-2", "54.244.52.193"),
    ("eu-west-1", "54.228.16.1"),
)

#: Status texts seen on AWS (free text, not documented: taken from third-party captures).
STATUS_SUCCESS = "Success: HTTP Status Code 200, OK"
STATUS_FAILURE = (
    "Failure: Connection timed out. The endpoint or the internet connection is down, "
    "or requests are being blocked by your firewall."
)

#: Alias records have no TTL of their own; the emulation answers them with this one.
ALIAS_TTL = 60.0

#: Approximate location (latitude, longitude) of each region's data centres. Latency routing orders
#: regions by great-circle distance from the client's region: a static stand-in for Route 53's
#: measured latency tables, which are not published.
REGION_LOCATIONS: dict[str, tuple[float, float]] = {
    "us-east-1": (38.9, -77.4),
    "us-east-2": (40.0, -83.0),
    "us-west-1": (37.4, -121.9),
    "us-west-2": (45.8, -119.7),
    "ca-central-1": (45.5, -73.6),
    "ca-west-1": (51.0, -114.1),
    "sa-east-1": (-23.5, -46.6),
    "mx-central-1": (20.6, -100.4),
    "eu-west-1": (53.3, -6.3),
    "eu-west-2": (51.5, -0.1),
    "eu-west-3": (48.9, 2.35),
    "eu-central-1": (50.1, 8.7),
    "eu-central-2": (47.4, 8.5),
    "eu-north-1": (59.3, 18.1),
    "eu-south-1": (45.5, 9.2),
    "eu-south-2": (41.6, -0.9),
    "il-central-1": (32.1, 34.8),
    "me-south-1": (26.1, 50.6),
    "me-central-1": (24.5, 54.4),
    "af-south-1": (-33.9, 18.4),
    "ap-south-1": (19.1, 72.9),
    "ap-south-2": (17.4, 78.5),
    "ap-east-1": (22.3, 114.2),
    "ap-southeast-1": (1.35, 103.8),
    "ap-southeast-2": (-33.9, 151.2),
    "ap-southeast-3": (-6.2, 106.8),
    "ap-southeast-4": (-37.8, 145.0),
    "ap-southeast-5": (3.1, 101.7),
    "ap-northeast-1": (35.7, 139.7),
    "ap-northeast-2": (37.6, 127.0),
    "ap-northeast-3": (34.7, 135.5),
}


def region_distance(a: str, b: str) -> float:
    """Great-circle distance in km between two regions (0 for the same, ``inf`` if unknown)."""
    if a == b:
        return 0.0
    if a not in REGION_LOCATIONS or b not in REGION_LOCATIONS:
        return math.inf
    (lat1, lon1), (lat2, lon2) = (map(math.radians, REGION_LOCATIONS[r]) for r in (a, b))
    cos_angle = math.sin(lat1) * math.sin(lat2) + math.cos(lat1) * math.cos(lat2) * math.cos(lon1 - lon2)
    return 6371.0 * math.acos(max(-1.0, min(1.0, cos_angle)))


def dns_name(name: str) -> str:
    """Canonical form of a DNS name: lowercase, no trailing dot, ``\\052`` spelled ``*``."""
    return name.replace("\\052", "*").rstrip(".").lower()


def strip_id(value: str, prefix: str) -> str:
    """``/hostedzone/Z1`` -> ``Z1``; ``/change/C1`` -> ``C1``."""
    return value.removeprefix(prefix)


@dataclass(frozen=True)
class Answer:
    """What Route 53 answers for a name and type now.

    ``values`` are the record's values (an alias answers its target's DNS name); ``ttl`` how long a
    resolver may cache them (0 for an empty answer: negative caching is not modeled); ``record`` the
    record set that answered; ``rcode`` ``NOERROR`` or ``NXDOMAIN``.
    """

    values: list[str]
    ttl: float
    record: dict[str, Any] | None
    rcode: str = "NOERROR"


@dataclass
class HealthCheck:
    """One health check as the checkers see it."""

    check_id: str
    config: dict[str, Any]
    created_at: float
    interval: float
    failure_threshold: int
    measured_healthy: bool = True  # the checkers' verdict; a new check is healthy until data
    streak: int = 0  # consecutive observations that disagree with ``measured_healthy``
    last_result: bool | None = None  # the endpoint's answer at the last observation
    last_observed_at: float | None = None
    reported: bool = True  # the status as Route 53 uses it (after Disabled/Inverted/CALCULATED)
    transitions: list[tuple[float, bool]] = field(default_factory=list)
    timer: Scheduled | None = None
    deleted: bool = False

    @property
    def kind(self) -> str:
        return str(self.config.get("Type", "HTTP"))

    @property
    def host(self) -> str | None:
        host = self.config.get("FullyQualifiedDomainName") or self.config.get("IPAddress")
        return dns_name(host) if host else None

    @property
    def disabled(self) -> bool:
        return bool(self.config.get("Disabled", False))

    @property
    def inverted(self) -> bool:
        return bool(self.config.get("Inverted", False))


@dataclass
class Change:
    """A ``ChangeResourceRecordSets`` (or hosted-zone) change until it is ``INSYNC``."""

    change_id: str
    zone_id: str
    submitted_at: float
    insync_at: float
    comment: str | None = None
    insync: bool = False


class Route53Model(ServiceEmulator):
    """What the Route 53 emulation keeps: checks, changes in flight, and each zone's served records."""

    service = "route53"

    def __init__(self, emulation: Emulation) -> None:
        super().__init__(emulation)
        self._checks: dict[str, HealthCheck] = {}
        self._changes: dict[str, Change] = {}
        self._views: dict[str, list[dict[str, Any]]] = {}  # zone id -> record sets the DNS serves
        self._zones: dict[str, tuple[str, bool]] | None = None  # zone id -> (name, private)
        self._last_insync: dict[str, float] = {}

    def refresh(self) -> None:
        """Forget cached zones and views (after changes made outside the hooked clients)."""
        self._zones = None
        self._views = {z: v for z, v in self._views.items() if self._in_flight(z)}

    def _zone_table(self) -> dict[str, tuple[str, bool]]:
        if self._zones is None:
            zones: dict[str, tuple[str, bool]] = {}
            for page in self.backdoor("us-east-1").get_paginator("list_hosted_zones").paginate():
                for zone in page["HostedZones"]:
                    private = bool(zone.get("Config", {}).get("PrivateZone", False))
                    zones[strip_id(zone["Id"], "/hostedzone/")] = (dns_name(zone["Name"]), private)
            self._zones = zones
        return self._zones

    def _live_records(self, zone_id: str) -> list[dict[str, Any]]:
        paginator = self.backdoor("us-east-1").get_paginator("list_resource_record_sets")
        return [rr for page in paginator.paginate(HostedZoneId=zone_id) for rr in page["ResourceRecordSets"]]

    def _records(self, zone_id: str) -> list[dict[str, Any]]:
        """The record sets the zone's name servers answer from now."""
        if zone_id not in self._views:
            self._views[zone_id] = self._live_records(zone_id)
        return self._views[zone_id]

    def _in_flight(self, zone_id: str) -> bool:
        return any(not c.insync and c.zone_id == zone_id for c in self._changes.values())
