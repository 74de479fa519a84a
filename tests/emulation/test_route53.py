"""Route 53 emulation: health checks, change propagation and DNS answers."""
from __future__ import annotations

import itertools
from collections import Counter
from typing import Any

import botocore.exceptions
import pytest

from pytest_drtest.emulation.core import Endpoint
from pytest_drtest.emulation.route53 import (
    STATUS_FAILURE,
    STATUS_SUCCESS,
    Route53Emulator,
    StubResolver,
)
from pytest_drtest.profile import LatencyProfile

_refs = itertools.count()


@pytest.fixture
def r53(emu_env: Any) -> Route53Emulator:
    emulator = Route53Emulator(emu_env.emulation)
    emu_env.emulation.add(emulator)
    return emulator


@pytest.fixture
def client(emu_env: Any, r53: Route53Emulator) -> Any:
    return emu_env.client("route53", "us-east-1")


def endpoint(emu_env: Any, host: str, region: str = "us-east-1") -> dict[str, bool]:
    """Register ``host`` with a switch: ``flag["up"] = False`` makes it stop answering."""
    flag = {"up": True}
    emu_env.emulation.register_endpoint(Endpoint(host, region, lambda: flag["up"]))
    return flag


def health_check(client: Any, **config: Any) -> str:
    config.setdefault("Type", "HTTP")
    answer = client.create_health_check(CallerReference=f"ref-{next(_refs)}", HealthCheckConfig=config)
    return str(answer["HealthCheck"]["Id"])


def http_check(client: Any, host: str, interval: int = 10, threshold: int = 3, **extra: Any) -> str:
    return health_check(
        client, FullyQualifiedDomainName=host, Port=80, ResourcePath="/", RequestInterval=interval,
        FailureThreshold=threshold, **extra,
    )


def zone(client: Any, name: str = "example.com") -> str:
    answer = client.create_hosted_zone(Name=name, CallerReference=f"zone-{next(_refs)}")
    return str(answer["HostedZone"]["Id"]).split("/")[-1]


def upsert(client: Any, zone_id: str, *records: dict[str, Any]) -> str:
    changes = [{"Action": "UPSERT", "ResourceRecordSet": record} for record in records]
    answer = client.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": changes})
    return str(answer["ChangeInfo"]["Id"])


def a_record(name: str, value: str, ttl: int = 60, **extra: Any) -> dict[str, Any]:
    return {"Name": name, "Type": "A", "TTL": ttl, "ResourceRecords": [{"Value": value}], **extra}


# -- health checks ---------------------------------------------------------------------------------
@pytest.mark.parametrize("interval", [10, 30])
def test_check_turns_unhealthy_after_interval_times_threshold_and_back(
    emu_env: Any, client: Any, r53: Route53Emulator, interval: int
) -> None:
    flag = endpoint(emu_env, "app.example.com")
    check = http_check(client, "app.example.com", interval=interval, threshold=3)
    flag["up"] = False
    emu_env.clock.sleep(3 * interval - 0.5)
    assert r53.healthy(check)  # two failures seen, the third not yet
    emu_env.clock.sleep(0.5)
    assert not r53.healthy(check)
    flag["up"] = True
    emu_env.clock.sleep(3 * interval - 0.5)
    assert not r53.healthy(check)
    emu_env.clock.sleep(0.5)
    assert r53.healthy(check)
    assert r53.transitions(check) == [(3.0 * interval, False), (6.0 * interval, True)]
    assert r53.check_for_host("APP.example.com.") == check


def test_a_blip_shorter_than_the_threshold_does_not_flip(emu_env: Any, client: Any, r53: Route53Emulator) -> None:
    flag = endpoint(emu_env, "app.example.com")
    check = http_check(client, "app.example.com")
    flag["up"] = False
    emu_env.clock.sleep(25)  # failures at 10 and 20
    flag["up"] = True
    emu_env.clock.sleep(100)
    assert r53.healthy(check) and r53.transitions(check) == []


def test_region_loss_makes_the_endpoint_fail_but_not_route53(emu_env: Any, client: Any, r53: Route53Emulator) -> None:
    endpoint(emu_env, "app.example.com", region="us-east-1")
    check = http_check(client, "app.example.com")
    emu_env.emulation.world.lose_region("us-east-1")
    emu_env.clock.sleep(30)
    assert not r53.healthy(check)
    assert client.get_health_check(HealthCheckId=check)["HealthCheck"]["Id"] == check  # global service


def test_get_health_check_status_reports_three_checkers(emu_env: Any, client: Any, r53: Route53Emulator) -> None:
    flag = endpoint(emu_env, "app.example.com")
    check = http_check(client, "app.example.com")
    assert client.get_health_check_status(HealthCheckId=check)["HealthCheckObservations"] == []  # no data yet
    emu_env.clock.sleep(10)
    flag["up"] = False
    emu_env.clock.sleep(15)
    observations = client.get_health_check_status(HealthCheckId=check)["HealthCheckObservations"]
    assert [o["Region"] for o in observations] == ["us-east-1", "us-west-2", "eu-west-1"]
    assert {o["StatusReport"]["Status"] for o in observations} == {STATUS_FAILURE}
    assert {o["StatusReport"]["CheckedTime"] for o in observations} == {emu_env.clock.datetime(20)}
    flag["up"] = True
    emu_env.clock.sleep(5)
    status = client.get_health_check_status(HealthCheckId=check)["HealthCheckObservations"][0]["StatusReport"]
    assert status == {"Status": STATUS_SUCCESS, "CheckedTime": emu_env.clock.datetime(30)}


def test_inverted_check_is_unhealthy_while_new_and_healthy_when_the_endpoint_fails(
    emu_env: Any, client: Any, r53: Route53Emulator
) -> None:
    flag = endpoint(emu_env, "app.example.com")
    check = http_check(client, "app.example.com", Inverted=True)
    assert not r53.healthy(check)
    flag["up"] = False
    emu_env.clock.sleep(30)
    assert r53.healthy(check)
    assert r53.transitions(check) == [(30.0, True)]


def test_disabled_check_is_healthy_and_inverting_it_forces_unhealthy(
    emu_env: Any, client: Any, r53: Route53Emulator
) -> None:
    flag = endpoint(emu_env, "app.example.com")
    check = http_check(client, "app.example.com")
    flag["up"] = False
    emu_env.clock.sleep(30)
    assert not r53.healthy(check)
    client.update_health_check(HealthCheckId=check, Disabled=True)
    assert r53.healthy(check)
    emu_env.clock.sleep(300)
    assert r53.healthy(check)
    client.update_health_check(HealthCheckId=check, Inverted=True)
    assert not r53.healthy(check)
    client.update_health_check(HealthCheckId=check, Disabled=False, Inverted=False)
    assert r53.healthy(check)  # checking again from scratch: healthy until data
    emu_env.clock.sleep(30)
    assert not r53.healthy(check)
    assert r53.transitions(check) == [(30.0, False), (30.0, True), (330.0, False), (330.0, True), (360.0, False)]


def test_failure_threshold_update_applies_to_the_next_observations(
    emu_env: Any, client: Any, r53: Route53Emulator
) -> None:
    flag = endpoint(emu_env, "app.example.com")
    check = http_check(client, "app.example.com")
    client.update_health_check(HealthCheckId=check, FailureThreshold=1)
    flag["up"] = False
    emu_env.clock.sleep(10)
    assert r53.transitions(check) == [(10.0, False)]


def test_calculated_check_counts_healthy_children_and_disabled_ones(
    emu_env: Any, client: Any, r53: Route53Emulator
) -> None:
    flags = [endpoint(emu_env, f"app{i}.example.com") for i in range(3)]
    children = [http_check(client, f"app{i}.example.com") for i in range(3)]
    parent = health_check(client, Type="CALCULATED", ChildHealthChecks=children, HealthThreshold=2)
    always = health_check(client, Type="CALCULATED", ChildHealthChecks=children, HealthThreshold=0)
    never = health_check(client, Type="CALCULATED", ChildHealthChecks=children, HealthThreshold=4)
    assert r53.healthy(parent) and r53.healthy(always) and not r53.healthy(never)
    flags[0]["up"] = flags[1]["up"] = False
    emu_env.clock.sleep(30)
    assert not r53.healthy(parent)
    assert r53.transitions(parent) == [(30.0, False)]
    client.update_health_check(HealthCheckId=children[1], Disabled=True)  # a disabled child counts healthy
    assert r53.healthy(parent)
    assert r53.healthy(always) and not r53.healthy(never)


def test_deleted_check_stops_observing(emu_env: Any, client: Any, r53: Route53Emulator) -> None:
    flag = endpoint(emu_env, "app.example.com")
    check = http_check(client, "app.example.com")
    client.delete_health_check(HealthCheckId=check)
    flag["up"] = False
    emu_env.clock.sleep(60)
    assert r53.transitions(check) == []
    assert r53.check_for_host("app.example.com") is None


# -- answers -----------------------------------------------------------------------------------------
def failover_pair(client: Any, zone_id: str, primary_check: str | None, secondary_check: str | None) -> None:
    primary = a_record("www.example.com", "10.0.0.1", SetIdentifier="p", Failover="PRIMARY")
    secondary = a_record("www.example.com", "10.0.1.1", SetIdentifier="s", Failover="SECONDARY")
    if primary_check:
        primary["HealthCheckId"] = primary_check
    if secondary_check:
        secondary["HealthCheckId"] = secondary_check
    upsert(client, zone_id, primary, secondary)


def test_failover_answers(emu_env: Any, client: Any, r53: Route53Emulator) -> None:
    up = endpoint(emu_env, "primary.example.com"), endpoint(emu_env, "secondary.example.com", "us-west-2")
    checks = http_check(client, "primary.example.com"), http_check(client, "secondary.example.com")
    zone_id = zone(client)
    failover_pair(client, zone_id, *checks)
    emu_env.clock.sleep(60)  # INSYNC
    assert r53.resolve("www.example.com").values == ["10.0.0.1"]
    up[0]["up"] = False
    emu_env.clock.sleep(30)
    assert r53.resolve("www.example.com").values == ["10.0.1.1"]
    up[1]["up"] = False
    emu_env.clock.sleep(30)
    answer = r53.resolve("www.example.com.")
    assert answer.values == ["10.0.0.1"]  # both unhealthy: PRIMARY
    assert answer.record is not None and answer.record["SetIdentifier"] == "p" and answer.ttl == 60.0


def test_failover_to_a_secondary_without_check(emu_env: Any, client: Any, r53: Route53Emulator) -> None:
    flag = endpoint(emu_env, "primary.example.com")
    zone_id = zone(client)
    failover_pair(client, zone_id, http_check(client, "primary.example.com"), None)
    flag["up"] = False
    emu_env.clock.sleep(60)
    assert r53.resolve("www.example.com").values == ["10.0.1.1"]


def weighted_zone(client: Any, weights: dict[str, int], checks: dict[str, str] | None = None) -> str:
    zone_id = zone(client)
    records = []
    for value, weight in weights.items():
        record = a_record("api.example.com", value, SetIdentifier=value, Weight=weight)
        if checks and value in checks:
            record["HealthCheckId"] = checks[value]
        records.append(record)
    upsert(client, zone_id, *records)
    return zone_id


def test_weighted_distribution_is_deterministic_per_seed(emu_env: Any, client: Any, r53: Route53Emulator) -> None:
    weighted_zone(client, {"10.0.0.1": 3, "10.0.0.2": 1})
    emu_env.clock.sleep(60)

    def draws(seed: int) -> list[str]:
        emu_env.emulation.profile = LatencyProfile(seed=seed)
        return [r53.resolve("api.example.com").values[0] for _ in range(400)]

    first = draws(7)
    assert draws(7) == first
    assert draws(8) != first
    share = Counter(first)["10.0.0.1"] / len(first)
    assert 0.68 < share < 0.82


def test_weighted_zero_weight_only_when_the_others_are_unhealthy(
    emu_env: Any, client: Any, r53: Route53Emulator
) -> None:
    flag = endpoint(emu_env, "w1.example.com")
    endpoint(emu_env, "w0.example.com")
    checks = {"10.0.0.1": http_check(client, "w1.example.com"), "10.0.0.9": http_check(client, "w0.example.com")}
    weighted_zone(client, {"10.0.0.1": 10, "10.0.0.9": 0}, checks)
    emu_env.clock.sleep(60)
    assert {r53.resolve("api.example.com").values[0] for _ in range(50)} == {"10.0.0.1"}
    flag["up"] = False
    emu_env.clock.sleep(30)
    assert {r53.resolve("api.example.com").values[0] for _ in range(50)} == {"10.0.0.9"}


def test_weighted_all_unhealthy_answers_as_if_all_healthy(emu_env: Any, client: Any, r53: Route53Emulator) -> None:
    flags = endpoint(emu_env, "a.example.com"), endpoint(emu_env, "b.example.com")
    checks = {"10.0.0.1": http_check(client, "a.example.com"), "10.0.0.2": http_check(client, "b.example.com")}
    weighted_zone(client, {"10.0.0.1": 1, "10.0.0.2": 1}, checks)
    flags[0]["up"] = flags[1]["up"] = False
    emu_env.clock.sleep(60)
    assert {r53.resolve("api.example.com").values[0] for _ in range(60)} == {"10.0.0.1", "10.0.0.2"}


def test_latency_answers_the_client_region_then_the_nearest_healthy(
    emu_env: Any, client: Any, r53: Route53Emulator
) -> None:
    flag = endpoint(emu_env, "eu.example.com", "eu-west-1")
    zone_id = zone(client)
    upsert(
        client, zone_id,
        a_record("lat.example.com", "1.0.0.1", SetIdentifier="use1", Region="us-east-1"),
        a_record("lat.example.com", "3.0.0.1", SetIdentifier="euw1", Region="eu-west-1",
                 HealthCheckId=http_check(client, "eu.example.com")),
        a_record("lat.example.com", "5.0.0.1", SetIdentifier="apse1", Region="ap-southeast-1"),
    )
    emu_env.clock.sleep(60)
    assert r53.resolve("lat.example.com", client_region="eu-west-1").values == ["3.0.0.1"]
    assert r53.resolve("lat.example.com", client_region="eu-central-1").values == ["3.0.0.1"]  # nearest
    assert r53.resolve("lat.example.com", client_region="ap-northeast-1").values == ["5.0.0.1"]
    assert r53.resolve("lat.example.com", client_region="us-west-2").values == ["1.0.0.1"]
    flag["up"] = False
    emu_env.clock.sleep(30)
    assert r53.resolve("lat.example.com", client_region="eu-west-1").values == ["1.0.0.1"]  # next nearest


def test_alias_with_evaluate_target_health(emu_env: Any, client: Any, r53: Route53Emulator) -> None:
    alb = endpoint(emu_env, "my-alb-1.us-east-1.elb.amazonaws.com")
    dr = endpoint(emu_env, "dr.example.com", "us-west-2")
    zone_id = zone(client)
    upsert(
        client, zone_id,
        {"Name": "app.example.com", "Type": "A", "SetIdentifier": "p", "Failover": "PRIMARY",
         "AliasTarget": {"HostedZoneId": "Z35SXDOTRQ7X7K", "DNSName": "My-ALB-1.us-east-1.elb.amazonaws.com.",
                         "EvaluateTargetHealth": True}},
        a_record("app.example.com", "10.0.1.1", SetIdentifier="s", Failover="SECONDARY"),
        a_record("dr.example.com", "10.0.9.9", HealthCheckId=http_check(client, "dr.example.com")),
        {"Name": "edge.example.com", "Type": "A", "SetIdentifier": "p", "Failover": "PRIMARY",
         "AliasTarget": {"HostedZoneId": zone_id, "DNSName": "dr.example.com", "EvaluateTargetHealth": True}},
        a_record("edge.example.com", "10.0.2.2", SetIdentifier="s", Failover="SECONDARY"),
    )
    emu_env.clock.sleep(60)
    answer = r53.resolve("app.example.com")
    assert (answer.values, answer.ttl) == (["my-alb-1.us-east-1.elb.amazonaws.com"], 60.0)
    assert r53.resolve("edge.example.com").values == ["dr.example.com"]
    alb["up"] = False  # the alias takes the ALB's health at once (no check interval of its own)
    assert r53.resolve("app.example.com").values == ["10.0.1.1"]
    dr["up"] = False  # the alias to records in the zone follows their health check
    emu_env.clock.sleep(30)
    assert r53.resolve("edge.example.com").values == ["10.0.2.2"]


def test_unknown_names_get_an_empty_answer(emu_env: Any, client: Any, r53: Route53Emulator) -> None:
    zone_id = zone(client)
    upsert(client, zone_id, a_record("www.example.com", "10.0.0.1"))
    emu_env.clock.sleep(60)
    assert r53.resolve("nope.example.com").rcode == "NXDOMAIN"
    assert r53.resolve("nope.example.com").values == []
    assert r53.resolve("www.example.com", "AAAA").rcode == "NOERROR"
    assert r53.resolve("www.example.org").rcode == "NXDOMAIN"


# -- changes and propagation ---------------------------------------------------------------------------
def test_change_is_pending_until_insync_and_the_answer_changes_only_then(
    emu_env: Any, client: Any, r53: Route53Emulator
) -> None:
    emu_env.profile.override("route53_change_propagation", 45, origin="test")
    zone_id = zone(client)
    upsert(client, zone_id, a_record("www.example.com", "10.0.0.1"))
    emu_env.clock.sleep(45)
    start = emu_env.clock.now()
    change_id = upsert(client, zone_id, a_record("www.example.com", "10.0.0.2"))
    assert client.get_change(Id=change_id)["ChangeInfo"]["Status"] == "PENDING"
    emu_env.clock.sleep(44.9)
    assert r53.resolve("www.example.com").values == ["10.0.0.1"]
    emu_env.clock.sleep(0.1)
    assert r53.resolve("www.example.com").values == ["10.0.0.2"]
    info = client.get_change(Id=change_id)["ChangeInfo"]
    assert (info["Status"], info["SubmittedAt"]) == ("INSYNC", emu_env.clock.datetime(start))


def test_waiter_finishes_at_the_first_poll_after_insync(emu_env: Any, client: Any, r53: Route53Emulator) -> None:
    emu_env.profile.override("route53_change_propagation", 45, origin="test")
    zone_id = zone(client)
    emu_env.clock.sleep(45)
    change_id = upsert(client, zone_id, a_record("www.example.com", "10.0.0.1"))
    start = emu_env.clock.now()
    client.get_waiter("resource_record_sets_changed").wait(Id=change_id)
    assert emu_env.clock.now() - start == 60.0  # polls at 0, 30 (PENDING) and 60 (INSYNC)
    assert r53.resolve("www.example.com").values == ["10.0.0.1"]


def test_two_changes_in_flight_become_visible_in_order(emu_env: Any, client: Any, r53: Route53Emulator) -> None:
    emu_env.profile.override("route53_change_propagation", 30, origin="test")
    zone_id = zone(client)
    first = upsert(client, zone_id, a_record("www.example.com", "10.0.0.1"))
    emu_env.clock.sleep(10)
    second = upsert(client, zone_id, a_record("www.example.com", "10.0.0.2"))
    assert first != second
    emu_env.clock.sleep(20)
    assert r53.resolve("www.example.com").values == ["10.0.0.1"]
    emu_env.clock.sleep(10)
    assert r53.resolve("www.example.com").values == ["10.0.0.2"]


def test_record_naming_an_unknown_health_check_is_rejected(emu_env: Any, client: Any, r53: Route53Emulator) -> None:
    zone_id = zone(client)
    with pytest.raises(client.exceptions.NoSuchHealthCheck):
        upsert(client, zone_id, a_record("www.example.com", "10.0.0.1", SetIdentifier="p", Failover="PRIMARY",
                                         HealthCheckId="00000000-0000-0000-0000-000000000000"))


def test_stub_resolver_caches_for_the_ttl(emu_env: Any, client: Any, r53: Route53Emulator) -> None:
    emu_env.profile.override("route53_change_propagation", 1, origin="test")
    zone_id = zone(client)
    upsert(client, zone_id, a_record("www.example.com", "10.0.0.1", ttl=60))
    emu_env.clock.sleep(1)
    resolver = StubResolver(r53, emu_env.clock, "us-east-1")
    assert resolver.lookup("www.example.com") == ["10.0.0.1"]  # cached until t = 61
    upsert(client, zone_id, a_record("www.example.com", "10.0.0.2", ttl=60))
    emu_env.clock.sleep(59.9)
    assert resolver.lookup("www.example.com") == ["10.0.0.1"]
    emu_env.clock.sleep(0.1)
    assert resolver.lookup("www.example.com") == ["10.0.0.2"]
    upsert(client, zone_id, a_record("www.example.com", "10.0.0.3", ttl=60))
    emu_env.clock.sleep(1)
    resolver.flush()
    assert resolver.lookup("WWW.example.com.") == ["10.0.0.3"]


def test_test_dns_answer(emu_env: Any, client: Any, r53: Route53Emulator) -> None:
    zone_id = zone(client)
    upsert(client, zone_id, a_record("www.example.com", "10.0.0.1"))
    emu_env.clock.sleep(60)
    answer = client.test_dns_answer(HostedZoneId=zone_id, RecordName="www.example.com", RecordType="A")
    answer.pop("ResponseMetadata")
    assert answer == {
        "Nameserver": "ns-2048.awsdns-64.com",
        "RecordName": "www.example.com",
        "RecordType": "A",
        "RecordData": ["10.0.0.1"],
        "ResponseCode": "NOERROR",
        "Protocol": "UDP",
    }
    missing = client.test_dns_answer(HostedZoneId=zone_id, RecordName="nope.example.com", RecordType="A")
    assert (missing["ResponseCode"], missing["RecordData"]) == ("NXDOMAIN", [])
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        client.test_dns_answer(HostedZoneId="ZNOSUCHZONE", RecordName="www.example.com", RecordType="A")
    assert caught.value.response["Error"]["Code"] == "NoSuchHostedZone"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
