"""EC2 Auto Scaling / EC2 / ELBv2 emulation: AZ spread, launch time, target health, AZ loss."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError

from pytest_drtest.emulation.compute import ComputeModel, install_compute

REGION = "us-east-1"
AZS = ["us-east-1a", "us-east-1b", "us-east-1c"]
LAUNCH = 90.0  # ec2_launch_time, fixed by the tests
DETECTION = 60.0  # elb_unhealthy_threshold 2 x elb_health_check_interval 30 s (profile defaults)


@dataclass
class Stack:
    model: ComputeModel
    asg: Any
    ec2: Any
    elbv2: Any
    subnets: dict[str, str]  # az -> subnet id
    tg_arn: str
    dns_name: str
    env: Any

    def create_group(self, name: str = "web", desired: int = 3, azs: list[str] = AZS, **extra: Any) -> None:
        self.asg.create_auto_scaling_group(
            AutoScalingGroupName=name,
            LaunchTemplate={"LaunchTemplateName": "web-lt"},
            MinSize=0,
            MaxSize=9,
            DesiredCapacity=desired,
            VPCZoneIdentifier=",".join(self.subnets[az] for az in azs),
            TargetGroupARNs=[self.tg_arn],
            HealthCheckType="ELB",
            **extra,
        )

    def group_instances(self, name: str = "web") -> list[dict[str, Any]]:
        return self.asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"][0]["Instances"]

    def target_states(self) -> dict[str, tuple[str, str | None]]:
        rows = self.elbv2.describe_target_health(TargetGroupArn=self.tg_arn)["TargetHealthDescriptions"]
        return {r["Target"]["Id"]: (r["TargetHealth"]["State"], r["TargetHealth"].get("Reason")) for r in rows}


@pytest.fixture
def stack(emu_env: Any) -> Stack:
    model = install_compute(emu_env.emulation)
    emu_env.profile.override("ec2_launch_time", "90s", origin="test")
    ec2 = emu_env.client("ec2", REGION)
    elbv2 = emu_env.client("elbv2", REGION)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = {
        az: ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=az)["Subnet"]["SubnetId"]
        for i, az in enumerate(AZS)
    }
    ec2.create_launch_template(
        LaunchTemplateName="web-lt", LaunchTemplateData={"ImageId": "ami-12345678", "InstanceType": "t3.micro"}
    )
    tg_arn = elbv2.create_target_group(Name="web", Protocol="HTTP", Port=80, VpcId=vpc, TargetType="instance")[
        "TargetGroups"
    ][0]["TargetGroupArn"]
    lb = elbv2.create_load_balancer(Name="web-alb", Subnets=list(subnets.values()))["LoadBalancers"][0]
    elbv2.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"],
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg_arn}],
    )
    return Stack(model, emu_env.client("autoscaling", REGION), ec2, elbv2, subnets, tg_arn, lb["DNSName"], emu_env)


def test_instances_are_spread_evenly_over_the_enabled_azs_in_every_view(stack: Stack) -> None:
    stack.create_group(desired=6)

    group_azs = Counter(i["AvailabilityZone"] for i in stack.group_instances())
    rows = stack.asg.describe_auto_scaling_instances()["AutoScalingInstances"]
    reservations = stack.ec2.describe_instances()["Reservations"]
    ec2_rows = [i for r in reservations for i in r["Instances"]]

    assert group_azs == {"us-east-1a": 2, "us-east-1b": 2, "us-east-1c": 2}
    assert Counter(r["AvailabilityZone"] for r in rows) == group_azs
    by_id = {i["InstanceId"]: i["AvailabilityZone"] for i in stack.group_instances()}
    for item in ec2_rows:
        az = by_id[item["InstanceId"]]
        assert item["Placement"]["AvailabilityZone"] == az
        assert item["SubnetId"] == stack.subnets[az]
        assert item["NetworkInterfaces"][0]["SubnetId"] == stack.subnets[az]


def test_new_instances_are_pending_until_the_launch_time_then_in_service(stack: Stack) -> None:
    clock = stack.env.clock
    stack.create_group(desired=3)

    clock.sleep(LAUNCH - 0.5)
    pending = stack.group_instances()
    ec2_states = {i["State"]["Name"] for r in stack.ec2.describe_instances()["Reservations"] for i in r["Instances"]}
    clock.sleep(0.5)

    assert {i["LifecycleState"] for i in pending} == {"Pending"}
    assert ec2_states == {"pending"}
    assert {i["LifecycleState"] for i in stack.group_instances()} == {"InService"}
    assert {i["State"]["Name"] for r in stack.ec2.describe_instances()["Reservations"] for i in r["Instances"]} == {"running"}
    assert stack.model.in_service("web") == 3


def test_target_health_is_initial_while_pending_then_healthy(stack: Stack) -> None:
    stack.create_group(desired=2)

    first = stack.target_states()
    stack.elbv2.get_waiter("target_in_service").wait(TargetGroupArn=stack.tg_arn)

    assert set(first.values()) == {("initial", "Elb.RegistrationInProgress")}
    assert stack.env.clock.now() == LAUNCH  # the waiter polls every 15 s: 6 polls
    assert set(stack.target_states().values()) == {("healthy", None)}
    assert stack.model.healthy_targets(stack.tg_arn) == 2


def test_az_loss_marks_its_targets_unhealthy_after_the_detection_time(stack: Stack) -> None:
    clock = stack.env.clock
    stack.create_group(desired=3)
    # no replacement: the targets stay registered, so their health is what the ALB sees
    stack.asg.suspend_processes(AutoScalingGroupName="web", ScalingProcesses=["HealthCheck", "ReplaceUnhealthy"])
    clock.sleep(LAUNCH)
    lost = next(i["InstanceId"] for i in stack.group_instances() if i["AvailabilityZone"] == "us-east-1a")

    stack.env.emulation.world.lose_az("us-east-1a")
    clock.sleep(DETECTION - 0.5)
    before = stack.target_states()
    clock.sleep(0.5)

    assert before[lost] == ("healthy", None)  # the ALB has not noticed yet
    assert stack.target_states()[lost] == ("unhealthy", "Target.Timeout")
    assert stack.model.healthy_targets(stack.tg_arn) == 2


def test_az_loss_replaces_the_instances_in_the_remaining_azs(stack: Stack) -> None:
    clock = stack.env.clock
    stack.create_group(desired=6)
    clock.sleep(LAUNCH)
    lost = {i["InstanceId"] for i in stack.group_instances() if i["AvailabilityZone"] == "us-east-1a"}

    stack.env.emulation.world.lose_az("us-east-1a")
    clock.sleep(DETECTION)
    during = {i["InstanceId"]: i for i in stack.group_instances()}
    new = {iid: i for iid, i in during.items() if iid not in lost and i["LifecycleState"] == "Pending"}
    clock.sleep(LAUNCH)
    after = stack.group_instances()

    assert {(during[i]["LifecycleState"], during[i]["HealthStatus"]) for i in lost} == {("Terminating", "Unhealthy")}
    assert sorted(i["AvailabilityZone"] for i in new.values()) == ["us-east-1b", "us-east-1c"]
    live = [i for i in after if i["LifecycleState"] == "InService"]
    assert len(live) == 6
    assert Counter(i["AvailabilityZone"] for i in live) == {"us-east-1b": 3, "us-east-1c": 3}
    assert all(v.az != "us-east-1a" for v in stack.model.instances("web") if v.lifecycle_state == "InService")
    replaced = [e for e in stack.model.events() if e.kind == "launch" and e.replaces in lost]
    assert {e.at for e in replaced} == {LAUNCH + DETECTION}


def test_targets_the_group_terminates_after_an_az_loss_drain_for_the_delay_then_leave(stack: Stack) -> None:
    # [ALB-UG:load-balancer-target-groups] "Deregistration delay": a deregistering target is
    # draining (Target.DeregistrationInProgress) until the delay ends, then unused; not unhealthy.
    clock = stack.env.clock
    delay = 120.0
    stack.elbv2.modify_target_group_attributes(
        TargetGroupArn=stack.tg_arn, Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": f"{delay:g}"}]
    )
    stack.create_group(desired=3)
    clock.sleep(LAUNCH)
    lost = next(i["InstanceId"] for i in stack.group_instances() if i["AvailabilityZone"] == "us-east-1a")

    stack.env.emulation.world.lose_az("us-east-1a")
    clock.sleep(DETECTION)
    at_detection = stack.target_states()[lost]
    clock.sleep(delay - 0.5)
    before_the_end = stack.target_states()[lost]
    clock.sleep(0.5)
    asked = stack.elbv2.describe_target_health(TargetGroupArn=stack.tg_arn, Targets=[{"Id": lost}])

    assert at_detection == ("draining", "Target.DeregistrationInProgress")
    assert before_the_end == ("draining", "Target.DeregistrationInProgress")
    assert lost not in stack.target_states()
    health = asked["TargetHealthDescriptions"][0]["TargetHealth"]
    assert (health["State"], health["Reason"]) == ("unused", "Target.NotRegistered")


def test_alb_endpoint_is_unhealthy_while_every_target_is_down_and_back_after_replacement(stack: Stack) -> None:
    clock = stack.env.clock
    emulation = stack.env.emulation
    stack.create_group(desired=1, azs=["us-east-1a", "us-east-1b"])
    clock.sleep(LAUNCH)
    assert emulation.endpoint_healthy(stack.dns_name)

    emulation.world.lose_az("us-east-1a")
    down_at_once = emulation.endpoint_healthy(stack.dns_name)
    clock.sleep(DETECTION + LAUNCH - 0.5)
    still_down = stack.model.alb_serving(stack.dns_name)
    clock.sleep(0.5)

    assert not down_at_once and not still_down
    assert stack.model.alb_serving(stack.dns_name)
    assert emulation.endpoint_healthy(stack.dns_name)
    assert [(v.az, v.lifecycle_state) for v in stack.model.instances("web") if v.lifecycle_state != "Terminating"] == [
        ("us-east-1b", "InService")
    ]


def test_scaling_a_dr_group_from_zero_takes_the_launch_time(stack: Stack) -> None:
    clock = stack.env.clock
    stack.create_group(name="dr-web", desired=0)
    clock.sleep(600)

    stack.asg.set_desired_capacity(AutoScalingGroupName="dr-web", DesiredCapacity=3)
    in_service_before = stack.model.in_service("dr-web")
    clock.sleep(LAUNCH - 1)
    in_service_late = stack.model.in_service("dr-web")
    clock.sleep(1)

    assert (in_service_before, in_service_late) == (0, 0)
    assert stack.model.in_service("dr-web") == 3
    assert sorted(v.az for v in stack.model.instances("dr-web")) == AZS
    assert stack.model.asg_for_region(REGION) == ["dr-web"]


def test_scaling_activities_are_recorded_with_clock_times(stack: Stack) -> None:
    clock = stack.env.clock
    stack.create_group(desired=2)
    started = stack.asg.describe_scaling_activities(AutoScalingGroupName="web")["Activities"]
    clock.sleep(LAUNCH)
    done = stack.asg.describe_scaling_activities(AutoScalingGroupName="web")["Activities"]

    ids = {i["InstanceId"] for i in stack.group_instances()}
    assert {a["Description"] for a in started} == {f"Launching a new EC2 instance: {i}" for i in ids}
    assert {(a["StatusCode"], a["Progress"]) for a in started} == {("PreInService", 30)}
    assert started[0]["StartTime"] == clock.datetime(0)
    assert started[0]["Cause"] == (
        "At 2026-01-05T00:00:00Z a user request created an AutoScalingGroup changing the desired capacity from 0 to 2.  "
        "At 2026-01-05T00:00:00Z an instance was started in response to a difference between desired and actual "
        "capacity, increasing the capacity from 0 to 2."
    )
    assert {(a["StatusCode"], a["Progress"], a["EndTime"]) for a in done} == {("Successful", 100, clock.datetime(LAUNCH))}


def test_az_loss_replacement_is_recorded_as_an_elb_health_check_activity(stack: Stack) -> None:
    clock = stack.env.clock
    stack.create_group(desired=3)
    clock.sleep(LAUNCH)
    stack.env.emulation.world.lose_az("us-east-1a")
    clock.sleep(DETECTION)

    latest = stack.asg.describe_scaling_activities(AutoScalingGroupName="web")["Activities"][:2]

    assert [a["Description"].split(":")[0] for a in latest] == ["Launching a new EC2 instance", "Terminating EC2 instance"]
    assert latest[1]["Cause"] == (
        "At 2026-01-05T00:02:30Z an instance was taken out of service in response to an ELB system health check failure."
    )
    assert (latest[1]["StatusCode"], latest[1]["Progress"]) == ("WaitingForELBConnectionDraining", 50)
    assert latest[0]["StartTime"] == clock.datetime(LAUNCH + DETECTION)


def test_scale_in_drains_targets_from_the_fullest_az(stack: Stack) -> None:
    clock = stack.env.clock
    stack.create_group(desired=3)
    clock.sleep(LAUNCH)

    stack.asg.set_desired_capacity(AutoScalingGroupName="web", DesiredCapacity=2)
    leaving = [i for i in stack.group_instances() if i["LifecycleState"] == "Terminating"]
    states = stack.target_states()
    clock.sleep(300)

    assert [i["AvailabilityZone"] for i in leaving] == ["us-east-1c"]
    assert states[leaving[0]["InstanceId"]] == ("draining", "Target.DeregistrationInProgress")
    assert leaving[0]["InstanceId"] not in stack.target_states()
    assert sorted(i["AvailabilityZone"] for i in stack.group_instances()) == ["us-east-1a", "us-east-1b"]


def test_a_restored_az_takes_new_launches_but_nothing_moves_back(stack: Stack) -> None:
    clock = stack.env.clock
    world = stack.env.emulation.world
    stack.create_group(desired=3)
    clock.sleep(LAUNCH)
    world.lose_az("us-east-1a")
    clock.sleep(DETECTION + LAUNCH)

    world.restore_az("us-east-1a")
    clock.sleep(600)
    unchanged = Counter(v.az for v in stack.model.instances("web") if v.lifecycle_state == "InService")
    stack.asg.set_desired_capacity(AutoScalingGroupName="web", DesiredCapacity=4)

    assert unchanged == {"us-east-1b": 2, "us-east-1c": 1}
    assert [i["AvailabilityZone"] for i in stack.group_instances() if i["LifecycleState"] == "Pending"] == ["us-east-1a"]


def test_a_target_registered_by_hand_fails_with_its_az(stack: Stack) -> None:
    clock = stack.env.clock
    instance = stack.ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1, SubnetId=stack.subnets["us-east-1b"])
    iid = instance["Instances"][0]["InstanceId"]
    stack.elbv2.register_targets(TargetGroupArn=stack.tg_arn, Targets=[{"Id": iid}])
    assert stack.model.alb_serving(stack.dns_name)

    stack.env.emulation.world.lose_az("us-east-1b")
    serving = stack.model.alb_serving(stack.dns_name)
    clock.sleep(DETECTION)

    assert not serving
    assert stack.target_states()[iid] == ("unhealthy", "Target.Timeout")


def test_desired_capacity_outside_the_bounds_and_unknown_groups_are_errors(stack: Stack) -> None:
    stack.create_group(desired=1)

    with pytest.raises(ClientError) as above:
        stack.asg.set_desired_capacity(AutoScalingGroupName="web", DesiredCapacity=10)
    with pytest.raises(ClientError) as unknown:
        stack.asg.set_desired_capacity(AutoScalingGroupName="nope", DesiredCapacity=1)

    assert above.value.response["Error"]["Code"] == "ValidationError"
    assert above.value.response["Error"]["Message"] == "New SetDesiredCapacity value 10 is above max value 9 for the AutoScalingGroup."
    assert unknown.value.response["Error"]["Code"] == "ValidationError"  # moto itself crashes with KeyError
    assert unknown.value.response["Error"]["Message"] == "AutoScalingGroup name not found - AutoScalingGroup 'nope' not found"


def test_close_cancels_scheduled_launches(stack: Stack) -> None:
    stack.create_group(desired=2)

    stack.model.close()
    stack.env.clock.sleep(LAUNCH)

    assert stack.model.in_service("web") == 0
    assert stack.env.clock.pending() == 0
