"""Stopped instances and launches refused for lack of capacity in an AZ.

- ``StopInstances`` of an Auto Scaling instance: it stops serving at once; the load balancer marks
  its target ``unhealthy`` after the detection time (``elb_unhealthy_threshold`` ×
  ``elb_health_check_interval``), and then the group replaces it: "an instance was taken out of
  service in response to an EC2 health check that indicated it had been terminated or stopped"
  ([ASG-UG:ec2-auto-scaling-health-checks]: an instance in any state but ``running`` is
  unhealthy). ``DescribeInstances`` reports it ``stopped``; ``StartInstances`` before the
  replacement brings it back into service.
- ``block_launches`` (what FIS's ``aws:ec2:asg-insufficient-instance-capacity-error`` and a zonal
  autoshift of a group do): the group's launches skip the AZs while the block holds.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable

import botocore.exceptions

from pytest_drtest.emulation.compute.lifecycle import InstanceLifecycle
from pytest_drtest.emulation.compute.models import (
    IN_SERVICE,
    LIVE_STATES,
    SUSPENDED_BLOCKING_REPLACEMENT,
    Instance,
    Reason,
)


class InstanceStops(InstanceLifecycle):
    """``StopInstances``/``StartInstances`` of group instances, and blocked launches."""

    def stop_instances(self, region: str, instance_ids: Iterable[str]) -> None:
        now = self.clock.now()
        for iid in instance_ids:
            inst = self._instances.get(iid)
            if inst is None or inst.region != region or inst.state not in LIVE_STATES or inst.stopped_at is not None:
                continue
            inst.stopped_at = now
            self._event("stopped", inst, "StopInstances")
            self.at(now + self.detection_time(), self._replacer(inst, now), name=f"compute:stopped:{inst.id}")
        self.invalidate_targets()

    def start_instances(self, region: str, instance_ids: Iterable[str]) -> None:
        for iid in instance_ids:
            inst = self._instances.get(iid)
            if inst is not None and inst.region == region and inst.stopped_at is not None and inst.state in LIVE_STATES:
                inst.stopped_at = None
                self._event("started", inst, "StartInstances")
        self.invalidate_targets()

    def _replacer(self, inst: Instance, stopped_at: float) -> Callable[[], None]:
        return lambda: self._replace_stopped(inst, stopped_at)

    def _replace_stopped(self, inst: Instance, stopped_at: float) -> None:
        if inst.stopped_at != stopped_at or inst.state != IN_SERVICE:
            return
        group = self._groups.get((inst.region, inst.asg))
        if group is None or group.deleted or group.suspended & ({"HealthCheck"} | SUSPENDED_BLOCKING_REPLACEMENT):
            return
        inst.health = "Unhealthy"
        self._event("unhealthy", inst, "EC2 health check: instance stopped")
        try:  # moto replaces a terminated group instance synchronously
            self.backdoor(inst.region, "ec2").terminate_instances(InstanceIds=[inst.id])
        except botocore.exceptions.ClientError:
            return
        self.sync(inst.region, inst.asg, Reason("ec2-terminated", frozenset({inst.id})))

    # -- launches refused in an AZ ------------------------------------------------------------
    def block_launches(self, holder: str, region: str, group: str, azs: Iterable[str]) -> None:
        """Until :meth:`unblock_launches` (``holder``), ``group`` launches nothing into ``azs``."""
        self._launch_blocks[holder] = (region, group, frozenset(azs))

    def unblock_launches(self, holder: str) -> None:
        self._launch_blocks.pop(holder, None)
