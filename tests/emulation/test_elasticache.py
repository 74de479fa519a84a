"""ElastiCache for Valkey / Redis OSS on real Redis servers (Debian's redis-server).

Each test drives moto through the hooked clients and reads data with redis-py through the
group's endpoints; the clock is virtual, so modeled minutes cost nothing.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import botocore.exceptions
import pytest

from pytest_drtest.emulation.elasticache import ElastiCacheEmulator

redis = pytest.importorskip("redis")

PRIMARY, DR = "us-east-1", "us-west-2"
CREATE, FAILOVER, RECOVERY, LAG, GLOBAL_LAG, GLOBAL_FAILOVER = 300.0, 30.0, 600.0, 0.5, 1.0, 45.0


@pytest.fixture
def cache(emu_env: Any, redis_server_binary: Path) -> Iterator[ElastiCacheEmulator]:
    for key, value in {"elasticache_create_time": CREATE, "elasticache_failover": FAILOVER,
                       "elasticache_node_recovery_time": RECOVERY, "elasticache_replication_lag": LAG,
                       "elasticache_global_lag": GLOBAL_LAG, "elasticache_global_failover": GLOBAL_FAILOVER}.items():
        emu_env.profile.override(key, value, origin="test")
    emulator = ElastiCacheEmulator(emu_env.emulation)
    emu_env.emulation.add(emulator)
    yield emulator


def create_group(emu_env: Any, name: str, region: str = PRIMARY, *, wait: bool = True, **extra: Any) -> dict[str, Any]:
    params: dict[str, Any] = {"ReplicationGroupId": name, "ReplicationGroupDescription": "sessions",
                              "Engine": "valkey", "EngineVersion": "8.0", "CacheNodeType": "cache.r7g.large",
                              "NumCacheClusters": 2, "AutomaticFailoverEnabled": True, "MultiAZEnabled": True, **extra}
    params = {k: v for k, v in params.items() if v is not None}
    group: dict[str, Any] = emu_env.client("elasticache", region).create_replication_group(**params)["ReplicationGroup"]
    if wait:
        emu_env.clock.sleep(CREATE)
    return group


def describe(emu_env: Any, name: str, region: str = PRIMARY) -> dict[str, Any]:
    found: dict[str, Any] = emu_env.client("elasticache", region).describe_replication_groups(ReplicationGroupId=name)["ReplicationGroups"][0]
    return found


def connect(cache: ElastiCacheEmulator, name: str, region: str = PRIMARY, *, reader: bool = False) -> Any:
    info = cache.connection_info(region, name, reader=reader)
    return redis.Redis(host=info["host"], port=info["port"], socket_timeout=2, socket_connect_timeout=1,
                       decode_responses=True, retry=redis.retry.Retry(redis.backoff.NoBackoff(), 0))


def settle() -> None:
    """Real milliseconds in which a write the link did not hold would reach the replica (the clock
    does not move): finding nothing there after it means the link held the write. After a clock
    move nothing is needed: the data plane waits until each replica applied what the move released."""
    import time

    time.sleep(0.05)


def test_group_is_creating_then_available_across_azs_with_endpoints(emu_env: Any, cache: ElastiCacheEmulator,
                                                                    answers_in_shape: Callable[[str], None]) -> None:
    answers_in_shape("elasticache")
    created = create_group(emu_env, "sessions", wait=False)
    assert created["Status"] == "creating"
    emu_env.clock.sleep(CREATE - 1)
    assert describe(emu_env, "sessions")["Status"] == "creating"
    emu_env.clock.sleep(1)
    group = describe(emu_env, "sessions")
    assert group["Status"] == "available"
    members = group["NodeGroups"][0]["NodeGroupMembers"]
    assert [m["CurrentRole"] for m in members] == ["primary", "replica"]
    assert len({m["PreferredAvailabilityZone"] for m in members}) == 2
    primary = group["NodeGroups"][0]["PrimaryEndpoint"]
    assert primary["Port"] == 6379 and primary["Address"] == cache.connection_info(PRIMARY, "sessions")["host"]
    assert connect(cache, "sessions").set("user:1", "alice")


def test_replica_lags_by_the_modeled_time(emu_env: Any, cache: ElastiCacheEmulator) -> None:
    create_group(emu_env, "sessions")
    connect(cache, "sessions").set("k", "v1")
    settle()
    assert connect(cache, "sessions", reader=True).get("k") is None
    emu_env.clock.sleep(LAG)
    assert connect(cache, "sessions", reader=True).get("k") == "v1"


def test_az_loss_promotes_the_replica_after_the_failover_time_and_loses_unreplicated_writes(
        emu_env: Any, cache: ElastiCacheEmulator) -> None:
    create_group(emu_env, "sessions")
    client = connect(cache, "sessions")
    client.set("early", "1")
    emu_env.clock.sleep(LAG * 2)
    client.set("late", "2")  # acknowledged, still on its way to the replica
    primary_az = describe(emu_env, "sessions")["NodeGroups"][0]["NodeGroupMembers"][0]["PreferredAvailabilityZone"]
    emu_env.emulation.world.lose_az(primary_az)
    with pytest.raises(redis.exceptions.ConnectionError):
        connect(cache, "sessions").ping()
    emu_env.clock.sleep(FAILOVER - 1)
    with pytest.raises(redis.exceptions.ConnectionError):
        connect(cache, "sessions").ping()
    emu_env.clock.sleep(1)
    roles = [m["CurrentRole"] for m in describe(emu_env, "sessions")["NodeGroups"][0]["NodeGroupMembers"]]
    assert roles == ["replica", "primary"]
    promoted = connect(cache, "sessions")
    assert promoted.get("early") == "1" and promoted.get("late") is None
    assert promoted.set("after", "3")


def test_test_failover_logs_aws_events_and_recovers_the_node(emu_env: Any, cache: ElastiCacheEmulator,
                                                             answers_in_shape: Callable[[str], None]) -> None:
    answers_in_shape("elasticache")
    create_group(emu_env, "sessions")
    ec = emu_env.client("elasticache")
    ec.test_failover(ReplicationGroupId="sessions", NodeGroupId="0001")
    with pytest.raises(botocore.exceptions.ClientError) as again:
        ec.test_failover(ReplicationGroupId="sessions", NodeGroupId="0001")
    assert again.value.response["Error"]["Code"] == "InvalidReplicationGroupState"
    emu_env.clock.sleep(FAILOVER + RECOVERY)
    # the order the API reference of TestFailover lists them in
    messages = [e["Message"] for e in reversed(ec.describe_events()["Events"])][1:]  # after "created"
    assert messages == ["Test Failover API called for node group 0001",
                        "Failover from primary node sessions-001 to replica node sessions-002 completed",
                        "Failover from primary node sessions-001 to replica node sessions-002 completed",
                        "Recovering cache nodes sessions-001",
                        "Finished recovery for cache nodes sessions-001"]
    client = connect(cache, "sessions")
    client.set("x", "1")
    emu_env.clock.sleep(LAG)
    assert connect(cache, "sessions", reader=True).get("x") == "1"  # the recovered node replicates again


def test_bad_input_gets_aws_error_codes(emu_env: Any, cache: ElastiCacheEmulator) -> None:
    ec = emu_env.client("elasticache")
    for extra, code in (({"EngineVersion": "6.9"}, "InvalidParameterValue"),
                        ({"Engine": "memcached"}, "InvalidParameterValue"),
                        ({"CacheNodeType": "cache.x9.huge"}, "InvalidParameterValue"),
                        ({"NumCacheClusters": 1}, "InvalidParameterCombination")):
        with pytest.raises(botocore.exceptions.ClientError) as err:
            create_group(emu_env, "bad", wait=False, **extra)
        assert err.value.response["Error"]["Code"] == code, extra
    with pytest.raises(botocore.exceptions.ClientError) as err:
        ec.test_failover(ReplicationGroupId="nope", NodeGroupId="0001")
    assert err.value.response["Error"]["Code"] == "ReplicationGroupNotFoundFault"
    create_group(emu_env, "solo", NumCacheClusters=1, AutomaticFailoverEnabled=False, MultiAZEnabled=False)
    with pytest.raises(botocore.exceptions.ClientError) as err:
        ec.test_failover(ReplicationGroupId="solo", NodeGroupId="0001")
    assert err.value.response["Error"]["Code"] == "TestFailoverNotAvailableFault"


def global_datastore(emu_env: Any) -> str:
    create_group(emu_env, "sessions")
    gds = emu_env.client("elasticache").create_global_replication_group(
        GlobalReplicationGroupIdSuffix="sessions", PrimaryReplicationGroupId="sessions")["GlobalReplicationGroup"]
    emu_env.clock.sleep(CREATE)
    create_group(emu_env, "sessions-dr", DR, GlobalReplicationGroupId=gds["GlobalReplicationGroupId"],
                 CacheNodeType=None, Engine=None, EngineVersion=None)
    return str(gds["GlobalReplicationGroupId"])


def test_global_datastore_lags_fails_over_and_swaps_roles(emu_env: Any, cache: ElastiCacheEmulator,
                                                          answers_in_shape: Callable[[str], None]) -> None:
    answers_in_shape("elasticache")
    gds_id = global_datastore(emu_env)
    connect(cache, "sessions").set("k", "v")
    settle()
    assert connect(cache, "sessions-dr", DR).get("k") is None
    emu_env.clock.sleep(GLOBAL_LAG + LAG)
    assert connect(cache, "sessions-dr", DR).get("k") == "v"
    with pytest.raises(redis.exceptions.ReadOnlyError):
        connect(cache, "sessions-dr", DR).set("k", "dr")
    ec_dr = emu_env.client("elasticache", DR)
    ec_dr.failover_global_replication_group(GlobalReplicationGroupId=gds_id, PrimaryRegion=DR,
                                            PrimaryReplicationGroupId="sessions-dr")
    assert ec_dr.describe_global_replication_groups(GlobalReplicationGroupId=gds_id)["GlobalReplicationGroups"][0]["Status"] == "modifying"
    emu_env.clock.sleep(GLOBAL_FAILOVER)
    found = ec_dr.describe_global_replication_groups(GlobalReplicationGroupId=gds_id, ShowMemberInfo=True)["GlobalReplicationGroups"][0]
    assert found["Status"] == "available"
    assert {m["ReplicationGroupId"]: m["Role"] for m in found["Members"]} == {"sessions-dr": "PRIMARY", "sessions": "SECONDARY"}
    assert connect(cache, "sessions-dr", DR).set("k", "dr")
    emu_env.clock.sleep(GLOBAL_LAG + LAG)
    assert connect(cache, "sessions").get("k") == "dr"  # the old primary is now a secondary


def test_region_loss_loses_what_the_global_link_held(emu_env: Any, cache: ElastiCacheEmulator) -> None:
    gds_id = global_datastore(emu_env)
    client = connect(cache, "sessions")
    client.set("sent", "1")
    emu_env.clock.sleep(GLOBAL_LAG + LAG)
    client.set("held", "2")
    emu_env.emulation.world.lose_region(PRIMARY)
    emu_env.client("elasticache", DR).failover_global_replication_group(
        GlobalReplicationGroupId=gds_id, PrimaryRegion=DR, PrimaryReplicationGroupId="sessions-dr")
    emu_env.clock.sleep(GLOBAL_FAILOVER)
    survivor = connect(cache, "sessions-dr", DR)
    assert survivor.get("sent") == "1" and survivor.get("held") is None
    with pytest.raises(botocore.exceptions.ClientError) as err:
        emu_env.client("elasticache", DR).delete_global_replication_group(GlobalReplicationGroupId=gds_id,
                                                                          RetainPrimaryReplicationGroup=True)
    assert err.value.response["Error"]["Code"] == "InvalidGlobalReplicationGroupState"
