"""The AWS Backup emulator: the job APIs (moto answers them 404) over plans, schedules and points."""
from __future__ import annotations

from typing import Any

from pytest_drtest.emulation.backup.api import compact, invalid, listing
from pytest_drtest.emulation.backup.models import (
    DEFAULT_START_WINDOW_MINUTES,
    BackupJob,
    CopyJob,
    RestoreJob,
    arn_parts,
    vault_of,
)
from pytest_drtest.emulation.backup.plans import Plans
from pytest_drtest.emulation.backup.recovery_points import RecoveryPoints
from pytest_drtest.emulation.backup.restore_testing import RestoreTesting
from pytest_drtest.emulation.backup.s3 import S3Backups
from pytest_drtest.emulation.core import AwsError, Call


class BackupEmulator(RestoreTesting, S3Backups, RecoveryPoints, Plans):
    """AWS Backup jobs, recovery points, copies, restores and restore testing of DynamoDB tables and S3
    buckets, on the clock."""

    def jobs(self) -> list[dict[str, Any]]:
        """Every backup job (DescribeBackupJob shape plus ``Region``), in creation order."""
        return [{**self._describe_backup_job(job), "Region": job.region} for job in self._backup_jobs.values()]

    def copy_jobs(self) -> list[dict[str, Any]]:
        """Every copy job (CopyJob shape plus ``Region``, the source Region), in creation order."""
        return [{**self._describe_copy_job(job), "Region": job.region} for job in self._copy_jobs.values()]

    def restore_jobs(self) -> list[dict[str, Any]]:
        """Every restore job (DescribeRestoreJob shape plus ``Region``), in creation order."""
        return [{**self._describe_restore_job(job), "Region": job.region} for job in self._restore_jobs.values()]

    def close(self) -> None:
        super().close()  # cancels the jobs' steps, the expiries and the schedules
        for plan in self._plans.values():
            plan.schedules.clear()

    # -- backup jobs ------------------------------------------------------------------------
    def before_StartBackupJob(self, call: Call) -> dict[str, Any]:
        params = call.params
        token = params.get("IdempotencyToken")
        if token:
            for job in self._backup_jobs.values():
                if job.region == call.region and job.idempotency_token == token:
                    # "Retrying a successful request with the same idempotency token results
                    # in a success message with no action taken." ([BC:backup] StartBackupJob)
                    return self._start_backup_output(job)
        resource_arn = params["ResourceArn"]
        parts = arn_parts(resource_arn)
        if parts is None:
            raise invalid(f"Invalid ResourceArn {resource_arn!r}")
        if parts[3] and parts[3] != call.region:
            # The vault and the resource must be in the same Region (unverified message).
            raise invalid(f"Resource {resource_arn} is not in Region {call.region}")
        vault_arn = self._require_vault(call.region, params["BackupVaultName"])
        job = self._create_backup_job(
            region=call.region,
            account=vault_arn.split(":")[4],
            vault_name=params["BackupVaultName"],
            vault_arn=vault_arn,
            resource_arn=resource_arn,
            iam_role_arn=params["IamRoleArn"],
            start_window_minutes=params.get("StartWindowMinutes") or DEFAULT_START_WINDOW_MINUTES,
            lifecycle=params.get("Lifecycle"),
            created_by={},
            copy_actions=[],
            idempotency_token=token,
        )
        return self._start_backup_output(job)

    def before_DescribeBackupJob(self, call: Call) -> dict[str, Any]:
        return self._describe_backup_job(self._backup_job(call))

    def before_ListBackupJobs(self, call: Call) -> dict[str, Any]:
        mine = [job for job in reversed(self._backup_jobs.values()) if job.region == call.region]
        jobs = [self._describe_backup_job(job) for job in mine]
        filters = {
            "ByState": "State",
            "ByBackupVaultName": "BackupVaultName",
            "ByResourceArn": "ResourceArn",
            "ByResourceType": "ResourceType",
        }
        return listing(jobs, call.params, filters, "BackupJobs")  # newest first

    def _start_backup_output(self, job: BackupJob) -> dict[str, Any]:
        return {
            "BackupJobId": job.job_id,
            "RecoveryPointArn": job.recovery_point_arn,
            "CreationDate": self.clock.datetime(job.created),
            "IsParent": False,
        }

    def _backup_job(self, call: Call) -> BackupJob:
        job = self._backup_jobs.get(call.params["BackupJobId"])
        if job is None or job.region != call.region:
            raise AwsError("ResourceNotFoundException", f"Backup job {call.params['BackupJobId']} not found")
        return job

    def _describe_backup_job(self, job: BackupJob) -> dict[str, Any]:
        now = self.clock.now()
        return compact({
            "AccountId": job.account,
            "BackupJobId": job.job_id,
            "BackupVaultName": job.vault_name,
            "BackupVaultArn": job.vault_arn,
            "VaultType": "BACKUP_VAULT",
            "RecoveryPointArn": job.recovery_point_arn,
            "RecoveryPointLifecycle": job.lifecycle,
            "IsEncrypted": True,
            "ResourceArn": job.resource_arn,
            "CreationDate": self.clock.datetime(job.created),
            "CompletionDate": self._date(job.completed),
            "State": job.state,
            "StatusMessage": job.status_message,
            "PercentDone": job.percent_done(now),
            "BackupSizeInBytes": job.size,
            "IamRoleArn": job.iam_role_arn,
            "CreatedBy": job.created_by or None,
            "ResourceType": job.resource_type,
            "BytesTransferred": job.size if job.state == "COMPLETED" else None,
            "ExpectedCompletionDate": self._date(job.expected_completion),
            "StartBy": self.clock.datetime(job.start_by),
            "IsParent": False,
            "ResourceName": job.resource_name,
            "InitiationDate": self.clock.datetime(job.created),
        })

    # -- copy jobs --------------------------------------------------------------------------
    def before_StartCopyJob(self, call: Call) -> dict[str, Any]:
        p = call.params
        token = p.get("IdempotencyToken")
        if token:
            for job in self._copy_jobs.values():
                if job.region == call.region and job.idempotency_token == token:
                    return self._start_copy_output(job)
        rp = self._find_recovery_point(call.region, p["RecoveryPointArn"], p["SourceBackupVaultName"])
        if rp.status != "AVAILABLE":
            raise AwsError("InvalidRequestException", f"Recovery point {rp.arn} is not AVAILABLE (status {rp.status})")
        if vault_of(p["DestinationBackupVaultArn"]) is None:
            raise invalid(f"Invalid DestinationBackupVaultArn {p['DestinationBackupVaultArn']!r}")
        job = self._create_copy_job(
            region=call.region,
            source=rp,
            destination_vault_arn=p["DestinationBackupVaultArn"],
            iam_role_arn=p["IamRoleArn"],
            lifecycle=p.get("Lifecycle"),
            created_by_backup_job_id=None,
            idempotency_token=token,
        )
        return self._start_copy_output(job)

    def before_DescribeCopyJob(self, call: Call) -> dict[str, Any]:
        job = self._copy_jobs.get(call.params["CopyJobId"])
        if job is None or job.region != call.region:
            raise AwsError("ResourceNotFoundException", f"Copy job {call.params['CopyJobId']} not found")
        return {"CopyJob": self._describe_copy_job(job)}

    def before_ListCopyJobs(self, call: Call) -> dict[str, Any]:
        jobs = [self._describe_copy_job(job) for job in reversed(self._copy_jobs.values()) if job.region == call.region]
        filters = {
            "ByState": "State",
            "ByResourceArn": "ResourceArn",
            "ByResourceType": "ResourceType",
            "ByDestinationVaultArn": "DestinationBackupVaultArn",
            "BySourceRecoveryPointArn": "SourceRecoveryPointArn",
        }
        return listing(jobs, call.params, filters, "CopyJobs")

    def _start_copy_output(self, job: CopyJob) -> dict[str, Any]:
        return {"CopyJobId": job.job_id, "CreationDate": self.clock.datetime(job.created), "IsParent": False}

    def _describe_copy_job(self, job: CopyJob) -> dict[str, Any]:
        source = job.source
        return compact({
            "AccountId": job.account,
            "CopyJobId": job.job_id,
            "SourceBackupVaultArn": source.vault_arn,
            "SourceRecoveryPointArn": source.arn,
            "DestinationBackupVaultArn": job.destination_vault_arn,
            "DestinationVaultType": "BACKUP_VAULT",
            "DestinationRecoveryPointArn": job.destination_recovery_point_arn,
            "DestinationRecoveryPointLifecycle": job.lifecycle,
            "ResourceArn": source.resource_arn,
            "CreationDate": self.clock.datetime(job.created),
            "CompletionDate": self._date(job.completed),
            "State": job.state,
            "StatusMessage": job.status_message,
            "BackupSizeInBytes": source.size,
            "IamRoleArn": job.iam_role_arn,
            "CreatedBy": source.created_by or None,
            "CreatedByBackupJobId": job.created_by_backup_job_id,
            "ResourceType": source.resource_type,
            "IsParent": False,
            "ResourceName": source.resource_name,
        })

    # -- restore jobs -----------------------------------------------------------------------
    def before_StartRestoreJob(self, call: Call) -> dict[str, Any]:
        p = call.params
        token = p.get("IdempotencyToken")
        if token:
            for job in self._restore_jobs.values():
                if job.region == call.region and job.idempotency_token == token:
                    return {"RestoreJobId": job.job_id}
        rp = self._find_recovery_point(call.region, p["RecoveryPointArn"])
        if rp.status != "AVAILABLE":
            raise AwsError("InvalidRequestException", f"Recovery point {rp.arn} is not AVAILABLE (status {rp.status})")
        metadata = {str(k): str(v) for k, v in (p.get("Metadata") or {}).items()}
        if rp.resource_type == "S3":
            job = self._start_s3_restore(call, rp, token)
        else:
            target = metadata.get("targetTableName")
            if not target:
                raise invalid("Metadata must hold targetTableName, the name of the new table")
            job = self._create_restore_job(call.region, rp, target, p.get("IamRoleArn") or rp.iam_role_arn, token)
        job.metadata = metadata
        return {"RestoreJobId": job.job_id}

    def before_GetRestoreJobMetadata(self, call: Call) -> dict[str, Any]:
        """The metadata the job restores with: StartRestoreJob's, or what restore testing inferred."""
        job = self._restore_jobs.get(call.params["RestoreJobId"])
        if job is None or job.region != call.region:
            raise AwsError("ResourceNotFoundException", f"Restore job {call.params['RestoreJobId']} not found")
        return {"RestoreJobId": job.job_id, "Metadata": dict(job.metadata)}

    def before_DescribeRestoreJob(self, call: Call) -> dict[str, Any]:
        job = self._restore_jobs.get(call.params["RestoreJobId"])
        if job is None or job.region != call.region:
            raise AwsError("ResourceNotFoundException", f"Restore job {call.params['RestoreJobId']} not found")
        return self._describe_restore_job(job)

    def before_ListRestoreJobs(self, call: Call) -> dict[str, Any]:
        mine = [job for job in reversed(self._restore_jobs.values()) if job.region == call.region]
        jobs = [self._describe_restore_job(job) for job in mine]
        filters = {"ByStatus": "Status", "ByResourceType": "ResourceType",
                   "ByRestoreTestingPlanArn": "CreatedBy.RestoreTestingPlanArn"}
        return listing(jobs, call.params, filters, "RestoreJobs")

    def _describe_restore_job(self, job: RestoreJob) -> dict[str, Any]:
        rp = job.recovery_point
        return compact({
            "AccountId": job.account,
            "RestoreJobId": job.job_id,
            "RecoveryPointArn": rp.arn,
            "SourceResourceArn": rp.resource_arn,
            "BackupVaultArn": rp.vault_arn,
            "CreationDate": self.clock.datetime(job.created),
            "CompletionDate": self._date(job.completed),
            "Status": job.state,
            "StatusMessage": job.status_message,
            "PercentDone": job.percent_done(self.clock.now()),
            "BackupSizeInBytes": rp.size,
            "IamRoleArn": job.iam_role_arn,
            "ExpectedCompletionTimeMinutes": round(job.duration / 60) if job.duration else None,
            "CreatedResourceArn": job.created_resource_arn,
            "ResourceType": rp.resource_type,
            "RecoveryPointCreationDate": self.clock.datetime(rp.creation),
            "IsParent": False,
            **self._restore_test_fields(job),
        })
