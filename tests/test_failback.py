"""Measuring after a failback: held writes propagate, regions converge, last writer wins is counted."""
from __future__ import annotations

from pathlib import Path

import pytest

from pytest_drtest.harness import Harness
from pytest_drtest.measure import Ledger, Phases, Result, conflict_overwrites
from pytest_drtest.report import summary_lines
from pytest_drtest.report_html import render_html
from pytest_drtest.scenario import load_scenario
from pytest_drtest.settings import Settings

# No database: only the global table replicates, so the test builds in seconds.
LEAN = 'name = "lean"\n[compute]\ncapacity = 2\n[[tables]]\nname = "orders"\nseed_items = 5\n'
SCENARIO = """
name = "lean-aa"
strategy = "active-active"
blueprint = "lean.toml"
steady_state = "1m"
probe = { interval = "1s", recovered_after = 3, timeout = "1h" }
[latency]
route53_health_check_interval = "10s"
dynamodb_replication_lag = "2s"
[[experiments]]
name = "outage"
fault = { kind = "region-outage", region = "primary" }
runbook = "shift-traffic"
[[experiments]]
name = "outage-failback"
fault = { kind = "region-outage", region = "primary" }
runbook = "shift-traffic"
failback = true
probe = { interval = "1s", recovered_after = 3, timeout = "1h", keys = 3 }
"""


@pytest.fixture(scope="module")
def scenario_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("aa")
    (folder / "lean.toml").write_text(LEAN, encoding="utf-8")
    path = folder / "lean-aa.toml"
    path.write_text(SCENARIO, encoding="utf-8")
    return path


def run(scenario_file: Path, name: str) -> Result:
    scenario = load_scenario(scenario_file)
    experiment = next(e for e in scenario.experiments if e.name == name)
    with Harness(Settings(), scenario=scenario, test=f"lean-aa::{name}") as dr:
        return dr.run_experiment(experiment).result


def test_the_writes_an_isolated_region_held_are_missing_at_failover_and_arrive_after_failback(scenario_file: Path) -> None:
    # [DDB-DG:V2globaltables_HowItWorks] "Availability and durability": at failover the DR region
    # lacks the writes that had not left the primary (the RPO counts them); after the failback they
    # propagate, and those whose item the DR region rewrote meanwhile (the probe updates 3 items in
    # turn) lose last writer wins.
    at_failover = run(scenario_file, "outage")
    after_failback = run(scenario_file, "outage-failback")

    assert at_failover.lost_writes and at_failover.rpo_s > 0 and at_failover.conflict_overwrites == []
    assert (after_failback.lost_writes, after_failback.rpo_s) == ([], 0.0)
    held = {w.seq for w in at_failover.lost_writes}
    assert {w.seq for w in after_failback.conflict_overwrites} == held  # same seed: the same writes were held
    kinds = [m.kind for m in after_failback.milestones]
    assert kinds.index("failback") < kinds.index("converged")
    assert after_failback.summary().endswith(f", {len(held)} conflict overwrites")


def test_conflict_overwrites_are_the_acknowledged_writes_the_store_discarded() -> None:
    ledger = Ledger()
    first = ledger.record("k#1", "1@1.000", 1.0)
    ledger.record("k#1", "4@4.000", 4.0)
    ledger.record("k#2", "2@2.000", 2.0)

    found = conflict_overwrites(ledger, [("k#1", "1@1.000"), ("k#2", "never-acknowledged")])

    assert found == [first]


def test_conflict_overwrites_round_trip_and_show_in_the_summary_and_html() -> None:
    ledger = Ledger()
    write = ledger.record("probe#0000003", "120@259.750", 259.75)
    result = Result(fault_t=260.0, rto_s=60.0, rpo_s=0.0, lost_writes=[], phases=Phases(), modeled=True, samples=10,
                    failed_samples=2, conflict_overwrites=[write])
    data = result.as_dict()
    again = Result.from_dict(data)
    experiment = {"scenario": "s", "name": "failback", "strategy": "active-active", "measured": data, "objectives": {},
                  "passed": True, "fault": "region-outage(primary)", "id": "s::failback", "test": "s::failback"}
    plain = dict(experiment, name="plain", id="s::plain", measured=Result.from_dict({}).as_dict())

    lines = summary_lines({"backend": "moto", "seed": 1, "experiments": [experiment, plain]})
    plain_lines = summary_lines({"backend": "moto", "seed": 1, "experiments": [plain]})
    page = render_html({"backend": "moto", "seed": 1, "experiments": [experiment]})

    assert (data["conflict_overwrites"], data["timeline"]["conflicts"]) == (1, [{"seq": 1, "key": "probe#0000003", "t": -0.25}])
    assert [(w.seq, w.key, w.ack_t) for w in again.conflict_overwrites] == [(1, "probe#0000003", 259.75)]
    column = lines[1].index("conflicts")
    assert lines[1][lines[1].index("lost"):column].split() == ["lost", "discarded"]  # right after the lost and discarded writes
    assert (lines[2][column:].split()[0], lines[3][column:].split()[0]) == ("1", "0")
    assert "conflicts" not in plain_lines[1]  # no column when nothing was replaced
    assert 'class="conflicts"' in page and "probe#0000003" in page


def test_wait_converged_needs_the_built_topology() -> None:
    from pytest_drtest.errors import DrConfigError

    class Path_:
        def put(self, key: str, payload: str) -> str:
            return "us-east-1"

        def get(self, key: str) -> tuple[str, str | None]:
            return "us-east-1", None

        def read_all(self, keys: list[str]) -> tuple[str, dict[str, str | None]]:
            return "us-east-1", {}

    with Harness(Settings()) as dr, dr.probe(path=Path_()) as probe, pytest.raises(DrConfigError, match="built topology"):
        probe.wait_converged()


def test_a_probe_with_keys_updates_that_many_items_in_turn() -> None:
    class Recorder:
        def __init__(self) -> None:
            self.keys: list[str] = []
            self.items: dict[str, str] = {}

        def put(self, key: str, payload: str) -> str:
            self.keys.append(key)
            self.items[key] = payload
            return "us-east-1"

        def get(self, key: str) -> tuple[str, str | None]:
            return "us-east-1", self.items.get(key)

        def read_all(self, keys: list[str]) -> tuple[str, dict[str, str | None]]:
            return "us-east-1", {k: self.items.get(k) for k in keys}

    path = Recorder()
    with Harness(Settings()) as dr, dr.probe(path=path, keys=2):
        dr.clock.sleep(5)

    assert path.keys == ["probe#0000001", "probe#0000002", "probe#0000001", "probe#0000002", "probe#0000001"]
    assert len(dr.ledger.latest()) == 2 and len(dr.ledger.writes) == 5
