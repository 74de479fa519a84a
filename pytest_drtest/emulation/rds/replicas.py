"""Read replicas, in-region or cross-region, asynchronous with their lag held on the clock.

[RDS-UG:USER_ReadRepl]: the source needs automated backups; a replica reports ``StatusInfos``
``read replication``; promotion stops replication, reboots the replica and makes it standalone
(``modifying`` -> ``rebooting`` -> ``available`` in ``rds_promotion_time``). A region loss cuts a
cross-region link: what it still held is lost (RDS-EVENT-0045, "Replication has stopped.").
"""
from __future__ import annotations

import logging
from typing import Any

from pytest_drtest.emulation.core import AwsError, Call
from pytest_drtest.emulation.rds.base import RdsInstanceBase
from pytest_drtest.emulation.rds.models import DbInstance, not_available
from pytest_drtest.emulation.rds_common import parse_rds_arn

log = logging.getLogger("pytest_drtest.emulation.rds")

class ReadReplicas(RdsInstanceBase):
    """``CreateDBInstanceReadReplica``, ``PromoteReadReplica`` and the replication links."""

    def before_CreateDBInstanceReadReplica(self, call: Call) -> dict[str, Any] | None:
        if call.params.get("DBClusterIdentifier"):
            return None
        src = self._mine(*self._source_of(call))
        if src is None:
            return None  # moto answers DBInstanceNotFound (a cross-region source needs its ARN)
        status = self._reported_status(src)
        if status not in ("available", "backing-up"):
            raise not_available(src.ident, status)
        if src.replication == "error":
            raise AwsError("InvalidDBInstanceState",
                           f"DB instance {src.ident} is a read replica whose replication has stopped.")
        moto_src = self._moto_instance(src.region, src.ident) or {}
        if src.source is None and not moto_src.get("BackupRetentionPeriod"):
            raise AwsError(
                "InvalidDBInstanceState",
                "Automated backups are not enabled for this database instance. To enable automated backups, "
                "use ModifyDBInstance to set the backup retention period to a non-zero value.",
            )
        return None

    def after_CreateDBInstanceReadReplica(self, call: Call) -> None:
        if call.parsed is None:
            return
        src = self._mine(*self._source_of(call))
        if src is None:
            return
        region = call.region
        entry = call.parsed["DBInstance"]
        ident = entry["DBInstanceIdentifier"]
        name = self._server_name(region, ident)
        replica = None
        try:
            # RDS user guide, read replicas: asynchronous, lag of seconds (held on the clock).
            replica = self.plane.add_replica(src.server, name, lag=self.profile.sample("rds_replica_lag", stream=f"replicate:{region}/{ident}"))
            endpoint = self._new_endpoint(region, entry)
        except BaseException:
            if replica is not None:
                self._remove_servers([replica.server])
            self._undo_moto_create(region, ident)
            raise
        az = call.params.get("AvailabilityZone") or self._pick_az(region, {src.az} if region == src.region else set())
        inst = self._register(entry, region, server=replica.server, pair=None, base_name=name, endpoint=endpoint,
                              master_user=src.master_user, master_password=src.master_password, dbname=src.dbname,
                              az=str(az), multi_az=False)
        inst.replica, inst.source, inst.replication = replica, src.key, "replicating"
        src.replicas.append(inst.key)
        replica.paused = self._replication_paused(inst)
        if not self.world.region_up(src.region):
            self._cut(inst)
        # No profile key of its own: a replica is created like an instance (from a backup of the source).
        self._become_available(inst, self.profile.sample("rds_create_time", stream=f"create:{region}/{ident}"),
                               backups=False, event=None)
        self._describe_into(inst, entry)

    def before_PromoteReadReplica(self, call: Call) -> dict[str, Any] | None:
        inst = self._mine(call.region, call.params.get("DBInstanceIdentifier"))
        if inst is None:
            return None
        if inst.source is None:
            raise AwsError("InvalidDBInstanceState", "DB Instance is not a read replica.")
        status = self._reported_status(inst)
        if status != "available":
            raise not_available(inst.ident, status)
        return None

    def after_PromoteReadReplica(self, call: Call) -> None:
        inst = self._mine(call.region, call.params.get("DBInstanceIdentifier"))
        if inst is None or call.parsed is None:
            return
        inst.op += 1
        op = inst.op
        # [BC:rds] PromoteReadReplica BackupRetentionPeriod: 0-35 days, default 1
        inst.retention_days = int(call.params.get("BackupRetentionPeriod", 1))
        self._set_status(inst, "modifying")
        # RDS user guide, promoting a read replica: replication stops, the replica reboots, then it is a
        # standalone instance; the whole takes rds_promotion_time, of which the reboot rds_reboot_time.
        total = self.profile.sample("rds_promotion_time", stream=f"promote:{inst.region}/{inst.ident}")
        reboot = min(self.profile.sample("rds_reboot_time", stream=f"promote:{inst.region}/{inst.ident}"), total / 2)
        self._later_for(inst, total - reboot, lambda: self._promotion_reboots(inst, op), f"{inst.ident} promotion reboot")
        self._later_for(inst, total, lambda: self._promotion_done(inst, op), f"{inst.ident} promoted")
        self._describe_into(inst, call.parsed["DBInstance"])

    # -- replication links ------------------------------------------------------------------
    def _source_of(self, call: Call) -> tuple[str, str]:
        region, ident = parse_rds_arn(str(call.params.get("SourceDBInstanceIdentifier", "")))
        return region or call.region, ident

    def _promotion_reboots(self, inst: DbInstance, op: int) -> None:
        if inst.deleted or inst.op != op:
            return
        self._set_status(inst, "rebooting")
        self._detach(inst)

    def _promotion_done(self, inst: DbInstance, op: int) -> None:
        if inst.deleted or inst.op != op:
            return
        self._start_backups(inst)
        self._set_status(inst, "available")

    def _start_backups(self, inst: DbInstance) -> None:
        """A replica made standalone starts its own backups: the first one opens its PITR window."""
        try:
            self.plane.snapshot(inst.server, self._plane_snapshot_name(inst.region, f"{inst.ident}-first-backup"))
        except Exception:
            log.exception("%s: first backup failed", inst.ident)
            return
        inst.earliest_restorable = self.clock.now()

    def _detach(self, inst: DbInstance) -> None:
        """Stop replication and make the replica's server a standalone primary; unlink both sides."""
        replica = inst.replica
        if replica is not None:
            try:
                replica.promote()  # what the link still holds stays behind
            except Exception:
                log.exception("%s: promotion of the replica's server failed", inst.ident)
        if inst.source is not None:
            src = self._instances.get(inst.source)
            if src is not None and inst.key in src.replicas:
                src.replicas.remove(inst.key)
        inst.replica, inst.source, inst.replication = None, None, None

    def _replication_paused(self, inst: DbInstance) -> bool:
        if inst.source is None:
            return False
        return self.world.is_paused("rds", inst.ident) or self.world.is_paused("rds", inst.source[1])

    def _cut(self, inst: DbInstance) -> None:
        """The link of a cross-region replica is lost with a region: what it still held is gone."""
        if inst.replica is None or inst.replication == "error":
            return
        try:
            inst.replica.cut()
        except Exception:
            log.exception("%s: cutting the replication link failed", inst.ident)
        inst.replication = "error"
        self._instance_event(inst, "RDS-EVENT-0045", "Replication has stopped.", "read replica")

    def _region_lost(self, region: str) -> None:
        for inst in list(self._instances.values()):
            if inst.region == region:
                self._refresh(inst)
        for inst in list(self._instances.values()):
            if inst.source is not None and inst.source[0] != inst.region and region in (inst.region, inst.source[0]):
                self._cut(inst)
