"""Instances of Auto Scaling groups on the clock: placement, launch, termination, AZ loss.

- Launches go to the enabled AZ with the fewest instances of the group, skipping impaired AZs
  ([ASG-UG:auto-scaling-benefits], ``balanced-best-effort``); scale-in removes from the AZ with the
  most (the ``Default`` termination policy).
- A new instance is ``Pending`` for ``ec2_launch_time``, then ``InService``.
- A removed instance is ``Terminating`` while its targets drain for the deregistration delay
  ([ASG-UG:ec2-auto-scaling-health-checks]: the group waits it out before terminating).
- An AZ loss is seen by the load balancer after ``elb_unhealthy_threshold`` ×
  ``elb_health_check_interval`` ([ALB-UG:target-group-health-checks]); the groups then replace the
  AZ's instances elsewhere. Nothing moves back when the AZ returns (no ``AZRebalance``).
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import botocore.exceptions

from pytest_drtest.emulation.compute.activities import ScalingActivities
from pytest_drtest.emulation.compute.models import (
    DEFAULT_DEREGISTRATION_DELAY,
    DETACHED,
    IN_SERVICE,
    LIVE_STATES,
    PENDING,
    SUSPENDED_BLOCKING_REPLACEMENT,
    TERMINATED,
    TERMINATING,
    Activity,
    Group,
    Instance,
    Reason,
)
from pytest_drtest.emulation.core import az_region


class InstanceLifecycle(ScalingActivities):
    """What moto's groups do, redone the AWS way: where, when and why instances come and go."""

    def ensure_known(self, region: str, name: str) -> dict[str, Any] | None:
        """Adopt a group created behind the model's back before a call changes it; moto's row."""
        raw = self._describe_group(region, name)
        group = self._groups.get((region, name))
        if raw is not None and (group is None or group.deleted):
            self.sync(region, name, Reason("observed"))
        return raw

    def group_of_instance(self, region: str, instance_id: str) -> str | None:
        inst = self._instances.get(instance_id)
        if inst is not None and inst.region == region:
            return inst.asg
        found = self.backdoor(region, "autoscaling").describe_auto_scaling_instances(InstanceIds=[instance_id])
        rows = found["AutoScalingInstances"]
        return rows[0]["AutoScalingGroupName"] if rows else None

    def groups_of(self, region: str, instance_ids: Iterable[str]) -> list[str]:
        """Names of the groups (known to the model) that hold any of ``instance_ids``."""
        found = {self._instances[i].asg for i in instance_ids if i in self._instances and self._instances[i].region == region}
        return sorted(found)

    def sync(self, region: str, name: str, reason: Reason) -> None:
        """Bring the model in line with moto's view of the group after ``reason`` changed it."""
        raw = self._describe_group(region, name)
        group = self._groups.get((region, name))
        if raw is None:
            if group is not None and not group.deleted:
                live = self._live(group)
                for inst in live:
                    self._terminate(group, inst, reason, len(live), 0)
                group.deleted = True
            return
        adopting = (group is None or group.deleted) and reason.kind == "observed"
        if group is None or group.deleted:
            group = Group(region, name)
            self._groups[(region, name)] = group
        old_desired = group.desired
        self._configure(group, raw)
        listed = {row["InstanceId"]: row for row in raw.get("Instances", [])}
        live = self._live(group)
        gone = [inst for inst in live if inst.id not in listed]
        new_ids = [iid for iid in listed if self._instances.get(iid) is None or self._instances[iid].state not in LIVE_STATES]
        for inst in live:
            if inst.id in listed:
                inst.template = listed[inst.id]
                inst.target_groups = set(group.target_groups)
        count = len(live)
        for inst in gone:
            self._terminate(group, inst, reason, count, count - len(gone), old_desired=old_desired)
        count -= len(gone)
        replaced = [inst.id for inst in gone] if reason.kind == "health" else []
        attached_azs = self._instance_azs(region, [i for i in new_ids if i in reason.instance_ids]) if reason.kind == "attach" else {}
        for index, iid in enumerate(new_ids):
            self._launch(
                group,
                listed[iid],
                reason,
                count,
                count + len(new_ids),
                old_desired=old_desired,
                replaces=replaced[index] if index < len(replaced) else None,
                in_service_now=adopting or iid in attached_azs,
                az=attached_azs.get(iid),
            )
        self.invalidate_targets()

    def scale_in_first(self, region: str, name: str, new_desired: int) -> None:
        """Remove instances the AWS way before moto scales in (moto picks arbitrary ones).

        Default termination policy: the AZ with the most instances; there the newest instance
        (AWS then decides by billing hour). Protected instances are skipped.
        """
        group = self._groups.get((region, name))
        if group is None or group.deleted:
            return
        live = [i for i in self._live(group) if not i.template.get("ProtectedFromScaleIn")]
        excess = len(self._live(group)) - new_desired
        autoscaling = self.backdoor(region, "autoscaling")
        for _ in range(max(0, min(excess, len(live)))):
            counts: dict[str, int] = {}
            for inst in live:
                counts[inst.az] = counts.get(inst.az, 0) + 1
            az = max(sorted(counts, reverse=True), key=lambda zone: counts[zone])  # ties: last by name
            victim = max((i for i in live if i.az == az), key=lambda i: (i.launched_at, i.id))
            live.remove(victim)
            autoscaling.terminate_instance_in_auto_scaling_group(InstanceId=victim.id, ShouldDecrementDesiredCapacity=True)

    def on_world_change(self, what: str, name: str) -> None:
        now = self.clock.now()
        if what == "az-lost":
            self._down_since[name] = now
            old = self._detections.pop(name, None)
            if old is not None:
                old.cancel()
            self._detections[name] = self.at(now + self.detection_time(), lambda: self._detect(name), name=f"compute:detect:{name}")
            self.invalidate_targets()
        elif what == "az-restored":
            handle = self._detections.pop(name, None)
            if handle is not None:
                handle.cancel()
            self._down_since.pop(name, None)
            # Nothing moves back by itself (no AZRebalance modeled): launches may use the AZ again,
            # and launches that were waiting for it complete now.
            for inst in list(self._instances.values()):
                if inst.az == name and inst.state == PENDING and inst.waiting_for_az:
                    self._come_in_service(inst, self._launch_activity(inst.id))
        elif what == "region-lost":
            self._down_since[name] = now
        elif what == "region-restored":
            self._down_since.pop(name, None)

    # -- launch and termination -------------------------------------------------------------
    def _configure(self, group: Group, raw: dict[str, Any]) -> None:
        group.arn = raw.get("AutoScalingGroupARN")
        group.min_size, group.max_size = raw["MinSize"], raw["MaxSize"]
        group.desired = raw["DesiredCapacity"]
        group.health_check_type = raw.get("HealthCheckType", "EC2")
        group.target_groups = list(raw.get("TargetGroupARNs", []))
        group.suspended = {p["ProcessName"] for p in raw.get("SuspendedProcesses", [])}
        subnets = [s for s in (raw.get("VPCZoneIdentifier") or "").split(",") if s]
        group.subnet_by_az = {}
        for subnet, az in self._subnet_azs(group.region, subnets).items():
            group.subnet_by_az.setdefault(az, subnet)
        group.azs = sorted(set(group.subnet_by_az) | set(raw.get("AvailabilityZones", [])))

    def _place(self, group: Group) -> str:
        """The enabled AZ with the fewest live instances of the group, impaired AZs skipped
        ([ASG-UG:auto-scaling-benefits], balanced-best-effort); ties by AZ name."""
        counts = dict.fromkeys(group.azs, 0)
        for inst in self._live(group):
            if inst.az in counts:
                counts[inst.az] += 1
        usable = [az for az in group.azs if self.world.az_up(az) and not self._launch_blocked(group, az)] or group.azs
        return min(sorted(usable), key=lambda az: counts[az])

    def _launch(
        self,
        group: Group,
        row: dict[str, Any],
        reason: Reason,
        before: int,
        after: int,
        *,
        old_desired: int,
        replaces: str | None,
        in_service_now: bool,
        az: str | None,
    ) -> None:
        now = self.clock.now()
        placed_az = az or (self._place(group) if group.azs else row.get("AvailabilityZone", ""))
        inst = Instance(
            id=row["InstanceId"],
            region=group.region,
            asg=group.name,
            az=placed_az,
            subnet_id=self._subnet_for(group, placed_az) if placed_az else None,
            launched_at=now,
            template=row,
            target_groups=set(group.target_groups),
        )
        self._instances[inst.id] = inst
        if in_service_now:  # already running when first seen (adopted or attached)
            inst.state, inst.in_service_at = IN_SERVICE, now
            self._event("in-service", inst, "adopted" if reason.kind != "attach" else "attached")
            return
        activity = self._record(
            group,
            f"Launching a new EC2 instance: {inst.id}",
            self._launch_cause(group, reason, before, after, old_desired),
            inst,
            status_code="PreInService",
            progress=30,
        )
        self._event("launch", inst, activity.cause, replaces)
        launch_time = self.profile.sample("ec2_launch_time", stream=f"launch:{group.region}/{group.name}")
        self.at(now + launch_time, lambda: self._come_in_service(inst, activity), name=f"compute:in-service:{inst.id}")

    def _come_in_service(self, inst: Instance, activity: Activity | None) -> None:
        if inst.state != PENDING:
            return
        if not self.world.az_up(inst.az):  # the launch keeps being retried until its AZ is back
            inst.waiting_for_az = True
            return
        inst.state, inst.in_service_at, inst.waiting_for_az = IN_SERVICE, self.clock.now(), False
        if activity is not None:
            activity.finish(self.clock.now())
        self._event("in-service", inst)
        self.invalidate_targets()

    def _terminate(
        self,
        group: Group,
        inst: Instance,
        reason: Reason,
        before: int,
        after: int,
        *,
        old_desired: int | None = None,
    ) -> None:
        detach = reason.kind == "detach" and inst.id in reason.instance_ids
        if inst.state == PENDING:  # its launch never completes
            launch = self._launch_activity(inst.id)
            if launch is not None and launch.end is None:
                launch.status_code, launch.progress, launch.end = "Cancelled", 100, self.clock.now()
        if detach:
            inst.state = DETACHED
        elif reason.kind == "ec2-terminated" and inst.id in reason.instance_ids:
            inst.state = TERMINATED  # terminated through EC2: gone at once, its targets still drain
        else:
            inst.state = TERMINATING
        description = f"{'Detaching' if detach else 'Terminating'} EC2 instance: {inst.id}"
        cause = self._terminate_cause(group, inst, reason, before, after, old_desired)
        delay = self._deregistration_delay(inst) if inst.target_groups else 0.0
        activity = self._record(
            group,
            description,
            cause,
            inst,
            status_code="WaitingForELBConnectionDraining" if delay > 0 else "InProgress",
            progress=50,
        )
        self._event("detach" if detach else "terminate", inst, cause)
        inst.draining = True
        if delay > 0:
            self.at(self.clock.now() + delay, lambda: self._drained(inst, activity), name=f"compute:drained:{inst.id}")
        else:
            self._drained(inst, activity)

    def _drained(self, inst: Instance, activity: Activity) -> None:
        """End of the deregistration delay: the target leaves its groups, the instance terminates."""
        inst.draining, inst.registered = False, False
        for tg_arn in inst.target_groups:
            try:
                self.backdoor(inst.region, "elbv2").deregister_targets(TargetGroupArn=tg_arn, Targets=[{"Id": inst.id}])
            except botocore.exceptions.ClientError:
                pass  # the target group is gone
        if inst.state == TERMINATING:
            inst.state = TERMINATED
            self._event("terminated", inst)
        activity.finish(self.clock.now())
        self.invalidate_targets()

    def _deregistration_delay(self, inst: Instance) -> float:
        delays = []
        for tg_arn in inst.target_groups:
            try:
                attrs = self.backdoor(inst.region, "elbv2").describe_target_group_attributes(TargetGroupArn=tg_arn)
            except botocore.exceptions.ClientError:
                continue
            values = {a["Key"]: a["Value"] for a in attrs["Attributes"]}
            delays.append(float(values.get("deregistration_delay.timeout_seconds", DEFAULT_DEREGISTRATION_DELAY)))
        return max(delays, default=0.0)

    def _detect(self, az: str) -> None:
        """The ALB has seen the AZ's targets fail; the groups replace their instances there."""
        self._detections.pop(az, None)
        if self.world.az_up(az):
            return
        region = az_region(az)
        victims = [i for i in self._instances.values() if i.region == region and i.az == az and i.state in LIVE_STATES]
        for inst in victims:
            group = self._groups.get((inst.region, inst.asg))
            if group is None or group.deleted or inst.state not in LIVE_STATES:
                continue
            if "HealthCheck" in group.suspended:
                continue
            inst.health = "Unhealthy"
            self._event("unhealthy", inst, f"{group.health_check_type} health check")
            if group.suspended & SUSPENDED_BLOCKING_REPLACEMENT:
                continue
            try:  # moto launches the replacement synchronously (into its first subnet)
                self.backdoor(region, "autoscaling").terminate_instance_in_auto_scaling_group(
                    InstanceId=inst.id, ShouldDecrementDesiredCapacity=False
                )
            except botocore.exceptions.ClientError:
                continue
            self.sync(region, inst.asg, Reason("health", frozenset({inst.id})))
