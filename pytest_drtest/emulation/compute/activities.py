"""Scaling activities: what each launch and termination records, with AWS's Cause texts.

[BC:autoscaling] Activity: ``Description`` "Launching a new EC2 instance: i-..." / "Terminating EC2
instance: i-...", ``StatusCode``, ``Progress``; Cause sentences as AWS writes them
([ASG-UG:ec2-auto-scaling-health-checks]). ``DescribeScalingActivities`` answers in clock time.
"""
from __future__ import annotations

from typing import Any

from pytest_drtest.emulation.compute.base import ComputeBase
from pytest_drtest.emulation.compute.models import Activity, Group, Instance, Reason


class ScalingActivities(ComputeBase):
    """The activities of every group, newest first in answers."""

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

    def _record(
        self, group: Group, description: str, cause: str, inst: Instance, *, status_code: str, progress: int
    ) -> Activity:
        details = {"Subnet ID": inst.subnet_id or "", "Availability Zone": inst.az}
        activity = Activity(
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

    def _launch_activity(self, instance_id: str) -> Activity | None:
        for activity in reversed(self._activities):
            if activity.description == f"Launching a new EC2 instance: {instance_id}":
                return activity
        return None

    def _desired_change(self, group: Group, reason: Reason, old_desired: int | None) -> str:
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

    def _launch_cause(self, group: Group, reason: Reason, before: int, after: int, old_desired: int) -> str:
        stamp = self._stamp()
        if reason.kind == "health":
            return f"At {stamp} an instance was launched in response to an unhealthy instance needing to be replaced."
        return self._desired_change(group, reason, old_desired) + (
            f"At {stamp} an instance was started in response to a difference between desired and actual capacity, "
            f"increasing the capacity from {before} to {after}."
        )

    def _terminate_cause(
        self, group: Group, inst: Instance, reason: Reason, before: int, after: int, old_desired: int | None
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
