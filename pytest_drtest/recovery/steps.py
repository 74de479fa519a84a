"""Runbook steps shared by the shipped runbooks: detect, scale, restore, repoint DNS."""
from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from pytest_drtest.errors import DrError

if TYPE_CHECKING:
    from pytest_drtest.clock import Clock
    from pytest_drtest.topology.model import RegionStack, Topology

T = TypeVar("T")


class RunbookFailed(DrError):
    """A runbook step did not reach its goal in time."""


def poll(clock: Clock, check: Callable[[], T | None], *, every: float, timeout: float, what: str) -> T:
    """Call ``check`` every ``every`` seconds of the clock until it returns a value."""
    deadline = clock.now() + timeout
    while True:
        value = check()
        if value is not None and value is not False:
            return value
        if clock.now() >= deadline:
            raise RunbookFailed(f"{what}: not done after {timeout:.0f} s")
        clock.sleep(every)


def wait_unhealthy(topology: Topology, stack: RegionStack, clock: Clock, *, timeout: float = 3600) -> None:
    """Detection: poll Route 53 until most checkers report the region's endpoint failing."""
    r53 = topology.clients.client("route53", "us-east-1")
    if stack.health_check_id is None:
        raise RunbookFailed(f"the {stack.role} region has no health check to watch")

    def failing() -> bool:
        observations = r53.get_health_check_status(HealthCheckId=stack.health_check_id)["HealthCheckObservations"]
        bad = sum(1 for o in observations if o["StatusReport"]["Status"].startswith("Failure"))
        return bool(observations) and bad * 2 > len(observations)

    poll(clock, failing, every=10, timeout=timeout, what=f"health check of {stack.region}")
    topology.note("detected", f"health check of {stack.region} failing")


def scale(topology: Topology, stack: RegionStack, desired: int, clock: Clock, *, timeout: float = 1800) -> None:
    """Scale a region's ASG and wait (polling) until ``desired`` instances are InService."""
    asg = topology.clients.client("autoscaling", stack.region)
    group = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[stack.asg_name])["AutoScalingGroups"][0]
    asg.update_auto_scaling_group(
        AutoScalingGroupName=stack.asg_name, DesiredCapacity=desired,
        MaxSize=max(group["MaxSize"], desired), MinSize=min(group["MinSize"], desired),
    )
    topology.note("scale-up-started", f"{stack.asg_name} -> {desired}")

    def in_service() -> bool:
        groups = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[stack.asg_name])["AutoScalingGroups"]
        ready = [i for i in groups[0]["Instances"] if i["LifecycleState"] == "InService" and i["HealthStatus"] == "Healthy"]
        return len(ready) >= desired

    poll(clock, in_service, every=15, timeout=timeout, what=f"scaling {stack.asg_name} to {desired}")
    stack.capacity = desired
    topology.note("scaled", f"{stack.asg_name} at {desired} InService")


def point_dns_at(topology: Topology, stack: RegionStack, clock: Clock) -> None:
    """UPSERT the application's record to the region's ALB and wait until INSYNC (botocore waiter)."""
    from pytest_drtest.topology.build import change_records, record_set

    change_id = change_records(topology, [record_set(topology, stack)], "UPSERT")
    topology.clients.client("route53", "us-east-1").get_waiter("resource_record_sets_changed").wait(
        Id=change_id, WaiterConfig={"Delay": 10, "MaxAttempts": 60}
    )
    topology.note("dns-switched", f"{topology.fqdn} -> {stack.alb_dns}")


_restore_counter = itertools.count(1)


def new_table_name(topology: Topology, logical: str, how: str) -> str:
    return f"{topology.name}-{logical}-{how}-{next(_restore_counter)}"


def record_restore(topology: Topology, **fields: Any) -> None:
    """Remember a restore for the harness's restore check (contents against the ledger)."""
    topology.restores.append(fields)
