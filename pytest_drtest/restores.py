"""Restore checks: a restore lands in a NEW table (database, bucket) whose contents equal the ledger as of
the restore time; an S3 versioning recovery, in place, gives back the objects as they were then."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import botocore.exceptions

from pytest_drtest.measure import Ledger

if TYPE_CHECKING:
    from pytest_drtest.topology.model import Topology

#: What AWS does not carry over to the restored resource, by restore kind (the user guides).
NOT_RESTORED: dict[str, tuple[str, ...]] = {
    "dynamodb": ("point-in-time recovery", "TTL", "streams", "tags", "auto scaling policies", "IAM policies", "alarms"),
    "rds": ("DB parameter group (default)", "option group (default)", "VPC security groups (default)", "alarms"),
    "aurora": ("DB instances (create a writer)", "cluster parameter group (default)", "VPC security groups (default)",
               "alarms"),
    # [S3-UG:RestoringPreviousVersions]: a copied version is a new version; the later ones stay
    "s3-versioning": ("the versions written after the restore time (kept in the history, not current)",),
    # [S3-UG:replication-what-is-isnot-replicated]: what replication never carried is not in the replica
    "s3-replica-copy": ("the object's version ID and LastModified (each object comes back as a new version)",
                        "objects the replica never received (before the rule, S3 Glacier classes, SSE-C, lag)"),
    # "AWS Backup Developer Guide, Restoring S3 data": each object's version as of the point, in S3 Standard
    "s3-backup": ("earlier object versions", "storage classes (restored objects are in S3 Standard)",
                  "bucket settings (policy, lifecycle, replication)"),
}

#: S3 restore kinds: versioning and the copy back from a CRR replica restore in place; AWS Backup
#: restores into a NEW bucket.
S3_RESTORE_KINDS = ("s3-versioning", "s3-replica-copy", "s3-backup", "s3-backup-pitr")
S3_IN_PLACE_KINDS = ("s3-versioning", "s3-replica-copy")


def not_restored(kind: str) -> tuple[str, ...]:
    if kind.startswith("s3-"):
        return NOT_RESTORED[kind if kind in S3_IN_PLACE_KINDS else "s3-backup"]
    if kind.startswith("aurora"):
        return NOT_RESTORED["aurora"]
    if kind.startswith("rds"):
        return NOT_RESTORED["rds"]
    return NOT_RESTORED["dynamodb"]


@dataclass
class RestoreResult:
    """One restore checked against the ledger: a NEW resource, its source untouched, the right items."""

    kind: str
    region: str
    source: str
    target: str
    restore_time: str  # ISO 8601, clock time
    restore_t: float
    new_resource: bool
    source_untouched: bool | None
    items_expected: int
    items_matched: int
    unexpected_items: int
    duration_s: float
    modeled: bool
    missing_keys: list[str] = field(default_factory=list)
    not_restored: tuple[str, ...] = ()
    test: str = ""
    unexpected_keys: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # why it is not a new resource, or none
    made_by: str = ""  # what restored it when not the test itself: an AWS Backup restore testing plan
    restore_job_id: str = ""  # the restore testing job
    validation_status: str = ""  # what was put with PutRestoreValidationResult (SUCCESSFUL, FAILED)

    @property
    def passed(self) -> bool:
        return (
            self.new_resource
            and not self.problems
            and self.source_untouched is not False
            and self.items_matched == self.items_expected
            and self.unexpected_items == 0
        )

    def reasons(self) -> list[str]:
        """Why the check failed, one readable sentence each (empty when it passed)."""
        out = list(self.problems)
        if not self.new_resource and not self.problems:
            out.append(f"{self.target} is not a new resource")
        if self.source_untouched is False:
            out.append(f"the source {self.source} no longer exists")
        wrong = self.items_expected - self.items_matched
        if wrong:
            shown = ", ".join(self.missing_keys[:5])
            out.append(f"{wrong} of the {self.items_expected} items the ledger held at {self.restore_time[11:19]} are missing "
                       f"or hold another value in {self.target} (e.g. {shown})")
        if self.unexpected_items:
            shown = ", ".join(self.unexpected_keys[:5])
            out.append(f"{self.unexpected_items} items that did not exist at {self.restore_time[11:19]} are in {self.target} "
                       f"(written later, or deleted before: a restore as of another time?) (e.g. {shown})")
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "test": self.test,
            "kind": self.kind,
            "region": self.region,
            "source": self.source,
            "target": self.target,
            "restore_time": self.restore_time,
            "new_resource": self.new_resource,
            "source_untouched": self.source_untouched,
            "items_expected": self.items_expected,
            "items_matched": self.items_matched,
            "unexpected_items": self.unexpected_items,
            "duration_s": round(self.duration_s, 3),
            "modeled": self.modeled,
            "not_restored": list(self.not_restored),
            "passed": self.passed,
            "reasons": self.reasons(),
            **({"made_by": self.made_by, "restore_job_id": self.restore_job_id,
                "validation_status": self.validation_status} if self.made_by else {}),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RestoreResult:
        """A result from :meth:`as_dict` (``restore_t`` and the example keys are not in it)."""
        reasons = [str(r) for r in data.get("reasons", [])]
        counted = ("are missing", "that did not exist", "no longer exists")
        return cls(
            kind=str(data["kind"]), region=str(data.get("region", "")), source=str(data.get("source", "")),
            target=str(data.get("target", "")), restore_time=str(data.get("restore_time", "")), restore_t=0.0,
            new_resource=bool(data.get("new_resource")), source_untouched=data.get("source_untouched"),
            items_expected=int(data.get("items_expected", 0)), items_matched=int(data.get("items_matched", 0)),
            unexpected_items=int(data.get("unexpected_items", 0)), duration_s=float(data.get("duration_s", 0.0)),
            modeled=bool(data.get("modeled", True)), not_restored=tuple(data.get("not_restored", ())),
            test=str(data.get("test", "")), problems=[r for r in reasons if not any(c in r for c in counted)],
            made_by=str(data.get("made_by", "")), restore_job_id=str(data.get("restore_job_id", "")),
            validation_status=str(data.get("validation_status", "")),
        )

    def story(self) -> str:
        head = (f"{self.kind} {self.source} -> {self.target} as of {self.restore_time}: "
                f"{self.items_matched}/{self.items_expected} items match, {self.unexpected_items} unexpected")
        reasons = self.reasons()
        return head + (": " + "; ".join(reasons) if reasons else "")


def scan_items(client: Any, table: str, key_name: str) -> dict[str, str | None]:
    items: dict[str, str | None] = {}
    for page in client.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
        for item in page["Items"]:
            items[item[key_name]["S"]] = item.get("payload", {}).get("S")
    return items


def sql_rows(topology: Topology, target: dict[str, Any]) -> dict[str, str | None]:
    from pytest_drtest.topology.build import db_connect

    assert topology.blueprint.database is not None
    with db_connect(topology, target) as conn:
        rows = conn.execute(f"SELECT pk, payload FROM {topology.blueprint.database.table}").fetchall()
    return {pk: payload for pk, payload in rows}


def source_exists(topology: Topology, record: dict[str, Any]) -> bool | None:
    """Whether the restore's source still exists (None when its region is down: cannot look)."""
    region = record.get("source_region", record["region"])
    try:
        if record.get("store") == "s3":
            topology.clients.client("s3", region).head_bucket(Bucket=record["source"])
        elif record.get("store") == "sql":
            rds = topology.clients.client("rds", region)
            if record["kind"] == "aurora-cluster-pitr":
                rds.describe_db_clusters(DBClusterIdentifier=record["source"])
            else:
                rds.describe_db_instances(DBInstanceIdentifier=record["source"])
        else:
            topology.clients.client("dynamodb", region).describe_table(TableName=record["source"])
        return True
    except botocore.exceptions.ClientError:
        return False
    except botocore.exceptions.EndpointConnectionError:
        return None


def target_created(topology: Topology, record: dict[str, Any]) -> Any:
    """When the restore's target was created (``DescribeTable``/``DescribeDBInstances``/``DescribeDBClusters``);
    None when it does not exist."""
    region, target = record["region"], record["target"]
    try:
        if record.get("store") == "sql":
            rds = topology.clients.client("rds", region)
            if record["kind"] == "aurora-cluster-pitr":
                return rds.describe_db_clusters(DBClusterIdentifier=target)["DBClusters"][0].get("ClusterCreateTime")
            return rds.describe_db_instances(DBInstanceIdentifier=target)["DBInstances"][0].get("InstanceCreateTime")
        return topology.clients.client("dynamodb", region).describe_table(TableName=target)["Table"].get("CreationDateTime")
    except botocore.exceptions.ClientError:
        return None


def _newness(topology: Topology, record: dict[str, Any], existing_before: set[str] | None) -> list[str]:
    """Why the target is not a NEW resource made by this restore ([DDB-DG:CreateBackup]: a restore always
    creates a new table; RDS user guide: restores always create a new DB instance or cluster)."""
    what = "instance or cluster" if record.get("store") == "sql" else "table"
    if record["target"] == record["source"]:
        return [f"restored in place: the target {record['target']} is the source itself, not a new {what}"]
    if existing_before is not None and record["target"] in existing_before:
        return [f"{record['target']} existed before the restore: not a new {what}"]
    created = target_created(topology, record)
    if created is None:
        return [f"the target {record['target']} does not exist"]
    started = topology.clock.datetime(record["started"])
    if created < started.replace(microsecond=0):
        return [(f"{record['target']} existed before the restore began (created {created:%H:%M:%S}, the restore "
                f"started {started:%H:%M:%S}): not a new {what}")]
    return []


def bucket_etags(s3: Any, bucket: str) -> dict[str, str] | None:
    """``key -> ETag`` of the current version of every object of ``bucket`` (None: no such bucket)."""
    found: dict[str, str] = {}
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            found.update((obj["Key"], obj["ETag"]) for obj in page.get("Contents", []))
    except botocore.exceptions.ClientError:
        return None
    return found


def verify_s3_restore(topology: Topology, record: dict[str, Any], *, existing_before: set[str] | None = None) -> RestoreResult:
    """Compare a restored bucket with what it held at the restore time (``record["expected"]``: key -> ETag).

    ``s3-versioning`` and ``s3-replica-copy`` recover in place (the target is the damaged bucket; the
    source of a replica copy is the replica), so only the expected keys are compared (the bucket's
    other objects are not the recovery's business); the AWS Backup kinds restore into a NEW bucket, all of
    whose objects must be expected ("AWS Backup Developer Guide, Restoring S3 data": a restore goes
    to an existing or a new bucket; the check asks for a new one, as for tables and databases) —
    unless the record says ``only_expected`` (a runbook that restored the bucket for the objects a
    fault deleted: the others it holds are not compared).
    """
    region, source, target = record["region"], record["source"], record["target"]
    expected = {str(k): str(v) for k, v in record["expected"].items()}
    problems: list[str] = []
    in_place = record["kind"] in S3_IN_PLACE_KINDS
    if not in_place and target == source:
        problems.append(f"restored in place: the target {target} is the source itself, not a new bucket")
    if not in_place and (record.get("target_existed") or (existing_before is not None and target in existing_before)):
        problems.append(f"{target} existed before the restore: not a new bucket")
    actual = bucket_etags(topology.clients.client("s3", region), target)
    if actual is None:
        problems.append(f"the target {target} does not exist")
        actual = {}
    if in_place or record.get("only_expected"):  # a runbook's restore of the objects a fault deleted
        actual = {k: v for k, v in actual.items() if k in expected}
    missing = sorted(k for k, v in expected.items() if actual.get(k) != v)
    unexpected = sorted(k for k in actual if k not in expected)
    return RestoreResult(
        kind=record["kind"], region=region, source=source, target=target,
        restore_time=topology.clock.datetime(record["restore_time"]).isoformat(), restore_t=record["restore_time"],
        new_resource=not problems, source_untouched=source_exists(topology, record), items_expected=len(expected),
        items_matched=len(expected) - len(missing), unexpected_items=len(unexpected),
        duration_s=record["completed"] - record["started"], modeled=topology.clock.modeled, missing_keys=missing[:20],
        not_restored=not_restored(record["kind"]), unexpected_keys=unexpected[:20], problems=problems,
    )


def verify_restore(topology: Topology, ledger: Ledger, record: dict[str, Any], *, existing_before: set[str] | None = None) -> RestoreResult:
    """Compare the restored table (or database) with the ledger's state as of the restore time."""
    if record.get("store") == "s3":
        return verify_s3_restore(topology, record, existing_before=existing_before)
    region = record["region"]
    problems = _newness(topology, record, existing_before)
    expected = ledger.state_as_of(record["restore_time"])
    actual: dict[str, str | None] = {}
    if not any("does not exist" in p for p in problems):
        if record.get("store") == "sql":
            actual = sql_rows(topology, record["db"])
        else:
            key_name = topology.blueprint.table(topology.probe_table).hash_key
            actual = scan_items(topology.clients.client("dynamodb", region), record["target"], key_name)
    # Once repointed, the application writes into the restored table: those keys are not part of
    # what the restore delivered. Nor are the changes the runbook copied back from the damaged
    # original after the restore.
    later = {w.key for w in ledger.writes if w.ack_t > record["completed"]}
    later |= set(record.get("reapplied", ()))
    actual = {k: v for k, v in actual.items() if k not in later}
    expected = {k: v for k, v in expected.items() if k not in later}
    matched = sum(1 for k, v in expected.items() if actual.get(k) == v)
    missing = sorted(k for k, v in expected.items() if actual.get(k) != v)
    unexpected = sorted(k for k in actual if k not in expected)
    return RestoreResult(
        kind=record["kind"], region=region, source=record["source"], target=record["target"],
        restore_time=topology.clock.datetime(record["restore_time"]).isoformat(), restore_t=record["restore_time"],
        new_resource=not problems, source_untouched=source_exists(topology, record), items_expected=len(expected),
        items_matched=matched, unexpected_items=len(unexpected), duration_s=record["completed"] - record["started"],
        modeled=topology.clock.modeled, missing_keys=missing[:20], not_restored=not_restored(record["kind"]),
        unexpected_keys=unexpected[:20], problems=problems,
    )


def run_restore_checks(dr: Any, checks: list[Any]) -> list[RestoreResult]:
    """Restore checks of one scenario on ONE topology.

    Probes run for the longest steady state (at the shortest interval); an on-demand backup or
    snapshot check takes its backup ``age`` before the end; then every check restores — as of
    ``age`` before the end (PITR kinds), from its backup, or from the newest recovery point of the
    primary vault (``aws-backup``), from an AWS Backup of a bucket (``s3-backup``, ``s3-backup-pitr``:
    :class:`S3Checks`) — into a NEW table/instance/cluster/bucket, compared with the ledger (for a
    bucket: its objects at the restore time). An ``aws-backup-restore-testing`` check creates an AWS
    Backup restore testing plan before the steady state; its restore tests, validated against the
    ledger as they complete (:mod:`pytest_drtest.restore_tests`), are its results.
    """
    from pytest_drtest.errors import DrConfigError
    from pytest_drtest.recovery.steps import (
        new_table_name,
        newest_recovery_point,
        poll,
        record_restore,
        restore_database_to_time,
        wait_instance,
    )
    from pytest_drtest.scenario import ProbeSettings
    from pytest_drtest.topology.build import backup_role, db_target

    steady = max(c.steady_state for c in checks)
    interval = min(c.probe.interval for c in checks)
    first = checks[0].probe
    dr._probe_settings = ProbeSettings(interval, first.consecutive, first.timeout)
    topology = dr.build()
    clock = dr.clock
    region = topology.primary_region
    ddb = dr.client("dynamodb", region)
    rds = dr.client("rds", region)
    start = clock.now()
    taken: dict[int, dict[str, Any]] = {}

    def take(index: int, check: Any) -> None:
        if check.kind == "dynamodb-backup":
            source = topology.table_name(check.table)
            arn = ddb.create_backup(TableName=source, BackupName=f"{source}-check-{index}")["BackupDetails"]["BackupArn"]
            taken[index] = {"t": clock.now(), "arn": arn, "source": source}
        else:  # rds-snapshot
            source = topology.app_config[region]["db"]["id"]
            name = f"{source}-check-{index}"
            rds.create_db_snapshot(DBSnapshotIdentifier=name, DBInstanceIdentifier=source)
            taken[index] = {"t": clock.now(), "name": name, "source": source}

    s3_checks = S3Checks(dr, topology) if any(c.kind in S3Checks.KINDS for c in checks) else None
    for index, check in enumerate(checks):
        if check.kind in ("dynamodb-backup", "rds-snapshot"):
            at = start + max(steady - check.age, interval)
            clock.call_at(at + 0.5, lambda i=index, c=check: take(i, c), name=f"restore-check-{check.kind}")
        elif s3_checks is not None and check.kind in S3Checks.KINDS:
            s3_checks.prepare(index, check, start + steady)
        elif check.kind == "aws-backup-restore-testing":  # its plan restores (and is validated) on its schedule
            from pytest_drtest.restore_tests import start_restore_testing

            start_restore_testing(dr, check.name, check.restore_testing)
    with dr.probe():
        clock.sleep(steady)
    end = clock.now()
    for index, check in enumerate(checks):
        started = clock.now()
        if check.kind == "dynamodb-pitr":
            source = topology.table_name(check.table)
            restore_at = clock.datetime(end - check.age).replace(microsecond=0)
            target = new_table_name(topology, check.table, "pitr")
            ddb.restore_table_to_point_in_time(SourceTableName=source, TargetTableName=target, RestoreDateTime=restore_at)
            ddb.get_waiter("table_exists").wait(TableName=target, WaiterConfig={"Delay": 20, "MaxAttempts": 360})
            record_restore(topology, kind=check.kind, region=region, source=source, target=target,
                           restore_time=clock.seconds_at(restore_at), started=started, completed=clock.now())
        elif check.kind == "dynamodb-backup":
            backup = taken[index]
            target = new_table_name(topology, check.table, "from-backup")
            ddb.restore_table_from_backup(TargetTableName=target, BackupArn=backup["arn"])
            ddb.get_waiter("table_exists").wait(TableName=target, WaiterConfig={"Delay": 20, "MaxAttempts": 360})
            record_restore(topology, kind=check.kind, region=region, source=backup["source"], target=target,
                           restore_time=backup["t"], started=started, completed=clock.now())
        elif s3_checks is not None and check.kind in S3Checks.KINDS:
            s3_checks.restore(index, check)
        elif check.kind == "aws-backup-restore-testing":
            continue  # its restore tests ran during the steady state
        elif check.kind in ("rds-pitr", "aurora-cluster-pitr"):
            restore_database_to_time(topology, clock.datetime(end - check.age).replace(microsecond=0), clock)
        elif check.kind == "rds-snapshot":
            snap = taken[index]
            rds.get_waiter("db_snapshot_available").wait(DBSnapshotIdentifier=snap["name"], WaiterConfig={"Delay": 30, "MaxAttempts": 120})
            target = f"{topology.name}-db-from-snapshot-{index}"
            started = clock.now()
            rds.restore_db_instance_from_db_snapshot(DBInstanceIdentifier=target, DBSnapshotIdentifier=snap["name"])
            wait_instance(topology, region, target, clock, what=f"restore of {target}")
            record_restore(topology, kind=check.kind, region=region, source=snap["source"], target=target,
                           restore_time=snap["t"], started=started, completed=clock.now(), store="sql",
                           db=db_target(topology, region, target, "instance"))
        else:  # aws-backup: the table's newest recovery point in the primary vault (the plan backs up buckets too)
            backup = dr.client("backup", region)
            vault = topology.primary.vault
            source = topology.table_name(check.table)
            suffix = f":table/{source}"
            latest = newest_recovery_point(backup, vault, lambda arn: arn.endswith(suffix))  # noqa: B023 - called at once
            if latest is None:
                raise DrConfigError(f"no recovery point of {source} in {vault} after the steady state; lengthen "
                                    "steady_state beyond the backup schedule")
            target = new_table_name(topology, check.table, "from-vault")
            job = backup.start_restore_job(RecoveryPointArn=latest["RecoveryPointArn"], Metadata={"targetTableName": target},
                                           IamRoleArn=backup_role(topology))["RestoreJobId"]
            def finished(j: str = job, b: Any = backup) -> bool | None:
                return b.describe_restore_job(RestoreJobId=j)["Status"] in ("COMPLETED", "FAILED") or None

            poll(clock, finished, every=60, timeout=6 * 3600, what=f"restore job {job}")
            record_restore(topology, kind=check.kind, region=region, source=source, target=target,
                           restore_time=clock.seconds_at(latest["CreationDate"]), started=started, completed=clock.now())
    results: list[RestoreResult] = dr.verify_restores()
    if any(c.kind == "aws-backup-restore-testing" for c in checks):
        from pytest_drtest.restore_tests import restore_tests_of

        for check in checks:
            if check.kind == "aws-backup-restore-testing":
                results += restore_tests_of(dr, check.name)
    bad = [r for r in results if not r.passed]
    if bad:
        raise AssertionError("restore check failed: " + "; ".join(r.story() for r in bad))
    return results


class S3Checks:
    """The ``s3-backup`` and ``s3-backup-pitr`` restore checks of :func:`run_restore_checks`.

    ``s3-backup``: an on-demand AWS Backup job of the bucket ``age`` before the end of the steady
    state, restored into a NEW bucket. ``s3-backup-pitr``: a backup plan with a continuous rule
    (hourly, 35 days) chooses the bucket when the checks start; its first run makes the continuous
    recovery point ("AWS Backup Developer Guide, Point-in-time recovery": a full backup, then every
    change), which is restored as of ``age`` before the end into a NEW bucket. Both compare with what
    the bucket held at the restore time (its objects' ETags, read then).
    """

    KINDS = ("s3-backup", "s3-backup-pitr")

    def __init__(self, dr: Any, topology: Topology) -> None:
        from pytest_drtest.topology.build import backup_role

        self.dr, self.topology, self.clock = dr, topology, dr.clock
        self.region = topology.primary_region
        self.backup = dr.client("backup", self.region)
        self.s3 = dr.client("s3", self.region)
        self.role = backup_role(topology)
        self.vault = f"{topology.name}-s3-checks"
        self.backup.create_backup_vault(BackupVaultName=self.vault)
        self.taken: dict[int, dict[str, Any]] = {}
        self.plans: dict[str, str] = {}  # bucket -> continuous plan id

    def bucket(self, check: Any) -> str:
        return self.topology.bucket_name(check.bucket or None, self.region)

    def prepare(self, index: int, check: Any, end: float) -> None:
        bucket = self.bucket(check)
        at = float(math.ceil(max(end - check.age, self.clock.now())))  # a whole second: RestoreTime has no fraction
        if check.kind == "s3-backup-pitr" and bucket not in self.plans:
            rule = {"RuleName": "continuous", "TargetBackupVaultName": self.vault, "ScheduleExpression": "cron(0 * ? * * *)",
                    "EnableContinuousBackup": True, "Lifecycle": {"DeleteAfterDays": 35}}
            plan = self.backup.create_backup_plan(BackupPlan={"BackupPlanName": f"{self.vault}-{bucket}"[:50], "Rules": [rule]})
            self.backup.create_backup_selection(BackupPlanId=plan["BackupPlanId"], BackupSelection={
                "SelectionName": "bucket", "IamRoleArn": self.role, "Resources": [f"arn:aws:s3:::{bucket}"]})
            self.plans[bucket] = plan["BackupPlanId"]
        self.clock.call_at(at, lambda: self._take(index, check, bucket), name=f"restore-check-{check.kind}")

    def _take(self, index: int, check: Any, bucket: str) -> None:
        """The restore time: what the bucket holds now (and, for ``s3-backup``, the backup job)."""
        record: dict[str, Any] = {"t": self.clock.now(), "bucket": bucket, "expected": bucket_etags(self.s3, bucket) or {}}
        if check.kind == "s3-backup":
            job = self.backup.start_backup_job(BackupVaultName=self.vault, ResourceArn=f"arn:aws:s3:::{bucket}",
                                               IamRoleArn=self.role)
            record.update(job=job["BackupJobId"], arn=job["RecoveryPointArn"])
        self.taken[index] = record

    def restore(self, index: int, check: Any) -> None:
        from pytest_drtest.errors import DrConfigError
        from pytest_drtest.recovery.steps import poll, record_restore

        taken = self.taken[index]
        bucket = taken["bucket"]
        metadata: dict[str, str] = {"NewBucket": "true"}
        if check.kind == "s3-backup":
            def backed_up() -> bool | None:
                return self.backup.describe_backup_job(BackupJobId=taken["job"])["State"] in ("COMPLETED", "FAILED") or None

            poll(self.clock, backed_up, every=60, timeout=6 * 3600, what=f"backup job {taken['job']}")
            arn = taken["arn"]
        else:
            points = [p for p in self.backup.list_recovery_points_by_resource(ResourceArn=f"arn:aws:s3:::{bucket}")
                      ["RecoveryPoints"] if ":recovery-point:continuous:" in p["RecoveryPointArn"]]
            created = min((self.clock.seconds_at(p["CreationDate"]) for p in points), default=None)
            if created is None or created > taken["t"]:
                raise DrConfigError(
                    f"{check.name}: the continuous backup of {bucket} does not reach back to the restore time (its "
                    "full backup runs at the first full hour after the checks start, then takes minutes); lengthen "
                    "steady_state or shorten age")
            arn = points[0]["RecoveryPointArn"]
            metadata["RestoreTime"] = self.clock.datetime(taken["t"]).isoformat()
        target = f"{bucket}-restored-{next(self.topology.serials)}"[:63]
        existed = True
        try:
            self.s3.head_bucket(Bucket=target)
        except botocore.exceptions.ClientError:
            existed = False
        started = self.clock.now()
        job = self.backup.start_restore_job(RecoveryPointArn=arn, IamRoleArn=self.role,
                                            Metadata={**metadata, "DestinationBucketName": target})["RestoreJobId"]

        def finished() -> bool | None:
            return self.backup.describe_restore_job(RestoreJobId=job)["Status"] in ("COMPLETED", "FAILED") or None

        poll(self.clock, finished, every=60, timeout=6 * 3600, what=f"restore job {job}")
        record_restore(self.topology, kind=check.kind, store="s3", region=self.region, source=bucket, target=target,
                       restore_time=taken["t"], started=started, completed=self.clock.now(),
                       expected=taken["expected"], target_existed=existed)
