"""Automated backups of DB instances: the restorable window, and the automated snapshots' names.

[RDS-UG:USER_PIT]: an instance restores to any time from its earliest restorable time, no older
than its ``BackupRetentionPeriod`` (0 turns automated backups off), to its
``LatestRestorableTime``. [BC:rds] DescribeDBInstanceAutomatedBackups reports that window as
``RestoreWindow`` (``EarliestTime``, ``LatestTime``) per instance, with ``Status`` ``creating``
until the first backup, then ``active``; ``DBInstance`` itself has ``LatestRestorableTime``
only. moto answers an identifier and a status. moto names the automated snapshot after the wall
clock; the emulation shows the clock's ``rds:<instance>-YYYY-MM-DD-HH-MM`` and translates that
name back where a caller gives it.
"""
from __future__ import annotations

from typing import Any

import botocore.exceptions

from pytest_drtest.emulation.core import AwsError, Call
from pytest_drtest.emulation.rds.base import RdsInstanceBase
from pytest_drtest.emulation.rds.models import DbInstance, automated_backups_arn


class AutomatedBackups(RdsInstanceBase):
    """``DescribeDBInstanceAutomatedBackups``, ``BackupRetentionPeriod``, automated snapshot names."""

    # -- an automated snapshot named by its clock-dated name (see core.Emulation) ---------------
    def _translate(self, params: dict[str, Any], region: str, member: str) -> None:
        if isinstance(params.get(member), str):
            params[member] = self._moto_snapshot_name(region, params[member])

    def translate_DescribeDBSnapshots(self, params: dict[str, Any], region: str) -> None:
        self._translate(params, region, "DBSnapshotIdentifier")

    translate_RestoreDBInstanceFromDBSnapshot = translate_DescribeDBSnapshots
    translate_DeleteDBSnapshot = translate_DescribeDBSnapshots
    translate_DescribeDBSnapshotAttributes = translate_DescribeDBSnapshots
    translate_ModifyDBSnapshotAttribute = translate_DescribeDBSnapshots

    def translate_CopyDBSnapshot(self, params: dict[str, Any], region: str) -> None:
        self._translate(params, region, "SourceDBSnapshotIdentifier")

    # -- the retention period -----------------------------------------------------------------
    def _set_retention(self, inst: DbInstance, days: int) -> None:
        """A new ``BackupRetentionPeriod``: 0 turns automated backups off and drops them (no PITR);
        turning them back on starts a new window at the first backup, now
        ([RDS-UG:USER_WorkingWithAutomatedBackups]; the reboot such a change causes is not modeled)."""
        if days <= 0:
            inst.earliest_restorable = None
        elif inst.retention_days <= 0 and inst.source is None and inst.status != "creating":
            inst.earliest_restorable = self.clock.now()
        inst.retention_days = max(0, days)

    # -- DescribeDBInstanceAutomatedBackups --------------------------------------------------------
    def before_DescribeDBInstanceAutomatedBackups(self, call: Call) -> dict[str, Any] | None:
        params, region = call.params, call.region
        named = {key: params[key] for key in ("DBInstanceIdentifier", "DbiResourceId", "DBInstanceAutomatedBackupsArn")
                 if params.get(key)}
        ours = [inst for inst in self._instances.values() if inst.region == region and self._has_backups(inst)]
        rows = [self._automated_backup(inst) for inst in ours]
        # identifiers and resource ids are not case-sensitive ([BC:rds])
        rows = [row for row in rows if all(str(row.get(key)).lower() == str(value).lower() for key, value in named.items())]
        rows = [row for row in rows if _matches_filters(row, params.get("Filters") or [])]
        if named and not rows:
            if any(inst.ident == params.get("DBInstanceIdentifier") for inst in self._instances.values()
                   if inst.region == region):
                raise AwsError("DBInstanceAutomatedBackupNotFound",
                               f"No automated backup found for DB instance {params['DBInstanceIdentifier']}.", 404)
            return None  # not one of ours: moto answers
        if not named:
            mine = {inst.ident for inst in self._instances.values() if inst.region == region}
            try:
                theirs = self.backdoor(region).describe_db_instance_automated_backups()["DBInstanceAutomatedBackups"]
            except botocore.exceptions.ClientError:
                theirs = []
            rows += [row for row in theirs if row.get("DBInstanceIdentifier") not in mine]
        return {"DBInstanceAutomatedBackups": rows}

    def _has_backups(self, inst: DbInstance) -> bool:
        """Automated backups exist: a live instance that is not a read replica, retention above 0."""
        return not inst.deleted and inst.source is None and inst.retention_days > 0

    def _automated_backup(self, inst: DbInstance) -> dict[str, Any]:
        """A ``DBInstanceAutomatedBackup`` of the instance ([BC:rds] DBInstanceAutomatedBackup)."""
        clock = self.clock
        row: dict[str, Any] = {
            "DBInstanceArn": inst.arn,
            "DbiResourceId": inst.dbi_resource_id,
            "Region": inst.region,
            "DBInstanceIdentifier": inst.ident,
            "Status": "creating",
            "Port": inst.endpoint.port,
            "AvailabilityZone": inst.az,
            "InstanceCreateTime": clock.datetime(inst.created_at),
            "MasterUsername": inst.master_user,
            "Engine": "postgres",
            "BackupRetentionPeriod": inst.retention_days,
            "DBInstanceAutomatedBackupsArn": automated_backups_arn(inst.region, inst.dbi_resource_id),
            "Encrypted": False,
            "IAMDatabaseAuthenticationEnabled": False,
        }
        window = self._restore_window(inst) if inst.status != "creating" else None
        if window is not None:
            row["Status"] = "active"
            row["RestoreWindow"] = {"EarliestTime": clock.datetime(window[0]), "LatestTime": clock.datetime(window[1])}
        return row


def _matches_filters(row: dict[str, Any], filters: list[dict[str, Any]]) -> bool:
    """[BC:rds] DescribeDBInstanceAutomatedBackups filters: ``status``, ``db-instance-id`` (identifiers
    or ARNs), ``dbi-resource-id``."""
    for entry in filters:
        values = set(entry.get("Values") or [])
        name = entry.get("Name")
        if name == "status" and row["Status"] not in values:
            return False
        if name == "db-instance-id" and not values & {row["DBInstanceIdentifier"], row["DBInstanceArn"]}:
            return False
        if name == "dbi-resource-id" and row["DbiResourceId"] not in values:
            return False
    return True
