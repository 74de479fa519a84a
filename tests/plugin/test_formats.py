"""Scenario files naming FIS templates, SSM Automation documents and ARC Region switch plans."""
from __future__ import annotations

import copy
import gc
import json
from pathlib import Path
from typing import Any

import pytest

from pytest_drtest.emulation.fis import FisEmulator
from pytest_drtest.emulation.ssm import SsmEmulator
from pytest_drtest.errors import DrConfigError
from pytest_drtest.harness import Harness
from pytest_drtest.scenario import load_scenario
from pytest_drtest.settings import Settings

pytest_plugins = ["pytester"]

LEAN = 'name = "lean"\n[compute]\ncapacity = 3\n[[tables]]\nname = "orders"\nseed_items = 20\n[[buckets]]\nname = "assets"\nseed_objects = 2\n'
NONE = '"none"'
HEAD = """
name = "formats"
strategy = "{strategy}"
blueprint = "{blueprint}"
steady_state = "1m"
probe = {{ interval = "5s", recovered_after = 3, timeout = "2h" }}
"""


def _scenario(folder: Path, body: str, *, strategy: str = "warm-standby", blueprint: str = "lean.toml") -> Path:
    (folder / "lean.toml").write_text(LEAN, encoding="utf-8")
    path = folder / "formats.toml"
    path.write_text(HEAD.format(strategy=strategy, blueprint=blueprint) + body, encoding="utf-8")
    return path


def _run(path: Path, index: int = 0) -> tuple[Any, Harness]:
    scenario = load_scenario(path)
    harness = Harness(Settings(), test=f"formats::{index}", scenario=scenario)
    try:
        harness.start()
        return harness.run_experiment(scenario.experiments[index]), harness
    except BaseException:
        harness.close()  # the caller closes it only when the experiment ran
        raise


def test_the_fis_az_power_template_runs_against_the_shipped_topology(tmp_path: Path) -> None:
    path = _scenario(tmp_path, """
[[experiments]]
name = "fis-az-power"
fault = { fis = "templates/az-power.json" }
runbook = "none"
objectives = { rto = "5m", rpo = "0s" }
""")
    record, harness = _run(path)
    try:
        fis = harness.emulation.find(FisEmulator)  # type: ignore[union-attr]
        exp = next(iter(fis.experiments.values()))
        states = {name: run.status for name, run in exp.actions.items()}
        lost_during = [m for m in harness.timeline.events if m.kind == "fis-experiment-started"]
        lost = set(harness.emulation.world.lost_azs)  # type: ignore[union-attr]
    finally:
        harness.close()
    assert record.fault == "AZ Availability: Power Interruption (us-east-1a)" and record.passed
    assert lost_during and exp.resolved["Subnet"] and exp.resolved["ASG-EC2-Instances"]
    # what the world holds runs; what it never holds (IAM roles, EBS, ElastiCache, clusters here) is skipped
    assert {k for k, v in states.items() if v == "skipped"} >= {"Pause-Instance-Launches", "Pause-ElastiCache", "Failover-RDS"}
    assert (states["Pause-network-connectivity"], states["Stop-ASG-Instances"]) == ("running", "running")  # PT2M, PT30M
    assert lost == {"us-east-1a"}


def test_each_injection_of_a_template_starts_its_own_template_and_experiment(tmp_path: Path) -> None:
    """FIS's clientToken is an idempotency token: each injection sends a fresh one. A token made of
    the fault's id() repeats once the first fault is freed and the next copy takes its address; the
    second injection then got the first template (and its experiment) back."""
    path = _scenario(tmp_path, """
[[experiments]]
name = "fis-az-power"
fault = { fis = "templates/az-power.json" }
runbook = "none"
""")
    scenario = load_scenario(path)
    records, addresses = [], set()
    with Harness(Settings(), test="formats::again", scenario=scenario) as harness:
        harness.build([scenario.experiments[0].fault])
        for _ in range(3):
            fault = copy.deepcopy(scenario.experiments[0].fault)  # as each experiment run copies it
            addresses.add(id(fault))
            harness.inject(fault)
            harness.revert(fault)
            records.append(dict(fault.record))
            del fault
            gc.collect()
        fis = harness.emulation.find(FisEmulator)  # type: ignore[union-attr]
        templates = {e.template_id for e in fis.experiments.values()}
    assert len({r["template"] for r in records}) == len({r["experiment"] for r in records}) == 3
    assert templates == {r["template"] for r in records}


def test_the_report_shows_the_template_description_as_the_fault(pytester: pytest.Pytester) -> None:
    _scenario(pytester.path, """
[[experiments]]
name = "cut-cross-region"
fault = { fis = "templates/cross-region.json" }
runbook = "none"
objectives = { rto = "5m", rpo = "0s" }
""")
    result = pytester.runpytest("--dr-scenario=formats.toml", "--dr-report=report.json", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["formats*cut-cross-region*PASS*modeled*Cross-Region: Connectivity (us-east-1 to us-west-2)"])
    report = json.loads((pytester.path / "report.json").read_text())
    assert report["experiments"][0]["fault_kinds"] == ["fis"]


def test_the_resilience_hub_pitr_sop_as_the_runbook_of_a_corruption(tmp_path: Path) -> None:
    path = _scenario(tmp_path, """
[[experiments]]
name = "corrupt-orders"
fault = { kind = "corrupt-table", table = "orders", fraction = 0.5 }
objectives = { rto = "2h", rpo = "10m", discarded = 500 }
probe = { interval = "30s" }
[experiments.runbook]
ssm = "AWSResilienceHub-RestoreDynamoDBTableToPointInTimeSOP_2020-04-01"
start_after = "6m"
parameters = { DynamoDBTableSourceName = "${table.orders}", DynamoDBTableTargetName = "${new_table.orders}", RecoveryPointDateTime = "${before_fault}", AutomationAssumeRole = "arn:aws:iam::123456789012:role/ssm" }
""")
    record, harness = _run(path)
    try:
        execution = next(iter(harness.emulation.find(SsmEmulator).executions.values()))  # type: ignore[union-attr]
        restores = list(harness.restore_results)
        table = harness.topology.app_config[harness.topology.primary_region]["table"]
    finally:
        harness.close()
    assert record.passed, record.failures
    assert execution.status == "Success" and restores and restores[0].passed and restores[0].new_resource
    assert table == restores[0].target and table.startswith("dr-warm-standby-orders-restored-")
    assert record.runbook_rto_s == float(execution.outputs["OutputRecoveryTime.RecoveryTime"])  # the SOP's own measure
    # the SOP restores and repoints but copies nothing back: the writes made to the damaged table
    # after the restore point are discarded (the shipped pitr-restore runbook copies them back)
    assert record.result.discarded_writes and all(w.ack_t > record.result.fault_t for w in record.result.discarded_writes)


def test_a_failing_document_fails_the_runbook_with_the_step_and_its_reason(tmp_path: Path) -> None:
    (tmp_path / "promote.yaml").write_text(
        "schemaVersion: '0.3'\nmainSteps:\n  - name: Promote\n    action: aws:executeAwsApi\n    inputs:\n"
        "      Service: rds\n      Api: DescribeDBInstances\n      DBInstanceIdentifier: nope\n", encoding="utf-8")
    path = _scenario(tmp_path, """
[[experiments]]
name = "lose-east"
fault = { kind = "region-outage", region = "primary" }
runbook = { ssm = "promote.yaml", region = "dr" }
""")
    with pytest.raises(Exception, match=r"SSM runbook promote \(.*\) ended Failed: step Promote \(aws:executeAwsApi\): An error occurred "
                                        r"\(DBInstanceNotFound"):
        _run(path)


@pytest.mark.parametrize(("files", "runbook", "where", "message"), [
    ({"t.json": {"description": "x", "roleArn": "arn:aws:iam::123456789012:role/fis", "stopConditions": [{"source": "none"}],
                 "actions": {"w": {"actionId": "aws:fis:wait", "parameters": {"duration": "PT1M", "size": "1"}}}}},
     None, "t.json: field 'actions.w.parameters.size'", "unknown parameter of aws:fis:wait; expected: duration"),
    ({"t.json": {"description": "x", "roleArn": "arn:aws:iam::123456789012:role/fis", "stopConditions": [{"source": "none"}],
                 "targets": {"i": {"resourceType": "aws:ec2:instance", "resourceTags": {"drtest:role": "web"}, "selectionMode": "ALL"}},
                 "actions": {"r": {"actionId": "aws:ec2:reboot-instances", "targets": {"Instances": "i"}}}}},
     None, "t.json: field 'actions.r.actionId'", "action type aws:ec2:reboot-instances is not modeled by the emulation"),
    ({"t.json": {"description": "x", "roleArn": "arn:aws:iam::123456789012:role/fis", "stopConditions": [{"source": "none"}],
                 "targetz": {}, "actions": {}}},
     None, "t.json: field 'targetz'", "unknown field; expected one of"),
    ({"doc.yaml": "schemaVersion: '0.3'\nmainSteps:\n  - name: A\n    action: aws:pause\n    inputs: {}\n"},
     '{ ssm = "doc.yaml" }', "doc.yaml: field 'mainSteps[0].action'", "action 'aws:pause' is not modeled; expected one of"),
    ({}, ('{ ssm = "AWSResilienceHub-PromoteRdsReadReplicaSOP_2020-04-01", parameters = { DbInstanceIdentifier = "${database.west}", '
          'AutomationAssumeRole = "r" } }'), "field 'experiments[0].runbook.parameters.DbInstanceIdentifier'", "unknown placeholder '${database.west}'"),
    ({}, '{ ssm = "AWSResilienceHub-PromoteRdsReadReplicaSOP_2020-04-01" }', "field 'experiments[0].runbook.parameters'",
     "the document needs parameter(s) DbInstanceIdentifier, AutomationAssumeRole"),
    ({"plan.json": {"Type": "AWS::ARCRegionSwitch::Plan", "Properties": {"Name": "p", "ExecutionRole": "arn:aws:iam::123456789012:role/r",
      "Regions": ["us-east-1", "us-west-2"], "RecoveryApproach": "activeActive", "Workflows": [{"WorkflowTargetAction": "activate",
      "Steps": [{"Name": "s", "ExecutionBlockType": "ECSServiceScaling", "ExecutionBlockConfiguration": {}}]}]}}},
     '{ arc_plan = "plan.json" }', "plan.json: field 'workflows[0].steps[0].executionBlockType'",
     "execution block type 'ECSServiceScaling' is not modeled by the emulation"),
    ({"plan.json": {"Type": "AWS::ARCRegionSwitch::Plan", "Properties": {"Name": "p", "ExecutionRole": "arn:aws:iam::123456789012:role/r",
      "Regions": ["us-east-1", "us-west-2"], "RecoveryApproach": "activeActive", "Workflows": [{"WorkflowTargetAction": "activate",
      "Steps": [{"Name": "s", "ExecutionBlockType": "CustomActionLambda", "ExecutionBlockConfiguration": {"CustomActionLambdaConfig": {
          "Lambdas": [{"Arn": "arn:aws:lambda:us-west-2:123456789012:function:fix"}], "RetryIntervalMinutes": 1,
          "RegionToRun": "activatingRegion"}}}]}]}}},
     '{ arc_plan = "plan.json" }', "field 'experiments[0].runbook.functions'", "runs Lambda function 'arn:aws:lambda:us-west-2:123456789012:function:fix'"),
    ({}, '{ ssm = "x.yaml", timeout = "1h" }', "field 'experiments[0].runbook'", "unknown key(s) timeout"),
])
def test_bad_files_name_the_file_the_path_and_what_was_expected(tmp_path: Path, files: dict[str, Any], runbook: str | None, where: str,
                                                               message: str) -> None:
    for name, content in files.items():
        (tmp_path / name).write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    fault = '{ fis = "t.json" }' if "t.json" in files else '{ kind = "region-outage" }'
    path = _scenario(tmp_path, f"[[experiments]]\nfault = {fault}\nrunbook = {runbook or NONE}\n")
    with pytest.raises(DrConfigError) as info:
        load_scenario(path)
    assert where in str(info.value) and message in str(info.value)


def test_a_bad_template_is_a_usage_error_of_the_run(pytester: pytest.Pytester) -> None:
    (pytester.path / "t.json").write_text(json.dumps({"description": "x", "roleArn": "arn:aws:iam::123456789012:role/fis",
                                                      "stopConditions": [{"source": "none"}], "actions": {"w": {"actionId": "aws:fis:nap"}}}))
    _scenario(pytester.path, '[[experiments]]\nfault = { fis = "t.json" }\nrunbook = "none"\n')
    result = pytester.runpytest("--dr-scenario=formats.toml", "-p", "no:cacheprovider")
    assert result.ret != 0
    result.stderr.fnmatch_lines(["*t.json: field 'actions.w.actionId': unknown action type 'aws:fis:nap'; the emulation runs: *"])
