"""The DB instances the emulation owns: their servers and endpoints, statuses on the clock.

Each instance is a real PostgreSQL server (a primary with a synchronous standby when Multi-AZ)
behind a stable :class:`~pytest_drtest.dataplane.EndpointProxy`. The endpoint answers only while
the instance serves: ``available`` (also ``backing-up``, and ``modifying`` while a replica is
promoted) in an AZ and region that are up. Statuses follow [RDS-UG:accessing-monitoring].
"""
from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pytest_drtest.clock import Scheduled
from pytest_drtest.emulation.core import Call, Emulation, Endpoint
from pytest_drtest.emulation.rds.models import (
    SERVING_STATUSES,
    DbInstance,
    DbSnapshotRecord,
    Key,
    automated_snapshot_id,
    resource_id,
)
from pytest_drtest.emulation.rds_common import (
    RdsFamilyEmulator,
    endpoint_address,
    parse_rds_arn,
    rds_arn,
    restore_window,
    switch_endpoint,
)

if TYPE_CHECKING:
    from pytest_drtest.dataplane import (
        AsyncReplica,
        EndpointProxy,
        MultiAZ,
        PostgresServer,
    )


class RdsInstanceBase(RdsFamilyEmulator):
    """State of every DB instance and snapshot, and the plumbing each behaviour builds on."""

    def __init__(self, emulation: Emulation) -> None:
        super().__init__(emulation)
        self._instances: dict[Key, DbInstance] = {}
        self._snapshots: dict[Key, DbSnapshotRecord] = {}
        self._zones: dict[str, list[str]] = {}
        self._serial = itertools.count(1)

    def connection_info(self, region: str, instance_id: str) -> dict[str, Any]:
        """``host``, ``port``, ``user``, ``password``, ``dbname`` of an instance's endpoint (psycopg
        keyword arguments); KeyError for an instance the emulation does not own."""
        inst = self._get(region, instance_id)
        return {"host": inst.endpoint.host, "port": inst.endpoint.port, "user": inst.master_user,
                "password": inst.master_password, "dbname": inst.dbname}

    def server(self, region: str, instance_id: str) -> PostgresServer:
        """The server an instance's endpoint points at (the Multi-AZ primary, or the only server)."""
        return self._get(region, instance_id).server

    def standby(self, region: str, instance_id: str) -> PostgresServer | None:
        """The synchronous standby of a Multi-AZ instance (None while it has none)."""
        pair = self._get(region, instance_id).pair
        return None if pair is None else pair.standby

    def replica(self, region: str, instance_id: str) -> AsyncReplica | None:
        """The replication link of a read replica (None once promoted); ``wait_applied()`` waits
        (in real time) until the replica shows what the clock has released to it."""
        return self._get(region, instance_id).replica

    def instances(self) -> list[Key]:
        """``(region, identifier)`` of every instance the emulation owns."""
        return list(self._instances)

    # -- plumbing ---------------------------------------------------------------------------
    def _get(self, region: str, ident: str) -> DbInstance:
        inst = self._instances.get((region, ident))
        if inst is None:
            raise KeyError(f"no emulated DB instance {ident!r} in {region}")
        return inst

    def _mine(self, region: str, ident: Any) -> DbInstance | None:
        if not isinstance(ident, str):
            return None
        return self._instances.get((region, ident))

    def _later_for(self, inst: DbInstance, delay: float, fn: Callable[[], None], what: str) -> Scheduled:
        """``fn`` in ``delay`` seconds; cancelled when ``inst`` is torn down (and by :meth:`close`)."""
        handle = self.later(delay, fn, name=f"rds {what}")
        inst.timers.append(handle)
        return handle

    def _instance_event(self, inst: DbInstance, event_id: str, message: str, *categories: str) -> None:
        self._event(inst.region, inst.ident, "db-instance", event_id, message, *categories)

    def _moto_instance(self, region: str, ident: str) -> dict[str, Any] | None:
        client = self.backdoor(region)
        try:
            found = client.describe_db_instances(DBInstanceIdentifier=ident)["DBInstances"]
        except client.exceptions.DBInstanceNotFoundFault:
            return None
        return found[0] if found else None

    def _zones_of(self, region: str) -> list[str]:
        if region not in self._zones:
            names: list[str] = []
            with contextlib.suppress(Exception):
                zones = self.backdoor(region, "ec2").describe_availability_zones()["AvailabilityZones"]
                names = sorted(z["ZoneName"] for z in zones
                               if z.get("ZoneType", "availability-zone") == "availability-zone")
            self._zones[region] = names or [f"{region}{suffix}" for suffix in "abc"]
        return self._zones[region]

    def _pick_az(self, region: str, exclude: set[str | None]) -> str:
        """An AZ of ``region`` not in ``exclude``, preferring one that is up."""
        zones = self._zones_of(region)
        candidates = [z for z in zones if z not in exclude] or zones
        return next((z for z in candidates if self.world.az_up(z)), candidates[0])

    def _server_name(self, region: str, ident: str) -> str:
        base = f"{ident[:40]}.{region}"
        name, n = base, 1
        while name in self.plane.servers or any(i.base_name == name for i in self._instances.values()):
            n += 1
            name = f"{base}.{n}"
        return name

    def _standby_name(self, inst: DbInstance) -> str:
        while True:
            name = f"{inst.base_name}-s{next(inst.standby_names)}"
            if name not in self.plane.servers:
                return name

    @staticmethod
    def _endpoint_name(region: str, entry: dict[str, Any]) -> str:
        """The AWS-shaped DNS name of an instance endpoint (as moto names it)."""
        ident = entry["DBInstanceIdentifier"]
        return str((entry.get("Endpoint") or {}).get("Address") or f"{ident}.local.{region}.rds.amazonaws.com").lower()

    def _new_endpoint(self, region: str, entry: dict[str, Any]) -> EndpointProxy:
        """The instance endpoint: its own loopback address and port 5432 (see ``endpoint_address``)."""
        host, port = endpoint_address(self.emulation, region, self._endpoint_name(region, entry))
        return self.plane.endpoint(None, name=f"rds-{entry['DBInstanceIdentifier']}", host=host, port=port)

    def _remove_servers(self, servers: list[PostgresServer]) -> None:
        for server in servers:
            with contextlib.suppress(Exception):
                self.plane.remove(server)

    def _plane_snapshot_name(self, region: str, ident: str) -> str:
        taken = {snap.name for snap in self.plane.snapshots}
        base = f"{ident[:40]}.{region}"
        name, n = base, 1
        while name in taken:
            n += 1
            name = f"{base}.{n}"
        return name

    def _make_multi_az(self, server: PostgresServer, inst_name: str) -> MultiAZ:
        from pytest_drtest.dataplane import MultiAZ

        return MultiAZ(self.plane, server, self.plane.add_sync_standby(server, f"{inst_name}-standby"))

    def _undo_moto_create(self, region: str, ident: str) -> None:
        with contextlib.suppress(Exception):
            self.backdoor(region).delete_db_instance(DBInstanceIdentifier=ident, SkipFinalSnapshot=True)

    # -- status and endpoint ----------------------------------------------------------------
    def _snapshotting(self, inst: DbInstance) -> bool:
        return any(
            rec.status == "creating" and rec.source_arn is None and (rec.instance_region, rec.instance_id) == inst.key
            for rec in self._snapshots.values()
        )

    def _reported_status(self, inst: DbInstance) -> str:
        # A snapshot of a Single-AZ instance pauses its I/O: it shows backing-up [RDS-UG:USER_CreateSnapshot].
        if inst.status == "available" and not inst.multi_az and self._snapshotting(inst):
            return "backing-up"
        return inst.status

    def _serving(self, inst: DbInstance) -> bool:
        if inst.deleted or inst.status not in SERVING_STATUSES:
            return False
        if not self.world.region_up(inst.region) or not self.world.az_up(inst.az):
            return False
        return inst.server.running

    def _refresh(self, inst: DbInstance) -> None:
        """Point the endpoint at the current server, or make it refuse connections."""
        if inst.deleted:
            return
        switch_endpoint(inst.endpoint, inst.server.port if self._serving(inst) else None)

    def _set_status(self, inst: DbInstance, status: str) -> None:
        inst.status = status
        self._refresh(inst)

    def _restore_window(self, inst: DbInstance) -> tuple[float, float] | None:
        """``(earliest, latest)`` restorable clock times, the earliest no older than the backup
        retention period ([RDS-UG:USER_PIT]); None without automated backups."""
        if inst.earliest_restorable is None or inst.source is not None or inst.deleted or inst.retention_days <= 0:
            return None
        return restore_window(self.clock.now(), inst.earliest_restorable, inst.pitr_lag, inst.retention_days)

    # -- rewriting what moto reports --------------------------------------------------------
    def _describe_into(self, inst: DbInstance, entry: dict[str, Any]) -> None:
        """Make a ``DBInstance`` of moto's say what the emulation knows (in place)."""
        clock = self.clock
        entry["DBInstanceStatus"] = self._reported_status(inst)
        endpoint = dict(entry.get("Endpoint") or {})
        endpoint.update(Address=inst.endpoint.host, Port=inst.endpoint.port)
        entry["Endpoint"] = endpoint
        entry["DbInstancePort"] = inst.endpoint.port
        entry["InstanceCreateTime"] = clock.datetime(inst.created_at)
        entry["DbiResourceId"] = inst.dbi_resource_id
        entry["MultiAZ"] = inst.multi_az
        entry["AvailabilityZone"] = inst.az
        if inst.multi_az and inst.secondary_az:
            entry["SecondaryAvailabilityZone"] = inst.secondary_az
        else:
            entry.pop("SecondaryAvailabilityZone", None)
        if inst.source is not None:
            src_region, src_id = inst.source
            entry["ReadReplicaSourceDBInstanceIdentifier"] = (
                src_id if src_region == inst.region else rds_arn(src_region, "db", src_id))
            healthy = inst.replication == "replicating"
            info: dict[str, Any] = {"StatusType": "read replication", "Normal": healthy,
                                    "Status": inst.replication or "replicating"}
            if not healthy:
                info["Message"] = "Replication has stopped."
            entry["StatusInfos"] = [info]
        else:
            entry.pop("ReadReplicaSourceDBInstanceIdentifier", None)
            entry.pop("StatusInfos", None)
        entry["ReadReplicaDBInstanceIdentifiers"] = [
            ident if region == inst.region else rds_arn(region, "db", ident) for region, ident in inst.replicas
        ]
        entry["BackupRetentionPeriod"] = inst.retention_days
        window = self._restore_window(inst) if inst.status != "creating" else None
        # [BC:rds] DBInstance has LatestRestorableTime only: the earliest restorable time is in
        # DescribeDBInstanceAutomatedBackups' RestoreWindow.
        if window is None:
            entry.pop("LatestRestorableTime", None)
        else:
            entry["LatestRestorableTime"] = clock.datetime(window[1])

    def _rewrite_instances(self, call: Call) -> None:
        parsed = call.parsed or {}
        entries = list(parsed.get("DBInstances") or [])
        if isinstance(parsed.get("DBInstance"), dict):
            entries.append(parsed["DBInstance"])
        for entry in entries:
            inst = self._mine(call.region, entry.get("DBInstanceIdentifier"))
            if inst is not None:
                self._describe_into(inst, entry)

    def _shown_snapshot_name(self, name: str) -> str:
        """The clock-dated name of moto's automated snapshot ``name`` (an id or an ARN), else ``name``."""
        arn_region, ident = parse_rds_arn(name)
        for inst in self._instances.values():
            for shown, moto_id in inst.automated_snapshot_ids.items():
                if moto_id == ident and (arn_region is None or arn_region == inst.region):
                    return rds_arn(inst.region, "snapshot", shown) if arn_region else shown
        return name

    def _describe_snapshot_into(self, rec: DbSnapshotRecord, entry: dict[str, Any]) -> None:
        clock = self.clock
        entry["Status"] = rec.status
        entry["PercentProgress"] = rec.progress(clock.now())
        entry["SnapshotCreateTime"] = clock.datetime(rec.created_at)
        entry["OriginalSnapshotCreateTime"] = clock.datetime(rec.original_created_at)
        if rec.instance_created_at is not None:
            entry["InstanceCreateTime"] = clock.datetime(rec.instance_created_at)
        if rec.source_arn is not None:
            entry["SourceDBSnapshotIdentifier"] = self._shown_snapshot_name(rec.source_arn)
            entry["SourceRegion"] = rec.source_region

    def _rewrite_snapshots(self, call: Call) -> None:
        parsed = call.parsed or {}
        entries = list(parsed.get("DBSnapshots") or [])
        if isinstance(parsed.get("DBSnapshot"), dict):
            entries.append(parsed["DBSnapshot"])
        for entry in entries:
            rec = self._snapshots.get((call.region, entry.get("DBSnapshotIdentifier", "")))
            if rec is not None:
                self._describe_snapshot_into(rec, entry)
                continue
            # moto's automated snapshot of one of our instances: clock times and a clock-dated name.
            inst = self._mine(call.region, entry.get("DBInstanceIdentifier"))
            if inst is not None and entry.get("SnapshotType") == "automated":
                self._automated_snapshot_into(inst, entry)

    def _automated_snapshot_into(self, inst: DbInstance, entry: dict[str, Any]) -> None:
        """moto names and stamps the automated snapshot with the wall clock; AWS with its own time."""
        when = self.clock.datetime(inst.earliest_restorable or inst.created_at)
        entry["SnapshotCreateTime"] = entry["OriginalSnapshotCreateTime"] = when
        entry["InstanceCreateTime"] = self.clock.datetime(inst.created_at)
        moto_id = str(entry.get("DBSnapshotIdentifier", ""))
        shown = automated_snapshot_id(inst.ident, when)
        inst.automated_snapshot_ids[shown] = moto_id
        entry["DBSnapshotIdentifier"] = shown
        entry["DBSnapshotArn"] = rds_arn(inst.region, "snapshot", shown)

    def _moto_snapshot_name(self, region: str, name: str) -> str:
        """moto's identifier of the snapshot a caller names ``name`` (an id or an ARN): the
        clock-dated name of an automated snapshot becomes moto's; anything else is kept."""
        arn_region, ident = parse_rds_arn(name)
        if not ident.startswith("rds:"):
            return name
        home = arn_region or region
        for inst in self._instances.values():
            if inst.region != home or not ident.startswith(f"rds:{inst.ident}-"):
                continue
            if ident not in inst.automated_snapshot_ids:
                with contextlib.suppress(Exception):  # learn moto's name (and ours) from moto's listing
                    rows = self.backdoor(home).describe_db_snapshots(
                        DBInstanceIdentifier=inst.ident, SnapshotType="automated")["DBSnapshots"]
                    for row in rows:
                        self._automated_snapshot_into(inst, dict(row))
            moto_id = inst.automated_snapshot_ids.get(ident)
            if moto_id is not None:
                return rds_arn(home, "snapshot", moto_id) if arn_region else moto_id
        return name

    # -- new instances on the clock ---------------------------------------------------------
    def _register(self, entry: dict[str, Any], region: str, *, server: PostgresServer | None, pair: MultiAZ | None,
                  base_name: str, endpoint: EndpointProxy, master_user: str, master_password: str | None,
                  dbname: str, az: str, multi_az: bool) -> DbInstance:
        """Remember a new instance (``entry``: moto's ``DBInstance``)."""
        ident = entry["DBInstanceIdentifier"]
        inst = DbInstance(
            region=region, ident=ident, created_at=self.clock.now(), endpoint=endpoint, standalone=server, pair=pair,
            master_user=master_user, master_password=master_password, dbname=dbname, az=az, base_name=base_name,
            dbi_resource_id=resource_id(region, ident, next(self._serial)), multi_az=multi_az,
            pitr_lag=self.profile.sample("rds_pitr_latest_lag", stream=f"pitr:{region}/{ident}"),
            retention_days=int(entry.get("BackupRetentionPeriod", 1) or 0),
        )
        if multi_az:
            inst.secondary_az = self._pick_az(region, {az})
        self._instances[inst.key] = inst
        # the endpoint's name answers its address in the world's DNS while it is not deleted
        inst.dns_name = self._endpoint_name(region, entry)
        self.emulation.register_endpoint(Endpoint(
            inst.dns_name, region, lambda: self._serving(inst), "rds-instance", address=endpoint.host))
        return inst

    def _become_available(self, inst: DbInstance, delay: float, *, backups: bool,
                          event: tuple[str, str, str] | None) -> None:
        """``creating`` now, ``available`` after ``delay`` (then the first backup opens the PITR window)."""
        inst.status = "creating"
        self._refresh(inst)

        def done() -> None:
            if inst.deleted or inst.status != "creating":
                return
            if backups:
                inst.earliest_restorable = inst.created_at
            self._set_status(inst, "available")
            if event is not None:
                self._instance_event(inst, event[0], event[1], event[2])

        self._later_for(inst, delay, done, f"{inst.ident} available")

    def _transition(self, inst: DbInstance, during: str, after: str, what: str) -> None:
        """``during`` for ``rds_reboot_time`` (the endpoint refuses), then ``after``."""
        inst.op += 1
        op = inst.op
        self._set_status(inst, during)

        def done() -> None:
            if not inst.deleted and inst.op == op:
                self._set_status(inst, after)

        # No profile key of its own: stopping and starting are a shutdown and a boot, like a reboot.
        delay = self.profile.sample("rds_reboot_time", stream=f"{what}:{inst.region}/{inst.ident}")
        self._later_for(inst, delay, done, f"{inst.ident} {what}")
