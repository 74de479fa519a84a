"""Manual DB snapshots and their copies: base backups taken at the call, ready on the clock.

[RDS-UG:USER_CreateSnapshot]: ``creating`` -> ``available`` (``rds_snapshot_time``), events
RDS-EVENT-0040 and -0042; a Single-AZ instance shows ``backing-up`` meanwhile. A copy to another
region takes ``rds_snapshot_copy_time`` (events -0059, -0060, [RDS-UG:USER_Events.Messages]).
moto's snapshots are ``available`` at once and hold no data.
"""
from __future__ import annotations

import contextlib
from typing import Any

from pytest_drtest.emulation.core import AwsError, Call
from pytest_drtest.emulation.rds.base import RdsInstanceBase
from pytest_drtest.emulation.rds.models import (
    DbInstance,
    DbSnapshotRecord,
    snapshot_not_available,
)
from pytest_drtest.emulation.rds_common import parse_rds_arn, rds_arn


class DbSnapshots(RdsInstanceBase):
    """``CreateDBSnapshot``, ``CopyDBSnapshot``, ``DeleteDBSnapshot``, ``DescribeDBSnapshots``."""

    def before_CreateDBSnapshot(self, call: Call) -> dict[str, Any] | None:
        inst = self._mine(call.region, call.params.get("DBInstanceIdentifier"))
        if inst is None:
            return None
        status = self._reported_status(inst)
        if status not in ("available", "backing-up"):
            raise AwsError(
                "InvalidDBInstanceState",
                f"Cannot create a snapshot because the database instance {inst.ident} is not currently in the "
                f"available state (it is {status}).",
            )
        return None

    def after_CreateDBSnapshot(self, call: Call) -> None:
        inst = self._mine(call.region, call.params.get("DBInstanceIdentifier"))
        if inst is None or call.parsed is None:
            return
        entry = call.parsed["DBSnapshot"]
        rec = self._take_snapshot(inst, entry["DBSnapshotIdentifier"])
        self._describe_snapshot_into(rec, entry)

    def before_CopyDBSnapshot(self, call: Call) -> dict[str, Any] | None:
        src_region, src_id = self._copy_source(call)
        if not self.world.region_up(src_region):
            # The destination reads the snapshot from its region: a lost region has nothing to give.
            raise AwsError("DBSnapshotNotFound", f"DBSnapshot {src_id} not found: {src_region} is unreachable.", 404)
        rec = self._snapshots.get((src_region, src_id))
        if rec is not None and rec.status != "available":
            raise snapshot_not_available(rec.ident, rec.status)
        return None

    def after_CopyDBSnapshot(self, call: Call) -> None:
        if call.parsed is None:
            return
        src_region, src_id = self._copy_source(call)
        source = self._snapshots.get((src_region, src_id))
        entry = call.parsed["DBSnapshot"]
        now = self.clock.now()
        cross_region = src_region != call.region
        # RDS user guide: a cross-Region copy takes tens of minutes; an in-Region copy is a snapshot's work.
        ready = now + self.profile.sample("rds_snapshot_copy_time" if cross_region else "rds_snapshot_time",
                                          stream=f"copy:{call.region}/{entry['DBSnapshotIdentifier']}")
        if source is not None:
            rec = DbSnapshotRecord(
                region=call.region, ident=entry["DBSnapshotIdentifier"], instance_id=source.instance_id,
                instance_region=source.instance_region, data=source.data, created_at=now,
                original_created_at=source.original_created_at, ready_at=ready, master_user=source.master_user,
                master_password=source.master_password, dbname=source.dbname,
                instance_created_at=source.instance_created_at,
            )
        else:  # moto's automated snapshot: no data of ours (restored as the instance was when created)
            inst = self._mine(src_region, entry.get("DBInstanceIdentifier"))
            rec = DbSnapshotRecord(
                region=call.region, ident=entry["DBSnapshotIdentifier"],
                instance_id=str(entry.get("DBInstanceIdentifier", "")), instance_region=src_region, data=None,
                created_at=now, original_created_at=inst.created_at if inst else now, ready_at=ready,
                master_user=inst.master_user if inst else str(entry.get("MasterUsername") or "postgres"),
                master_password=inst.master_password if inst else None, dbname=inst.dbname if inst else "postgres",
                instance_created_at=inst.created_at if inst else None,
            )
        rec.source_arn = rds_arn(src_region, "snapshot", src_id)
        rec.source_region = src_region
        self._snapshots[rec.key] = rec
        if cross_region:
            self._event(rec.region, rec.ident, "db-snapshot", "RDS-EVENT-0059",
                        f"Started copy of snapshot {src_id} from region {src_region}.", "notification")

        def done() -> None:
            rec.status = "available"
            if cross_region:
                minutes = round((ready - now) / 60)
                self._event(rec.region, rec.ident, "db-snapshot", "RDS-EVENT-0060",
                            f"Finished copy of snapshot {src_id} in {minutes} minutes.", "notification")

        rec.timer = self.later(ready - now, done, name=f"rds snapshot copy {rec.ident}")
        self._describe_snapshot_into(rec, entry)

    def after_DeleteDBSnapshot(self, call: Call) -> None:
        rec = self._snapshots.pop((call.region, str(call.params.get("DBSnapshotIdentifier", ""))), None)
        if rec is None:
            return
        if rec.timer is not None:
            rec.timer.cancel()
        if rec.data is not None and not any(other.data is rec.data for other in self._snapshots.values()):
            with contextlib.suppress(Exception):
                self.plane.delete_snapshot(rec.data)
        if call.parsed is not None and isinstance(call.parsed.get("DBSnapshot"), dict):
            call.parsed["DBSnapshot"]["Status"] = "deleted"

    def after_DescribeDBSnapshots(self, call: Call) -> None:
        self._rewrite_snapshots(call)

    def _take_snapshot(self, inst: DbInstance, ident: str) -> DbSnapshotRecord:
        now = self.clock.now()
        data = self.plane.snapshot(inst.server, self._plane_snapshot_name(inst.region, ident))
        # RDS user guide, snapshots: minutes.
        ready = now + self.profile.sample("rds_snapshot_time", stream=f"snapshot:{inst.region}/{ident}")
        rec = DbSnapshotRecord(
            region=inst.region, ident=ident, instance_id=inst.ident, instance_region=inst.region, data=data,
            created_at=now, original_created_at=now, ready_at=ready, master_user=inst.master_user,
            master_password=inst.master_password, dbname=inst.dbname, instance_created_at=inst.created_at,
        )
        self._snapshots[rec.key] = rec
        self._event(rec.region, ident, "db-snapshot", "RDS-EVENT-0040", "Creating manual snapshot.", "creation")

        def done() -> None:
            rec.status = "available"
            self._event(rec.region, ident, "db-snapshot", "RDS-EVENT-0042", "Manual snapshot created.", "creation")

        rec.timer = self.later(ready - now, done, name=f"rds snapshot {ident}")
        return rec

    def _copy_source(self, call: Call) -> tuple[str, str]:
        region, ident = parse_rds_arn(str(call.params.get("SourceDBSnapshotIdentifier", "")))
        return region or call.region, ident
