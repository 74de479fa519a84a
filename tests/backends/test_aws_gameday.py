"""The aws backend offline: moto's ``mock_aws`` stands in for the account (no request leaves the process:
the proxy variables point at a closed port, so one that escaped moto would fail, not reach AWS).

Teardown by the ``drtest:run`` tag after a failing test and a Ctrl-C, what it cannot delete listed,
faults injected as FIS experiments with the plugin's stop condition, and ``--dr-plan``'s read-only calls.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import boto3
import pytest

from pytest_drtest import faults
from pytest_drtest.backends.aws import AwsBackend
from pytest_drtest.backends.aws_faults import (
    FIS,
    REFUSED,
    FisInjector,
    RunContext,
    alarm_name,
    injection_for,
)
from pytest_drtest.backends.aws_plan import plan_lines, plan_scenario, planned_resources
from pytest_drtest.backends.aws_teardown import find_tagged
from pytest_drtest.errors import DrConfigError, DrError
from pytest_drtest.harness import Harness
from pytest_drtest.scenario import load_scenario, shipped_scenarios
from pytest_drtest.settings import Settings
from pytest_drtest.topology.blueprint import load_blueprint
from pytest_drtest.topology.build import (
    RUN_TAG,
    build_buckets,
    build_compute,
    build_dns,
    build_tables,
)

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/fis-gameday"
LEAN = ('name = "lean"\n[compute]\ncapacity = 2\n[[tables]]\nname = "orders"\nseed_items = 1\n'
        '[[buckets]]\nname = "assets"\n')
READ_PREFIXES = ("Describe", "List", "Get")


def _harness(tmp_path: Path, **settings: Any) -> Harness:
    blueprint = tmp_path / "lean.toml"
    blueprint.write_text(LEAN, encoding="utf-8")
    return Harness(Settings(backend="aws", aws_accounts=(ACCOUNT,), **settings), strategy="warm-standby", blueprint=str(blueprint))


def _build_parts(dr: Harness) -> None:
    """The topology's compute in both regions, tables, buckets and DNS, as build() creates them (moto
    alone has no DynamoDB replicas, so the replication steps are the emulation's and left out here)."""
    topology = dr.plan()
    dr._topology = topology
    build_compute(topology, topology.primary, 2)
    build_compute(topology, topology.dr, 1)
    topology.strategy = dataclasses.replace(topology.strategy, continuous_replication=False)
    build_tables(topology)
    build_buckets(topology)
    build_dns(topology)


def _left(dr: Harness) -> list[tuple[str, str]]:
    assert dr.clients is not None
    return sorted((t.kind, t.region) for t in find_tagged(dr.clients, dr.regions, dr.run_id))


def test_a_failing_test_still_deletes_everything_tagged_with_its_run(account: None, tmp_path: Path) -> None:
    dr = _harness(tmp_path)
    with pytest.raises(RuntimeError, match="the test failed"), dr:
        _build_parts(dr)
        found = {t.kind for t in find_tagged(dr.clients, dr.regions, dr.run_id)}
        assert found == {"ec2:vpc", "ec2:subnet", "elbv2:loadbalancer", "elbv2:targetgroup", "ec2:launch-template",
                         "autoscaling:group", "ec2:instance", "dynamodb:table", "s3:bucket", "route53:healthcheck",
                         "route53:hostedzone"}
        planned = {(p.service, p.kind) for p in planned_resources(dr._topology)}  # type: ignore[arg-type]
        assert {("ec2", "vpc"), ("ec2", "subnet"), ("elbv2", "load-balancer"), ("autoscaling", "group"),
                ("dynamodb", "table"), ("s3", "bucket"), ("route53", "hosted-zone"), ("route53", "health-check")} <= planned
        raise RuntimeError("the test failed")
    assert _left(dr) == []
    ec2 = boto3.client("ec2", region_name="us-west-2")
    assert ec2.describe_vpcs(Filters=[{"Name": f"tag:{RUN_TAG}", "Values": [dr.run_id]}])["Vpcs"] == []


def test_a_tagged_distribution_is_found_globally_and_disabled_before_it_is_deleted(account: None, tmp_path: Path) -> None:
    """CloudFront is global: teardown asks it in us-east-1 whatever the run's Regions and deletes the
    run's distribution (disabled first: the emulation, unlike moto, refuses an enabled one as
    CloudFront does, which tests/test_cdn_reads.py pins)."""
    dr = _harness(tmp_path)
    with dr:
        cloudfront = dr.client("cloudfront", "us-east-1")
        made = cloudfront.create_distribution_with_tags(DistributionConfigWithTags={"DistributionConfig": {
            "CallerReference": dr.run_id, "Comment": "web", "Enabled": True,
            "Origins": {"Quantity": 1, "Items": [{"Id": "alb", "DomainName": "web.example.com",
                                                  "CustomOriginConfig": {"HTTPPort": 80, "HTTPSPort": 443,
                                                                         "OriginProtocolPolicy": "http-only"}}]},
            "DefaultCacheBehavior": {"TargetOriginId": "alb", "ViewerProtocolPolicy": "allow-all",
                                     "CachePolicyId": "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"}},
            "Tags": {"Items": dr.run_tags}})["Distribution"]
        assert ("cloudfront:distribution", "us-east-1") in _left(dr)
    assert boto3.client("cloudfront").list_distributions()["DistributionList"].get("Items", []) == []
    assert made["Id"] and _left(dr) == []


def test_ctrl_c_still_tears_down_and_the_interrupt_goes_on(account: None, tmp_path: Path) -> None:
    dr = _harness(tmp_path)
    with pytest.raises(KeyboardInterrupt), dr:
        _build_parts(dr)
        raise KeyboardInterrupt
    assert _left(dr) == []
    assert boto3.client("s3").list_buckets()["Buckets"] == []


def test_what_teardown_cannot_delete_is_listed(account: None, tmp_path: Path) -> None:
    dr = _harness(tmp_path)
    with pytest.raises(DrError) as info, dr:
        ec2 = dr.client("ec2")
        vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16", TagSpecifications=[{"ResourceType": "vpc", "Tags": dr.run_tags}])["Vpc"]["VpcId"]
        ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24")  # not the run's: the VPC cannot go
        topic = dr.client("sns").create_topic(Name="gameday-pager", Tags=dr.run_tags)["TopicArn"]
        table = dr.client("dynamodb").create_table(
            TableName="mine", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], Tags=dr.run_tags)["TableDescription"]["TableName"]
    message = str(info.value)
    assert "teardown incomplete (2 steps failed)" in message
    assert f"not deleted: arn:aws:ec2:us-east-1:{ACCOUNT}:vpc/{vpc} (ec2:vpc): ClientError" in message
    assert "DependencyViolation" in message
    assert f"not deleted: {topic} (sns:gameday-pager): pytest-drtest has no deleter for this type" in message
    assert table not in boto3.client("dynamodb").list_tables()["TableNames"]  # the rest went


def test_faults_fis_has_run_as_experiments_of_templates_with_the_stop_condition(account: None, tmp_path: Path) -> None:
    with _harness(tmp_path, aws_fis_role=ROLE) as dr:
        dr.client("rds").create_db_instance(
            DBInstanceIdentifier="orders-db", Engine="postgres", DBInstanceClass="db.t4g.micro", MultiAZ=True,
            MasterUsername="u", MasterUserPassword="password1", AllocatedStorage=20, Tags=dr.run_tags)
        fault = dr.inject(faults.RebootDatabase(database="orders-db", failover=True))
        fis = dr.client("fis")
        template = fis.get_experiment_template(id=fault.record["fis"]["template"])["experimentTemplate"]
        alarm = dr.client("cloudwatch").describe_alarms(AlarmNames=[alarm_name(dr.run_id)])["MetricAlarms"][0]
        assert template["stopConditions"] == [{"source": "aws:cloudwatch:alarm", "value": alarm["AlarmArn"]}]
        assert template["roleArn"] == ROLE and template["tags"][RUN_TAG] == dr.run_id
        action = template["actions"]["reboot"]
        assert action["actionId"] == "aws:rds:reboot-db-instances" and action["parameters"] == {"forceFailover": "true"}
        assert template["targets"]["DBInstances"]["resourceArns"] == [f"arn:aws:rds:us-east-1:{ACCOUNT}:db:orders-db"]
        assert (alarm["Namespace"], alarm["MetricName"], alarm["Threshold"]) == ("DrTest/Probe", "ErrorRate", 100.0)
        dr.revert(fault)
        experiment = fis.get_experiment(id=fault.record["fis"]["experiment"])["experiment"]
        assert experiment["state"]["status"] in ("stopping", "stopped", "completed")
        with pytest.raises(DrConfigError, match="FIS has no action that takes a whole Region away"):
            dr.inject(faults.RegionOutage("primary"))
        left_running = dr.inject(faults.PauseReplication("dynamodb", "*"))  # not reverted: teardown stops it
        paused = fis.get_experiment_template(id=left_running.record["fis"]["template"])["experimentTemplate"]
        assert paused["targets"]["Tables"]["resourceTags"] == {RUN_TAG: dr.run_id, "drtest:role": "table",
                                                               "drtest:region-role": "primary"}
    stopped = boto3.client("fis").get_experiment(id=left_running.record["fis"]["experiment"])["experiment"]
    assert stopped["state"]["status"] in ("stopping", "stopped") and left_running.reverted_at is not None
    assert boto3.client("fis").list_experiment_templates()["experimentTemplates"] == []
    assert boto3.client("cloudwatch").describe_alarms()["MetricAlarms"] == []
    assert boto3.client("rds").describe_db_instances()["DBInstances"] == []


def test_each_experiment_gets_its_own_template_even_when_python_reuses_an_injections_address(
        account: None, tmp_path: Path) -> None:
    """clientToken is an idempotency token: a repeated one would hand back the first template (the
    second fault would run the first one's actions). One Injection object started twice has one id()."""
    with _harness(tmp_path, aws_fis_role=ROLE) as dr:
        injection = injection_for(faults.PauseReplication("dynamodb", "*"), dr._aws_run())
        injector = FisInjector(dr.clients, dr._aws_run())
        first, second = injector.start(injection), injector.start(injection)
        assert first["template"] != second["template"] and first["experiment"] != second["experiment"]
        for record in (first, second):
            injector.stop(record)
    assert boto3.client("fis").list_experiment_templates()["experimentTemplates"] == []


def test_a_fis_fault_without_the_role_or_with_an_unknown_az_is_refused_clearly(account: None, tmp_path: Path) -> None:
    with _harness(tmp_path) as dr:
        with pytest.raises(DrConfigError, match="--dr-aws-fis-role=arn:aws:iam::ACCOUNT:role/NAME"):
            dr.inject(faults.AzOutage("primary:b"))
        with pytest.raises(DrConfigError, match=r"az-outage\(primary:q\): unknown AZ 'us-east-1q'; us-east-1 has us-east-1a, "):
            dr.inject(faults.AzOutage("primary:q"))
        assert dr.active_faults == []


def test_how_each_fault_is_injected_on_aws() -> None:
    run = RunContext("r1", "us-east-1", "us-west-2", ACCOUNT, ROLE, alarm_name("r1"))
    az = injection_for(faults.AzOutage("primary:b"), run)
    assert az.how == FIS and az.template is not None
    assert az.template["actions"]["disrupt-az"]["parameters"]["scope"] == "all"
    assert az.template["targets"]["Subnets"]["filters"] == [{"path": "AvailabilityZone", "values": ["us-east-1b"]}]
    assert az.template["targets"]["Subnets"]["resourceTags"] == {RUN_TAG: "r1", "drtest:role": "subnet"}
    s3 = injection_for(faults.PauseReplication("s3", "my-bucket"), run)
    assert s3.template is not None and s3.template["actions"]["pause"]["parameters"]["region"] == "us-west-2"
    ddb = injection_for(faults.PauseReplication("dynamodb", "*"), run)
    assert ddb.template is not None and ddb.template["actions"]["pause"]["actionId"] == "aws:dynamodb:global-table-pause-replication"
    assert injection_for(faults.PauseReplication("rds", "*"), run).how == REFUSED
    assert injection_for(faults.CorruptTable(table="orders"), run).how == "api"


def test_the_plan_makes_read_calls_only_and_names_what_it_would_create(account: None) -> None:
    calls: list[str] = []
    session = boto3.Session()
    session.events.register("before-call", lambda model, **_: calls.append(f"{model.service_model.service_name}.{model.name}"))
    backend = AwsBackend([ACCOUNT], session=session, fis_role=ROLE)
    backend.start()
    boto3.client("iam").create_role(RoleName="fis-gameday", AssumeRolePolicyDocument="{}")
    for region in ("us-east-1", "us-west-2"):  # the image pipeline's AMI the launch templates would use
        boto3.client("ec2", region_name=region).register_image(Name="al2023-ami-2023.6.20250101.0-kernel-6.1-x86_64")
    # the warm-standby game day on the web-app blueprint (the shipped scenario deploys its template,
    # whose plan lists stacks): the plan of what the plugin itself would create
    scenario = dataclasses.replace(load_scenario(shipped_scenarios()["warm-standby"]), blueprint=load_blueprint("web-app"))
    plan = plan_scenario(scenario, backend.factory(session), ACCOUNT, ROLE)
    text = "\n".join(plan_lines([plan], ACCOUNT))
    assert calls and all(c.split(".")[1].startswith(READ_PREFIXES) or c.startswith("sts.") for c in calls), calls
    assert "rds db-instance dr-warm-standby-db-replica (cross-region read replica, db.r6g.large)" in text
    assert "region-outage: region-outage(primary): REFUSED: AWS FIS has no action" in text
    assert "reboot-with-failover: reboot-database(failover): AWS FIS: aws:rds:reboot-db-instances (forceFailover=true)" in text
    assert "corrupt-table: corrupt-table(orders, 0.1, overwrite): API calls: a data fault" in text
    assert "fis-az-power: AZ Availability: Power Interruption (us-east-1a): AWS FIS: the scenario's FIS template 'az-power.json'" in text
    assert "ec2 subnet dr-warm-standby-dr us-west-2c (10.1.2.0/24)  [drtest:role=subnet drtest:region-role=dr]" in text
    assert "teardown (after each experiment, also when it fails or is interrupted): every resource tagged drtest:run=<run id>" in text
    assert f"drtest-{'<run id>'}-stop" in text and "NOTE" not in text  # the role exists: no note
    assert "dax cluster" not in text  # the shipped blueprint has no [dax]


def test_the_plan_names_a_blueprints_dax_clusters(account: None, tmp_path: Path) -> None:
    backend = AwsBackend([ACCOUNT], session=boto3.Session(), fis_role=ROLE)
    backend.start()
    (tmp_path / "lean.toml").write_text(LEAN + '[dax]\nnode_type = "dax.r5.xlarge"\nnodes = 2\n')
    (tmp_path / "s.toml").write_text('name = "s"\nstrategy = "warm-standby"\nblueprint = "lean.toml"\n'
                                     '[[experiments]]\nname = "r"\nfault = { kind = "az-outage", az = "primary:a" }\n')
    text = "\n".join(plan_lines([plan_scenario(load_scenario(tmp_path / "s.toml"), backend.factory(boto3.Session()),
                                               ACCOUNT, ROLE)], ACCOUNT))
    lines = [line.strip() for line in text.splitlines() if line.strip().startswith("dax cluster")]
    assert len(lines) == 2 and all("orders-dax (dax.r5.xlarge x 2, in front of " in line for line in lines), lines


def test_the_probe_error_rate_the_stop_alarm_watches_is_published_each_minute(account: None) -> None:
    from pytest_drtest.backends.aws_faults import AccountProbeMetrics
    from pytest_drtest.clock import DEFAULT_EPOCH, VirtualClock
    from pytest_drtest.measure import Sample

    clock = VirtualClock(DEFAULT_EPOCH)
    ticks = [Sample(t, write_ok=t < 120, read_ok=True) for t in range(60, 180, 10)]  # the 2nd minute fails
    cloudwatch = boto3.client("cloudwatch")
    metrics = AccountProbeMetrics(clock, cloudwatch, lambda: [s for s in ticks if s.t <= clock.now()], probe="probe")
    clock.sleep(200)
    metrics.stop()
    points = cloudwatch.get_metric_statistics(
        Namespace="DrTest/Probe", MetricName="ErrorRate", Dimensions=[{"Name": "Probe", "Value": "probe"}],
        StartTime=clock.datetime(0), EndTime=clock.datetime(300), Period=60, Statistics=["Average", "SampleCount"])
    got = sorted((p["Timestamp"].replace(tzinfo=None), p["Average"], p["SampleCount"]) for p in points["Datapoints"])
    assert [(avg, n) for _, avg, n in got] == [(0.0, 6.0), (100.0, 6.0)] and metrics.failed == 0
    assert got[0][0] == clock.datetime(60).replace(tzinfo=None)


@pytest.mark.parametrize(("arn", "expected"), [
    ("arn:aws:route53:::healthcheck/abc", ("us-east-1", "route53:healthcheck", "abc")),
    ("arn:aws:rds:us-west-2:123456789012:db:orders-db", ("us-west-2", "rds:db", "orders-db")),
    ("arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:0e1d:autoScalingGroupName/web", ("us-east-1", "autoscaling:group", "web")),
    ("arn:aws:backup:us-east-1:123456789012:backup-plan:p-1", ("us-east-1", "backup:backup-plan", "p-1")),
    ("arn:aws:s3:::assets", ("us-west-2", "s3:bucket", "assets")),
    ("arn:aws:dax:us-west-2:123456789012:cache/orders-dax", ("us-west-2", "dax:cache", "orders-dax")),
])
def test_tagged_arns_name_the_call_that_deletes_them(arn: str, expected: tuple[str, str, str]) -> None:
    from pytest_drtest.backends.aws_teardown import DELETERS, parse_arn

    tagged = parse_arn(arn, "us-west-2")
    assert (tagged.region, tagged.kind, tagged.ident) == expected and tagged.kind in DELETERS


def test_what_restores_create_on_the_account_carries_the_run_tag_and_is_deleted(account: None, tmp_path: Path) -> None:
    """A restored table, bucket, instance and cluster (with its writer) are tagged with the run as the
    restore is recorded, so teardown's sweep finds them: a restore carries none of its source's tags."""
    from pytest_drtest.recovery.steps import record_restore

    dr = _harness(tmp_path)
    with dr:
        topology = dr.plan()
        dr._topology = topology
        assert topology.tag_restores
        ddb, s3, rds = dr.client("dynamodb"), dr.client("s3"), dr.client("rds")
        ddb.create_table(TableName="orders", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST",
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], Tags=dr.run_tags)
        ddb.update_continuous_backups(TableName="orders", PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
        ddb.restore_table_to_point_in_time(SourceTableName="orders", TargetTableName="orders-pitr-1", UseLatestRestorableTime=True)
        record_restore(topology, kind="dynamodb-pitr", region="us-east-1", source="orders", target="orders-pitr-1")
        s3.create_bucket(Bucket="assets-restored")
        s3.put_bucket_tagging(Bucket="assets-restored", Tagging={"TagSet": [{"Key": "team", "Value": "shop"}]})
        record_restore(topology, kind="s3-backup", store="s3", region="us-east-1", source="assets", target="assets-restored")
        rds.create_db_instance(DBInstanceIdentifier="db-pitr-1", Engine="postgres", DBInstanceClass="db.t4g.medium",
                               MasterUsername="drtest", MasterUserPassword="drtest-secret", AllocatedStorage=20)
        record_restore(topology, kind="rds-pitr", store="sql", region="us-east-1", source="db", target="db-pitr-1",
                       db={"region": "us-east-1", "id": "db-pitr-1", "kind": "instance"})
        rds.create_db_cluster(DBClusterIdentifier="aurora-pitr-1", Engine="aurora-postgresql", MasterUsername="drtest",
                              MasterUserPassword="drtest-secret")
        rds.create_db_instance(DBInstanceIdentifier="aurora-pitr-1-writer", DBClusterIdentifier="aurora-pitr-1",
                               Engine="aurora-postgresql", DBInstanceClass="db.r6g.large")
        record_restore(topology, kind="aurora-cluster-pitr", store="sql", region="us-east-1", source="aurora", target="aurora-pitr-1",
                       db={"region": "us-east-1", "id": "aurora-pitr-1", "kind": "cluster"})
        kinds = sorted((t.kind, t.ident) for t in find_tagged(dr.clients, dr.regions, dr.run_id))
        tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket="assets-restored")["TagSet"]}
    assert ("dynamodb:table", "orders-pitr-1") in kinds and ("s3:bucket", "assets-restored") in kinds
    assert ("rds:db", "db-pitr-1") in kinds and ("rds:cluster", "aurora-pitr-1") in kinds and ("rds:db", "aurora-pitr-1-writer") in kinds
    assert tags["team"] == "shop" and tags[RUN_TAG] == dr.run_id  # the bucket's own tags are kept
    assert _left(dr) == []
    assert boto3.client("dynamodb").list_tables()["TableNames"] == []
    assert boto3.client("rds").describe_db_instances()["DBInstances"] == []
