"""pytest-drtest benchmark: the emulated world served on the network.

    .venv/bin/python benchmarks/network.py [--repeat 3] [--calls 300]

Rows:
- one DynamoDB ``put_item`` from another process through the region's gateway, against the same
  call made in the test process (through the emulation hub, no HTTP): medians and their ratio
  (aims: <= 3 ms median, <= 3x in-process);
- the same ``put_item`` from another process against a loopback server that answers ``{}`` and does
  nothing else (on the gateway's own listener): the client's and HTTP's own cost, the floor
  under the 3 ms aim on the machine that runs the benchmark;
- ``pytest --dr-scenario=warm-standby`` on ``moto-server`` against the same on ``moto`` (wall time,
  median of --repeat fresh processes; aim <= 1.5x);
- the example service's region-outage game day (``examples/service``): wall time, RTO, RPO, on the
  virtual clock and on ``paced:60``.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable

CHILD = textwrap.dedent("""
    import json, sys, time, boto3
    ddb = boto3.client("dynamodb")
    times = []
    for i in range(int(sys.argv[1]) + 20):
        started = time.perf_counter()
        ddb.put_item(TableName="bench", Item={"pk": {"S": f"child#{i}"}, "payload": {"S": "x" * 64}})
        times.append(time.perf_counter() - started)
    print(json.dumps(times[20:]))
""")


def put_item_latencies(calls: int) -> tuple[float, float]:
    """(median through the gateway from another process, median in-process), in seconds."""
    from pytest_drtest.harness import Harness
    from pytest_drtest.settings import Settings

    with Harness(Settings(backend="moto-server"), strategy="warm-standby") as dr:
        ddb = dr.client("dynamodb")
        ddb.create_table(TableName="bench", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
        done = subprocess.run([PYTHON, "-c", CHILD, str(calls)], env={**os.environ, **dr.env("primary")},
                              capture_output=True, text=True, timeout=600, check=True)
        remote = statistics.median(json.loads(done.stdout))
        local = []
        for i in range(calls + 20):
            started = time.perf_counter()
            ddb.put_item(TableName="bench", Item={"pk": {"S": f"test#{i}"}, "payload": {"S": "x" * 64}})
            local.append(time.perf_counter() - started)
        return remote, statistics.median(local[20:])


def put_item_floor(calls: int) -> float:
    """Median of the same child's ``put_item`` against a server that answers ``{}`` and does nothing."""
    from pytest_drtest.gateway.server import Listener

    def nothing(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        start_response("200 OK", [("Content-Type", "application/x-amz-json-1.0"), ("Content-Length", "2")])
        return [b"{}"]

    listener = Listener("127.0.0.1", 0, nothing, name="do-nothing server")  # the gateway's own listener
    listener.start()
    try:
        env = {**os.environ, "AWS_ENDPOINT_URL": listener.url, "AWS_DEFAULT_REGION": "us-east-1",
               "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
        done = subprocess.run([PYTHON, "-c", CHILD, str(calls)], env=env, capture_output=True, text=True,
                              timeout=600, check=True)
        return statistics.median(json.loads(done.stdout))
    finally:
        listener.stop()


def pytest_run(args: list[str], cwd: Path | None = None) -> tuple[float, dict]:
    """Wall time of a fresh pytest process and its JSON report."""
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "report.json"
        started = time.perf_counter()
        proc = subprocess.run([PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--dr-report={report}", *args],
                              cwd=cwd or folder, capture_output=True, text=True, timeout=1800, check=False)
        wall = time.perf_counter() - started
        if proc.returncode not in (0, 1):
            sys.exit(f"pytest {' '.join(args)} failed (exit {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}")
        return wall, json.loads(report.read_text()) if report.exists() else {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))

    latencies = [put_item_latencies(args.calls) for _ in range(args.repeat)]
    remote = statistics.median(r for r, _ in latencies)
    local = statistics.median(loc for _, loc in latencies)
    floor = statistics.median(put_item_floor(args.calls) for _ in range(args.repeat))
    moto = statistics.median(pytest_run(["--dr-scenario=warm-standby"])[0] for _ in range(args.repeat))
    server = statistics.median(pytest_run(["--dr-scenario=warm-standby", "--dr-backend=moto-server"])[0]
                               for _ in range(args.repeat))
    example = ROOT / "examples" / "service"
    games = {}
    for clock in ("virtual", "paced:60"):
        wall, report = pytest_run(["--dr-backend=moto-server", f"--dr-clock={clock}", "-k", "honours_the_ttl", str(example)], cwd=example)
        experiments = report.get("experiments", [])
        games[clock] = (wall, experiments[0]["measured"] if experiments else {})

    rows = [("measure", "value", "baseline", "ratio")]
    rows.append((f"put_item from another process via the gateway (median of {args.calls})", f"{remote * 1000:.2f} ms",
                 f"in-process {local * 1000:.2f} ms", f"{remote / local:.2f}x (aims <= 3 ms, <= 3x)"))
    rows.append((f"put_item from another process to a do-nothing server (median of {args.calls})", f"{floor * 1000:.2f} ms",
                 f"gateway {remote * 1000:.2f} ms", f"gateway's own share {(remote - floor) * 1000:.2f} ms"))
    rows.append(("pytest --dr-scenario=warm-standby on moto-server (median wall)", f"{server:.1f} s", f"moto {moto:.1f} s",
                 f"{server / moto:.2f}x (aim <= 1.5x)"))
    for clock, (wall, measured) in games.items():
        if not measured:  # the example skips it: a service's DNS cache expires in wall time
            rows.append((f"example service region-outage game day, {clock}", f"{wall:.1f} s wall",
                         "skipped by the example: needs paced time", "-"))
            continue
        rto = measured.get("rto_s")
        rows.append((f"example service region-outage game day, {clock}", f"{wall:.1f} s wall",
                     f"RTO {'never' if rto is None else f'{rto:.0f} s'}, RPO {measured.get('rpo_s', float('nan')):.1f} s",
                     f"{measured.get('lost_writes', '-')} lost writes"))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for row in rows:
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())


if __name__ == "__main__":
    main()
