"""Objects the topology wrote are acknowledged writes: recovery that loses them widens the RPO."""
from __future__ import annotations

from typing import Any

import pytest

from pytest_drtest import faults
from pytest_drtest.errors import ObjectiveMissed
from pytest_drtest.harness import Harness
from pytest_drtest.measure import (
    Ledger,
    Phases,
    Result,
    lost_objects,
    object_key,
    window,
)
from pytest_drtest.objectives import Objectives, failures
from pytest_drtest.recovery import resolve_runbook
from pytest_drtest.settings import Settings


@pytest.fixture
def ws() -> Any:
    with Harness(Settings(), strategy="warm-standby") as harness:
        yield harness


def test_objects_deleted_and_never_recovered_are_lost_writes_of_the_rpo(ws: Any) -> None:
    seeded = {w.key: w for w in ws.topology.objects.writes}
    assert len(seeded) == 20 and all(key.startswith("s3://assets/seed/") for key in seeded)
    with ws.probe(interval="10s") as probe:
        ws.clock.sleep("2m")
        fault = ws.inject(faults.DeleteObjects(bucket="assets", prefix="seed/", fraction=0.5, versions=True))
        probe.wait_recovered(within="5m")
        result = probe.result()
    assert sorted(w.key for w in result.lost_objects) == sorted(object_key("assets", k) for k in fault.deleted)
    assert result.lost_writes == []  # no item was lost: only the objects
    earliest = min(seeded[w.key].ack_t for w in result.lost_objects)
    assert result.rpo_s == pytest.approx(result.fault_t - earliest)  # written at the build, lost at the fault
    data = result.as_dict()
    assert data["lost_writes"] == 10 and len(data["lost_objects"]) == 10
    assert Result.from_dict(data).as_dict() == data
    with pytest.raises(ObjectiveMissed, match=r"10 lost objects: s3://assets/seed/"):
        ws.assert_objectives(result, rpo="0s")


def test_objects_copied_back_from_the_replica_are_not_lost(ws: Any) -> None:
    with ws.probe(interval="10s") as probe:
        ws.clock.sleep("2m")
        ws.inject(faults.DeleteObjects(bucket="assets", prefix="seed/", fraction=0.5))
        resolve_runbook("copy-back-from-replica")(ws.topology, ws.clock)
        probe.wait_recovered(within="5m")
        result = probe.result()
    assert result.lost_objects == [] and result.rpo_s == 0.0


def test_the_window_takes_the_earliest_loss_of_either_store() -> None:
    items, objects = Ledger(), Ledger()
    items.record("k1", "v1", 95.0)
    objects.record(object_key("assets", "a.json"), '"etag-a"', 40.0)
    objects.record(object_key("assets", "b.json"), '"etag-b"', 50.0)
    gone = lost_objects(objects, {object_key("assets", "a.json"): '"etag-a"', object_key("assets", "b.json"): '"other"'})
    assert [w.key for w in gone] == ["s3://assets/b.json"]  # a different ETag is not the acknowledged object
    assert window(100.0, list(items.writes), gone) == 50.0
    assert window(100.0, [], []) == 0.0
    result = Result(fault_t=100.0, rto_s=0.0, rpo_s=50.0, lost_writes=[], phases=Phases(), modeled=True, samples=0,
                    failed_samples=0, lost_objects=gone)
    assert result.summary() == "RTO 0.0s, RPO 50.0s, 0 lost writes, 1 lost objects"
    [missed] = failures(result, Objectives(rpo=0.0))
    assert missed.startswith("RPO 50.0 s exceeds objective 0 s (1 lost object: s3://assets/b.json; earliest acknowledged at -50.0 s")
