"""The Aurora Serverless v2 emulator: scaling configurations checked, capacity on the clock, auto-pause.

What moto does (5.2.5, checked): it stores ``ServerlessV2ScalingConfiguration`` as given, with no
check at all (``MinCapacity 0.3`` with ``MaxCapacity 0.1`` is accepted), reports no
``SecondsUntilAutoPause`` default, lets ``db.serverless`` instances into any cluster, and has no
notion of capacity, load or pauses.

What this emulator adds (it serves ``rds`` after the Aurora emulator, so it sees every call that
reaches moto, and gates ``rds-data`` before the Data API emulator):

- **Checks** ([BC:rds] ``ServerlessV2ScalingConfiguration``): ACUs in half steps, ``MinCapacity``
  from 0 (versions with auto-pause) or 0.5, ``MaxCapacity`` up to 256 (recent versions) or 128 and
  at least ``MinCapacity``, ``SecondsUntilAutoPause`` 300-86,400; engine versions without Serverless
  v2 and unknown versions refused. AWS documents no error codes for these: a value out of range is
  ``InvalidParameterValue``, values that contradict each other (or the engine version) are
  ``InvalidParameterCombination``, as RDS answers parameter problems.
- **Capacity** ([AUR-UG:aurora-serverless-v2.how-it-works]). Every ``aurora_serverless_scaling_interval``
  each ``db.serverless`` instance takes the capacity its load needs (``load / aurora_serverless_acu_tps``
  ACUs, rounded up to a half step), within the cluster's range. The load is what a scenario offers
  (:meth:`AuroraServerlessEmulator.offer_load`) plus the Data API statements of the last interval.
  Readers in promotion tiers 0 and 1 follow the writer's capacity; other readers carry no load here.
- **Auto-pause** ([AUR-UG:aurora-serverless-v2-auto-pause]). With ``MinCapacity`` 0 an instance with
  no activity for ``SecondsUntilAutoPause`` pauses (0 ACUs). A connection request resumes it: a
  Data API call answers ``DatabaseResumingException`` ([BC:rds-data]: "the Data API request
  automatically resumes the DB instance. Wait a few seconds and try again") until
  ``aurora_serverless_resume_time`` has passed; :meth:`AuroraServerlessEmulator.connect` tells how
  long a connection waits. An RTO that begins on a paused cluster includes that delay.
- **Metrics.** Each minute, per instance, ``ServerlessDatabaseCapacity`` (ACUs) and ``ACUUtilization``
  (capacity / ``MaxCapacity`` x 100) in ``AWS/RDS`` with dimension ``DBInstanceIdentifier``
  ([AUR-UG:aurora-serverless-v2.viewing.monitoring]) go to the CloudWatch emulation, whose alarms
  evaluate them.
- **Restores** (``RestoreDBClusterToPointInTime``, ``RestoreDBClusterFromSnapshot``) make a new
  cluster with the call's ``ServerlessV2ScalingConfiguration``, else the source's.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import botocore.exceptions

from pytest_drtest.emulation.aurora_serverless.models import (
    AUTO_PAUSE_SINCE,
    FOLLOWS_WRITER_TIERS,
    MAX_256_SINCE,
    MAX_ACU,
    MAX_ACU_OLDER,
    PAUSE_DEFAULT,
    PAUSE_MAX,
    PAUSE_MIN,
    SERVERLESS_CLASS,
    SERVERLESS_V2_SINCE,
    STEP,
    ServerlessCluster,
    ServerlessInstance,
    half_steps,
    parse_version,
    round_up_half,
    supports,
)
from pytest_drtest.emulation.core import AwsError, Call, Emulation, ServiceEmulator
from pytest_drtest.emulation.rds_common import parse_rds_arn, rds_arn

NAMESPACE = "AWS/RDS"
MINUTE = 60.0  # CloudWatch standard resolution [CW-UG:publishingMetrics]
SERVERLESS_ENGINES = ("aurora-postgresql", "aurora-mysql")


class AuroraServerlessEmulator(ServiceEmulator):
    """Aurora Serverless v2 on the clock; see the module docstring."""

    service = "rds"

    def __init__(self, emulation: Emulation) -> None:
        super().__init__(emulation)
        self.clusters: dict[tuple[str, str], ServerlessCluster] = {}
        self.snapshot_configs: dict[tuple[str, str], dict[str, Any]] = {}
        self.data_api_gate = ServerlessDataApiGate(emulation, self)
        self._ticking = False
        self._published_until = 0.0

    # -- the public API ---------------------------------------------------------------------
    def cluster(self, region: str, identifier: str) -> ServerlessCluster:
        arn_region, name = parse_rds_arn(identifier)
        return self.clusters[(arn_region or region, name.lower())]

    def capacity(self, region: str, instance_id: str) -> float:
        """The ACUs a ``db.serverless`` instance runs at now (0 while paused)."""
        return self._instance(region, instance_id)[1].capacity

    def paused(self, region: str, instance_id: str) -> bool:
        return self._instance(region, instance_id)[1].paused

    def offer_load(self, region: str, cluster_id: str, tps: float) -> None:
        """The workload on the cluster's writer from now on, in transactions per second (0: idle).

        A load on a paused cluster is a connection request: it resumes the cluster."""
        if tps < 0:
            raise ValueError(f"load must be non-negative, got {tps!r}")
        cluster = self.cluster(region, cluster_id)
        cluster.offered_tps = tps
        if tps > 0:
            self._activity(cluster)

    def connect(self, region: str, cluster_id: str) -> float:
        """A connection request to the cluster's writer: the seconds it waits for a paused writer to
        resume (0 when it is running); the request starts the resume."""
        cluster = self.cluster(region, cluster_id)
        return self._activity(cluster)

    # -- checks -----------------------------------------------------------------------------
    def _check(self, config: dict[str, Any], engine_version: str | None, *, current: ServerlessCluster | None = None
               ) -> tuple[float, float, int]:
        version = parse_version(engine_version) if engine_version else None
        if engine_version and version is None:
            raise AwsError("InvalidParameterCombination", f"Cannot find version {engine_version} for aurora-postgresql",
                           400)
        if version is not None and not supports(version, SERVERLESS_V2_SINCE):
            raise AwsError("InvalidParameterCombination", f"Aurora Serverless v2 is not supported by engine version "
                           f"{engine_version}", 400)
        low = float(config.get("MinCapacity", current.min_capacity if current else STEP))
        high = float(config.get("MaxCapacity", current.max_capacity if current else low))
        top = MAX_ACU if version is None or supports(version, MAX_256_SINCE) else MAX_ACU_OLDER
        for name, value in (("MinCapacity", low), ("MaxCapacity", high)):
            if not half_steps(value) or not 0 <= value <= top:
                raise AwsError("InvalidParameterValue", f"{name} {value:g} is not valid: use ACU values in half-step "
                               f"increments from 0 to {top:g}", 400)
        if high < STEP:
            raise AwsError("InvalidParameterValue", f"MaxCapacity {high:g} is not valid: the least is {STEP:g}", 400)
        if low == 0 and version is not None and not supports(version, AUTO_PAUSE_SINCE):
            raise AwsError("InvalidParameterValue", f"MinCapacity 0 is not valid for engine version {engine_version}: "
                           f"it has no automatic pause, the least is {STEP:g}", 400)
        if high < low:
            raise AwsError("InvalidParameterCombination", f"MaxCapacity {high:g} is less than MinCapacity {low:g}", 400)
        if "SecondsUntilAutoPause" in config:
            pause = int(config["SecondsUntilAutoPause"])
            if not PAUSE_MIN <= pause <= PAUSE_MAX:
                raise AwsError("InvalidParameterValue", f"SecondsUntilAutoPause {pause} is not in {PAUSE_MIN}-"
                               f"{PAUSE_MAX}", 400)
        elif current is not None and current.min_capacity == 0 and low == 0:
            pause = current.seconds_until_auto_pause
        else:
            pause = PAUSE_DEFAULT  # reset to the default when the minimum goes back to 0 ([BC:rds])
        return low, high, pause

    # -- clusters ---------------------------------------------------------------------------
    def before_CreateDBCluster(self, call: Call) -> None:
        config = call.params.get("ServerlessV2ScalingConfiguration")
        if config is not None and call.params.get("Engine") in SERVERLESS_ENGINES:
            call.context["dr_serverless"] = self._check(config, call.params.get("EngineVersion"))

    def after_CreateDBCluster(self, call: Call) -> None:
        self._adopt(call, call.context.get("dr_serverless"))

    def before_ModifyDBCluster(self, call: Call) -> None:
        config = call.params.get("ServerlessV2ScalingConfiguration")
        if config is None:
            return
        ident = call.params.get("DBClusterIdentifier", "")
        current = self.clusters.get((call.region, ident.lower()))
        version = call.params.get("EngineVersion") or self._engine_version(call.region, ident)
        call.context["dr_serverless"] = self._check(config, version, current=current)

    def after_ModifyDBCluster(self, call: Call) -> None:
        checked = call.context.get("dr_serverless")
        if checked is None:
            self._rewrite(call.region, [call.parsed["DBCluster"]] if call.parsed else [])
            return
        current = self.clusters.get((call.region, call.params.get("DBClusterIdentifier", "").lower()))
        if current is None:
            self._adopt(call, checked)
            return
        current.min_capacity, current.max_capacity, current.seconds_until_auto_pause = checked
        self._evaluate(current)  # a new range applies at once
        self._rewrite(call.region, [call.parsed["DBCluster"]] if call.parsed else [])

    def after_DescribeDBClusters(self, call: Call) -> None:
        if call.parsed is not None:
            self._rewrite(call.region, call.parsed.get("DBClusters", []))

    def after_DeleteDBCluster(self, call: Call) -> None:
        self.clusters.pop((call.region, call.params.get("DBClusterIdentifier", "").lower()), None)

    def _adopt(self, call: Call, checked: tuple[float, float, int] | None) -> None:
        if checked is None or call.parsed is None:
            return
        item = call.parsed["DBCluster"]
        low, high, pause = checked
        cluster = ServerlessCluster(call.region, item["DBClusterIdentifier"].lower(),
                                    item.get("DBClusterArn") or rds_arn(call.region, "cluster", item["DBClusterIdentifier"]),
                                    low, high, pause, last_activity=self.clock.now())
        self.clusters[(call.region, cluster.id)] = cluster
        self._rewrite(call.region, [item])
        if not self._ticking:
            self._ticking = True
            self._published_until = math.floor(self.clock.now() / MINUTE) * MINUTE
            self.every(self.profile.value("aurora_serverless_scaling_interval"), self._tick,
                       name="aurora-serverless:scaling")

    def _rewrite(self, region: str, items: list[dict[str, Any]]) -> None:
        for item in items:
            cluster = self.clusters.get((region, str(item.get("DBClusterIdentifier", "")).lower()))
            if cluster is not None:
                item["ServerlessV2ScalingConfiguration"] = cluster.config()

    def _engine_version(self, region: str, ident: str) -> str | None:
        try:
            found = self.backdoor(region).describe_db_clusters(DBClusterIdentifier=ident)["DBClusters"]
        except botocore.exceptions.ClientError:
            return None
        version = found[0].get("EngineVersion") if found else None
        return str(version) if version else None

    # -- instances --------------------------------------------------------------------------
    def before_CreateDBInstance(self, call: Call) -> None:
        if call.params.get("DBInstanceClass") != SERVERLESS_CLASS or not call.params.get("DBClusterIdentifier"):
            return
        if (call.region, call.params["DBClusterIdentifier"].lower()) not in self.clusters:
            # [AUR-UG:aurora-serverless-v2.requirements]: the cluster needs a capacity range first
            raise AwsError("InvalidParameterCombination", "Set the Serverless v2 scaling configuration on the parent "
                           "DB cluster before creating a Serverless v2 DB instance.", 400)

    def after_CreateDBInstance(self, call: Call) -> None:
        if call.params.get("DBInstanceClass") != SERVERLESS_CLASS or call.parsed is None:
            return
        cluster = self.clusters.get((call.region, call.params.get("DBClusterIdentifier", "").lower()))
        if cluster is None:
            return
        ident = call.parsed["DBInstance"]["DBInstanceIdentifier"].lower()
        cluster.instances[ident] = ServerlessInstance(ident, int(call.params.get("PromotionTier", 1)), cluster.floor(),
                                                      self.clock.now())
        if cluster.writer is None:
            cluster.writer = ident  # the first instance is the writer
        cluster.last_activity = self.clock.now()

    def after_DeleteDBInstance(self, call: Call) -> None:
        ident = call.params.get("DBInstanceIdentifier", "").lower()
        for cluster in self.clusters.values():
            if (cluster.region == call.region and cluster.instances.pop(ident, None) is not None
                    and cluster.writer == ident):
                cluster.writer = next(iter(cluster.instances), None)

    def _writer(self, cluster: ServerlessCluster) -> ServerlessInstance | None:
        """The writer now: the Aurora emulation's (it runs failovers on the clock), else the first instance."""
        from pytest_drtest.emulation.aurora import AuroraEmulator

        try:
            aurora = self.emulation.find(AuroraEmulator).clusters.get((cluster.region, cluster.id))
        except KeyError:
            aurora = None
        if aurora is not None and not aurora.deleted and aurora.writer in cluster.instances:
            cluster.writer = aurora.writer
        return cluster.instances.get(cluster.writer or "")

    # -- restores keep the serverless configuration -----------------------------------------
    def after_CreateDBClusterSnapshot(self, call: Call) -> None:
        cluster = self.clusters.get((call.region, call.params.get("DBClusterIdentifier", "").lower()))
        if cluster is not None:
            self.snapshot_configs[(call.region, call.params["DBClusterSnapshotIdentifier"].lower())] = cluster.config()

    def before_RestoreDBClusterToPointInTime(self, call: Call) -> None:
        source = self._source(call.region, call.params.get("SourceDBClusterIdentifier", ""))
        self._restore_config(call, source.config() if source is not None else None)

    def after_RestoreDBClusterToPointInTime(self, call: Call) -> None:
        self._adopt(call, call.context.get("dr_serverless"))

    def before_RestoreDBClusterFromSnapshot(self, call: Call) -> None:
        arn_region, name = parse_rds_arn(call.params.get("SnapshotIdentifier", ""))
        self._restore_config(call, self.snapshot_configs.get((arn_region or call.region, name.lower())))

    def after_RestoreDBClusterFromSnapshot(self, call: Call) -> None:
        self._adopt(call, call.context.get("dr_serverless"))

    def _source(self, region: str, identifier: str) -> ServerlessCluster | None:
        try:
            return self.cluster(region, identifier)
        except KeyError:
            return None

    def _restore_config(self, call: Call, inherited: dict[str, Any] | None) -> None:
        config = call.params.get("ServerlessV2ScalingConfiguration") or inherited
        if config is not None:
            call.context["dr_serverless"] = self._check(config, call.params.get("EngineVersion"))

    # -- capacity on the clock --------------------------------------------------------------
    def _tick(self) -> None:
        for cluster in list(self.clusters.values()):
            self._evaluate(cluster)
        self._publish()

    def _evaluate(self, cluster: ServerlessCluster) -> None:
        now = self.clock.now()
        interval = self.profile.value("aurora_serverless_scaling_interval")
        cluster.statements = [t for t in cluster.statements if t > now - interval]
        load = cluster.offered_tps + len(cluster.statements) / interval
        wanted = round_up_half(load / self.profile.value("aurora_serverless_acu_tps"))
        if load > 0:
            cluster.last_activity = now  # connections are open: not idle
        writer = self._writer(cluster)
        for instance in cluster.instances.values():
            follows = instance is writer or instance.promotion_tier in FOLLOWS_WRITER_TIERS
            if instance.resumed_at is not None and now >= instance.resumed_at:
                instance.resumed_at, instance.paused = None, False
                instance.last_activity = now
            if follows and writer is not None:
                instance.last_activity = max(instance.last_activity, cluster.last_activity)
            idle = now - instance.last_activity >= cluster.seconds_until_auto_pause and (not follows or load == 0)
            if instance.resumed_at is None and cluster.min_capacity == 0 and idle:
                instance.paused = True
            if instance.paused:
                instance.capacity = 0.0
            else:
                demand = wanted if follows else 0.0
                instance.capacity = min(cluster.max_capacity, max(cluster.floor(), demand))
            instance.history.append((now, instance.capacity))

    def _activity(self, cluster: ServerlessCluster) -> float:
        """A connection request or statement on the writer: resume what is paused; the wait left."""
        now = self.clock.now()
        cluster.last_activity = now
        writer = self._writer(cluster)
        if writer is None:
            return 0.0
        wait = 0.0
        for instance in cluster.instances.values():
            if instance is not writer and instance.promotion_tier not in FOLLOWS_WRITER_TIERS:
                continue
            if instance.paused and instance.resumed_at is None:
                delay = self.profile.sample("aurora_serverless_resume_time", f"resume:{cluster.region}/{instance.id}")
                instance.resumed_at = now + delay
                self.at(instance.resumed_at, self._resumer(cluster), name=f"aurora-serverless:resume:{instance.id}")
            instance.last_activity = now
            if instance.resumed_at is not None:
                wait = max(wait, instance.resumed_at - now)
        return wait

    def _resumer(self, cluster: ServerlessCluster) -> Callable[[], None]:
        return lambda: self._evaluate(cluster)

    def _publish(self) -> None:
        """Each finished minute: the average capacity and utilization of every instance."""
        end = math.floor(self.clock.now() / MINUTE) * MINUTE
        try:
            from pytest_drtest.emulation.cloudwatch import CloudWatchEmulator

            cloudwatch: CloudWatchEmulator | None = self.emulation.find(CloudWatchEmulator)
        except KeyError:
            cloudwatch = None
        while self._published_until < end:
            start, self._published_until = self._published_until, self._published_until + MINUTE
            if cloudwatch is None:
                continue
            for cluster in self.clusters.values():
                for instance in cluster.instances.values():
                    values = [acu for t, acu in instance.history if start <= t < start + MINUTE]
                    if values:
                        self._put(cloudwatch, cluster, instance, start, values)
            for cluster in self.clusters.values():
                for instance in cluster.instances.values():
                    instance.history = [(t, acu) for t, acu in instance.history if t >= end]

    def _put(self, cloudwatch: Any, cluster: ServerlessCluster, instance: ServerlessInstance, start: float,
             values: list[float]) -> None:
        from pytest_drtest.emulation.cloudwatch.models import Datapoint

        if not self.world.region_up(cluster.region):
            return
        dims = frozenset({("DBInstanceIdentifier", instance.id)})
        for metric, scale, unit in (("ServerlessDatabaseCapacity", 1.0, "Count"),
                                    ("ACUUtilization", 100.0 / cluster.max_capacity, "Percent")):
            scaled = [v * scale for v in values]
            point = Datapoint(start, float(len(scaled)), sum(scaled), min(scaled), max(scaled))
            try:
                self.backdoor(cluster.region, "cloudwatch").put_metric_data(Namespace=NAMESPACE, MetricData=[{
                    "MetricName": metric, "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": instance.id}],
                    "Timestamp": self.clock.datetime(start), "Unit": unit,
                    "StatisticValues": {"SampleCount": point.sample_count, "Sum": point.total,
                                        "Minimum": point.minimum, "Maximum": point.maximum}}])
            except botocore.exceptions.ClientError:
                pass  # moto refused the timestamp: the emulation's own store still has the datapoint
            cloudwatch.record(cluster.region, NAMESPACE, metric, dims, point)

    def _instance(self, region: str, instance_id: str) -> tuple[ServerlessCluster, ServerlessInstance]:
        for cluster in self.clusters.values():
            if cluster.region == region and instance_id.lower() in cluster.instances:
                return cluster, cluster.instances[instance_id.lower()]
        raise KeyError(f"no Aurora Serverless v2 instance {instance_id!r} in {region}")


class ServerlessDataApiGate(ServiceEmulator):
    """Asked before the Data API emulator: a statement is activity, and a paused cluster resumes.

    [BC:rds-data] ``DatabaseResumingException``: "A request was cancelled because the Aurora Serverless
    DB instance was paused. The Data API request automatically resumes the DB instance. Wait a few
    seconds and try again." Added with ``first=True`` so that it sees every call.
    """

    service = "rds-data"

    def __init__(self, emulation: Emulation, serverless: AuroraServerlessEmulator) -> None:
        super().__init__(emulation)
        self.serverless = serverless

    def _gate(self, call: Call) -> None:
        try:
            cluster = self.serverless.cluster(call.region, call.params.get("resourceArn", ""))
        except KeyError:
            return
        wait = self.serverless._activity(cluster)
        if wait > 0:
            raise AwsError("DatabaseResumingException", f"The Aurora DB instance {cluster.writer} is resuming after "
                           "being auto-paused. Please wait a few seconds and try again.", 400)
        cluster.statements.append(self.clock.now())

    def before_ExecuteStatement(self, call: Call) -> None:
        self._gate(call)

    def before_BatchExecuteStatement(self, call: Call) -> None:
        self._gate(call)

    def before_BeginTransaction(self, call: Call) -> None:
        self._gate(call)
