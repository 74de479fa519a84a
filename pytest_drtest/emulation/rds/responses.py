"""The DB instance emulator: creation, stop and start, deletion, and the world's changes."""
from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from pytest_drtest.emulation.core import AwsError, Call, az_region
from pytest_drtest.emulation.rds.backups import AutomatedBackups
from pytest_drtest.emulation.rds.models import (
    SUPPORTED_ENGINES,
    DbInstance,
    not_available,
)
from pytest_drtest.emulation.rds.multi_az import MultiAz
from pytest_drtest.emulation.rds.replicas import ReadReplicas
from pytest_drtest.emulation.rds.restores import Restores
from pytest_drtest.emulation.rds.snapshots import DbSnapshots
from pytest_drtest.emulation.rds_common import create_master, set_master_password

if TYPE_CHECKING:
    from pytest_drtest.dataplane import PostgresServer


class RdsInstanceEmulator(MultiAz, ReadReplicas, DbSnapshots, Restores, AutomatedBackups):
    """DB instances (not Aurora cluster members) with real PostgreSQL servers, on the run's clock."""

    def before_CreateDBInstance(self, call: Call) -> dict[str, Any] | None:
        if call.params.get("DBClusterIdentifier"):
            return None  # an Aurora cluster member: the Aurora emulator's
        engine = str(call.params.get("Engine", ""))
        if engine.lower() not in SUPPORTED_ENGINES:
            raise AwsError(
                "InvalidParameterCombination",
                f"Engine {engine!r} is not supported by the emulation: DB instances run on real PostgreSQL, "
                "use Engine 'postgres'.",
            )
        self.plane  # noqa: B018 - raises DataPlaneUnavailable (saying what to install) before moto stores anything
        return None

    def after_CreateDBInstance(self, call: Call) -> None:
        if call.params.get("DBClusterIdentifier") or call.parsed is None:
            return
        params, region = call.params, call.region
        entry = call.parsed["DBInstance"]
        ident = entry["DBInstanceIdentifier"]
        multi_az = bool(params.get("MultiAZ"))
        user = str(params.get("MasterUsername") or "postgres")
        password = params.get("MasterUserPassword")
        dbname = str(params.get("DBName") or "postgres")  # RDS for PostgreSQL: "postgres" when none is named
        name = self._server_name(region, ident)
        made: list[PostgresServer] = []
        try:
            pair = self.plane.multi_az(name) if multi_az else None
            server = pair.primary if pair is not None else self.plane.create_server(name)
            made = pair.servers() if pair is not None else [server]
            create_master(server, user, password, dbname)
            endpoint = self._new_endpoint(region, entry)
        except BaseException:
            self._remove_servers(made)
            self._undo_moto_create(region, ident)
            raise
        az = str(params.get("AvailabilityZone") or entry.get("AvailabilityZone") or self._zones_of(region)[0])
        inst = self._register(entry, region, server=None if pair else server, pair=pair, base_name=name,
                              endpoint=endpoint, master_user=user, master_password=password, dbname=dbname, az=az,
                              multi_az=multi_az)
        # RDS user guide, creating a DB instance: creating -> available in minutes; event RDS-EVENT-0005.
        self._become_available(inst, self.profile.sample("rds_create_time", stream=f"create:{region}/{ident}"), backups=True,
                               event=("RDS-EVENT-0005", "DB instance created.", "creation"))
        self._describe_into(inst, entry)

    def after_DescribeDBInstances(self, call: Call) -> None:
        self._rewrite_instances(call)

    def before_ModifyDBInstance(self, call: Call) -> dict[str, Any] | None:
        inst = self._mine(call.region, call.params.get("DBInstanceIdentifier"))
        if inst is None or call.params.get("MasterUserPassword") is None:
            return None
        if inst.replica is not None and not inst.replica.promoted:
            # AWS's docs are silent on a replica's master password; a replica is read-only and
            # takes its roles from its source, so the emulation refuses the change there.
            raise AwsError("InvalidParameterCombination",
                           f"DB instance {inst.ident} is a read replica: change the master user password "
                           "on its source instance.")
        if not self._serving(inst):
            raise not_available(inst.ident, self._reported_status(inst))
        return None

    def after_ModifyDBInstance(self, call: Call) -> None:
        inst = self._mine(call.region, call.params.get("DBInstanceIdentifier"))
        if inst is not None and call.params.get("BackupRetentionPeriod") is not None:
            self._set_retention(inst, int(call.params["BackupRetentionPeriod"]))
        if inst is not None and call.params.get("MasterUserPassword") is not None:
            self._change_master_password(inst, str(call.params["MasterUserPassword"]))
        self._rewrite_instances(call)

    def _change_master_password(self, inst: DbInstance, password: str) -> None:
        """MasterUserPassword: "doesn't result in an outage and the change is asynchronously applied
        as soon as possible" [BC:rds] ModifyDBInstance. The emulation applies it at the call (no
        figure for "as soon as possible" is documented): the writer's role changes, its standby and
        read replicas follow through replication."""
        set_master_password(inst.server, inst.master_user, password)
        pending = [inst.key]
        while pending:
            current = self._instances.get(pending.pop())
            if current is None:
                continue
            current.password_changes.append((self.clock.now(), current.master_password))
            current.master_password = password
            pending.extend(current.replicas)

    def before_StopDBInstance(self, call: Call) -> dict[str, Any] | None:
        inst = self._mine(call.region, call.params.get("DBInstanceIdentifier"))
        if inst is None:
            return None
        status = self._reported_status(inst)
        if status != "available":
            raise not_available(inst.ident, status)
        if inst.source is not None or inst.replicas:
            # RDS user guide, stopping a DB instance: not for read replicas nor their sources.
            raise AwsError("InvalidDBInstanceState",
                           f"DB instance {inst.ident} has read replicas or is one: it cannot be stopped.")
        return None

    def after_StopDBInstance(self, call: Call) -> None:
        inst = self._mine(call.region, call.params.get("DBInstanceIdentifier"))
        if inst is not None and call.parsed is not None:
            self._transition(inst, "stopping", "stopped", "stop")
            self._describe_into(inst, call.parsed["DBInstance"])

    def before_StartDBInstance(self, call: Call) -> dict[str, Any] | None:
        inst = self._mine(call.region, call.params.get("DBInstanceIdentifier"))
        if inst is not None and inst.status != "stopped":
            raise AwsError("InvalidDBInstanceState", f"DB instance {inst.ident} is not stopped (it is {inst.status}).")
        return None

    def after_StartDBInstance(self, call: Call) -> None:
        inst = self._mine(call.region, call.params.get("DBInstanceIdentifier"))
        if inst is not None and call.parsed is not None:
            self._transition(inst, "starting", "available", "start")
            self._describe_into(inst, call.parsed["DBInstance"])

    # -- deleting ---------------------------------------------------------------------------
    def before_DeleteDBInstance(self, call: Call) -> dict[str, Any] | None:
        inst = self._mine(call.region, call.params.get("DBInstanceIdentifier"))
        if inst is None or inst.source is None or inst.source[0] == inst.region:
            return None
        # moto 5.2 raises a raw ValueError deleting a cross-region replica: detach it in
        # moto first (the source's list of replicas is ours to report), then delete it.
        client = self.backdoor(call.region)
        client.promote_read_replica(DBInstanceIdentifier=inst.ident)
        entry = client.delete_db_instance(**call.params)["DBInstance"]
        self._final_snapshot(inst, call)
        self._describe_into(inst, entry)
        self._teardown(inst)
        entry["DBInstanceStatus"] = "deleting"
        return {"DBInstance": entry}

    def after_DeleteDBInstance(self, call: Call) -> None:
        inst = self._mine(call.region, call.params.get("DBInstanceIdentifier"))
        if inst is None or call.parsed is None:
            return
        self._final_snapshot(inst, call)
        self._describe_into(inst, call.parsed["DBInstance"])
        self._teardown(inst)
        call.parsed["DBInstance"]["DBInstanceStatus"] = "deleting"

    def _final_snapshot(self, inst: DbInstance, call: Call) -> None:
        name = call.params.get("FinalDBSnapshotIdentifier")
        if not name or call.params.get("SkipFinalSnapshot"):
            return
        with contextlib.suppress(Exception):
            self._take_snapshot(inst, str(name))

    def _teardown(self, inst: DbInstance) -> None:
        """Stop and remove the instance's servers; its replicas become standalone instances."""
        for handle in inst.timers:
            handle.cancel()
        for key in list(inst.replicas):
            replica = self._instances.get(key)
            if replica is not None:
                # RDS user guide, read replicas: deleting the source promotes its replicas.
                self._detach(replica)
                with contextlib.suppress(Exception):
                    self.backdoor(replica.region).promote_read_replica(DBInstanceIdentifier=replica.ident)
                if replica.earliest_restorable is None:
                    self._start_backups(replica)
        if inst.source is not None:
            src = self._instances.get(inst.source)
            if src is not None and inst.key in src.replicas:
                src.replicas.remove(inst.key)
        inst.deleted = True
        self._instances.pop(inst.key, None)
        self.emulation.forget_endpoint(inst.dns_name)
        with contextlib.suppress(Exception):
            inst.endpoint.close()
        self._remove_servers(inst.servers())
        self._instance_event(inst, "RDS-EVENT-0003", "DB instance deleted.", "deletion")

    # -- the world --------------------------------------------------------------------------
    def on_world_change(self, what: str, name: str) -> None:
        if not self._instances:
            return
        if what == "az-lost":
            self._az_lost(name)
        elif what in ("az-restored", "region-restored"):
            region = az_region(name) if what == "az-restored" else name
            for inst in list(self._instances.values()):
                if inst.region == region:
                    self._refresh(inst)
        elif what == "region-lost":
            self._region_lost(name)
        elif what in ("replication-paused", "replication-resumed"):
            for inst in list(self._instances.values()):
                if inst.replica is not None and inst.replication == "replicating":
                    inst.replica.paused = self._replication_paused(inst)
