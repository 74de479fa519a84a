"""Target health and load balancers: what ``DescribeTargetHealth`` says, and which ALB serves.

[BC:elbv2] TargetHealth: ``initial`` (``Elb.RegistrationInProgress``) while an instance launches,
``healthy`` in service, ``unhealthy`` (``Target.Timeout``) once the load balancer has seen its AZ
fail, ``draining`` (``Target.DeregistrationInProgress``) from deregistration until the deregistration
delay ends, whatever its health ([ALB-UG:load-balancer-target-groups] "Deregistration delay"), then
gone from the group. Each load
balancer's DNS name is an :class:`~pytest_drtest.emulation.core.Endpoint`, healthy while one of
its targets really serves. moto reports every target ``healthy``.
"""
from __future__ import annotations

import math
from typing import Any

import botocore.exceptions

from pytest_drtest.emulation.compute.base import ComputeBase
from pytest_drtest.emulation.compute.models import (
    PENDING,
    TARGET_DRAINING,
    TARGET_HEALTHY,
    TARGET_INITIAL,
    TARGET_UNHEALTHY,
    LoadBalancer,
    forward_targets,
)
from pytest_drtest.emulation.core import Endpoint, az_region


class Targets(ComputeBase):
    """Targets' health as the load balancers see it, and the load balancers as endpoints."""

    def alb_serving(self, dns_name: str) -> bool:
        """True while the load balancer called ``dns_name`` has a target that really serves."""
        lb = self._lb_by_dns(dns_name)
        return lb is not None and self._lb_serving(lb)

    def alb_answer(self, dns_name: str) -> int | None:
        """What a client connecting to the load balancer ``dns_name`` gets: ``None`` when no
        connection can be made (unknown or deleted, its Region lost, or every AZ it has nodes in
        lost); else the HTTP status the load balancer answers: 200 while a target really serves,
        503 when its target groups have no registered targets, 504 when they have targets but none
        answers (the load balancer's connection to the target times out)
        ([ALB-UG:load-balancer-troubleshooting] "HTTP 503", "HTTP 504")."""
        lb = self._lb_by_dns(dns_name)
        if lb is None or not self.world.region_up(lb.region):
            return None
        if lb.azs and not any(self.world.az_up(az) for az in lb.azs):
            return None
        if self._lb_serving(lb):
            return 200
        registered = any(self._members(lb.region, arn) for arn in sorted(self._lb_target_groups(lb)))
        return 504 if registered else 503

    def healthy_targets(self, target_group_arn: str) -> int:
        """Targets that ``DescribeTargetHealth`` reports ``healthy`` (the ALB's view, which lags an
        AZ loss by the detection time)."""
        region = target_group_arn.split(":")[3]
        return sum(
            1
            for target_id in self._members(region, target_group_arn)
            if (self.target_health(region, target_id, TARGET_HEALTHY) or {}).get("State") == "healthy"
        )

    def target_health(self, region: str, target_id: str, moto_health: dict[str, Any] | None) -> dict[str, Any] | None:
        """What DescribeTargetHealth reports for a target; None when it is no longer registered."""
        inst = self._instances.get(target_id)
        if inst is None:
            az = self._az_of_untracked(region, target_id)
            if az and self._elb_sees_down(az):
                return dict(TARGET_UNHEALTHY)
            return moto_health
        if not inst.registered:
            return None
        if inst.draining:
            # A deregistered target is draining until the delay ends, healthy or not; then it
            # leaves ([BC:elbv2] TargetHealth.Reason: Target.DeregistrationInProgress).
            return dict(TARGET_DRAINING)
        down = self._elb_sees_down(inst.az)
        if inst.state == PENDING:
            return dict(TARGET_INITIAL)
        if inst.stopped_at is not None and self.clock.now() >= inst.stopped_at + self.detection_time():
            down = True  # a stopped instance fails every check from the detection time on
        return dict(TARGET_UNHEALTHY if down else TARGET_HEALTHY)

    def draining_target_ids(self, target_group_arn: str) -> list[str]:
        """Instances whose targets in the group are draining (moto may already have dropped them)."""
        return [i.id for i in self._instances.values() if i.draining and target_group_arn in i.target_groups]

    def register_load_balancer(self, region: str, row: dict[str, Any]) -> None:
        lb = LoadBalancer(
            row["LoadBalancerArn"],
            row["LoadBalancerName"],
            row["DNSName"],
            region,
            [z["ZoneName"] for z in row.get("AvailabilityZones", [])],
        )
        self._lbs[lb.arn] = lb
        kind = "alb" if row.get("Type", "application") == "application" else str(row["Type"])
        self.emulation.register_endpoint(Endpoint(lb.dns_name, region, lambda: self._lb_serving(lb), kind=kind))

    def forget_load_balancer(self, arn: str) -> None:
        lb = self._lbs.get(arn)
        if lb is not None:
            lb.deleted = True
            self.emulation.endpoints.pop(lb.dns_name.lower().rstrip("."), None)
        self.invalidate_listeners()

    # -- what the load balancers see --------------------------------------------------------
    def _elb_sees_down(self, az: str) -> bool:
        """The ALB has marked targets in ``az`` unhealthy (the AZ is lost for the detection time)."""
        if self.world.az_up(az):
            return False
        since = self._down_since.get(az, self._down_since.get(az_region(az), -math.inf))
        return self.clock.now() >= since + self.detection_time()

    def _az_of_untracked(self, region: str, target_id: str) -> str | None:
        """AZ of an instance target registered by hand (not launched by a group), from moto."""
        if not target_id.startswith("i-"):
            return None  # an IP or Lambda target
        if target_id not in self._untracked_az:
            try:
                self._untracked_az[target_id] = self._instance_azs(region, [target_id]).get(target_id)
            except botocore.exceptions.ClientError:
                self._untracked_az[target_id] = None
        return self._untracked_az[target_id]

    def _serving_target(self, region: str, target_id: str) -> bool:
        inst = self._instances.get(target_id)
        if inst is not None:
            return self._serving(inst)
        az = self._az_of_untracked(region, target_id)
        return self.world.az_up(az) if az else self.world.region_up(region)

    def _members(self, region: str, tg_arn: str) -> tuple[str, ...]:
        if tg_arn not in self._tg_members:
            try:
                rows = self.backdoor(region, "elbv2").describe_target_health(TargetGroupArn=tg_arn)
            except botocore.exceptions.ClientError:
                rows = {"TargetHealthDescriptions": []}
            self._tg_members[tg_arn] = tuple(d["Target"]["Id"] for d in rows["TargetHealthDescriptions"])
        return self._tg_members[tg_arn]

    def _lb_by_dns(self, dns_name: str) -> LoadBalancer | None:
        wanted = dns_name.lower().rstrip(".")
        return next((lb for lb in self._lbs.values() if lb.dns_name.lower() == wanted and not lb.deleted), None)

    def _lb_target_groups(self, lb: LoadBalancer) -> frozenset[str]:
        """Target groups a load balancer forwards to: listeners' and rules' forward actions."""
        if lb.arn not in self._lb_tgs:
            elbv2 = self.backdoor(lb.region, "elbv2")
            arns: set[str] = set()
            try:
                listeners = elbv2.describe_listeners(LoadBalancerArn=lb.arn)["Listeners"]
                for listener in listeners:
                    arns |= forward_targets(listener.get("DefaultActions", []))
                    for rule in elbv2.describe_rules(ListenerArn=listener["ListenerArn"])["Rules"]:
                        arns |= forward_targets(rule.get("Actions", []))
                for tg in elbv2.describe_target_groups(LoadBalancerArn=lb.arn)["TargetGroups"]:
                    arns.add(tg["TargetGroupArn"])
            except botocore.exceptions.ClientError:
                pass
            self._lb_tgs[lb.arn] = frozenset(arns)
        return self._lb_tgs[lb.arn]

    def _lb_serving(self, lb: LoadBalancer) -> bool:
        if lb.deleted or (lb.azs and not any(self.world.az_up(az) for az in lb.azs)):
            return False
        return any(
            self._serving_target(lb.region, target_id)
            for tg_arn in sorted(self._lb_target_groups(lb))
            for target_id in self._members(lb.region, tg_arn)
        )
