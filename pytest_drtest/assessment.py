"""Which DR strategy a built topology really implements, and what to change when the figures say so.

:func:`assess_topology` asks AWS (describe calls through the topology's clients, before any fault)
what the DR region holds, following the strategy table of the whitepaper *Disaster Recovery of
Workloads on AWS*: is compute running there (Auto Scaling ``DescribeAutoScalingGroups``), is data
replicated continuously (DynamoDB ``DescribeTable`` ``Replicas``, S3 ``GetBucketReplication``, RDS
``DescribeDBInstances`` ``ReadReplicaSourceDBInstanceIdentifier``, Aurora ``DescribeGlobalClusters``,
ElastiCache ``DescribeGlobalReplicationGroups`` with ``ShowMemberInfo``: a ``SECONDARY`` member in the
DR region) or only
backed up and copied (AWS Backup ``GetBackupPlan`` ``CopyActions``), and how Route 53 routes
(``ListResourceRecordSets``: failover, latency or weighted records). :func:`recommendations` works on
the JSON report's data only, so it also runs on a merged or an older report.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pytest_drtest.durations import format_duration

if TYPE_CHECKING:
    from pytest_drtest.topology.model import Topology

#: Cheapest first (the whitepaper's order of cost and complexity).
STRATEGY_ORDER = ("backup-restore", "pilot-light", "warm-standby", "active-active")
LABELS = {
    "backup-restore": "backup & restore",
    "pilot-light": "pilot light",
    "warm-standby": "warm standby",
    "active-active": "active/active",
    "none": "no DR copy",
}
BANDS = {  # the whitepaper's RPO/RTO words, with the default objectives of strategies.py
    "backup-restore": "hours",
    "pilot-light": "tens of minutes",
    "warm-standby": "minutes",
    "active-active": "near real time",
}


def label(strategy: str) -> str:
    return LABELS.get(strategy, strategy)


@dataclass
class TopologyAssessment:
    """What the DR region of a built topology holds, as AWS describes it."""

    declared: str
    implemented: str
    dr_compute: str  # none (no group), zero (group at 0), reduced, full
    primary_instances: int = 0
    dr_instances: int = 0
    replication: list[str] = field(default_factory=list)  # continuous mechanisms
    backups: list[str] = field(default_factory=list)  # cross-region backup copies
    routing: str = "unknown"  # failover, latency, weighted, simple, unknown
    notes: list[str] = field(default_factory=list)  # describe calls that failed

    @property
    def matches(self) -> bool:
        return self.declared == self.implemented

    def evidence(self) -> str:
        compute = {
            "none": "no compute in the DR region",
            "zero": "DR compute scaled to 0",
            "reduced": f"DR compute running scaled down ({self.dr_instances} of {self.primary_instances} instances)",
            "full": f"DR compute running at full size ({self.dr_instances} instances)",
        }.get(self.dr_compute, self.dr_compute)
        data = (
            "data replicated continuously (" + ", ".join(self.replication) + ")" if self.replication
            else "data only backed up (" + ", ".join(self.backups) + ")" if self.backups
            else "no data copy in the DR region"
        )
        return f"{compute}; {data}; Route 53 {self.routing} routing"

    def as_dict(self) -> dict[str, Any]:
        return {
            "declared": self.declared, "implemented": self.implemented, "dr_compute": self.dr_compute,
            "primary_instances": self.primary_instances, "dr_instances": self.dr_instances,
            "replication": list(self.replication), "backups": list(self.backups), "routing": self.routing,
            "notes": list(self.notes), "evidence": self.evidence(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TopologyAssessment:
        return cls(
            str(data["declared"]), str(data["implemented"]), str(data["dr_compute"]), int(data.get("primary_instances", 0)),
            int(data.get("dr_instances", 0)), list(data.get("replication", [])), list(data.get("backups", [])),
            str(data.get("routing", "unknown")), list(data.get("notes", [])),
        )


def implemented_strategy(dr_compute: str, replicated: bool, backed_up: bool, routing: str) -> str:
    """The whitepaper's strategy for what the DR region holds."""
    if not replicated:
        return "backup-restore" if backed_up else "none"
    if dr_compute in ("none", "zero"):
        return "pilot-light"
    if dr_compute == "full" and routing in ("latency", "weighted", "multivalue", "geolocation"):
        return "active-active"
    return "warm-standby"  # scaled down, or full size behind failover routing (a "hot standby")


def _in_service(group: dict[str, Any]) -> int:
    return sum(1 for i in group.get("Instances", []) if i.get("LifecycleState") == "InService")


def assess_topology(topology: Topology) -> TopologyAssessment:
    """Describe the topology's resources and derive the strategy they implement (call before a fault)."""
    notes: list[str] = []
    primary, dr = topology.primary, topology.dr

    def call(what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - an unanswered describe call is evidence, not a crash
            notes.append(f"{what}: {type(exc).__name__}: {exc}"[:200])
            return None

    def group_of(region: str, name: str | None) -> dict[str, Any] | None:
        asg = topology.client("autoscaling", region)
        kwargs = {"AutoScalingGroupNames": [name]} if name else {
            "Filters": [{"Name": "tag:drtest:topology", "Values": [topology.name]}]
        }
        answer = call(f"DescribeAutoScalingGroups in {region}", asg.describe_auto_scaling_groups, **kwargs)
        groups = (answer or {}).get("AutoScalingGroups", [])
        return groups[0] if groups else None

    primary_group = group_of(primary.region, primary.asg_name)
    dr_group = group_of(dr.region, dr.asg_name) if dr.asg_name else None
    primary_n = _in_service(primary_group) if primary_group else 0
    if dr_group is None:
        dr_compute, dr_n = "none", 0
    else:
        dr_n = _in_service(dr_group)
        if int(dr_group.get("DesiredCapacity", 0)) == 0:
            dr_compute = "zero"
        elif dr_n < max(primary_n, 1):
            dr_compute = "reduced"
        else:
            dr_compute = "full"

    replication: list[str] = []
    ddb = topology.client("dynamodb", primary.region)
    for logical, physical in primary.tables.items():
        table = (call(f"DescribeTable {physical}", ddb.describe_table, TableName=physical) or {}).get("Table", {})
        if any(r.get("RegionName") == dr.region for r in table.get("Replicas", [])):
            replication.append(f"DynamoDB global table {logical}")
    s3 = topology.client("s3", primary.region)
    for logical, bucket in primary.buckets.items():
        config = call(f"GetBucketReplication {bucket}", _bucket_replication, s3, bucket)
        if config:
            replication.append(f"S3 replication of {logical}")
    rds_dr = topology.client("rds", dr.region)
    if topology.blueprint.database is not None:
        instances = (call(f"DescribeDBInstances in {dr.region}", rds_dr.describe_db_instances) or {}).get("DBInstances", [])
        if any(f":{primary.region}:" in str(i.get("ReadReplicaSourceDBInstanceIdentifier", "")) for i in instances):
            replication.append("RDS cross-region read replica")
        if topology.global_cluster:
            rds = topology.client("rds", primary.region)
            answer = call("DescribeGlobalClusters", rds.describe_global_clusters, GlobalClusterIdentifier=topology.global_cluster)
            for cluster in (answer or {}).get("GlobalClusters", []):
                if any(f":{dr.region}:" in m.get("DBClusterArn", "") for m in cluster.get("GlobalClusterMembers", [])):
                    replication.append("Aurora global database")

    if topology.cache_global:
        ec = topology.client("elasticache", primary.region)
        answer = call("DescribeGlobalReplicationGroups", ec.describe_global_replication_groups,
                      GlobalReplicationGroupId=topology.cache_global, ShowMemberInfo=True)
        for gds in (answer or {}).get("GlobalReplicationGroups", []):
            if any(m.get("ReplicationGroupRegion") == dr.region and m.get("Role") == "SECONDARY" for m in gds.get("Members", [])):
                replication.append("ElastiCache global datastore")

    backups: list[str] = []
    backup = topology.client("backup", primary.region)
    plans = (call("ListBackupPlans", backup.list_backup_plans) or {}).get("BackupPlansList", [])
    for plan in plans:
        full = (call(f"GetBackupPlan {plan.get('BackupPlanName')}", backup.get_backup_plan, BackupPlanId=plan["BackupPlanId"]) or {})
        for rule in full.get("BackupPlan", {}).get("Rules", []):
            if any(f":backup:{dr.region}:" in c.get("DestinationBackupVaultArn", "") for c in rule.get("CopyActions", [])):
                backups.append(f"AWS Backup {rule.get('ScheduleExpression', '')} copied to {dr.region}".replace("  ", " "))
    if topology.jobs and topology.blueprint.database is not None and not any("RDS" in r or "Aurora" in r for r in replication):
        backups.append(f"RDS snapshots every {topology.blueprint.database.snapshot_every} copied to {dr.region}")

    routing = "unknown"
    if topology.zone_id:
        r53 = topology.client("route53", primary.region)  # Route 53 is global: any region's client
        answer = call("ListResourceRecordSets", r53.list_resource_record_sets, HostedZoneId=topology.zone_id)
        records = [r for r in (answer or {}).get("ResourceRecordSets", []) if r.get("Name", "").rstrip(".") == topology.fqdn.rstrip(".")]
        if any("Failover" in r for r in records):
            routing = "failover"
        elif sum(1 for r in records if "Region" in r) > 1:
            routing = "latency"
        elif sum(1 for r in records if "Weight" in r) > 1:
            routing = "weighted"
        elif records:
            routing = "simple"

    implemented = implemented_strategy(dr_compute, bool(replication), bool(backups), routing)
    return TopologyAssessment(
        topology.strategy.name, implemented, dr_compute, primary_n, dr_n, replication, backups, routing, notes,
    )


def _bucket_replication(s3: Any, bucket: str) -> list[str]:
    try:
        rules = s3.get_bucket_replication(Bucket=bucket)["ReplicationConfiguration"].get("Rules", [])
    except s3.exceptions.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ReplicationConfigurationNotFoundError":
            return []
        raise
    return [r["Destination"]["Bucket"] for r in rules if r.get("Status") == "Enabled"]


# -- recommendations (from report data) ---------------------------------------------------------------
def _missed(record: dict[str, Any], figure: str) -> tuple[float | None, float] | None:
    """(measured, objective) when ``record`` misses its ``figure`` (rto/rpo) objective."""
    objective = (record.get("objectives") or {}).get(f"{figure}_s")
    if objective is None:
        return None
    measured = (record.get("measured") or {}).get(f"{figure}_s")
    if measured is None or measured > objective:
        return measured, float(objective)
    return None


def _name(record: dict[str, Any]) -> str:
    return str(record.get("id") or record.get("test") or "?")


def recommendations(data: dict[str, Any]) -> list[str]:
    """Sentences for a report's data: declared strategies the topology does not implement, figures
    outside the declared strategy's band, and missed objectives with a strategy that would meet them."""
    experiments: list[dict[str, Any]] = list(data.get("experiments", []))
    out: list[str] = []
    seen_scenarios: set[str] = set()
    for record in experiments:
        topo = record.get("topology")
        key = str(record.get("scenario") or record.get("id"))
        if not topo or key in seen_scenarios:
            continue
        seen_scenarios.add(key)
        assessment = TopologyAssessment.from_dict(topo)
        if not assessment.matches:
            out.append(
                f"{key}: declared {label(assessment.declared)}, but the built topology implements "
                f"{label(assessment.implemented)}: {assessment.evidence()}"
            )
    for record in experiments:
        strategy = str(record.get("strategy", ""))
        measured = record.get("measured") or {}
        disruption = record.get("disruption")
        implemented = (record.get("topology") or {}).get("implemented", strategy)
        sentences = []
        for figure in ("rpo", "rto"):
            miss = _missed(record, figure)
            if miss is None:
                continue
            value, objective = miss
            source = ((record.get("objectives") or {}).get("sources") or {}).get(figure, "")
            shown = "never recovered" if value is None else format_duration(value)
            why = _why(figure, implemented, record)
            better = _better(experiments, record, figure, objective)
            sentences.append(
                f"{figure.upper()} {shown}: {label(implemented)} cannot meet a {format_duration(objective)} {figure.upper()}"
                + (f" ({source})" if source else "") + (f" — {why}" if why else "") + (f"; {better}" if better else "")
            )
        if disruption == "Region" and strategy in BANDS and measured.get("rto_s") is not None:
            from pytest_drtest.durations import parse_duration
            from pytest_drtest.strategies import get_strategy

            band = parse_duration(get_strategy(strategy).band_rto)
            if measured["rto_s"] > band:
                sentences.append(
                    f"RTO {format_duration(measured['rto_s'])} is outside {label(strategy)}'s band "
                    f"({BANDS[strategy]}, {format_duration(band)}): the recovery is slower than the declared strategy"
                )
        for sentence in sentences:
            out.append(f"{_name(record)}: {sentence}")
    return out


def _why(figure: str, implemented: str, record: dict[str, Any]) -> str:
    topo = record.get("topology") or {}
    if figure == "rpo" and record.get("disruption") == "Region" and not topo.get("replication", True):
        return "data reaches the DR region only with each backup copy"
    if figure == "rto" and record.get("disruption") == "Region" and topo.get("dr_compute") in ("none", "zero"):
        return "compute must first be started in the DR region"
    if record.get("disruption") == "Software":
        return "a corruption replicates too: recovery is a point-in-time restore whatever the strategy"
    return ""


def _better(experiments: list[dict[str, Any]], record: dict[str, Any], figure: str, objective: float) -> str:
    """Another experiment of the run, of the same disruption, that met ``objective``: the cheapest strategy."""
    disruption = record.get("disruption")
    candidates = []
    for other in experiments:
        if other is record or other.get("disruption") != disruption or disruption is None:
            continue
        value = (other.get("measured") or {}).get(f"{figure}_s")
        if value is None or value > objective:
            continue
        strategy = str((other.get("topology") or {}).get("implemented") or other.get("strategy", ""))
        if strategy == str((record.get("topology") or {}).get("implemented") or record.get("strategy", "")):
            continue
        rank = STRATEGY_ORDER.index(strategy) if strategy in STRATEGY_ORDER else len(STRATEGY_ORDER)
        candidates.append((rank, value, strategy, other))
    if candidates:
        _, value, strategy, other = min(candidates, key=lambda c: (c[0], c[1]))
        how = " with continuous replication" if (other.get("topology") or {}).get("replication") else ""
        return f"{label(strategy)}{how} measured {format_duration(value)} ({_name(other)})"
    if disruption == "Region":
        from pytest_drtest.durations import parse_duration
        from pytest_drtest.strategies import STRATEGIES

        fits = [s for s in STRATEGY_ORDER
                if parse_duration(getattr(STRATEGIES[s], f"band_{figure}")) <= objective]
        if fits:
            return f"the whitepaper's bands point to {label(fits[0])} ({BANDS[fits[0]]})"
    return ""
