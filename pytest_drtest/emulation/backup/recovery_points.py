"""Vaults and the recovery points in them, answered in clock time.

Recovery points are modeled as *advanced* DynamoDB backups (ARNs ``arn:aws:backup:...:
recovery-point:<id>``): cross-Region copy of DynamoDB backups requires them ("AWS Backup Developer
Guide, Advanced DynamoDB backup"). Vault reads keep coming from moto; their dates are rewritten to
clock datetimes and ``NumberOfRecoveryPoints`` to this emulator's count.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pytest_drtest.emulation.backup.api import compact, listing, paged
from pytest_drtest.emulation.backup.base import BackupBase
from pytest_drtest.emulation.backup.models import RecoveryPoint
from pytest_drtest.emulation.core import AwsError, Call


class RecoveryPoints(BackupBase):
    """Vault handlers and ``ListRecoveryPoints*``/``DescribeRecoveryPoint``/``DeleteRecoveryPoint``."""

    def recovery_points(self, vault_region: str, vault_name: str) -> list[dict[str, Any]]:
        """AVAILABLE recovery points of a vault, oldest first (clock datetimes, plus
        ``SnapshotTime``: the clock seconds at which the data was read)."""
        points = [
            rp for rp in self._recovery_points.values()
            if rp.region == vault_region and rp.vault_name == vault_name and rp.status == "AVAILABLE"
        ]
        return [self._record(rp) for rp in sorted(points, key=lambda rp: (rp.creation, rp.arn))]

    def latest_recovery_point(self, region: str, vault: str) -> dict[str, Any] | None:
        """The newest AVAILABLE recovery point of a vault (by snapshot time), or None."""
        points = self.recovery_points(region, vault)
        return points[-1] if points else None

    # -- vaults (moto answers; dates and counts rewritten) ------------------------------------
    def after_CreateBackupVault(self, call: Call) -> None:
        self._vault_created[(call.region, call.params["BackupVaultName"])] = self.clock.now()
        self._rewrite_vault(call.region, call.parsed or {}, counted=False)  # CreateBackupVaultOutput has no count

    def after_DescribeBackupVault(self, call: Call) -> None:
        self._rewrite_vault(call.region, call.parsed or {})

    def after_ListBackupVaults(self, call: Call) -> None:
        for vault in (call.parsed or {}).get("BackupVaultList", []):
            self._rewrite_vault(call.region, vault)

    def before_DeleteBackupVault(self, call: Call) -> dict[str, Any] | None:
        name = call.params["BackupVaultName"]
        if any(rp.region == call.region and rp.vault_name == name for rp in self._recovery_points.values()):
            # AWS Backup API: DeleteBackupVault — "the vault must be empty".
            raise AwsError(
                "InvalidRequestException", "Backup vault cannot be deleted because it contains recovery points"
            )
        self._vault_created.pop((call.region, name), None)
        return None

    def _rewrite_vault(self, region: str, vault: dict[str, Any], *, counted: bool = True) -> None:
        name = vault.get("BackupVaultName")
        created = self._vault_created.get((region, name or ""))
        if created is not None:
            vault["CreationDate"] = self.clock.datetime(created)
        if counted and "BackupVaultArn" in vault:
            vault["NumberOfRecoveryPoints"] = sum(
                1 for rp in self._recovery_points.values() if rp.vault_arn == vault["BackupVaultArn"]
            )

    # -- recovery points --------------------------------------------------------------------
    def before_ListRecoveryPointsByBackupVault(self, call: Call) -> dict[str, Any]:
        vault = call.params["BackupVaultName"]
        self._require_vault(call.region, vault)
        in_vault = self._points(call.region, lambda rp: rp.vault_name == vault)
        points = [self._describe_recovery_point(rp) for rp in in_vault]
        filters = {
            "ByResourceArn": "ResourceArn",
            "ByResourceType": "ResourceType",
            "ByBackupPlanId": "CreatedBy.BackupPlanId",
        }
        return listing(points, call.params, filters, "RecoveryPoints")

    def before_ListRecoveryPointsByResource(self, call: Call) -> dict[str, Any]:
        resource = call.params["ResourceArn"]
        listed = [
            compact({
                "RecoveryPointArn": rp.arn,
                "CreationDate": self.clock.datetime(rp.creation),
                "Status": rp.status,
                "BackupSizeBytes": rp.size,
                "BackupVaultName": rp.vault_name,
                "IsParent": False,
                "ResourceName": rp.resource_name,
                "VaultType": "BACKUP_VAULT",
            })
            for rp in self._points(call.region, lambda rp: rp.resource_arn == resource)
        ]
        return paged(listed, call.params, "RecoveryPoints")

    def before_DescribeRecoveryPoint(self, call: Call) -> dict[str, Any]:
        rp = self._find_recovery_point(call.region, call.params["RecoveryPointArn"], call.params["BackupVaultName"])
        return {**self._describe_recovery_point(rp), "StorageClass": "WARM"}

    def before_DeleteRecoveryPoint(self, call: Call) -> dict[str, Any]:
        rp = self._find_recovery_point(call.region, call.params["RecoveryPointArn"], call.params["BackupVaultName"])
        if rp.status == "CREATING":
            raise AwsError("InvalidResourceStateException", f"Recovery point {rp.arn} is being created")
        del self._recovery_points[rp.arn]
        return {}

    def before_GetRecoveryPointRestoreMetadata(self, call: Call) -> dict[str, Any]:
        rp = self._find_recovery_point(call.region, call.params["RecoveryPointArn"], call.params["BackupVaultName"])
        return {
            "BackupVaultArn": rp.vault_arn,
            "RecoveryPointArn": rp.arn,
            # AWS Backup DG "Restore a DynamoDB table": the new table's name is targetTableName.
            "RestoreMetadata": {"targetTableName": rp.resource_name},
            "ResourceType": rp.resource_type,
        }

    def _describe_recovery_point(self, rp: RecoveryPoint) -> dict[str, Any]:
        lifecycle = rp.lifecycle or {}
        calculated = compact({
            "MoveToColdStorageAt": self.clock.datetime(rp.creation + 86400.0 * lifecycle["MoveToColdStorageAfterDays"])
            if lifecycle.get("MoveToColdStorageAfterDays", 0) > 0 else None,
            "DeleteAt": self.clock.datetime(rp.creation + 86400.0 * lifecycle["DeleteAfterDays"])
            if lifecycle.get("DeleteAfterDays", 0) > 0 else None,
        })
        return compact({
            "RecoveryPointArn": rp.arn,
            "BackupVaultName": rp.vault_name,
            "BackupVaultArn": rp.vault_arn,
            "SourceBackupVaultArn": rp.source_vault_arn,
            "ResourceArn": rp.resource_arn,
            "ResourceType": rp.resource_type,
            "CreatedBy": rp.created_by or None,
            "IamRoleArn": rp.iam_role_arn,
            "Status": rp.status,
            "CreationDate": self.clock.datetime(rp.creation),
            "InitiationDate": self.clock.datetime(rp.initiation),
            "CompletionDate": self._date(rp.completion),
            "BackupSizeInBytes": rp.size,
            "CalculatedLifecycle": calculated or None,
            "Lifecycle": rp.lifecycle,
            "IsEncrypted": True,
            "IsParent": False,
            "ResourceName": rp.resource_name,
            "VaultType": "BACKUP_VAULT",
        })

    def _record(self, rp: RecoveryPoint) -> dict[str, Any]:
        """The harness's view of a recovery point: the API shape plus where its data comes from."""
        return {
            **self._describe_recovery_point(rp),
            "Region": rp.region,
            "SourceRecoveryPointArn": rp.source_recovery_point_arn,
            "SnapshotTime": rp.creation,
            "ItemCount": len(rp.items),
        }

    def _points(self, region: str, keep: Callable[[RecoveryPoint], bool]) -> list[RecoveryPoint]:
        """Recovery points of ``region`` that ``keep`` accepts, newest first (AWS leaves the order open)."""
        points = [rp for rp in self._recovery_points.values() if rp.region == region and keep(rp)]
        return sorted(points, key=lambda rp: (rp.creation, rp.arn), reverse=True)
