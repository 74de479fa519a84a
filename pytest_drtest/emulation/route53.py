"""Route 53: health checks that observe endpoints, change propagation and health-aware DNS answers.

moto stores health checks and routing policies but every check reports ``Success``, there is no
DNS answer and ``GetChange`` says ``INSYNC`` at once (``shared/NOTES.md``). This emulator adds,
following ``shared/AWS-SEMANTICS.md`` §3:

- health checks observed every ``RequestInterval`` seconds on the clock, flipping after
  ``FailureThreshold`` consecutive opposite results; ``Inverted``, ``Disabled`` and ``CALCULATED``;
- ``ChangeResourceRecordSets`` changes that the DNS view shows only once ``INSYNC``
  (``route53_change_propagation``), with ``GetChange`` reporting ``PENDING`` until then;
- :meth:`Route53Emulator.resolve`: the record Route 53 would answer now (simple, failover,
  weighted, latency, alias with ``EvaluateTargetHealth``), and ``TestDNSAnswer`` built on it;
- :class:`StubResolver`: a client-side cache that keeps each answer for its TTL.

Route 53 is a global service: a regional outage does not cut it off (the hub exempts it).
"""
from __future__ import annotations

import math
import string
from dataclasses import dataclass, field
from typing import Any

import botocore.exceptions

from pytest_drtest.clock import Clock, Scheduled
from pytest_drtest.emulation.core import AwsError, Call, ServiceEmulator

#: Checker regions reported by ``GetHealthCheckStatus``, with an address from each region's published
#: ``ROUTE53_HEALTHCHECKS`` range of ip-ranges.json (the addresses are illustrative).
CHECKERS: tuple[tuple[str, str], ...] = (
    ("us-east-1", "54.243.31.193"),
    ("us-west-2", "54.244.52.193"),
    ("eu-west-1", "54.228.16.1"),
)

#: Status texts seen on AWS (AWS-SEMANTICS §3.3; free text, third-party captures).
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
    return value[len(prefix):] if value.startswith(prefix) else value


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
    measured_healthy: bool = True  # the checkers' verdict; a new check is healthy until data (§3.2)
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


class Route53Emulator(ServiceEmulator):
    """Health checks on the clock, change propagation and health-aware answers."""

    service = "route53"

    def __init__(self, emulation: Any) -> None:
        super().__init__(emulation)
        self._checks: dict[str, HealthCheck] = {}
        self._changes: dict[str, Change] = {}
        self._views: dict[str, list[dict[str, Any]]] = {}  # zone id -> record sets the DNS serves
        self._zones: dict[str, tuple[str, bool]] | None = None  # zone id -> (name, private)
        self._last_insync: dict[str, float] = {}
        self._timers: list[Scheduled] = []

    # -- public API: health -----------------------------------------------------------------
    def healthy(self, check_id: str) -> bool:
        """The check's status as Route 53 uses it for routing now (KeyError if unknown)."""
        return self._checks[check_id].reported

    def transitions(self, check_id: str) -> list[tuple[float, bool]]:
        """Every status change after creation: ``(clock time, healthy)``."""
        return list(self._checks[check_id].transitions)

    def check_for_host(self, host: str) -> str | None:
        """The id of the (first live) health check that watches ``host``."""
        wanted = dns_name(host)
        for check in self._checks.values():
            if not check.deleted and check.host == wanted:
                return check.check_id
        return None

    # -- health checks ------------------------------------------------------------------------
    def after_CreateHealthCheck(self, call: Call) -> None:
        assert call.parsed is not None
        check_id = call.parsed["HealthCheck"]["Id"]
        if check_id in self._checks:
            return  # same CallerReference and config: AWS returns the existing check
        config = dict(call.params.get("HealthCheckConfig", {}))
        check = HealthCheck(
            check_id=check_id,
            config=config,
            created_at=self.clock.now(),
            # Defaults from the Route 53 developer guide: RequestInterval 30 s, FailureThreshold 3.
            interval=float(config.get("RequestInterval") or self.profile.value("route53_health_check_interval")),
            failure_threshold=int(config.get("FailureThreshold") or self.profile.value("route53_failure_threshold")),
        )
        check.reported = self._status(check)  # an inverted new check starts unhealthy (§3.2)
        self._checks[check_id] = check
        self._start_observing(check)
        self._refresh()

    def after_UpdateHealthCheck(self, call: Call) -> None:
        check = self._checks.get(call.params["HealthCheckId"])
        if check is None:
            return
        was_disabled = check.disabled
        for key, value in call.params.items():
            if key not in ("HealthCheckId", "HealthCheckVersion", "ResetElements"):
                check.config[key] = value
        for element in call.params.get("ResetElements", []):
            check.config.pop(element, None)
        if "FailureThreshold" in call.params:
            check.failure_threshold = int(call.params["FailureThreshold"])
        if check.disabled != was_disabled:
            if check.timer is not None:
                check.timer.cancel()
                check.timer = None
            if not check.disabled:
                # Checking starts again from scratch: healthy until data, first result one interval later.
                check.measured_healthy, check.streak = True, 0
                self._start_observing(check)
        self._refresh()

    def after_DeleteHealthCheck(self, call: Call) -> None:
        check = self._checks.get(call.params["HealthCheckId"])
        if check is not None:
            check.deleted = True
            if check.timer is not None:
                check.timer.cancel()
                check.timer = None
            self._refresh()

    def _start_observing(self, check: HealthCheck) -> None:
        if check.disabled or check.host is None or check.kind == "CALCULATED":
            return
        check.timer = self.clock.every(
            check.interval, lambda: self._observe(check), name=f"route53 health check {check.check_id}"
        )

    def _observe(self, check: HealthCheck) -> None:
        """One round of the checkers: the status flips after FailureThreshold opposite results. §3.1"""
        assert check.host is not None
        result = self.emulation.endpoint_healthy(check.host)
        check.last_result, check.last_observed_at = result, self.clock.now()
        if result == check.measured_healthy:
            check.streak = 0
        else:
            check.streak += 1
            if check.streak >= check.failure_threshold:
                check.measured_healthy, check.streak = result, 0
        self._refresh()

    def _status(self, check: HealthCheck) -> bool:
        """The status Route 53 routes on.

        Disabled: always healthy, and Inverted still applies ("in disabled state, you can also
        invert the status", [BC:route53] UpdateHealthCheck Disabled). CALCULATED: healthy when at
        least HealthThreshold children are (0 = always healthy; above the child count = never);
        a disabled child counts as healthy. [R53-DG:health-checks-creating-values]
        """
        if check.deleted:
            return check.reported
        if check.disabled:
            base = True
        elif check.kind == "CALCULATED":
            # Children are never CALCULATED themselves, and _refresh settles them first.
            children = [self._checks.get(child) for child in check.config.get("ChildHealthChecks", [])]
            healthy_children = sum(
                1
                for child in children
                if child is not None and not child.deleted and (child.disabled or child.reported)
            )
            base = healthy_children >= int(check.config.get("HealthThreshold", 1))
        else:
            base = check.measured_healthy
        return base != check.inverted

    def _refresh(self) -> None:
        """Re-derive every status (children first) and record the flips with their clock times."""
        now = self.clock.now()
        ordered = sorted(self._checks.values(), key=lambda c: c.kind == "CALCULATED")
        for check in ordered:
            status = self._status(check)
            if status != check.reported:
                check.reported = status
                check.transitions.append((now, status))

    def after_GetHealthCheckStatus(self, call: Call) -> None:
        """One observation per checker region, with the last result and its clock time. §3.3"""
        assert call.parsed is not None
        check = self._checks.get(call.params["HealthCheckId"])
        if check is None:
            return
        observations: list[dict[str, Any]] = []
        if check.last_observed_at is not None and check.last_result is not None:
            status = STATUS_SUCCESS if check.last_result else STATUS_FAILURE
            checked = self.clock.datetime(check.last_observed_at)
            observations = [
                {"Region": region, "IPAddress": ip, "StatusReport": {"Status": status, "CheckedTime": checked}}
                for region, ip in CHECKERS
            ]
        call.parsed["HealthCheckObservations"] = observations

    # -- zones, changes and propagation -------------------------------------------------------
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

    def refresh(self) -> None:
        """Forget cached zones and views (after changes made outside the hooked clients)."""
        self._zones = None
        self._views = {z: v for z, v in self._views.items() if self._in_flight(z)}

    def _in_flight(self, zone_id: str) -> bool:
        return any(not c.insync and c.zone_id == zone_id for c in self._changes.values())

    def _new_change(self, zone_id: str, comment: str | None) -> Change:
        """A change id like AWS's, and its INSYNC time: in order per zone. [BC:route53] ChangeInfo"""
        now = self.clock.now()
        rng = self.profile.rng("route53.change_ids")
        change_id = "C" + "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(20))
        insync_at = max(
            now + self.profile.sample("route53_change_propagation", stream="route53.propagation"),
            self._last_insync.get(zone_id, now),
        )
        self._last_insync[zone_id] = insync_at
        change = Change(change_id, zone_id, now, insync_at, comment)
        self._changes[change_id] = change
        return change

    def _change_info(self, change: Change) -> dict[str, Any]:
        info: dict[str, Any] = {
            "Id": f"/change/{change.change_id}",
            "Status": "INSYNC" if change.insync else "PENDING",
            "SubmittedAt": self.clock.datetime(change.submitted_at),
        }
        if change.comment:
            info["Comment"] = change.comment
        return info

    def before_ChangeResourceRecordSets(self, call: Call) -> None:
        """Keep what the DNS serves now; reject records naming unknown health checks. §3.5"""
        zone_id = strip_id(call.params["HostedZoneId"], "/hostedzone/")
        for change in call.params.get("ChangeBatch", {}).get("Changes", []):
            check_id = change.get("ResourceRecordSet", {}).get("HealthCheckId")
            if check_id and change.get("Action") != "DELETE" and check_id not in self._checks:
                try:
                    self.backdoor("us-east-1").get_health_check(HealthCheckId=check_id)
                except botocore.exceptions.ClientError:
                    raise AwsError("NoSuchHealthCheck", "No health check exists with the specified ID.", 404) from None
        try:
            self._records(zone_id)
        except botocore.exceptions.ClientError:
            return None  # unknown zone: moto answers NoSuchHostedZone
        return None

    def after_ChangeResourceRecordSets(self, call: Call) -> None:
        """PENDING until the modeled propagation ends; the DNS view switches at INSYNC."""
        assert call.parsed is not None
        zone_id = strip_id(call.params["HostedZoneId"], "/hostedzone/")
        # The zone right after this change: installed at its INSYNC time. Reading it now (not at
        # INSYNC) keeps a later change from showing through early when two are in flight.
        snapshot = self._live_records(zone_id)
        change = self._new_change(zone_id, call.params.get("ChangeBatch", {}).get("Comment"))
        call.parsed["ChangeInfo"] = self._change_info(change)
        self._timers.append(
            self.clock.call_at(
                change.insync_at, lambda: self._sync(change, snapshot), name=f"route53 {change.change_id}"
            )
        )

    def _sync(self, change: Change, snapshot: list[dict[str, Any]] | None) -> None:
        change.insync = True
        if snapshot is not None:
            self._views[change.zone_id] = snapshot

    def after_CreateHostedZone(self, call: Call) -> None:
        assert call.parsed is not None
        self._zones = None
        zone_id = strip_id(call.parsed["HostedZone"]["Id"], "/hostedzone/")
        change = self._new_change(zone_id, None)
        call.parsed["ChangeInfo"] = self._change_info(change)
        self._timers.append(self.clock.call_at(change.insync_at, lambda: self._sync(change, None)))

    def after_DeleteHostedZone(self, call: Call) -> None:
        self._zones = None
        self._views.pop(strip_id(call.params["Id"], "/hostedzone/"), None)

    def after_GetChange(self, call: Call) -> None:
        """PENDING until the change's INSYNC time on the clock (moto: always INSYNC)."""
        assert call.parsed is not None
        change = self._changes.get(strip_id(call.params["Id"], "/change/"))
        if change is not None:
            call.parsed["ChangeInfo"] = self._change_info(change)

    # -- answers --------------------------------------------------------------------------------
    def _zone_for(self, name: str) -> str | None:
        """The most specific hosted zone holding ``name`` (a public one over a private one)."""
        best: tuple[int, bool, str] | None = None
        for zone_id, (zone_name, private) in self._zone_table().items():
            if name == zone_name or name.endswith("." + zone_name):
                rank = (len(zone_name), not private, zone_id)
                if best is None or rank > best:
                    best = rank
        return best[2] if best else None

    def resolve(self, name: str, rtype: str = "A", client_region: str = "us-east-1") -> Answer:
        """The answer Route 53 gives now for ``name``/``rtype`` to a client in ``client_region``. §3.4"""
        fqdn = dns_name(name)
        zone_id = self._zone_for(fqdn)
        if zone_id is None:
            return Answer([], 0.0, None, "NXDOMAIN")
        return self._answer(zone_id, fqdn, rtype.upper(), client_region)

    def _answer(self, zone_id: str, fqdn: str, rtype: str, client_region: str) -> Answer:
        records = self._records(zone_id)
        at_name = [rr for rr in records if dns_name(rr["Name"]) == fqdn]
        if not at_name and "." in fqdn:
            wildcard = "*." + fqdn.split(".", 1)[1]
            at_name = [rr for rr in records if dns_name(rr["Name"]) == wildcard]
        candidates = [rr for rr in at_name if rr["Type"] == rtype]
        if not candidates and rtype != "CNAME":
            candidates = [rr for rr in at_name if rr["Type"] == "CNAME"]  # the CNAME itself, not chased
        if not candidates:
            return Answer([], 0.0, None, "NOERROR" if at_name else "NXDOMAIN")
        chosen = self._choose(zone_id, candidates, client_region)
        alias = chosen.get("AliasTarget")
        if alias:
            return Answer([dns_name(alias["DNSName"])], ALIAS_TTL, chosen)
        values = [value["Value"] for value in chosen.get("ResourceRecords", [])]
        return Answer(values, float(chosen.get("TTL", 0)), chosen)

    def _choose(self, zone_id: str, candidates: list[dict[str, Any]], client_region: str) -> dict[str, Any]:
        """The record set that answers, by routing policy and health.

        [R53-DG:health-checks-how-route-53-chooses-records]; AWS-SEMANTICS §3.4
        """

        def healthy(record: dict[str, Any]) -> bool:
            return self._record_healthy(zone_id, record)

        if any("Failover" in rr for rr in candidates):
            primary = next((rr for rr in candidates if rr.get("Failover") == "PRIMARY"), None)
            secondary = next((rr for rr in candidates if rr.get("Failover") == "SECONDARY"), None)
            if primary is not None and healthy(primary):
                return primary
            if secondary is not None and healthy(secondary):
                return secondary  # a SECONDARY without a check counts healthy: always taken here
            return primary or secondary or candidates[0]  # both unhealthy: PRIMARY
        if any("Weight" in rr for rr in candidates):
            # Zero weights only when every non-zero record is unhealthy; all unhealthy = all healthy.
            pool = [rr for rr in candidates if healthy(rr)] or candidates
            weighted = [rr for rr in pool if int(rr.get("Weight", 0)) > 0]
            rng = self.profile.rng("route53.weighted")
            if not weighted:
                return pool[rng.randrange(len(pool))]  # every weight 0: equal shares
            point = rng.random() * sum(int(rr["Weight"]) for rr in weighted)
            for rr in weighted:
                point -= int(rr["Weight"])
                if point < 0:
                    return rr
            return weighted[-1]
        if any("Region" in rr for rr in candidates):
            # Lowest latency first; an unhealthy record gives way to the next nearest healthy one.
            ordered = sorted(
                candidates,
                key=lambda rr: (region_distance(client_region, rr.get("Region", "")), rr.get("Region", "")),
            )
            return next((rr for rr in ordered if healthy(rr)), ordered[0])
        # Simple (or a policy not modeled: geolocation, multivalue, ...): the first healthy record.
        return next((rr for rr in candidates if healthy(rr)), candidates[0])

    def _record_healthy(self, zone_id: str, record: dict[str, Any], depth: int = 0) -> bool:
        """A record's health: its check (none = healthy) and, for ETH aliases, the target's too."""
        check_id = record.get("HealthCheckId")
        if check_id and check_id in self._checks and not self._checks[check_id].reported:
            return False
        alias = record.get("AliasTarget")
        if not alias or not alias.get("EvaluateTargetHealth") or depth > 8:
            return True
        target = dns_name(alias["DNSName"])
        target_zone = strip_id(alias.get("HostedZoneId", ""), "/hostedzone/")
        zone = target_zone if target_zone in self._zone_table() else zone_id
        in_zone = [
            rr for rr in self._records(zone) if dns_name(rr["Name"]) == target and rr["Type"] == record["Type"]
        ]
        if in_zone or target_zone in self._zone_table():
            # Alias to records in a hosted zone: healthy while at least one of them is.
            # [BC:route53] AliasTarget.EvaluateTargetHealth
            return any(self._record_healthy(zone, rr, depth + 1) for rr in in_zone)
        return self.emulation.endpoint_healthy(target)

    def before_TestDNSAnswer(self, call: Call) -> dict[str, Any]:
        """What a name server of the zone answers now (moto lacks TestDNSAnswer). §3.5"""
        zone_id = strip_id(call.params["HostedZoneId"], "/hostedzone/")
        try:
            zone = self.backdoor("us-east-1").get_hosted_zone(Id=zone_id)
        except botocore.exceptions.ClientError:
            raise AwsError("NoSuchHostedZone", f"No hosted zone found with ID: {zone_id}", 404) from None
        name_servers = (zone.get("DelegationSet") or {}).get("NameServers") or ["ns-0.awsdns-00.com"]
        # The resolver's location is not modeled: latency records answer as for us-east-1.
        name, rtype = dns_name(call.params["RecordName"]), call.params["RecordType"].upper()
        answer = self._answer(zone_id, name, rtype, "us-east-1")
        return {
            "Nameserver": name_servers[0],
            "RecordName": call.params["RecordName"],
            "RecordType": call.params["RecordType"],
            "RecordData": answer.values,
            "ResponseCode": answer.rcode,
            "Protocol": "UDP",
        }

    # -- teardown ---------------------------------------------------------------------------------
    def close(self) -> None:
        for check in self._checks.values():
            if check.timer is not None:
                check.timer.cancel()
                check.timer = None
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()


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
