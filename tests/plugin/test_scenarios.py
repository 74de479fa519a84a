"""``--dr-scenario``: shipped game days, users' scenario files, reports, and bad files."""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

pytest_plugins = ["pytester"]

MINIMAL = """
name = "mine"
strategy = "warm-standby"
steady_state = "1m"
probe = {{ interval = "2s" }}
{extra}
[[experiments]]
name = "lose-east"
fault = {{ kind = "region-outage", region = "primary" }}
runbook = "dns-failover"
objectives = {{ rto = "{rto}", rpo = "10s" }}
"""


def test_shipped_game_day_in_an_empty_folder(pytester: pytest.Pytester):
    result = pytester.runpytest("--dr-scenario=warm-standby", "-k", "region-outage or az-outage", "--dr-report=out/report.json",
                                "--junitxml=junit.xml")
    assert result.ret == 0
    result.stdout.fnmatch_lines([
        "*drtest summary*",
        "scenario*experiment*strategy*RTO obj*RTO*RPO obj*RPO*lost*availability*objectives*verdict*figures*fault",
        "warm-standby*region-outage*warm-standby*15m00s*experiment*PASS*modeled*region-outage(primary)",
        "warm-standby*database-az-outage*warm-standby*PASS*modeled*az-outage(primary:database)",
        "*2 passed*",
    ])
    report = json.loads((pytester.path / "out" / "report.json").read_text())
    assert report["backend"] == "moto" and report["clock"] == "virtual" and report["seed"] == 1
    outage = next(e for e in report["experiments"] if e["fault"] == "region-outage(primary)")
    assert outage["scenario"] == "warm-standby" and outage["strategy"] == "warm-standby"
    assert outage["id"] == "warm-standby::region-outage" and outage["name"] == "region-outage"
    assert outage["objectives"] == {"rto_s": 900.0, "rpo_s": 5.0, "availability": None, "discarded": 0,
                                    "sources": {"rto": "experiment", "rpo": "experiment"}}
    measured = outage["measured"]
    assert 0 < measured["rto_s"] <= 900 and measured["modeled"] is True
    assert measured["phases"]["detected"] is not None and measured["phases"]["health_check_unhealthy"] > 0
    assert outage["passed"] is True
    props = {p.get("name"): p.get("value") for p in ET.parse(pytester.path / "junit.xml").iter("property")}
    assert {"rto_s", "rpo_s", "lost_writes", "modeled"} <= set(props)


def test_users_scenario_file_runs_and_fails_with_a_story(pytester: pytest.Pytester):
    pytester.makefile(".toml", mine=MINIMAL.format(extra="", rto="10s"))
    result = pytester.runpytest("--dr-scenario=mine.toml")
    assert result.ret == 1
    result.stdout.fnmatch_lines([
        "*mine / lose-east: RTO * s exceeds objective 10 s (fault at 0 s, detected +*s*health check unhealthy +*",
        "mine*lose-east*warm-standby*10.0s*FAIL*modeled*region-outage(primary)",
    ])


def test_scenario_latency_table_and_profile_file_move_the_figures(pytester: pytest.Pytester):
    fast = MINIMAL.format(extra='[latency]\nroute53_health_check_interval = "10s"\n', rto="1h")
    pytester.makefile(".toml", fast=fast, slow=MINIMAL.format(extra="", rto="1h"))
    reports = {}
    for name in ("fast", "slow"):
        pytester.runpytest(f"--dr-scenario={name}.toml", f"--dr-report={name}.json").assert_outcomes(passed=1)
        reports[name] = json.loads((pytester.path / f"{name}.json").read_text())["experiments"][0]["measured"]
    # three failing observations, the first within one interval of the fault
    assert 20 < reports["fast"]["phases"]["health_check_unhealthy"] <= 30  # 10 s x 3
    assert 60 < reports["slow"]["phases"]["health_check_unhealthy"] <= 90  # 30 s x 3
    # faster detection never recovers later (here the DR scale-up, not DNS, is what recovery waits for)
    assert reports["fast"]["rto_s"] <= reports["slow"]["rto_s"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('name = "x"\nstrategy = "hot-standby"\n', "field 'strategy': unknown strategy 'hot-standby'; expected one of: backup-restore, pilot-light, warm-standby, active-active"),
        ('name = "x"\nstrategy = "warm-standby"\nsteady_state = "5 minutes"\n', "field 'steady_state': '5 minutes' is not a duration"),
        ('name = "x"\nstrategy = "warm-standby"\nregions = { primary = "us-east-1", dr = "us-east-1" }\n', "field 'regions.dr': the DR region must differ"),
        ('name = "x"\nstrategy = "warm-standby"\nregions = { dr = "moon-1" }\n', "field 'regions.dr': unknown region 'moon-1'"),
        ('name = "x"\nstrategy = "warm-standby"\n[[experiments]]\nfault = { kind = "meteor" }\n', "field 'experiments[0].fault.kind': unknown fault kind 'meteor'"),
        ('name = "x"\nstrategy = "warm-standby"\n[[experiments]]\nfault = { kind = "corrupt-table", table = "users" }\n', "unknown table 'users'"),
        ('name = "x"\nstrategy = "warm-standby"\n[[experiments]]\nfault = { kind = "az-outage", az = "primary:z" }\n', "unknown AZ 'primary:z'"),
        ('name = "x"\nstrategy = "warm-standby"\n[[experiments]]\nfault = { kind = "region-outage" }\nrunbook = "pray"\n', "field 'experiments[0].runbook': unknown runbook 'pray'"),
        ('name = "x"\nstrategy = "warm-standby"\nprobe = { interval = "fast" }\n', "field 'probe.interval': 'fast' is not a duration"),
        ('name = "x"\nstrategy = "warm-standby"\nprobe = { keys = 0 }\n[[experiments]]\nfault = { kind = "region-outage" }\n',
         "field 'probe.keys': expected at least 1"),
        ('name = "x"\nstrategy = "warm-standby"\n[[experiments]]\nfault = { kind = "corrupt-table", table = "orders" }\n'
         + 'failback = true\n', "field 'experiments[0].failback': failback reverts the fault after recovery; 'corrupt-table'"),
        ('name = "x"\nstrategy = "warm-standby"\n[[experiments]]\nfault = { kind = "region-outage" }\nfailback = "yes"\n',
         "field 'experiments[0].failback': expected"),
        ('name = "x"\nstrategy = "warm-standby"\ncolour = "red"\n[[experiments]]\nfault = { kind = "region-outage" }\n', "unknown field(s) colour"),
        ('name = "x"\nstrategy = "warm-standby"\n', "needs at least one [[experiments]] or [[restore_checks]]"),
        ('name = "x"\nstrategy = "warm-standby"\nblueprint = "nope"\n', "field 'blueprint': unknown blueprint 'nope'"),
        ("name = [", "not valid TOML"),
        ('strategy = "warm-standby"\n', "field 'name': is required (a string)"),
    ],
)
def test_malformed_scenario_files_name_the_file_and_field(pytester: pytest.Pytester, body, message):
    pytester.makefile(".toml", bad=body)
    result = pytester.runpytest("--dr-scenario=bad.toml")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    err = result.stderr.str()
    assert "bad.toml" in err and message in err, err
    assert "Traceback" not in err


def test_malformed_blueprint_names_the_blueprint_file(pytester: pytest.Pytester):
    pytester.makefile(".toml", shop='name = "shop"\n[compute]\ncapacity = "three"\n[[tables]]\nname = "carts"\n')
    pytester.makefile(".toml", game='name = "game"\nstrategy = "pilot-light"\nblueprint = "shop.toml"\n[[experiments]]\nfault = { kind = "region-outage" }\n')
    result = pytester.runpytest("--dr-scenario=game.toml")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*shop.toml: field 'compute.capacity': expected an integer, got 'three'*"])


def test_same_seed_same_figures_other_seed_may_differ(pytester: pytest.Pytester):
    pytester.makefile(".toml", mine=MINIMAL.format(extra="", rto="1h"))
    figures = []
    for seed in (5, 5, 6):
        pytester.runpytest("--dr-scenario=mine.toml", f"--dr-seed={seed}", f"--dr-report=r{len(figures)}.json").assert_outcomes(passed=1)
        figures.append(json.loads((pytester.path / f"r{len(figures)}.json").read_text())["experiments"][0]["measured"])
    assert figures[0] == figures[1]
    assert figures[0] != figures[2]


def test_missing_postgres_binaries_give_one_clear_error(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DRTEST_PG_BIN", str(pytester.path / "no-postgres-here"))
    result = pytester.runpytest_subprocess("--dr-scenario=warm-standby", "-k", "reboot", "-p", "no:cacheprovider", timeout=120)
    assert result.ret == 1
    out = result.stdout.str()
    assert "warm-standby / reboot-with-failover:" in out and "pip install" in out, out
    assert "Traceback" not in out


TINY_BLUEPRINT = """
name = "tiny"
[compute]
capacity = 1
[[tables]]
name = "orders"
seed_items = 10
[backup]
schedule = "cron(0 * ? * * *)"
[database]
snapshot_every = "1h"
"""

DATA_GAME_DAY = """
name = "data"
strategy = "backup-restore"
blueprint = "tiny.toml"
steady_state = "90m"  # the restore checks': past the hourly AWS Backup rule and its job
probe = { interval = "60s", timeout = "3h" }
objectives = { rto = "2h", rpo = "5m" }

[[experiments]]
name = "corrupt-orders"
steady_state = "2m"
probe = { interval = "30s" }
fault = { kind = "corrupt-table", table = "orders", fraction = 0.5 }
runbook = "pitr-restore"

[[experiments]]
name = "corrupt-ledger"
steady_state = "2m"
probe = { interval = "30s" }
fault = { kind = "corrupt-database", mode = "overwrite", fraction = 0.5 }
runbook = "pitr-restore"

[[experiments]]
name = "restore-and-forget"
steady_state = "2m"
probe = { interval = "30s" }
fault = { kind = "corrupt-table", table = "orders", fraction = 0.5 }
runbook = "forgetful:restore_only"

[[restore_checks]]
name = "orders-pitr"
kind = "dynamodb-pitr"
age = "6m"

[[restore_checks]]
name = "orders-backup"
kind = "dynamodb-backup"
age = "30m"

[[restore_checks]]
name = "orders-vault"
kind = "aws-backup"

[[restore_checks]]
name = "ledger-pitr"
kind = "rds-pitr"
age = "10m"

[[restore_checks]]
name = "ledger-snapshot"
kind = "rds-snapshot"
age = "20m"
"""

FORGETFUL_RUNBOOK = '''
def restore_only(topology, clock):
    """Restore the table to before the corruption and repoint the application; copy nothing back."""
    fault = topology.faults[-1]
    ddb = topology.client("dynamodb", fault.record["region"])
    at = clock.datetime(fault.injected_at - 1).replace(microsecond=0)
    clock.sleep(360)  # until that second is restorable (PITR trails the clock by 5 minutes)
    target = f"{topology.name}-orders-restored"
    ddb.restore_table_to_point_in_time(SourceTableName=fault.record["table"], TargetTableName=target, RestoreDateTime=at)
    ddb.get_waiter("table_exists").wait(TableName=target, WaiterConfig={"Delay": 20, "MaxAttempts": 360})
    topology.point_app_at_table("primary", target)
'''


def test_data_faults_and_every_restore_kind_run_and_are_checked(pytester: pytest.Pytester):
    """The pitr-restore runbook (corrupt-table, corrupt-database), a runbook that discards the writes
    made after the fault, and one restore check of every kind on a small backup & restore topology."""
    pytester.makefile(".toml", tiny=TINY_BLUEPRINT, data=DATA_GAME_DAY)
    pytester.makepyfile(forgetful=FORGETFUL_RUNBOOK)
    pytester.makeini("[pytest]\npythonpath = .\n")
    result = pytester.runpytest("--dr-scenario=data.toml", "--dr-report=report.json", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines([
        ("*data / restore-and-forget: * writes acknowledged after the fault discarded (+*s to +*s), objective none "
        "(sequence numbers *: acknowledged to the application after the fault, missing from the recovered store)*"),
    ])
    report = json.loads((pytester.path / "report.json").read_text())
    experiments = {e["name"]: e for e in report["experiments"]}
    for name in ("corrupt-orders", "corrupt-ledger"):
        measured = experiments[name]["measured"]
        assert experiments[name]["passed"], experiments[name]["failures"]
        assert measured["discarded_writes"] == 0 and measured["rto_s"] is not None
        reapplied = next(m for m in measured["milestones"] if m["kind"] == "writes-reapplied")
        assert "copied back" in reapplied["detail"] and "written by the corruption left as restored" in reapplied["detail"]
    forgot = experiments["restore-and-forget"]["measured"]
    assert not experiments["restore-and-forget"]["passed"] and forgot["discarded_writes"] > 0
    restores = report["restores"]
    kinds = sorted(r["kind"] for r in restores)
    # the experiments' restores (the forgetful runbook records none) and one per restore check
    assert kinds == ["aws-backup", "dynamodb-backup", "dynamodb-pitr", "dynamodb-pitr", "rds-pitr", "rds-pitr", "rds-snapshot"], kinds
    for restore in restores:
        assert restore["passed"] and restore["new_resource"], restore
        assert restore["items_matched"] == restore["items_expected"] > 10, restore  # seed items and probe writes
    checked = [r for r in restores if r["test"].endswith("::restore-checks")]
    assert sorted(r["kind"] for r in checked) == ["aws-backup", "dynamodb-backup", "dynamodb-pitr", "rds-pitr", "rds-snapshot"]
