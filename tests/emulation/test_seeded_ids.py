"""Ids the Aurora and Data API emulators make come from the run's seed (each run its own world)."""
from __future__ import annotations

import json

import pytest

from pytest_drtest.backends.moto import MotoBackend
from pytest_drtest.clock import VirtualClock
from pytest_drtest.dataplane import DataPlane, DataPlaneUnavailable
from pytest_drtest.emulation.aurora import AuroraEmulator
from pytest_drtest.emulation.core import Emulation
from pytest_drtest.emulation.rds_data import RdsDataEmulator
from pytest_drtest.profile import LatencyProfile

PRIMARY = "us-east-1"
ENGINE = "aurora-postgresql"


def _first_ids(seed: int) -> tuple[str, str, str]:
    """A global cluster's resource id and endpoint and a Data API transaction id, in a fresh run."""
    backend = MotoBackend()
    backend.start()
    emulation = Emulation(VirtualClock(), LatencyProfile(seed=seed), backend.factory(backend.new_session()))
    try:
        session = backend.new_session()
        emulation.install_session(session)
        emulation.add(AuroraEmulator(emulation))
        emulation.add(RdsDataEmulator(emulation))
        clients = backend.factory(session)
        rds = clients.client("rds", PRIMARY)
        created = rds.create_global_cluster(GlobalClusterIdentifier="g1", Engine=ENGINE)["GlobalCluster"]
        arn = rds.create_db_cluster(DBClusterIdentifier="prod", Engine=ENGINE, MasterUsername="app",
                                    MasterUserPassword="secret123", EnableHttpEndpoint=True)["DBCluster"]["DBClusterArn"]
        rds.create_db_instance(DBInstanceIdentifier="prod-1", DBClusterIdentifier="prod", Engine=ENGINE,
                               DBInstanceClass="db.r6g.large")
        emulation.clock.sleep(3600)
        secret = clients.client("secretsmanager", PRIMARY).create_secret(
            Name="prod-master", SecretString=json.dumps({"username": "app", "password": "secret123"}))["ARN"]
        tx = clients.client("rds-data", PRIMARY).begin_transaction(resourceArn=arn, secretArn=secret)["transactionId"]
        return created["GlobalClusterResourceId"], created["Endpoint"], tx
    finally:
        emulation.close()
        backend.stop()


def test_global_cluster_ids_and_transaction_ids_come_from_the_seed() -> None:
    try:
        DataPlane.check()
    except DataPlaneUnavailable as exc:
        pytest.skip(f"PostgreSQL data plane unavailable: {exc}")
    first, again, other = _first_ids(1), _first_ids(1), _first_ids(2)

    assert first == again
    assert all(a != b for a, b in zip(first, other, strict=True))
    assert first[1] == f"g1.global-{first[0].removeprefix('cluster-')}.global.rds.amazonaws.com"
