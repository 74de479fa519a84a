"""Multi-AZ failover, lagged async replicas and endpoints on real PostgreSQL servers."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import NoReturn

import psycopg
import pytest

from pytest_drtest.clock import VirtualClock
from pytest_drtest.dataplane import DataPlane, DataPlaneUnavailable


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def plane(clock: VirtualClock, postgres_or_skip: Callable[[Exception], NoReturn]) -> Iterator[DataPlane]:
    try:
        data_plane = DataPlane(clock)
    except DataPlaneUnavailable as exc:
        postgres_or_skip(exc)
    with data_plane:
        yield data_plane


def ids(server, table: str = "t") -> set[int]:
    return {row[0] for row in server.query(f"SELECT id FROM {table}")}


def test_multi_az_failover_loses_no_acknowledged_row(plane: DataPlane) -> None:
    pair = plane.multi_az("orders")
    pair.primary.query("CREATE TABLE t (id int PRIMARY KEY)")
    acked: list[int] = []
    started = threading.Event()

    def write() -> None:
        with pair.primary.connect() as conn:
            for i in range(100_000):
                try:
                    conn.execute("INSERT INTO t VALUES (%s)", (i,))
                except psycopg.Error:
                    return
                acked.append(i)
                if i == 50:
                    started.set()

    writer = threading.Thread(target=write)
    writer.start()
    assert started.wait(10)
    old = pair.primary
    pair.failover()  # immediate stop of the primary while it is being written to
    writer.join(10)

    assert not old.running and pair.primary is not old
    assert not pair.primary.in_recovery()
    assert set(acked) <= ids(pair.primary), "an acknowledged row was lost"
    # The promoted standby must not wait for a synchronous standby of its own.
    pair.primary.query("SET statement_timeout = '5s'; INSERT INTO t VALUES (-1)")
    assert -1 in ids(pair.primary)


def test_losing_the_standby_lets_the_primary_commit_alone(plane: DataPlane) -> None:
    pair = plane.multi_az()
    pair.primary.query("CREATE TABLE t (id int PRIMARY KEY)")
    standby = pair.standby
    pair.lose_standby()
    assert standby is not None and not standby.running
    pair.primary.query("SET statement_timeout = '5s'; INSERT INTO t VALUES (1)")
    assert ids(pair.primary) == {1}


def test_cut_loses_what_the_lag_still_holds(plane: DataPlane, clock: VirtualClock) -> None:
    primary = plane.create_server("src")
    replica = plane.add_replica(primary, "dr", lag=1.0)
    primary.query("CREATE TABLE t (id int PRIMARY KEY)")
    primary.query("INSERT INTO t VALUES (1)")  # acknowledged at t=0, 2 s before the cut
    clock.sleep(1.5)
    primary.query("INSERT INTO t VALUES (2)")  # acknowledged at t=1.5, 0.5 s before the cut
    clock.sleep(0.5)

    report = replica.cut()
    primary.kill()  # the region is gone
    replica.promote()

    assert report.dropped_messages > 0
    assert ids(replica.server) == {1}
    replica.server.query("INSERT INTO t VALUES (3)")  # a primary now
    assert ids(replica.server) == {1, 3}


def test_lag_is_held_on_the_clock_not_in_real_time(plane: DataPlane, clock: VirtualClock) -> None:
    primary = plane.create_server()
    replica = plane.add_replica(primary, lag=30.0)
    primary.query("CREATE TABLE t (id int PRIMARY KEY)")
    clock.sleep(31)
    replica.wait_applied()
    primary.query("INSERT INTO t VALUES (7)")
    clock.sleep(29)
    time.sleep(0.2)  # real time passing does not release anything
    assert ids(replica.server) == set()
    clock.sleep(1)
    replica.wait_applied()
    assert ids(replica.server) == {7}


def test_async_replica_follows_the_multi_az_failover(plane: DataPlane, clock: VirtualClock) -> None:
    pair = plane.multi_az()
    replica = plane.add_replica(pair.primary, lag=0.5)
    pair.primary.query("CREATE TABLE t (id int PRIMARY KEY)")
    pair.primary.query("INSERT INTO t VALUES (1)")
    clock.sleep(1)
    replica.wait_applied()
    pair.failover()
    assert replica.source is pair.primary
    pair.primary.query("INSERT INTO t VALUES (2)")
    clock.sleep(1)
    deadline = time.monotonic() + 10
    while ids(replica.server) != {1, 2} and time.monotonic() < deadline:
        clock.sleep(0.5)
        time.sleep(0.02)
    assert ids(replica.server) == {1, 2}
    pair.replace_standby()
    assert pair.primary.query("SHOW synchronous_standby_names")[0][0] == f'"{pair.standby.name}"'


def test_endpoint_switches_target(plane: DataPlane) -> None:
    pair = plane.multi_az("db")
    endpoint = plane.endpoint(pair.primary)
    pair.primary.query("CREATE ROLE app LOGIN PASSWORD 'app-password'")
    dsn = f"host=127.0.0.1 port={endpoint.port} user=app password=app-password dbname=postgres sslmode=disable"
    with psycopg.connect(dsn, autocommit=True) as conn:
        assert conn.execute("SELECT current_setting('cluster_name')").fetchone() == ("db",)
    # scram-sha-256 on every connection: a wrong password, or the internal superuser without its, is refused
    with pytest.raises(psycopg.OperationalError, match='password authentication failed for user "app"'):
        psycopg.connect(dsn.replace("password=app-password", "password=wrong"), connect_timeout=2)
    with pytest.raises(psycopg.OperationalError, match="password"):
        psycopg.connect(dsn.replace("user=app password=app-password", "user=postgres"), connect_timeout=2)
    pair.failover()
    endpoint.switch(pair.primary.port)
    with psycopg.connect(dsn, autocommit=True) as conn:
        assert conn.execute("SELECT current_setting('cluster_name')").fetchone() == (pair.primary.name,)
    endpoint.switch(None)
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(dsn, connect_timeout=2)


def _archived(server, timeout: float = 10.0) -> str:
    """Switch to a new WAL segment and wait until the finished one is in the archive; its name."""
    name = server.query("SELECT pg_walfile_name(pg_current_wal_lsn())")[0][0]
    server.query("SELECT pg_switch_wal()")
    deadline = time.monotonic() + timeout
    while not (server.archive_dir / name).exists():
        assert time.monotonic() < deadline, f"{name} not archived"
        time.sleep(0.02)
    return str(name)


def test_a_replica_of_a_template_clone_starts_from_the_template_and_replays_what_was_archived(
        plane: DataPlane, clock: VirtualClock, monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_drtest.dataplane import plane as plane_module

    backups: list[str] = []
    real_backup = plane_module.base_backup
    monkeypatch.setattr(plane_module, "base_backup", lambda source, *a, **k: (backups.append(source.name),
                                                                             real_backup(source, *a, **k)))
    primary = plane.create_server("old")
    primary.query("CREATE TABLE t (id int PRIMARY KEY)")
    for start in (0, 1000, 2000):  # finished segments, archived, then recycled by checkpoints
        primary.query(f"INSERT INTO t SELECT g FROM generate_series({start}, {start + 999}) g")
        first = _archived(primary)
        primary.query("CHECKPOINT")
    assert not (primary.data_dir / "pg_wal" / first).exists()  # only the archive holds it now
    replica = plane.add_replica(primary, "dr", lag=0.0)
    assert backups == []  # a copy of the template, not a pg_basebackup
    clock.sleep(1)
    replica.wait_applied()
    assert len(ids(replica.server)) == 3000
    # streaming now: the archive is no longer read, so a cut link is not bridged through it
    assert replica.server.query("SHOW restore_command")[0][0] == ""
    replica.cut()
    primary.query("INSERT INTO t VALUES (-1)")
    _archived(primary)
    clock.sleep(5)
    time.sleep(0.5)
    assert -1 not in ids(replica.server)

    # a promoted server is on a new timeline: a replica of it is a pg_basebackup
    replica.promote()
    plane.add_replica(replica.server, "dr2", lag=0.0)
    assert backups == [replica.server.name]
