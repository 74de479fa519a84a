"""ARC Region switch plans: the CloudFormation form, validation, and executions on the clock."""
from __future__ import annotations

import copy
from typing import Any

import botocore.exceptions
import pytest

from pytest_drtest.durations import parse_iso_duration
from pytest_drtest.emulation.arc_region_switch import (
    ArcRegionSwitchEmulator,
    plan_from_cloudformation,
    validate_plan,
)
from pytest_drtest.emulation.compute import install_compute
from pytest_drtest.emulation.route53 import Route53Emulator
from pytest_drtest.emulation.shapes import ShapeError
from pytest_drtest.emulation.ssm import SsmEmulator
from tests.conftest import EmuEnv

REGIONS = ("us-east-1", "us-west-2")
ROLE = "arn:aws:iam::123456789012:role/arc"


@pytest.fixture
def arc(emu_env: EmuEnv) -> tuple[EmuEnv, Any, ArcRegionSwitchEmulator, dict[str, str]]:
    """ARC, SSM, Route 53 and compute; an Auto Scaling group per Region (3 in the primary, 1 in the other)."""
    install_compute(emu_env.emulation)
    emu_env.emulation.add(Route53Emulator(emu_env.emulation))
    emu_env.emulation.add(SsmEmulator(emu_env.emulation))
    emulator = ArcRegionSwitchEmulator(emu_env.emulation)
    emu_env.emulation.add(emulator)
    arns = {}
    for index, (region, desired) in enumerate(zip(REGIONS, (3, 1), strict=True)):
        ec2 = emu_env.client("ec2", region)
        vpc = ec2.create_vpc(CidrBlock=f"10.{index}.0.0/16")["Vpc"]["VpcId"]
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.{index}.0.0/24", AvailabilityZone=f"{region}a")["Subnet"]["SubnetId"]
        ec2.create_launch_template(LaunchTemplateName="web-lt", LaunchTemplateData={"ImageId": "ami-12345678", "InstanceType": "t3.micro"})
        asg = emu_env.client("autoscaling", region)
        asg.create_auto_scaling_group(AutoScalingGroupName="web", LaunchTemplate={"LaunchTemplateName": "web-lt"}, MinSize=0,
                                      MaxSize=3, DesiredCapacity=desired, VPCZoneIdentifier=subnet)
        arns[region] = asg.describe_auto_scaling_groups()["AutoScalingGroups"][0]["AutoScalingGroupARN"]
    emu_env.clock.sleep(emu_env.profile.figures["ec2_launch_time"].high)
    return emu_env, emu_env.client("arc-region-switch", "us-west-2"), emulator, arns


def _cfn(arns: dict[str, str], *steps: dict[str, Any]) -> dict[str, Any]:
    """A CloudFormation template with one plan, as a team deploys it."""
    return {"Resources": {"Plan": {"Type": "AWS::ARCRegionSwitch::Plan", "Properties": {
        "Name": "orders", "ExecutionRole": ROLE, "Regions": list(REGIONS), "RecoveryApproach": "activePassive",
        "PrimaryRegion": "us-east-1", "Tags": [{"Key": "team", "Value": "orders"}],
        "Workflows": [{"WorkflowTargetAction": "activate", "WorkflowTargetRegion": "us-west-2", "Steps": list(steps)}],
    }}}}


APPROVAL = {"Name": "Approve", "ExecutionBlockType": "ManualApproval",
            "ExecutionBlockConfiguration": {"ExecutionApprovalConfig": {"ApprovalRole": ROLE, "TimeoutMinutes": 60}}}
CUSTOM = {"Name": "Drain", "ExecutionBlockType": "CustomActionLambda", "ExecutionBlockConfiguration": {"CustomActionLambdaConfig": {
    "Lambdas": [{"Arn": "arn:aws:lambda:us-west-2:123456789012:function:drain"}], "RetryIntervalMinutes": 1,
    "RegionToRun": "activatingRegion"}}}


def _scale(arns: dict[str, str]) -> dict[str, Any]:
    return {"Name": "Scale", "ExecutionBlockType": "EC2AutoScaling", "ExecutionBlockConfiguration": {"Ec2AsgCapacityIncreaseConfig": {
        "Asgs": [{"Arn": arns["us-east-1"]}, {"Arn": arns["us-west-2"]}], "TargetPercent": 100, "TimeoutMinutes": 30}}}


def _dns() -> dict[str, Any]:
    return {"Name": "Dns", "ExecutionBlockType": "Route53HealthCheck", "ExecutionBlockConfiguration": {"Route53HealthCheckConfig": {
        "HostedZoneId": "Z123", "RecordName": "www.example.com"}}}


@pytest.mark.parametrize(("change", "path", "message"), [
    (lambda p: p.update(Workflow=[]), "Resources.Plan.Properties.Workflow", "unknown property; expected one of"),
    (lambda p: p.update(ExecutionRole={"Fn::GetAtt": ["Role", "Arn"]}), "Resources.Plan.Properties.ExecutionRole",
     "the intrinsic function Fn::GetAtt is resolved by CloudFormation only"),
    (lambda p: p["Workflows"][0]["Steps"][0].update(ExecutionBlockType="ECSServiceScaling"),
     "workflows[0].steps[0].executionBlockType", "execution block type 'ECSServiceScaling' is not modeled"),
    (lambda p: p["Workflows"][0]["Steps"][0].update(ExecutionBlockType="Teleport"), "workflows[0].steps[0].executionBlockType",
     "expected one of: CustomActionLambda"),
    (lambda p: p["Workflows"][0]["Steps"][0].update(ExecutionBlockType="AuroraGlobalDatabase"),
     "workflows[0].steps[0].executionBlockConfiguration", "a AuroraGlobalDatabase step takes exactly globalAuroraConfig"),
    (lambda p: p.update(PrimaryRegion="eu-west-1"), "primaryRegion", "an activePassive plan needs primaryRegion"),
])
def test_a_bad_plan_names_the_path_and_what_was_expected(change: Any, path: str, message: str) -> None:
    template = _cfn({}, copy.deepcopy(APPROVAL))
    change(template["Resources"]["Plan"]["Properties"])
    with pytest.raises(ShapeError) as info:
        validate_plan(plan_from_cloudformation(template))
    assert info.value.path == path
    assert message in info.value.message


def test_the_cloudformation_form_becomes_the_api_form() -> None:
    plan = plan_from_cloudformation(_cfn({}, copy.deepcopy(APPROVAL)))
    assert plan["workflows"][0]["steps"][0] == {"name": "Approve", "executionBlockType": "ManualApproval", "executionBlockConfiguration": {
        "executionApprovalConfig": {"approvalRole": ROLE, "timeoutMinutes": 60}}}
    assert plan["tags"] == {"team": "orders"}  # CloudFormation's [{Key, Value}] is the API's map
    assert validate_plan(plan) is plan


def test_an_execution_runs_its_steps_in_order_and_reports_the_actual_recovery_time(arc: Any) -> None:
    env, client, emulator, arns = arc
    env.profile.override("manual_approval_time", "4m", origin="test")
    calls: list[dict[str, Any]] = []
    emulator.register_function("arn:aws:lambda:us-west-2:123456789012:function:drain", lambda event, context: calls.append(event))
    plan = plan_from_cloudformation(_cfn(arns, copy.deepcopy(APPROVAL), copy.deepcopy(CUSTOM), _scale(arns), _dns()))
    arn = client.create_plan(**plan)["plan"]["arn"]
    checks = {c["region"]: c["healthCheckId"] for c in client.list_route53_health_checks(arn=arn)["healthChecks"]}
    assert set(checks) == set(REGIONS)
    started = env.clock.now()
    ident = client.start_plan_execution(planArn=arn, targetRegion="us-west-2", action="activate", mode="graceful")["executionId"]
    env.clock.sleep(60)
    exe = client.get_plan_execution(planArn=arn, executionId=ident)
    assert (exe["executionState"], [s["status"] for s in exe["stepStates"]]) == ("pendingManualApproval", ["pendingApproval"])
    env.clock.sleep(180 + env.profile.figures["ec2_launch_time"].high + env.profile.value("automation_poll_interval"))
    exe = client.get_plan_execution(planArn=arn, executionId=ident)
    assert exe["executionState"] == "completed"
    assert [(s["name"], s["status"]) for s in exe["stepStates"]] == [
        ("Approve", "completed"), ("Drain", "completed"), ("Scale", "completed"), ("Dns", "completed")]
    assert calls[0]["activateRegion"] == "us-west-2" and calls[0]["deactivateRegion"] == "us-east-1"
    west = env.client("autoscaling", "us-west-2").describe_auto_scaling_groups()["AutoScalingGroups"][0]
    assert sum(1 for i in west["Instances"] if i["LifecycleState"] == "InService") == 3  # 100% of the primary's 3
    r53 = env.client("route53")
    inverted = {region: r53.get_health_check(HealthCheckId=c)["HealthCheck"]["HealthCheckConfig"].get("Inverted") for region, c in checks.items()}
    assert inverted == {"us-east-1": True, "us-west-2": False}
    assert parse_iso_duration(exe["actualRecoveryTime"]) == env.clock.seconds_at(exe["endTime"]) - started
    kinds = [e["type"] for e in client.list_plan_execution_events(planArn=arn, executionId=ident)["items"]]
    assert kinds[:4] == ["executionPending", "executionStarted", "stepStarted", "stepPendingApproval"]
    assert kinds[-1] == "executionSucceeded"


def test_a_failed_step_pauses_the_execution_until_it_is_skipped(arc: Any) -> None:
    env, client, emulator, arns = arc
    emulator.auto_approve = False
    arn = client.create_plan(**plan_from_cloudformation(_cfn(arns, copy.deepcopy(CUSTOM), copy.deepcopy(APPROVAL))))["plan"]["arn"]
    ident = client.start_plan_execution(planArn=arn, targetRegion="us-west-2", action="activate")["executionId"]
    env.clock.sleep(1)
    assert client.get_plan_execution(planArn=arn, executionId=ident)["executionState"] == "pausedByFailedStep"
    failed = [e for e in client.list_plan_execution_events(planArn=arn, executionId=ident)["items"] if e["type"] == "stepFailed"]
    assert failed[0]["stepName"] == "Drain" and "is not registered: Lambda is not emulated" in failed[0]["error"]
    client.update_plan_execution_step(planArn=arn, executionId=ident, comment="no drain", stepName="Drain", actionToTake="skip")
    assert client.get_plan_execution(planArn=arn, executionId=ident)["executionState"] == "pendingManualApproval"
    client.approve_plan_execution_step(planArn=arn, executionId=ident, stepName="Approve", approval="approve")
    exe = client.get_plan_execution(planArn=arn, executionId=ident)
    assert (exe["executionState"], [s["status"] for s in exe["stepStates"]]) == ("completed", ["skipped", "completed"])


def test_cancel_and_api_errors(arc: Any) -> None:
    env, client, emulator, arns = arc
    emulator.auto_approve = False
    arn = client.create_plan(**plan_from_cloudformation(_cfn(arns, copy.deepcopy(APPROVAL))))["plan"]["arn"]
    with pytest.raises(botocore.exceptions.ClientError, match="IllegalArgumentException"):
        client.start_plan_execution(planArn=arn, targetRegion="eu-west-1", action="activate")
    with pytest.raises(botocore.exceptions.ClientError, match="has no deactivate workflow"):
        client.start_plan_execution(planArn=arn, targetRegion="us-west-2", action="deactivate")
    ident = client.start_plan_execution(planArn=arn, targetRegion="us-west-2", action="activate")["executionId"]
    env.clock.sleep(1)
    client.cancel_plan_execution(planArn=arn, executionId=ident)
    exe = client.get_plan_execution(planArn=arn, executionId=ident)
    assert (exe["executionState"], exe["stepStates"][0]["status"]) == ("canceled", "canceled")
    with pytest.raises(botocore.exceptions.ClientError, match="ResourceNotFoundException"):
        client.get_plan(arn=arn.replace("orders", "other"))


def test_a_custom_action_can_be_an_ssm_document(arc: Any) -> None:
    env, client, emulator, arns = arc
    doc = "schemaVersion: '0.3'\nmainSteps:\n  - name: Nap\n    action: aws:sleep\n    inputs:\n      Duration: PT3M\n"
    env.client("ssm", "us-west-2").create_document(Name="drain", Content=doc, DocumentType="Automation", DocumentFormat="YAML")
    emulator.register_function("drain", "ssm:drain")  # any function named drain
    arn = client.create_plan(**plan_from_cloudformation(_cfn(arns, copy.deepcopy(CUSTOM))))["plan"]["arn"]
    ident = client.start_plan_execution(planArn=arn, targetRegion="us-west-2", action="activate")["executionId"]
    env.clock.sleep(179)
    assert client.get_plan_execution(planArn=arn, executionId=ident)["executionState"] == "inProgress"
    env.clock.sleep(1)
    exe = client.get_plan_execution(planArn=arn, executionId=ident)
    assert exe["executionState"] == "completed" and parse_iso_duration(exe["actualRecoveryTime"]) == 180
