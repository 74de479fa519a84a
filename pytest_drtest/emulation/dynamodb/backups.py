"""On-demand backups: clock times, the source's billing mode, restores that take time.

moto's ``CreateBackup``/``RestoreTableFromBackup`` are true snapshots; what it lacks is clock
time (it stamps wall time) and the billing mode of the source on the restored table ("DynamoDB
Developer Guide, Point-in-time recovery: how it works": billing mode and capacity are carried over).
"""
from __future__ import annotations

from typing import Any

from botocore.utils import parse_to_aware_datetime

from pytest_drtest.emulation.core import AwsError, Call
from pytest_drtest.emulation.dynamodb.models import BackupRecord, table_name_of
from pytest_drtest.emulation.dynamodb.tables import DynamoDbTables


class OnDemandBackups(DynamoDbTables):
    """``CreateBackup``, ``DescribeBackup``, ``ListBackups``, ``RestoreTableFromBackup`` on the clock."""

    def record_backup(self, region: str, backup_arn: str, table: str, t: float | None = None) -> None:
        """Remember that ``backup_arn`` of ``table`` was taken at clock time ``t`` (default: now).

        For backups made through the backdoor (e.g. by the AWS Backup emulator): their
        ``BackupCreationDateTime`` is then reported on the clock, as for the callers' backups.
        """
        source = self._client(region).describe_table(TableName=table)["Table"]
        state = self._tables.get((region, table_name_of(table)))
        self._backups[backup_arn] = BackupRecord(
            created_at=self.clock.now() if t is None else t,
            table_created_at=state.created_at if state is not None else None,
            billing_mode=(source.get("BillingModeSummary") or {}).get("BillingMode") or "PROVISIONED",
            throughput=source.get("ProvisionedThroughput") or {},
        )

    def before_CreateBackup(self, call: Call) -> None:
        # [BC:dynamodb] CreateBackup: TableInUseException while the table is being created.
        if self._restoring_state(call.region, call.params["TableName"]) is not None:
            raise AwsError("TableInUseException", f"Table is being created: {call.params['TableName']}")

    def after_CreateBackup(self, call: Call) -> None:
        assert call.parsed is not None
        details = call.parsed["BackupDetails"]
        self.record_backup(call.region, details["BackupArn"], call.params["TableName"])
        self._backup_time(details)

    def after_DescribeBackup(self, call: Call) -> None:
        assert call.parsed is not None
        self._rewrite_backup_description(call.parsed["BackupDescription"])

    def after_DeleteBackup(self, call: Call) -> None:
        assert call.parsed is not None
        self._rewrite_backup_description(call.parsed["BackupDescription"])

    def before_ListBackups(self, call: Call) -> dict[str, Any]:
        """Answered here so that the time-range filter uses clock times, not moto's wall clock."""
        params = {k: v for k, v in call.params.items() if k not in ("TimeRangeLowerBound", "TimeRangeUpperBound")}
        parsed: dict[str, Any] = self._client(call.region).list_backups(**params)
        parsed.pop("ResponseMetadata", None)
        lower = call.params.get("TimeRangeLowerBound")
        upper = call.params.get("TimeRangeUpperBound")
        kept = []
        for summary in parsed.get("BackupSummaries", []):
            self._backup_time(summary)
            created = summary["BackupCreationDateTime"]
            if lower is not None and created < parse_to_aware_datetime(lower):
                continue
            if upper is not None and created > parse_to_aware_datetime(upper):
                continue
            kept.append(summary)
        parsed["BackupSummaries"] = kept
        return parsed

    def before_RestoreTableFromBackup(self, call: Call) -> None:
        if self._restoring_state(call.region, call.params["TargetTableName"]) is not None:
            raise AwsError("TableInUseException", f"Table is being created: {call.params['TargetTableName']}")

    def after_RestoreTableFromBackup(self, call: Call) -> None:
        """moto restored the snapshot: add the billing mode, the history and the CREATING period."""
        assert call.parsed is not None
        description = call.parsed["TableDescription"]
        target = description["TableName"]
        backup_arn = call.params["BackupArn"]
        backup = self._backups.get(backup_arn)
        # The billing mode is carried over or overridden ([DDB-DG:PointInTimeRecovery_Howitworks]); moto drops it.
        billing = call.params.get("BillingModeOverride") or (backup.billing_mode if backup else None)
        if billing and billing != (description.get("BillingModeSummary") or {}).get("BillingMode"):
            update: dict[str, Any] = {"TableName": target, "BillingMode": billing}
            if billing == "PROVISIONED":
                source = call.params.get("ProvisionedThroughputOverride") or (backup.throughput if backup else {})
                update["ProvisionedThroughput"] = {
                    "ReadCapacityUnits": max(1, int(source.get("ReadCapacityUnits") or 0)),
                    "WriteCapacityUnits": max(1, int(source.get("WriteCapacityUnits") or 0)),
                }
            self._client(call.region).update_table(**update)
            summary_from_moto = description.get("RestoreSummary")
            description.clear()
            description.update(self._client(call.region).describe_table(TableName=target)["Table"])
            if summary_from_moto is not None:
                description["RestoreSummary"] = summary_from_moto
        self._forget_table(call.region, target)
        state = self._new_state(call.region, target, description["KeySchema"], created_at=self.clock.now())
        for item in self._scan(call.region, target):
            self._record(state, item, origin="restore", source_region=call.region)
        moto_summary = description.get("RestoreSummary") or {}
        summary: dict[str, Any] = {"SourceBackupArn": backup_arn}
        if moto_summary.get("SourceTableArn"):
            summary["SourceTableArn"] = moto_summary["SourceTableArn"]
        summary["RestoreDateTime"] = (
            self.clock.datetime(backup.created_at) if backup else moto_summary.get("RestoreDateTime")
        )
        self._start_restore(call.region, target, self._restore_duration(call.region, target, summary), summary)
        self._decorate(call.region, description)

    def _backup_time(self, details: dict[str, Any]) -> None:
        backup = self._backups.get(details.get("BackupArn", ""))
        if backup is not None:
            details["BackupCreationDateTime"] = self.clock.datetime(backup.created_at)

    def _rewrite_backup_description(self, description: dict[str, Any]) -> None:
        details = description.get("BackupDetails", {})
        self._backup_time(details)
        backup = self._backups.get(details.get("BackupArn", ""))
        source = description.get("SourceTableDetails")
        if backup is not None and source is not None:
            source["BillingMode"] = backup.billing_mode
            if backup.table_created_at is not None:
                source["TableCreationDateTime"] = self.clock.datetime(backup.table_created_at)
