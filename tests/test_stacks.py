"""A CloudFormation template as the topology: deployed in both regions, mapped through its drtest tags,
and a shipped game day run on it; bad templates are refused before anything is created."""
from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import pytest

from pytest_drtest import faults
from pytest_drtest.errors import DrConfigError
from pytest_drtest.harness import Harness
from pytest_drtest.scenario import load_scenario
from pytest_drtest.settings import Settings
from pytest_drtest.topology.blueprint import load_blueprint, shipped_templates

# The shipped web-app template without its database (no PostgreSQL: the test builds in seconds).
NO_DATABASE = {"Parameters": {"WithDatabase": "false"}}
SCENARIO = """
name = "stack-warm-standby"
strategy = "warm-standby"
blueprint = "web-app.yaml"
parameters = "params.json"
steady_state = "30s"
probe = { interval = "1s", recovered_after = 3, timeout = "2h" }
[latency]
route53_health_check_interval = "10s"
[[experiments]]
name = "region-outage"
fault = { kind = "region-outage", region = "primary" }
runbook = "dns-failover"
objectives = { rto = "15m", rpo = "5s" }
"""


@pytest.fixture
def params(tmp_path: Path) -> Path:
    path = tmp_path / "params.json"
    path.write_text(json.dumps(NO_DATABASE), encoding="utf-8")
    return path


def _tags(rows: list[dict[str, Any]] | None) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in rows or []}


def test_the_shipped_template_deploys_in_both_regions_and_maps_onto_the_topology(params: Path) -> None:
    blueprint = load_blueprint("web-app.yaml", parameters=str(params))
    assert [(t.name, t.seed_items) for t in blueprint.tables] == [("orders", 200)]
    assert (blueprint.fqdn, blueprint.capacity, blueprint.database) == ("www.drtest.example", 3, None)
    with Harness(Settings(), strategy="warm-standby", blueprint=blueprint) as dr:
        topology = dr.topology
        primary, standby = topology.primary, topology.dr
        # moto's CloudFormation deployed what no emulator watches; the stack lists them
        for stack in (primary, standby):
            cfn = dr.client("cloudformation", stack.region)
            rows = cfn.describe_stack_resources(StackName=f"{topology.name}-{stack.role}")["StackResources"]
            assert {r["LogicalResourceId"]: r["ResourceType"] for r in rows} == {
                "Vpc": "AWS::EC2::VPC", "TargetGroup": "AWS::ElasticLoadBalancingV2::TargetGroup",
                "LaunchTemplate": "AWS::EC2::LaunchTemplate"}
            assert {r["PhysicalResourceId"] for r in rows} >= {stack.vpc_id, stack.target_group_arn}
            assert len(stack.subnets) == 3 and stack.alb_dns and stack.health_check_id
        # the plugin created the rest through the API: the emulation saw them
        group = dr.client("autoscaling", standby.region).describe_auto_scaling_groups(
            AutoScalingGroupNames=[standby.asg_name])["AutoScalingGroups"][0]
        assert (standby.capacity, len([i for i in group["Instances"] if i["LifecycleState"] == "InService"])) == (1, 1)
        assert _tags(group["Tags"])["drtest:region-role"] == "dr"
        table = dr.client("dynamodb", primary.region).describe_table(TableName=primary.tables["orders"])["Table"]
        assert sorted((r["RegionName"], r["ReplicaStatus"]) for r in table["Replicas"]) == [
            (primary.region, "ACTIVE"), (standby.region, "ACTIVE")]
        assert standby.tables == primary.tables
        rules = dr.client("s3", primary.region).get_bucket_replication(Bucket=primary.buckets["assets"])
        assert rules["ReplicationConfiguration"]["Rules"][0]["Destination"]["Bucket"] == f"arn:aws:s3:::{standby.buckets['assets']}"
        records = dr.client("route53").list_resource_record_sets(HostedZoneId=topology.zone_id)["ResourceRecordSets"]
        failover = {r["Failover"]: (r["ResourceRecords"][0]["Value"], r["HealthCheckId"]) for r in records if "Failover" in r}
        assert failover == {"PRIMARY": (primary.alb_dns, primary.health_check_id), "SECONDARY": (standby.alb_dns, standby.health_check_id)}
        assert [m.detail for m in topology.timeline.events if m.kind == "stack-ignored"] == ["Dashboard (AWS::CloudWatch::Dashboard)"]
        # the seed items went in through the harness, as with a blueprint
        assert len(dr.ledger.latest()) == 200


def _region_outage(path: Path) -> Any:
    scenario = load_scenario(path)
    with Harness(Settings(), scenario=scenario, test="stack::region-outage") as dr:
        return dr.run_experiment(scenario.experiments[0])


def test_a_shipped_game_day_runs_and_passes_on_the_template_as_on_the_blueprint(tmp_path: Path, params: Path) -> None:
    # warm standby's region outage with the dns-failover runbook: the health check sees the primary
    # go, Route 53 answers the DR record, the runbook scales the DR group up to the primary's capacity
    path = tmp_path / "stack-warm-standby.toml"
    path.write_text(SCENARIO, encoding="utf-8")
    assert load_scenario(path).blueprint.stack is not None
    record = _region_outage(path)
    assert record.passed, record.failures
    assert [m.kind for m in record.result.milestones] == ["fault", "detected", "scale-up-started", "scaled"]
    # the same topology built from the blueprint (web-app.toml without its [database]) recovers as fast;
    # its RPO may differ by the replication lags drawn (the blueprint seeds the table before its replica)
    toml = tmp_path / "web-app.toml"
    shipped = (Path(__file__).resolve().parent.parent / "pytest_drtest" / "blueprints" / "web-app.toml").read_text(encoding="utf-8")
    toml.write_text(shipped.split("[database]")[0], encoding="utf-8")
    blueprint = tmp_path / "blueprint-warm-standby.toml"
    blueprint.write_text(SCENARIO.replace('"web-app.yaml"', '"web-app.toml"').replace('parameters = "params.json"\n', ""),
                         encoding="utf-8")
    built = _region_outage(blueprint)
    assert built.passed and record.result.rto_s == built.result.rto_s
    assert record.result.rpo_s is not None and record.result.rpo_s <= 5


def test_a_template_without_tags_is_mapped_by_roles(tmp_path: Path) -> None:
    template = {
        "Resources": {
            "Zone": {"Type": "AWS::Route53::HostedZone", "Properties": {"Name": "shop.example"}},
            "Cart": {"Type": "AWS::DynamoDB::Table", "Properties": {
                "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
                "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}], "BillingMode": "PAY_PER_REQUEST"}},
            "Www": {"Type": "AWS::Route53::RecordSet", "Properties": {
                "HostedZoneId": {"Ref": "Zone"}, "Name": "www.shop.example", "Type": "A", "TTL": "60",
                "ResourceRecords": ["192.0.2.10"]}},
        },
    }
    path = tmp_path / "shop.json"
    path.write_text(json.dumps(template), encoding="utf-8")
    with pytest.raises(DrConfigError, match="expected at least one table"):
        load_blueprint(str(path))
    blueprint = load_blueprint(str(path), roles={"Cart": "table", "Www": "web-record"})
    assert [(t.name, t.hash_key) for t in blueprint.tables] == [("cart", "id")]
    assert blueprint.fqdn == "www.shop.example"
    with pytest.raises(DrConfigError, match=r"roles\.Basket.*unknown resource 'Basket'"):
        load_blueprint(str(path), roles={"Basket": "table"})
    with pytest.raises(DrConfigError, match=r"roles\.Cart.*expected one of: vpc"):
        load_blueprint(str(path), roles={"Cart": "ledger"})


def _strategy(template: dict[str, Any], strategy: str) -> None:
    """Make ``strategy`` the template's default and its database unconditional (``params`` leaves it out)."""
    template["Parameters"]["Strategy"]["Default"] = strategy
    template["Conditions"]["HasDatabase"] = {"Fn::Equals": ["1", "1"]}


def _shipped() -> dict[str, Any]:
    from pytest_drtest.stacks.template import read_document

    body: dict[str, Any] = read_document(shipped_templates()["web-app.yaml"], "template")
    return body


@pytest.mark.parametrize(("change", "where", "message"), [
    (lambda t: t["Resources"]["Alb"]["Properties"].update(Subnets={"Fn::ImportValue": "shared-subnets"}),
     "Resources.Alb.Properties.Subnets.Fn::ImportValue", "needs the CloudFormation service"),
    (lambda t: t["Resources"]["SubnetA"]["Properties"].update(VpcId={"Ref": "Network"}),
     "Resources.SubnetA.Properties.VpcId.Ref", "unknown name 'Network'; expected a parameter, a resource"),
    (lambda t: t["Resources"]["HealthCheck"]["Properties"]["HealthCheckConfig"].update(
        FullyQualifiedDomainName={"Fn::GetAtt": ["Alb", "Hostname"]}),
     "Resources.HealthCheck.Properties.HealthCheckConfig.FullyQualifiedDomainName.Fn::GetAtt",
     "Alb has no attribute 'Hostname' here; expected one of: DNSName"),
    (lambda t: t["Resources"]["Vpc"]["Properties"].update(CidrBlock={"Fn::FindInMap": ["Network", "staging", "Vpc"]}),
     r"Resources.Vpc.Properties.CidrBlock.Fn::FindInMap\[1\]", "no key 'staging' in Mappings.Network"),
    (lambda t: t["Resources"]["Vpc"]["Properties"].update(CidrBlock={"Fn::GetAtt": ["SubnetA", "VpcId"]}),
     "Resources.Vpc", "deployed by moto's CloudFormation"),
    (lambda t: t["Resources"].update(Role={"Type": "AWS::IAM::Role", "Condition": "Replicates", "Properties": {}}),
     "Resources.Role", "first pass: expected it not to depend on PeerAssetsBucketArn"),
    (lambda t: (_strategy(t, "backup-restore"), t["Resources"]["BackupPlan"]["Properties"]["BackupPlan"].pop("BackupPlanRule")),
     "Resources.BackupPlan.Properties.BackupPlan", "expected BackupPlan with BackupPlanName and a BackupPlanRule list"),
    (lambda t: (_strategy(t, "backup-restore"),
                t["Resources"]["BackupPlan"]["Properties"]["BackupPlan"]["BackupPlanRule"][0].pop("TargetBackupVault")),
     r"Resources.BackupPlan.Properties.BackupPlan.BackupPlanRule\[0\]", "expected a TargetBackupVault"),
    (lambda t: (_strategy(t, "active-active"), t["Resources"]["Cluster"]["Properties"].update(Engine="aurora-mysql")),
     "Resources.Cluster.Properties.Engine", "expected Engine aurora-postgresql .* got 'aurora-mysql'"),
    (lambda t: (_strategy(t, "active-active"), t["Resources"]["Cluster"]["Properties"].update(
        MasterUserPassword={"Fn::If": ["IsPrimary", "hunter2", {"Ref": "AWS::NoValue"}]})),
     "Resources.Cluster.Properties.MasterUsername", "expected MasterUsername 'drtest' and MasterUserPassword"),
    (lambda t: (_strategy(t, "active-active"), t["Resources"]["Cluster"]["Properties"].pop("GlobalClusterIdentifier"),
                t["Resources"]["Cluster"]["Properties"].pop("MasterUsername"), t["Resources"]["Cluster"]["Properties"].pop("MasterUserPassword")),
     "Resources.Cluster.Properties.MasterUsername", "or a GlobalClusterIdentifier: a secondary cluster takes the primary's"),
    (lambda t: (t["Conditions"].update(HasCache={"Fn::Equals": ["1", "1"]}),
                t["Resources"]["CacheGlobal"]["Properties"]["Members"][0].update(Role="SECONDARY")),
     "Resources.CacheGlobal.Properties.Members", "expected exactly one member with Role PRIMARY"),
    (lambda t: (t["Conditions"].update(PrimaryCdn={"Fn::Equals": ["1", "1"]}),
                t["Resources"]["Cdn"]["Properties"]["DistributionConfig"].update(Logging={"Bucket": "logs.s3.amazonaws.com"})),
     "Resources.Cdn.Properties.DistributionConfig.Logging", "not deployed by the emulated CloudFormation path"),
])
def test_an_unresolvable_template_is_refused_naming_the_file_and_the_path(
    tmp_path: Path, params: Path, change: Any, where: str, message: str
) -> None:
    template = _shipped()
    change(template)
    path = tmp_path / "stack.json"
    path.write_text(json.dumps(template), encoding="utf-8")
    with pytest.raises(DrConfigError) as caught:
        load_blueprint(str(path), parameters=str(params))
    assert str(path) in str(caught.value) and caught.value.field is not None
    assert re.fullmatch(where, caught.value.field), caught.value.field
    assert re.search(message, str(caught.value)), str(caught.value)


def test_a_template_that_does_not_parse_or_bad_parameters_are_refused_before_anything_exists(tmp_path: Path) -> None:
    broken = tmp_path / "stack.yaml"
    broken.write_text("Resources:\n  Vpc:\n    Type: AWS::EC2::VPC\n   Properties: {}\n", encoding="utf-8")
    with pytest.raises(DrConfigError, match=r"stack.yaml: not valid YAML: .*\(line 4, column 4\)"):
        load_blueprint(str(broken))
    params = tmp_path / "params.json"
    params.write_text(json.dumps([{"ParameterKey": "Capcity", "ParameterValue": "4"}]), encoding="utf-8")
    with pytest.raises(DrConfigError, match=r"params.json.*parameter 'Capcity' is not declared by the template"):
        load_blueprint("web-app.yaml", parameters=str(params))
    params.write_text(json.dumps({"WithDatabase": "maybe"}), encoding="utf-8")
    with pytest.raises(DrConfigError, match=r"params.json.*WithDatabase.*expected one of true, false, got 'maybe'"):
        load_blueprint("web-app.yaml", parameters=str(params))
    scenario = tmp_path / "s.toml"
    scenario.write_text(SCENARIO.replace('"web-app.yaml"', '"web-app"'), encoding="utf-8")
    with pytest.raises(DrConfigError, match=r"s.toml.*parameters.*go with a CloudFormation template"):
        load_scenario(scenario)
    # the harness refuses the template before it starts: no emulated world, nothing created
    bad = _shipped()
    bad["Resources"]["Alb"]["Properties"]["Subnets"] = {"Fn::ImportValue": "shared"}
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad), encoding="utf-8")
    with pytest.raises(DrConfigError, match="Fn::ImportValue needs the CloudFormation service"):
        Harness(Settings(), strategy="warm-standby", blueprint=str(path))


def test_the_marker_takes_a_template_relative_to_the_test_file(tmp_path: Path) -> None:
    from pytest_drtest.fixtures import _marker_blueprint

    (tmp_path / "stack.json").write_text(json.dumps(_shipped()), encoding="utf-8")
    assert _marker_blueprint("web-app.yaml", None).stack is not None
    blueprint = _marker_blueprint("stack.json", tmp_path)
    assert (blueprint.source, blueprint.name) == (str(tmp_path / "stack.json"), "stack")


def test_the_template_s_database_and_its_cross_region_replica_are_the_relational_tier(
    postgres_or_skip: Callable[[Exception], NoReturn],
) -> None:
    # the DR region deploys first; the read replica waits for the primary's DatabaseArn output
    # (PeerDatabaseArn) and is created in the next pass
    from pytest_drtest.dataplane import DataPlane, DataPlaneUnavailable
    from pytest_drtest.topology.build import db_connect

    try:
        DataPlane.check()
    except DataPlaneUnavailable as exc:
        postgres_or_skip(exc)
    with Harness(Settings(), strategy="warm-standby", blueprint="web-app.yaml") as dr:
        topology = dr.topology
        primary, standby = topology.primary, topology.dr
        assert primary.database is not None and standby.database is not None
        replica = dr.client("rds", standby.region).describe_db_instances(DBInstanceIdentifier=standby.database)["DBInstances"][0]
        source = dr.client("rds", primary.region).describe_db_instances(DBInstanceIdentifier=primary.database)["DBInstances"][0]
        assert (replica["ReadReplicaSourceDBInstanceIdentifier"], replica["DBInstanceStatus"]) == (source["DBInstanceArn"], "available")
        assert source["MultiAZ"] is True
        writer = topology.app_config[standby.region]["db"]
        assert writer == {"kind": "instance", "region": primary.region, "id": primary.database, "reader": False}
        with db_connect(topology, writer) as conn:
            rows = conn.execute("SELECT count(*) FROM ledger").fetchone()
        assert rows is not None and rows[0] == 200  # the seed rows, written by the harness


def test_the_shipped_parameters_make_the_template_pilot_light_and_a_file_of_yours_wins(tmp_path: Path) -> None:
    from pytest_drtest.scenario import shipped_scenarios

    blueprint = load_blueprint("web-app.yaml", parameters="web-app-pilot-light.json")
    assert blueprint.stack is not None and blueprint.stack.template.given == {
        "Strategy": "pilot-light", "DrCapacity": "0", "DrDatabaseClass": "db.t4g.medium"}
    assert (blueprint.capacity, blueprint.database and blueprint.database.instance_class) == (3, "db.r6g.large")
    shipped = load_scenario(shipped_scenarios()["pilot-light"]).blueprint  # the shipped pilot light game day deploys it
    assert shipped.stack is not None and shipped.stack.template.given == blueprint.stack.template.given
    (tmp_path / "web-app-pilot-light.json").write_text(json.dumps({"Parameters": {"DrCapacity": "2"}}), encoding="utf-8")
    mine = load_blueprint("web-app.yaml", relative_to=tmp_path, parameters="web-app-pilot-light.json")
    assert mine.stack is not None and mine.stack.template.given == {"DrCapacity": "2"}
    with pytest.raises(DrConfigError, match="web-app-pilot-lite.json"):
        load_blueprint("web-app.yaml", relative_to=tmp_path, parameters="web-app-pilot-lite.json")


def test_every_shipped_game_day_deploys_the_template_with_its_own_strategy(tmp_path: Path) -> None:
    from pytest_drtest.scenario import shipped_scenarios

    for name, path in shipped_scenarios().items():
        scenario = load_scenario(path)
        stack = scenario.blueprint.stack
        assert stack is not None, name
        assert stack.template.given.get("Strategy", "warm-standby") == scenario.strategy.name == name
    # a template built for another strategy is refused, in a scenario file and in a marker's harness
    (tmp_path / "s.toml").write_text(SCENARIO.replace('"warm-standby"', '"backup-restore"').replace('parameters = "params.json"\n', ""),
                                     encoding="utf-8")
    with pytest.raises(DrConfigError, match=r"s\.toml.*parameters.*Strategy 'warm-standby' but the strategy is 'backup-restore'.*"
                                            r"web-app-backup-restore\.json"):
        load_scenario(tmp_path / "s.toml")
    with pytest.raises(DrConfigError, match="Strategy 'pilot-light' but the strategy is 'active-active'"):
        Harness(Settings(), strategy="active-active", blueprint=load_blueprint("web-app.yaml", parameters="web-app-pilot-light.json"))


def test_a_reference_in_the_branch_an_fn_if_does_not_take_is_no_dependency() -> None:
    from pytest_drtest.stacks.intrinsics import references

    node = {"Fn::If": ["IsPrimary", {"Ref": "GlobalCluster"}, {"Ref": "PeerGlobalClusterId"}]}
    assert references(node) == {"GlobalCluster", "PeerGlobalClusterId"}
    assert references(node, {"IsPrimary": False}) == {"PeerGlobalClusterId"}
    assert references([node, {"Fn::GetAtt": ["Alb", "DNSName"]}], {"IsPrimary": True}) == {"GlobalCluster", "Alb"}


def test_the_backup_and_restore_template_runs_nothing_in_the_dr_region_but_its_vault_and_archive(tmp_path: Path) -> None:
    from pytest_drtest.topology.build import ARCHIVE_KEY

    path = tmp_path / "br.json"
    path.write_text(json.dumps({"Parameters": {"Strategy": "backup-restore", "WithDatabase": "false"}}), encoding="utf-8")
    with Harness(Settings(), strategy="backup-restore", blueprint=load_blueprint("web-app.yaml", parameters=str(path))) as dr:
        topology = dr.topology
        primary, standby = topology.primary, topology.dr
        assert primary.has_compute and not standby.has_compute
        assert (standby.tables, standby.buckets, standby.database, standby.health_check_id) == ({}, {}, None, None)
        table = dr.client("dynamodb", primary.region).describe_table(TableName=primary.tables["orders"])["Table"]
        assert "Replicas" not in table  # a regional table, backed up; no global table
        # the plan backs the table and the bucket up into the primary's vault and copies to the DR vault
        backup = dr.client("backup", primary.region)
        assert topology.backup_plan_id is not None and primary.vault and standby.vault
        rule = backup.get_backup_plan(BackupPlanId=topology.backup_plan_id)["BackupPlan"]["Rules"][0]
        dr_vault = dr.client("backup", standby.region).describe_backup_vault(BackupVaultName=standby.vault)["BackupVaultArn"]
        assert (rule["TargetBackupVaultName"], rule["ScheduleExpression"], rule["CopyActions"][0]["DestinationBackupVaultArn"]) == (
            primary.vault, "cron(0 */4 ? * * *)", dr_vault)
        assert (rule["StartWindowMinutes"], rule["Lifecycle"]["DeleteAfterDays"]) == (60, 35)
        [selection] = backup.list_backup_selections(BackupPlanId=topology.backup_plan_id)["BackupSelectionsList"]
        resources = backup.get_backup_selection(BackupPlanId=topology.backup_plan_id,
                                                SelectionId=selection["SelectionId"])["BackupSelection"]["Resources"]
        assert resources == [table["TableArn"], f"arn:aws:s3:::{primary.buckets['assets']}"]
        # the release archive, uploaded by the plugin into the template's archive bucket, is in Glacier
        assert standby.archive is not None
        head = dr.client("s3", standby.region).head_object(Bucket=standby.archive, Key=ARCHIVE_KEY)
        assert head["StorageClass"] == "GLACIER"
        # one simple record at the primary's ALB: the runbook repoints it
        r53 = dr.client("route53", "primary")
        records = [r for r in r53.list_resource_record_sets(HostedZoneId=topology.zone_id)["ResourceRecordSets"] if r["Type"] == "CNAME"]
        assert [(r["Name"], r.get("SetIdentifier"), r["ResourceRecords"]) for r in records] == [
            ("www.drtest.example.", None, [{"Value": primary.alb_dns}])]


def test_the_active_active_template_builds_an_aurora_global_database_and_latency_records(
    postgres_or_skip: Callable[[Exception], NoReturn],
) -> None:
    from pytest_drtest.dataplane import DataPlane, DataPlaneUnavailable
    from pytest_drtest.topology.build import db_connect

    try:
        DataPlane.check()
    except DataPlaneUnavailable as exc:
        postgres_or_skip(exc)
    blueprint = load_blueprint("web-app.yaml", parameters="web-app-active-active.json")
    assert blueprint.database is not None and (blueprint.database.name, blueprint.database.instance_class) == ("appdb", "db.r6g.large")
    with Harness(Settings(), strategy="active-active", blueprint=blueprint) as dr:
        topology = dr.topology
        primary, other = topology.primary, topology.dr
        assert (primary.capacity, other.capacity) == (3, 3)
        assert topology.global_cluster is not None and primary.database and other.database
        rds = dr.client("rds", primary.region)
        [gdb] = rds.describe_global_clusters(GlobalClusterIdentifier=topology.global_cluster)["GlobalClusters"]
        members = {m["DBClusterArn"].rsplit(":", 1)[-1]: m["IsWriter"] for m in gdb["GlobalClusterMembers"]}
        assert members == {primary.database: True, other.database: False}
        secondary = dr.client("rds", other.region).describe_db_clusters(DBClusterIdentifier=other.database)["DBClusters"][0]
        assert (secondary["Status"], len(secondary["DBClusterMembers"])) == ("available", 1)
        for stack in (primary, other):  # the Data API's credentials, one secret per region
            assert stack.database_secret is not None
            secret = dr.client("secretsmanager", stack.region).get_secret_value(SecretId=stack.database_secret)
            assert json.loads(secret["SecretString"]) == {"username": "drtest", "password": "drtest-secret"}
        writer = topology.app_config[other.region]["db"]
        assert writer == {"kind": "cluster", "region": primary.region, "id": primary.database, "reader": False}
        with db_connect(topology, writer) as conn:
            rows = conn.execute("SELECT count(*) FROM ledger").fetchone()
        assert rows is not None and rows[0] == 200
        r53 = dr.client("route53", "primary")
        records = [r for r in r53.list_resource_record_sets(HostedZoneId=topology.zone_id)["ResourceRecordSets"]
                   if r["Name"] == "www.drtest.example."]
        assert sorted((r["SetIdentifier"], r["Region"], r["ResourceRecords"][0]["Value"], r["HealthCheckId"]) for r in records) == sorted([
            (f"primary-{primary.region}", primary.region, primary.alb_dns, primary.health_check_id),
            (f"dr-{other.region}", other.region, other.alb_dns, other.health_check_id)])


def test_with_cache_the_template_adds_an_elasticache_global_datastore_that_the_runbook_fails_over(
    tmp_path: Path, redis_server_binary: Path
) -> None:
    # WithCache: a Multi-AZ replication group in the primary region, its global datastore, and the
    # DR region's secondary joined through the primary's CacheGlobalId output (the second pass)
    from pytest_drtest import faults
    from pytest_drtest.recovery import resolve_runbook

    path = tmp_path / "cache.json"
    path.write_text(json.dumps({"Parameters": {"WithCache": "true", "WithDatabase": "false"}}), encoding="utf-8")
    with Harness(Settings(), strategy="warm-standby", blueprint=load_blueprint("web-app.yaml", parameters=str(path))) as dr:
        topology = dr.topology
        primary, standby = topology.primary, topology.dr
        assert topology.cache_global is not None and primary.cache and standby.cache
        ec = dr.client("elasticache", primary.region)
        group = ec.describe_replication_groups(ReplicationGroupId=primary.cache)["ReplicationGroups"][0]
        assert (group["Status"], group["MultiAZ"], group["AutomaticFailover"], len(group["MemberClusters"])) == (
            "available", "enabled", "enabled", 2)
        [gds] = ec.describe_global_replication_groups(GlobalReplicationGroupId=topology.cache_global,
                                                      ShowMemberInfo=True)["GlobalReplicationGroups"]
        roles = {(m["ReplicationGroupRegion"], m["ReplicationGroupId"]): m["Role"] for m in gds["Members"]}
        assert roles == {(primary.region, primary.cache): "PRIMARY", (standby.region, standby.cache): "SECONDARY"}
        dr.inject(faults.RegionOutage("primary"))
        resolve_runbook("dns-failover")(topology, dr.clock)
        found = dr.client("elasticache", standby.region).describe_global_replication_groups(
            GlobalReplicationGroupId=topology.cache_global, ShowMemberInfo=True)["GlobalReplicationGroups"][0]
        now = {(m["ReplicationGroupRegion"], m["ReplicationGroupId"]): m["Role"] for m in found["Members"]}
        assert now[(standby.region, standby.cache)] == "PRIMARY", now
        started, promoted = topology.timeline.first("cache-failover-started"), topology.timeline.first("cache-promoted")
        assert started is not None and promoted is not None and started.t < promoted.t
        # the primary group's deleter takes the whole set down, the DR group being the primary now
        # (on moto the backend drops everything at teardown; LocalStack and the like run the deleters)
        [deleter] = [step for step in topology.cleanup.steps if step[0] == f"cache {primary.cache}"]
        dr.revert(dr.active_faults[0])
        deleter[1]()
        for stack in (primary, standby):
            groups = dr.client("elasticache", stack.region).describe_replication_groups()["ReplicationGroups"]
            assert [g["Status"] for g in groups if g["ReplicationGroupId"] == stack.cache] in ([], ["deleting"]), groups


def test_with_dax_the_template_puts_a_dax_cluster_in_front_of_the_orders_table_in_each_region(tmp_path: Path) -> None:
    # WithDax: AWS::DAX::Cluster (tags a key -> value object, as CloudFormation writes DAX's) in each
    # region that has the table; the application reads and writes the probe table through its own
    from pytest_drtest.emulation.dax import DaxEmulator

    path = tmp_path / "dax.json"
    path.write_text(json.dumps({"Parameters": {"WithDax": "true", "WithDatabase": "false"}}), encoding="utf-8")
    with Harness(Settings(), strategy="warm-standby", blueprint=load_blueprint("web-app.yaml", parameters=str(path))) as dr:
        topology = dr.topology
        for stack in (topology.primary, topology.dr):
            assert stack.dax == "orders-dax" and topology.app_config[stack.region]["dax"] == "orders-dax"
            [cluster] = dr.client("dax", stack.region).describe_clusters(ClusterNames=["orders-dax"])["Clusters"]
            assert (cluster["Status"], cluster["NodeType"], cluster["TotalNodes"]) == ("available", "dax.r5.large", 3)
        emulator = dr.emulation.find(DaxEmulator)
        before = emulator.cache_stats(topology.primary_region, "orders-dax")
        with dr.probe(interval="1s"):
            dr.clock.sleep("20s")
        after = emulator.cache_stats(topology.primary_region, "orders-dax")
        assert after["hits"] + after["misses"] >= before["hits"] + before["misses"] + 20  # a read per probe tick


def test_with_cdn_the_template_puts_cloudfront_origin_failover_in_front_of_both_albs(tmp_path: Path) -> None:
    # WithCdn: AWS::CloudFront::Distribution in the primary's stack, its second origin the DR ALB
    # (PeerAlbDns); CloudFormation's lists written as the API's; the application's reads go through it
    path = tmp_path / "cdn.json"
    path.write_text(json.dumps({"Parameters": {"WithCdn": "true", "WithDatabase": "false"}}), encoding="utf-8")
    with Harness(Settings(), strategy="warm-standby", blueprint=load_blueprint("web-app.yaml", parameters=str(path))) as dr:
        topology = dr.topology
        cloudfront = dr.client("cloudfront", "us-east-1")
        dist = cloudfront.get_distribution(Id=topology.cdn_id)["Distribution"]
        tags = cloudfront.list_tags_for_resource(Resource=dist["ARN"])["Tags"]["Items"]
        with dr.probe(interval="5s") as probe:
            dr.clock.sleep("1m")
            dr.inject(faults.RegionOutage("primary"))
            assert probe.wait_recovered("30m")
            result = probe.result()
        albs = [topology.primary.alb_dns, topology.dr.alb_dns]
    config = dist["DistributionConfig"]
    assert dist["DomainName"].lower() == topology.cdn_domain and dist["Status"] == "Deployed"
    assert [(o["Id"], o["DomainName"]) for o in config["Origins"]["Items"]] == list(zip(["primary", "dr"], albs, strict=True))
    assert config["DefaultCacheBehavior"]["TargetOriginId"] == config["OriginGroups"]["Items"][0]["Id"] == "web"
    assert (_tags(tags)["drtest:role"], _tags(tags)["drtest:region-role"]) == ("cdn", "primary")
    assert result.cdn is not None and result.cdn["failed_over"] > 0 and result.cdn["wait_s_max"] == 30.0
