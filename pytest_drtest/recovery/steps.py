"""Runbook steps shared by the shipped runbooks: detect, scale, warm up, restore, resize, deploy, repoint DNS.

Modeled waits (``app_warmup_time``, ``stack_create_time``, ``rds_modify_class_time`` where the
emulator applies a change at once) are drawn from the latency profile and slept on the clock, on
emulated backends only: on ``aws`` the real service takes its own time.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import botocore.exceptions

from pytest_drtest.errors import DrError

if TYPE_CHECKING:
    from pytest_drtest.clock import Clock
    from pytest_drtest.topology.model import RegionStack, Topology

T = TypeVar("T")


class RunbookFailed(DrError):
    """A runbook step did not reach its goal in time."""


def modeled_wait(topology: Topology, clock: Clock, key: str, *, what: str) -> float:
    """Sleep a draw of the profile's ``key`` on a modeled clock (0 on a real one); the seconds slept."""
    if not clock.modeled:
        return 0.0
    seconds = topology.profile.sample(key, stream=f"runbook.{key}")
    clock.sleep(seconds)
    return seconds


def poll(clock: Clock, check: Callable[[], T | None], *, every: float, timeout: float, what: str) -> T:
    """Call ``check`` every ``every`` seconds of the clock until it returns a value."""
    deadline = clock.now() + timeout
    while True:
        value = check()
        if value is not None and value is not False:
            return value
        if clock.now() >= deadline:
            raise RunbookFailed(f"{what}: not done after {timeout:.0f} s")
        clock.sleep(every)


def wait_unhealthy(topology: Topology, stack: RegionStack, clock: Clock, *, timeout: float = 3600) -> None:
    """Detection: poll Route 53 until most checkers report the region's endpoint failing."""
    r53 = topology.clients.client("route53", "us-east-1")
    if stack.health_check_id is None:
        raise RunbookFailed(f"the {stack.role} region has no health check to watch")

    def failing() -> bool:
        observations = r53.get_health_check_status(HealthCheckId=stack.health_check_id)["HealthCheckObservations"]
        bad = sum(1 for o in observations if o["StatusReport"]["Status"].startswith("Failure"))
        return bool(observations) and bad * 2 > len(observations)

    poll(clock, failing, every=10, timeout=timeout, what=f"health check of {stack.region}")
    topology.note("detected", f"health check of {stack.region} failing")


def scale(topology: Topology, stack: RegionStack, desired: int, clock: Clock, *, timeout: float = 1800) -> None:
    """Scale a region's ASG and wait (polling) until ``desired`` instances are InService."""
    asg = topology.clients.client("autoscaling", stack.region)
    group = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[stack.asg_name])["AutoScalingGroups"][0]
    asg.update_auto_scaling_group(
        AutoScalingGroupName=stack.asg_name, DesiredCapacity=desired,
        MaxSize=max(group["MaxSize"], desired), MinSize=min(group["MinSize"], desired),
    )
    topology.note("scale-up-started", f"{stack.asg_name} -> {desired}")

    def in_service() -> bool:
        groups = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[stack.asg_name])["AutoScalingGroups"]
        ready = [i for i in groups[0]["Instances"] if i["LifecycleState"] == "InService" and i["HealthStatus"] == "Healthy"]
        return len(ready) >= desired

    poll(clock, in_service, every=15, timeout=timeout, what=f"scaling {stack.asg_name} to {desired}")
    stack.capacity = desired
    topology.note("scaled", f"{stack.asg_name} at {desired} InService")


def start_warm_up(topology: Topology, stack: RegionStack, clock: Clock) -> float:
    """The application's start-up on instances that just went InService (``app_warmup_time``, the
    Auto Scaling health check grace period): returns the clock time it is warm, and notes ``app-warm``
    then. The emulated web tier serves an instance as soon as it is InService (no lifecycle hooks),
    so a runbook waits for this time before it sends the region traffic it controls (a database it
    repoints, a DNS record it switches)."""
    if not clock.modeled:
        return clock.now()
    warm_at = clock.now() + topology.profile.sample("app_warmup_time", stream="runbook.app_warmup_time")
    clock.call_at(warm_at, lambda: topology.note("app-warm", f"{stack.asg_name}: the application serves"), name="app-warm")
    return warm_at


def sleep_until(clock: Clock, t: float) -> None:
    if t > clock.now():
        clock.sleep(t - clock.now())


def deploy_stack(topology: Topology, stack: RegionStack, clock: Clock) -> None:
    """Backup & restore: deploy the region's stack — VPC, subnets, ALB, launch template, Auto Scaling
    group at 0 — the way IaC (CloudFormation) would, and wait out its creation (``stack_create_time``)."""
    from pytest_drtest.topology.build import build_compute

    topology.note("stack-deploy-started", stack.region)
    build_compute(topology, stack, 0)
    modeled_wait(topology, clock, "stack_create_time", what=f"stack of {stack.region}")
    topology.note("stack-created", f"{stack.region}: {stack.asg_name}, {stack.alb_dns}")


def point_dns_at(topology: Topology, stack: RegionStack, clock: Clock) -> None:
    """UPSERT the application's record to the region's ALB and wait until INSYNC (botocore waiter)."""
    from pytest_drtest.topology.build import change_records, record_set

    change_id = change_records(topology, [record_set(topology, stack)], "UPSERT")
    topology.clients.client("route53", "us-east-1").get_waiter("resource_record_sets_changed").wait(
        Id=change_id, WaiterConfig={"Delay": 10, "MaxAttempts": 60}
    )
    topology.note("dns-switched", f"{topology.fqdn} -> {stack.alb_dns}")


def new_table_name(topology: Topology, logical: str, how: str) -> str:
    return f"{topology.name}-{logical}-{how}-{next(topology.serials)}"


def record_restore(topology: Topology, **fields: Any) -> None:
    """Remember a restore for the harness's restore check (contents against the ledger); a restored
    table is deleted at teardown with the rest of the topology (backends without a reset: LocalStack)."""
    topology.restores.append(fields)
    if topology.tag_restores:
        tag_restored(topology, fields)
    target, region = fields.get("target"), fields.get("region")
    if fields.get("store") == "s3":
        if target and region and target != fields.get("source"):
            s3 = topology.clients.client("s3", region)
            topology.cleanup.push(f"bucket {target}", lambda: empty_and_delete_bucket(s3, target))
    elif fields.get("store") != "sql" and target and region:
        ddb = topology.clients.client("dynamodb", region)
        topology.cleanup.push(f"table {target}", lambda: ddb.delete_table(TableName=target))


def tag_restored(topology: Topology, fields: dict[str, Any]) -> None:
    """On a real account, tag what a restore created with the run's tags (``drtest:run``...): a
    restore does not carry its source's tags over (DynamoDB ``RestoreTableToPointInTime`` takes
    none), and teardown there finds by tag what to delete. A restore in place (S3 versioning, a
    copy back into the source bucket) created nothing."""
    from pytest_drtest.topology.build import account_of, run_tags

    target, region, tags = fields.get("target"), fields.get("region"), run_tags(topology)
    if not target or not region or target == fields.get("source"):
        return
    if fields.get("store") == "s3":
        s3 = topology.clients.client("s3", region)
        try:
            held = s3.get_bucket_tagging(Bucket=target)["TagSet"]
        except botocore.exceptions.ClientError:
            held = []  # NoSuchTagSet
        keys = {t["Key"] for t in tags}
        s3.put_bucket_tagging(Bucket=target, Tagging={"TagSet": [t for t in held if t["Key"] not in keys] + tags})
    elif fields.get("store") == "sql":
        db = fields.get("db") or {"id": target, "kind": "instance"}
        rds = topology.clients.client("rds", region)
        prefix = f"arn:aws:rds:{region}:{account_of(topology)}"
        names = [f"{prefix}:db:{db['id']}"] if db["kind"] == "instance" else [f"{prefix}:cluster:{db['id']}"]
        if db["kind"] == "cluster":  # and the instances the restore added to it
            cluster = rds.describe_db_clusters(DBClusterIdentifier=db["id"])["DBClusters"][0]
            names += [f"{prefix}:db:{m['DBInstanceIdentifier']}" for m in cluster.get("DBClusterMembers", [])]
        for name in names:
            rds.add_tags_to_resource(ResourceName=name, Tags=tags)
    else:
        ddb = topology.clients.client("dynamodb", region)
        ddb.tag_resource(ResourceArn=ddb.describe_table(TableName=target)["Table"]["TableArn"], Tags=tags)


def empty_and_delete_bucket(s3: Any, bucket: str) -> None:
    """Delete every version and delete marker of ``bucket``, then the bucket."""
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        for entry in page.get("Versions", []) + page.get("DeleteMarkers", []):
            s3.delete_object(Bucket=bucket, Key=entry["Key"], VersionId=entry["VersionId"])
    s3.delete_bucket(Bucket=bucket)


# -- relational tier -----------------------------------------------------------------------------------
def wait_instance(topology: Topology, region: str, ident: str, clock: Clock, *, what: str, timeout: float = 7200) -> dict[str, Any]:
    rds = topology.clients.client("rds", region)

    def ready() -> dict[str, Any] | None:
        instance: dict[str, Any] = rds.describe_db_instances(DBInstanceIdentifier=ident)["DBInstances"][0]
        return instance if instance["DBInstanceStatus"] == "available" else None

    return poll(clock, ready, every=30, timeout=timeout, what=what)


def start_promotion(topology: Topology) -> str | None:
    """Promote the DR region's cross-region read replica (non-blocking); return its id."""
    replica = topology.dr.database
    if topology.blueprint.database is None or replica is None or topology.strategy.name == "active-active":
        return None
    topology.clients.client("rds", topology.dr_region).promote_read_replica(DBInstanceIdentifier=replica)
    topology.note("db-promotion-started", replica)
    return replica


def wait_promoted(topology: Topology, replica: str, clock: Clock) -> None:
    """Wait until the promoted replica is a standalone writable instance."""
    rds = topology.clients.client("rds", topology.dr_region)

    def promoted() -> bool:
        instance = rds.describe_db_instances(DBInstanceIdentifier=replica)["DBInstances"][0]
        return bool(instance["DBInstanceStatus"] == "available" and not instance.get("ReadReplicaSourceDBInstanceIdentifier"))

    poll(clock, promoted, every=15, timeout=3600, what=f"promotion of {replica}")


def point_dr_app_at(topology: Topology, replica: str) -> None:
    from pytest_drtest.topology.build import db_target

    topology.app_config[topology.dr_region]["db"] = db_target(topology, topology.dr_region, replica, "instance")
    topology.note("db-promoted", replica)


def finish_promotion(topology: Topology, replica: str, clock: Clock) -> None:
    """Wait until the promoted replica is a standalone writable instance, then repoint the DR app."""
    wait_promoted(topology, replica, clock)
    point_dr_app_at(topology, replica)


def resize_database(topology: Topology, ident: str, clock: Clock, *, timeout: float = 7200) -> None:
    """Scale a DR instance up to the blueprint's production class (a pilot light's replica is a smaller
    one): ``ModifyDBInstance(DBInstanceClass=..., ApplyImmediately=True)``, then wait until it is
    ``available`` in that class. Where the emulator applies the change at once (no ``modifying``
    state, no pending class), the modification's time is modeled here (``rds_modify_class_time``)."""
    spec = topology.blueprint.database
    if spec is None:
        return
    rds = topology.clients.client("rds", topology.dr_region)
    current = rds.describe_db_instances(DBInstanceIdentifier=ident)["DBInstances"][0]
    if current["DBInstanceClass"] == spec.instance_class:
        return
    rds.modify_db_instance(DBInstanceIdentifier=ident, DBInstanceClass=spec.instance_class, ApplyImmediately=True)
    topology.note("db-resize-started", f"{ident}: {current['DBInstanceClass']} -> {spec.instance_class}")
    after = rds.describe_db_instances(DBInstanceIdentifier=ident)["DBInstances"][0]
    pending = (after.get("PendingModifiedValues") or {}).get("DBInstanceClass")
    if after["DBInstanceStatus"] == "modifying" or pending:

        def resized() -> bool:
            instance = rds.describe_db_instances(DBInstanceIdentifier=ident)["DBInstances"][0]
            return bool(instance["DBInstanceStatus"] == "available" and instance["DBInstanceClass"] == spec.instance_class)

        poll(clock, resized, every=30, timeout=timeout, what=f"{ident} modified to {spec.instance_class}")
    else:
        modeled_wait(topology, clock, "rds_modify_class_time", what=f"{ident} modified to {spec.instance_class}")
    topology.note("db-resized", f"{ident} is {spec.instance_class}")


def fail_over_global_database(topology: Topology, clock: Clock) -> None:
    """Aurora global database: fail over to the DR region's cluster (AllowDataLoss), repoint writes."""
    from pytest_drtest.topology.build import db_target

    secondary = topology.dr.database
    global_id = topology.global_cluster
    if topology.blueprint.database is None or global_id is None or secondary is None:
        return
    rds = topology.clients.client("rds", topology.dr_region)
    arn = rds.describe_db_clusters(DBClusterIdentifier=secondary)["DBClusters"][0]["DBClusterArn"]
    rds.failover_global_cluster(GlobalClusterIdentifier=global_id, TargetDbClusterIdentifier=arn, AllowDataLoss=True)
    topology.note("db-failover-started", secondary)

    def writer() -> bool:
        cluster = rds.describe_global_clusters(GlobalClusterIdentifier=global_id)["GlobalClusters"][0]
        members = {m["DBClusterArn"]: m for m in cluster.get("GlobalClusterMembers", [])}
        return bool(cluster.get("Status") == "available" and members.get(arn, {}).get("IsWriter", False))

    poll(clock, writer, every=10, timeout=1800, what=f"global failover to {secondary}")
    topology.app_config[topology.dr_region]["db"] = db_target(topology, topology.dr_region, secondary, "cluster")
    topology.note("db-promoted", secondary)


def start_snapshot_restore(topology: Topology) -> dict[str, Any] | None:
    """Backup & restore: restore the newest snapshot copied to the DR region into a NEW instance."""
    if topology.blueprint.database is None or topology.primary.database is None:
        return None
    rds = topology.clients.client("rds", topology.dr_region)
    snapshots = [s for s in rds.describe_db_snapshots(SnapshotType="manual")["DBSnapshots"] if s["Status"] == "available"]
    if not snapshots:
        raise RunbookFailed(f"no database snapshot reached {topology.dr_region}")
    latest = max(snapshots, key=lambda s: s.get("OriginalSnapshotCreateTime") or s["SnapshotCreateTime"])
    target = f"{topology.name}-db-restored-{next(topology.serials)}"
    rds.restore_db_instance_from_db_snapshot(DBInstanceIdentifier=target, DBSnapshotIdentifier=latest["DBSnapshotIdentifier"])
    topology.note("db-restore-started", f"{latest['DBSnapshotIdentifier']} -> {target}")
    created = latest.get("OriginalSnapshotCreateTime") or latest["SnapshotCreateTime"]
    return {"target": target, "snapshot": latest["DBSnapshotIdentifier"], "restore_time": topology.clock.seconds_at(created),
            "started": topology.clock.now()}


def finish_snapshot_restore(topology: Topology, job: dict[str, Any], clock: Clock) -> None:
    from pytest_drtest.topology.build import db_target

    wait_instance(topology, topology.dr_region, job["target"], clock, what=f"restore of {job['target']}")
    target = db_target(topology, topology.dr_region, job["target"], "instance")
    topology.app_config[topology.dr_region]["db"] = target
    topology.note("db-restored", job["target"])
    record_restore(topology, kind="rds-snapshot", region=topology.dr_region, source_region=topology.primary_region,
                   source=topology.primary.database, target=job["target"], restore_time=job["restore_time"],
                   started=job["started"], completed=clock.now(), store="sql", db=target)


def restore_database_to_time(topology: Topology, restore_at: Any, clock: Clock) -> dict[str, Any]:
    """PITR of the primary database into a NEW instance/cluster; returns its target."""
    from pytest_drtest.topology.build import db_target

    current = topology.app_config[topology.primary_region]["db"]
    rds = topology.clients.client("rds", current["region"])
    started = clock.now()
    if current["kind"] == "cluster":
        new = f"{topology.name}-db-pitr-{next(topology.serials)}"
        rds.restore_db_cluster_to_point_in_time(DBClusterIdentifier=new, SourceDBClusterIdentifier=current["id"], RestoreToTime=restore_at)
        rds.get_waiter("db_cluster_available").wait(DBClusterIdentifier=new, WaiterConfig={"Delay": 30, "MaxAttempts": 240})
        rds.create_db_instance(DBInstanceIdentifier=f"{new}-writer", DBClusterIdentifier=new, Engine="aurora-postgresql",
                               DBInstanceClass=topology.blueprint.database.instance_class if topology.blueprint.database else "db.r6g.large")
        wait_instance(topology, current["region"], f"{new}-writer", clock, what=f"writer of {new}")
        target, kind = db_target(topology, current["region"], new, "cluster"), "aurora-cluster-pitr"
    else:
        new = f"{topology.name}-db-pitr-{next(topology.serials)}"
        rds.restore_db_instance_to_point_in_time(SourceDBInstanceIdentifier=current["id"], TargetDBInstanceIdentifier=new, RestoreTime=restore_at)
        wait_instance(topology, current["region"], new, clock, what=f"PITR of {current['id']}")
        target, kind = db_target(topology, current["region"], new, "instance"), "rds-pitr"
    record_restore(topology, kind=kind, region=current["region"], source=current["id"], target=new,
                   restore_time=clock.seconds_at(restore_at), started=started, completed=clock.now(), store="sql", db=target)
    return target


# -- AWS Backup recovery points ----------------------------------------------------------------------
def newest_recovery_point(backup: Any, vault: str | None, resource_arn: Callable[[str], bool],
                          *, before: Callable[[Any], bool] | None = None) -> dict[str, Any] | None:
    """The newest ``AVAILABLE``/``COMPLETED`` recovery point of ``vault`` whose ``ResourceArn`` satisfies
    ``resource_arn`` (and whose ``CreationDate`` satisfies ``before``, if given); None if there is none
    or no vault."""
    if not vault:
        return None
    points = [p for p in backup.list_recovery_points_by_backup_vault(BackupVaultName=vault)["RecoveryPoints"]
              if p.get("Status") in ("AVAILABLE", "COMPLETED") and resource_arn(p.get("ResourceArn", ""))
              and (before is None or before(p["CreationDate"]))]
    return max(points, key=lambda p: p["CreationDate"]) if points else None


# -- buckets (AWS Backup for S3) ---------------------------------------------------------------------
def start_bucket_restores(topology: Topology) -> list[dict[str, Any]]:
    """Backup & restore: for each bucket of the primary region, ``StartRestoreJob`` of its newest recovery
    point copied to the DR vault into a NEW bucket of the DR region ("AWS Backup Developer Guide,
    Restoring S3 data": ``DestinationBucketName``, ``NewBucket``); notes ``bucket-restore-started``.
    A bucket with no recovery point in the DR vault is not restored (its objects count as lost)."""
    from pytest_drtest.topology.build import backup_role

    dr = topology.dr
    if not topology.primary.buckets or dr.vault is None:
        return []
    backup = topology.clients.client("backup", dr.region)
    jobs = []
    for logical, bucket in sorted(topology.primary.buckets.items()):
        latest = newest_recovery_point(backup, dr.vault, f"arn:aws:s3:::{bucket}".__eq__)
        if latest is None:
            topology.note("bucket-not-restored", f"no recovery point of {bucket} in {dr.vault} ({dr.region})")
            continue
        target = f"{topology.name}-{logical}-{dr.region}-restored-{next(topology.serials)}"[:63]
        job = backup.start_restore_job(RecoveryPointArn=latest["RecoveryPointArn"], IamRoleArn=backup_role(topology),
                                       Metadata={"DestinationBucketName": target, "NewBucket": "true"})["RestoreJobId"]
        topology.note("bucket-restore-started", f"{bucket} as of {latest['CreationDate']:%H:%M:%S} -> {target}")
        jobs.append({"job": job, "logical": logical, "source": bucket, "target": target, "started": topology.clock.now(),
                     "restore_time": topology.clock.seconds_at(latest["CreationDate"])})
    return jobs


def bucket_restores_done(topology: Topology, jobs: list[dict[str, Any]]) -> bool:
    """Whether every bucket restore job completed; each one that did is recorded (``s3-backup``, with
    the job's own ``CompletionDate``: a runbook asks while it waits for its other restores) and the DR
    region's application is pointed at its bucket, once."""
    from pytest_drtest.measure import split_object_key

    backup = topology.clients.client("backup", topology.dr_region)
    for job in jobs:
        if job.get("done"):
            continue
        status = backup.describe_restore_job(RestoreJobId=job["job"])
        if status["Status"] in ("FAILED", "ABORTED"):
            raise RunbookFailed(f"restore job {job['job']} of {job['source']} {status['Status']}: {status.get('StatusMessage', '')}")
        if status["Status"] != "COMPLETED":
            continue
        job["done"] = True
        expected = {split_object_key(name)[1]: etag for name, etag in topology.objects.state_as_of(job["restore_time"]).items()
                    if split_object_key(name)[0] == job["logical"]}
        record_restore(topology, kind="s3-backup", store="s3", region=topology.dr_region, source_region=topology.primary_region,
                       source=job["source"], target=job["target"], restore_time=job["restore_time"], started=job["started"],
                       completed=topology.clock.seconds_at(status["CompletionDate"]) if status.get("CompletionDate")
                       else topology.clock.now(), expected=expected)
        topology.point_app_at_bucket(topology.dr_region, job["logical"], job["target"])
    return all(job.get("done") for job in jobs)


# -- archive (S3 Glacier Flexible Retrieval) -------------------------------------------------------------
#: How often the runbook asks ``HeadObject`` whether the archive's restore is done, by tier (a fraction
#: of the tier's shortest time: S3 user guide, "Archive retrieval options")
ARCHIVE_POLL = {"Expedited": 15.0, "Standard": 60.0, "Bulk": 60.0}


def start_archive_restore(topology: Topology) -> dict[str, Any] | None:
    """Backup & restore: ``RestoreObject`` of the release archive in the DR region's S3 Glacier Flexible
    Retrieval bucket with the blueprint's tier (``[backup] archive_restore_tier``), for 1 day; notes
    ``glacier-restore-started``. None when the topology keeps no archive."""
    from pytest_drtest.topology.build import ARCHIVE_KEY

    bucket = topology.dr.archive
    if bucket is None:
        return None
    tier = topology.blueprint.archive_restore_tier
    topology.clients.client("s3", topology.dr_region).restore_object(
        Bucket=bucket, Key=ARCHIVE_KEY, RestoreRequest={"Days": 1, "GlacierJobParameters": {"Tier": tier}})
    topology.note("glacier-restore-started", f"s3://{bucket}/{ARCHIVE_KEY} ({tier})")
    return {"bucket": bucket, "key": ARCHIVE_KEY, "tier": tier, "started": topology.clock.now()}


def archive_restored(topology: Topology, job: dict[str, Any]) -> bool:
    """Whether ``HeadObject`` reports ``Restore: ongoing-request="false"`` for the archive (S3 user guide,
    "Checking the restore status"); the first time it does, note ``glacier-restored`` with the tier and
    how long the restore took. A runbook calls this while it waits for its other restores too, so that
    the milestone is the restore's own end, not the end of the wait before it."""
    from pytest_drtest.durations import format_duration

    if job.get("done"):
        return True
    head = topology.clients.client("s3", topology.dr_region).head_object(Bucket=job["bucket"], Key=job["key"])
    if 'ongoing-request="false"' not in str(head.get("Restore", "")):
        return False
    job["done"] = True
    topology.note("glacier-restored", f"{job['tier']}, {format_duration(topology.clock.now() - job['started'])}")
    return True


def finish_archive_restore(topology: Topology, job: dict[str, Any], clock: Clock) -> None:
    """Wait until the archive's restore is done (:func:`archive_restored`)."""
    poll(clock, lambda: archive_restored(topology, job), every=ARCHIVE_POLL[job["tier"]], timeout=13 * 3600,
         what=f"{job['tier']} restore of s3://{job['bucket']}/{job['key']}")


# -- cache (ElastiCache global datastore) ------------------------------------------------------------
def start_cache_failover(topology: Topology) -> str | None:
    """Warm standby, active/active with a ``[cache]``: ``FailoverGlobalReplicationGroup`` to the DR
    region's secondary (non-blocking; ElastiCache user guide, "Promoting the secondary cluster to
    primary"); the global datastore's id, None when the topology has no cache."""
    gds, secondary = topology.cache_global, topology.dr.cache
    if gds is None or secondary is None:
        return None
    topology.clients.client("elasticache", topology.dr_region).failover_global_replication_group(
        GlobalReplicationGroupId=gds, PrimaryRegion=topology.dr_region, PrimaryReplicationGroupId=secondary)
    topology.note("cache-failover-started", f"{gds} -> {secondary}")
    return gds


def wait_cache_failover(topology: Topology, gds: str, clock: Clock) -> None:
    """Wait until the global datastore is ``available`` with the DR group as its ``PRIMARY`` member
    (``DescribeGlobalReplicationGroups`` with ``ShowMemberInfo``); note ``cache-promoted``."""
    ec = topology.clients.client("elasticache", topology.dr_region)
    secondary = topology.dr.cache

    def promoted() -> bool:
        found = ec.describe_global_replication_groups(GlobalReplicationGroupId=gds, ShowMemberInfo=True)["GlobalReplicationGroups"][0]
        roles = {(m["ReplicationGroupRegion"], m["ReplicationGroupId"]): m.get("Role") for m in found.get("Members", [])}
        return bool(found["Status"] == "available" and roles.get((topology.dr_region, secondary)) == "PRIMARY")

    poll(clock, promoted, every=10, timeout=1800, what=f"global failover of {gds}")
    topology.note("cache-promoted", f"{secondary} is the primary of {gds}")
