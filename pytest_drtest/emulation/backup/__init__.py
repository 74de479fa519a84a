"""AWS Backup for DynamoDB tables and S3 buckets: selections, scheduled jobs, recovery points, copies, restores.

moto 5.2.5 stores backup vaults and plans (``CopyActions`` echoed) and nothing else: selections
raise NotImplementedError, ``UpdateBackupPlan`` too, and jobs, recovery points, copy and restore
jobs answer 404. This emulator answers those operations itself (in ``before_`` hooks, with the
response shapes of botocore's ``backup/2018-11-15`` model, [BC:backup]) and runs the jobs on the
clock:

* a rule of a plan with selections starts a backup job per selected table at each time of its
  ``ScheduleExpression`` (AWS cron, UTC unless ``ScheduleExpressionTimezone``) (``schedules``,
  ``plans``);
* one state machine runs every job (``jobs``): a backup job is ``CREATED`` -> ``RUNNING`` ->
  ``COMPLETED`` (or ``FAILED``), the table read when it starts and its recovery point
  ``CREATING`` then ``AVAILABLE``; a completed job starts one copy job per ``CopyAction``, whose
  copy lands in the destination vault only when it completes and fails if either Region is lost
  by then — this is what decides the RPO of a backup & restore strategy; a restore job is
  ``PENDING`` -> ``RUNNING`` -> ``COMPLETED`` and creates a NEW table holding exactly the recovery
  point's items;
* vaults and recovery points answer in clock time (``recovery_points``); the job APIs are in
  ``responses``;
* S3 buckets (``s3``): snapshot backups and one continuous (point-in-time) recovery point per
  bucket, restored into a new or an existing bucket;
* restore testing (``restore_testing``): plans and selections that restore a chosen recovery point
  on their schedule, wait for ``PutRestoreValidationResult`` and delete the restored table after
  the validation (or its window).
"""
from __future__ import annotations

from pytest_drtest.emulation.backup.jobs import JobKind
from pytest_drtest.emulation.backup.responses import BackupEmulator
from pytest_drtest.emulation.backup.schedules import (
    DEFAULT_SCHEDULE,
    DEFAULT_TIMEZONE,
    BackupSchedule,
)

__all__ = ["DEFAULT_SCHEDULE", "DEFAULT_TIMEZONE", "BackupEmulator", "BackupSchedule", "JobKind"]
