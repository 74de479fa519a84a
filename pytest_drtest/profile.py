"""The latency profile: modeled durations, with published AWS figures as defaults.

Every entry is a fixed value or a ``[low, high]`` range in seconds, sampled uniformly with
the run's seeded RNG. Users override entries with a TOML profile file (``--dr-profile`` /
ini ``dr_profile``) and single keys (ini ``dr_latency`` lines ``key = 30s`` or ``key = 60s..120s``).
"""
from __future__ import annotations

import hashlib
import random
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_drtest.durations import parse_duration
from pytest_drtest.errors import DrConfigError


@dataclass(frozen=True)
class Figure:
    """One modeled figure: a range in seconds (low == high for a fixed value) and its source."""

    low: float
    high: float
    source: str
    unit: str = "s"

    @property
    def fixed(self) -> bool:
        return self.low == self.high

    def describe(self) -> str:
        if self.unit != "s":
            return f"{self.low:g}" if self.fixed else f"{self.low:g}..{self.high:g}"
        return f"{self.low:g}s" if self.fixed else f"{self.low:g}s..{self.high:g}s"


DEFAULTS: dict[str, Figure] = {
    # DynamoDB
    "dynamodb_replication_lag": Figure(0.5, 2.5, "DynamoDB developer guide, global tables how it works: usually < 1 s, 0.5-2.5 s common"),
    "dynamodb_pitr_latest_lag": Figure(300, 300, "DynamoDB developer guide, PITR: LatestRestorableDateTime is typically now - 5 min"),
    "dynamodb_restore_time": Figure(900, 3600, "DynamoDB developer guide, restores: 95% finish in under 1 h, not proportional to size"),
    "dynamodb_replica_create_time": Figure(
        120, 300, "CloudFormation user guide, AWS::DynamoDB::GlobalTable Replicas: adding a replica takes a few minutes "
        "for an empty table, up to several hours for large ones (a few minutes: the blueprints' small tables)"),
    # S3
    "s3_replication_lag": Figure(1, 15, "S3 user guide, Replication Time Control: most objects in seconds, 99.99% within 15 min"),
    "s3_glacier_expedited": Figure(60, 300, "S3 user guide, archive retrieval options: Expedited retrievals from "
                                   "S3 Glacier Flexible Retrieval typically within 1-5 minutes"),
    "s3_glacier_standard": Figure(10800, 18000, "S3 user guide, archive retrieval options: Standard retrievals from "
                                  "S3 Glacier Flexible Retrieval typically within 3-5 hours"),
    "s3_glacier_bulk": Figure(18000, 43200, "S3 user guide, archive retrieval options: Bulk retrievals from "
                              "S3 Glacier Flexible Retrieval typically within 5-12 hours"),
    "s3_deep_archive_standard": Figure(43200, 43200, "S3 user guide, archive retrieval options: Standard retrievals "
                                       "from S3 Glacier Deep Archive within 12 hours (modeled at the bound)"),
    "s3_deep_archive_bulk": Figure(172800, 172800, "S3 user guide, archive retrieval options: Bulk retrievals from "
                                   "S3 Glacier Deep Archive within 48 hours (modeled at the bound)"),
    # Route 53
    "route53_health_check_interval": Figure(30, 30, "Route 53 developer guide: RequestInterval 10 or 30 s (default 30)"),
    "route53_failure_threshold": Figure(3, 3, "Route 53 developer guide: FailureThreshold 1-10 (default 3)", unit="count"),
    "route53_record_ttl": Figure(60, 60, "Route 53 developer guide: 60 s or less advised for records with health checks"),
    "route53_change_propagation": Figure(20, 60, "Route 53 API reference: ChangeInfo INSYNC usually within 60 s"),
    # Compute
    "ec2_launch_time": Figure(60, 120, "EC2 Auto Scaling user guide: Pending -> InService (launch, boot, lifecycle)"),
    "app_warmup_time": Figure(300, 300, "EC2 Auto Scaling user guide, health check grace period: 300 s by default "
                              "(console) for a new instance's application to start after InService"),
    "stack_create_time": Figure(300, 900, "AWS CloudFormation user guide, stack creation events: CREATE_IN_PROGRESS "
                                "until each resource passes its consistency check (ALB 'provisioning', ELB user "
                                "guide); VPC + ALB + Auto Scaling group: minutes (no published figure)"),
    "elb_health_check_interval": Figure(30, 30, "ALB user guide, target group health checks: interval 30 s (default)"),
    "elb_unhealthy_threshold": Figure(2, 2, "ALB user guide: unhealthy threshold 2 (default)", unit="count"),
    "elb_healthy_threshold": Figure(5, 5, "ALB user guide: healthy threshold 5 (default)", unit="count"),
    # AWS Backup
    "backup_job_time": Figure(300, 1200, "AWS Backup developer guide: DynamoDB backup jobs complete in minutes (no SLA)"),
    "backup_copy_time": Figure(900, 2700, "AWS Backup developer guide: cross-Region copies take tens of minutes (no SLA)"),
    "backup_restore_time": Figure(900, 3600, "DynamoDB developer guide: 95% of restores finish in under 1 h"),
    "backup_s3_job_time": Figure(300, 1800, "AWS Backup developer guide, Amazon S3 backups: a backup job reads "
                                 "every object of the bucket; minutes for small buckets (no SLA)"),
    "backup_s3_restore_time": Figure(600, 3600, "AWS Backup developer guide, restoring S3 data: the objects are "
                                     "written into the destination bucket; minutes to an hour for small buckets (no SLA)"),
    # RDS / Aurora (relational tier)
    "rds_create_time": Figure(300, 900, "RDS user guide, creating a DB instance: creating -> available in minutes"),
    "rds_multi_az_failover": Figure(60, 120, "RDS user guide, Multi-AZ failover: typically 60-120 s"),
    "rds_reboot_time": Figure(10, 30, "RDS user guide, rebooting a DB instance: a brief outage"),
    "aurora_failover": Figure(20, 35, "Aurora FAQ / API reference: typically < 30-35 s"),
    "aurora_global_lag": Figure(0.2, 1.0, "Aurora user guide, global database: replication lag < 1 s"),
    "aurora_global_failover": Figure(30, 60, "Aurora user guide, global database: managed failover < 1 min"),
    "rds_replica_lag": Figure(0.5, 2.0, "RDS user guide, read replicas: asynchronous, ReplicaLag typically seconds"),
    "rds_promotion_time": Figure(60, 180, "RDS user guide, promoting a read replica: replica reboots, minutes"),
    "rds_snapshot_time": Figure(60, 300, "RDS user guide, snapshots: minutes"),
    "rds_snapshot_copy_time": Figure(600, 1800, "RDS user guide, cross-Region snapshot copy: tens of minutes"),
    "rds_restore_time": Figure(600, 1800, "RDS user guide, restore to a new instance: tens of minutes"),
    "rds_modify_class_time": Figure(600, 1200, "RDS user guide, modifying a DB instance: a DB instance class change "
                                    "has downtime; AWS Knowledge Center rds-performance-impact: a new host is built, "
                                    "the storage moved, the database recovered (no published figure; minutes)"),
    "rds_pitr_latest_lag": Figure(300, 300, "RDS user guide, PITR: transaction logs uploaded every 5 min"),
    # ElastiCache (Valkey / Redis OSS)
    "elasticache_create_time": Figure(300, 900, "ElastiCache user guide, creating a cluster: creating -> available "
                                      "in minutes (no published figure)"),
    "elasticache_replication_lag": Figure(0.01, 0.2, "ElastiCache user guide, replication: asynchronous "
                                          "(ReplicationLag metric), sub-second within a Region (no published figure)"),
    "elasticache_failover": Figure(10, 60, "ElastiCache user guide, Multi-AZ: a replica is promoted and the primary "
                                   "endpoint's DNS name follows it (no published duration; seconds to a minute)"),
    "elasticache_node_recovery_time": Figure(300, 900, "ElastiCache API reference, TestFailover: 'Recovering cache "
                                             "nodes' until 'Finished recovery' (minutes; no published figure)"),
    "elasticache_global_lag": Figure(0.2, 1.0, "ElastiCache user guide, Global Datastore: cross-Region replication "
                                     "latency typically under 1 s"),
    "elasticache_global_failover": Figure(30, 60, "ElastiCache user guide, Global Datastore: promoting a secondary "
                                          "Region to primary takes under a minute"),
    # DynamoDB Accelerator (DAX)
    "dax_create_time": Figure(300, 900, "DAX developer guide, creating a cluster: creating -> available in minutes "
                              "(no published figure)"),
    "dax_item_ttl": Figure(300, 300, "DAX developer guide, item cache: TTL 5 minutes by default (record-ttl-millis)"),
    "dax_node_replication_lag": Figure(0.1, 1.0, "DAX developer guide, consistency among cluster nodes: the primary's "
                                       "item cache replicates to the other nodes, eventually, usually in under 1 s"),
    "dax_failover": Figure(10, 30, "DAX developer guide, cluster components: a read replica becomes primary when the "
                           "primary fails (no published duration; seconds)"),
    # Amazon DocumentDB (instance-based clusters, global clusters)
    "docdb_create_time": Figure(300, 900, "DocumentDB developer guide, creating a cluster and its instances: "
                                "creating -> available in minutes (no published figure)"),
    "docdb_failover": Figure(15, 30, "DocumentDB developer guide, db-cluster-fault-tolerance: a failover to a "
                             "replica instance typically takes less than 30 seconds"),
    "docdb_global_lag": Figure(0.2, 1.0, "DocumentDB API reference, CreateGlobalCluster: storage-based replication "
                               "across Regions with latencies less than one second"),
    "docdb_global_failover": Figure(30, 60, "DocumentDB developer guide, global clusters: no published duration for a "
                                    "switchover or failover; modeled as Aurora global database's (under a minute)"),
    # Aurora Serverless v2
    "aurora_serverless_resume_time": Figure(15, 15, "Aurora user guide, aurora-serverless-v2-auto-pause (how auto-pause "
                                            "works): a paused instance resumes in about 15 seconds"),
    "aurora_serverless_acu_tps": Figure(100, 100, "Aurora user guide, aurora-serverless-v2.how-it-works: 1 ACU is about "
                                        "2 GiB of memory with the matching CPU and networking; the transactions per "
                                        "second it serves depend on the workload (no published figure: set your own)",
                                        unit="count"),
    "aurora_serverless_scaling_interval": Figure(10, 10, "Aurora user guide, aurora-serverless-v2.how-it-works: "
                                                 "capacity is adjusted continuously in 0.5 ACU increments, scaling up "
                                                 "within seconds (how often the emulation re-evaluates it)"),
    # Runbooks in AWS formats (SSM Automation aws:approve, ARC Region switch manual approval)
    "manual_approval_time": Figure(120, 600, "no AWS figure (a person answers): an on-call approver within minutes; set your team's"),
    "automation_poll_interval": Figure(5, 5, "no AWS figure: how often aws:waitForAwsResourceProperty and ARC Region switch steps re-read a resource"),
    # Amazon Data Lifecycle Manager (EBS snapshot policies)
    "dlm_start_delay": Figure(0, 3600, "EC2 user guide, Amazon Data Lifecycle Manager: the first snapshot is created "
                              "within one hour after the start time, later ones within one hour of their scheduled time"),
    "ebs_snapshot_time": Figure(60, 600, "EC2 user guide, EBS snapshots: the snapshot is pending until complete, which "
                                "takes longer for a volume's first snapshot (no published figure; minutes for small volumes)"),
    "ebs_snapshot_copy_time": Figure(900, 3600, "EC2 user guide, copy an EBS snapshot: cross-Region copies are best effort "
                                     "(time-based copies guarantee 15 min to 48 h); tens of minutes for small "
                                     "snapshots (no published figure)"),
}


class LatencyProfile:
    """Modeled durations for one run: defaults, a profile file, then single-key overrides."""

    def __init__(self, figures: Mapping[str, Figure] | None = None, *, seed: int = 0) -> None:
        self.figures: dict[str, Figure] = dict(DEFAULTS if figures is None else figures)
        self.seed = seed
        self.origins: dict[str, str] = {key: "default" for key in self.figures}
        self._rngs: dict[str, random.Random] = {}

    # -- building ---------------------------------------------------------------------------
    def override(self, key: str, value: Any, *, origin: str) -> None:
        """Set ``key`` from a duration, a number, ``"low..high"`` or a ``[low, high]`` list."""
        if key not in self.figures:
            known = ", ".join(sorted(self.figures))
            raise DrConfigError(f"unknown latency key {key!r}; expected one of: {known}", source=origin)
        base = self.figures[key]
        what = f"{origin}: {key}"
        if isinstance(value, list):
            if len(value) != 2:
                raise DrConfigError(f"expected [low, high], got {value!r}", source=origin, field=key)
            low, high = (self._number(v, what, base.unit) for v in value)
        elif isinstance(value, str) and ".." in value:
            left, right = value.split("..", 1)
            low, high = self._number(left, what, base.unit), self._number(right, what, base.unit)
        else:
            low = high = self._number(value, what, base.unit)
        if low > high:
            raise DrConfigError(f"low {low:g} is above high {high:g}", source=origin, field=key)
        self.figures[key] = Figure(low, high, f"override ({origin})", base.unit)
        self.origins[key] = origin

    @staticmethod
    def _number(value: Any, what: str, unit: str) -> float:
        if unit == "count":
            try:
                number = float(value)
            except (TypeError, ValueError):
                raise DrConfigError(f"{what}: expected a number, got {value!r}") from None
            if number < 0:
                raise DrConfigError(f"{what}: expected a non-negative number, got {value!r}")
            return number
        return parse_duration(value.strip() if isinstance(value, str) else value, what=what)

    def load_file(self, path: str | Path) -> None:
        """Apply a TOML profile file: a table ``[latency]`` of ``key = value`` entries."""
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise DrConfigError("profile file not found", source=str(path)) from None
        except tomllib.TOMLDecodeError as exc:
            raise DrConfigError(f"not valid TOML: {exc}", source=str(path)) from None
        table = data.get("latency", data)
        if not isinstance(table, dict):
            raise DrConfigError("expected a table of latency keys", source=str(path), field="latency")
        for key, value in table.items():
            self.override(key, value, origin=str(path))

    def apply_lines(self, lines: Iterable[str], *, origin: str) -> None:
        """Apply ``key = value`` lines (the ``dr_latency`` ini option)."""
        for raw in lines:
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if "=" not in line:
                raise DrConfigError(f"expected 'key = value', got {line!r}", source=origin)
            key, value = (part.strip() for part in line.split("=", 1))
            self.override(key, value, origin=origin)

    # -- use ----------------------------------------------------------------------------------
    def rng(self, stream: str) -> random.Random:
        """A seeded RNG per stream, so that one consumer does not shift another's draws."""
        if stream not in self._rngs:
            digest = hashlib.sha256(f"{self.seed}:{stream}".encode()).digest()
            self._rngs[stream] = random.Random(int.from_bytes(digest[:8], "big"))
        return self._rngs[stream]

    def sample(self, key: str, stream: str | None = None) -> float:
        """Draw ``key`` (seconds, or a count) from its range.

        Each ``(key, stream)`` pair has its own RNG, seeded from the run's seed, the key and the
        stream with SHA-256 (never Python's ``hash()``, which changes per process): emulators name
        the stream after the operation and the resource (``"restore:us-east-1/orders-pitr"``), so
        that two resources draw different figures and the same seed gives the same figures.
        """
        figure = self.figures[key]
        if figure.fixed:
            return figure.low
        return self.rng(f"{key}|{stream}" if stream else key).uniform(figure.low, figure.high)

    def value(self, key: str) -> float:
        """The midpoint of ``key``'s range (for settings such as intervals and thresholds)."""
        figure = self.figures[key]
        return (figure.low + figure.high) / 2

    def table(self) -> list[tuple[str, str, str]]:
        """Rows ``(key, value, source)`` for the docs and the report header."""
        return [(key, fig.describe(), fig.source) for key, fig in sorted(self.figures.items())]
