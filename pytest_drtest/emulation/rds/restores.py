"""Restores into NEW instances: from a snapshot, or to a point in time.

[RDS-UG:USER_RestoreFromSnapshot], [RDS-UG:USER_PIT]: a restore always creates a new instance,
``creating`` for ``rds_restore_time``; a point-in-time restore holds exactly the data as of the
restore time (PostgreSQL's WAL replayed to it), which must lie in the restorable window. moto
ignores the restore time and, for an unknown ``SourceDbiResourceId``, clones the region's first
instance.
"""
from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from botocore.utils import parse_to_aware_datetime

from pytest_drtest.emulation.core import AwsError, Call
from pytest_drtest.emulation.rds.base import RdsInstanceBase
from pytest_drtest.emulation.rds.models import (
    PITR_ONLY_PARAMS,
    SUPPORTED_ENGINES,
    DbInstance,
    DbSnapshotRecord,
    automated_backups_arn,
    snapshot_not_available,
)
from pytest_drtest.emulation.rds_common import (
    TIME_EPSILON,
    create_master,
    parse_rds_arn,
    password_at,
)

if TYPE_CHECKING:
    from pytest_drtest.dataplane import PostgresServer


class Restores(RdsInstanceBase):
    """``RestoreDBInstanceFromDBSnapshot`` and ``RestoreDBInstanceToPointInTime``."""

    def before_RestoreDBInstanceFromDBSnapshot(self, call: Call) -> dict[str, Any] | None:
        if call.params.get("DBClusterIdentifier"):
            return None
        snap_region, snap_id = parse_rds_arn(str(call.params.get("DBSnapshotIdentifier", "")))
        if snap_region is not None and snap_region != call.region:
            # A snapshot is restored in its own region only: copy it first (CopyDBSnapshot).
            raise AwsError("DBSnapshotNotFound", f"DBSnapshot {snap_id} not found.", 404)
        rec = self._snapshots.get((call.region, snap_id))
        if rec is not None and rec.status != "available":
            raise snapshot_not_available(snap_id, rec.status)
        self._check_restore_engine(call)
        self.plane  # noqa: B018 - DataPlaneUnavailable before moto stores anything
        return None

    def after_RestoreDBInstanceFromDBSnapshot(self, call: Call) -> None:
        if call.params.get("DBClusterIdentifier") or call.parsed is None:
            return
        region = call.region
        entry = call.parsed["DBInstance"]
        _, snap_id = parse_rds_arn(str(call.params.get("DBSnapshotIdentifier", "")))
        rec = self._snapshots.get((region, snap_id))
        if rec is not None:
            user, password, dbname = rec.master_user, rec.master_password, rec.dbname
        else:  # moto's automated snapshot: the master settings of the instance it was taken of
            user = str(entry.get("MasterUsername") or "postgres")
            password, dbname = None, str(entry.get("DBName") or "postgres")
            with contextlib.suppress(Exception):
                snap = self.backdoor(region).describe_db_snapshots(DBSnapshotIdentifier=snap_id)["DBSnapshots"][0]
                origin = self._mine(region, snap.get("DBInstanceIdentifier"))
                if origin is not None:
                    password, dbname = origin.master_password, origin.dbname
        self._restored_instance(
            call, entry, lambda name: self._server_from_snapshot(rec, name, user, password, dbname),
            user=user, password=password, dbname=dbname,
            event=("RDS-EVENT-0043", f"Restored from snapshot {self._shown_snapshot_name(snap_id)}.", "restoration"),
            origin=f"{self._shown_snapshot_name(snap_id)}@{self.clock.datetime(rec.created_at).isoformat() if rec else ''}",
        )

    def before_RestoreDBInstanceToPointInTime(self, call: Call) -> dict[str, Any] | None:
        """Validated and answered here: moto 5.2 ignores the restore time, so it never decides."""
        params, region = call.params, call.region
        has_time = params.get("RestoreTime") is not None
        use_latest = bool(params.get("UseLatestRestorableTime"))
        if has_time and use_latest:
            raise AwsError("InvalidParameterCombination",
                           "Cannot specify both RestoreTime and UseLatestRestorableTime.")
        src = self._pitr_source(call)
        if src is None:
            return None  # a DB instance the emulation does not own (an Aurora member): not ours to answer
        if not has_time and not use_latest:
            raise AwsError("InvalidParameterCombination",
                           "Either RestoreTime or UseLatestRestorableTime must be specified.")
        target = str(params.get("TargetDBInstanceIdentifier", ""))
        if self._moto_instance(region, target) is not None:
            raise AwsError("DBInstanceAlreadyExists", "DB instance already exists")
        self._check_restore_engine(call)
        if src.source is not None or src.retention_days <= 0:
            raise AwsError("PointInTimeRestoreNotEnabled",
                           f"Point-in-time restore is not enabled for DB instance {src.ident} (no automated backups).")
        window = self._restore_window(src) if src.status != "creating" else None
        if window is None:
            raise AwsError("InvalidRestoreFault", f"DB instance {src.ident} has no restorable time yet.")
        earliest, latest = window
        if use_latest:
            when = latest
        else:
            when = self.clock.seconds_at(parse_to_aware_datetime(params["RestoreTime"]))
            if not earliest - TIME_EPSILON <= when <= latest + TIME_EPSILON:
                fmt = self.clock.datetime
                raise AwsError(
                    "InvalidRestoreFault",
                    f"Restore time {fmt(when).isoformat()} is outside the restorable window of DB instance "
                    f"{src.ident}: {fmt(earliest).isoformat()} to {fmt(latest).isoformat()}.",
                )
        forward = {key: value for key, value in params.items() if key not in PITR_ONLY_PARAMS}
        client = self.backdoor(region)
        entry = client.restore_db_instance_to_point_in_time(
            SourceDBInstanceIdentifier=src.ident, UseLatestRestorableTime=True, **forward)["DBInstance"]
        self._restored_instance(
            call, entry, lambda name: self.plane.restore_to_time(src.server, when, name),
            user=src.master_user, password=password_at(src.master_password, src.password_changes, when),
            dbname=src.dbname, event=("RDS-EVENT-0019", f"Restored from DB instance {src.ident} to {target}.", "restoration"),
            origin=f"{src.ident}@{self.clock.datetime(when).isoformat()}",
        )
        return {"DBInstance": entry}

    def _check_restore_engine(self, call: Call) -> None:
        engine = call.params.get("Engine")
        if engine is not None and str(engine).lower() not in SUPPORTED_ENGINES:
            raise AwsError("InvalidParameterCombination",
                           f"Engine {engine!r} is not supported by the emulation: use Engine 'postgres'.")

    def _server_from_snapshot(self, rec: DbSnapshotRecord | None, name: str, user: str, password: str | None,
                              dbname: str) -> PostgresServer:
        if rec is not None and rec.data is not None:
            return self.plane.restore_snapshot(rec.data, name)
        # moto's automated snapshot, taken when the instance was created: an empty database.
        server = self.plane.create_server(name)
        try:
            create_master(server, user, password, dbname)
        except BaseException:
            self._remove_servers([server])
            raise
        return server

    def _restored_instance(self, call: Call, entry: dict[str, Any], make: Callable[[str], PostgresServer], *,
                           user: str, password: str | None, dbname: str,
                           event: tuple[str, str, str], origin: str) -> DbInstance:
        """A NEW instance on a server made by ``make(name)``; ``creating`` for ``rds_restore_time``."""
        region, ident = call.region, entry["DBInstanceIdentifier"]
        multi_az = bool(call.params.get("MultiAZ"))
        name = self._server_name(region, ident)
        made: list[PostgresServer] = []
        try:
            server = make(name)
            made.append(server)
            if server.base is None:  # PITR bases start somewhere: the restored data itself
                self.plane.snapshot(server, self._plane_snapshot_name(region, f"{ident}-base"))
            pair = self._make_multi_az(server, name) if multi_az else None
            if pair is not None:
                made = pair.servers()
            endpoint = self._new_endpoint(region, entry)
        except BaseException:
            self._remove_servers(made)
            self._undo_moto_create(region, ident)
            raise
        az = str(call.params.get("AvailabilityZone") or self._zones_of(region)[0])
        inst = self._register(entry, region, server=None if pair else server, pair=pair, base_name=name,
                              endpoint=endpoint, master_user=user, master_password=password, dbname=dbname, az=az,
                              multi_az=multi_az)
        # RDS user guide, restoring to a new instance: tens of minutes.
        self._become_available(inst, self.profile.sample("rds_restore_time", stream=f"restore:{region}/{ident}<-{origin}"), backups=True, event=event)
        self._describe_into(inst, entry)
        return inst

    def _pitr_source(self, call: Call) -> DbInstance | None:
        params, region = call.params, call.region
        if params.get("SourceDBInstanceIdentifier"):
            ident = str(params["SourceDBInstanceIdentifier"])
            inst = self._mine(region, ident)
            if inst is None and self._moto_instance(region, ident) is None:
                raise AwsError("DBInstanceNotFound", f"DBInstance {ident} not found.", 404)
            return inst
        if params.get("SourceDbiResourceId"):
            # moto 5.2 clones the region's first instance for any resource id: resolve it ourselves.
            wanted = str(params["SourceDbiResourceId"])
            for inst in self._instances.values():
                if inst.region == region and inst.dbi_resource_id == wanted:
                    return inst
            raise AwsError("DBInstanceNotFound", f"DBInstance with DbiResourceId {wanted} not found.", 404)
        if params.get("SourceDBInstanceAutomatedBackupsArn"):
            arn = str(params["SourceDBInstanceAutomatedBackupsArn"])
            for inst in self._instances.values():
                # (replicated automated backups from another region are not emulated)
                if inst.region == region and not inst.deleted and automated_backups_arn(region, inst.dbi_resource_id) == arn:
                    return inst
            raise AwsError("DBInstanceAutomatedBackupNotFound", f"Automated backup {arn} not found.", 404)
        raise AwsError("InvalidParameterCombination",
                       "One of SourceDBInstanceIdentifier, SourceDbiResourceId or "
                       "SourceDBInstanceAutomatedBackupsArn must be specified.")
