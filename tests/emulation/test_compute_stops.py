"""Stopped group instances and launches refused in an AZ (what FIS actions do to compute)."""
from __future__ import annotations

from typing import Any

import pytest

from pytest_drtest.emulation.compute import ComputeModel, install_compute
from tests.conftest import EmuEnv

AZS = ["us-east-1a", "us-east-1b", "us-east-1c"]


@pytest.fixture
def group(emu_env: EmuEnv) -> tuple[EmuEnv, ComputeModel, Any]:
    model = install_compute(emu_env.emulation)
    ec2 = emu_env.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=az)["Subnet"]["SubnetId"]
               for i, az in enumerate(AZS)]
    ec2.create_launch_template(LaunchTemplateName="web-lt", LaunchTemplateData={"ImageId": "ami-12345678", "InstanceType": "t3.micro"})
    asg = emu_env.client("autoscaling")
    asg.create_auto_scaling_group(AutoScalingGroupName="web", LaunchTemplate={"LaunchTemplateName": "web-lt"}, MinSize=0, MaxSize=6,
                                  DesiredCapacity=3, VPCZoneIdentifier=",".join(subnets))
    emu_env.clock.sleep(emu_env.profile.figures["ec2_launch_time"].high)
    return emu_env, model, asg


def _detection(env: EmuEnv) -> float:
    return env.profile.value("elb_unhealthy_threshold") * env.profile.value("elb_health_check_interval")


def test_a_stopped_instance_stops_serving_and_is_replaced_after_the_detection_time(group: tuple[EmuEnv, ComputeModel, Any]) -> None:
    env, model, asg = group
    victim = next(i for i in model.instances("web") if i.az == "us-east-1a")
    env.client("ec2").stop_instances(InstanceIds=[victim.id])
    state = env.client("ec2").describe_instances(InstanceIds=[victim.id])["Reservations"][0]["Instances"][0]["State"]["Name"]
    assert (state, next(i for i in model.instances("web") if i.id == victim.id).serving) == ("stopped", False)
    env.clock.sleep(_detection(env) - 1)
    assert victim.id in {i.id for i in model.instances("web") if i.lifecycle_state == "InService"}
    env.clock.sleep(1)
    rows = asg.describe_scaling_activities(AutoScalingGroupName="web")["Activities"]
    assert any(victim.id in a["Description"] and "terminated or stopped" in a["Cause"] for a in rows)
    assert len([i for i in model.instances("web") if i.lifecycle_state in ("Pending", "InService")]) == 3


def test_started_again_before_the_detection_time_it_serves_again(group: tuple[EmuEnv, ComputeModel, Any]) -> None:
    env, model, _ = group
    victim = model.instances("web")[0]
    ec2 = env.client("ec2")
    ec2.stop_instances(InstanceIds=[victim.id])
    env.clock.sleep(_detection(env) / 2)
    ec2.start_instances(InstanceIds=[victim.id])
    env.clock.sleep(_detection(env))
    assert next(i for i in model.instances("web") if i.id == victim.id).serving


def test_blocked_launches_skip_the_az_until_unblocked(group: tuple[EmuEnv, ComputeModel, Any]) -> None:
    _, model, asg = group
    model.block_launches("test", "us-east-1", "web", {"us-east-1a"})
    asg.set_desired_capacity(AutoScalingGroupName="web", DesiredCapacity=6)
    assert sorted(i.az for i in model.instances("web")).count("us-east-1a") == 1  # the three new ones went to b and c
    model.unblock_launches("test")
    asg.set_desired_capacity(AutoScalingGroupName="web", DesiredCapacity=3)
    asg.set_desired_capacity(AutoScalingGroupName="web", DesiredCapacity=4)
    assert "us-east-1a" in [i.az for i in model.instances("web") if i.lifecycle_state == "Pending"]
