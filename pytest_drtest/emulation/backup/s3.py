"""AWS Backup for S3 buckets: snapshot and continuous backups, restores into a new or an existing bucket.

"AWS Backup Developer Guide, Amazon S3 backups": the bucket must have versioning enabled (else the
job fails); a rule with ``EnableContinuousBackup`` makes ONE continuous recovery point per bucket
(``arn:aws:backup:<region>:<account>:recovery-point:continuous:<bucket>-<id>``), created by a full
backup and updated whenever the rule's job runs, restorable to any second within its retention
(1-35 days, "Point-in-time recovery"); other rules make snapshot recovery points; copies of a
continuous backup are snapshots ("copies of continuous backups do not have point-in-time restore
capabilities"). Changes are captured as they happen: the emulator follows the bucket's objects
through the S3 emulator and keeps, per continuous point, the state at its full backup and every
later change of a key.

"Restoring S3 data": ``StartRestoreJob`` takes the metadata ``DestinationBucketName``,
``NewBucket`` (``"true"``: create it; it must not exist), ``RestoreTime`` (continuous points; ISO
8601), ``ItemsToRestore`` (up to 5 ``s3://`` URIs), ``Encrypted``, ``EncryptionType``, ``KMSKey``,
``CreationToken``; the latest version of each object as of the recovery point lands in S3
Standard; the restore is not destructive — an object the destination already holds (a current
version that is not a delete marker) is skipped. Restore jobs run in the recovery point's Region.
"""
from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import botocore.exceptions

from pytest_drtest.emulation.backup.api import error_message, invalid
from pytest_drtest.emulation.backup.jobs import JobKind, Jobs
from pytest_drtest.emulation.backup.models import (
    BackupJob,
    Job,
    Plan,
    RecoveryPoint,
    RestoreJob,
    arn_parts,
)
from pytest_drtest.emulation.core import AwsError, Call

#: "Point-in-time recovery": continuous backups are kept 1 to 35 days.
CONTINUOUS_RETENTION_DAYS = (1, 35)
MAX_ITEMS_TO_RESTORE = 5  # "Restoring S3 data": an item-level restore names up to 5 objects
S3_DURATION_KEYS = {"backup.job": "backup_s3_job_time", "backup.restore": "backup_s3_restore_time"}


@dataclass
class ObjectState:
    """An object as a backup holds it: its latest version's data (never a delete marker)."""

    key: str
    body: bytes
    content_type: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass
class S3Restore:
    """What a restore job of an S3 recovery point was asked for."""

    destination: str
    new_bucket: bool
    restore_time: float | None  # clock seconds (continuous points), else the point's own time
    items: tuple[str, ...]  # object keys (ItemsToRestore), empty: the whole bucket
    skipped: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)


class S3Backups(Jobs):
    """The S3 side of the backup, copy and restore jobs (the jobs' hooks dispatch here by resource type)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._continuous: dict[tuple[str, str], str] = {}  # (vault ARN, bucket ARN) -> continuous point ARN
        self._changes: dict[str, list[tuple[float, str, ObjectState | None]]] = {}  # continuous ARN -> key changes
        self._s3_restores: dict[str, S3Restore] = {}  # restore job id -> its request
        self._unfollow: Callable[[], None] | None = None

    # -- what the harness and tests read -----------------------------------------------------
    def bucket_as_of(self, recovery_point_arn: str, t: float | None = None) -> dict[str, bytes]:
        """``key -> body`` an S3 recovery point holds (as of clock time ``t`` for a continuous one)."""
        rp = self._recovery_points[recovery_point_arn]
        return {key: state.body for key, state in self._objects_of(rp, t).items()}

    def is_continuous(self, recovery_point_arn: str) -> bool:
        return recovery_point_arn in self._changes

    def s3_restore(self, restore_job_id: str) -> dict[str, Any] | None:
        """What an S3 restore job restored (``restored``, ``skipped`` keys) once it completed."""
        request = self._s3_restores.get(restore_job_id)
        if request is None:
            return None
        return {"destination": request.destination, "new_bucket": request.new_bucket, "restored": list(request.restored),
                "skipped": list(request.skipped), "restore_time": request.restore_time}

    # -- plans: continuous rules --------------------------------------------------------------
    def _validate_rules(self, rules: Any) -> None:
        for rule in rules:
            days = (rule.get("Lifecycle") or {}).get("DeleteAfterDays")
            low, high = CONTINUOUS_RETENTION_DAYS
            if rule.get("EnableContinuousBackup") and days is not None and not low <= days <= high:
                raise invalid(f"Rule {rule.get('RuleName')}: continuous backups are retained {low} to {high} days "
                              f"(Lifecycle.DeleteAfterDays), got {days}")
        super()._validate_rules(rules)  # type: ignore[misc]

    def _selected_resources(self, plan: Plan) -> list[str]:
        """The plan's resources (DynamoDB tables) plus the S3 buckets of its Region its selections choose."""
        chosen: dict[str, None] = dict.fromkeys(super()._selected_resources(plan))  # type: ignore[misc]
        s3 = self.backdoor(plan.region, "s3")
        emulator = self._s3()
        buckets = [b["Name"] for b in s3.list_buckets().get("Buckets", [])]
        tags_cache: dict[str, dict[str, str]] = {}

        def tags(arn: str) -> dict[str, str]:
            if arn not in tags_cache:
                try:
                    tag_set = s3.get_bucket_tagging(Bucket=arn.split(":::", 1)[1]).get("TagSet", [])
                except botocore.exceptions.ClientError:
                    tag_set = []
                tags_cache[arn] = {t["Key"]: t["Value"] for t in tag_set}
            return tags_cache[arn]

        for name in buckets:
            if emulator is not None and emulator.bucket_region(name) != plan.region:
                continue
            arn = f"arn:aws:s3:::{name}"
            if any(self._selection_matches(s.spec, arn, tags) for s in plan.selections.values()):  # type: ignore[attr-defined]
                chosen[arn] = None
        return list(chosen)

    # -- backup jobs ---------------------------------------------------------------------------
    def _create_backup_job(self, **kwargs: Any) -> BackupJob:
        """A rule with ``EnableContinuousBackup`` backs an S3 bucket up into its one continuous point."""
        job = super()._create_backup_job(**kwargs)
        if job.resource_type == "S3" and self._continuous_rule(job):
            key = (job.vault_arn, job.resource_arn)
            if key not in self._continuous:
                suffix = self._new_id().lower()[:8]
                self._continuous[key] = (f"arn:aws:backup:{job.region}:{job.account}:recovery-point:continuous:"
                                         f"{job.resource_name}-{suffix}")
            job.recovery_point_arn = self._continuous[key]
        return job

    def _continuous_rule(self, job: BackupJob) -> bool:
        plan = self._plans.get(str(job.created_by.get("BackupPlanId", "")))
        rule_id = job.created_by.get("BackupRuleId")
        if plan is None or rule_id is None:
            return False  # on demand: "You can't use on-demand backups with PITR"
        rule = next((r for r in plan.current.document.get("Rules", []) if r.get("RuleId") == rule_id), None)
        return bool(rule and rule.get("EnableContinuousBackup"))

    def _duration_key(self, job: Job, kind: JobKind[Any]) -> str:
        if kind.stream in S3_DURATION_KEYS and self._is_s3(job):
            return S3_DURATION_KEYS[kind.stream]
        return super()._duration_key(job, kind)

    @staticmethod
    def _is_s3(job: Job) -> bool:
        if isinstance(job, BackupJob):
            return job.resource_type == "S3"
        if isinstance(job, RestoreJob):
            return job.recovery_point.resource_type == "S3"
        return False

    def _take_snapshot(self, job: BackupJob) -> str | None:
        if job.resource_type != "S3":
            return super()._take_snapshot(job)
        if not self.world.region_up(job.region):
            return f"Region {job.region} is unavailable"
        if self._vault_arn(job.region, job.vault_name) is None:
            return f"Backup vault {job.vault_name} does not exist"
        bucket = job.resource_name
        emulator = self._s3()
        home = emulator.bucket_region(bucket) if emulator is not None else job.region
        if home is None:
            return f"Resource {job.resource_arn} could not be backed up: the bucket does not exist"
        if home != job.region:
            return f"Bucket {bucket} is in {home}: AWS Backup backs up a resource in its own Region ({job.region})"
        s3 = self.backdoor(job.region, "s3")
        if s3.get_bucket_versioning(Bucket=bucket).get("Status") != "Enabled":
            # "Amazon S3 backups": "You must enable S3 Versioning on your S3 bucket to use AWS Backup"
            return f"Bucket {bucket} does not have versioning enabled: AWS Backup for S3 requires S3 Versioning"
        existing = self._recovery_points.get(job.recovery_point_arn)
        if existing is not None and job.recovery_point_arn in self._changes:
            job.point = existing  # the continuous point is updated, not made again
            job.size = existing.size
            return None
        try:
            objects = self._read_bucket(job.region, bucket)
        except botocore.exceptions.ClientError as exc:
            return f"Resource {job.resource_arn} could not be backed up: {error_message(exc)}"
        job.size = sum(len(o.body) for o in objects)
        job.point = RecoveryPoint(
            arn=job.recovery_point_arn, region=job.region, account=job.account, vault_name=job.vault_name,
            vault_arn=job.vault_arn, resource_arn=job.resource_arn, resource_type="S3", resource_name=bucket,
            iam_role_arn=job.iam_role_arn, created_by=job.created_by, lifecycle=job.lifecycle,
            creation=self.clock.now(), initiation=job.created, size=job.size,
            table={"Bucket": bucket, "Region": job.region}, items=[_as_item(o) for o in objects],
        )
        self._recovery_points[job.point.arn] = job.point
        if job.recovery_point_arn.split(":recovery-point:", 1)[-1].startswith("continuous:"):
            self._changes[job.point.arn] = []
            self._follow_changes()
        return None

    def _read_bucket(self, region: str, bucket: str) -> list[ObjectState]:
        """The latest version of every object (what a snapshot of the bucket holds)."""
        s3 = self.backdoor(region, "s3")
        found: list[ObjectState] = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for entry in page.get("Contents", []):
                state = self._read_object(s3, bucket, entry["Key"])
                if state is not None:
                    found.append(state)
        return found

    @staticmethod
    def _read_object(s3: Any, bucket: str, key: str) -> ObjectState | None:
        try:
            obj = s3.get_object(Bucket=bucket, Key=key)
        except botocore.exceptions.ClientError:
            return None  # no current version (a delete marker), or gone
        return ObjectState(key, obj["Body"].read(), obj.get("ContentType"), dict(obj.get("Metadata") or {}))

    # -- continuous backups: every change of a covered bucket ----------------------------------
    def _s3(self) -> Any:
        return self.emulation.services.get("s3")

    def _follow_changes(self) -> None:
        emulator = self._s3()
        if self._unfollow is None and emulator is not None and hasattr(emulator, "on_object_change"):
            self._unfollow = emulator.on_object_change(self._object_changed)

    def _object_changed(self, bucket: str, key: str, t: float) -> None:
        arns = [arn for arn in self._changes
                if (rp := self._recovery_points.get(arn)) is not None and rp.resource_name == bucket]
        if not arns:
            return
        region = self._recovery_points[arns[0]].region
        state = self._read_object(self.backdoor(region, "s3"), bucket, key)
        for arn in arns:
            self._changes[arn].append((t, key, state))

    def _objects_of(self, rp: RecoveryPoint, t: float | None) -> dict[str, ObjectState]:
        """The objects of an S3 point: its full backup, then (continuous) every change up to ``t``."""
        objects = {item["Key"]: _from_item(item) for item in rp.items}
        for when, key, state in self._changes.get(rp.arn, []):
            if t is not None and when > t:
                break
            if state is None:
                objects.pop(key, None)
            else:
                objects[key] = state
        return objects

    def _land_copy(self, job: Any) -> None:
        """A copy of a continuous point is a snapshot of its state when the copy completes."""
        source: RecoveryPoint = job.source
        if source.arn not in self._changes:
            super()._land_copy(job)
            return
        frozen = RecoveryPoint(**{**source.__dict__, "items": [_as_item(o) for o in self._objects_of(source, None).values()],
                                  "creation": self.clock.now()})
        job.source = frozen
        try:
            super()._land_copy(job)
        finally:
            job.source = source

    def close(self) -> None:
        if self._unfollow is not None:
            self._unfollow()
            self._unfollow = None
        super().close()

    # -- restores ------------------------------------------------------------------------------
    def _start_s3_restore(self, call: Call, rp: RecoveryPoint, token: str | None) -> RestoreJob:
        """``StartRestoreJob`` of an S3 recovery point: the metadata checked, the job created."""
        metadata = {str(k): str(v) for k, v in (call.params.get("Metadata") or {}).items()}
        destination = metadata.get("DestinationBucketName")
        if not destination:
            raise AwsError("MissingParameterValueException",
                           "Metadata must hold DestinationBucketName, the bucket to restore into")
        new_bucket = metadata.get("NewBucket", "false").lower()
        if new_bucket not in ("true", "false"):
            raise invalid(f"NewBucket must be 'true' or 'false', got {metadata['NewBucket']!r}")
        restore_time = None
        if "RestoreTime" in metadata:
            if rp.arn not in self._changes:
                raise invalid(f"RestoreTime applies to continuous recovery points only; {rp.arn} is a snapshot")
            restore_time = self._restore_time(rp, metadata["RestoreTime"])
        items = self._items_to_restore(metadata.get("ItemsToRestore"))
        job = self._create_restore_job(call.region, rp, destination, call.params.get("IamRoleArn") or rp.iam_role_arn,
                                       token)
        self._s3_restores[job.job_id] = S3Restore(destination, new_bucket == "true", restore_time, items)
        return job

    def restorable_window(self, recovery_point_arn: str) -> tuple[float, float]:
        """Clock seconds ``(earliest, latest)`` a continuous point restores to: from its full backup,
        or the retention (``DeleteAfterDays``, at most 35) back from now, whichever is later, to now."""
        rp = self._recovery_points[recovery_point_arn]
        days = (rp.lifecycle or {}).get("DeleteAfterDays") or CONTINUOUS_RETENTION_DAYS[1]
        now = self.clock.now()
        return max(rp.creation, now - 86400.0 * min(days, CONTINUOUS_RETENTION_DAYS[1])), now

    def _arm_expiry(self, rp: RecoveryPoint) -> None:
        if rp.arn in self._changes:
            return  # a continuous point is kept; its window slides (restorable_window)
        super()._arm_expiry(rp)

    def _restore_time(self, rp: RecoveryPoint, raw: str) -> float:
        try:
            when = _dt.datetime.fromisoformat(raw)
        except ValueError:
            raise invalid(f"RestoreTime must be an ISO 8601 time, got {raw!r}") from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=_dt.UTC)
        t = self.clock.seconds_at(when)
        earliest, latest = self.restorable_window(rp.arn)
        if not earliest <= t <= latest:
            window = f"{self.clock.datetime(earliest):%Y-%m-%dT%H:%M:%SZ} to {self.clock.datetime(latest):%Y-%m-%dT%H:%M:%SZ}"
            raise invalid(f"RestoreTime {raw} is outside the restorable window of {rp.arn} ({window})")
        return t

    @staticmethod
    def _items_to_restore(raw: str | None) -> tuple[str, ...]:
        if not raw:
            return ()
        try:
            uris = json.loads(raw)
        except ValueError:
            raise invalid(f"ItemsToRestore must be a JSON list of s3:// URIs, got {raw!r}") from None
        if not isinstance(uris, list) or not 1 <= len(uris) <= MAX_ITEMS_TO_RESTORE \
                or not all(isinstance(u, str) and u.startswith("s3://") and "/" in u[5:] for u in uris):
            raise invalid(f"ItemsToRestore holds 1 to {MAX_ITEMS_TO_RESTORE} s3://bucket/key URIs, got {raw!r}")
        return tuple(u[5:].split("/", 1)[1] for u in uris)

    def _table_restored(self, job: RestoreJob) -> str | None:
        if job.recovery_point.resource_type != "S3":
            return super()._table_restored(job)
        return self._bucket_restored(job)

    def _bucket_restored(self, job: RestoreJob) -> str | None:
        """Write the point's objects (as of its restore time) into the destination bucket."""
        request = self._s3_restores[job.job_id]
        if not self.world.region_up(job.region):
            return f"Region {job.region} became unavailable before the restore completed"
        s3 = self.backdoor(job.region, "s3")
        emulator = self._s3()
        exists = emulator.bucket_region(request.destination) if emulator is not None else None
        if request.new_bucket and exists is not None:
            return f"Restore failed: bucket {request.destination} already exists (NewBucket is true)"
        if not request.new_bucket and exists is None:
            return f"Restore failed: bucket {request.destination} does not exist (NewBucket is false)"
        if request.new_bucket:
            kwargs: dict[str, Any] = {"Bucket": request.destination}
            if job.region != "us-east-1":
                kwargs["CreateBucketConfiguration"] = {"LocationConstraint": job.region}
            s3.create_bucket(**kwargs)
        rp = job.recovery_point
        objects = self._objects_of(rp, request.restore_time)
        for key in sorted(objects):
            if request.items and key not in request.items:
                continue
            if self._read_object(s3, request.destination, key) is not None:
                request.skipped.append(key)  # not destructive: the destination's object stays
                continue
            state = objects[key]
            put: dict[str, Any] = {"Bucket": request.destination, "Key": key, "Body": state.body, "Metadata": state.metadata}
            if state.content_type:
                put["ContentType"] = state.content_type
            answer = s3.put_object(**put)
            if emulator is not None:
                emulator.note_version(request.destination, key, answer.get("VersionId"))
            request.restored.append(key)
        job.created_resource_arn = f"arn:aws:s3:::{request.destination}"
        return None

    def before_GetRecoveryPointRestoreMetadata(self, call: Call) -> dict[str, Any]:
        rp = self._find_recovery_point(call.region, call.params["RecoveryPointArn"], call.params["BackupVaultName"])
        if rp.resource_type != "S3":
            return dict(super().before_GetRecoveryPointRestoreMetadata(call))  # type: ignore[misc]
        return {
            "BackupVaultArn": rp.vault_arn,
            "RecoveryPointArn": rp.arn,
            "RestoreMetadata": {"DestinationBucketName": rp.resource_name, "NewBucket": "false", "Encrypted": "false",
                                "EncryptionType": "original"},
            "ResourceType": "S3",
        }


def _as_item(state: ObjectState) -> dict[str, Any]:
    return {"Key": state.key, "Body": state.body, "ContentType": state.content_type, "Metadata": dict(state.metadata)}


def _from_item(item: dict[str, Any]) -> ObjectState:
    return ObjectState(str(item["Key"]), bytes(item["Body"]), item.get("ContentType"), dict(item.get("Metadata") or {}))


def bucket_arn(arn: str) -> str | None:
    """The bucket of ``arn:aws:s3:::<bucket>`` (None for any other ARN)."""
    parts = arn_parts(arn)
    return parts[5] if parts is not None and parts[2] == "s3" and "/" not in parts[5] else None
