"""FIS database actions through the Aurora emulator (real PostgreSQL): the failover is the emulator's."""
from __future__ import annotations

import uuid
from typing import Any

import pytest

from pytest_drtest.dataplane import DataPlane, DataPlaneUnavailable
from pytest_drtest.emulation.aurora import AuroraEmulator
from pytest_drtest.emulation.fis import FisEmulator
from tests.conftest import EmuEnv

ROLE = "arn:aws:iam::123456789012:role/fis"


@pytest.fixture
def aurora(emu_env: EmuEnv) -> EmuEnv:
    try:
        DataPlane.check()
    except DataPlaneUnavailable as exc:
        pytest.skip(f"PostgreSQL data plane unavailable: {exc}")
    emu_env.emulation.add(AuroraEmulator(emu_env.emulation))
    emu_env.emulation.add(FisEmulator(emu_env.emulation))
    return emu_env


def _cluster(env: EmuEnv, name: str, members: int) -> None:
    rds = env.client("rds")
    rds.create_db_cluster(DBClusterIdentifier=name, Engine="aurora-postgresql", MasterUsername="app", MasterUserPassword="secret123",
                          Tags=[{"Key": "role", "Value": "cluster"}])
    for i in range(members):
        rds.create_db_instance(DBInstanceIdentifier=f"{name}-{i}", DBClusterIdentifier=name, Engine="aurora-postgresql",
                               DBInstanceClass="db.r6g.large")
    env.clock.sleep(env.profile.figures["rds_create_time"].high)


def _writer(env: EmuEnv, name: str) -> str:
    cluster = env.client("rds").describe_db_clusters(DBClusterIdentifier=name)["DBClusters"][0]
    return str(next(m["DBInstanceIdentifier"] for m in cluster["DBClusterMembers"] if m["IsClusterWriter"]))


def _start(env: EmuEnv, parameters: dict[str, str]) -> tuple[Any, str]:
    fis = env.client("fis")
    token = str(uuid.uuid4())
    template = {"description": "failover", "roleArn": ROLE, "stopConditions": [{"source": "none"}],
                "targets": {"c": {"resourceType": "aws:rds:cluster", "resourceTags": {"role": "cluster"}, "selectionMode": "ALL",
                                  "parameters": parameters}},
                "actions": {"failover": {"actionId": "aws:rds:failover-db-cluster", "targets": {"Clusters": "c"}}},
                "experimentOptions": {"emptyTargetResolutionMode": "skip"}}
    tid = fis.create_experiment_template(clientToken=token, **template)["experimentTemplate"]["id"]
    return fis, fis.start_experiment(clientToken=token, experimentTemplateId=tid)["experiment"]["id"]


def test_failover_db_cluster_fails_over_clusters_whose_writer_is_in_the_az(aurora: EmuEnv) -> None:
    _cluster(aurora, "prod", 2)
    before = _writer(aurora, "prod")
    az = aurora.client("rds").describe_db_instances(DBInstanceIdentifier=before)["DBInstances"][0]["AvailabilityZone"]
    other = "us-east-1c" if az != "us-east-1c" else "us-east-1b"
    fis, skipped = _start(aurora, {"writerAvailabilityZoneIdentifiers": other})
    aurora.clock.sleep(0)
    assert fis.get_experiment(id=skipped)["experiment"]["actions"]["failover"]["state"]["status"] == "skipped"
    fis, exp_id = _start(aurora, {"writerAvailabilityZoneIdentifiers": az})
    aurora.clock.sleep(0)
    assert aurora.client("rds").describe_db_clusters(DBClusterIdentifier="prod")["DBClusters"][0]["Status"] == "failing-over"
    assert fis.get_experiment(id=exp_id)["experiment"]["state"]["status"] == "completed"  # done when the call returns
    aurora.clock.sleep(aurora.profile.figures["aurora_failover"].high)
    assert _writer(aurora, "prod") != before


def test_a_refused_call_fails_the_experiment_with_the_services_error(aurora: EmuEnv) -> None:
    _cluster(aurora, "solo", 1)
    fis, exp_id = _start(aurora, {})
    aurora.clock.sleep(0)
    state = fis.get_experiment(id=exp_id)["experiment"]["state"]
    assert state["status"] == "failed" and state["error"] == {"code": "DependentServiceFailure", "location": "failover"}
    assert state["reason"].startswith("Action failover (aws:rds:failover-db-cluster) failed: FailoverDBCluster of solo failed: "
                                      "InvalidDBClusterStateFault")
