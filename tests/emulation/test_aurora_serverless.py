"""Aurora Serverless v2: scaling-configuration checks, capacity on load, auto-pause, resume, restores.

All but the last test run on moto with the serverless and CloudWatch emulators (no PostgreSQL); the
last one runs the Data API on the Aurora emulation's PostgreSQL through a pause and a resume.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn

import botocore.exceptions
import pytest

from pytest_drtest.emulation.aurora_serverless import AuroraServerlessEmulator
from pytest_drtest.emulation.cloudwatch import CloudWatchEmulator

REGION = "us-east-1"
ENGINE, VERSION = "aurora-postgresql", "16.6"
RESUME, ACU_TPS, INTERVAL = 15.0, 100.0, 10.0


@pytest.fixture(autouse=True)
def _rds_answers_in_shape(answers_in_shape: Any) -> None:
    answers_in_shape("rds")


@pytest.fixture
def serverless(emu_env: Any) -> AuroraServerlessEmulator:
    for key, value in {"aurora_serverless_resume_time": RESUME, "aurora_serverless_acu_tps": ACU_TPS,
                       "aurora_serverless_scaling_interval": INTERVAL}.items():
        emu_env.profile.override(key, value, origin="test")
    emulator = AuroraServerlessEmulator(emu_env.emulation)
    emu_env.emulation.add(emulator)
    emu_env.emulation.add(emulator.data_api_gate, first=True)
    return emulator


def create(emu_env: Any, name: str, config: dict[str, Any], *, version: str | None = VERSION,
           instances: dict[str, int] | None = None, **extra: Any) -> dict[str, Any]:
    rds = emu_env.client("rds", REGION)
    params: dict[str, Any] = {"DBClusterIdentifier": name, "Engine": ENGINE, "MasterUsername": "app",
                              "MasterUserPassword": "secret123", "ServerlessV2ScalingConfiguration": config, **extra}
    if version is not None:
        params["EngineVersion"] = version
    cluster: dict[str, Any] = rds.create_db_cluster(**params)["DBCluster"]
    for instance, tier in (instances or {}).items():
        rds.create_db_instance(DBInstanceIdentifier=instance, DBClusterIdentifier=name, Engine=ENGINE,
                               DBInstanceClass="db.serverless", PromotionTier=tier)
    return cluster


def scaling(emu_env: Any, name: str) -> dict[str, Any]:
    found: dict[str, Any] = emu_env.client("rds", REGION).describe_db_clusters(
        DBClusterIdentifier=name)["DBClusters"][0]["ServerlessV2ScalingConfiguration"]
    return found


def code_of(call: Callable[[], Any]) -> str:
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        call()
    return str(excinfo.value.response["Error"]["Code"])


def test_scaling_configuration_is_checked_as_aws_documents(emu_env: Any, serverless: AuroraServerlessEmulator) -> None:
    bad: list[tuple[dict[str, Any], str | None, str]] = [
        ({"MinCapacity": 0.3, "MaxCapacity": 4}, VERSION, "InvalidParameterValue"),  # not a half step
        ({"MinCapacity": 4, "MaxCapacity": 2}, VERSION, "InvalidParameterCombination"),  # Max < Min
        ({"MinCapacity": 1, "MaxCapacity": 300}, VERSION, "InvalidParameterValue"),  # above 256
        ({"MinCapacity": 1, "MaxCapacity": 200}, "14.6", "InvalidParameterValue"),  # 128 before 14.10
        ({"MinCapacity": 0, "MaxCapacity": 4}, "15.4", "InvalidParameterValue"),  # no auto-pause before 15.7
        ({"MinCapacity": 0, "MaxCapacity": 4, "SecondsUntilAutoPause": 60}, VERSION, "InvalidParameterValue"),
        ({"MinCapacity": 1, "MaxCapacity": 4}, "12.7", "InvalidParameterCombination"),  # no Serverless v2
        ({"MinCapacity": 1, "MaxCapacity": 4}, "99.1", "InvalidParameterCombination"),  # no such version
    ]
    for config, version, code in bad:
        assert code_of(lambda c=config, v=version: create(emu_env, "bad", c, version=v)) == code, (config, version)
    rds = emu_env.client("rds", REGION)
    rds.create_db_cluster(DBClusterIdentifier="prov", Engine=ENGINE, EngineVersion=VERSION, MasterUsername="app",
                          MasterUserPassword="secret123")
    assert code_of(lambda: rds.create_db_instance(DBInstanceIdentifier="prov-1", DBClusterIdentifier="prov",
                                                  Engine=ENGINE, DBInstanceClass="db.serverless")) \
        == "InvalidParameterCombination"  # the cluster needs a capacity range first
    create(emu_env, "app", {"MinCapacity": 0, "MaxCapacity": 8})
    assert scaling(emu_env, "app") == {"MinCapacity": 0, "MaxCapacity": 8, "SecondsUntilAutoPause": 300}
    rds.modify_db_cluster(DBClusterIdentifier="app", ServerlessV2ScalingConfiguration={"MinCapacity": 1})
    assert scaling(emu_env, "app") == {"MinCapacity": 1, "MaxCapacity": 8}  # shown only at 0 ACUs
    assert code_of(lambda: rds.modify_db_cluster(DBClusterIdentifier="app", ServerlessV2ScalingConfiguration={
        "MinCapacity": 16})) == "InvalidParameterCombination"


def test_capacity_follows_the_load_within_the_range_and_is_published(
        emu_env: Any, serverless: AuroraServerlessEmulator) -> None:
    cloudwatch = CloudWatchEmulator(emu_env.emulation)
    emu_env.emulation.add(cloudwatch)
    create(emu_env, "app", {"MinCapacity": 0.5, "MaxCapacity": 16},
           instances={"app-w": 1, "app-r1": 1, "app-r9": 9})
    emu_env.client("cloudwatch", REGION).put_metric_alarm(
        AlarmName="acu-high", Namespace="AWS/RDS", MetricName="ACUUtilization", Statistic="Average", Period=60,
        EvaluationPeriods=1, Threshold=90, ComparisonOperator="GreaterThanThreshold",
        Dimensions=[{"Name": "DBInstanceIdentifier", "Value": "app-w"}])
    emu_env.clock.sleep(60)
    assert serverless.capacity(REGION, "app-w") == 0.5
    serverless.offer_load(REGION, "app", 420.0)  # 4.2 ACUs of work: 4.5 in half steps
    emu_env.clock.sleep(INTERVAL)
    assert [serverless.capacity(REGION, i) for i in ("app-w", "app-r1", "app-r9")] == [4.5, 4.5, 0.5]
    serverless.offer_load(REGION, "app", 5000.0)
    emu_env.clock.sleep(120)
    assert serverless.capacity(REGION, "app-w") == 16  # MaxCapacity caps it
    points = cloudwatch.datapoints(REGION, "AWS/RDS", "ServerlessDatabaseCapacity", {"DBInstanceIdentifier": "app-w"})
    assert [p.maximum for p in points][-1] == 16
    utilization = cloudwatch.datapoints(REGION, "AWS/RDS", "ACUUtilization", {"DBInstanceIdentifier": "app-w"})
    assert utilization[-1].total / utilization[-1].sample_count == pytest.approx(100.0)
    assert cloudwatch.alarm(REGION, "acu-high").state == "ALARM"


def test_auto_pause_and_the_resume_delay_an_rto_includes(emu_env: Any, serverless: AuroraServerlessEmulator) -> None:
    create(emu_env, "app", {"MinCapacity": 0, "MaxCapacity": 4, "SecondsUntilAutoPause": 600},
           instances={"app-w": 1, "app-r9": 9})
    emu_env.clock.sleep(600 - INTERVAL)
    assert not serverless.paused(REGION, "app-w")
    emu_env.clock.sleep(2 * INTERVAL)
    assert serverless.paused(REGION, "app-w") and serverless.capacity(REGION, "app-w") == 0
    assert serverless.paused(REGION, "app-r9")
    outage = emu_env.clock.now()
    wait = serverless.connect(REGION, "app")  # the first connection after a failover to this cluster
    assert wait == RESUME and serverless.connect(REGION, "app") == RESUME  # still resuming: no second delay
    emu_env.clock.sleep(wait)
    assert not serverless.paused(REGION, "app-w") and serverless.capacity(REGION, "app-w") == 0.5
    assert emu_env.clock.now() - outage == RESUME
    assert serverless.paused(REGION, "app-r9")  # a tier 2-15 reader resumes on its own connections only
    assert serverless.connect(REGION, "app") == 0


def test_restores_make_new_serverless_clusters_with_the_sources_range(
        emu_env: Any, serverless: AuroraServerlessEmulator) -> None:
    rds = emu_env.client("rds", REGION)
    create(emu_env, "app", {"MinCapacity": 0, "MaxCapacity": 8, "SecondsUntilAutoPause": 900}, instances={"app-w": 1})
    rds.restore_db_cluster_to_point_in_time(DBClusterIdentifier="app-pitr", SourceDBClusterIdentifier="app",
                                            UseLatestRestorableTime=True)
    assert scaling(emu_env, "app-pitr") == {"MinCapacity": 0, "MaxCapacity": 8, "SecondsUntilAutoPause": 900}
    rds.create_db_instance(DBInstanceIdentifier="app-pitr-w", DBClusterIdentifier="app-pitr", Engine=ENGINE,
                           DBInstanceClass="db.serverless")
    assert serverless.capacity(REGION, "app-pitr-w") == 0.5
    rds.create_db_cluster_snapshot(DBClusterSnapshotIdentifier="app-snap", DBClusterIdentifier="app")
    rds.restore_db_cluster_from_snapshot(DBClusterIdentifier="app-snap-r", SnapshotIdentifier="app-snap", Engine=ENGINE,
                                         ServerlessV2ScalingConfiguration={"MinCapacity": 2, "MaxCapacity": 32})
    assert scaling(emu_env, "app-snap-r") == {"MinCapacity": 2, "MaxCapacity": 32}
    assert code_of(lambda: rds.restore_db_cluster_to_point_in_time(
        DBClusterIdentifier="app-bad", SourceDBClusterIdentifier="app", UseLatestRestorableTime=True,
        ServerlessV2ScalingConfiguration={"MinCapacity": 8, "MaxCapacity": 2})) == "InvalidParameterCombination"


def test_data_api_on_a_paused_cluster_resumes_it(emu_env: Any, serverless: AuroraServerlessEmulator,
                                                 postgres_or_skip: Callable[[Exception], NoReturn]) -> None:
    from pytest_drtest.dataplane import DataPlane, DataPlaneUnavailable
    from pytest_drtest.emulation.aurora import AuroraEmulator
    from pytest_drtest.emulation.rds_data import RdsDataEmulator

    try:
        DataPlane.check()
    except DataPlaneUnavailable as exc:
        postgres_or_skip(exc)
    for key, value in {"rds_create_time": 60.0, "aurora_failover": 30.0}.items():
        emu_env.profile.override(key, value, origin="test")
    # the serverless emulator was added first: move the Aurora ones before it, as the harness orders them
    aurora = AuroraEmulator(emu_env.emulation)
    emu_env.emulation.add(aurora, first=True)
    emu_env.emulation.add(RdsDataEmulator(emu_env.emulation))
    arn = create(emu_env, "app", {"MinCapacity": 0, "MaxCapacity": 4}, instances={"app-w": 5, "app-r": 1},
                 DatabaseName="orders", EnableHttpEndpoint=True)["DBClusterArn"]
    data = emu_env.client("rds-data", REGION)
    secret = "arn:aws:secretsmanager:us-east-1:123456789012:secret:app"
    emu_env.clock.sleep(60)
    data.execute_statement(resourceArn=arn, secretArn=secret, sql="CREATE TABLE t (v int)")
    emu_env.clock.sleep(300 + INTERVAL)
    assert serverless.paused(REGION, "app-w")
    with pytest.raises(data.exceptions.DatabaseResumingException):
        data.execute_statement(resourceArn=arn, secretArn=secret, sql="SELECT count(*) FROM t")
    emu_env.clock.sleep(RESUME)
    answer = data.execute_statement(resourceArn=arn, secretArn=secret, sql="SELECT count(*) FROM t")
    assert answer["records"] == [[{"longValue": 0}]]
    # capacity follows the writer role through a failover: the old writer is a tier-5 reader now
    emu_env.client("rds", REGION).failover_db_cluster(DBClusterIdentifier="app", TargetDBInstanceIdentifier="app-r")
    emu_env.clock.sleep(30.0)
    serverless.offer_load(REGION, "app", 300.0)
    emu_env.clock.sleep(INTERVAL)
    assert (serverless.capacity(REGION, "app-r"), serverless.capacity(REGION, "app-w")) == (3.0, 0.5)
