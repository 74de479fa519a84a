"""FIS actions, SSM SOPs and ARC plans on the relational tier of the shipped topologies (real PostgreSQL)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pytest_drtest.emulation.arc_region_switch import ArcRegionSwitchEmulator
from pytest_drtest.emulation.ssm import SsmEmulator
from pytest_drtest.harness import Harness
from pytest_drtest.scenario import load_scenario
from pytest_drtest.settings import Settings

HEAD = """
name = "formats-db"
strategy = "{strategy}"
steady_state = "1m"
probe = {{ interval = "5s", recovered_after = 3, timeout = "2h" }}
"""


def _run(folder: Path, strategy: str, body: str) -> tuple[Any, Harness]:
    path = folder / "scenario.toml"
    path.write_text(HEAD.format(strategy=strategy) + body, encoding="utf-8")
    scenario = load_scenario(path)
    harness = Harness(Settings(), test="formats-db", scenario=scenario)
    try:
        harness.start()
        return harness.run_experiment(scenario.experiments[0]), harness
    except BaseException:
        harness.close()  # the caller closes it only when the experiment ran
        raise


def test_the_resilience_hub_promote_sop_as_the_runbook_of_a_region_outage(tmp_path: Path) -> None:
    record, harness = _run(tmp_path, "warm-standby", """
[[experiments]]
name = "lose-east"
fault = { kind = "region-outage", region = "primary" }
objectives = { rto = "15m", rpo = "10s" }
[experiments.runbook]
ssm = "AWSResilienceHub-PromoteRdsReadReplicaSOP_2020-04-01"
region = "dr"
start_after = "2m"
parameters = { DbInstanceIdentifier = "${database.dr}", AutomationAssumeRole = "arn:aws:iam::123456789012:role/ssm" }
""")
    try:
        topology = harness.topology
        execution = next(iter(harness.emulation.find(SsmEmulator).executions.values()))  # type: ignore[union-attr]
        replica = harness.client("rds", "dr").describe_db_instances(DBInstanceIdentifier=topology.dr.database)["DBInstances"][0]
    finally:
        harness.close()
    assert record.passed, record.failures
    assert execution.status == "Success" and execution.region == topology.dr_region
    assert not replica.get("ReadReplicaSourceDBInstanceIdentifier")  # promoted: it takes writes
    assert topology.app_config[topology.dr_region]["db"]["id"] == topology.dr.database
    assert record.runbook_rto_s == float(execution.outputs["OutputRecoveryTime.RecoveryTime"])


def test_fis_reboots_the_database_with_failover_through_the_rds_emulator(tmp_path: Path) -> None:
    (tmp_path / "reboot.json").write_text("""{
  "description": "Reboot the primary database with failover",
  "roleArn": "arn:aws:iam::123456789012:role/fis",
  "stopConditions": [{"source": "none"}],
  "targets": {"db": {"resourceType": "aws:rds:db", "selectionMode": "ALL",
                     "resourceTags": {"drtest:role": "database", "drtest:region-role": "primary"}}},
  "actions": {"reboot": {"actionId": "aws:rds:reboot-db-instances", "parameters": {"forceFailover": "true"},
                         "targets": {"DBInstances": "db"}}}
}""", encoding="utf-8")
    record, harness = _run(tmp_path, "warm-standby", """
[[experiments]]
name = "fis-reboot"
fault = { fis = "reboot.json" }
runbook = "none"
objectives = { rto = "5m", rpo = "0s" }
""")
    try:
        events = harness.client("rds").describe_events(SourceIdentifier=harness.topology.primary.database, SourceType="db-instance")["Events"]
    finally:
        harness.close()
    assert record.passed and record.fault == "Reboot the primary database with failover"
    assert any("failover" in e["Message"].lower() for e in events)  # the RDS emulator failed over (RDS-EVENT-0013/0049)
    failover = harness.profile.figures["rds_multi_az_failover"]
    assert record.result.rto_s is not None and failover.low <= record.result.rto_s <= failover.high + 20


def test_the_arc_plan_of_the_warm_standby_topology_as_its_runbook(tmp_path: Path) -> None:
    record, harness = _run(tmp_path, "warm-standby", """
[[experiments]]
name = "lose-east"
fault = { kind = "region-outage", region = "primary" }
runbook = { arc_plan = "runbooks/warm-standby-plan.json", region = "dr", mode = "ungraceful" }
objectives = { rto = "30m", rpo = "10s" }
""")
    try:
        topology = harness.topology
        arc = harness.emulation.find(ArcRegionSwitchEmulator)  # type: ignore[union-attr]
        exe = next(iter(arc.executions.values()))
        group = harness.client("autoscaling", "dr").describe_auto_scaling_groups(AutoScalingGroupNames=[topology.dr.asg_name])
    finally:
        harness.close()
    assert record.passed, record.failures
    assert exe.state == "completed" and [r.status for r in exe.runs.values()] == ["completed"] * 4
    assert record.runbook_rto_s == pytest.approx(exe.end - exe.start, abs=1e-3)  # ARC's actualRecoveryTime, next to the probe's RTO
    assert record.result.rto_s is not None and record.result.rto_s >= record.runbook_rto_s
    assert group["AutoScalingGroups"][0]["DesiredCapacity"] == topology.blueprint.capacity
    assert topology.app_config[topology.dr_region]["db"]["id"] == topology.dr.database


CHECKS: list[dict[str, Any]] = []


def check_orders(event: dict[str, Any], context: dict[str, Any]) -> None:
    """The team's custom action (a Lambda function on AWS) as a Python callable."""
    CHECKS.append(event)


def test_the_arc_plan_of_the_active_active_topology_fails_the_global_database_over(tmp_path: Path) -> None:
    record, harness = _run(tmp_path, "active-active", f"""
[[experiments]]
name = "lose-east"
fault = {{ kind = "region-outage", region = "primary" }}
objectives = {{ rto = "30m", rpo = "1m" }}
[experiments.runbook]
arc_plan = "runbooks/active-active-plan.json"
region = "dr"
mode = "ungraceful"
functions = {{ "arn:aws:lambda:us-west-2:123456789012:function:check-orders" = "{__name__}:check_orders" }}
""")
    try:
        topology = harness.topology
        arc = harness.emulation.find(ArcRegionSwitchEmulator)  # type: ignore[union-attr]
        exe = next(iter(arc.executions.values()))
        members = harness.client("rds", "dr").describe_global_clusters(GlobalClusterIdentifier=topology.global_cluster)[
            "GlobalClusters"][0]["GlobalClusterMembers"]
        # the topology's secret of the promoted cluster: the Data API runs as its user there
        promoted = next(m["DBClusterArn"] for m in members if m["IsWriter"])
        who = harness.client("rds-data", "dr").execute_statement(
            resourceArn=promoted, secretArn=topology.dr.database_secret, sql="SELECT current_user")["records"]
        secret_tags = harness.client("secretsmanager", "dr").describe_secret(SecretId=topology.dr.database_secret)["Tags"]
    finally:
        harness.close()
    assert record.passed, record.failures
    assert exe.state == "completed" and exe.mode == "ungraceful"
    writer = next(m["DBClusterArn"] for m in members if m["IsWriter"])
    assert writer.split(":")[3] == topology.dr_region and writer.endswith(topology.dr.database or "")
    assert CHECKS and CHECKS[-1]["activateRegion"] == topology.dr_region
    assert record.runbook_rto_s is not None
    assert who == [[{"stringValue": "drtest"}]]
    assert {"Key": "drtest:role", "Value": "database-secret"} in secret_tags
