"""The state the AWS Backup emulator keeps, and the lookups every part of it uses."""
from __future__ import annotations

import base64
import datetime as _dt
import itertools
import uuid

from botocore.exceptions import ClientError

from pytest_drtest.emulation.backup.models import (
    ID_NAMESPACE,
    BackupJob,
    CopyJob,
    Plan,
    RecoveryPoint,
    RestoreJob,
)
from pytest_drtest.emulation.core import AwsError, Emulation, ServiceEmulator


class BackupBase(ServiceEmulator):
    """Plans, vaults' creation times, recovery points and jobs, by id; ids made deterministic."""

    service = "backup"

    def __init__(self, emulation: Emulation) -> None:
        super().__init__(emulation)
        self._ids = itertools.count(1)
        self._plans: dict[str, Plan] = {}
        self._plan_created: dict[str, float] = {}
        self._plan_deleted: dict[str, float] = {}
        self._vault_created: dict[tuple[str, str], float] = {}
        self._recovery_points: dict[str, RecoveryPoint] = {}  # ARN -> recovery point
        self._backup_jobs: dict[str, BackupJob] = {}
        self._copy_jobs: dict[str, CopyJob] = {}
        self._restore_jobs: dict[str, RestoreJob] = {}

    def _new_id(self) -> str:
        """A uuid-shaped id, deterministic from a counter (same calls, same ids)."""
        return str(uuid.uuid5(ID_NAMESPACE, str(next(self._ids)))).upper()

    def _new_version_id(self) -> str:
        return base64.b64encode(str(uuid.uuid5(ID_NAMESPACE, f"v{next(self._ids)}")).encode()).decode()

    def _date(self, t: float | None) -> _dt.datetime | None:
        return None if t is None else self.clock.datetime(t)

    def _vault_arn(self, region: str, name: str) -> str | None:
        try:
            return str(self.backdoor(region).describe_backup_vault(BackupVaultName=name)["BackupVaultArn"])
        except ClientError:
            return None

    def _require_vault(self, region: str, name: str) -> str:
        arn = self._vault_arn(region, name)
        if arn is None:
            raise AwsError("ResourceNotFoundException", f"Backup vault {name} does not exist in {region}")
        return arn

    def _find_recovery_point(self, region: str, arn: str, vault_name: str | None = None) -> RecoveryPoint:
        rp = self._recovery_points.get(arn)
        if rp is None or rp.region != region or (vault_name is not None and rp.vault_name != vault_name):
            raise AwsError("ResourceNotFoundException", f"Recovery point {arn} not found")
        return rp
