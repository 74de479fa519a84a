"""The shipped runbooks.

- ``dns-failover`` (pilot light, warm standby): wait for the primary's health check to fail,
  promote the DR replica, scale the DR ASG to full capacity (new instances boot and warm up), scale
  the promoted database to the production class when it is smaller (a pilot light's), then point the
  DR application at it; Route 53 failover records move traffic by themselves.
- ``shift-traffic`` (active/active): wait for the failing region's health check, scale the
  surviving region up to take all traffic; latency records shift by themselves.
- ``restore-from-backup`` (backup & restore): wait for detection, restore each data store (the
  newest recovery point copied to the DR vault into a NEW table, each bucket's newest recovery point
  copied there into a NEW bucket of the DR region, the newest DB snapshot copied to the DR region into
  a NEW instance) and the release archive kept in S3 Glacier Flexible Retrieval (with the blueprint's
  ``[backup] archive_restore_tier``), all in parallel; deploy the DR region's stack configured with
  them (its application reads the restored buckets), launch and warm up its instances, repoint DNS.
- ``pitr-restore`` (data corruption): restore the table (or database) as of one second before the
  corruption into a NEW one (waiting until that time is restorable), repoint the application, and
  copy back the changes made after the restore point that the corruption did not touch.
- ``undelete-objects`` (objects deleted from a versioned bucket, the ``delete-objects`` fault):
  make each deleted object's version as of just before the deletion current again, in place — the
  delete markers removed, or the previous version copied on top when newer versions exist
  (:mod:`pytest_drtest.recovery.s3`); objects deleted with every version cannot come back this way.
- ``copy-back-from-replica`` (objects deleted from a replicated bucket, the ``delete-objects``
  fault): copy each deleted object's version as of just before the deletion from the DR region's
  Cross-Region Replication replica back into the bucket (:func:`pytest_drtest.recovery.s3.copy_back_from_replica`);
  deletes by version ID are never replicated, so this also brings back objects deleted with every version.
- ``restore-bucket-from-backup`` (backup & restore, the ``delete-objects`` fault): before the steady
  state, add the topology's buckets to its AWS Backup plan (the rule every 4 h, copied to the DR
  vault); after the deletion, restore the newest recovery point of the bucket made before it into a
  NEW bucket ("AWS Backup Developer Guide, Restoring S3 data"), recorded as an ``s3-backup`` restore.
- ``none``: nothing (in-region HA is expected to heal by itself, e.g. an AZ outage).
"""
from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pytest_drtest.config import import_callable
from pytest_drtest.errors import DrConfigError
from pytest_drtest.recovery.steps import (
    RunbookFailed,
    archive_restored,
    bucket_restores_done,
    deploy_stack,
    fail_over_global_database,
    finish_archive_restore,
    finish_snapshot_restore,
    new_table_name,
    newest_recovery_point,
    point_dns_at,
    point_dr_app_at,
    poll,
    record_restore,
    resize_database,
    restore_database_to_time,
    scale,
    sleep_until,
    start_archive_restore,
    start_bucket_restores,
    start_cache_failover,
    start_promotion,
    start_snapshot_restore,
    start_warm_up,
    wait_cache_failover,
    wait_promoted,
    wait_unhealthy,
)

if TYPE_CHECKING:
    from pytest_drtest.clock import Clock
    from pytest_drtest.topology.model import Topology

Runbook = Callable[["Topology", "Clock"], None]


def dns_failover(topology: Topology, clock: Clock) -> None:
    """Pilot light and warm standby ("Disaster Recovery of Workloads on AWS", pilot light: switch on
    and scale out the application servers, promote and scale the data tier; warm standby: scale up)."""
    wait_unhealthy(topology, topology.primary, clock)
    replica = start_promotion(topology)
    cache = start_cache_failover(topology)
    cold = topology.dr.capacity == 0  # pilot light: no application server runs in the DR region yet
    scale(topology, topology.dr, topology.blueprint.capacity, clock)
    warm_at = start_warm_up(topology, topology.dr, clock) if cold else clock.now()
    if replica is not None:
        wait_promoted(topology, replica, clock)
        resize_database(topology, replica, clock)
    if cache is not None:
        wait_cache_failover(topology, cache, clock)
    sleep_until(clock, warm_at)
    if replica is not None:
        point_dr_app_at(topology, replica)


def shift_traffic(topology: Topology, clock: Clock) -> None:
    wait_unhealthy(topology, topology.primary, clock)
    cache = start_cache_failover(topology)
    fail_over_global_database(topology, clock)
    if cache is not None:
        wait_cache_failover(topology, cache, clock)
    scale(topology, topology.dr, topology.blueprint.capacity * 2, clock)


def restore_from_backup(topology: Topology, clock: Clock) -> None:
    """Backup & restore ("Disaster Recovery of Workloads on AWS", backup and restore: restore the data
    from backups, deploy the infrastructure with IaC, then switch DNS): the restores — the table, the
    database, the release archive out of S3 Glacier — run in parallel, the stack is deployed with
    them, then instances launch and warm up."""
    from pytest_drtest.topology.build import backup_role

    primary, dr = topology.primary, topology.dr
    wait_unhealthy(topology, primary, clock)
    backup = topology.clients.client("backup", dr.region)
    logical = topology.probe_table
    source = primary.tables[logical]
    latest = newest_recovery_point(backup, dr.vault, lambda arn: arn.endswith(f"table/{source}"))
    if latest is None:
        raise RunbookFailed(f"no recovery point of {source} reached the DR vault {dr.vault} in {dr.region}")
    topology.note("recovery-point-chosen", f"{latest['RecoveryPointArn']} of {latest['CreationDate']:%H:%M:%S}")
    target = new_table_name(topology, logical, "restored")
    started = clock.now()
    job = backup.start_restore_job(
        RecoveryPointArn=latest["RecoveryPointArn"], Metadata={"targetTableName": target},
        IamRoleArn=backup_role(topology), ResourceType="DynamoDB",
    )["RestoreJobId"]

    def finished() -> dict[str, Any] | None:
        if archive_job is not None:
            archive_restored(topology, archive_job)  # in parallel: noted when it ends, not after this wait
        bucket_restores_done(topology, bucket_jobs)
        status: dict[str, Any] = backup.describe_restore_job(RestoreJobId=job)
        if status["Status"] in ("FAILED", "ABORTED"):
            raise RunbookFailed(f"restore job {job} {status['Status']}: {status.get('StatusMessage', '')}")
        return status if status["Status"] == "COMPLETED" else None

    db_job = start_snapshot_restore(topology)
    archive_job = start_archive_restore(topology)
    bucket_jobs = start_bucket_restores(topology)
    poll(clock, finished, every=60, timeout=6 * 3600, what=f"restore job {job}")
    topology.note("table-restored", target)
    dr.tables[logical] = target
    record_restore(
        topology, kind="aws-backup-restore", region=dr.region, source_region=primary.region, source=source, target=target,
        restore_time=clock.seconds_at(latest["CreationDate"]), started=started, completed=clock.now(),
    )
    if db_job is not None:
        finish_snapshot_restore(topology, db_job, clock)
    poll(clock, lambda: bucket_restores_done(topology, bucket_jobs) or None, every=60, timeout=6 * 3600,
         what="restore jobs of the buckets")
    if archive_job is not None:
        finish_archive_restore(topology, archive_job, clock)
    topology.app_config.setdefault(dr.region, {})["table"] = target
    deploy_stack(topology, dr, clock)
    scale(topology, dr, topology.blueprint.capacity, clock)
    sleep_until(clock, start_warm_up(topology, dr, clock))
    point_dns_at(topology, dr, clock)


def pitr_restore(topology: Topology, clock: Clock) -> None:
    """Restore to one second before the corruption into a NEW table or database, repoint the
    application, then copy back what changed after the restore point and the corruption did not touch
    (:mod:`pytest_drtest.recovery.reapply`)."""
    faults = [f for f in topology.faults if f.kind in ("corrupt-table", "corrupt-database")]
    if not faults:
        raise RunbookFailed("pitr-restore needs a corrupt-table or corrupt-database fault to know when the corruption happened")
    fault = faults[-1]
    if fault.kind == "corrupt-database":
        _pitr_database(topology, clock, fault)
    else:
        _pitr_table(topology, clock, fault)


def _pitr_database(topology: Topology, clock: Clock, fault: Any) -> None:
    from pytest_drtest.recovery.reapply import reapply_sql, sql_snapshot

    if getattr(fault, "database", ""):
        raise RunbookFailed(f"pitr-restore restores the topology's database, not {fault.database!r}: write your own runbook")
    restore_at = clock.datetime(fault.injected_at - 1.0).replace(microsecond=0)
    topology.note("detected", f"corruption of the database noticed ({fault.record.get('mode')})")
    poll(clock, lambda: latest_restorable_time(topology) >= restore_at, every=30, timeout=3600,
         what="restore time within the PITR window")
    damaged = {"kind": fault.record["kind"], "region": fault.record["region"], "id": fault.record["database"], "reader": False}
    target = restore_database_to_time(topology, restore_at, clock)
    record = topology.restores[-1]
    restored = sql_snapshot(topology, target)
    for region in (topology.primary_region, topology.dr_region):
        if topology.app_config.get(region, {}).get("db", {}).get("id") == fault.record["database"]:
            topology.app_config[region]["db"] = target
    topology.note("app-repointed", f"database -> {target['id']}")
    done = reapply_sql(topology, damaged, target, restored, fault.corrupted)
    record["reapplied"] = list(done.copied)
    topology.note("writes-reapplied", done.describe(fault.record["database"]))


def _pitr_table(topology: Topology, clock: Clock, fault: Any) -> None:
    from pytest_drtest.recovery.reapply import reapply_table, table_items

    region = fault.record["region"]
    source = fault.record["table"]
    ddb = topology.clients.client("dynamodb", region)
    restore_t = fault.injected_at - 1.0
    restore_at = clock.datetime(restore_t).replace(microsecond=0)
    topology.note("detected", f"corruption of {source} noticed")

    def restorable() -> bool:
        window = ddb.describe_continuous_backups(TableName=source)["ContinuousBackupsDescription"]
        latest = window["PointInTimeRecoveryDescription"].get("LatestRestorableDateTime")
        return latest is not None and latest >= restore_at

    poll(clock, restorable, every=30, timeout=3600, what=f"{restore_at:%H:%M:%S} restorable for {source}")
    logical = next((k for k, v in topology.stack(region).tables.items() if v == source), topology.probe_table)
    target = new_table_name(topology, logical, "pitr")
    started = clock.now()
    ddb.restore_table_to_point_in_time(SourceTableName=source, TargetTableName=target, RestoreDateTime=restore_at)
    ddb.get_waiter("table_exists").wait(TableName=target, WaiterConfig={"Delay": 20, "MaxAttempts": 360})
    topology.note("table-restored", f"{target} as of {restore_at:%H:%M:%S}")
    record_restore(
        topology, kind="dynamodb-pitr", region=region, source=source, target=target,
        restore_time=clock.seconds_at(restore_at), started=started, completed=clock.now(),
    )
    record = topology.restores[-1]
    keys = [k["AttributeName"] for k in sorted(ddb.describe_table(TableName=source)["Table"]["KeySchema"],
                                                key=lambda k: k["KeyType"] != "HASH")]
    restored = table_items(ddb, target, keys)
    if topology.app_config.get(region, {}).get("table") == source:
        topology.app_config[region]["table"] = target
        topology.note("app-repointed", f"{region} -> {target}")
    done = reapply_table(ddb, source, target, restored, keys, fault.corrupted_keys)
    record["reapplied"] = [str(next(iter(json.loads(k)[keys[0]].values()))) for k in done.copied]
    topology.note("writes-reapplied", done.describe(source))


def undelete_objects(topology: Topology, clock: Clock) -> None:
    """Recover the objects the last ``delete-objects`` fault deleted with S3 Versioning, in place, as of
    just before the deletion ([S3-UG:ManagingDelMarkers]: to undelete an object, delete its delete marker)."""
    from pytest_drtest.recovery.s3 import recover_versions

    faults = [f for f in topology.faults if f.kind == "delete-objects"]
    if not faults:
        raise RunbookFailed("undelete-objects needs a delete-objects fault to know which objects were deleted, and when")
    fault = faults[-1]
    bucket, region = fault.record["bucket"], fault.record["region"]
    s3 = topology.clients.client("s3", region)
    # the versions as of 1 ms before the deletes (listings' LastModified has milliseconds)
    as_of_t = fault.injected_at - 0.001
    topology.note("detected", f"{len(fault.deleted)} objects missing from {bucket}")
    if s3.get_bucket_versioning(Bucket=bucket).get("Status") != "Enabled":
        raise RunbookFailed(f"{bucket} is not versioned: deleted objects cannot be recovered from the bucket")
    started = clock.now()
    done = recover_versions(s3, bucket, clock.datetime(as_of_t), keys=list(fault.deleted))
    topology.note("objects-recovered", done.describe(bucket))
    record_restore(topology, kind="s3-versioning", store="s3", region=region, source=bucket, target=bucket,
                   restore_time=as_of_t, started=started, completed=clock.now(), expected=dict(fault.etags))


def copy_back_objects(topology: Topology, clock: Clock) -> None:
    """Recover the objects the last ``delete-objects`` fault deleted from the primary bucket by copying them
    back from its CRR replica in the DR region, as of just before the deletion
    ([S3-UG:replication-what-is-isnot-replicated]: replication is one-way; deletes by version ID are not
    replicated; delete markers only with ``DeleteMarkerReplication``, so the version is read from the replica's history)."""
    from pytest_drtest.recovery.s3 import copy_back_from_replica

    faults = [f for f in topology.faults if f.kind == "delete-objects"]
    if not faults:
        raise RunbookFailed("copy-back-from-replica needs a delete-objects fault to know which objects were deleted, and when")
    fault = faults[-1]
    bucket, region = fault.record["bucket"], fault.record["region"]
    logical = next((k for k, v in topology.primary.buckets.items() if v == bucket), None)
    replica = topology.dr.buckets.get(logical) if logical is not None and region == topology.primary_region else None
    if replica is None:
        raise RunbookFailed(f"{bucket} has no Cross-Region Replication replica to copy back from (replication runs "
                            f"from the primary region's buckets to the DR region's, where the strategy replicates)")
    as_of_t = fault.injected_at - 0.001  # listings' LastModified has milliseconds
    topology.note("detected", f"{len(fault.deleted)} objects missing from {bucket}")
    started = clock.now()
    done = copy_back_from_replica(topology.clients.client("s3", topology.dr_region), replica,
                                  topology.clients.client("s3", region), bucket, clock.datetime(as_of_t), list(fault.deleted))
    topology.note("objects-recovered", done.describe(bucket, replica))
    record_restore(topology, kind="s3-replica-copy", store="s3", region=region, source=replica,
                   source_region=topology.dr_region, target=bucket, restore_time=as_of_t, started=started,
                   completed=clock.now(), expected=dict(fault.etags))


class RestoreBucketFromBackup:
    """Recover the objects the last ``delete-objects`` fault deleted from an AWS Backup recovery point of
    the bucket, restored into a NEW bucket ("AWS Backup Developer Guide, Restoring S3 data": the latest
    version of each object as of the recovery point, ``NewBucket`` creates the destination).

    :meth:`prepare` (before the steady state) selects the primary region's buckets into the topology's
    backup plan (the backup & restore strategy's: every 4 h, copied to the DR vault; AWS Backup needs the
    bucket versioned, which the topology's are), so that the scheduled rule backs them up. The recovery
    point restored is the newest one of the bucket in the primary vault created before the fault; what
    the bucket gained after it and the fault deleted is not in it (lost: the check shows it)."""

    def prepare(self, topology: Topology, clock: Clock, emulation: Any = None) -> None:
        from pytest_drtest.topology.build import backup_role

        if topology.backup_plan_id is None:
            raise RunbookFailed("restore-bucket-from-backup needs the topology's AWS Backup plan (the backup & "
                                "restore strategy's); without one, recover a versioned bucket with undelete-objects")
        backup = topology.clients.client("backup", topology.primary_region)
        plan_id = topology.backup_plan_id
        selected = {arn for entry in backup.list_backup_selections(BackupPlanId=plan_id)["BackupSelectionsList"]
                    for arn in backup.get_backup_selection(BackupPlanId=plan_id, SelectionId=entry["SelectionId"])
                    ["BackupSelection"].get("Resources", [])}
        wanted = [f"arn:aws:s3:::{bucket}" for bucket in topology.primary.buckets.values()]
        if all(arn in selected for arn in wanted):
            return  # the plan backs them up already (the shipped backup & restore topology's does)
        selection = backup.create_backup_selection(BackupPlanId=plan_id, BackupSelection={
            "SelectionName": f"{topology.name}-buckets", "IamRoleArn": backup_role(topology),
            "Resources": [arn for arn in wanted if arn not in selected],
        })["SelectionId"]
        topology.cleanup.push("bucket backup selection",
                              lambda: backup.delete_backup_selection(BackupPlanId=plan_id, SelectionId=selection))

    def __call__(self, topology: Topology, clock: Clock) -> None:
        from pytest_drtest.topology.build import backup_role

        faults = [f for f in topology.faults if f.kind == "delete-objects"]
        if not faults:
            raise RunbookFailed("restore-bucket-from-backup needs a delete-objects fault to know which objects were deleted, and when")
        fault = faults[-1]
        bucket, region = fault.record["bucket"], fault.record["region"]
        topology.note("detected", f"{len(fault.deleted)} objects missing from {bucket}")
        backup = topology.clients.client("backup", region)
        vault = topology.stack(region).vault
        latest = newest_recovery_point(backup, vault, f"arn:aws:s3:::{bucket}".__eq__,
                                       before=lambda created: clock.seconds_at(created) < fault.injected_at)
        if latest is None:
            raise RunbookFailed(f"no recovery point of {bucket} made before the deletion in the vault {vault or '(none)'} "
                                f"of {region}: is the bucket in a backup plan, and did its rule run during the steady state?")
        topology.note("recovery-point-chosen", f"{latest['RecoveryPointArn']} of {latest['CreationDate']:%H:%M:%S}")
        target = f"{bucket}-restored-{next(topology.serials)}"[:63]
        started = clock.now()
        job = backup.start_restore_job(RecoveryPointArn=latest["RecoveryPointArn"], IamRoleArn=backup_role(topology),
                                       Metadata={"DestinationBucketName": target, "NewBucket": "true"})["RestoreJobId"]

        def finished() -> dict[str, Any] | None:
            status: dict[str, Any] = backup.describe_restore_job(RestoreJobId=job)
            if status["Status"] in ("FAILED", "ABORTED"):
                raise RunbookFailed(f"restore job {job} {status['Status']}: {status.get('StatusMessage', '')}")
            return status if status["Status"] == "COMPLETED" else None

        poll(clock, finished, every=60, timeout=6 * 3600, what=f"restore job {job}")
        topology.note("objects-recovered", f"{bucket} as of {latest['CreationDate']:%H:%M:%S} restored into {target}")
        logical = next((k for k, v in topology.stack(region).buckets.items() if v == bucket), None)
        if logical is not None:  # the application reads the restored bucket from now on
            topology.point_app_at_bucket(region, logical, target)
        # the check compares the objects the fault deleted (the restored bucket holds the others too)
        record_restore(topology, kind="s3-backup", store="s3", region=region, source=bucket, target=target,
                       restore_time=clock.seconds_at(latest["CreationDate"]), started=started, completed=clock.now(),
                       expected=dict(fault.etags), only_expected=True)


def latest_restorable_time(topology: Topology) -> _dt.datetime:
    """``LatestRestorableTime`` of the application's database, as RDS reports it."""
    target = topology.app_config[topology.primary_region]["db"]
    rds = topology.clients.client("rds", target["region"])
    if target["kind"] == "cluster":
        latest = rds.describe_db_clusters(DBClusterIdentifier=target["id"])["DBClusters"][0]["LatestRestorableTime"]
    else:
        latest = rds.describe_db_instances(DBInstanceIdentifier=target["id"])["DBInstances"][0]["LatestRestorableTime"]
    assert isinstance(latest, _dt.datetime)
    return latest


def no_runbook(topology: Topology, clock: Clock) -> None:
    """In-region HA heals by itself (e.g. the ASG replaces instances lost with an AZ)."""


RUNBOOKS: dict[str, Runbook] = {
    "dns-failover": dns_failover,
    "shift-traffic": shift_traffic,
    "restore-from-backup": restore_from_backup,
    "pitr-restore": pitr_restore,
    "undelete-objects": undelete_objects,
    "copy-back-from-replica": copy_back_objects,
    "restore-bucket-from-backup": RestoreBucketFromBackup(),
    "none": no_runbook,
}


def resolve_runbook(ref: str | Runbook, *, source: str = "", field: str = "runbook") -> Runbook:
    """A shipped runbook by name, ``"module:function"``, or a callable."""
    if callable(ref):
        return ref
    if not isinstance(ref, str):
        raise DrConfigError(f"expected a runbook name or 'module:function', got {ref!r}", source=source, field=field)
    if ref in RUNBOOKS:
        return RUNBOOKS[ref]
    if ":" in ref:
        runbook: Runbook = import_callable(ref, what="runbook ", source=source, field=field)
        return runbook
    raise DrConfigError(
        f"unknown runbook {ref!r}; expected one of {', '.join(RUNBOOKS)} or 'module:function'", source=source, field=field
    )

