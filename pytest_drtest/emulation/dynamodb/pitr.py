"""Point-in-time recovery: the restorable window and restores into a NEW table as of a time.

"DynamoDB Developer Guide, Point-in-time recovery: how it works": the window starts when PITR is
enabled (again), reaches back at most ``RecoveryPeriodInDays`` (default 35), and its latest point
is about five minutes before now; a restore never overwrites, it creates a new table without PITR,
streams, TTL or tags. moto copies the current items and ignores the time.
"""
from __future__ import annotations

import datetime as _dt
from typing import Any

from botocore.utils import parse_to_aware_datetime

from pytest_drtest.emulation.core import AwsError, Call
from pytest_drtest.emulation.dynamodb.models import (
    DEFAULT_RECOVERY_PERIOD_DAYS,
    TableState,
    arn_region,
    create_table_params,
    table_name_of,
)
from pytest_drtest.emulation.dynamodb.tables import DynamoDbTables


class PointInTimeRecovery(DynamoDbTables):
    """``UpdateContinuousBackups``/``DescribeContinuousBackups`` in clock time, ``RestoreTableToPointInTime``."""

    def before_UpdateContinuousBackups(self, call: Call) -> None:
        # Backups cannot be enabled until the table is ACTIVE ([BC:dynamodb] UpdateContinuousBackups).
        if self._restoring_state(call.region, call.params["TableName"]) is not None:
            raise AwsError(
                "ContinuousBackupsUnavailableException", "Backups are being enabled for the table. Please retry later"
            )

    def after_UpdateContinuousBackups(self, call: Call) -> None:
        assert call.parsed is not None
        table = table_name_of(call.params["TableName"])
        spec = call.params["PointInTimeRecoverySpecification"]
        state = self._state(call.region, table)
        if state is not None:
            if spec.get("PointInTimeRecoveryEnabled"):
                # Re-enabling after a disable restarts the window ([DDB-DG:PointInTimeRecovery_Howitworks]).
                if state.pitr_enabled_at is None:
                    state.pitr_enabled_at = self.clock.now()
                if "RecoveryPeriodInDays" in spec:
                    state.pitr_period_days = int(spec["RecoveryPeriodInDays"])
            else:
                state.pitr_enabled_at = None
                state.pitr_period_days = DEFAULT_RECOVERY_PERIOD_DAYS
        self._rewrite_continuous_backups(call.region, table, call.parsed)

    def after_DescribeContinuousBackups(self, call: Call) -> None:
        assert call.parsed is not None
        self._rewrite_continuous_backups(call.region, table_name_of(call.params["TableName"]), call.parsed)

    def before_RestoreTableToPointInTime(self, call: Call) -> dict[str, Any]:
        """Answered here, never by moto (which copies the current items): [BC:dynamodb] RestoreTableToPointInTime."""
        params = call.params
        target = params["TargetTableName"]
        if ("SourceTableArn" in params) == ("SourceTableName" in params):
            raise AwsError("ValidationException", "Exactly one of SourceTableArn and SourceTableName must be given")
        has_time = params.get("RestoreDateTime") is not None
        use_latest = bool(params.get("UseLatestRestorableTime"))
        if has_time == use_latest:
            # Both or neither time option: the API reference names no code for it (ValidationException assumed).
            raise AwsError(
                "ValidationException", "Exactly one of RestoreDateTime and UseLatestRestorableTime must be given"
            )
        if "SourceTableArn" in params:
            source_region, source_name = arn_region(params["SourceTableArn"]), table_name_of(params["SourceTableArn"])
        else:
            source_region, source_name = call.region, params["SourceTableName"]
        if not self.world.region_up(source_region):
            # Cross-region restore from a lost region: its backups cannot be reached (code unverified).
            raise AwsError(
                "TableNotFoundException",
                f"Source table not reachable: {source_name} in {source_region} (region unavailable)",
            )
        state = self._state(source_region, source_name)
        if state is None:
            raise AwsError("TableNotFoundException", f"Table not found: {source_name}")
        if self._restoring_state(call.region, target) is not None:
            raise AwsError("TableInUseException", f"Table is being created: {target}")
        if self._table_exists(call.region, target):
            raise AwsError("TableAlreadyExistsException", f"Table already exists: {target}")
        moto_pitr = self._client(source_region).describe_continuous_backups(TableName=source_name)[
            "ContinuousBackupsDescription"
        ]
        self._sync_pitr(state, (moto_pitr.get("PointInTimeRecoveryDescription") or {}).get("PointInTimeRecoveryStatus"))
        if state.pitr_enabled_at is None:
            raise AwsError(
                "PointInTimeRecoveryUnavailableException",
                f"Point in time recovery is not enabled for table '{source_name}'",
            )
        earliest, latest = self._window(state)
        if use_latest:
            restore_at = latest
        else:
            when = params["RestoreDateTime"]
            if isinstance(when, (int, float)):
                when = _dt.datetime.fromtimestamp(when, _dt.UTC)
            # [BC:dynamodb]: the restore point is to the second.
            restore_at = self._to_second(self.clock.seconds_at(parse_to_aware_datetime(when)))
            if not earliest <= restore_at <= latest:
                raise AwsError(
                    "InvalidRestoreTimeException",
                    f"Restore time {self.clock.datetime(restore_at).isoformat()} is outside the restorable window "
                    f"[{self.clock.datetime(earliest).isoformat()}, {self.clock.datetime(latest).isoformat()}]",
                )
        source = self._client(source_region).describe_table(TableName=source_name)["Table"]
        # A new table, never in place; PITR off, streams/TTL/tags not restored ([BC:dynamodb]).
        self._create_table(
            call.region,
            create_table_params(target, source, params),
            self.items_as_of(source_region, source_name, restore_at),
            origin="restore",
        )
        summary = {"SourceTableArn": source["TableArn"], "RestoreDateTime": self.clock.datetime(restore_at)}
        self._start_restore(call.region, target, self._restore_duration(call.region, target, summary), summary)
        return {"TableDescription": self._describe(call.region, target)}

    # -- the window -------------------------------------------------------------------------
    def _latest_lag(self, state: TableState) -> float:
        key = (state.region, state.name)
        if key not in self._pitr_lags:
            # [DDB-DG:PointInTimeRecovery_Howitworks]: LatestRestorableDateTime is about now - 5 min.
            self._pitr_lags[key] = self.profile.sample(
                "dynamodb_pitr_latest_lag", stream=f"pitr:{state.region}/{state.name}")
        return self._pitr_lags[key]

    def _window(self, state: TableState) -> tuple[float, float]:
        """[earliest, latest] restorable clock times, whole seconds (the restore granularity)."""
        assert state.pitr_enabled_at is not None
        now = self.clock.now()
        earliest = self._to_second(max(state.pitr_enabled_at, now - state.pitr_period_days * 86400), up=True)
        latest = max(earliest, self._to_second(now - self._latest_lag(state)))
        return earliest, latest

    def _to_second(self, t: float, *, up: bool = False) -> float:
        """Clock time ``t`` rounded down (or up) to a whole second of its datetime."""
        when = self.clock.datetime(t)
        whole = when.replace(microsecond=0)
        if up and whole < when:
            whole += _dt.timedelta(seconds=1)
        return self.clock.seconds_at(whole)

    def _pitr_description(self, state: TableState | None) -> dict[str, Any]:
        if state is None or state.pitr_enabled_at is None:
            # Disabled -> only the status, no timestamps ([BC:dynamodb] PointInTimeRecoveryDescription).
            return {"PointInTimeRecoveryStatus": "DISABLED"}
        earliest, latest = self._window(state)
        return {
            "PointInTimeRecoveryStatus": "ENABLED",
            "RecoveryPeriodInDays": state.pitr_period_days,
            "EarliestRestorableDateTime": self.clock.datetime(earliest),
            "LatestRestorableDateTime": self.clock.datetime(latest),
        }

    def _sync_pitr(self, state: TableState, moto_status: str | None) -> None:
        """Follow a PITR flag changed behind the emulator's back (through the backdoor)."""
        if moto_status == "ENABLED" and state.pitr_enabled_at is None:
            state.pitr_enabled_at = self.clock.now()  # the window starts when the emulator sees it
        elif moto_status == "DISABLED":
            state.pitr_enabled_at = None

    def _rewrite_continuous_backups(self, region: str, table: str, parsed: dict[str, Any]) -> None:
        description = parsed.setdefault("ContinuousBackupsDescription", {})
        state = self._state(region, table)
        if state is not None:
            self._sync_pitr(
                state, (description.get("PointInTimeRecoveryDescription") or {}).get("PointInTimeRecoveryStatus")
            )
        description["ContinuousBackupsStatus"] = "ENABLED"
        description["PointInTimeRecoveryDescription"] = self._pitr_description(state)
