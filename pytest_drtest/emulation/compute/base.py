"""The state the compute model keeps and the lookups every compute behaviour uses."""
from __future__ import annotations

import uuid
from typing import Any

import botocore.exceptions

from pytest_drtest.clock import Scheduled
from pytest_drtest.emulation.compute.models import (
    IN_SERVICE,
    LIVE_STATES,
    Activity,
    ComputeEvent,
    Group,
    Instance,
    LoadBalancer,
)
from pytest_drtest.emulation.core import Emulation, ServiceEmulator


class ComputeBase(ServiceEmulator):
    """State of the groups, instances and load balancers of every region.

    The model is not added to the hub: the EC2, Auto Scaling and ELBv2 emulators forward their
    calls to it. It derives from :class:`ServiceEmulator` for the clock, the world, the backdoor
    and the timers (:meth:`close` cancels every scheduled transition).
    """

    def __init__(self, emulation: Emulation) -> None:
        super().__init__(emulation)
        self._subnet_az: dict[tuple[str, str], str] = {}
        self._default_subnet: dict[tuple[str, str], str | None] = {}
        self._groups: dict[tuple[str, str], Group] = {}
        self._instances: dict[str, Instance] = {}
        self._untracked_az: dict[str, str | None] = {}
        self._activities: list[Activity] = []
        self._events: list[ComputeEvent] = []
        self._lbs: dict[str, LoadBalancer] = {}
        self._lb_tgs: dict[str, frozenset[str]] = {}
        self._tg_members: dict[str, tuple[str, ...]] = {}
        self._down_since: dict[str, float] = {}
        self._detections: dict[str, Scheduled] = {}  # AZ -> the moment the ALB sees it fail
        self._launch_blocks: dict[str, tuple[str, str, frozenset[str]]] = {}  # holder -> (region, group, AZs)

    def detection_time(self) -> float:
        """Seconds from an AZ loss until the ALB marks its targets unhealthy ([ALB-UG])."""
        return self.profile.value("elb_unhealthy_threshold") * self.profile.value("elb_health_check_interval")

    def _stamp(self, t: float | None = None) -> str:
        return self.clock.datetime(t).strftime("%Y-%m-%dT%H:%M:%SZ")

    def _new_activity_id(self) -> str:
        rng = self.profile.rng("compute.activity-ids")
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    def _event(self, kind: str, inst: Instance, detail: str = "", replaces: str | None = None) -> None:
        self._events.append(
            ComputeEvent(self.clock.now(), kind, inst.region, inst.asg, inst.id, inst.az, detail, replaces)
        )

    def _find_group(self, name: str, region: str | None) -> Group:
        found = [g for g in self._groups.values() if g.name == name and not g.deleted]
        if region is not None:
            found = [g for g in found if g.region == region]
        if not found:
            raise KeyError(f"no Auto Scaling group {name!r}" + (f" in {region}" if region else ""))
        if len(found) > 1:
            regions = ", ".join(sorted(g.region for g in found))
            raise ValueError(f"Auto Scaling group {name!r} exists in {regions}: pass region=")
        return found[0]

    # -- subnets and groups as moto has them -------------------------------------------------
    def learn_subnet(self, region: str, subnet_id: str, az: str) -> None:
        self._subnet_az[(region, subnet_id)] = az

    def _subnet_azs(self, region: str, subnet_ids: list[str]) -> dict[str, str]:
        unknown = [s for s in subnet_ids if (region, s) not in self._subnet_az]
        if unknown:
            try:
                found = self.backdoor(region, "ec2").describe_subnets(SubnetIds=unknown)["Subnets"]
            except botocore.exceptions.ClientError:
                found = []
            for subnet in found:
                self.learn_subnet(region, subnet["SubnetId"], subnet["AvailabilityZone"])
        return {s: self._subnet_az[(region, s)] for s in subnet_ids if (region, s) in self._subnet_az}

    def _subnet_for(self, group: Group, az: str) -> str | None:
        if az in group.subnet_by_az:
            return group.subnet_by_az[az]
        key = (group.region, az)
        if key not in self._default_subnet:
            subnets = self.backdoor(group.region, "ec2").describe_subnets(
                Filters=[{"Name": "availability-zone", "Values": [az]}, {"Name": "default-for-az", "Values": ["true"]}]
            )["Subnets"]
            self._default_subnet[key] = subnets[0]["SubnetId"] if subnets else None
        return self._default_subnet[key]

    def _describe_group(self, region: str, name: str) -> dict[str, Any] | None:
        groups = self.backdoor(region, "autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[name])
        return groups["AutoScalingGroups"][0] if groups["AutoScalingGroups"] else None

    def _live(self, group: Group) -> list[Instance]:
        return [
            inst
            for inst in self._instances.values()
            if inst.region == group.region and inst.asg == group.name and inst.state in LIVE_STATES
        ]

    def _instance_azs(self, region: str, instance_ids: list[str]) -> dict[str, str]:
        if not instance_ids:
            return {}
        found: dict[str, str] = {}
        for reservation in self.backdoor(region, "ec2").describe_instances(InstanceIds=instance_ids)["Reservations"]:
            for row in reservation["Instances"]:
                found[row["InstanceId"]] = row["Placement"]["AvailabilityZone"]
        return found

    def _serving(self, inst: Instance) -> bool:
        return inst.state == IN_SERVICE and inst.registered and inst.stopped_at is None and self.world.az_up(inst.az)

    def _launch_blocked(self, group: Group, az: str) -> bool:
        """A launch of ``group`` into ``az`` fails for lack of capacity (``block_launches``)."""
        return any((region, name) == (group.region, group.name) and az in azs for region, name, azs in self._launch_blocks.values())

    # -- caches of moto's target groups -------------------------------------------------------
    def invalidate_targets(self) -> None:
        self._tg_members.clear()

    def invalidate_listeners(self) -> None:
        self._lb_tgs.clear()
        self._tg_members.clear()
