"""The emulated world on 127.0.0.0/8: other processes, refused connections, DNS, clean teardown."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import dns.message
import dns.query
import dns.rdatatype
import pytest

from pytest_drtest import faults
from pytest_drtest.errors import DrConfigError
from pytest_drtest.harness import Harness
from pytest_drtest.settings import Settings
from tests.gateway.conftest import small_blueprint


def _python(dr: Harness, region: str, code: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **dr.env(region), "AWS_MAX_ATTEMPTS": "1"}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True, timeout=60,
                          check=False)


def _refused(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, port)) != 0


def test_boto3_in_another_process_and_in_the_test_see_one_world(world: Harness) -> None:
    ddb = world.client("dynamodb")
    ddb.create_table(TableName="t", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
    ddb.put_item(TableName="t", Item={"pk": {"S": "from-test"}})
    world.clock.sleep("1h")
    done = _python(world, "primary", """
        import boto3
        ddb = boto3.client("dynamodb")
        print(ddb.get_item(TableName="t", Key={"pk": {"S": "from-test"}})["Item"]["pk"]["S"])
        ddb.put_item(TableName="t", Item={"pk": {"S": "from-child"}})
        print(ddb.describe_table(TableName="t")["Table"]["CreationDateTime"].isoformat())
    """)
    assert done.returncode == 0, done.stderr
    seen, created = done.stdout.split()
    assert seen == "from-test"
    assert created.startswith(world.clock.datetime(0).strftime("%Y-%m-%dT%H:%M"))  # the clock's time, not the wall's
    assert ddb.get_item(TableName="t", Key={"pk": {"S": "from-child"}})["Item"]


def test_gateway_answers_are_the_in_process_answers_in_every_protocol(world: Harness) -> None:
    """json, query, ec2 and rest-xml calls from another process get what the same calls get in the
    test: moto's answers with the emulation's hooks on them (the gateway's answer path)."""
    ddb = world.client("dynamodb")
    ddb.create_table(TableName="t", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
    ddb.update_continuous_backups(TableName="t", PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
    world.client("route53").create_hosted_zone(Name="example.test", CallerReference="r")
    world.client("ec2").create_vpc(CidrBlock="10.9.0.0/16")
    world.clock.sleep("5m")
    done = _python(world, "primary", """
        import boto3, json
        from botocore.exceptions import ClientError
        calls = [("dynamodb", "describe_table", {"TableName": "t"}), ("ec2", "describe_vpcs", {}),
                 ("route53", "list_hosted_zones", {}), ("elbv2", "describe_load_balancers", {}),
                 ("dynamodb", "describe_continuous_backups", {"TableName": "t"})]
        out = []
        for service, op, params in calls:
            answer = getattr(boto3.client(service), op)(**params)
            answer.pop("ResponseMetadata")
            out.append(answer)
        try:
            boto3.client("dynamodb").describe_table(TableName="missing")
        except ClientError as exc:
            out.append(exc.response["Error"])
        print(json.dumps(out, default=str))
    """)
    assert done.returncode == 0, done.stderr
    remote = json.loads(done.stdout)
    here = []
    for service, op, params in [("dynamodb", "describe_table", {"TableName": "t"}), ("ec2", "describe_vpcs", {}),
                                ("route53", "list_hosted_zones", {}), ("elbv2", "describe_load_balancers", {}),
                                ("dynamodb", "describe_continuous_backups", {"TableName": "t"})]:
        answer = getattr(world.client(service), op)(**params)
        answer.pop("ResponseMetadata")
        here.append(json.loads(json.dumps(answer, default=str)))
    assert remote[:5] == here
    pitr = remote[4]["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
    assert pitr["EarliestRestorableDateTime"].startswith(world.clock.datetime(0).strftime("%Y-%m-%d"))  # the clock's
    assert remote[5]["Code"] == "ResourceNotFoundException" and "missing" in remote[5]["Message"]


def test_the_gateway_validates_parameters_as_the_sdk_would(world: Harness) -> None:
    done = _python(world, "primary", """
        import boto3
        from botocore.config import Config
        from botocore.exceptions import ClientError
        ddb = boto3.client("dynamodb", config=Config(parameter_validation=False))
        try:
            ddb.put_item(Item={"pk": {"S": "no table named"}})
        except ClientError as exc:
            print(exc.response["Error"]["Code"], "|", exc.response["Error"]["Message"])
    """)
    code, _, message = done.stdout.partition(" | ")
    assert code == "ValidationException", done.stderr
    assert "TableName" in message


def test_a_lost_region_refuses_tcp_connections_until_it_is_back(world: Harness) -> None:
    assert world.network is not None
    gateway = world.network.gateways[world.regions[0]]
    assert not _refused(gateway.host, gateway.port)
    world.emulation.world.lose_region(world.regions[0])  # type: ignore[union-attr]
    assert _refused(gateway.host, gateway.port)
    other = world.network.gateways[world.regions[1]]
    assert not _refused(other.host, other.port)
    world.emulation.world.restore_region(world.regions[0])  # type: ignore[union-attr]
    assert not _refused(gateway.host, gateway.port)


def test_a_request_signed_for_another_region_is_refused_as_aws_does(world: Harness) -> None:
    done = _python(world, "primary", f"""
        import boto3, botocore.exceptions
        ddb = boto3.client("dynamodb", region_name="{world.regions[1]}")  # the endpoint is the primary's
        try:
            ddb.list_tables()
        except botocore.exceptions.ClientError as exc:
            print(exc.response["Error"]["Code"], exc.response["Error"]["Message"])
    """)
    assert done.stdout.startswith("InvalidSignatureException Credential should be scoped to a valid region"), done.stderr


def _answer(server: tuple[str, int], name: str) -> tuple[list[str], int]:
    reply = dns.query.udp(dns.message.make_query(name, "A"), server[0], port=server[1], timeout=2)
    addresses = [item.address for rrset in reply.answer if rrset.rdtype == dns.rdatatype.A for item in rrset]
    return addresses, min(rrset.ttl for rrset in reply.answer)


def test_dns_answers_follow_the_health_checks_through_a_failover() -> None:
    with Harness(Settings(backend="moto-server"), strategy="warm-standby", blueprint=small_blueprint()) as dr:
        topology = dr.topology
        assert dr.network is not None
        server = dr.network.dns_address
        primary_alb, dr_alb = topology.primary.alb_dns, topology.dr.alb_dns
        assert primary_alb and dr_alb
        addresses, _ = _answer(server, topology.fqdn)
        assert addresses == _answer(server, primary_alb)[0]
        assert dr.network.plan.region_of(addresses[0]) == topology.primary_region
        record_ttl = topology.client("route53").list_resource_record_sets(
            HostedZoneId=topology.zone_id)["ResourceRecordSets"]
        ttls = {int(r["TTL"]) for r in record_ttl if r["Name"].rstrip(".") == topology.fqdn and "TTL" in r}
        assert _answer(server, topology.fqdn)[1] in ttls | {60}
        dr.inject(faults.RegionOutage("primary"))
        dr.clock.sleep("5m")  # the health check fails after its threshold; the record fails over
        after, _ = _answer(server, topology.fqdn)
        assert after == _answer(server, dr_alb)[0]
        assert dr.network.plan.region_of(after[0]) == topology.dr_region
        reply = dns.query.udp(dns.message.make_query("nowhere.example", "A"), server[0], port=server[1], timeout=2)
        assert reply.rcode() == dns.rcode.NXDOMAIN


def test_nothing_of_the_world_outlives_the_harness() -> None:
    dr = Harness(Settings(backend="moto-server"), strategy="warm-standby")
    dr.start()
    assert dr.network is not None
    listeners = [(g.host, g.port) for g in dr.network.gateways.values()] + [(dr.network.global_gateway.host, dr.network.global_gateway.port)]
    folder = dr.network.folder
    dr.close()
    assert all(_refused(host, port) for host, port in listeners)
    assert not folder.exists()


def test_an_interrupted_run_stops_the_world_and_the_services(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_slow="""
        import os, time, socket
        def test_waits(dr):
            env = dr.env("primary")
            host = env["AWS_ENDPOINT_URL"].split("//")[1]
            print("GATEWAY", host, flush=True)
            open("started", "w").write(host)
            time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-s", "--dr-backend=moto-server",
                             "test_slow.py"], cwd=pytester.path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    marker = pytester.path / "started"
    deadline = time.monotonic() + 60
    while not marker.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
    assert marker.exists(), proc.communicate()[0] if proc.poll() is not None else "never started"
    hostport = marker.read_text()
    host, _, port = hostport.partition(":")
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert "KeyboardInterrupt" in out
    assert _refused(host, int(port or 80))


@pytest.mark.parametrize("value", ["paced:0", "paced:x", "fast", "paced:-3"])
def test_a_bad_clock_mode_is_a_usage_error_quoting_it(pytester: pytest.Pytester, value: str) -> None:
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest(f"--dr-clock={value}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*--dr-clock*{value!r}*"])


def test_dr_env_needs_the_world_on_the_network() -> None:
    with Harness(Settings(backend="moto"), strategy="warm-standby") as dr, pytest.raises(DrConfigError, match="moto-server"):
        dr.env("primary")
