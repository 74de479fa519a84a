"""RDS DB instances as AWS runs them, on real PostgreSQL and the run's clock (AWS-SEMANTICS §6).

moto 5.2 stores the metadata of DB instances but nothing behaves (``/work/shared/NOTES.md``): an
instance is ``available`` at once and has no data, ``ForceFailover`` does nothing, there is no
secondary AZ, a promoted replica keeps its source, deleting a cross-region replica raises a raw
``ValueError``, snapshots are instant and PITR ignores the restore time. This emulator owns every DB
instance that is not an Aurora cluster member (``aurora.py`` owns those) and adds:

* a **real PostgreSQL server** per instance (:attr:`Emulation.dataplane`) behind a stable
  :class:`~pytest_drtest.dataplane.EndpointProxy`: ``Endpoint`` is ``127.0.0.1:<proxy port>``, the
  master user, password and database of the call exist on the server (see :meth:`connection_info`);
* **statuses on the clock**: ``creating`` -> ``available`` after ``rds_create_time``; the endpoint
  refuses connections while the instance is not serving (creating, rebooting, AZ or region lost);
* **Multi-AZ** (§6.1, §6.2): a synchronous standby in ``SecondaryAvailabilityZone``; a reboot with
  ``ForceFailover`` or the loss of the primary's AZ promotes it after ``rds_multi_az_failover`` (the
  AZ fields swap, a new standby is made, events 0013/0015/0049);
* **read replicas** (§6.3), in-region or cross-region, whose lag is held on the clock
  (``rds_replica_lag``); a region loss cuts the cross-region links (what they held is lost);
  promotion goes ``modifying`` -> ``rebooting`` -> ``available`` in ``rds_promotion_time``;
* **snapshots** (§6.4): base backups taken at the call, ``creating`` -> ``available``, copies to
  other regions, restores into NEW instances (§6.5);
* **point-in-time restores** (§6.5): a NEW instance holding exactly the data as of the restore time,
  within ``[creation, now - rds_pitr_latest_lag]``;
* ``DescribeEvents`` answered from the shared RDS event log (:mod:`.rds_common`).

Only the ``postgres`` engine is emulated. Authentication on the servers is ``trust``: the master
password is stored on the role but not checked.
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.utils import parse_to_aware_datetime

from pytest_drtest.clock import Scheduled
from pytest_drtest.emulation.core import AwsError, Call, Emulation, ServiceEmulator, az_region
from pytest_drtest.emulation.rds_common import RdsEvent, event_log, parse_rds_arn, rds_arn

if TYPE_CHECKING:
    from pytest_drtest.dataplane import AsyncReplica, DataPlane, EndpointProxy, MultiAZ, PostgresServer, Snapshot

log = logging.getLogger("pytest_drtest.emulation.rds")

Key = tuple[str, str]  # (region, identifier)

ENDPOINT_HOST = "127.0.0.1"
SUPPORTED_ENGINES = ("postgres",)
#: Statuses in which the endpoint answers (``modifying``: a replica being promoted still serves reads).
SERVING_STATUSES = frozenset({"available", "backing-up", "modifying"})
#: AWS-SEMANTICS §6.2 (message seen in third-party tool output; the code is the likely one).
FORCE_FAILOVER_SINGLE_AZ = (
    "ForceFailover cannot be specified since the instance is not configured for either MultiAZ or High Availability"
)
#: Clock times compare to the microsecond: the precision of the datetimes we report.
TIME_EPSILON = 1e-6
#: Parameters of RestoreDBInstanceToPointInTime that only the emulation interprets.
PITR_ONLY_PARAMS = ("RestoreTime", "UseLatestRestorableTime", "SourceDbiResourceId",
                    "SourceDBInstanceAutomatedBackupsArn", "SourceDBInstanceIdentifier")


# -- state ------------------------------------------------------------------------------------------
@dataclass(eq=False)
class DbInstance:
    """What the emulation knows of one DB instance; its data lives on real servers."""

    region: str
    ident: str
    created_at: float
    endpoint: EndpointProxy
    standalone: PostgresServer | None  # Single-AZ instance or replica
    pair: MultiAZ | None  # Multi-AZ: primary + synchronous standby
    master_user: str
    master_password: str | None
    dbname: str
    az: str
    base_name: str  # data-plane name stem of this instance's servers
    dbi_resource_id: str
    secondary_az: str | None = None
    multi_az: bool = False
    status: str = "creating"
    earliest_restorable: float | None = None  # None: no automated backups (yet)
    pitr_lag: float = 300.0
    replica: AsyncReplica | None = None  # set while this is a read replica
    source: Key | None = None
    replicas: list[Key] = field(default_factory=list)
    replication: str | None = None  # "replicating" | "error" while a replica
    op: int = 0  # bumped by every reboot/failover/promotion; stale callbacks see a newer value
    failing_over: bool = False
    timers: list[Scheduled] = field(default_factory=list)
    standby_names: itertools.count[int] = field(default_factory=lambda: itertools.count(2))
    deleted: bool = False

    @property
    def key(self) -> Key:
        return (self.region, self.ident)

    @property
    def arn(self) -> str:
        return rds_arn(self.region, "db", self.ident)

    @property
    def server(self) -> PostgresServer:
        """The server the endpoint points at: the Multi-AZ primary, or the only server."""
        if self.pair is not None:
            return self.pair.primary
        assert self.standalone is not None
        return self.standalone

    def servers(self) -> list[PostgresServer]:
        if self.pair is not None:
            return self.pair.servers()
        return [self.standalone] if self.standalone is not None else []


@dataclass(eq=False)
class DbSnapshotRecord:
    """A manual snapshot (or a copy of one): its data is a base backup taken at the call."""

    region: str
    ident: str
    instance_id: str
    instance_region: str
    data: Snapshot | None  # None: a snapshot the emulation did not take (moto's automated ones)
    created_at: float
    original_created_at: float
    ready_at: float
    master_user: str
    master_password: str | None
    dbname: str
    instance_created_at: float | None = None
    status: str = "creating"
    source_arn: str | None = None  # the snapshot a copy was made from
    source_region: str | None = None
    timer: Scheduled | None = None

    @property
    def key(self) -> Key:
        return (self.region, self.ident)

    def progress(self, now: float) -> int:
        if self.status != "creating":
            return 100
        span = self.ready_at - self.created_at
        return 0 if span <= 0 else max(0, min(99, int(100 * (now - self.created_at) / span)))


def create_master(server: PostgresServer, user: str, password: str | None, dbname: str) -> None:
    """The master role (login, superuser, the call's password) and database of a new instance.

    RDS makes the master user a member of ``rds_superuser``; a superuser is the closest here.
    """
    from psycopg import sql

    with server.connect() as conn:
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (user,)).fetchone()
        conn.execute(sql.SQL("{} ROLE {} WITH LOGIN SUPERUSER PASSWORD {}").format(
            sql.SQL("ALTER" if exists else "CREATE"), sql.Identifier(user), sql.Literal(password)))
        if dbname != "postgres":
            conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(dbname), sql.Identifier(user)))


def not_available(ident: str, status: str) -> AwsError:
    return AwsError("InvalidDBInstanceState", f"DB instance {ident} is not in available state (it is {status}).")


def snapshot_not_available(ident: str, status: str) -> AwsError:
    return AwsError("InvalidDBSnapshotState", f"Snapshot {ident} is not in available state (it is {status}).")


def _resource_id(region: str, ident: str, serial: int) -> str:
    """A ``DbiResourceId`` of our own: moto 5.2 gives every instance the same one."""
    digest = hashlib.sha256(f"{region}/{ident}/{serial}".encode()).digest()
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    return "db-" + "".join(alphabet[b % 32] for b in digest[:26])


# -- the emulator -----------------------------------------------------------------------------------
class RdsInstanceEmulator(ServiceEmulator):
    """DB instances (not Aurora cluster members) with real PostgreSQL servers, on the run's clock."""

    service = "rds"

    def __init__(self, emulation: Emulation) -> None:
        super().__init__(emulation)
        self.events = event_log(emulation)
        self._instances: dict[Key, DbInstance] = {}
        self._snapshots: dict[Key, DbSnapshotRecord] = {}
        self._timers: list[Scheduled] = []
        self._zones: dict[str, list[str]] = {}
        self._serial = itertools.count(1)

    # -- public API -------------------------------------------------------------------------------
    def connection_info(self, region: str, instance_id: str) -> dict[str, Any]:
        """``host``, ``port``, ``user``, ``password``, ``dbname`` of an instance's endpoint (psycopg
        keyword arguments); KeyError for an instance the emulation does not own."""
        inst = self._get(region, instance_id)
        return {"host": ENDPOINT_HOST, "port": inst.endpoint.port, "user": inst.master_user,
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

    # -- plumbing ---------------------------------------------------------------------------------
    @property
    def plane(self) -> DataPlane:
        return self.emulation.dataplane  # type: ignore[no-any-return]

    def _get(self, region: str, ident: str) -> DbInstance:
        inst = self._instances.get((region, ident))
        if inst is None:
            raise KeyError(f"no emulated DB instance {ident!r} in {region}")
        return inst

    def _mine(self, region: str, ident: Any) -> DbInstance | None:
        if not isinstance(ident, str):
            return None
        return self._instances.get((region, ident))

    def _later(self, inst: DbInstance | None, delay: float, fn: Callable[[], None], name: str) -> Scheduled:
        handle = self.clock.call_later(max(0.0, delay), fn, name=f"rds {name}")
        self._timers.append(handle)
        if inst is not None:
            inst.timers.append(handle)
        return handle

    def _event(self, region: str, source_id: str, source_type: str, event_id: str, message: str,
               categories: tuple[str, ...]) -> RdsEvent:
        return self.events.record(region, source_id, source_type, event_id, message, categories)

    def _instance_event(self, inst: DbInstance, event_id: str, message: str, *categories: str) -> None:
        self._event(inst.region, inst.ident, "db-instance", event_id, message, categories)

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

    def _new_endpoint(self, ident: str) -> EndpointProxy:
        return self.plane.endpoint(None, name=f"rds-{ident}")

    def _remove_servers(self, servers: list[PostgresServer]) -> None:
        for server in servers:
            with contextlib.suppress(Exception):
                self.plane.remove(server)

    # -- status and endpoint ----------------------------------------------------------------------
    def _snapshotting(self, inst: DbInstance) -> bool:
        return any(
            rec.status == "creating" and rec.source_arn is None and (rec.instance_region, rec.instance_id) == inst.key
            for rec in self._snapshots.values()
        )

    def _reported_status(self, inst: DbInstance) -> str:
        # A snapshot of a Single-AZ instance pauses its I/O: the instance shows backing-up (§6.4).
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
        wanted = inst.server.port if self._serving(inst) else None
        if inst.endpoint.target_port != wanted:
            inst.endpoint.switch(wanted)

    def _set_status(self, inst: DbInstance, status: str) -> None:
        inst.status = status
        self._refresh(inst)

    def _restore_window(self, inst: DbInstance) -> tuple[float, float] | None:
        """``(earliest, latest)`` restorable clock times; None without automated backups."""
        if inst.earliest_restorable is None or inst.source is not None or inst.deleted:
            return None
        earliest = inst.earliest_restorable
        return earliest, max(earliest, self.clock.now() - inst.pitr_lag)

    # -- rewriting what moto reports --------------------------------------------------------------
    def _describe_into(self, inst: DbInstance, entry: dict[str, Any]) -> None:
        """Make a ``DBInstance`` of moto's say what the emulation knows (in place)."""
        clock = self.clock
        entry["DBInstanceStatus"] = self._reported_status(inst)
        endpoint = dict(entry.get("Endpoint") or {})
        endpoint.update(Address=ENDPOINT_HOST, Port=inst.endpoint.port)
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
        window = self._restore_window(inst) if inst.status != "creating" else None
        if window is None:
            entry.pop("LatestRestorableTime", None)
            entry.pop("EarliestRestorableTime", None)
        else:
            # EarliestRestorableTime is not in the DBInstance shape (AWS shows it in
            # DescribeDBInstanceAutomatedBackups' RestoreWindow); reported here for convenience.
            entry["EarliestRestorableTime"] = clock.datetime(window[0])
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

    def _describe_snapshot_into(self, rec: DbSnapshotRecord, entry: dict[str, Any]) -> None:
        clock = self.clock
        entry["Status"] = rec.status
        entry["PercentProgress"] = rec.progress(clock.now())
        entry["SnapshotCreateTime"] = clock.datetime(rec.created_at)
        entry["OriginalSnapshotCreateTime"] = clock.datetime(rec.original_created_at)
        if rec.instance_created_at is not None:
            entry["InstanceCreateTime"] = clock.datetime(rec.instance_created_at)
        if rec.source_arn is not None:
            entry["SourceDBSnapshotIdentifier"] = rec.source_arn
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
            # moto's automated snapshot of one of our instances: stamp it with clock times.
            inst = self._mine(call.region, entry.get("DBInstanceIdentifier"))
            if inst is not None and entry.get("SnapshotType") == "automated":
                when = self.clock.datetime(inst.earliest_restorable or inst.created_at)
                entry["SnapshotCreateTime"] = entry["OriginalSnapshotCreateTime"] = when
                entry["InstanceCreateTime"] = self.clock.datetime(inst.created_at)

    # -- creating ---------------------------------------------------------------------------------
    def _register(self, entry: dict[str, Any], region: str, *, server: PostgresServer | None, pair: MultiAZ | None,
                  base_name: str, endpoint: EndpointProxy, master_user: str, master_password: str | None,
                  dbname: str, az: str, multi_az: bool) -> DbInstance:
        """Remember a new instance (``entry``: moto's ``DBInstance``)."""
        ident = entry["DBInstanceIdentifier"]
        inst = DbInstance(
            region=region, ident=ident, created_at=self.clock.now(), endpoint=endpoint, standalone=server, pair=pair,
            master_user=master_user, master_password=master_password, dbname=dbname, az=az, base_name=base_name,
            dbi_resource_id=_resource_id(region, ident, next(self._serial)), multi_az=multi_az,
            pitr_lag=self.profile.sample("rds_pitr_latest_lag"),
        )
        if multi_az:
            inst.secondary_az = self._pick_az(region, {az})
        self._instances[inst.key] = inst
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

        self._later(inst, delay, done, f"{inst.ident} available")

    def _make_multi_az(self, server: PostgresServer, inst_name: str) -> MultiAZ:
        from pytest_drtest.dataplane import MultiAZ

        return MultiAZ(self.plane, server, self.plane.add_sync_standby(server, f"{inst_name}-standby"))

    def _undo_moto_create(self, region: str, ident: str) -> None:
        with contextlib.suppress(Exception):
            self.backdoor(region).delete_db_instance(DBInstanceIdentifier=ident, SkipFinalSnapshot=True)

    def before_CreateDBInstance(self, call: Call) -> dict[str, Any] | None:
        if call.params.get("DBClusterIdentifier"):
            return None  # an Aurora cluster member: aurora.py
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
            endpoint = self._new_endpoint(ident)
        except BaseException:
            self._remove_servers(made)
            self._undo_moto_create(region, ident)
            raise
        az = str(params.get("AvailabilityZone") or entry.get("AvailabilityZone") or self._zones_of(region)[0])
        inst = self._register(entry, region, server=None if pair else server, pair=pair, base_name=name,
                              endpoint=endpoint, master_user=user, master_password=password, dbname=dbname, az=az,
                              multi_az=multi_az)
        # RDS user guide, creating a DB instance: creating -> available in minutes; event RDS-EVENT-0005.
        self._become_available(inst, self.profile.sample("rds_create_time"), backups=True,
                               event=("RDS-EVENT-0005", "DB instance created.", "creation"))
        self._describe_into(inst, entry)

    # -- describing -------------------------------------------------------------------------------
    def after_DescribeDBInstances(self, call: Call) -> None:
        self._rewrite_instances(call)

    def after_ModifyDBInstance(self, call: Call) -> None:
        self._rewrite_instances(call)

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

    def _transition(self, inst: DbInstance, during: str, after: str, what: str) -> None:
        """``during`` for ``rds_reboot_time`` (the endpoint refuses), then ``after``."""
        inst.op += 1
        op = inst.op
        self._set_status(inst, during)

        def done() -> None:
            if not inst.deleted and inst.op == op:
                self._set_status(inst, after)

        # No profile key of its own: stopping and starting are a shutdown and a boot, like a reboot.
        self._later(inst, self.profile.sample("rds_reboot_time"), done, f"{inst.ident} {what}")

    def after_DescribeDBSnapshots(self, call: Call) -> None:
        self._rewrite_snapshots(call)

    def before_DescribeEvents(self, call: Call) -> dict[str, Any] | None:
        """Events of both RDS emulators, with clock times (moto logs creation events in wall time)."""
        return {"Events": self.events.describe(call.region, call.params)}

    # -- reboot and failover (§6.2) ---------------------------------------------------------------
    def before_RebootDBInstance(self, call: Call) -> dict[str, Any] | None:
        inst = self._mine(call.region, call.params.get("DBInstanceIdentifier"))
        if inst is None:
            return None
        status = self._reported_status(inst)
        if status != "available":
            raise not_available(inst.ident, status)
        if call.params.get("ForceFailover"):
            if not inst.multi_az:
                raise AwsError("InvalidParameterCombination", FORCE_FAILOVER_SINGLE_AZ)
            if inst.pair is None or inst.pair.standby is None:
                raise AwsError("InvalidDBInstanceState",
                               f"DB instance {inst.ident} has no standby to fail over to right now.")
        return None

    def after_RebootDBInstance(self, call: Call) -> None:
        inst = self._mine(call.region, call.params.get("DBInstanceIdentifier"))
        if inst is None or call.parsed is None:
            return
        if call.params.get("ForceFailover"):
            self._begin_failover(inst, primary_lost=False)
        else:
            self._begin_reboot(inst)
        self._describe_into(inst, call.parsed["DBInstance"])

    def _begin_reboot(self, inst: DbInstance) -> None:
        """``rebooting`` for ``rds_reboot_time`` (the endpoint refuses), then the same server serves."""
        inst.op += 1
        op = inst.op
        self._set_status(inst, "rebooting")

        def done() -> None:
            if inst.deleted or inst.op != op:
                return
            self._set_status(inst, "available")
            self._instance_event(inst, "RDS-EVENT-0006", "DB instance restarted.", "availability")

        # RDS user guide, rebooting a DB instance: a brief outage.
        self._later(inst, self.profile.sample("rds_reboot_time"), done, f"{inst.ident} reboot")

    def _begin_failover(self, inst: DbInstance, *, primary_lost: bool) -> None:
        """Multi-AZ failover: the endpoint refuses for ``rds_multi_az_failover``, then the standby serves."""
        assert inst.pair is not None
        inst.op += 1
        op = inst.op
        inst.failing_over = True
        self._instance_event(inst, "RDS-EVENT-0013", "Multi-AZ instance failover started.", "failover")
        if primary_lost:
            inst.pair.primary.kill()  # the host went with its AZ
        self._set_status(inst, "rebooting")
        # RDS user guide, Multi-AZ failover: typically 60-120 s.
        self._later(inst, self.profile.sample("rds_multi_az_failover"), lambda: self._finish_failover(inst, op),
                    f"{inst.ident} failover")

    def _finish_failover(self, inst: DbInstance, op: int) -> None:
        pair = inst.pair
        if inst.deleted or inst.op != op or pair is None or pair.standby is None:
            return
        pair.failover()  # promotes the synchronous standby: no acknowledged write is lost
        inst.failing_over = False
        old_az = inst.az
        inst.az = inst.secondary_az or inst.az
        self._instance_event(inst, "RDS-EVENT-0015",
                             "Multi-AZ failover to standby complete - DNS propagation may take a few minutes.",
                             "failover")
        self._set_status(inst, "available")
        self._instance_event(inst, "RDS-EVENT-0049", "Multi-AZ instance failover completed.", "failover")
        # A new standby where the old primary was (elsewhere when that AZ is gone).
        inst.secondary_az = old_az if self.world.az_up(old_az) else self._pick_az(inst.region, {inst.az, old_az})
        try:
            pair.replace_standby(self._standby_name(inst))
        except Exception:
            log.exception("%s: could not make a new standby", inst.ident)

    def _recover_standby(self, inst: DbInstance) -> None:
        """A Multi-AZ instance that lost its standby gets a new one in another AZ."""
        pair = inst.pair
        if inst.deleted or pair is None or pair.standby is not None or not pair.primary.running:
            return
        inst.secondary_az = self._pick_az(inst.region, {inst.az, inst.secondary_az})
        pair.replace_standby(self._standby_name(inst))
        self._instance_event(inst, "RDS-EVENT-0053", "Multi-AZ instance recovery completed.", "recovery")

    # -- read replicas (§6.3) ---------------------------------------------------------------------
    def _source_of(self, call: Call) -> tuple[str, str]:
        region, ident = parse_rds_arn(str(call.params.get("SourceDBInstanceIdentifier", "")))
        return region or call.region, ident

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
            replica = self.plane.add_replica(src.server, name, lag=self.profile.sample("rds_replica_lag"))
            endpoint = self._new_endpoint(ident)
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
        self._become_available(inst, self.profile.sample("rds_create_time"), backups=False, event=None)
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
        self._set_status(inst, "modifying")
        # RDS user guide, promoting a read replica: replication stops, the replica reboots, then it is a
        # standalone instance; the whole takes rds_promotion_time, of which the reboot rds_reboot_time.
        total = self.profile.sample("rds_promotion_time")
        reboot = min(self.profile.sample("rds_reboot_time"), total / 2)
        self._later(inst, total - reboot, lambda: self._promotion_reboots(inst, op), f"{inst.ident} promotion reboot")
        self._later(inst, total, lambda: self._promotion_done(inst, op), f"{inst.ident} promoted")
        self._describe_into(inst, call.parsed["DBInstance"])

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

    # -- deleting ---------------------------------------------------------------------------------
    def before_DeleteDBInstance(self, call: Call) -> dict[str, Any] | None:
        inst = self._mine(call.region, call.params.get("DBInstanceIdentifier"))
        if inst is None or inst.source is None or inst.source[0] == inst.region:
            return None
        # moto 5.2 raises a raw ValueError deleting a cross-region replica (NOTES.md): detach it in
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
        with contextlib.suppress(Exception):
            inst.endpoint.close()
        self._remove_servers(inst.servers())
        self._instance_event(inst, "RDS-EVENT-0003", "DB instance deleted.", "deletion")

    # -- snapshots (§6.4) -------------------------------------------------------------------------
    def _plane_snapshot_name(self, region: str, ident: str) -> str:
        taken = {snap.name for snap in self.plane.snapshots}
        base = f"{ident[:40]}.{region}"
        name, n = base, 1
        while name in taken:
            n += 1
            name = f"{base}.{n}"
        return name

    def _take_snapshot(self, inst: DbInstance, ident: str) -> DbSnapshotRecord:
        now = self.clock.now()
        data = self.plane.snapshot(inst.server, self._plane_snapshot_name(inst.region, ident))
        # RDS user guide, snapshots: minutes.
        ready = now + self.profile.sample("rds_snapshot_time")
        rec = DbSnapshotRecord(
            region=inst.region, ident=ident, instance_id=inst.ident, instance_region=inst.region, data=data,
            created_at=now, original_created_at=now, ready_at=ready, master_user=inst.master_user,
            master_password=inst.master_password, dbname=inst.dbname, instance_created_at=inst.created_at,
        )
        self._snapshots[rec.key] = rec
        self._event(rec.region, ident, "db-snapshot", "RDS-EVENT-0040", "Creating manual snapshot.", ("creation",))

        def done() -> None:
            rec.status = "available"
            self._event(rec.region, ident, "db-snapshot", "RDS-EVENT-0042", "Manual snapshot created.", ("creation",))

        rec.timer = self._later(None, ready - now, done, f"snapshot {ident}")
        return rec

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

    def _copy_source(self, call: Call) -> tuple[str, str]:
        region, ident = parse_rds_arn(str(call.params.get("SourceDBSnapshotIdentifier", "")))
        return region or call.region, ident

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
        ready = now + self.profile.sample("rds_snapshot_copy_time" if cross_region else "rds_snapshot_time")
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
                        f"Started copy of snapshot {src_id} from region {src_region}.", ("notification",))

        def done() -> None:
            rec.status = "available"
            if cross_region:
                minutes = round((ready - now) / 60)
                self._event(rec.region, rec.ident, "db-snapshot", "RDS-EVENT-0060",
                            f"Finished copy of snapshot {src_id} in {minutes} minutes.", ("notification",))

        rec.timer = self._later(None, ready - now, done, f"snapshot copy {rec.ident}")
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

    # -- restores (§6.5) --------------------------------------------------------------------------
    def _check_restore_engine(self, call: Call) -> None:
        engine = call.params.get("Engine")
        if engine is not None and str(engine).lower() not in SUPPORTED_ENGINES:
            raise AwsError("InvalidParameterCombination",
                           f"Engine {engine!r} is not supported by the emulation: use Engine 'postgres'.")

    def before_RestoreDBInstanceFromDBSnapshot(self, call: Call) -> dict[str, Any] | None:
        if call.params.get("DBClusterIdentifier"):
            return None
        snap_region, snap_id = parse_rds_arn(str(call.params.get("DBSnapshotIdentifier", "")))
        if snap_region is not None and snap_region != call.region:
            # A snapshot is restored in its own region only: copy it first (CopyDBSnapshot, §6.4).
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
            event=("RDS-EVENT-0043", f"Restored from snapshot {snap_id}.", "restoration"),
        )

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
                           event: tuple[str, str, str]) -> DbInstance:
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
            endpoint = self._new_endpoint(ident)
        except BaseException:
            self._remove_servers(made)
            self._undo_moto_create(region, ident)
            raise
        az = str(call.params.get("AvailabilityZone") or self._zones_of(region)[0])
        inst = self._register(entry, region, server=None if pair else server, pair=pair, base_name=name,
                              endpoint=endpoint, master_user=user, master_password=password, dbname=dbname, az=az,
                              multi_az=multi_az)
        # RDS user guide, restoring to a new instance: tens of minutes.
        self._become_available(inst, self.profile.sample("rds_restore_time"), backups=True, event=event)
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
            raise AwsError("DBInstanceAutomatedBackupNotFound",
                           f"Automated backup {params['SourceDBInstanceAutomatedBackupsArn']} not found.", 404)
        raise AwsError("InvalidParameterCombination",
                       "One of SourceDBInstanceIdentifier, SourceDbiResourceId or "
                       "SourceDBInstanceAutomatedBackupsArn must be specified.")

    def before_RestoreDBInstanceToPointInTime(self, call: Call) -> dict[str, Any] | None:
        """Validated and answered here: moto 5.2 ignores the restore time (NOTES.md), so it never decides."""
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
        moto_src = self._moto_instance(region, src.ident) or {}
        if src.source is not None or not moto_src.get("BackupRetentionPeriod"):
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
            user=src.master_user, password=src.master_password, dbname=src.dbname,
            event=("RDS-EVENT-0019", f"Restored from DB instance {src.ident} to {target}.", "restoration"),
        )
        return {"DBInstance": entry}

    # -- the world --------------------------------------------------------------------------------
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

    def _az_lost(self, az: str) -> None:
        for inst in list(self._instances.values()):
            if inst.region != az_region(az):
                continue
            pair = inst.pair
            if pair is not None and inst.az == az:
                if inst.failing_over:
                    pair.primary.kill()  # already failing over: the old primary's host goes with the AZ
                elif pair.standby is not None and inst.secondary_az and self.world.az_up(inst.secondary_az):
                    # RDS user guide, Multi-AZ: the primary unreachable on the network -> automatic failover.
                    self._begin_failover(inst, primary_lost=True)
                    continue
            elif pair is not None and inst.secondary_az == az and pair.standby is not None:
                pair.lose_standby()
                self._instance_event(inst, "RDS-EVENT-0052", "Multi-AZ instance recovery started.", "recovery")
                # No profile key of its own: a new standby is built like a new instance.
                self._later(inst, self.profile.sample("rds_create_time"),
                            functools.partial(self._recover_standby, inst), f"{inst.ident} standby recovery")
            self._refresh(inst)  # a Single-AZ instance in the lost AZ stays unreachable until it is back

    def _region_lost(self, region: str) -> None:
        for inst in list(self._instances.values()):
            if inst.region == region:
                self._refresh(inst)
        for inst in list(self._instances.values()):
            if inst.source is not None and inst.source[0] != inst.region and region in (inst.region, inst.source[0]):
                self._cut(inst)

    def close(self) -> None:
        for handle in self._timers:
            handle.cancel()
        self._timers.clear()
