"""A team's CloudFormation stack as the topology of a game day on a real account, offline: moto's
``mock_aws`` stands in for the account (its CloudFormation deploys the stacks), the team's service is a
small HTTP server per region in this process, and the name resolution of the machine is replaced by
the answers Route 53 and the load balancers would give."""
from __future__ import annotations

import datetime
import json
import ssl
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest

from pytest_drtest import faults
from pytest_drtest.backends.aws_teardown import find_tagged
from pytest_drtest.errors import DrError
from pytest_drtest.harness import Harness
from pytest_drtest.probes import http
from pytest_drtest.settings import Settings
from pytest_drtest.topology.blueprint import load_blueprint

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/fis-gameday"
STACK = Path(__file__).parent / "stacks" / "account-web.yaml"
ADDRESSES = {"primary": "127.0.0.21", "dr": "127.0.0.22"}


class Service:
    """The team's service in one region: the probe protocol over its region's table."""

    def __init__(self, region: str, address: str, port: int = 80, tls: ssl.SSLContext | None = None) -> None:
        self.region, self.table, self.up = region, f"orders-{region}", True
        service = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def key(self) -> str:
                service.hosts.append(str(self.headers.get("Host")))
                return urllib.parse.unquote(self.path.rsplit("/", 1)[-1])

            def _answer(self, status: int, body: str = "") -> None:
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_PUT(self) -> None:
                payload = self.rfile.read(int(self.headers["Content-Length"])).decode()
                if not service.up:
                    return self._answer(503)
                boto3.client("dynamodb", region_name=service.region).put_item(
                    TableName=service.table, Item={"pk": {"S": self.key()}, "payload": {"S": payload}})
                return self._answer(204)

            def do_GET(self) -> None:
                if not service.up:
                    return self._answer(503)
                item = boto3.client("dynamodb", region_name=service.region).get_item(
                    TableName=service.table, Key={"pk": {"S": self.key()}}).get("Item")
                return self._answer(200, item["payload"]["S"]) if item else self._answer(404)

        self.hosts: list[str] = []  # the Host header of each request
        self.server = ThreadingHTTPServer((address, port), Handler)
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def services(account: None) -> Iterator[dict[str, Service]]:
    try:
        running = {"primary": Service("us-east-1", ADDRESSES["primary"]), "dr": Service("us-west-2", ADDRESSES["dr"])}
    except PermissionError:
        pytest.skip("the team's stand-in services listen on port 80 (the web record's HTTP port): run as root")
    yield running
    for service in running.values():
        service.stop()


class Resolver:
    """What the machine's resolver would answer: the web record follows Route 53's failover answer
    (``serving``), each load balancer's name its own address."""

    def __init__(self, dr: Harness) -> None:
        self.dr, self.serving, self.asked = dr, "primary", []

    def __call__(self, name: str) -> tuple[list[str], float]:
        self.asked.append(name)
        topology = self.dr.topology
        if name == topology.fqdn:
            return [ADDRESSES[self.serving]], 0.0
        for stack in topology.regions.values():
            if name == stack.alb_dns:
                return [ADDRESSES[stack.role]], 60.0
        raise http.AppUnavailable(f"DNS: no address for {name}")


def test_the_teams_stack_is_deployed_by_cloudformation_probed_through_its_service_and_deleted(
        services: dict[str, Service], monkeypatch: pytest.MonkeyPatch) -> None:
    dr = Harness(Settings(backend="aws", aws_accounts=(ACCOUNT,), aws_fis_role=ROLE), strategy="warm-standby",
                 blueprint=str(STACK))
    with dr:
        resolver = Resolver(dr)
        monkeypatch.setattr(http, "system_lookup", resolver)
        topology = dr.topology
        stacks = {r: boto3.client("cloudformation", region_name=r).describe_stacks()["Stacks"] for r in dr.regions}
        assert {r: [(s["StackName"], s["StackStatus"]) for s in found] for r, found in stacks.items()} == {
            "us-east-1": [("dr-warm-standby-primary", "CREATE_COMPLETE")], "us-west-2": [("dr-warm-standby-dr", "CREATE_COMPLETE")]}
        tags = {t["Key"]: t["Value"] for t in stacks["us-east-1"][0]["Tags"]}
        assert tags == {"drtest:topology": "dr-warm-standby", "drtest:strategy": "warm-standby", "drtest:run": dr.run_id}
        primary_params = {p["ParameterKey"]: p["ParameterValue"] for p in stacks["us-east-1"][0]["Parameters"]}
        assert primary_params["PeerAlbDns"].lower() == topology.dr.alb_dns  # the DR region's output, deployed first
        assert topology.fqdn == "www.shop.example" and topology.primary.tables == {"orders": "orders-us-east-1"}
        assert set(topology.primary.subnets) == {"us-east-1a", "us-east-1b", "us-east-1c"}
        assert topology.primary.capacity == 2 and topology.dr.capacity == 1 and topology.primary.health_check_id
        seeded = boto3.client("dynamodb").scan(TableName="orders-us-east-1")["Count"]
        assert seeded == 3  # drtest:seed-items

        with dr.probe(interval=0.05, consecutive=2) as probe:
            dr.clock.sleep(0.5)
            dr.inject(faults.AzOutage("primary:a"))  # an AWS FIS experiment on the stack's subnets in the AZ
            services["primary"].up = False  # what the test plays of AWS: the primary stops serving...
            dr.clock.sleep(0.3)
            resolver.serving = "dr"  # ...and Route 53's failover record answers the DR region's load balancer
            assert probe.wait_recovered(within=10)
            dr.clock.sleep(0.3)
            result = probe.result()
        served = {s.region for s in probe.samples if s.ok}
        fis = boto3.client("fis").list_experiment_templates()["experimentTemplates"]
    assert served == {"us-east-1", "us-west-2"}  # each answer named by its load balancer's address
    assert result.rto_s is not None and 0.3 <= result.rto_s < 5 and not result.modeled
    # the service's tables are not replicated: what the primary acknowledged is not in the DR region
    assert result.lost_writes and all(w.ack_t < result.fault_t + 0.3 for w in result.lost_writes)
    assert [t["tags"]["drtest:run"] for t in fis] == [dr.run_id]
    # teardown: both stacks deleted (their resources with them), nothing of the run left
    assert [s for r in dr.regions for s in boto3.client("cloudformation", region_name=r).describe_stacks()["Stacks"]] == []
    assert find_tagged(dr.clients, dr.regions, dr.run_id) == []


def test_a_stack_cloudformation_cannot_create_is_reported_with_its_reason() -> None:
    """CloudFormation's answers through botocore's Stubber: the stack rolls back, the waiter gives up."""
    from types import SimpleNamespace

    from botocore.stub import Stubber

    from pytest_drtest.stacks.account import AccountStack
    from pytest_drtest.stacks.deploy import StackSpec
    from pytest_drtest.stacks.template import Template

    cfn = boto3.client("cloudformation", region_name="us-west-2", aws_access_key_id="k", aws_secret_access_key="s")
    template = Template("stack.yaml", {"Parameters": {"RegionRole": {"Type": "String"}},
                                       "Resources": {"Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/99"}}}})
    topology = SimpleNamespace(name="dr-warm-standby", client=lambda service, region: cfn)
    stack = AccountStack(topology, StackSpec(template), "us-west-2", "dr", "us-east-1", ACCOUNT)  # type: ignore[arg-type]
    arn = f"arn:aws:cloudformation:us-west-2:{ACCOUNT}:stack/dr-warm-standby-dr/1"
    described = {"Stacks": [{"StackName": "dr-warm-standby-dr", "StackId": arn, "CreationTime": "2026-01-01T00:00:00Z",
                             "StackStatus": "ROLLBACK_COMPLETE", "StackStatusReason": "The following resource(s) failed to create: [Vpc]."}]}
    events = {"StackEvents": [
        {"StackId": arn, "EventId": "2", "StackName": "dr-warm-standby-dr", "Timestamp": "2026-01-01T00:00:02Z",
         "LogicalResourceId": "dr-warm-standby-dr", "ResourceType": "AWS::CloudFormation::Stack", "ResourceStatus": "ROLLBACK_COMPLETE"},
        {"StackId": arn, "EventId": "1", "StackName": "dr-warm-standby-dr", "Timestamp": "2026-01-01T00:00:01Z",
         "LogicalResourceId": "Vpc", "ResourceType": "AWS::EC2::VPC", "ResourceStatus": "CREATE_FAILED",
         "ResourceStatusReason": "Value (10.0.0.0/99) for parameter cidrBlock is invalid."}]}
    with Stubber(cfn) as stub:
        stub.add_response("create_stack", {"StackId": arn})
        stub.add_response("describe_stacks", described)  # the waiter: a failure state at once
        stub.add_response("describe_stacks", described)
        stub.add_response("describe_stack_events", events)
        with pytest.raises(DrError) as info:
            stack.apply({}, tags=[{"Key": "drtest:run", "Value": "r"}])
        stub.assert_no_pending_responses()
    assert str(info.value) == (
        "stack.yaml: stack dr-warm-standby-dr in us-west-2: ROLLBACK_COMPLETE The following resource(s) failed to create: "
        "[Vpc].; Vpc (AWS::EC2::VPC): Value (10.0.0.0/99) for parameter cidrBlock is invalid.")


@pytest.mark.parametrize("blueprint", [None, "web-app.yaml"], ids=["blueprint", "shipped-template"])
def test_a_shipped_topology_is_refused_on_aws_with_the_reason(account: None, blueprint: str | None) -> None:
    from pytest_drtest.errors import DrConfigError

    # the shipped template too: its instances run no application that would answer the probes
    with Harness(Settings(backend="aws", aws_accounts=(ACCOUNT,)), strategy="warm-standby", blueprint=blueprint) as dr, \
            pytest.raises(DrConfigError) as info:
        dr.build()
    assert "web tier's application exists only in the emulation" in str(info.value)
    assert 'blueprint = "stack.yaml"' in str(info.value)
    assert [s for r in dr.regions for s in boto3.client("cloudformation", region_name=r).describe_stacks()["Stacks"]] == []
    assert find_tagged(dr.clients, dr.regions, dr.run_id) == []  # nothing created


def _names_to_addresses(serving: str) -> Any:
    """A resolver from what the account holds: each region's load balancers answer at that region's
    service, the web record at the ``serving`` region's."""

    def lookup(name: str) -> tuple[list[str], float]:
        if name == "www.shop.example":
            return [ADDRESSES[serving]], 0.0
        for role, region in (("primary", "us-east-1"), ("dr", "us-west-2")):
            balancers = boto3.client("elbv2", region_name=region).describe_load_balancers()["LoadBalancers"]
            if any(b["DNSName"].lower() == name for b in balancers):
                return [ADDRESSES[role]], 60.0
        raise http.AppUnavailable(f"DNS: no address for {name}")

    return lookup


def test_a_game_day_on_the_teams_stack_runs_from_the_scenario_file(pytester: pytest.Pytester, services: dict[str, Service],
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http, "system_lookup", _names_to_addresses("primary"))
    pytester.makefile(".toml", shop=f'''
name = "shop"
strategy = "warm-standby"
blueprint = "{STACK}"
steady_state = "1s"
probe = {{ interval = "100ms", recovered_after = 2, timeout = "30s" }}

[[experiments]]
name = "az-power"
fault = {{ kind = "az-outage", az = "primary:a" }}
runbook = "none"
objectives = {{ rto = "1m", rpo = "0s" }}
''')
    result = pytester.runpytest("--dr-backend=aws", f"--dr-aws-accounts={ACCOUNT}", f"--dr-aws-fis-role={ROLE}",
                                "--dr-scenario=shop.toml", "--dr-report=report.json", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    report = json.loads((pytester.path / "report.json").read_text())
    experiment = report["experiments"][0]
    assert report["backend"] == "aws" and report["clock"] == "real" and experiment["passed"]
    assert experiment["measured"]["modeled"] is False and experiment["measured"]["rto_s"] == 0
    assert experiment["measured"]["served_by"].keys() == {"us-east-1"}  # the service in the primary region answered
    assert experiment["measured"]["samples"] >= 10
    # the FIS experiment's template carries the run's tag; teardown left no stack and no template
    assert boto3.client("fis").list_experiment_templates()["experimentTemplates"] == []
    assert [s for r in ("us-east-1", "us-west-2")
            for s in boto3.client("cloudformation", region_name=r).describe_stacks()["Stacks"]] == []


def _certificate(folder: Path, name: str) -> tuple[Path, Path]:
    """A self-signed certificate for ``name`` (its own CA): the team's certificate on the load balancer."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_an_https_listener_is_probed_over_tls_by_name(account: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The stack's load balancer listens on HTTPS 443: the probes connect to the resolved address and
    check the certificate as www.shop.example (SNI, hostname), trusting the CA bundle of the environment."""
    cert, key = _certificate(tmp_path, "www.shop.example")
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    # the primary's listener is HTTPS 443 with the certificate imported into ACM (the DR one stays HTTP)
    arn = boto3.client("acm").import_certificate(Certificate=cert.read_bytes(), PrivateKey=key.read_bytes())["CertificateArn"]
    listener = "LoadBalancerArn: !Ref Alb\n      Protocol: HTTP\n      Port: 80\n"
    https = ("LoadBalancerArn: !Ref Alb\n      Protocol: !If [IsPrimary, HTTPS, HTTP]\n      Port: !If [IsPrimary, 443, 80]\n"
             "      Certificates: !If [IsPrimary, [{CertificateArn: !Ref CertificateArn}], !Ref AWS::NoValue]\n")
    body = STACK.read_text()
    assert listener in body
    body = body.replace(listener, https).replace("  ImageId: {", '  CertificateArn: {Type: String, Default: ""}\n  ImageId: {')
    (tmp_path / "https.yaml").write_text(body)
    (tmp_path / "https-params.json").write_text(json.dumps({"CertificateArn": arn}))
    blueprint = load_blueprint(str(tmp_path / "https.yaml"), parameters=str(tmp_path / "https-params.json"))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    try:
        service = Service("us-east-1", ADDRESSES["primary"], port=443, tls=tls)
    except PermissionError:
        pytest.skip("the stand-in service listens on port 443: run as root")
    try:
        with Harness(Settings(backend="aws", aws_accounts=(ACCOUNT,)), strategy="warm-standby", blueprint=blueprint) as dr:
            monkeypatch.setattr(http, "system_lookup", Resolver(dr))
            assert dr.topology.primary.listener == ("HTTPS", 443)
            with dr.probe(interval=0.05) as probe:
                dr.clock.sleep(0.3)
            samples = list(probe.samples)
    finally:
        service.stop()
    assert samples and all(s.ok and s.region == "us-east-1" for s in samples), samples[:3]
    assert set(service.hosts) == {"www.shop.example"}  # the request names the host, not the address

