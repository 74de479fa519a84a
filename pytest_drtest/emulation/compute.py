"""EC2 Auto Scaling, EC2 and ELBv2 behaviour: AZ spread, launch time, target health, AZ loss.

What moto does (moto 5.2.5, checked): an Auto Scaling group puts every instance in the FIRST
subnet of ``VPCZoneIdentifier`` (all in one AZ); instances are ``InService``/``running`` at once;
ASG instances are registered into the group's target groups and every target is ``healthy``;
a terminated instance is replaced synchronously; nothing can impair an AZ.

What this module adds (AWS-SEMANTICS §4), on the run's clock:

- **Placement.** Every instance the group launches goes to the enabled AZ with the fewest
  instances of the group, skipping impaired AZs ([ASG-UG:auto-scaling-benefits] "launches go to the
  enabled AZ with the fewest instances"; ``balanced-best-effort``). Ties go to the first AZ by name.
  Scale-in removes from the AZ with the most instances (the ``Default`` termination policy; ties:
  the last AZ by name), the newest instance there (AWS then picks by billing hour, arbitrarily).
- **Launch time.** A new instance is ``Pending`` (EC2 ``pending``, target ``initial`` /
  ``Elb.RegistrationInProgress``) for ``ec2_launch_time``, then ``InService`` (``running``,
  ``healthy``).
- **Termination.** A removed instance is ``Terminating`` while its targets drain
  (``draining`` / ``Target.DeregistrationInProgress``) for the target group's
  ``deregistration_delay.timeout_seconds`` (default 300 s, [BC:elbv2]); the ASG waits out the
  deregistration delay before terminating ([ASG-UG:ec2-auto-scaling-health-checks]).
- **AZ loss.** Instances in a lost AZ stop serving at once. The ALB notices after
  ``elb_unhealthy_threshold`` × ``elb_health_check_interval`` (``unhealthy`` / ``Target.Timeout``);
  at that moment the group replaces them (ELB health check type; the EC2 type uses the same
  detection time): "an instance was taken out of service in response to an ELB system health check
  failure", then a replacement launches in a remaining AZ. While their AZ stays lost, the drained
  targets keep reporting ``unhealthy`` / ``Target.Timeout`` (they fail every check) rather than
  ``draining``. When the AZ comes back nothing moves back by itself: the AZ is only usable for new
  launches again (this model has no ``AZRebalance``).
- **ALB endpoints.** Each load balancer's DNS name is an :class:`Endpoint` that is healthy while at
  least one target of its target groups really serves (``InService`` in an AZ that is up).

Scaling activities are recorded and answered by ``DescribeScalingActivities`` with clock times.
"""
from __future__ import annotations

import itertools
import json
import math
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import botocore.exceptions

from pytest_drtest.emulation.core import AwsError, Call, Emulation, Endpoint, ServiceEmulator, az_region

PENDING = "Pending"
IN_SERVICE = "InService"
TERMINATING = "Terminating"
TERMINATED = "Terminated"
DETACHED = "Detached"
LIVE_STATES = (PENDING, IN_SERVICE)

#: EC2 ``InstanceState`` per Auto Scaling lifecycle state (the instance runs while it drains).
EC2_STATE = {
    PENDING: {"Code": 0, "Name": "pending"},
    IN_SERVICE: {"Code": 16, "Name": "running"},
    TERMINATING: {"Code": 16, "Name": "running"},
    DETACHED: {"Code": 16, "Name": "running"},
    TERMINATED: {"Code": 48, "Name": "terminated"},
}

# ELBv2 TargetHealth values ([BC:elbv2] TargetHealth.State / Reason / Description).
TARGET_INITIAL = {
    "State": "initial",
    "Reason": "Elb.RegistrationInProgress",
    "Description": "Target registration is in progress",
}
TARGET_HEALTHY = {"State": "healthy"}
TARGET_UNHEALTHY = {"State": "unhealthy", "Reason": "Target.Timeout", "Description": "Request timed out"}
TARGET_DRAINING = {
    "State": "draining",
    "Reason": "Target.DeregistrationInProgress",
    "Description": "Target deregistration is in progress",
}
TARGET_NOT_REGISTERED = {
    "State": "unused",
    "Reason": "Target.NotRegistered",
    "Description": "Target is not registered to the target group",
}

DEFAULT_DEREGISTRATION_DELAY = 300.0  # [BC:elbv2] deregistration_delay.timeout_seconds default
SUSPENDED_BLOCKING_REPLACEMENT = frozenset({"HealthCheck", "ReplaceUnhealthy"})


@dataclass(frozen=True)
class InstanceView:
    """One instance of a group as the emulation sees it (for the harness and runbooks)."""

    id: str
    asg: str
    region: str
    az: str
    lifecycle_state: str
    healthy: bool  # the group's HealthStatus is Healthy
    serving: bool  # InService in an AZ that is up: it answers traffic


@dataclass(frozen=True)
class ComputeEvent:
    """Something the compute model did, with its clock time (for reports)."""

    at: float
    kind: str  # launch | in-service | unhealthy | terminate | terminated | detach
    region: str
    asg: str
    instance_id: str
    az: str
    detail: str = ""
    replaces: str | None = None


@dataclass
class _Activity:
    """A scaling activity as DescribeScalingActivities reports it."""

    activity_id: str
    region: str
    group: str
    group_arn: str | None
    description: str
    cause: str
    start: float
    details: dict[str, str]
    status_code: str
    progress: int
    end: float | None = None

    def finish(self, t: float) -> None:
        self.status_code, self.progress, self.end = "Successful", 100, t

    def to_api(self, datetime: Callable[[float], Any]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ActivityId": self.activity_id,
            "AutoScalingGroupName": self.group,
            "Description": self.description,
            "Cause": self.cause,
            "StartTime": datetime(self.start),
            "StatusCode": self.status_code,
            "Progress": self.progress,
            "Details": json.dumps(self.details, separators=(",", ":")),
        }
        if self.end is not None:
            out["EndTime"] = datetime(self.end)
        if self.group_arn:
            out["AutoScalingGroupARN"] = self.group_arn
        return out


@dataclass
class _Instance:
    id: str
    region: str
    asg: str
    az: str
    subnet_id: str | None
    launched_at: float
    template: dict[str, Any]  # the instance as moto's Auto Scaling listed it last
    state: str = PENDING
    health: str = "Healthy"
    target_groups: set[str] = field(default_factory=set)
    registered: bool = True  # still a target (live or draining)
    draining: bool = False
    in_service_at: float | None = None
    waiting_for_az: bool = False


@dataclass
class _Group:
    region: str
    name: str
    arn: str | None = None
    min_size: int = 0
    max_size: int = 0
    desired: int = 0
    health_check_type: str = "EC2"
    azs: list[str] = field(default_factory=list)
    subnet_by_az: dict[str, str] = field(default_factory=dict)
    target_groups: list[str] = field(default_factory=list)
    suspended: set[str] = field(default_factory=set)
    deleted: bool = False


@dataclass
class _LoadBalancer:
    arn: str
    name: str
    dns_name: str
    region: str
    azs: list[str]
    deleted: bool = False


@dataclass
class _Reason:
    """Why a group's instances changed: picks the Cause texts of the activities."""

    kind: str  # create | update | set-desired | delete | terminate | detach | attach | health | ec2-terminated | observed
    instance_ids: frozenset[str] = frozenset()
    decrement: bool = False
    constraints: tuple[int, int, int] | None = None  # min, max, desired (UpdateAutoScalingGroup)


class ComputeModel:
    """Shared state of the EC2, Auto Scaling and ELBv2 emulators, and their public API."""

    def __init__(self, emulation: Emulation) -> None:
        self.emulation = emulation
        self._subnet_az: dict[tuple[str, str], str] = {}
        self._default_subnet: dict[tuple[str, str], str | None] = {}
        self._groups: dict[tuple[str, str], _Group] = {}
        self._instances: dict[str, _Instance] = {}
        self._untracked_az: dict[str, str | None] = {}
        self._activities: list[_Activity] = []
        self._events: list[ComputeEvent] = []
        self._lbs: dict[str, _LoadBalancer] = {}
        self._lb_tgs: dict[str, frozenset[str]] = {}
        self._tg_members: dict[str, tuple[str, ...]] = {}
        self._down_since: dict[str, float] = {}
        self._detections: dict[str, Any] = {}
        self._handles: dict[int, Any] = {}
        self._handle_ids = itertools.count()

    # -- shortcuts ---------------------------------------------------------------------------
    @property
    def clock(self) -> Any:
        return self.emulation.clock

    @property
    def world(self) -> Any:
        return self.emulation.world

    def _backdoor(self, region: str, service: str) -> Any:
        return self.emulation.backdoor.client(service, region)

    def detection_time(self) -> float:
        """Seconds from an AZ loss until the ALB marks its targets unhealthy ([ALB-UG])."""
        return self.emulation.profile.value("elb_unhealthy_threshold") * self.emulation.profile.value(
            "elb_health_check_interval"
        )

    def _schedule(self, t: float, fn: Callable[[], None], name: str) -> Any:
        key = next(self._handle_ids)

        def run() -> None:
            self._handles.pop(key, None)
            fn()

        handle = self.clock.call_at(t, run, name=name)
        self._handles[key] = handle
        return handle

    def _stamp(self, t: float | None = None) -> str:
        return self.clock.datetime(t).strftime("%Y-%m-%dT%H:%M:%SZ")

    def _new_activity_id(self) -> str:
        rng = self.emulation.profile.rng("compute.activity-ids")
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    def _event(self, kind: str, inst: _Instance, detail: str = "", replaces: str | None = None) -> None:
        self._events.append(
            ComputeEvent(self.clock.now(), kind, inst.region, inst.asg, inst.id, inst.az, detail, replaces)
        )

    # -- public API --------------------------------------------------------------------------
    def alb_serving(self, dns_name: str) -> bool:
        """True while the load balancer called ``dns_name`` has a target that really serves."""
        lb = self._lb_by_dns(dns_name)
        return lb is not None and self._lb_serving(lb)

    def healthy_targets(self, target_group_arn: str) -> int:
        """Targets that ``DescribeTargetHealth`` reports ``healthy`` (the ALB's view, which lags an
        AZ loss by the detection time)."""
        region = target_group_arn.split(":")[3]
        return sum(
            1
            for target_id in self._members(region, target_group_arn)
            if (self.target_health(region, target_id, TARGET_HEALTHY) or {}).get("State") == "healthy"
        )

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
        for handle in list(self._handles.values()):
            handle.cancel()
        self._handles.clear()
        self._detections.clear()

    def _find_group(self, name: str, region: str | None) -> _Group:
        found = [g for g in self._groups.values() if g.name == name and not g.deleted]
        if region is not None:
            found = [g for g in found if g.region == region]
        if not found:
            raise KeyError(f"no Auto Scaling group {name!r}" + (f" in {region}" if region else ""))
        if len(found) > 1:
            regions = ", ".join(sorted(g.region for g in found))
            raise ValueError(f"Auto Scaling group {name!r} exists in {regions}: pass region=")
        return found[0]

    # -- subnets -----------------------------------------------------------------------------
    def learn_subnet(self, region: str, subnet_id: str, az: str) -> None:
        self._subnet_az[(region, subnet_id)] = az

    def _subnet_azs(self, region: str, subnet_ids: list[str]) -> dict[str, str]:
        unknown = [s for s in subnet_ids if (region, s) not in self._subnet_az]
        if unknown:
            try:
                found = self._backdoor(region, "ec2").describe_subnets(SubnetIds=unknown)["Subnets"]
            except botocore.exceptions.ClientError:
                found = []
            for subnet in found:
                self.learn_subnet(region, subnet["SubnetId"], subnet["AvailabilityZone"])
        return {s: self._subnet_az[(region, s)] for s in subnet_ids if (region, s) in self._subnet_az}

    def _subnet_for(self, group: _Group, az: str) -> str | None:
        if az in group.subnet_by_az:
            return group.subnet_by_az[az]
        key = (group.region, az)
        if key not in self._default_subnet:
            subnets = self._backdoor(group.region, "ec2").describe_subnets(
                Filters=[{"Name": "availability-zone", "Values": [az]}, {"Name": "default-for-az", "Values": ["true"]}]
            )["Subnets"]
            self._default_subnet[key] = subnets[0]["SubnetId"] if subnets else None
        return self._default_subnet[key]

    # -- Auto Scaling groups -----------------------------------------------------------------
    def _describe_group(self, region: str, name: str) -> dict[str, Any] | None:
        groups = self._backdoor(region, "autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[name])
        return groups["AutoScalingGroups"][0] if groups["AutoScalingGroups"] else None

    def ensure_known(self, region: str, name: str) -> dict[str, Any] | None:
        """Adopt a group created behind the model's back before a call changes it; moto's row."""
        raw = self._describe_group(region, name)
        group = self._groups.get((region, name))
        if raw is not None and (group is None or group.deleted):
            self.sync(region, name, _Reason("observed"))
        return raw

    def group_of_instance(self, region: str, instance_id: str) -> str | None:
        inst = self._instances.get(instance_id)
        if inst is not None and inst.region == region:
            return inst.asg
        found = self._backdoor(region, "autoscaling").describe_auto_scaling_instances(InstanceIds=[instance_id])
        rows = found["AutoScalingInstances"]
        return rows[0]["AutoScalingGroupName"] if rows else None

    def groups_of(self, region: str, instance_ids: Iterable[str]) -> list[str]:
        """Names of the groups (known to the model) that hold any of ``instance_ids``."""
        found = {self._instances[i].asg for i in instance_ids if i in self._instances and self._instances[i].region == region}
        return sorted(found)

    def _configure(self, group: _Group, raw: dict[str, Any]) -> None:
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

    def _live(self, group: _Group) -> list[_Instance]:
        return [
            inst
            for inst in self._instances.values()
            if inst.region == group.region and inst.asg == group.name and inst.state in LIVE_STATES
        ]

    def sync(self, region: str, name: str, reason: _Reason) -> None:
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
            group = _Group(region, name)
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

    def _instance_azs(self, region: str, instance_ids: list[str]) -> dict[str, str]:
        if not instance_ids:
            return {}
        found: dict[str, str] = {}
        for reservation in self._backdoor(region, "ec2").describe_instances(InstanceIds=instance_ids)["Reservations"]:
            for row in reservation["Instances"]:
                found[row["InstanceId"]] = row["Placement"]["AvailabilityZone"]
        return found

    def _place(self, group: _Group) -> str:
        """The enabled AZ with the fewest live instances of the group, impaired AZs skipped
        ([ASG-UG:auto-scaling-benefits], balanced-best-effort); ties by AZ name."""
        counts = dict.fromkeys(group.azs, 0)
        for inst in self._live(group):
            if inst.az in counts:
                counts[inst.az] += 1
        usable = [az for az in group.azs if self.world.az_up(az)] or group.azs
        return min(sorted(usable), key=lambda az: counts[az])

    def _launch(
        self,
        group: _Group,
        row: dict[str, Any],
        reason: _Reason,
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
        inst = _Instance(
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
        launch_time = self.emulation.profile.sample("ec2_launch_time", stream="compute.launch")
        self._schedule(now + launch_time, lambda: self._come_in_service(inst, activity), f"compute:in-service:{inst.id}")

    def _come_in_service(self, inst: _Instance, activity: _Activity | None) -> None:
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
        group: _Group,
        inst: _Instance,
        reason: _Reason,
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
            self._schedule(self.clock.now() + delay, lambda: self._drained(inst, activity), f"compute:drained:{inst.id}")
        else:
            self._drained(inst, activity)

    def _drained(self, inst: _Instance, activity: _Activity) -> None:
        """End of the deregistration delay: the target leaves its groups, the instance terminates."""
        inst.draining, inst.registered = False, False
        for tg_arn in inst.target_groups:
            try:
                self._backdoor(inst.region, "elbv2").deregister_targets(TargetGroupArn=tg_arn, Targets=[{"Id": inst.id}])
            except botocore.exceptions.ClientError:
                pass  # the target group is gone
        if inst.state == TERMINATING:
            inst.state = TERMINATED
            self._event("terminated", inst)
        activity.finish(self.clock.now())
        self.invalidate_targets()

    def _deregistration_delay(self, inst: _Instance) -> float:
        delays = []
        for tg_arn in inst.target_groups:
            try:
                attrs = self._backdoor(inst.region, "elbv2").describe_target_group_attributes(TargetGroupArn=tg_arn)
            except botocore.exceptions.ClientError:
                continue
            values = {a["Key"]: a["Value"] for a in attrs["Attributes"]}
            delays.append(float(values.get("deregistration_delay.timeout_seconds", DEFAULT_DEREGISTRATION_DELAY)))
        return max(delays, default=0.0)

    # -- scaling activities ------------------------------------------------------------------
    def _record(
        self, group: _Group, description: str, cause: str, inst: _Instance, *, status_code: str, progress: int
    ) -> _Activity:
        details = {"Subnet ID": inst.subnet_id or "", "Availability Zone": inst.az}
        activity = _Activity(
            self._new_activity_id(),
            group.region,
            group.name,
            group.arn,
            description,
            cause,
            self.clock.now(),
            details,
            status_code,
            progress,
        )
        self._activities.append(activity)
        return activity

    def _desired_change(self, group: _Group, reason: _Reason, old_desired: int | None) -> str:
        """The user-request sentence that opens a Cause, as AWS writes it."""
        stamp = self._stamp()
        old = group.desired if old_desired is None else old_desired
        new = group.desired
        if reason.kind == "create":
            return f"At {stamp} a user request created an AutoScalingGroup changing the desired capacity from 0 to {new}.  "
        if reason.kind == "set-desired" and old != new:
            return f"At {stamp} a user request explicitly set group desired capacity changing the desired capacity from {old} to {new}.  "
        if reason.kind == "update" and old != new:
            return (
                f"At {stamp} a user request update of AutoScalingGroup constraints to min: {group.min_size}, "
                f"max: {group.max_size}, desired: {new} changing the desired capacity from {old} to {new}.  "
            )
        if reason.kind == "delete":
            return f"At {stamp} a user request deleted the AutoScalingGroup changing the desired capacity from {old} to 0.  "
        return ""

    def _launch_cause(self, group: _Group, reason: _Reason, before: int, after: int, old_desired: int) -> str:
        stamp = self._stamp()
        if reason.kind == "health":
            return f"At {stamp} an instance was launched in response to an unhealthy instance needing to be replaced."
        return self._desired_change(group, reason, old_desired) + (
            f"At {stamp} an instance was started in response to a difference between desired and actual capacity, "
            f"increasing the capacity from {before} to {after}."
        )

    def _terminate_cause(
        self, group: _Group, inst: _Instance, reason: _Reason, before: int, after: int, old_desired: int | None
    ) -> str:
        # Cause texts: [ASG-UG:ec2-auto-scaling-health-checks] and the ASG troubleshooting guide.
        stamp = self._stamp()
        shrinking = f", shrinking the capacity from {before} to {after}." if reason.decrement else "."
        if reason.kind in ("terminate", "detach") and inst.id in reason.instance_ids:
            verb = "was detached" if reason.kind == "detach" else "was taken out of service"
            return f"At {stamp} instance {inst.id} {verb} in response to a user request{shrinking}"
        if reason.kind == "health":
            check = "an ELB system health check failure" if group.health_check_type == "ELB" else "an EC2 instance status check failure"
            return f"At {stamp} an instance was taken out of service in response to {check}."
        if reason.kind == "ec2-terminated":
            return (
                f"At {stamp} an instance was taken out of service in response to an EC2 health check that indicated "
                "it had been terminated or stopped."
            )
        return self._desired_change(group, reason, old_desired) + (
            f"At {stamp} an instance was taken out of service in response to a difference between desired and actual "
            f"capacity, shrinking the capacity from {before} to {after}."
        )

    def scaling_activities(self, region: str, params: dict[str, Any]) -> dict[str, Any] | None:
        """The DescribeScalingActivities answer, or None for a group this model never saw."""
        name = params.get("AutoScalingGroupName")
        if name and (region, name) not in self._groups:
            return None
        include_deleted = bool(params.get("IncludeDeletedGroups"))
        wanted_ids = set(params.get("ActivityIds") or [])
        rows = [
            a
            for a in self._activities
            if a.region == region
            and (not name or a.group == name)
            and (not wanted_ids or a.activity_id in wanted_ids)
            and (include_deleted or not self._groups[(region, a.group)].deleted)
        ]
        rows.reverse()  # newest first, as AWS lists them
        start = int(params.get("NextToken") or 0)
        limit = int(params.get("MaxRecords") or 100)
        page = rows[start : start + limit]
        answer: dict[str, Any] = {"Activities": [a.to_api(self.clock.datetime) for a in page]}
        if start + limit < len(rows):
            answer["NextToken"] = str(start + limit)
        return answer

    def activity_for(self, instance_id: str, description_prefix: str) -> dict[str, Any] | None:
        for activity in reversed(self._activities):
            if activity.description == f"{description_prefix}: {instance_id}":
                return activity.to_api(self.clock.datetime)
        return None

    # -- scale-in choice ---------------------------------------------------------------------
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
        autoscaling = self._backdoor(region, "autoscaling")
        for _ in range(max(0, min(excess, len(live)))):
            counts: dict[str, int] = {}
            for inst in live:
                counts[inst.az] = counts.get(inst.az, 0) + 1
            az = max(sorted(counts, reverse=True), key=lambda zone: counts[zone])  # ties: last by name
            victim = max((i for i in live if i.az == az), key=lambda i: (i.launched_at, i.id))
            live.remove(victim)
            autoscaling.terminate_instance_in_auto_scaling_group(InstanceId=victim.id, ShouldDecrementDesiredCapacity=True)

    # -- faults ------------------------------------------------------------------------------
    def on_world_change(self, what: str, name: str) -> None:
        now = self.clock.now()
        if what == "az-lost":
            self._down_since[name] = now
            old = self._detections.pop(name, None)
            if old is not None:
                old.cancel()
            self._detections[name] = self._schedule(now + self.detection_time(), lambda: self._detect(name), f"compute:detect:{name}")
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

    def _launch_activity(self, instance_id: str) -> _Activity | None:
        for activity in reversed(self._activities):
            if activity.description == f"Launching a new EC2 instance: {instance_id}":
                return activity
        return None

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
                self._backdoor(region, "autoscaling").terminate_instance_in_auto_scaling_group(
                    InstanceId=inst.id, ShouldDecrementDesiredCapacity=False
                )
            except botocore.exceptions.ClientError:
                continue
            self.sync(region, inst.asg, _Reason("health", frozenset({inst.id})))

    def _elb_sees_down(self, az: str) -> bool:
        """The ALB has marked targets in ``az`` unhealthy (the AZ is lost for the detection time)."""
        if self.world.az_up(az):
            return False
        since = self._down_since.get(az, self._down_since.get(az_region(az), -math.inf))
        return self.clock.now() >= since + self.detection_time()

    # -- targets and load balancers -----------------------------------------------------------
    def _serving(self, inst: _Instance) -> bool:
        return inst.state == IN_SERVICE and inst.registered and self.world.az_up(inst.az)

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
        down = self._elb_sees_down(inst.az)
        if inst.draining:
            return dict(TARGET_UNHEALTHY if down else TARGET_DRAINING)
        if inst.state == PENDING:
            return dict(TARGET_INITIAL)
        return dict(TARGET_UNHEALTHY if down else TARGET_HEALTHY)

    def draining_target_ids(self, target_group_arn: str) -> list[str]:
        """Instances whose targets in the group are draining (moto may already have dropped them)."""
        return [i.id for i in self._instances.values() if i.draining and target_group_arn in i.target_groups]

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

    def invalidate_targets(self) -> None:
        self._tg_members.clear()

    def invalidate_listeners(self) -> None:
        self._lb_tgs.clear()
        self._tg_members.clear()

    def _members(self, region: str, tg_arn: str) -> tuple[str, ...]:
        if tg_arn not in self._tg_members:
            try:
                rows = self._backdoor(region, "elbv2").describe_target_health(TargetGroupArn=tg_arn)
            except botocore.exceptions.ClientError:
                rows = {"TargetHealthDescriptions": []}
            self._tg_members[tg_arn] = tuple(d["Target"]["Id"] for d in rows["TargetHealthDescriptions"])
        return self._tg_members[tg_arn]

    def register_load_balancer(self, region: str, row: dict[str, Any]) -> None:
        lb = _LoadBalancer(
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

    def _lb_by_dns(self, dns_name: str) -> _LoadBalancer | None:
        wanted = dns_name.lower().rstrip(".")
        return next((lb for lb in self._lbs.values() if lb.dns_name.lower() == wanted and not lb.deleted), None)

    def _lb_target_groups(self, lb: _LoadBalancer) -> frozenset[str]:
        """Target groups a load balancer forwards to: listeners' and rules' forward actions."""
        if lb.arn not in self._lb_tgs:
            elbv2 = self._backdoor(lb.region, "elbv2")
            arns: set[str] = set()
            try:
                listeners = elbv2.describe_listeners(LoadBalancerArn=lb.arn)["Listeners"]
                for listener in listeners:
                    arns |= _forward_targets(listener.get("DefaultActions", []))
                    for rule in elbv2.describe_rules(ListenerArn=listener["ListenerArn"])["Rules"]:
                        arns |= _forward_targets(rule.get("Actions", []))
                for tg in elbv2.describe_target_groups(LoadBalancerArn=lb.arn)["TargetGroups"]:
                    arns.add(tg["TargetGroupArn"])
            except botocore.exceptions.ClientError:
                pass
            self._lb_tgs[lb.arn] = frozenset(arns)
        return self._lb_tgs[lb.arn]

    def _lb_serving(self, lb: _LoadBalancer) -> bool:
        if lb.deleted or (lb.azs and not any(self.world.az_up(az) for az in lb.azs)):
            return False
        return any(
            self._serving_target(lb.region, target_id)
            for tg_arn in sorted(self._lb_target_groups(lb))
            for target_id in self._members(lb.region, tg_arn)
        )

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
                self.sync(region, name, _Reason("observed"))
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
            self.sync(region, name, _Reason("observed"))

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
        item["State"] = dict(EC2_STATE[inst.state])
        item["LaunchTime"] = self.clock.datetime(inst.launched_at)


def _forward_targets(actions: Iterable[dict[str, Any]]) -> set[str]:
    arns: set[str] = set()
    for action in actions:
        if action.get("Type") != "forward":
            continue
        if action.get("TargetGroupArn"):
            arns.add(action["TargetGroupArn"])
        for tg in (action.get("ForwardConfig") or {}).get("TargetGroups", []):
            arns.add(tg["TargetGroupArn"])
    return arns


class _ComputeEmulator(ServiceEmulator):
    """Base of the three emulators: they share one :class:`ComputeModel`."""

    def __init__(self, emulation: Emulation, model: ComputeModel) -> None:
        super().__init__(emulation)
        self.model = model

    def close(self) -> None:
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

    def after_TerminateInstances(self, call: Call) -> None:
        # moto replaces a terminated ASG instance at once; AWS finds it on its next EC2 health check.
        ids = set(call.params.get("InstanceIds", []))
        for name in self.model.groups_of(call.region, ids):
            self.model.sync(call.region, name, _Reason("ec2-terminated", frozenset(ids)))


class AutoScalingEmulator(_ComputeEmulator):
    """EC2 Auto Scaling: placement, launch time, health replacement, scaling activities."""

    service = "autoscaling"

    def on_world_change(self, what: str, name: str) -> None:
        # Only this emulator forwards world changes, so the model sees each one once.
        self.model.on_world_change(what, name)

    # -- changes ---------------------------------------------------------------------------
    def after_CreateAutoScalingGroup(self, call: Call) -> None:
        self.model.sync(call.region, call.params["AutoScalingGroupName"], _Reason("create"))

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
        self.model.sync(call.region, call.params["AutoScalingGroupName"], _Reason("set-desired"))

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
        self.model.sync(call.region, call.params["AutoScalingGroupName"], _Reason("update"))

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
        self.model.sync(call.region, name, _Reason("terminate", frozenset({iid}), decrement=decrement))
        activity = self.model.activity_for(iid, "Terminating EC2 instance")
        if activity is not None and call.parsed is not None:
            call.parsed["Activity"] = activity

    def after_DetachInstances(self, call: Call) -> None:
        ids = frozenset(call.params.get("InstanceIds", []))
        decrement = bool(call.params.get("ShouldDecrementDesiredCapacity"))
        self.model.sync(call.region, call.params["AutoScalingGroupName"], _Reason("detach", ids, decrement=decrement))
        if call.parsed is not None:
            rows = [self.model.activity_for(i, "Detaching EC2 instance") for i in sorted(ids)]
            call.parsed["Activities"] = [r for r in rows if r is not None]

    def after_AttachInstances(self, call: Call) -> None:
        ids = frozenset(call.params.get("InstanceIds", []))
        self.model.sync(call.region, call.params["AutoScalingGroupName"], _Reason("attach", ids))

    def after_AttachLoadBalancerTargetGroups(self, call: Call) -> None:
        self.model.sync(call.region, call.params["AutoScalingGroupName"], _Reason("observed"))

    def after_DetachLoadBalancerTargetGroups(self, call: Call) -> None:
        self.model.sync(call.region, call.params["AutoScalingGroupName"], _Reason("observed"))

    def after_DeleteAutoScalingGroup(self, call: Call) -> None:
        self.model.sync(call.region, call.params["AutoScalingGroupName"], _Reason("delete"))

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
