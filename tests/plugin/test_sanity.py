"""What the model must show with the default profile (figures follow from the model, not constants)."""
from __future__ import annotations

import json

import pytest

pytest_plugins = ["pytester"]


def test_region_loss_figures_follow_the_strategies(pytester: pytest.Pytester):
    result = pytester.runpytest("--dr-scenario=all", "-k", "region-outage", "--dr-report=all.json", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)
    report = json.loads((pytester.path / "all.json").read_text())
    measured = {e["strategy"]: e["measured"] for e in report["experiments"]}
    rto = {name: m["rto_s"] for name, m in measured.items()}
    assert rto["active-active"] <= rto["warm-standby"] <= rto["pilot-light"] <= rto["backup-restore"], rto
    for name in ("warm-standby", "active-active"):
        assert 0 < measured[name]["rpo_s"] < 5, measured[name]  # seconds: in-flight global-table writes
        assert measured[name]["lost_writes"] >= 1
    # backup & restore loses everything since the last backup that reached the DR vault: hours
    assert measured["backup-restore"]["rpo_s"] >= 3600
    assert measured["backup-restore"]["phases"]["failover"] is not None
    restores = [r for r in report["restores"] if r["kind"] == "aws-backup-restore"]
    assert restores and restores[0]["new_resource"] and restores[0]["items_matched"] == restores[0]["items_expected"] > 0
    assert all(e["measured"]["modeled"] for e in report["experiments"])
    # pilot light is the shipped template (web-app.yaml with web-app-pilot-light.json) deployed in both
    # regions: no instance in the DR region, a smaller replica; the runbook launches the DR group and
    # resizes the promoted replica to the primary's class
    pilot = next(e for e in report["experiments"] if e["strategy"] == "pilot-light")
    details = {m["kind"]: m["detail"] for m in pilot["measured"]["milestones"]}
    assert pilot["topology"]["implemented"] == "pilot-light" and pilot["topology"]["dr_instances"] == 0
    assert details["scale-up-started"].endswith("-dr-webgroup -> 3"), details
    assert details["db-resize-started"].endswith("-dr-databasereplica: db.t4g.medium -> db.r6g.large"), details


def test_every_shipped_scenario_has_a_region_loss_and_a_restore_check():
    from pytest_drtest.scenario import load_scenario, shipped_scenarios

    scenarios = shipped_scenarios()
    assert sorted(scenarios) == ["active-active", "backup-restore", "pilot-light", "warm-standby"]
    for name, path in scenarios.items():
        scenario = load_scenario(path)
        assert scenario.strategy.name == name
        assert any(e.fault.kind == "region-outage" for e in scenario.experiments), name
        assert scenario.restore_checks, name


def test_failure_threshold_in_the_ini_moves_detection(pytester: pytest.Pytester):
    pytester.makeini("[pytest]\ndr_latency =\n    route53_failure_threshold = 5\n")
    result = pytester.runpytest("--dr-scenario=warm-standby", "-k", "region-outage", "--dr-report=r.json", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    measured = json.loads((pytester.path / "r.json").read_text())["experiments"][0]["measured"]
    # five failing observations 30 s apart, the first within 30 s of the fault: (120, 150] s (three: (60, 90])
    assert 120 < measured["phases"]["health_check_unhealthy"] <= 150
