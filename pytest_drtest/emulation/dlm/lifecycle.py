"""Policies at work on the clock: scheduled EBS snapshots, cross-Region copies, retention.

[EC2-UG:snapshot-lifecycle]: "A policy does not begin creating snapshots ... until you set its
activation status to enabled"; "The first snapshot ... is created by a policy within one hour after
the specified start time. Subsequent snapshots ... are created within one hour of their scheduled
time" (each run starts ``dlm_start_delay`` after its scheduled time). "For snapshot policies, when
the retention threshold is reached, the oldest snapshot is deleted" (count-based: per volume and
schedule, when a new one is created; age-based: at its ``aws:dlm:expirationTime``). "If you disable
a policy with an age-based retention schedule, the snapshots ... that are set to expire while the
policy is disabled are retained indefinitely ... When you enable the policy again, Amazon Data
Lifecycle Manager resumes deleting snapshots"; a deleted policy deletes nothing more
([BC:dlm] ExtendDeletion, default false); "If you delete the resource to which a policy with
age-based retention applies, the policy continues to delete snapshots ... up to the last snapshot";
a renamed schedule's snapshots are no longer the policy's. A snapshot is ``pending`` for ``ebs_snapshot_time``;
once it is ``completed`` each cross-Region copy rule of its schedule copies it (EC2
``CopySnapshot``), the copy ``pending`` for ``ebs_snapshot_copy_time``.

The emulation's choices where AWS documents none: a resource is targeted when it has ANY of the
policy's target tags; a volume in a lost AZ, and every resource of a lost Region, is skipped by
that run; a copy whose source or target Region is lost waits for both to be back; schedules of one
policy due at the same time each make their own snapshot (AWS makes one); copies carry the system
tags of their policy and schedule.
"""
from __future__ import annotations

import math
from typing import Any

from pytest_drtest.emulation.core import ServiceEmulator
from pytest_drtest.emulation.dlm.models import (
    EXPIRATION_TAG,
    MANAGED_TAG,
    POLICY_ID_TAG,
    SCHEDULE_NAME_TAG,
    SYSTEM_TAGS,
    UNSET_START_WINDOW,
    CopyRule,
    ManagedSnapshot,
    Policy,
    ScheduleSpec,
    iso,
)


class Lifecycle(ServiceEmulator):
    """The work of enabled policies."""

    policies: dict[str, Policy]
    snapshots: dict[str, ManagedSnapshot]

    def _init_lifecycle(self) -> None:
        self._runs: dict[tuple[str, str], Any] = {}  # (policy, schedule) -> the armed run
        self._held_copies: list[tuple[str, CopyRule]] = []
        self._held_deletes: set[str] = set()

    # -- inspection ---------------------------------------------------------------------------
    def managed_snapshots(self, policy_id: str | None = None, *, region: str | None = None,
                          live: bool = True) -> list[ManagedSnapshot]:
        """Snapshots policies made (copies too), oldest first; ``live``: not deleted."""
        return sorted(
            (s for s in self.snapshots.values()
             if (policy_id is None or s.policy_id == policy_id) and (region is None or s.region == region)
             and (not live or s.deleted_at is None)),
            key=lambda s: (s.created_at, s.snapshot_id),
        )

    def next_run(self, policy_id: str, schedule: str) -> float | None:
        """Clock time the schedule's next run starts (None when the policy is not enabled)."""
        handle = self._runs.get((policy_id, schedule))
        return None if handle is None or handle.cancelled else float(handle.when)

    # -- arming -------------------------------------------------------------------------------
    def _disarm(self, policy_id: str) -> None:
        for key in [k for k in self._runs if k[0] == policy_id]:
            self._runs.pop(key).cancel()

    def _arm(self, policy: Policy) -> None:
        self._disarm(policy.id)
        if policy.state != "ENABLED":
            return
        for schedule in policy.schedules:
            self._arm_schedule(policy, schedule, self.clock.now())

    def _arm_schedule(self, policy: Policy, schedule: ScheduleSpec, after: float) -> None:
        scheduled = self._next_scheduled(policy, schedule, after)
        delay = self.profile.sample("dlm_start_delay", f"dlm.run:{policy.region}/{policy.id}/{schedule.name}@{scheduled:.0f}")
        policy_id, name = policy.id, schedule.name
        self._runs[(policy_id, name)] = self.at(scheduled + delay, lambda: self._run(policy_id, name, scheduled),
                                                name=f"dlm {policy_id} {name}")

    def _next_scheduled(self, policy: Policy, schedule: ScheduleSpec, after: float) -> float:
        if schedule.cron is not None:
            return self.clock.seconds_at(schedule.cron.next_after(self.clock.datetime(after)))
        assert schedule.interval_hours is not None
        period = schedule.interval_hours * 3600.0
        if schedule.time_of_day is not None:
            hour, minute = schedule.time_of_day
            day = self.clock.datetime(after)
            anchor = self.clock.seconds_at(day.replace(hour=hour, minute=minute, second=0, microsecond=0))
        else:
            # "If you do not specify a time, Amazon Data Lifecycle Manager selects a time within
            # the next 24 hours" ([BC:dlm] CreateRule.Times): drawn once per schedule
            if schedule.name not in policy.anchors:
                rng = self.profile.rng(f"dlm.start-time:{policy.region}/{policy.id}/{schedule.name}")
                policy.anchors[schedule.name] = self.clock.now() + rng.uniform(0, UNSET_START_WINDOW)
            anchor = policy.anchors[schedule.name]
        steps = math.floor((after - anchor) / period) + 1
        return anchor + steps * period

    # -- one run ------------------------------------------------------------------------------
    def _run(self, policy_id: str, name: str, scheduled: float) -> None:
        policy = self.policies.get(policy_id)
        if policy is None or policy.state != "ENABLED":
            return
        schedule = next((s for s in policy.schedules if s.name == name), None)
        if schedule is None:
            return
        self._arm_schedule(policy, schedule, scheduled)
        if not self.world.region_up(policy.region):
            return  # a lost Region runs no policy: this run's snapshots are never made
        for volume in self._target_volumes(policy):
            self._snapshot(policy, schedule, volume)

    def _target_volumes(self, policy: Policy) -> list[dict[str, Any]]:
        ec2 = self.backdoor(policy.region, "ec2")
        wanted = {(k, v) for k, v in policy.target_tags}

        def tagged(row: dict[str, Any]) -> bool:
            return any((t["Key"], t["Value"]) in wanted for t in row.get("Tags") or [])

        volumes = {v["VolumeId"]: v for v in ec2.describe_volumes()["Volumes"]}
        chosen: list[dict[str, Any]] = []
        if policy.resource_types == ("VOLUME",):
            chosen = [v for v in volumes.values() if tagged(v)]
        else:
            for reservation in ec2.describe_instances()["Reservations"]:
                for instance in reservation["Instances"]:
                    if instance.get("State", {}).get("Name") == "terminated" or not tagged(instance):
                        continue
                    for mapping in instance.get("BlockDeviceMappings") or []:
                        if policy.exclude_boot_volume and mapping.get("DeviceName") == instance.get("RootDeviceName"):
                            continue
                        volume = volumes.get((mapping.get("Ebs") or {}).get("VolumeId", ""))
                        if volume is not None:
                            chosen.append(dict(volume, DlmInstanceId=instance["InstanceId"]))
        return sorted((v for v in chosen if self.world.az_up(v["AvailabilityZone"])), key=lambda v: str(v["VolumeId"]))

    def _snapshot(self, policy: Policy, schedule: ScheduleSpec, volume: dict[str, Any]) -> None:
        now = self.clock.now()
        expires = schedule.retention.expires(self.clock.datetime(now))
        tags = [(POLICY_ID_TAG, policy.id), (SCHEDULE_NAME_TAG, schedule.name), (MANAGED_TAG, "true")]
        if expires is not None:
            tags.append((EXPIRATION_TAG, iso(expires)))
        if schedule.copy_tags:
            tags += [(t["Key"], t["Value"]) for t in volume.get("Tags") or [] if not t["Key"].lower().startswith("aws:")]
        tags += list(schedule.tags_to_add)
        made = self.backdoor(policy.region, "ec2").create_snapshot(
            VolumeId=volume["VolumeId"],
            Description=f"Created for policy: {policy.id} schedule: {schedule.name}",
            TagSpecifications=[{"ResourceType": "snapshot", "Tags": _tag_list(tags)}],
        )
        record = ManagedSnapshot(
            snapshot_id=made["SnapshotId"],
            region=policy.region,
            policy_id=policy.id,
            schedule=schedule.name,
            resource_id=volume["VolumeId"],
            created_at=now,
            ready_at=now + self.profile.sample("ebs_snapshot_time", f"dlm.snapshot:{policy.region}/{volume['VolumeId']}@{now:.0f}"),
            expires_at=None if expires is None else self.clock.seconds_at(expires),
            encrypted=bool(volume.get("Encrypted")),
        )
        self.snapshots[record.snapshot_id] = record
        snap_id = record.snapshot_id
        self.at(record.ready_at, lambda: self._completed(snap_id), name=f"dlm snapshot {snap_id}")
        if record.expires_at is not None:
            self.at(record.expires_at, lambda: self._expire(snap_id), name=f"dlm expire {snap_id}")
        if schedule.retention.count is not None:
            kept = [s for s in self.managed_snapshots(policy.id, region=policy.region)
                    if s.copy_of is None and s.schedule == schedule.name and s.resource_id == volume["VolumeId"]]
            for old in kept[: max(0, len(kept) - schedule.retention.count)]:
                self._delete(old)

    # -- copies -------------------------------------------------------------------------------
    def _completed(self, snap_id: str) -> None:
        record = self.snapshots.get(snap_id)
        policy = self.policies.get(record.policy_id) if record else None
        if record is None or record.deleted_at is not None or record.copy_of is not None or policy is None:
            return
        schedule = next((s for s in policy.schedules if s.name == record.schedule), None)
        if schedule is None or record.copied:
            return
        record.copied = True
        for rule in schedule.copy_rules:
            self._copy(snap_id, rule)

    def _copy(self, snap_id: str, rule: CopyRule) -> None:
        source = self.snapshots[snap_id]
        if source.deleted_at is not None:
            return
        if not (self.world.region_up(source.region) and self.world.region_up(rule.target)):
            self._held_copies.append((snap_id, rule))
            return
        now = self.clock.now()
        expires = rule.retention.expires(self.clock.datetime(now)) if rule.retention else None
        tags = [(POLICY_ID_TAG, source.policy_id), (SCHEDULE_NAME_TAG, source.schedule), (MANAGED_TAG, "true")]
        if expires is not None:
            tags.append((EXPIRATION_TAG, iso(expires)))
        if rule.copy_tags:
            described = self.backdoor(source.region, "ec2").describe_snapshots(SnapshotIds=[snap_id])["Snapshots"]
            tags += [(t["Key"], t["Value"]) for row in described for t in row.get("Tags") or [] if t["Key"] not in SYSTEM_TAGS]
        extra: dict[str, Any] = {"KmsKeyId": rule.cmk_arn} if rule.cmk_arn else {}
        made = self.backdoor(rule.target, "ec2").copy_snapshot(
            SourceRegion=source.region,
            SourceSnapshotId=snap_id,
            Description=f"Copied for DLM policy {source.policy_id} schedule {source.schedule} from {source.region} {snap_id}",
            Encrypted=rule.encrypted or source.encrypted,
            TagSpecifications=[{"ResourceType": "snapshot", "Tags": _tag_list(tags)}],
            **extra,
        )
        copy = ManagedSnapshot(
            snapshot_id=made["SnapshotId"],
            region=rule.target,
            policy_id=source.policy_id,
            schedule=source.schedule,
            resource_id=source.resource_id,
            created_at=now,
            ready_at=now + self.profile.sample("ebs_snapshot_copy_time", f"dlm.copy:{source.region}/{snap_id}->{rule.target}"),
            expires_at=None if expires is None else self.clock.seconds_at(expires),
            encrypted=rule.encrypted or source.encrypted,
            copy_of=snap_id,
        )
        self.snapshots[copy.snapshot_id] = copy
        if copy.expires_at is not None:
            copy_id = copy.snapshot_id
            self.at(copy.expires_at, lambda: self._expire(copy_id), name=f"dlm expire {copy_id}")

    # -- retention ----------------------------------------------------------------------------
    def _expire(self, snap_id: str) -> None:
        record = self.snapshots.get(snap_id)
        if record is None or record.deleted_at is not None:
            return
        policy = self.policies.get(record.policy_id)
        if policy is None or policy.state != "ENABLED":
            return  # kept: a disabled policy's expired snapshots wait for it to be enabled again
        if self._kept_by_policy_change(policy, record):
            return
        self._delete(record)

    def _kept_by_policy_change(self, policy: Policy, record: ManagedSnapshot) -> bool:
        """Snapshots an age-based policy no longer deletes: those of a renamed schedule ("the
        snapshots ... created under the old schedule name are no longer affected by the policy"),
        and the last one of a deleted volume (the policy deletes "up to the last snapshot")."""
        if record.schedule not in {s.name for s in policy.schedules}:
            return True
        if record.copy_of is not None or not self.world.region_up(record.region):
            return False
        ec2 = self.backdoor(record.region, "ec2")
        try:
            ec2.describe_volumes(VolumeIds=[record.resource_id])
            return False
        except ec2.exceptions.ClientError:
            pass  # the volume is gone
        others = [s for s in self.managed_snapshots(policy.id, region=record.region)
                  if s.copy_of is None and s.schedule == record.schedule and s.resource_id == record.resource_id]
        return others == [record]

    def _expire_overdue(self, policy: Policy) -> None:
        now = self.clock.now()
        for record in self.managed_snapshots(policy.id):
            if record.expires_at is not None and record.expires_at <= now and not self._kept_by_policy_change(policy, record):
                self._delete(record)

    def _delete(self, record: ManagedSnapshot) -> None:
        if not self.world.region_up(record.region):
            self._held_deletes.add(record.snapshot_id)
            return
        self._held_deletes.discard(record.snapshot_id)
        ec2 = self.backdoor(record.region, "ec2")
        try:
            ec2.delete_snapshot(SnapshotId=record.snapshot_id)
        except ec2.exceptions.ClientError as exc:
            if "NotFound" not in str(exc.response.get("Error", {}).get("Code", "")):
                raise
        record.deleted_at = self.clock.now()

    def on_world_change(self, what: str, name: str) -> None:
        if what != "region-restored":
            return
        held, self._held_copies = self._held_copies, []
        for snap_id, rule in held:
            self._copy(snap_id, rule)
        for snap_id in sorted(self._held_deletes):
            record = self.snapshots.get(snap_id)
            if record is not None and record.deleted_at is None:
                self._delete(record)


def _tag_list(pairs: list[tuple[str, str]]) -> list[dict[str, str]]:
    seen: dict[str, str] = {}
    for key, value in pairs:
        seen.setdefault(key, value)
    return [{"Key": k, "Value": v} for k, v in seen.items()]
