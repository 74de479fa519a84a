"""AWS FIS on the clock: templates validated, targets resolved, actions run and reverted."""
from __future__ import annotations

import copy
import uuid
from typing import Any

import botocore.exceptions
import pytest

from pytest_drtest.emulation.cloudwatch import CloudWatchEmulator
from pytest_drtest.emulation.compute import install_compute
from pytest_drtest.emulation.dynamodb import DynamoDbEmulator
from pytest_drtest.emulation.fis import FisEmulator
from pytest_drtest.emulation.ssm import SsmEmulator
from tests.conftest import EmuEnv

REGION = "us-east-1"
AZS = ["us-east-1a", "us-east-1b", "us-east-1c"]
ROLE = "arn:aws:iam::123456789012:role/fis"


@pytest.fixture
def world(emu_env: EmuEnv) -> EmuEnv:
    """FIS, CloudWatch, SSM, DynamoDB and compute, and an Auto Scaling group of 3 across 3 AZs."""
    install_compute(emu_env.emulation)
    for emulator in (DynamoDbEmulator, CloudWatchEmulator, SsmEmulator, FisEmulator):
        emu_env.emulation.add(emulator(emu_env.emulation))
    ec2 = emu_env.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=az,
                          TagSpecifications=[{"ResourceType": "subnet", "Tags": [{"Key": "role", "Value": "subnet"}]}])["Subnet"]["SubnetId"]
        for i, az in enumerate(AZS)
    ]
    ec2.create_launch_template(LaunchTemplateName="web-lt", LaunchTemplateData={"ImageId": "ami-12345678", "InstanceType": "t3.micro"})
    emu_env.client("autoscaling").create_auto_scaling_group(
        AutoScalingGroupName="web", LaunchTemplate={"LaunchTemplateName": "web-lt"}, MinSize=0, MaxSize=6, DesiredCapacity=3,
        VPCZoneIdentifier=",".join(subnets), Tags=[{"Key": "role", "Value": "web", "PropagateAtLaunch": True}],
    )
    emu_env.clock.sleep(emu_env.profile.figures["ec2_launch_time"].high)
    return emu_env


def _template(actions: dict[str, Any], targets: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {"description": "test", "roleArn": ROLE, "stopConditions": [{"source": "none"}], "actions": actions,
            "targets": targets or {}, **extra}


def _run(env: EmuEnv, template: dict[str, Any]) -> tuple[Any, str]:
    fis = env.client("fis")
    token = str(uuid.uuid4())  # FIS's idempotency: one token, one template
    template_id = fis.create_experiment_template(clientToken=token, **template)["experimentTemplate"]["id"]
    return fis, fis.start_experiment(clientToken=token, experimentTemplateId=template_id)["experiment"]["id"]


def _states(fis: Any, exp_id: str) -> tuple[str, dict[str, str]]:
    exp = fis.get_experiment(id=exp_id)["experiment"]
    return exp["state"]["status"], {name: a["state"]["status"] for name, a in exp["actions"].items()}


WEB_IN_A = {"resourceType": "aws:ec2:instance", "resourceTags": {"role": "web"}, "selectionMode": "ALL",
            "filters": [{"path": "Placement.AvailabilityZone", "values": ["us-east-1a"]}, {"path": "State.Name", "values": ["running"]}]}


@pytest.mark.parametrize(("change", "path", "message"), [
    (lambda t: t.update(stopConditions=[{"source": "aws:cw:alarm"}]), "stopConditions[0].source", "expected aws:cloudwatch:alarm or none"),
    (lambda t: t["actions"]["w"].update(actionId="aws:fis:waitt"), "actions.w.actionId", "unknown action type 'aws:fis:waitt'"),
    (lambda t: t["actions"]["w"]["parameters"].update(duration="10 minutes"), "actions.w.parameters.duration", "not an ISO 8601 duration"),
    (lambda t: t["actions"]["w"].update(parameters={}), "actions.w.parameters.duration", "is required by aws:fis:wait"),
    (lambda t: t["actions"]["w"].update(startAfter=["w"]), "actions.w.startAfter", "the actions wait for each other: w -> w"),
    (lambda t: t["actions"].update(stop={"actionId": "aws:ec2:stop-instances", "targets": {"Instances": "nope"}}),
     "actions.stop.targets.Instances", "no target named 'nope'"),
    (lambda t: t["targets"].update(web=dict(WEB_IN_A, selectionMode="SOME")), "targets.web.selectionMode", "expected one of ALL"),
    (lambda t: t["targets"].update(web=dict(WEB_IN_A, resourceType="aws:ec2:server")), "targets.web.resourceType", "unknown resource type"),
    (lambda t: t["targets"].update(web=dict(WEB_IN_A, resourceArns=["arn:aws:ec2:us-east-1:123456789012:instance/i-1"])),
     "targets.web", "resourceArns and resourceTags are exclusive"),
])
def test_a_bad_template_is_refused_naming_the_path_and_nothing_is_created(world: EmuEnv, change: Any, path: str, message: str) -> None:
    template = _template({"w": {"actionId": "aws:fis:wait", "parameters": {"duration": "PT1M"}}})
    change(template)
    fis = world.client("fis")
    with pytest.raises(botocore.exceptions.ClientError) as info:
        fis.create_experiment_template(clientToken="t", **template)
    assert info.value.response["Error"]["Code"] == "ValidationException"
    text = info.value.response["Error"]["Message"]
    assert text.startswith(f"{path}: ") and message in text
    assert fis.list_experiment_templates()["experimentTemplates"] == []


def test_actions_follow_start_after_and_durations_on_the_clock(world: EmuEnv) -> None:
    fis, exp_id = _run(world, _template({
        "first": {"actionId": "aws:fis:wait", "parameters": {"duration": "PT2M"}},
        "second": {"actionId": "aws:fis:wait", "parameters": {"duration": "PT30S"}, "startAfter": ["first"]},
    }))
    start = world.clock.now()
    assert _states(fis, exp_id) == ("initiating", {"first": "pending", "second": "pending"})
    world.clock.sleep(60)
    assert _states(fis, exp_id) == ("running", {"first": "running", "second": "pending"})
    world.clock.sleep(70)
    assert _states(fis, exp_id) == ("running", {"first": "completed", "second": "running"})
    world.clock.sleep(20)
    exp = fis.get_experiment(id=exp_id)["experiment"]
    assert exp["state"] == {"status": "completed", "reason": "Experiment completed."}
    assert exp["actions"]["second"]["startTime"] == world.clock.datetime(start + 120)
    assert exp["endTime"] == world.clock.datetime(start + 150)


def test_a_start_that_repeats_its_client_token_answers_the_experiment_it_started(world: EmuEnv) -> None:
    """clientToken is StartExperiment's idempotency token (botocore's model): a retried start runs
    nothing twice; a new token (botocore fills one in when none is given) starts a new experiment."""
    template = _template({"w": {"actionId": "aws:fis:wait", "parameters": {"duration": "PT1M"}}})
    fis, exp_id = _run(world, template)
    template_id = fis.get_experiment(id=exp_id)["experiment"]["experimentTemplateId"]
    token = "retried-start"
    first = fis.start_experiment(clientToken=token, experimentTemplateId=template_id)["experiment"]["id"]
    again = fis.start_experiment(clientToken=token, experimentTemplateId=template_id)["experiment"]["id"]
    fresh = fis.start_experiment(experimentTemplateId=template_id)["experiment"]["id"]
    assert first == again and len({exp_id, first, fresh}) == 3
    listed = [e["id"] for e in fis.list_experiments(experimentTemplateId=template_id)["experiments"]]
    assert sorted(listed) == sorted([exp_id, first, fresh])


def test_stop_experiment_reverts_running_actions_and_cancels_waiting_ones(world: EmuEnv) -> None:
    fis, exp_id = _run(world, _template({
        "net": {"actionId": "aws:network:disrupt-connectivity", "parameters": {"duration": "PT10M"}, "targets": {"Subnets": "a"}},
        "later": {"actionId": "aws:fis:wait", "parameters": {"duration": "PT1M"}, "startAfter": ["net"]},
    }, {"a": {"resourceType": "aws:ec2:subnet", "resourceTags": {"role": "subnet"}, "selectionMode": "ALL",
              "filters": [{"path": "AvailabilityZone", "values": ["us-east-1a"]}]}}))
    world.clock.sleep(1)
    assert world.emulation.world.lost_azs == {"us-east-1a"}  # the subnet's AZ is cut off
    assert fis.stop_experiment(id=exp_id)["experiment"]["state"]["status"] == "stopping"
    world.clock.sleep(1)
    assert _states(fis, exp_id) == ("stopped", {"net": "stopped", "later": "cancelled"})
    assert world.emulation.world.lost_azs == set()


def test_targets_resolve_by_tag_filter_and_selection_mode(world: EmuEnv) -> None:
    targets = {
        "web-a": WEB_IN_A,
        "two": {"resourceType": "aws:ec2:instance", "resourceTags": {"role": "web"}, "selectionMode": "COUNT(2)"},
        "third": {"resourceType": "aws:ec2:instance", "resourceTags": {"role": "web"}, "selectionMode": "PERCENT(34)"},
    }
    actions = {name: {"actionId": "aws:ec2:stop-instances", "targets": {"Instances": name}} for name in targets}
    fis, exp_id = _run(world, _template(actions, targets, experimentOptions={"emptyTargetResolutionMode": "skip"}))
    world.clock.sleep(0)
    rows = fis.list_experiment_resolved_targets(experimentId=exp_id)["resolvedTargets"]
    by_target: dict[str, list[str]] = {}
    for row in rows:
        by_target.setdefault(row["targetName"], []).append(row["targetInformation"]["arn"])
    in_a = [i["InstanceId"] for i in world.client("autoscaling").describe_auto_scaling_groups()["AutoScalingGroups"][0]["Instances"]
            if i["AvailabilityZone"] == "us-east-1a"]
    assert by_target["web-a"] == [f"arn:aws:ec2:{REGION}:123456789012:instance/{i}" for i in in_a]
    assert (len(by_target["two"]), len(by_target["third"])) == (2, 1)  # 34% of 3, rounded down


@pytest.mark.parametrize(("mode", "experiment", "action"), [("fail", "failed", "cancelled"), ("skip", "completed", "skipped")])
def test_a_target_that_resolves_nothing(world: EmuEnv, mode: str, experiment: str, action: str) -> None:
    targets = {"none": {"resourceType": "aws:ec2:instance", "resourceTags": {"role": "db"}, "selectionMode": "ALL"}}
    fis, exp_id = _run(world, _template({"stop": {"actionId": "aws:ec2:stop-instances", "targets": {"Instances": "none"}}}, targets,
                                        experimentOptions={"emptyTargetResolutionMode": mode}))
    world.clock.sleep(0)
    exp = fis.get_experiment(id=exp_id)["experiment"]
    assert (exp["state"]["status"], exp["actions"]["stop"]["state"]["status"]) == (experiment, action)
    if mode == "fail":
        assert exp["state"]["error"] == {"code": "InvalidTarget", "location": "none"}
        assert exp["state"]["reason"] == "Target resolution returned empty set for target none."


def test_an_action_the_emulation_does_not_model_fails_the_experiment_naming_it(world: EmuEnv) -> None:
    fis, exp_id = _run(world, _template({
        "wait": {"actionId": "aws:fis:wait", "parameters": {"duration": "PT5M"}},
        "reboot": {"actionId": "aws:ec2:reboot-instances", "targets": {"Instances": "web-a"}},
        "after": {"actionId": "aws:fis:wait", "parameters": {"duration": "PT5M"}, "startAfter": ["wait"]},
    }, {"web-a": WEB_IN_A}))
    world.clock.sleep(0)
    exp = fis.get_experiment(id=exp_id)["experiment"]
    assert exp["state"]["status"] == "failed"
    assert exp["state"]["reason"] == "Action reboot: action type aws:ec2:reboot-instances is not modeled by the emulation."
    assert exp["state"]["error"] == {"code": "ConfigurationFailure", "location": "reboot"}
    assert (exp["actions"]["wait"]["state"]["status"], exp["actions"]["after"]["state"]["status"]) == ("stopped", "cancelled")


def test_stopped_group_instances_are_replaced_and_their_az_refuses_launches(world: EmuEnv) -> None:
    targets = {"web-a": WEB_IN_A, "asg": {"resourceType": "aws:ec2:autoscaling-group", "resourceTags": {"role": "web"}, "selectionMode": "ALL"}}
    fis, exp_id = _run(world, _template({
        "stop": {"actionId": "aws:ec2:stop-instances", "targets": {"Instances": "web-a"},
                 "parameters": {"startInstancesAfterDuration": "PT30M", "completeIfInstancesTerminated": "true"}},
        "ice": {"actionId": "aws:ec2:asg-insufficient-instance-capacity-error", "targets": {"AutoScalingGroups": "asg"},
                "parameters": {"availabilityZoneIdentifiers": "us-east-1a", "duration": "PT30M"}},
    }, targets))
    asg = world.client("autoscaling")
    world.clock.sleep(1)
    stopped = [i for r in world.client("ec2").describe_instances()["Reservations"] for i in r["Instances"] if i["State"]["Name"] == "stopped"]
    assert [i["Placement"]["AvailabilityZone"] for i in stopped] == ["us-east-1a"]
    profile = world.profile
    detection = profile.value("elb_unhealthy_threshold") * profile.value("elb_health_check_interval")
    world.clock.sleep(detection + profile.figures["ec2_launch_time"].high)
    rows = asg.describe_auto_scaling_groups()["AutoScalingGroups"][0]["Instances"]
    live = sorted(i["AvailabilityZone"] for i in rows if i["LifecycleState"] == "InService")
    assert stopped[0]["InstanceId"] not in {i["InstanceId"] for i in rows if i["LifecycleState"] == "InService"}
    assert len(live) == 3 and "us-east-1a" not in live  # the replacement went elsewhere
    world.clock.sleep(1800)
    assert _states(fis, exp_id) == ("completed", {"stop": "completed", "ice": "completed"})  # completeIfInstancesTerminated


def test_pause_replication_holds_for_the_duration(world: EmuEnv) -> None:
    ddb = world.client("dynamodb")
    ddb.create_table(TableName="orders", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
                     Tags=[{"Key": "role", "Value": "table"}])
    ddb.update_table(TableName="orders", ReplicaUpdates=[{"Create": {"RegionName": "us-west-2"}}])
    targets = {"t": {"resourceType": "aws:dynamodb:global-table", "resourceTags": {"role": "table"}, "selectionMode": "ALL"}}
    fis, exp_id = _run(world, _template({
        "pause": {"actionId": "aws:dynamodb:global-table-pause-replication", "parameters": {"duration": "PT5M"}, "targets": {"Tables": "t"}},
    }, targets))
    world.clock.sleep(60)
    assert world.emulation.world.is_paused("dynamodb", "orders")
    world.clock.sleep(240)
    assert not world.emulation.world.is_paused("dynamodb", "orders")
    assert _states(fis, exp_id)[0] == "completed"


def test_a_stop_condition_alarm_stops_the_experiment(world: EmuEnv) -> None:
    cw = world.client("cloudwatch")
    cw.put_metric_alarm(AlarmName="errors", Namespace="App", MetricName="Errors", Statistic="Average", Period=60,
                        EvaluationPeriods=1, Threshold=5, ComparisonOperator="GreaterThanThreshold", TreatMissingData="notBreaching")
    arn = cw.describe_alarms()["MetricAlarms"][0]["AlarmArn"]
    template = _template({"wait": {"actionId": "aws:fis:wait", "parameters": {"duration": "PT1H"}}},
                         stopConditions=[{"source": "aws:cloudwatch:alarm", "value": arn}])
    fis, exp_id = _run(world, copy.deepcopy(template))
    world.clock.sleep(120)
    assert _states(fis, exp_id)[0] == "running"
    cw.put_metric_data(Namespace="App", MetricData=[{"MetricName": "Errors", "Value": 50, "Timestamp": world.clock.datetime()}])
    world.clock.sleep(60)
    exp = fis.get_experiment(id=exp_id)["experiment"]
    assert (exp["state"]["status"], exp["actions"]["wait"]["state"]["status"]) == ("stopped", "stopped")
    assert exp["state"]["reason"].startswith(f"Experiment stopped by stop condition {arn}")
    _, second = _run(world, template)  # the alarm is still in ALARM: the next one stops before running
    world.clock.sleep(0)
    assert _states(fis, second) == ("stopped", {"wait": "cancelled"})


def test_an_automation_action_lasts_as_long_as_its_execution(world: EmuEnv) -> None:
    doc = ("schemaVersion: '0.3'\nparameters:\n  Minutes:\n    type: String\nmainSteps:\n"
           "  - name: nap\n    action: aws:sleep\n    inputs:\n      Duration: PT{{ Minutes }}M\n")
    world.client("ssm").create_document(Name="nap", Content=doc, DocumentType="Automation", DocumentFormat="YAML")
    fis, exp_id = _run(world, _template({"run": {"actionId": "aws:ssm:start-automation-execution", "parameters": {
        "documentArn": "arn:aws:ssm:us-east-1:123456789012:document/nap", "documentParameters": '{"Minutes": "3"}',
        "maxDuration": "PT10M"}}}))
    world.clock.sleep(179)
    assert _states(fis, exp_id) == ("running", {"run": "running"})
    world.clock.sleep(1)
    assert _states(fis, exp_id) == ("completed", {"run": "completed"})
    fis, late = _run(world, _template({"run": {"actionId": "aws:ssm:start-automation-execution", "parameters": {
        "documentArn": "arn:aws:ssm:us-east-1:123456789012:document/nap", "documentParameters": '{"Minutes": "30"}',
        "maxDuration": "PT10M"}}}))
    world.clock.sleep(600)
    exp = fis.get_experiment(id=late)["experiment"]
    assert exp["state"]["status"] == "failed" and "did not end within maxDuration PT10M" in exp["state"]["reason"]


def test_terminate_instances_and_stop_without_duration_complete_when_the_calls_return(world: EmuEnv) -> None:
    targets = {"web-a": WEB_IN_A}
    fis, exp_id = _run(world, _template({"kill": {"actionId": "aws:ec2:terminate-instances", "targets": {"Instances": "web-a"}}}, targets))
    world.clock.sleep(0)
    assert _states(fis, exp_id) == ("completed", {"kill": "completed"})
    killed = fis.list_experiment_resolved_targets(experimentId=exp_id)["resolvedTargets"][0]["targetInformation"]["arn"].split("/")[-1]
    rows = world.client("autoscaling").describe_auto_scaling_groups()["AutoScalingGroups"][0]["Instances"]
    assert killed not in {i["InstanceId"] for i in rows if i["LifecycleState"] in ("Pending", "InService")}
    assert len([i for i in rows if i["LifecycleState"] in ("Pending", "InService")]) == 3  # the group replaced it


def test_cross_region_cut_and_bucket_pause_hold_world_faults_for_their_durations(world: EmuEnv) -> None:
    from pytest_drtest.emulation.s3 import S3Emulator

    world.emulation.add(S3Emulator(world.emulation))
    s3 = world.client("s3")
    s3.create_bucket(Bucket="assets")
    s3.put_bucket_tagging(Bucket="assets", Tagging={"TagSet": [{"Key": "role", "Value": "bucket"}]})
    targets = {"subnets": {"resourceType": "aws:ec2:subnet", "resourceTags": {"role": "subnet"}, "selectionMode": "ALL"},
               "buckets": {"resourceType": "aws:s3:bucket", "resourceTags": {"role": "bucket"}, "selectionMode": "ALL"}}
    fis, exp_id = _run(world, _template({
        "cut": {"actionId": "aws:network:route-table-disrupt-cross-region-connectivity", "targets": {"Subnets": "subnets"},
                "parameters": {"duration": "PT10M", "region": "us-west-2"}},
        "s3": {"actionId": "aws:s3:bucket-pause-replication", "targets": {"Buckets": "buckets"},
               "parameters": {"duration": "PT5M", "region": "us-west-2"}},
    }, targets))
    world.clock.sleep(1)
    paused = world.emulation.world
    assert paused.is_paused("network", "us-east-1>us-west-2") and paused.is_paused("s3", "assets")
    world.clock.sleep(300)
    assert paused.is_paused("network", "us-east-1>us-west-2") and not paused.is_paused("s3", "assets")
    world.clock.sleep(300)
    assert not paused.paused and _states(fis, exp_id)[0] == "completed"


def test_a_zonal_autoshift_practice_run_keeps_launches_out_of_the_az(world: EmuEnv) -> None:
    targets = {"asg": {"resourceType": "aws:arc:zonal-shift-managed-resource", "resourceTags": {"role": "web"}, "selectionMode": "ALL",
                       "parameters": {"availabilityZoneIdentifier": "us-east-1a"}}}
    fis, exp_id = _run(world, _template({"shift": {"actionId": "aws:arc:start-zonal-autoshift", "targets": {"ManagedResources": "asg"},
                                                   "parameters": {"availabilityZoneIdentifier": "us-east-1a", "duration": "PT25M"}}}, targets))
    world.clock.sleep(1)
    asg = world.client("autoscaling")
    asg.set_desired_capacity(AutoScalingGroupName="web", DesiredCapacity=6)
    azs = [i["AvailabilityZone"] for i in asg.describe_auto_scaling_groups()["AutoScalingGroups"][0]["Instances"]]
    assert azs.count("us-east-1a") == 1  # the three new instances went to b and c
    shifts = world.emulation.find(FisEmulator).autoshifts
    assert [(s["awayFrom"], s["status"]) for s in shifts] == [(["us-east-1a"], "ACTIVE")]
    world.clock.sleep(25 * 60)
    assert shifts[0]["status"] == "COMPLETED" and _states(fis, exp_id)[0] == "completed"
