"""Health-aware DNS answers: which record Route 53 answers now.

[R53-DG:health-checks-how-route-53-chooses-records]: failover answers PRIMARY while it is healthy,
else a healthy SECONDARY, else PRIMARY; weighted records draw among the healthy ones (zero weights
only when nothing else is healthy); latency records give way to the next nearest healthy region;
an alias with ``EvaluateTargetHealth`` takes its target's health. moto gives no DNS answers.
"""
from __future__ import annotations

from typing import Any

import botocore.exceptions

from pytest_drtest.emulation.core import AwsError, Call
from pytest_drtest.emulation.route53.models import (
    ALIAS_TTL,
    Answer,
    Route53Model,
    dns_name,
    region_distance,
    strip_id,
)


class Answers(Route53Model):
    """:meth:`resolve` and ``TestDNSAnswer`` (which moto lacks), from the records the zone serves now."""

    def resolve(self, name: str, rtype: str = "A", client_region: str = "us-east-1") -> Answer:
        """The answer Route 53 gives now for ``name``/``rtype`` to a client in ``client_region``."""
        fqdn = dns_name(name)
        zone_id = self._zone_for(fqdn)
        if zone_id is None:
            return Answer([], 0.0, None, "NXDOMAIN")
        return self._answer(zone_id, fqdn, rtype.upper(), client_region)

    def before_TestDNSAnswer(self, call: Call) -> dict[str, Any]:
        """What a name server of the zone answers now ([BC:route53] TestDNSAnswer; moto lacks it)."""
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

    def _zone_for(self, name: str) -> str | None:
        """The most specific hosted zone holding ``name`` (a public one over a private one)."""
        best: tuple[int, bool, str] | None = None
        for zone_id, (zone_name, private) in self._zone_table().items():
            if name == zone_name or name.endswith("." + zone_name):
                rank = (len(zone_name), not private, zone_id)
                if best is None or rank > best:
                    best = rank
        return best[2] if best else None

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

        [R53-DG:health-checks-how-route-53-chooses-records]
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
            rng = self.profile.rng(f"route53.weighted:{candidates[0]['Name']}:{candidates[0]['Type']}")
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
