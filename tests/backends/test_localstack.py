"""The localstack backend: LocalStack community for what it has, moto in process for the rest.

The routing rules run without LocalStack; the rest asks for the ``localstack`` fixture (a real
LocalStack, see ``conftest.py``) and skips with the reason when there is none.
"""
from __future__ import annotations

import itertools
import json
import os
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.exceptions
import pytest

from pytest_drtest.backends.base import format_placement
from pytest_drtest.backends.localstack import (
    LocalStackBackend,
    endpoint_variable,
    route,
    wanted_services,
)
from pytest_drtest.harness import Harness
from pytest_drtest.settings import Settings

# one LocalStack per run: under `-n 2 --dist loadgroup` these tests share one worker (and its server);
# while xdist cannot read the mark under pytest 9.2, tests/conftest.py's ONE_WORKER_FILES groups the file
pytestmark = pytest.mark.xdist_group("localstack")

EAST, WEST = "us-east-1", "us-west-2"
COMMUNITY = {"dynamodb": "available", "dynamodbstreams": "available", "s3": "running", "ec2": "available",
             "route53": "available", "sts": "available", "iam": "available", "kinesis": "available"}
_names = itertools.count(1)


def unique(what: str) -> str:
    """LocalStack keeps its state between tests (no reset): every test names its own resources."""
    return f"drtest-{what}-{uuid.uuid4().hex[:8]}-{next(_names)}"


# -- routing (no LocalStack needed) -----------------------------------------------------------------
def test_services_go_to_localstack_only_when_wanted_and_available():
    placement = route(("dynamodb", "s3", "sqs"), {"dynamodb": "available", "s3": "running", "sqs": "disabled"})
    assert placement["dynamodb"] == placement["s3"] == "localstack"
    assert placement["sqs"] == "moto"  # wanted, but not answering there
    assert placement["elbv2"] == placement["autoscaling"] == placement["rds"] == placement["backup"] == "moto"


def test_ec2_goes_to_localstack_only_with_the_services_that_reference_its_resources():
    assert route(("ec2", "dynamodb"), COMMUNITY)["ec2"] == "moto"  # community: no ELBv2, Auto Scaling, RDS
    pro = dict(COMMUNITY, elbv2="available", autoscaling="available", rds="available")
    assert route(("ec2", "elbv2", "autoscaling", "rds"), pro)["ec2"] == "localstack"
    # a stack's VPC and target group live with the services that use them: CloudFormation follows EC2
    assert route(("cloudformation", "ec2", "dynamodb"), dict(COMMUNITY, cloudformation="available"))["cloudformation"] == "moto"
    assert route(("cloudformation", "ec2", "elbv2", "autoscaling", "rds"), dict(pro, cloudformation="available"))["cloudformation"] == "localstack"


def test_the_wanted_set_is_configurable(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DRTEST_LOCALSTACK_SERVICES", "DynamoDB, s3")
    assert wanted_services() == ("dynamodb", "s3")
    monkeypatch.delenv("DRTEST_LOCALSTACK_SERVICES")
    assert {"dynamodb", "s3", "route53", "ec2", "sts", "iam", "cloudwatch", "sns", "sqs", "secretsmanager",
            "ssm", "kms", "cloudformation"} <= set(wanted_services())
    assert LocalStackBackend("http://127.0.0.1:9", services=["s3"]).wanted == ("s3",)


def test_placement_is_empty_with_the_reason_when_localstack_does_not_answer():
    backend = LocalStackBackend("http://127.0.0.1:9")
    assert backend.placement() == {}
    assert backend.unreachable is not None and "not answering at http://127.0.0.1:9" in backend.unreachable
    assert format_placement({"s3": "localstack", "rds": "moto", "dynamodb": "localstack"}) == "localstack: dynamodb s3; moto: rds"
    assert endpoint_variable("dynamodbstreams") == "AWS_ENDPOINT_URL_DYNAMODB_STREAMS"
    assert endpoint_variable("route53") == "AWS_ENDPOINT_URL_ROUTE_53"


# -- against a real LocalStack ------------------------------------------------------------------------
@pytest.fixture
def dr(localstack: Any) -> Iterator[Harness]:
    harness = Harness(Settings(backend="localstack", endpoint=localstack.endpoint))
    harness.start()
    try:
        yield harness
    finally:
        harness.close()


def on_localstack(response: dict[str, Any]) -> bool:
    return response["ResponseMetadata"]["HTTPHeaders"].get("x-localstack") == "true"


def make_table(client: Any, name: str) -> None:
    client.create_table(
        TableName=name, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )


def put(client: Any, table: str, pk: str) -> None:
    client.put_item(TableName=table, Item={"pk": {"S": pk}, "v": {"S": pk.upper()}})


def has(client: Any, table: str, pk: str) -> bool:
    return "Item" in client.get_item(TableName=table, Key={"pk": {"S": pk}}, ConsistentRead=True)


def test_placement_sends_the_data_tier_to_localstack_and_the_rest_to_moto(dr: Harness, localstack: Any):
    placement = dr.backend.placement()
    assert placement["dynamodb"] == placement["s3"] == placement["route53"] == "localstack"
    assert placement["elbv2"] == placement["rds"] == placement["autoscaling"] == placement["backup"] == "moto"
    assert placement["ec2"] == "moto"  # with the load balancers, groups and databases that name its subnets
    # users' clients, the emulation's backdoor and plain boto3 clients follow the same routing
    assert dr.client("dynamodb").meta.endpoint_url == localstack.endpoint
    assert dr.emulation is not None and dr.emulation.backdoor.client("s3", WEST).meta.endpoint_url == localstack.endpoint
    assert boto3.client("dynamodb", region_name=EAST).meta.endpoint_url == localstack.endpoint
    assert dr.client("elbv2").meta.endpoint_url == "https://elasticloadbalancing.us-east-1.amazonaws.com"
    assert on_localstack(dr.client("s3").list_buckets())
    assert not on_localstack(dr.client("rds").describe_db_instances())  # moto in process
    assert dr.client("sts").get_caller_identity()["Account"] == "123456789012"  # the account of both worlds


def test_global_table_write_reaches_the_dr_region_after_the_modeled_lag_and_dies_with_its_region(dr: Harness):
    dr.profile.override("dynamodb_replication_lag", 2.0, origin="test")
    east, west = dr.client("dynamodb", "primary"), dr.client("dynamodb", "dr")
    table = unique("orders")
    make_table(east, table)
    try:
        # LocalStack would make its own replica (one table behind both regions); the emulation's is its own table
        described = east.update_table(TableName=table, ReplicaUpdates=[{"Create": {"RegionName": WEST}}])["TableDescription"]
        assert [r["RegionName"] for r in described["Replicas"]] == [EAST, WEST]

        def replica_active() -> bool:
            replicas = east.describe_table(TableName=table)["Table"]["Replicas"]
            return all(r.get("ReplicaStatus") == "ACTIVE" for r in replicas)

        assert dr.clock.run_until(replica_active, timeout="1h", step="20s")  # CREATING for a modeled time
        put(east, table, "a")
        dr.clock.sleep(1.9)
        assert not has(west, table, "a")
        dr.clock.sleep(0.1)
        assert has(west, table, "a")
        reply = west.get_item(TableName=table, Key={"pk": {"S": "a"}})
        assert on_localstack(reply) and reply["Item"]["v"] == {"S": "A"}
        put(east, table, "b")  # still in flight when the region goes
        dr.clock.sleep(1)
        assert dr.emulation is not None
        dr.emulation.world.lose_region(EAST)
        with pytest.raises(botocore.exceptions.EndpointConnectionError):
            east.get_item(TableName=table, Key={"pk": {"S": "a"}})
        dr.clock.sleep(10)
        assert has(west, table, "a") and not has(west, table, "b")  # b is held in us-east-1 while it is lost
        dr.emulation.world.restore_region(EAST)
        dr.clock.sleep(10)
        assert has(west, table, "b")  # ... and delivered once it is back
    finally:
        dr.clock.sleep("1h")  # no change while the table is UPDATING
        east.update_table(TableName=table, ReplicaUpdates=[{"Delete": {"RegionName": WEST}}])
        east.delete_table(TableName=table)
    assert table not in dr.emulation.backdoor.client("dynamodb", WEST).list_tables()["TableNames"]


def test_pitr_restores_the_items_as_of_a_time_into_a_new_table(dr: Harness):
    dr.profile.override("dynamodb_restore_time", 120.0, origin="test")  # fewer waiter polls over HTTP
    ddb = dr.client("dynamodb")
    table, target = unique("pitr"), unique("pitr-restored")
    make_table(ddb, table)
    try:
        ddb.update_continuous_backups(TableName=table, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
        put(ddb, table, "a")
        dr.clock.sleep(100)
        put(ddb, table, "b")
        ddb.delete_item(TableName=table, Key={"pk": {"S": "a"}})
        dr.clock.sleep(400)  # the latest restorable time is 5 min behind
        ddb.restore_table_to_point_in_time(SourceTableName=table, TargetTableName=target, RestoreDateTime=dr.clock.datetime(50))
        assert ddb.describe_table(TableName=target)["Table"]["TableStatus"] == "CREATING"
        ddb.get_waiter("table_exists").wait(TableName=target, WaiterConfig={"Delay": 20, "MaxAttempts": 360})
        restored = ddb.scan(TableName=target)
        assert on_localstack(restored) and [i["pk"]["S"] for i in restored["Items"]] == ["a"]
        assert [i["pk"]["S"] for i in ddb.scan(TableName=table)["Items"]] == ["b"]  # the source is untouched
    finally:
        for name in (target, table):
            try:
                ddb.delete_table(TableName=name)
            except botocore.exceptions.ClientError:
                pass


def test_shipped_region_outage_game_day_passes_on_localstack(pytester: pytest.Pytester, localstack: Any):
    result = pytester.runpytest(
        "--dr-scenario=warm-standby", "-k", "region-outage", "--dr-backend=localstack",
        f"--dr-endpoint={localstack.endpoint}", "--dr-report=report.json", "-p", "no:cacheprovider",
    )
    result.stdout.fnmatch_lines([
        "drtest: backend=localstack (command line)*services=[[]localstack: *dynamodb*s3*; moto: *elbv2*rds*[]]",
        "warm-standby*region-outage*warm-standby*PASS*modeled*region-outage(primary)",
    ])
    assert result.ret == 0
    report = json.loads((pytester.path / "report.json").read_text())
    assert report["backend"] == "localstack" and report["experiments"][0]["passed"] is True
    services = report["services"]
    assert services["dynamodb"] == services["s3"] == services["route53"] == "localstack"
    assert services["elbv2"] == services["autoscaling"] == services["rds"] == "moto"
    # no reset on LocalStack: the teardown deleted what the game day created there
    with Harness(Settings(backend="localstack", endpoint=localstack.endpoint)) as dr:
        for region in (EAST, WEST):
            assert not [t for t in dr.client("dynamodb", region).list_tables()["TableNames"] if t.startswith("dr-warm-standby")]
        assert not dr.client("route53").list_hosted_zones()["HostedZones"]
    assert "AWS_ENDPOINT_URL_DYNAMODB" not in os.environ  # restored after the test
