"""Cluster snapshots and restores into NEW clusters: from a snapshot, or to a point in time.

[AUR-UG:aurora-pitr]: a restore through the API creates a cluster without instances; until it is
done its ``EarliestRestorableTime``/``LatestRestorableTime`` are null
([AUR-UG:Aurora.Managing.Backups]). It holds exactly the data as of the time (PostgreSQL's WAL
replayed to it). moto ignores the restore time and makes snapshots ``available`` at once.
"""
from __future__ import annotations

import contextlib
import logging
from typing import Any

from botocore.utils import parse_to_aware_datetime

from pytest_drtest.emulation.aurora.models import (
    AVAILABLE,
    AuroraCluster,
    ClusterSnapshot,
    cluster_key,
)
from pytest_drtest.emulation.aurora.storage import Storage
from pytest_drtest.emulation.core import AwsError, Call
from pytest_drtest.emulation.rds_common import (
    TIME_EPSILON,
    parse_rds_arn,
    password_at,
    rds_arn,
)

log = logging.getLogger("pytest_drtest.emulation.aurora")


class SnapshotsAndRestores(Storage):
    """``CreateDBClusterSnapshot`` and its kin, ``RestoreDBClusterFromSnapshot``, ``RestoreDBClusterToPointInTime``."""

    def before_CreateDBClusterSnapshot(self, call: Call) -> dict[str, Any] | None:
        cluster = self.clusters.get(cluster_key(call.region, call.params.get("DBClusterIdentifier", "")))
        if cluster is None or cluster.deleted:
            return None
        if cluster.status != AVAILABLE:
            raise self._not_available(cluster)
        key = cluster_key(call.region, call.params["DBClusterSnapshotIdentifier"])
        if key in self.snapshots:
            raise AwsError("DBClusterSnapshotAlreadyExistsFault", f"Cannot create the snapshot because a snapshot with "
                           f"the identifier {key[1]} already exists.", 400)
        return None

    def after_CreateDBClusterSnapshot(self, call: Call) -> None:
        cluster = self.clusters.get(cluster_key(call.region, call.params.get("DBClusterIdentifier", "")))
        if cluster is None or cluster.deleted or call.parsed is None:
            return
        snap = self._take_snapshot(cluster, call.parsed["DBClusterSnapshot"]["DBClusterSnapshotIdentifier"])
        self._snapshot_fields(snap, call.parsed["DBClusterSnapshot"])

    def after_DescribeDBClusterSnapshots(self, call: Call) -> None:
        if call.parsed is None:
            return
        for item in call.parsed.get("DBClusterSnapshots", []):
            snap = self.snapshots.get(cluster_key(call.region, item.get("DBClusterSnapshotIdentifier", "")))
            if snap is not None:
                self._snapshot_fields(snap, item)
                continue
            cluster = self.clusters.get(cluster_key(call.region, item.get("DBClusterIdentifier", "")))
            if cluster is not None and not cluster.deleted and item.get("SnapshotType") == "automated":
                self._automated_snapshot_fields(cluster, item)

    def _automated_snapshot_fields(self, cluster: AuroraCluster, item: dict[str, Any]) -> None:
        """moto names and stamps a cluster's automated snapshot with the wall clock; AWS with its time,
        ``rds:<cluster>-YYYY-MM-DD-HH-MM`` (AWS's example ``rds:sample-cluster-2016-09-14-10-38``,
        [BC:rds] examples-1.json CopyDBClusterSnapshot)."""
        when = self.clock.datetime(cluster.restorable_from if cluster.restorable_from is not None else cluster.created)
        shown = f"rds:{cluster.id}-{when.strftime('%Y-%m-%d-%H-%M')}"
        cluster.automated_snapshot_ids[shown] = str(item.get("DBClusterSnapshotIdentifier", ""))
        item["DBClusterSnapshotIdentifier"] = shown
        item["DBClusterSnapshotArn"] = rds_arn(cluster.region, "cluster-snapshot", shown)
        item["SnapshotCreateTime"] = when
        item["ClusterCreateTime"] = self.clock.datetime(cluster.created)

    # -- an automated cluster snapshot named by its clock-dated name (see core.Emulation) -------
    def _translate(self, params: dict[str, Any], region: str, member: str) -> None:
        name = params.get(member)
        if not isinstance(name, str):
            return
        arn_region, ident = parse_rds_arn(name)
        if not ident.startswith("rds:"):
            return
        home = arn_region or region
        for cluster in self._live_clusters(region=home):
            if not ident.startswith(f"rds:{cluster.id}-"):
                continue
            if ident not in cluster.automated_snapshot_ids:
                with contextlib.suppress(Exception):  # learn moto's name from its listing
                    rows = self.backdoor(home).describe_db_cluster_snapshots(
                        DBClusterIdentifier=cluster.id, SnapshotType="automated")["DBClusterSnapshots"]
                    for row in rows:
                        self._automated_snapshot_fields(cluster, dict(row))
            moto_id = cluster.automated_snapshot_ids.get(ident)
            if moto_id is not None:
                params[member] = rds_arn(home, "cluster-snapshot", moto_id) if arn_region else moto_id
            return

    def translate_DescribeDBClusterSnapshots(self, params: dict[str, Any], region: str) -> None:
        self._translate(params, region, "DBClusterSnapshotIdentifier")

    translate_DeleteDBClusterSnapshot = translate_DescribeDBClusterSnapshots
    translate_DescribeDBClusterSnapshotAttributes = translate_DescribeDBClusterSnapshots
    translate_ModifyDBClusterSnapshotAttribute = translate_DescribeDBClusterSnapshots

    def translate_RestoreDBClusterFromSnapshot(self, params: dict[str, Any], region: str) -> None:
        self._translate(params, region, "SnapshotIdentifier")

    def translate_CopyDBClusterSnapshot(self, params: dict[str, Any], region: str) -> None:
        self._translate(params, region, "SourceDBClusterSnapshotIdentifier")

    def after_DeleteDBClusterSnapshot(self, call: Call) -> None:
        snap = self.snapshots.pop(cluster_key(call.region, call.params.get("DBClusterSnapshotIdentifier", "")), None)
        if snap is None:
            return
        if call.parsed is not None:
            self._snapshot_fields(snap, call.parsed["DBClusterSnapshot"])
            call.parsed["DBClusterSnapshot"]["Status"] = "deleted"
        plane = self._plane()
        if plane is not None and snap.data is not None:
            plane.delete_snapshot(snap.data)

    def before_RestoreDBClusterFromSnapshot(self, call: Call) -> dict[str, Any] | None:
        arn_region, name = parse_rds_arn(call.params.get("SnapshotIdentifier", ""))
        snap = self.snapshots.get(cluster_key(arn_region or call.region, name))
        if snap is None:
            return None
        if snap.status != AVAILABLE:
            raise AwsError("InvalidDBClusterSnapshotStateFault", f"DB cluster snapshot {snap.id} is {snap.status}", 400)
        target_key = cluster_key(call.region, call.params["DBClusterIdentifier"])
        if target_key in self.clusters and not self.clusters[target_key].deleted:
            raise AwsError("DBClusterAlreadyExistsFault", f"DB cluster {target_key[1]} already exists", 400)
        call.context["dr_aurora_snapshot"] = snap
        return None

    def after_RestoreDBClusterFromSnapshot(self, call: Call) -> None:
        snap: ClusterSnapshot | None = call.context.get("dr_aurora_snapshot")
        if snap is None or call.parsed is None:
            return
        item = call.parsed["DBCluster"]
        cluster = self._new_cluster(call.region, item, call.params)
        cluster.master_user, cluster.master_password = snap.master_user, snap.master_password
        cluster.database_name = snap.database_name
        cluster.port = int(call.params.get("Port") or snap.port)
        plane = self._plane()
        if plane is not None and snap.data is not None:
            cluster.head = plane.restore_snapshot(snap.data, self._server_name(cluster, "snap"))
        self._configure_volume(cluster)
        self._restored(cluster, f"Restored from snapshot {snap.id}.", item,
                       origin=f"{snap.id}@{self.clock.datetime(snap.created).isoformat()}")

    def before_RestoreDBClusterToPointInTime(self, call: Call) -> dict[str, Any] | None:
        params = call.params
        arn_region, name = parse_rds_arn(params.get("SourceDBClusterIdentifier") or "")
        source = self.clusters.get(cluster_key(arn_region or call.region, name))
        if source is None or source.deleted:
            raise AwsError("DBClusterNotFoundFault", f"DBCluster {name} not found.", 404)
        target_key = cluster_key(call.region, params["DBClusterIdentifier"])
        if target_key in self.clusters and not self.clusters[target_key].deleted:
            raise AwsError("DBClusterAlreadyExistsFault", f"DB cluster {target_key[1]} already exists", 400)
        restore_time = params.get("RestoreToTime")
        latest = bool(params.get("UseLatestRestorableTime"))
        copy_on_write = params.get("RestoreType") == "copy-on-write"
        if restore_time is not None and latest:
            raise AwsError("InvalidParameterCombination",
                           "Cannot specify both RestoreToTime and UseLatestRestorableTime", 400)
        if restore_time is not None and copy_on_write:
            raise AwsError("InvalidParameterCombination",
                           "RestoreToTime cannot be specified when RestoreType is copy-on-write", 400)
        window = self._restore_window(source)
        if window is None:
            raise AwsError("InvalidDBClusterStateFault", f"DB cluster {source.id} is still being restored", 400)
        if restore_time is not None:
            # a datetime, an ISO 8601 string or epoch seconds, as botocore accepts a timestamp
            t = self.clock.seconds_at(parse_to_aware_datetime(restore_time))
            if not window[0] - TIME_EPSILON <= t <= window[1] + TIME_EPSILON:
                raise AwsError(
                    "InvalidRestoreFault",
                    f"Restore time {self.clock.datetime(t).isoformat()} is outside the restorable window "
                    f"{self.clock.datetime(window[0]).isoformat()} - {self.clock.datetime(window[1]).isoformat()}", 400)
            t = min(max(t, window[0]), window[1])
        elif latest:
            t = window[1]
        elif copy_on_write:
            t = self.clock.now()  # a clone shares the current pages
        else:
            raise AwsError("InvalidParameterCombination", "Specify RestoreToTime or UseLatestRestorableTime", 400)
        if source.replica is not None:
            raise AwsError("InvalidDBClusterStateFault",
                           f"DB cluster {source.id} is a global secondary: restore from the primary cluster", 400)
        call.context["dr_aurora_restore"] = (source, t)
        return None

    def after_RestoreDBClusterToPointInTime(self, call: Call) -> None:
        source, t = call.context.get("dr_aurora_restore", (None, None))
        if source is None or call.parsed is None:
            return
        item = call.parsed["DBCluster"]
        cluster = self._new_cluster(call.region, item, call.params, like=source)
        cluster.port = int(call.params.get("Port") or source.port)
        restored_password = password_at(source.master_password, source.password_changes, t)
        cluster.master_password = restored_password if restored_password is not None else ""
        plane = self._plane()
        if plane is not None and source.head is not None:
            cluster.head = plane.restore_to_time(source.head, t, self._server_name(cluster, "pitr"))
            plane.snapshot(cluster.head)  # the restored cluster's own PITR base
        self._configure_volume(cluster)
        self._restored(cluster, f"Restored from DB cluster {source.id} to {cluster.id}.", item,
                       origin=f"{source.id}@{self.clock.datetime(t).isoformat()}")

    def _take_snapshot(self, cluster: AuroraCluster, identifier: str) -> ClusterSnapshot:
        """A base backup of the volume now; ``creating`` -> ``available`` after ``rds_snapshot_time``."""
        snap = ClusterSnapshot(
            id=identifier.lower(), region=cluster.region, cluster_id=cluster.id,
            created=self.clock.now(), master_user=cluster.master_user, master_password=cluster.master_password,
            database_name=cluster.database_name, port=cluster.port,
        )
        plane = self._plane()
        if plane is not None and cluster.head is not None and cluster.head.running:
            snap.data = plane.snapshot(cluster.head, f"csnap{next(self._names)}")
        self.snapshots[cluster_key(cluster.region, snap.id)] = snap
        self._event(cluster.region, snap.id, "db-cluster-snapshot", "RDS-EVENT-0074",
                    "Creating manual cluster snapshot.", "backup")

        def available() -> None:
            snap.status = AVAILABLE
            self._event(cluster.region, snap.id, "db-cluster-snapshot", "RDS-EVENT-0075",
                        "Manual cluster snapshot created.", "backup")

        self.later(self._sample("rds_snapshot_time", f"snapshot:{cluster.region}/{snap.id}"), available,
                   name=f"aurora:snapshot:{snap.id}")
        return snap

    def _snapshot_fields(self, snap: ClusterSnapshot, item: dict[str, Any]) -> None:
        item["Status"] = snap.status
        item["PercentProgress"] = 100 if snap.status == AVAILABLE else 0
        item["SnapshotCreateTime"] = self.clock.datetime(snap.created)
        cluster = self.clusters.get(cluster_key(snap.region, snap.cluster_id))
        if cluster is not None:
            item["ClusterCreateTime"] = self.clock.datetime(cluster.created)

    def _restored(self, cluster: AuroraCluster, message: str, item: dict[str, Any], origin: str) -> None:
        """A restored cluster: ``creating`` for ``rds_restore_time``, no instances, no restore window yet."""
        cluster.restorable_from = None

        def done() -> None:
            cluster.restorable_from = self.clock.now()
            self._cluster_event(cluster, "RDS-EVENT-0170", "DB cluster created.", "creation")
            log.debug(message)

        self._schedule_available(cluster, "rds_restore_time", created_event=False, then=done, origin=origin)
        self._proxies(cluster)
        self._route(cluster)
        self._cluster_fields(cluster, item)
