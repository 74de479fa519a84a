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
