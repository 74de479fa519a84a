"""Snapshots and point-in-time restores into NEW servers, on real PostgreSQL."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import NoReturn

import pytest

from pytest_drtest.clock import VirtualClock
from pytest_drtest.dataplane import DataPlane, DataPlaneError, DataPlaneUnavailable


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


def rows(server) -> list[tuple[int, str]]:
    return [tuple(row) for row in server.query("SELECT id, note FROM t ORDER BY id")]  # type: ignore[misc]


def test_pitr_holds_exactly_the_rows_committed_at_or_before_the_target(plane: DataPlane, clock: VirtualClock) -> None:
    source = plane.create_server("src")
    source.query("CREATE TABLE t (id int PRIMARY KEY, note text)")
    clock.sleep(5)
    source.query("INSERT INTO t VALUES (1, 'kept'), (2, 'deleted later')")
    clock.sleep(5)  # T = 10
    source.query("INSERT INTO t VALUES (3, 'at T')")  # committed at clock time T: included
    clock.sleep(5)
    source.query("INSERT INTO t VALUES (4, 'after T')")
    source.query("DELETE FROM t WHERE id = 2")

    restored = plane.restore_to_time(source, 10.0)

    assert rows(restored) == [(1, "kept"), (2, "deleted later"), (3, "at T")]
    assert restored.name not in ("src",) and restored.port != source.port
    assert not restored.in_recovery()  # promoted: a usable new instance
    restored.query("INSERT INTO t VALUES (5, 'new')")
    assert rows(source) == [(1, "kept"), (3, "at T"), (4, "after T")]  # the source is untouched
    assert rows(plane.restore_to_time(source, 4.9)) == []  # the table existed, the rows not yet


def test_pitr_replays_from_the_latest_snapshot_of_a_stopped_source(plane: DataPlane, clock: VirtualClock) -> None:
    source = plane.create_server()
    source.query("CREATE TABLE t (id int PRIMARY KEY, note text)")
    source.query("INSERT INTO t SELECT g, 'bulk' FROM generate_series(1, 1000) g")
    clock.sleep(1)
    plane.snapshot(source)
    clock.sleep(1)
    source.query("INSERT INTO t VALUES (1001, 'after snapshot')")
    clock.sleep(1)
    source.stop()  # a clean stop archives the last segment

    restored = plane.restore_to_time(source, 2.5)

    assert restored.query("SELECT count(*) FROM t")[0][0] == 1001


def test_pitr_before_any_backup_is_refused(plane: DataPlane, clock: VirtualClock) -> None:
    clock.sleep(100)
    source = plane.create_server()
    with pytest.raises(DataPlaneError, match="no base backup"):
        plane.restore_to_time(source, 50.0)


def test_snapshot_restores_into_a_new_server(plane: DataPlane) -> None:
    source = plane.create_server("prod")
    source.query("CREATE TABLE t (id int PRIMARY KEY, note text)")
    source.query("INSERT INTO t VALUES (1, 'in snapshot')")
    snap = plane.snapshot(source, "prod-snap")
    source.query("INSERT INTO t VALUES (2, 'after snapshot')")

    restored = plane.restore_snapshot(snap, "prod-restored")

    assert restored is not source and restored.port != source.port and restored.data_dir != source.data_dir
    assert rows(restored) == [(1, "in snapshot")]
    restored.query("INSERT INTO t VALUES (3, 'only in the restore')")
    assert rows(source) == [(1, "in snapshot"), (2, "after snapshot")]
    with pytest.raises(ValueError):
        plane.restore_snapshot(snap, "prod-restored")  # names are unique


def test_pitr_spans_a_multi_az_failover(plane: DataPlane, clock: VirtualClock) -> None:
    pair = plane.multi_az("db")
    pair.primary.query("CREATE TABLE t (id int PRIMARY KEY, note text)")
    clock.sleep(5)
    pair.primary.query("INSERT INTO t VALUES (1, 'before failover')")
    clock.sleep(5)
    pair.failover()  # t = 10: the old primary dies without archiving its last segment
    pair.primary.query("INSERT INTO t VALUES (2, 'on the new primary')")
    clock.sleep(5)
    pair.primary.query("INSERT INTO t VALUES (3, 'later')")
    pair.replace_standby()  # the old primary's folder goes; the instance's archive stays

    assert rows(plane.restore_to_time(pair.primary, 7)) == [(1, "before failover")]
    assert rows(plane.restore_to_time(pair.primary, 12)) == [(1, "before failover"), (2, "on the new primary")]
