"""Which strategy a built topology implements (from AWS describe calls), and the recommendations."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pytest_drtest.assessment import assess_topology, recommendations
from pytest_drtest.harness import Harness
from pytest_drtest.settings import Settings

LEAN = 'name = "lean"\n[compute]\ncapacity = 3\n[[tables]]\nname = "orders"\nseed_items = 5\n[[buckets]]\nname = "assets"\n'


@pytest.fixture(scope="module")
def lean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bp") / "lean.toml"
    path.write_text(LEAN, encoding="utf-8")
    return path


@pytest.mark.parametrize("strategy", ["backup-restore", "pilot-light", "warm-standby", "active-active"])
def test_each_shipped_topology_implements_its_strategy(lean: Path, strategy: str) -> None:
    with Harness(Settings(), strategy=strategy, blueprint=str(lean), regions=("eu-west-1", "eu-central-1")) as dr:
        assessment = assess_topology(dr.topology)
    assert assessment.notes == []
    assert assessment.implemented == strategy, assessment.evidence()
    assert bool(assessment.replication) is (strategy != "backup-restore")


def test_a_standby_scaled_to_zero_is_pilot_light_whatever_it_is_called(lean: Path) -> None:
    with Harness(Settings(), strategy="warm-standby", blueprint=str(lean)) as dr:
        topology = dr.topology
        dr.client("autoscaling", "dr").update_auto_scaling_group(
            AutoScalingGroupName=topology.dr.asg_name, MinSize=0, DesiredCapacity=0
        )
        assessment = assess_topology(topology)
    assert (assessment.declared, assessment.implemented, assessment.dr_compute) == ("warm-standby", "pilot-light", "zero")
    record = {"id": "mine::lose-east", "scenario": "mine", "strategy": "warm-standby", "topology": assessment.as_dict(),
              "objectives": {}, "measured": {}}
    assert recommendations({"experiments": [record]}) == [
        f"mine: declared warm standby, but the built topology implements pilot light: {assessment.evidence()}"
    ]


def _record(ident: str, strategy: str, replication: list[str], rpo: float, rpo_objective: float, source: str) -> dict[str, Any]:
    topology = {"declared": strategy, "implemented": strategy, "dr_compute": "none" if not replication else "zero",
                "replication": replication, "backups": [] if replication else ["AWS Backup every 4 h"], "routing": "failover"}
    return {"id": ident, "scenario": ident.split("::")[0], "strategy": strategy, "disruption": "Region", "topology": topology,
            "objectives": {"rto_s": 86400.0, "rpo_s": rpo_objective, "sources": {"rpo": source}},
            "measured": {"rto_s": 600.0, "rpo_s": rpo}}


def test_a_missed_policy_rpo_points_to_the_strategy_that_met_it_in_the_same_run() -> None:
    slow = _record("backup-restore::region-outage", "backup-restore", [], 11400.0, 300.0, "policy:Region")
    fast = _record("pilot-light::region-outage", "pilot-light", ["DynamoDB global table orders"], 1.25, 300.0, "policy:Region")
    found = recommendations({"experiments": [slow, fast]})
    assert found == [(
        "backup-restore::region-outage: RPO 3h10m: backup & restore cannot meet a 5m00s RPO (policy:Region) — data reaches "
        "the DR region only with each backup copy; pilot light with continuous replication measured 1.2s "
        "(pilot-light::region-outage)"
    )]


def test_without_a_better_measurement_the_whitepaper_band_is_the_hint() -> None:
    slow = _record("backup-restore::region-outage", "backup-restore", [], 11400.0, 300.0, "policy:Region")
    (found,) = recommendations({"experiments": [slow]})
    assert found.endswith("the whitepaper's bands point to warm standby (minutes)")


def test_a_cache_global_datastore_counts_as_continuous_replication(tmp_path: Path) -> None:
    path = tmp_path / "cached.toml"
    path.write_text(LEAN + '[cache]\nengine = "valkey"\n', encoding="utf-8")
    with Harness(Settings(), strategy="warm-standby", blueprint=str(path)) as dr:
        assessment = assess_topology(dr.topology)
    assert assessment.notes == []
    assert "ElastiCache global datastore" in assessment.replication, assessment.evidence()
    assert assessment.implemented == "warm-standby"
