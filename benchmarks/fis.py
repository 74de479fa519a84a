"""pytest-drtest benchmark: an FIS-driven AZ power interruption game day against its baseline.

    .venv/bin/python benchmarks/fis.py [--repeat 3] [--json out.json]

The shipped warm-standby topology (web-app blueprint: RDS Multi-AZ on real PostgreSQL), a 2 m
steady state and 1 s probes, then the fault: the FIS scenario library's "AZ Availability: Power
Interruption" template (scenarios/templates/az-power.json) run by the emulated FIS, against the
built-in ``az-outage`` fault of the same AZ. Per row: wall time of the experiment (median of
--repeat runs, from the JSON report), the modeled seconds it spanned, modeled seconds per real
second, and the probe-measured RTO (the same for both: both lose the database's AZ).
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PYTHON = sys.executable
SCENARIO = """
name = "bench-fis"
strategy = "warm-standby"
steady_state = "2m"
probe = { interval = "1s", recovered_after = 3, timeout = "2h" }

[[experiments]]
name = "fis-az-power"
fault = { fis = "templates/az-power.json" }
runbook = "none"
objectives = { rto = "5m", rpo = "0s" }

[[experiments]]
name = "az-outage"
fault = { kind = "az-outage", az = "primary:database" }
runbook = "none"
objectives = { rto = "5m", rpo = "0s" }
"""


def run_once(folder: Path, index: int) -> tuple[float, dict[str, dict[str, Any]]]:
    report = folder / f"report-{index}.json"
    started = time.perf_counter()
    proc = subprocess.run([PYTHON, "-m", "pytest", "--dr-scenario=bench-fis.toml", f"--dr-report={report}", "-q", "-p", "no:cacheprovider"],
                          check=False, cwd=folder, capture_output=True, text=True, timeout=900)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"game day failed (exit {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}")
    return wall, {e["name"]: e for e in json.loads(report.read_text())["experiments"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    walls: list[float] = []
    per: dict[str, list[dict[str, Any]]] = {"fis-az-power": [], "az-outage": []}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "bench-fis.toml").write_text(SCENARIO, encoding="utf-8")
        for i in range(args.repeat):
            wall, experiments = run_once(folder, i)
            walls.append(wall)
            for name, runs in per.items():
                runs.append(experiments[name])
    rows: dict[str, dict[str, float]] = {}
    for name, runs in per.items():
        wall = statistics.median(e["wall_s"] for e in runs)
        modeled = statistics.median(e["clock_s"] for e in runs)
        rows[name] = {"wall_s": wall, "modeled_s": modeled, "speed": modeled / wall, "rto_s": runs[0]["measured"]["rto_s"]}
    base = rows["az-outage"]
    print(f"{'game day (warm standby, web-app)':44}{'wall':>9}{'modeled':>10}{'modeled s/s':>13}{'RTO':>8}   vs baseline")
    for name, label in (("fis-az-power", "FIS AZ Availability: Power Interruption"), ("az-outage", "  baseline: built-in az-outage fault")):
        r = rows[name]
        ratio = "" if name == "az-outage" else f"   {r['wall_s'] / base['wall_s']:.2f}x wall"
        print(f"{label:44}{r['wall_s']:8.2f}s{r['modeled_s']:9.0f}s{r['speed']:13.0f}{r['rto_s']:7.0f}s{ratio}")
    print(f"{'pytest process, both items (median wall)':44}{statistics.median(walls):8.2f}s")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "process_wall_s": walls}, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
