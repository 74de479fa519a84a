"""pytest-drtest benchmark: the CloudFormation path's build time against the blueprint path's.

    .venv/bin/python benchmarks/cfn.py [--repeat 3] [--json out.json]

Rows (medians of --repeat builds, after one warm-up build of each):
- the warm-standby web-app topology from the shipped template (``web-app.yaml``: moto's
  CloudFormation for the VPC, launch template and target group, AWS calls for the rest, three
  passes over the two regions) against the same topology from the blueprint (``web-app.toml``),
  both without the database and until ready (every instance InService, replicas ACTIVE, seeded);
- each strategy's topology with its relational tier (real PostgreSQL: the RDS primary, standby
  and cross-region replica; backup & restore's instance, vaults and plan; active/active's Aurora
  global database), the template with that strategy's shipped parameters file.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


STRATEGIES = ("warm-standby", "pilot-light", "backup-restore", "active-active")


def build(template: bool, database: bool, strategy: str = "warm-standby") -> float:
    from pytest_drtest.harness import Harness
    from pytest_drtest.settings import Settings
    from pytest_drtest.topology.blueprint import load_blueprint, shipped_parameters

    if template:
        given: dict[str, str] = {}
        shipped = shipped_parameters().get(f"web-app-{strategy}.json")
        if shipped is not None:
            given = json.loads(shipped.read_text(encoding="utf-8"))["Parameters"]
        with tempfile.TemporaryDirectory() as folder:
            params = Path(folder) / "params.json"
            params.write_text(json.dumps({**given, "WithDatabase": str(database).lower()}), encoding="utf-8")
            blueprint = load_blueprint("web-app.yaml", parameters=str(params))
    else:
        blueprint = load_blueprint("web-app")
        if not database:
            blueprint = dataclasses.replace(blueprint, database=None)
    started = time.perf_counter()
    with Harness(Settings(), strategy=strategy, blueprint=blueprint) as dr:
        dr.topology  # noqa: B018 - builds and waits until ready
        took = time.perf_counter() - started
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    rows = [("measure", "template", "blueprint", "ratio")]
    results = {}
    for strategy, database in [("warm-standby", False)] + [(s, True) for s in STRATEGIES]:
        build(True, database, strategy), build(False, database, strategy)  # warm imports, caches, the PostgreSQL template
        cfn = statistics.median(build(True, database, strategy) for _ in range(args.repeat))
        plain = statistics.median(build(False, database, strategy) for _ in range(args.repeat))
        label = f"{strategy} web-app build, {'with the database' if database else 'no database'}"
        rows.append((label, f"{cfn:.2f} s", f"{plain:.2f} s", f"{cfn / plain:.2f}x"))
        key = f"{strategy}:{'database' if database else 'no_database'}"
        results[key] = {"template_s": cfn, "blueprint_s": plain, "ratio": cfn / plain}
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
