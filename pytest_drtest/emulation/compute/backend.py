"""The compute model shared by the EC2, Auto Scaling and ELBv2 emulators (moto would call it a backend)."""
from __future__ import annotations

from typing import Any

from pytest_drtest.emulation.compute.models import (
    EC2_STATE,
    EC2_STOPPED,
    IN_SERVICE,
    LIVE_STATES,
    TERMINATED,
    TERMINATING,
    ComputeEvent,
    InstanceView,
    Reason,
)
from pytest_drtest.emulation.compute.stops import InstanceStops
from pytest_drtest.emulation.compute.targets import Targets


class ComputeModel(InstanceStops, Targets):
    """Shared state of the EC2, Auto Scaling and ELBv2 emulators, and their public API."""

    def in_service(self, asg_name: str, region: str | None = None) -> int:
        """Instances of the group in ``InService``."""
        return sum(1 for inst in self.instances(asg_name, region) if inst.lifecycle_state == IN_SERVICE)

    def instances(self, asg_name: str, region: str | None = None) -> list[InstanceView]:
        """The group's instances (live and terminating), oldest first."""
        group = self._find_group(asg_name, region)
        return [
            InstanceView(
                inst.id, inst.asg, inst.region, inst.az, inst.state, inst.health == "Healthy", self._serving(inst)
            )
            for inst in self._instances.values()
            if inst.region == group.region and inst.asg == group.name and inst.state in (*LIVE_STATES, TERMINATING)
        ]

    def asg_for_region(self, region: str) -> list[str]:
        """Names of the Auto Scaling groups that exist in ``region``."""
        return sorted(g.name for g in self._groups.values() if g.region == region and not g.deleted)

    def events(self) -> list[ComputeEvent]:
        """Launches, health failures and terminations, in clock order."""
        return list(self._events)

    def close(self) -> None:
        """Cancel every scheduled transition."""
        super().close()
        self._detections.clear()

    # -- rewriting responses -----------------------------------------------------------------
    def rewrite_group_rows(self, region: str, rows: list[dict[str, Any]]) -> None:
        """Fix Instances[] of DescribeAutoScalingGroups rows (AZ, lifecycle, health)."""
        for row in rows:
            name = row["AutoScalingGroupName"]
            self._heal(region, name, {i["InstanceId"] for i in row.get("Instances", [])})
            listed = {i["InstanceId"] for i in row.get("Instances", [])}
            for item in row.get("Instances", []):
                self._rewrite_asg_instance(item)
            for inst in self._instances.values():
                if inst.region == region and inst.asg == name and inst.state == TERMINATING and inst.id not in listed:
                    row.setdefault("Instances", []).append(self._rewrite_asg_instance(dict(inst.template)))

    def rewrite_instance_rows(self, region: str, rows: list[dict[str, Any]], asked: set[str]) -> list[dict[str, Any]]:
        """Fix DescribeAutoScalingInstances rows and add the group's terminating instances."""
        for name in {r["AutoScalingGroupName"] for r in rows}:
            if (region, name) not in self._groups:
                self.sync(region, name, Reason("observed"))
        listed = {r["InstanceId"] for r in rows}
        for row in rows:
            self._rewrite_asg_instance(row)
        for inst in self._instances.values():
            if inst.region == region and inst.state == TERMINATING and inst.id not in listed and (not asked or inst.id in asked):
                extra = dict(inst.template, AutoScalingGroupName=inst.asg)
                rows.append(self._rewrite_asg_instance(extra))
        return rows

    def _heal(self, region: str, name: str, moto_ids: set[str]) -> None:
        """Sync a group whose instances changed behind the model's back (or that it never saw)."""
        group = self._groups.get((region, name))
        if group is None or group.deleted or moto_ids != {i.id for i in self._live(group)}:
            self.sync(region, name, Reason("observed"))

    def _rewrite_asg_instance(self, item: dict[str, Any]) -> dict[str, Any]:
        inst = self._instances.get(item.get("InstanceId", ""))
        if inst is not None:
            item["AvailabilityZone"] = inst.az
            item["LifecycleState"] = inst.state
            item["HealthStatus"] = inst.health
        return item

    def rewrite_ec2_instance(self, item: dict[str, Any]) -> None:
        """Placement, subnet, state and launch time of an ASG instance in DescribeInstances."""
        inst = self._instances.get(item.get("InstanceId", ""))
        if inst is None:
            return
        item.setdefault("Placement", {})["AvailabilityZone"] = inst.az
        if inst.subnet_id:
            item["SubnetId"] = inst.subnet_id
            for eni in item.get("NetworkInterfaces", []):
                eni["SubnetId"] = inst.subnet_id
        item["State"] = dict(EC2_STOPPED if inst.stopped_at is not None and inst.state != TERMINATED else EC2_STATE[inst.state])
        item["LaunchTime"] = self.clock.datetime(inst.launched_at)
