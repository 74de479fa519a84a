"""RDS DB instance state: instances with their servers, manual snapshots, the errors AWS gives."""
from __future__ import annotations

import datetime as _dt
import hashlib
import itertools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pytest_drtest.clock import Scheduled
from pytest_drtest.emulation.core import AwsError
from pytest_drtest.emulation.rds_common import rds_arn

if TYPE_CHECKING:
    from pytest_drtest.dataplane import (
        AsyncReplica,
        EndpointProxy,
        MultiAZ,
        PostgresServer,
        Snapshot,
    )

Key = tuple[str, str]  # (region, identifier)

SUPPORTED_ENGINES = ("postgres",)
#: Statuses in which the endpoint answers (``modifying``: a replica being promoted still serves reads).
SERVING_STATUSES = frozenset({"available", "backing-up", "modifying"})
#: ForceFailover on a Single-AZ instance: the message seen in third-party tool output; the code
#: (InvalidParameterCombination) is the likely one, the API reference gives none.
FORCE_FAILOVER_SINGLE_AZ = (
    "ForceFailover cannot be specified since the instance is not configured for either MultiAZ or High Availability"
)
#: Parameters of RestoreDBInstanceToPointInTime that only the emulation interprets.
PITR_ONLY_PARAMS = ("RestoreTime", "UseLatestRestorableTime", "SourceDbiResourceId",
                    "SourceDBInstanceAutomatedBackupsArn", "SourceDBInstanceIdentifier")


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
    dns_name: str = ""  # the endpoint's AWS-shaped name, answered by the world's DNS
    secondary_az: str | None = None
    multi_az: bool = False
    status: str = "creating"
    earliest_restorable: float | None = None  # None: no automated backups (yet)
    pitr_lag: float = 300.0
    retention_days: int = 1  # BackupRetentionPeriod: 0 turns automated backups (and PITR) off
    replica: AsyncReplica | None = None  # set while this is a read replica
    source: Key | None = None
    replicas: list[Key] = field(default_factory=list)
    replication: str | None = None  # "replicating" | "error" while a replica
    op: int = 0  # bumped by every reboot/failover/promotion; stale callbacks see a newer value
    failing_over: bool = False
    timers: list[Scheduled] = field(default_factory=list)
    standby_names: itertools.count[int] = field(default_factory=lambda: itertools.count(2))
    deleted: bool = False
    automated_snapshot_ids: dict[str, str] = field(default_factory=dict)  # clock-dated name -> moto's
    password_changes: list[tuple[float, str | None]] = field(default_factory=list)  # (when, password before)

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


def not_available(ident: str, status: str) -> AwsError:
    return AwsError("InvalidDBInstanceState", f"DB instance {ident} is not in available state (it is {status}).")


def snapshot_not_available(ident: str, status: str) -> AwsError:
    return AwsError("InvalidDBSnapshotState", f"Snapshot {ident} is not in available state (it is {status}).")


def automated_snapshot_id(ident: str, when: _dt.datetime) -> str:
    """``rds:<instance>-YYYY-MM-DD-HH-MM``: an automated snapshot's identifier, from its time (AWS's
    example ``rds:mysqldb-2014-04-22-08-15``, [BC:rds] examples-1.json); moto uses the wall clock."""
    return f"rds:{ident}-{when.strftime('%Y-%m-%d-%H-%M')}"


def automated_backups_arn(region: str, dbi_resource_id: str) -> str:
    """``DBInstanceAutomatedBackupsArn`` of an instance's automated backups ([BC:rds]
    DBInstanceAutomatedBackup): ``arn:aws:rds:<region>:<account>:auto-backup:ab-<id>``."""
    return rds_arn(region, "auto-backup", "ab-" + dbi_resource_id.removeprefix("db-"))


def resource_id(region: str, ident: str, serial: int) -> str:
    """A ``DbiResourceId`` of our own: moto 5.2 gives every instance the same one."""
    digest = hashlib.sha256(f"{region}/{ident}/{serial}".encode()).digest()
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    return "db-" + "".join(alphabet[b % 32] for b in digest[:26])
