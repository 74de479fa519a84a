"""pytest-xdist: a game day over two workers gives the serial run's figures, in one report."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib.figure  # noqa: F401 - loaded here once: pytester's in-process runs cannot load numpy twice
import pytest

pytest_plugins = ["pytester"]

# Two quick, independent experiments on a small application: one on the database tier (real
# PostgreSQL in each worker), one that restores a table and checks it against the ledger.
BLUEPRINT = """
name = "small-app"
domain = "drtest.example"
record = "www"

[compute]
instance_type = "t3.micro"
capacity = 1

[[tables]]
name = "orders"
hash_key = "pk"
seed_items = 20

[database]
name = "appdb"
table = "ledger"
instance_class = "db.r6g.large"
"""

SCENARIO = """
name = "ci"
strategy = "warm-standby"
blueprint = "small-app.toml"
steady_state = "30s"
probe = { interval = "10s", recovered_after = 2, timeout = "2h" }

[[experiments]]
name = "reboot-with-failover"
fault = { kind = "reboot-database", failover = true }
runbook = "none"
objectives = { rto = "5m", rpo = "0s" }

[[experiments]]
name = "corrupt-table"
fault = { kind = "corrupt-table", table = "orders", fraction = 0.1 }
runbook = "pitr-restore"
objectives = { rto = "2h", rpo = "5m" }
probe = { interval = "1m", recovered_after = 2, timeout = "2h" }  # an hour-long restore: few ticks
"""


def figures(report: dict[str, Any]) -> dict[str, Any]:
    """What a run measured: everything but wall times and the creation time."""
    experiments = [{k: v for k, v in e.items() if k != "wall_s"} for e in report["experiments"]]
    return {"experiments": experiments, "restores": report["restores"], "availability": report["availability"],
            "recommendations": report["recommendations"], "seed": report["seed"]}


def test_two_workers_give_the_serial_figures_in_one_report(pytester: pytest.Pytester) -> None:
    pytester.makefile(".toml", ci=SCENARIO, **{"small-app": BLUEPRINT})
    common = ["--dr-scenario=ci.toml", "-p", "no:cacheprovider", "-v"]
    serial = pytester.runpytest(*common, "--dr-report=serial.json")
    serial.assert_outcomes(passed=2)
    # the progress of each experiment, phase by phase, on the modeled clock
    serial.stdout.fnmatch_lines([
        "drtest:ci::reboot-with-failover ",
        "    drtest 00:00:00  building       warm-standby topology in us-east-1 + us-west-2",
        "    drtest ??:??:??  steady state   probing every 10.0s",
        "    drtest ??:??:??  fault          reboot-database(failover)",
        "    drtest ??:??:??  detection      first failed probe",
        "    drtest ??:??:??  recovered      RTO *",
        "PASSED*",
        "drtest:ci::corrupt-table ",
        "*  fault          corrupt-table(orders, 0.1, overwrite)",
        "*  detection      corruption of * noticed",
        "*  failover       *",
        "*  recovered      RTO *",
        "*  restore checks 1 restore(s) against the ledger: dynamodb-pitr",
        "PASSED*",
    ])

    parallel = pytester.runpytest(*common, "-n", "2", "--dr-report=parallel.json", "--dr-html=parallel.html")
    parallel.assert_outcomes(passed=2)
    out = parallel.stdout.str()
    assert "created: 2/2 workers" in out
    assert [line for line in out.splitlines() if line.startswith("    drtest ")] == []  # workers print nothing

    one = json.loads((pytester.path / "serial.json").read_text())
    two = json.loads((pytester.path / "parallel.json").read_text())
    assert [e["id"] for e in two["experiments"]] == ["ci::reboot-with-failover", "ci::corrupt-table"]
    assert figures(two) == figures(one)
    assert len(two["restores"]) == 1 and two["availability"]["total_s"] > 0

    # one summary, with one line per experiment, printed once (by the controller)
    assert out.count("drtest summary") == 1
    for name in ("reboot-with-failover", "corrupt-table"):
        assert len([line for line in out.splitlines() if line.split()[:2] == ["ci", name]]) == 1, out
    assert out.count("JSON report: parallel.json") == 1
    html = (pytester.path / "parallel.html").read_text()
    assert "reboot-with-failover" in html and "corrupt-table" in html


def test_an_experiments_figures_do_not_depend_on_what_ran_before_it_in_its_process(tmp_path: Path) -> None:
    """A worker runs a different sequence of experiments than a serial run: the second run of
    the same experiment in one process reports exactly what the first did (names of restored
    tables included)."""
    from pytest_drtest.harness import Harness
    from pytest_drtest.scenario import load_scenario
    from pytest_drtest.settings import Settings

    (tmp_path / "small-app.toml").write_text(BLUEPRINT.split("[database]")[0])  # quicker without a database
    reboot = SCENARIO.index("[[experiments]]"), SCENARIO.index('name = "corrupt-table"')
    (tmp_path / "ci.toml").write_text(SCENARIO[: reboot[0]] + "[[experiments]]\n" + SCENARIO[reboot[1]:])
    experiment = next(e for e in load_scenario(tmp_path / "ci.toml").experiments if e.name == "corrupt-table")
    runs = []
    for _ in range(2):
        scenario = load_scenario(tmp_path / "ci.toml")
        with Harness(Settings(), test="ci::corrupt-table", scenario=scenario) as dr:
            record = dr.run_experiment(experiment).as_dict()
            runs.append(({k: v for k, v in record.items() if k != "wall_s"}, [r.target for r in dr.restore_results]))
    assert runs[0] == runs[1]
    assert runs[0][1] == ["dr-warm-standby-orders-pitr-1"]
