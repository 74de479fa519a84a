"""The job state machine of AWS Backup, one for backup, copy and restore jobs.

[BC:backup]: a backup job goes ``CREATED`` -> ``RUNNING`` -> ``COMPLETED`` (or ``FAILED``), a copy
job likewise, a restore job ``PENDING`` -> ``RUNNING`` -> ``COMPLETED`` (or ``FAILED``). Each starts
on the clock's next step and runs for its kind's modeled time (``backup_job_time``,
``backup_copy_time``, ``backup_restore_time``). What differs is a :class:`JobKind`'s hooks:

* backup: the table is read when the job starts (the snapshot) and its recovery point is
  ``CREATING``; the job fails if its Region is lost before it completes (the snapshot never left
  the Region); on completion the point is ``AVAILABLE`` and one copy job starts per ``CopyAction``;
* copy: the copy lands in the destination vault only when it completes, and fails if either Region
  is lost by then ("AWS Backup Developer Guide, Creating backup copies across AWS Regions"); this is
  what decides the RPO of backup & restore. A copy keeps the source's creation date;
* restore: on completion a NEW table holds exactly the recovery point's items.
"""
from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from botocore.exceptions import ClientError

from pytest_drtest.emulation.backup.api import error_message
from pytest_drtest.emulation.backup.base import BackupBase
from pytest_drtest.emulation.backup.models import (
    BackupJob,
    CopyJob,
    Job,
    RecoveryPoint,
    RestoreJob,
    arn_parts,
    item_size,
    resource_type_of,
    vault_of,
)
from pytest_drtest.emulation.core import AwsError, Emulation
from pytest_drtest.emulation.dynamodb.models import (
    BATCH_WRITE_LIMIT,
    create_table_params,
)

J = TypeVar("J", bound=Job)


@dataclass(frozen=True)
class JobKind(Generic[J]):
    """What differs between the kinds of job; :class:`Jobs` runs every kind through the same states."""

    waiting: str  # the state from creation until RUNNING
    duration_key: str  # profile key of how long RUNNING lasts
    stream: str  # the random stream it is drawn from, one per resource: "<stream>:<resource(job)>"
    begin: Callable[[J], str | None]  # at RUNNING: why the job fails at once, or None
    finish: Callable[[J], str | None]  # at the end of RUNNING: why it fails, or None to complete
    completed: Callable[[J], None]  # once COMPLETED
    resource: Callable[[J], str]  # what the job works on (its random stream's name)


def _nothing_to_do(job: Job) -> None:
    return None


class Jobs(BackupBase):
    """Backup, copy and restore jobs on the clock: creation, the state machine, each kind's hooks."""

    def __init__(self, emulation: Emulation) -> None:
        super().__init__(emulation)
        self._backup_kind: JobKind[BackupJob] = JobKind(
            "CREATED", "backup_job_time", "backup.job", self._take_snapshot, self._snapshot_kept, self._publish_point,
            lambda job: job.resource_arn)
        self._copy_kind: JobKind[CopyJob] = JobKind(
            "CREATED", "backup_copy_time", "backup.copy", _nothing_to_do, self._copy_arrived, self._land_copy,
            lambda job: f"{job.source.resource_arn}->{job.destination_vault_arn}")
        self._restore_kind: JobKind[RestoreJob] = JobKind(
            "PENDING", "backup_restore_time", "backup.restore", _nothing_to_do, self._table_restored, self._restore_completed,
            lambda job: f"{job.region}/{job.target_table}<-{job.recovery_point.resource_arn}@{job.recovery_point.creation}")

    # -- the state machine --------------------------------------------------------------------
    def _launch(self, job: J, kind: JobKind[J]) -> None:
        """The job waits in ``kind.waiting`` until the clock's next step, then runs."""
        self.at(job.created, lambda: self._run(job, kind), name=f"backup:start {job.job_id}")

    def _run(self, job: J, kind: JobKind[J]) -> None:
        if job.state != kind.waiting:
            return
        now = self.clock.now()
        job.state = "RUNNING"
        job.started = now
        failure = kind.begin(job)
        if failure is not None:
            self._fail(job, failure)
            return
        job.duration = self.profile.sample(self._duration_key(job, kind), stream=f"{kind.stream}:{kind.resource(job)}")
        self.at(now + job.duration, lambda: self._end(job, kind), name=f"backup:complete {job.job_id}")

    def _duration_key(self, job: Job, kind: JobKind[Any]) -> str:
        """The profile key of how long the job runs (a resource type may have its own)."""
        return kind.duration_key

    def _end(self, job: J, kind: JobKind[J]) -> None:
        if job.state != "RUNNING":
            return
        failure = kind.finish(job)
        if failure is not None:
            self._fail(job, failure)
            return
        job.state = "COMPLETED"
        job.completed = self.clock.now()
        kind.completed(job)

    def _restore_completed(self, job: RestoreJob) -> None:
        """Once a restore job is ``COMPLETED`` (restore testing validates and deletes what it made)."""

    def _fail(self, job: Job, message: str) -> None:
        job.state = "FAILED"
        job.completed = self.clock.now()
        job.status_message = message

    # -- creating jobs ------------------------------------------------------------------------
    def _create_backup_job(
        self,
        *,
        region: str,
        account: str,
        vault_name: str,
        vault_arn: str,
        resource_arn: str,
        iam_role_arn: str,
        start_window_minutes: int,
        lifecycle: dict[str, Any] | None,
        created_by: dict[str, Any],
        copy_actions: list[dict[str, Any]],
        idempotency_token: str | None = None,
    ) -> BackupJob:
        """A job in ``CREATED``; it starts at once (on the clock's next step)."""
        now = self.clock.now()
        resource = (arn_parts(resource_arn) or ["", "", "", "", "", ""])[5]
        job = BackupJob(
            job_id=self._new_id(),
            region=region,
            account=account,
            state="CREATED",
            created=now,
            iam_role_arn=iam_role_arn,
            idempotency_token=idempotency_token,
            vault_name=vault_name,
            vault_arn=vault_arn,
            resource_arn=resource_arn,
            resource_type=resource_type_of(resource_arn),
            resource_name=resource.split("/", 1)[1] if "/" in resource else resource,
            recovery_point_arn=f"arn:aws:backup:{region}:{account}:recovery-point:{self._new_id()}",
            # "StartBy ... is calculated by adding the start window to the scheduled time."
            start_by=now + 60.0 * float(start_window_minutes),
            created_by=created_by,
            lifecycle=copy.deepcopy(lifecycle) if lifecycle else None,
            copy_actions=copy.deepcopy(copy_actions),
        )
        self._backup_jobs[job.job_id] = job
        self._launch(job, self._backup_kind)
        return job

    def _create_copy_job(
        self,
        *,
        region: str,
        source: RecoveryPoint,
        destination_vault_arn: str,
        iam_role_arn: str,
        lifecycle: dict[str, Any] | None,
        created_by_backup_job_id: str | None,
        idempotency_token: str | None = None,
    ) -> CopyJob:
        now = self.clock.now()
        dest_region, dest_account, _name = vault_of(destination_vault_arn) or (region, source.account, "")
        dest_recovery_point = f"arn:aws:backup:{dest_region}:{dest_account}:recovery-point:{self._new_id()}"
        job = CopyJob(
            job_id=self._new_id(),
            region=region,
            account=source.account,
            state="CREATED",
            created=now,
            iam_role_arn=iam_role_arn,
            idempotency_token=idempotency_token,
            destination_vault_arn=destination_vault_arn,
            destination_recovery_point_arn=dest_recovery_point,
            # "If you don't specify a lifecycle, AWS Backup applies the lifecycle policy of the
            # source backup to the destination backup." ([BC:backup] CopyAction)
            lifecycle=copy.deepcopy(lifecycle) if lifecycle else source.lifecycle,
            created_by_backup_job_id=created_by_backup_job_id,
            source=source,
        )
        self._copy_jobs[job.job_id] = job
        self._launch(job, self._copy_kind)
        return job

    def _create_restore_job(self, region: str, rp: RecoveryPoint, target_table: str, iam_role_arn: str,
                            idempotency_token: str | None) -> RestoreJob:
        """A job in ``PENDING``; it starts at once (on the clock's next step)."""
        now = self.clock.now()
        job = RestoreJob(
            job_id=self._new_id(),
            region=region,
            account=rp.account,
            state="PENDING",
            created=now,
            iam_role_arn=iam_role_arn,
            idempotency_token=idempotency_token,
            recovery_point=rp,
            target_table=target_table,
        )
        self._restore_jobs[job.job_id] = job
        self._launch(job, self._restore_kind)
        return job

    # -- backup jobs --------------------------------------------------------------------------
    def _take_snapshot(self, job: BackupJob) -> str | None:
        """``RUNNING``: the table's items and description are read now (the snapshot)."""
        if job.resource_type != "DynamoDB":
            return (
                "pytest-drtest emulates AWS Backup for DynamoDB tables and S3 buckets only; "
                f"resource type {job.resource_type} is not supported"
            )
        if not self.world.region_up(job.region):
            return f"Region {job.region} is unavailable"
        if self._vault_arn(job.region, job.vault_name) is None:
            return f"Backup vault {job.vault_name} does not exist"
        try:
            table, items = self._snapshot(job.region, job.resource_name)
        except ClientError as exc:
            return f"Resource {job.resource_arn} could not be backed up: {error_message(exc)}"
        job.size = sum(item_size(item) for item in items)
        job.point = RecoveryPoint(
            arn=job.recovery_point_arn,
            region=job.region,
            account=job.account,
            vault_name=job.vault_name,
            vault_arn=job.vault_arn,
            resource_arn=job.resource_arn,
            resource_type=job.resource_type,
            resource_name=job.resource_name,
            iam_role_arn=job.iam_role_arn,
            created_by=job.created_by,
            lifecycle=job.lifecycle,
            creation=self.clock.now(),
            initiation=job.created,
            size=job.size,
            table=table,
            items=items,
        )
        self._recovery_points[job.point.arn] = job.point
        return None

    def _snapshot_kept(self, job: BackupJob) -> str | None:
        if not self.world.region_up(job.region):
            # The snapshot never left the lost Region: no recovery point survives.
            if job.point is not None:
                self._recovery_points.pop(job.point.arn, None)
            return (
                f"Region {job.region} became unavailable before the backup completed; "
                "the snapshot never left the Region"
            )
        return None

    def _publish_point(self, job: BackupJob) -> None:
        """The recovery point is ``AVAILABLE``; each ``CopyAction`` starts a copy job."""
        rp = job.point
        assert rp is not None
        rp.status = "AVAILABLE"
        rp.completion = self.clock.now()
        self._arm_expiry(rp)
        for action in job.copy_actions:
            self._create_copy_job(
                region=job.region,
                source=rp,
                destination_vault_arn=action["DestinationBackupVaultArn"],
                iam_role_arn=job.iam_role_arn,
                lifecycle=action.get("Lifecycle"),
                created_by_backup_job_id=job.job_id,
            )

    # -- copy jobs ----------------------------------------------------------------------------
    def _copy_arrived(self, job: CopyJob) -> str | None:
        destination = vault_of(job.destination_vault_arn)
        if destination is None:
            return f"Invalid destination backup vault ARN {job.destination_vault_arn}"
        dest_region, _account, dest_vault = destination
        for region in dict.fromkeys((job.source.region, dest_region)):
            if not self.world.region_up(region):
                return f"Copy failed: Region {region} became unavailable before the copy completed"
        if self._vault_arn(dest_region, dest_vault) is None:
            return f"Destination backup vault {job.destination_vault_arn} does not exist"
        return None

    def _land_copy(self, job: CopyJob) -> None:
        """The copy is a recovery point of the destination vault."""
        source = job.source
        destination = vault_of(job.destination_vault_arn)
        assert destination is not None
        dest_region, dest_account, dest_vault = destination
        # "Copies retain their source configuration, including creation dates ... The creation
        # date refers to when the source was created" (AWS Backup DG, "Copy a backup").
        copied = RecoveryPoint(
            arn=job.destination_recovery_point_arn,
            region=dest_region,
            account=dest_account,
            vault_name=dest_vault,
            vault_arn=job.destination_vault_arn,
            resource_arn=source.resource_arn,
            resource_type=source.resource_type,
            resource_name=source.resource_name,
            iam_role_arn=job.iam_role_arn,
            created_by=source.created_by,
            lifecycle=job.lifecycle,
            creation=source.creation,
            initiation=job.created,
            status="AVAILABLE",
            completion=self.clock.now(),
            size=source.size,
            source_vault_arn=source.vault_arn,
            source_recovery_point_arn=source.arn,
            table=source.table,
            items=source.items,
        )
        self._recovery_points[copied.arn] = copied
        self._arm_expiry(copied)

    # -- restore jobs -------------------------------------------------------------------------
    def _table_restored(self, job: RestoreJob) -> str | None:
        """Create the NEW table (key schema, indexes, billing mode of the snapshot) and its items."""
        if not self.world.region_up(job.region):
            return f"Region {job.region} became unavailable before the restore completed"
        dynamodb = self.backdoor(job.region, "dynamodb")
        try:
            dynamodb.describe_table(TableName=job.target_table)
        except ClientError:
            pass
        else:
            # DynamoDB RestoreTableFromBackup: TableAlreadyExistsException "Table already exists: <name>".
            return f"Table already exists: {job.target_table}"
        try:
            created = self._create_table(job.region, job.target_table, job.recovery_point)
        except (ClientError, AwsError) as exc:
            message = exc.message if isinstance(exc, AwsError) else error_message(exc)
            return f"Restore failed: {message}"
        job.created_resource_arn = created["TableArn"]
        return None

    # -- helpers ------------------------------------------------------------------------------
    def _arm_expiry(self, rp: RecoveryPoint) -> None:
        """Delete the recovery point ``DeleteAfterDays`` after its creation date ([BC:backup] Lifecycle)."""
        days = (rp.lifecycle or {}).get("DeleteAfterDays")
        if days and days > 0:

            def expire() -> None:
                self._recovery_points.pop(rp.arn, None)

            self.at(rp.creation + 86400.0 * days, expire, name=f"backup:expire {rp.arn}")

    def _snapshot(self, region: str, table_name: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        dynamodb = self.backdoor(region, "dynamodb")
        table = copy.deepcopy(dynamodb.describe_table(TableName=table_name)["Table"])
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"TableName": table_name, "ConsistentRead": True}
        while True:
            page = dynamodb.scan(**kwargs)
            items += page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return table, items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _create_table(self, region: str, name: str, rp: RecoveryPoint) -> dict[str, Any]:
        """Create table ``name`` shaped like the snapshot, holding its items; its TableDescription.

        Through the DynamoDB emulator when there is one, so that the items enter its history
        (later PITR restores and ledger checks see them); else straight into the backdoor.
        """
        dynamodb_emulator = self.emulation.services.get("dynamodb")
        if dynamodb_emulator is not None and hasattr(dynamodb_emulator, "create_table_with_items"):
            return dict(dynamodb_emulator.create_table_with_items(region, name, rp.table, rp.items))
        dynamodb = self.backdoor(region, "dynamodb")
        description = dynamodb.create_table(**create_table_params(name, rp.table))["TableDescription"]
        for start in range(0, len(rp.items), BATCH_WRITE_LIMIT):
            batch = rp.items[start : start + BATCH_WRITE_LIMIT]
            requests: dict[str, Any] = {name: [{"PutRequest": {"Item": item}} for item in batch]}
            while requests:
                requests = dynamodb.batch_write_item(RequestItems=requests).get("UnprocessedItems") or {}
        return dict(description)
