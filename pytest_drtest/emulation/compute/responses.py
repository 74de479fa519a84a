"""The EC2, Auto Scaling and ELBv2 emulators: thin adapters over one :class:`ComputeModel`."""
from __future__ import annotations

from typing import Any

from pytest_drtest.emulation.compute.backend import ComputeModel
from pytest_drtest.emulation.compute.models import (
    TARGET_DRAINING,
    TARGET_NOT_REGISTERED,
    Reason,
)
from pytest_drtest.emulation.core import AwsError, Call, Emulation, ServiceEmulator


class _ComputeEmulator(ServiceEmulator):
    """Base of the three emulators: they share one :class:`ComputeModel`."""

    def __init__(self, emulation: Emulation, model: ComputeModel) -> None:
        super().__init__(emulation)
        self.model = model

    def close(self) -> None:
        super().close()
        self.model.close()


class Ec2Emulator(_ComputeEmulator):
    """EC2: learns subnets' AZs; reports ASG instances where the model placed them."""

    service = "ec2"

    def after_CreateSubnet(self, call: Call) -> None:
        subnet = (call.parsed or {}).get("Subnet", {})
        if subnet.get("SubnetId") and subnet.get("AvailabilityZone"):
            self.model.learn_subnet(call.region, subnet["SubnetId"], subnet["AvailabilityZone"])

    def after_DescribeInstances(self, call: Call) -> None:
        for reservation in (call.parsed or {}).get("Reservations", []):
            for item in reservation.get("Instances", []):
                self.model.rewrite_ec2_instance(item)

    def after_StopInstances(self, call: Call) -> None:
        self.model.stop_instances(call.region, list(call.params.get("InstanceIds", [])))

    def after_StartInstances(self, call: Call) -> None:
        self.model.start_instances(call.region, list(call.params.get("InstanceIds", [])))

    def after_TerminateInstances(self, call: Call) -> None:
        # moto replaces a terminated ASG instance at once; AWS finds it on its next EC2 health check.
        ids = set(call.params.get("InstanceIds", []))
        for name in self.model.groups_of(call.region, ids):
            self.model.sync(call.region, name, Reason("ec2-terminated", frozenset(ids)))


class AutoScalingEmulator(_ComputeEmulator):
    """EC2 Auto Scaling: placement, launch time, health replacement, scaling activities."""

    service = "autoscaling"

    def on_world_change(self, what: str, name: str) -> None:
        # Only this emulator forwards world changes, so the model sees each one once.
        self.model.on_world_change(what, name)

    # -- changes ---------------------------------------------------------------------------
    def after_CreateAutoScalingGroup(self, call: Call) -> None:
        self.model.sync(call.region, call.params["AutoScalingGroupName"], Reason("create"))

    def _require_group(self, call: Call) -> dict[str, Any]:
        """moto's row of the call's group; AWS's ValidationError for an unknown one (moto crashes
        with a bare KeyError on SetDesiredCapacity, DetachInstances, Attach*/Detach*TargetGroups)."""
        name = call.params["AutoScalingGroupName"]
        raw = self.model.ensure_known(call.region, name)
        if raw is None:
            raise AwsError("ValidationError", f"AutoScalingGroup name not found - AutoScalingGroup '{name}' not found")
        return raw

    def before_SetDesiredCapacity(self, call: Call) -> dict[str, Any] | None:
        name, desired = call.params["AutoScalingGroupName"], call.params["DesiredCapacity"]
        raw = self._require_group(call)
        if desired > raw["MaxSize"]:
            # AWS answers ValidationError; moto accepts any value.
            raise AwsError(
                "ValidationError",
                f"New SetDesiredCapacity value {desired} is above max value {raw['MaxSize']} for the AutoScalingGroup.",
            )
        if desired < raw["MinSize"]:
            raise AwsError(
                "ValidationError",
                f"New SetDesiredCapacity value {desired} is below min value {raw['MinSize']} for the AutoScalingGroup.",
            )
        self.model.scale_in_first(call.region, name, desired)
        return None

    def after_SetDesiredCapacity(self, call: Call) -> None:
        self.model.sync(call.region, call.params["AutoScalingGroupName"], Reason("set-desired"))

    def before_UpdateAutoScalingGroup(self, call: Call) -> dict[str, Any] | None:
        name = call.params["AutoScalingGroupName"]
        raw = self.model.ensure_known(call.region, name)
        if raw is None:
            return None
        min_size = call.params.get("MinSize", raw["MinSize"])
        max_size = call.params.get("MaxSize", raw["MaxSize"])
        desired = call.params.get("DesiredCapacity")
        if desired is None:  # AWS keeps desired within the new bounds
            desired = min(max(raw["DesiredCapacity"], min_size), max_size)
        if min_size <= desired <= max_size:
            self.model.scale_in_first(call.region, name, desired)
        return None

    def after_UpdateAutoScalingGroup(self, call: Call) -> None:
        self.model.sync(call.region, call.params["AutoScalingGroupName"], Reason("update"))

    def after_SuspendProcesses(self, call: Call) -> None:
        # The processes suspended now decide whether an AZ loss replaces instances
        # ([ASG-UG:as-suspend-resume-processes]): the model reads them from the group.
        self.model.sync(call.region, call.params["AutoScalingGroupName"], Reason("update"))

    after_ResumeProcesses = after_SuspendProcesses

    def before_TerminateInstanceInAutoScalingGroup(self, call: Call) -> dict[str, Any] | None:
        iid = call.params["InstanceId"]
        name = self.model.group_of_instance(call.region, iid)
        if name is None:  # moto raises a bare StopIteration here
            raise AwsError("ValidationError", f"Instance Id not found - No managed instance found for instance ID: {iid}")
        self.model.ensure_known(call.region, name)
        call.context["drtest_compute_asg"] = name
        return None

    def before_DetachInstances(self, call: Call) -> dict[str, Any] | None:
        self._require_group(call)
        return None

    def before_AttachInstances(self, call: Call) -> dict[str, Any] | None:
        self._require_group(call)
        return None

    def before_AttachLoadBalancerTargetGroups(self, call: Call) -> dict[str, Any] | None:
        self._require_group(call)
        return None

    def before_DetachLoadBalancerTargetGroups(self, call: Call) -> dict[str, Any] | None:
        self._require_group(call)
        return None

    def after_TerminateInstanceInAutoScalingGroup(self, call: Call) -> None:
        iid = call.params["InstanceId"]
        name = call.context.get("drtest_compute_asg")
        if name is None:
            return
        decrement = bool(call.params.get("ShouldDecrementDesiredCapacity"))
        self.model.sync(call.region, name, Reason("terminate", frozenset({iid}), decrement=decrement))
        activity = self.model.activity_for(iid, "Terminating EC2 instance")
        if activity is not None and call.parsed is not None:
            call.parsed["Activity"] = activity

    def after_DetachInstances(self, call: Call) -> None:
        ids = frozenset(call.params.get("InstanceIds", []))
        decrement = bool(call.params.get("ShouldDecrementDesiredCapacity"))
        self.model.sync(call.region, call.params["AutoScalingGroupName"], Reason("detach", ids, decrement=decrement))
        if call.parsed is not None:
            rows = [self.model.activity_for(i, "Detaching EC2 instance") for i in sorted(ids)]
            call.parsed["Activities"] = [r for r in rows if r is not None]

    def after_AttachInstances(self, call: Call) -> None:
        ids = frozenset(call.params.get("InstanceIds", []))
        self.model.sync(call.region, call.params["AutoScalingGroupName"], Reason("attach", ids))

    def after_AttachLoadBalancerTargetGroups(self, call: Call) -> None:
        self.model.sync(call.region, call.params["AutoScalingGroupName"], Reason("observed"))

    def after_DetachLoadBalancerTargetGroups(self, call: Call) -> None:
        self.model.sync(call.region, call.params["AutoScalingGroupName"], Reason("observed"))

    def after_DeleteAutoScalingGroup(self, call: Call) -> None:
        self.model.sync(call.region, call.params["AutoScalingGroupName"], Reason("delete"))

    # -- views -----------------------------------------------------------------------------
    def after_DescribeAutoScalingGroups(self, call: Call) -> None:
        self.model.rewrite_group_rows(call.region, (call.parsed or {}).get("AutoScalingGroups", []))

    def after_DescribeAutoScalingInstances(self, call: Call) -> None:
        if call.parsed is None:
            return
        asked = set(call.params.get("InstanceIds") or [])
        call.parsed["AutoScalingInstances"] = self.model.rewrite_instance_rows(
            call.region, call.parsed.get("AutoScalingInstances", []), asked
        )

    def before_DescribeScalingActivities(self, call: Call) -> dict[str, Any] | None:
        return self.model.scaling_activities(call.region, call.params)


class Elbv2Emulator(_ComputeEmulator):
    """ELBv2: target health by instance state and AZ; load balancers as health-checkable endpoints."""

    service = "elbv2"

    def after_CreateLoadBalancer(self, call: Call) -> None:
        for row in (call.parsed or {}).get("LoadBalancers", []):
            self.model.register_load_balancer(call.region, row)

    def after_DeleteLoadBalancer(self, call: Call) -> None:
        self.model.forget_load_balancer(call.params["LoadBalancerArn"])

    def after_DescribeTargetHealth(self, call: Call) -> None:
        if call.parsed is None:
            return
        tg_arn = call.params["TargetGroupArn"]
        asked = {t["Id"] for t in call.params.get("Targets") or []}
        rows: list[dict[str, Any]] = []
        seen: set[str] = set()
        for row in call.parsed.get("TargetHealthDescriptions", []):
            target_id = row["Target"]["Id"]
            seen.add(target_id)
            health = self.model.target_health(call.region, target_id, row.get("TargetHealth"))
            if health is None:
                if target_id not in asked:
                    continue
                health = dict(TARGET_NOT_REGISTERED)
            row["TargetHealth"] = health
            rows.append(row)
        for target_id in self.model.draining_target_ids(tg_arn):
            if target_id not in seen and (not asked or target_id in asked):
                health = self.model.target_health(call.region, target_id, None) or dict(TARGET_DRAINING)
                rows.append({"Target": {"Id": target_id}, "HealthCheckPort": "traffic-port", "TargetHealth": health})
        call.parsed["TargetHealthDescriptions"] = rows

    def _changed_listeners(self, call: Call) -> None:
        self.model.invalidate_listeners()

    def _changed_targets(self, call: Call) -> None:
        self.model.invalidate_targets()

    after_CreateListener = _changed_listeners
    after_ModifyListener = _changed_listeners
    after_DeleteListener = _changed_listeners
    after_CreateRule = _changed_listeners
    after_ModifyRule = _changed_listeners
    after_DeleteRule = _changed_listeners
    after_DeleteTargetGroup = _changed_listeners
    after_RegisterTargets = _changed_targets
    after_DeregisterTargets = _changed_targets


def install_compute(emulation: Emulation) -> ComputeModel:
    """Create the shared compute model and add the EC2, Auto Scaling and ELBv2 emulators."""
    model = ComputeModel(emulation)
    emulation.add(Ec2Emulator(emulation, model))
    emulation.add(AutoScalingEmulator(emulation, model))
    emulation.add(Elbv2Emulator(emulation, model))
    return model
