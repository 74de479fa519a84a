"""Reports of a real (small) game day: the summary, the JSON report, the HTML page, compare and gate.

One game day (a lean blueprint without a database, short steady state) runs once per module in a
sub-folder of its rootdir, the way a team runs ``pytest`` from ``gameday/``; the tests read its
output and files, and gate runs compare against it.
"""
from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

# one worker runs the module, so its module-scoped world is built once (pytest-xdist --dist loadgroup;
# while xdist cannot read the mark under pytest 9.2, tests/conftest.py's ONE_WORKER_FILES groups the file)
pytestmark = pytest.mark.xdist_group("reports-game-day")


pytest_plugins = ["pytester"]

BLUEPRINT = """
name = "lean"
[compute]
capacity = 3
[[tables]]
name = "orders"
seed_items = 20
[[buckets]]
name = "assets"
seed_objects = 2
"""

SCENARIO = """
name = "lean"
strategy = "warm-standby"
blueprint = "lean.toml"
steady_state = "1m"
probe = { interval = "2s", timeout = "1h" }
objectives = { availability = "20%" }

[[experiments]]
name = "lose-east"
fault = { kind = "region-outage", region = "primary" }
runbook = "dns-failover"
objectives = { rto = "15m", rpo = "10s" }

[[experiments]]
name = "lose-east-fast-probes"
fault = { kind = "region-outage", region = "primary" }
runbook = "dns-failover"
probe = { interval = "1s" }

[[experiments]]
name = "corrupt-orders"
fault = { kind = "corrupt-table", table = "orders", fraction = 0.1 }
runbook = "pitr-restore"
objectives = { rto = "2h" }
probe = { interval = "30s" }

[[restore_checks]]
name = "orders-pitr"
kind = "dynamodb-pitr"
table = "orders"
age = "5m"
steady_state = "8m"
probe = { interval = "30s" }
"""

# A lenient Region entry (the fixture's game day passes under it); CloudFormation YAML with short-form tags.
POLICY = """
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Tier: {Type: String, Default: Critical}
Resources:
  GameDayPolicy:
    Type: AWS::ResilienceHub::ResiliencyPolicy
    Properties:
      PolicyName: game-day
      Tier: !Ref Tier
      Policy:
        Region: {RtoInSecs: 3600, RpoInSecs: 60}
        AZ: {RtoInSecs: 300, RpoInSecs: 0}
        Hardware: {RtoInSecs: 300, RpoInSecs: 0}
        Software: {RtoInSecs: 14400, RpoInSecs: 3600}
"""


@dataclass
class GameDay:
    root: Path
    here: Path
    stdout: str
    ret: int
    report: dict[str, Any]
    html: Path


def run_pytest(cwd: Path, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args], cwd=cwd, capture_output=True, text=True,
        timeout=timeout, check=False,
    )


def write_files(root: Path) -> Path:
    (root / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    here = root / "gameday"
    here.mkdir()
    (here / "lean.toml").write_text(BLUEPRINT, encoding="utf-8")
    (here / "lean-scenario.toml").write_text(SCENARIO, encoding="utf-8")
    (here / "policy.yaml").write_text(POLICY, encoding="utf-8")
    return here


@pytest.fixture(scope="module")
def game_day(tmp_path_factory: pytest.TempPathFactory) -> GameDay:
    root = tmp_path_factory.mktemp("gd")
    here = write_files(root)
    done = run_pytest(here, "--dr-scenario=lean-scenario.toml", "--dr-report=out/report.json", "--dr-html=out/report.html",
                      "--dr-policy=policy.yaml")
    report = json.loads((here / "out" / "report.json").read_text(encoding="utf-8"))
    return GameDay(root, here, done.stdout + done.stderr, done.returncode, report, here / "out" / "report.html")


def test_summary_names_experiments_and_tells_them_apart(game_day: GameDay) -> None:
    assert game_day.ret == 0, game_day.stdout
    lines = game_day.stdout.splitlines()
    header = next(line for line in lines if line.startswith("scenario  experiment"))
    assert header.split()[:3] == ["scenario", "experiment", "strategy"] and header.rstrip().endswith("fault")
    rows = {line.split()[1]: line for line in lines if line.startswith("lean  ")}
    assert {"lose-east", "lose-east-fast-probes", "corrupt-orders"} <= set(rows)
    assert rows["lose-east"].endswith("region-outage(primary)") and rows["lose-east-fast-probes"].endswith("region-outage(primary)")
    assert rows["corrupt-orders"].endswith("corrupt-table(orders, 0.1, overwrite)")  # not cut


def test_progress_lines_and_failures_show_item_ids_without_parent_folders(game_day: GameDay) -> None:
    assert "drtest:lean " in game_day.stdout and "../drtest" not in game_day.stdout
    assert {e["id"] for e in game_day.report["experiments"]} == {"lean::lose-east", "lean::lose-east-fast-probes", "lean::corrupt-orders"}


def test_summary_header_shows_the_regions_used_and_restores_the_test_that_made_them(game_day: GameDay) -> None:
    out = game_day.stdout
    assert "regions us-east-1 (primary), us-west-2 (dr)" in out
    assert "drtest: backend=moto (default), seed=1 (default), regions=us-east-1,us-west-2 (scenario lean)" in out
    restore_header = next(line for line in out.splitlines() if line.startswith("restore "))
    assert restore_header.rstrip().endswith("made by")
    made_by = {line.split()[-1] for line in out.splitlines() if line.startswith("dynamodb-pitr")}
    assert made_by == {"lean::corrupt-orders", "lean::restore-checks"}, out
    assert {display for display in made_by} == {r["test"].split("drtest:")[-1] for r in game_day.report["restores"]}


def test_policy_entries_judge_each_fault_by_its_disruption_type(game_day: GameDay) -> None:
    by_id = {e["id"]: e for e in game_day.report["experiments"]}
    outage, corrupt = by_id["lean::lose-east"], by_id["lean::corrupt-orders"]
    assert outage["disruption"] == "Region" and outage["policy"] == "game-day" and outage["policy_entry"] == "Region"
    assert outage["objectives"]["rto_s"] == 3600 and outage["objectives"]["rpo_s"] == 60
    assert outage["objectives"]["sources"] == {"rto": "policy:Region", "rpo": "policy:Region", "availability": "scenario"}
    assert corrupt["disruption"] == "Software" and corrupt["policy_entry"] == "Software"
    assert corrupt["objectives"]["rto_s"] == 14400
    policy = game_day.report["policy"]
    assert policy["name"] == "game-day" and policy["tier"] == {"Ref": "Tier"} and policy["shape"] == "cloudformation-template"
    assert "policy:Region" in game_day.stdout and "policy game-day (policy.yaml)" in game_day.stdout


def test_availability_per_experiment_and_run_against_the_scenario_objective(game_day: GameDay) -> None:
    experiments = game_day.report["experiments"]
    for e in experiments:
        availability = e["measured"]["availability"]  # seconds: each tick stands for the time until the next
        assert 0 < availability["ok_s"] <= availability["total_s"]
        assert (availability["ok_s"] < availability["total_s"]) == (e["measured"]["failed_samples"] > 0)
        assert e["objectives"]["availability"] == 0.2
    outage = next(e for e in experiments if e["id"] == "lean::lose-east")
    assert 0.2 < outage["measured"]["availability"]["ratio"] < 1  # a region outage costs probes
    run = game_day.report["availability"]
    assert run["total_s"] == pytest.approx(sum(e["measured"]["availability"]["total_s"] for e in experiments))
    assert "nines)" in game_day.stdout and "availability of the run:" in game_day.stdout


def test_assessment_derives_the_strategy_from_the_built_topology(game_day: GameDay) -> None:
    topology = game_day.report["experiments"][0]["topology"]
    assert topology["declared"] == topology["implemented"] == "warm-standby"
    assert topology["dr_compute"] == "reduced" and 0 < topology["dr_instances"] < topology["primary_instances"]
    assert "DynamoDB global table orders" in topology["replication"] and topology["routing"] == "failover"
    assert "lean: the built topology implements warm standby (as declared)" in game_day.stdout


def test_json_report_round_trips_and_carries_what_compare_needs(game_day: GameDay) -> None:
    from pytest_drtest.report import RunReport, merge_reports

    data = game_day.report
    assert data["schema"] == 2 and data["plugin"]["name"] == "pytest-drtest" and data["plugin"]["version"]
    assert data["seed"] == 1 and data["profile"]["overrides"] == {}
    back = RunReport.from_dict(data).as_dict()
    assert back["experiments"] == data["experiments"] and back["restores"] == data["restores"]
    halves = [dict(data, experiments=data["experiments"][:1]), dict(data, experiments=data["experiments"][1:], restores=[])]
    merged = merge_reports(halves)
    assert merged["experiments"] == data["experiments"] and merged["availability"] == data["availability"]
    segments = data["experiments"][0]["measured"]["timeline"]["segments"]
    assert sum(s["n"] for s in segments) == data["experiments"][0]["measured"]["samples"]


def test_html_renders_the_same_from_the_json_report(game_day: GameDay) -> None:
    from pytest_drtest.report_html import render_html

    page = game_day.html.read_text(encoding="utf-8")
    rendered = render_html(game_day.report)
    assert rendered.splitlines() == page.splitlines()
    assert page.count('<svg class="timeline"') == len(game_day.report["experiments"])
    without_namespaces = re.sub(r'xmlns(:\w+)?="[^"]*"', "", page)  # XML namespace names are never fetched
    assert "http://" not in without_namespaces and "https://" not in without_namespaces
    assert "<script" not in page and "@import" not in page
    for e in game_day.report["experiments"]:
        assert e["id"] in page
    assert "Restore checks" in page and "resiliency policy" in page and "latency profile" in page


def test_compare_prints_then_and_now_and_a_gate_without_regression_passes(game_day: GameDay) -> None:
    done = run_pytest(game_day.here, "--dr-scenario=lean-scenario.toml", "-k", "lose-east and not fast",
                      "--dr-compare=out/report.json", "--dr-gate=rto:10%", "--dr-gate=rpo:0,lost_writes:0")
    out = done.stdout
    assert done.returncode == 0, out
    row = next(line for line in out.splitlines() if line.startswith("lean::lose-east "))
    before = next(e for e in game_day.report["experiments"] if e["id"] == "lean::lose-east")["measured"]
    from pytest_drtest.durations import format_duration

    assert row.split()[1:4] == [format_duration(before["rto_s"]), format_duration(before["rto_s"]), "="]
    assert "lean::corrupt-orders" in out and "not run now" in out
    assert "drtest gate: no regression against out/report.json (rto:10%, rpo:0, lost_writes:0)" in out


def test_gate_fails_the_session_with_a_line_per_regression(game_day: GameDay) -> None:
    previous = copy.deepcopy(game_day.report)
    outage = next(e for e in previous["experiments"] if e["id"] == "lean::lose-east")
    outage["measured"]["rto_s"] = round(outage["measured"]["rto_s"] / 2, 3)  # the last run recovered twice as fast
    outage["measured"]["lost_writes"] = 0
    outage["measured"]["rpo_s"] = 0.0
    (game_day.here / "faster.json").write_text(json.dumps(previous), encoding="utf-8")
    done = run_pytest(game_day.here, "--dr-scenario=lean-scenario.toml", "-k", "lose-east and not fast",
                      "--dr-compare=faster.json", "--dr-gate=rto:10%", "--dr-gate=rpo:0", "--dr-gate=lost_writes:0",
                      "--dr-report=gated.json")
    out = done.stdout
    assert done.returncode == 1, out
    assert "1 passed" in out
    regressions = [line for line in out.splitlines() if line.startswith("REGRESSION ")]
    assert len(regressions) == 3, out
    assert any("lean::lose-east: RTO" in r and "(+100.0%) breaks rto:10%" in r for r in regressions), regressions
    assert any("lean::lose-east: RPO 0.0s ->" in r and "breaks rpo:0" in r for r in regressions), regressions
    assert any("lost writes 0 ->" in r and "breaks lost_writes:0" in r for r in regressions), regressions
    gated = json.loads((game_day.here / "gated.json").read_text(encoding="utf-8"))
    assert gated["gate"]["regressions"] == [r.removeprefix("REGRESSION ") for r in regressions]


def test_a_strict_policy_fails_the_experiment_and_names_its_entry(game_day: GameDay) -> None:
    strict = {"policy": {"policyName": "strict", "policy": {"Region": {"rtoInSecs": 3600, "rpoInSecs": 0}}}}
    (game_day.here / "strict.json").write_text(json.dumps(strict), encoding="utf-8")
    done = run_pytest(game_day.here, "--dr-scenario=lean-scenario.toml", "-k", "lose-east and not fast",
                      "--dr-policy=strict.json")
    assert done.returncode == 1
    assert "lean / lose-east: RPO" in done.stdout and "exceeds objective 0 s" in done.stdout
    row = next((line for line in done.stdout.splitlines() if line.startswith("lean  ")), done.stdout)
    assert "policy:Region" in row and "FAIL" in row


# -- the HTML page in a real browser ----------------------------------------------------------------
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--hide-scrollbars", "--enable-logging=stderr", "--v=0",
)
PROBE = "DRTEST-PICTURES"
# Appended to a copy of the page (the page itself runs no script): logs each timeline's rendered size.
MEASURE = (
    f'<script>console.log("{PROBE} " + JSON.stringify([...document.querySelectorAll("svg.timeline")]'
    '.map(s => { const r = s.getBoundingClientRect(); return [r.width, r.height]; })));</script>'
)


@pytest.fixture
def chromium() -> str:
    import os
    import shutil

    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is not installed; .ci/run installs it (apt-get install chromium)")
        pytest.skip("chromium is not installed (apt-get install -y --no-install-recommends chromium)")
    return path


def browse(chromium: str, page: Path, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args, page.as_uri()],
        capture_output=True, text=True, timeout=120, check=False,
    )


def console(stderr: str) -> list[str]:
    """The page's console messages, as Chromium logs them with --enable-logging=stderr."""
    return [line.split("] ", 1)[-1] for line in stderr.splitlines() if ":CONSOLE" in line]


def with_probe(page: Path, target: Path, extra: str = "") -> Path:
    text = page.read_text(encoding="utf-8")
    text = text.replace("style-src 'unsafe-inline'", "style-src 'unsafe-inline'; script-src 'unsafe-inline'", 1)
    target.write_text(text.replace("</body>", MEASURE + extra + "</body>"), encoding="utf-8")
    return target


def test_html_report_renders_in_chromium_with_one_picture_per_experiment(game_day: GameDay, chromium: str, tmp_path: Path) -> None:
    """One browser run: a screenshot of a copy of the page with a script that logs each picture's rendered
    size (the page itself runs no script, so its DOM is its HTML)."""
    from matplotlib.image import imread

    shot = tmp_path / "page.png"
    done = browse(chromium, with_probe(game_day.html, tmp_path / "probed.html"), tmp_path / "p1", "--window-size=1280,3000",
                  f"--screenshot={shot}")
    assert done.returncode == 0 and shot.is_file(), done.stderr[-2000:]
    pixels = imread(shot)
    assert pixels.shape[:2] == (3000, 1280)
    colours = {tuple(p) for p in pixels[::7, ::7, :3].reshape(-1, 3).round(2).tolist()}
    assert len(colours) > 20  # pictures, tables and text, not a blank or error page
    messages = console(done.stderr)
    assert [m for m in messages if PROBE not in m] == []  # no error, nothing blocked
    sizes = json.loads(next(m for m in messages if PROBE in m).split(PROBE, 1)[1].split('"', 1)[0])
    assert len(sizes) == len(game_day.report["experiments"])
    assert all(width > 600 and height > 150 for width, height in sizes), sizes
    assert game_day.html.read_text(encoding="utf-8").count('<svg class="timeline"') == len(game_day.report["experiments"])


def test_console_check_sees_errors_and_blocked_requests(game_day: GameDay, chromium: str, tmp_path: Path) -> None:
    """The control of the test above: a broken copy of the page is caught."""
    bad = with_probe(game_day.html, tmp_path / "bad.html", '<img src="https://example.invalid/x.png"><script>throw new Error("boom")</script>')
    messages = [m for m in console(browse(chromium, bad, tmp_path / "p3", "--dump-dom").stderr) if PROBE not in m]
    assert any("Uncaught Error: boom" in m for m in messages), messages
    assert any("Content Security Policy" in m for m in messages), messages
