"""The blueprint's ``[cache]`` in warm standby and active/active: a Multi-AZ ElastiCache replication
group in the primary region with a global datastore secondary in the DR region, which the region-outage
runbooks fail over (embedded moto, virtual clock, real Redis servers, a blueprint without a database)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pytest_drtest import faults
from pytest_drtest.emulation.elasticache import ElastiCacheEmulator
from pytest_drtest.errors import DrConfigError
from pytest_drtest.harness import Harness
from pytest_drtest.measure import Milestone
from pytest_drtest.recovery import RUNBOOKS
from pytest_drtest.settings import Settings
from pytest_drtest.topology.blueprint import load_blueprint

redis = pytest.importorskip("redis")

BLUEPRINT = """
name = "tiny"
[compute]
capacity = 3
[[tables]]
name = "orders"
[cache]
{cache}
"""
FIGURES = ["elasticache_create_time = 5m", "elasticache_global_failover = 45s", "elasticache_global_lag = 1s",
           "elasticache_replication_lag = 100ms"]


def _blueprint(tmp_path: Path, cache: str = 'engine = "valkey"') -> str:
    path = tmp_path / "tiny.toml"
    path.write_text(BLUEPRINT.format(cache=cache))
    return str(path)


@pytest.fixture
def redis_plane(redis_server_binary: Path) -> None:
    """Real Redis servers, as the ElastiCache emulation's own tests need them (a failure in CI)."""


def _connect(dr: Harness, region: str, group: str) -> Any:
    assert dr.emulation is not None
    info = dr.emulation.find(ElastiCacheEmulator).connection_info(region, group)
    return redis.Redis(host=info["host"], port=info["port"], socket_timeout=2, socket_connect_timeout=1, decode_responses=True)


def _at(milestones: list[Milestone], kind: str) -> float:
    return next(m.t for m in milestones if m.kind == kind)


def _roles(dr: Harness) -> dict[str, str]:
    found = dr.client("elasticache", "dr").describe_global_replication_groups(
        GlobalReplicationGroupId=dr.topology.cache_global, ShowMemberInfo=True)["GlobalReplicationGroups"][0]
    return {m["ReplicationGroupId"]: m["Role"] for m in found["Members"]}


@pytest.mark.usefixtures("redis_plane")
def test_warm_standby_fails_the_global_datastore_over_to_the_dr_group_before_the_dr_app_serves(tmp_path: Path) -> None:
    with Harness(Settings(latency_lines=FIGURES), strategy="warm-standby", blueprint=_blueprint(tmp_path)) as dr:
        topology = dr.topology
        primary_group, dr_group = topology.primary.cache, topology.dr.cache
        assert primary_group is not None and dr_group is not None
        group = dr.client("elasticache", "primary").describe_replication_groups(ReplicationGroupId=primary_group)["ReplicationGroups"][0]
        assert group["MultiAZ"] == "enabled" and group["AutomaticFailover"] == "enabled"
        assert len({n["PreferredAvailabilityZone"] for n in group["NodeGroups"][0]["NodeGroupMembers"]}) == 2
        assert _roles(dr) == {primary_group: "PRIMARY", dr_group: "SECONDARY"}
        _connect(dr, topology.primary_region, primary_group).set("session:1", "cart")
        dr.clock.sleep("5s")
        assert _connect(dr, topology.dr_region, dr_group).get("session:1") == "cart"  # replicated across regions
        with dr.probe(interval="10s") as probe:
            dr.inject(faults.RegionOutage("primary"))
            RUNBOOKS["dns-failover"](topology, dr.clock)
            assert probe.wait_recovered(within="1h")
            marks = probe.result().milestones
        assert _roles(dr)[dr_group] == "PRIMARY"
        survivor = _connect(dr, topology.dr_region, dr_group)
        assert survivor.set("session:2", "checkout") and survivor.get("session:1") == "cart"  # writable, kept
    # requested at detection, with the promotion; waited for (45 s modeled) while the DR ASG scales up
    assert _at(marks, "cache-failover-started") == _at(marks, "detected")
    assert _at(marks, "cache-promoted") - _at(marks, "cache-failover-started") >= 45


@pytest.mark.usefixtures("redis_plane")
def test_active_active_fails_the_cache_over_before_the_surviving_region_scales_up(tmp_path: Path) -> None:
    with Harness(Settings(latency_lines=FIGURES), strategy="active-active", blueprint=_blueprint(tmp_path)) as dr:
        topology = dr.topology
        dr.inject(faults.RegionOutage("primary"))
        RUNBOOKS["shift-traffic"](topology, dr.clock)
        assert _roles(dr)[str(topology.dr.cache)] == "PRIMARY"
        marks = dr.timeline.events
    assert _at(marks, "cache-promoted") <= _at(marks, "scale-up-started")


def test_only_strategies_with_a_running_dr_copy_build_the_cache(tmp_path: Path) -> None:
    with Harness(Settings(latency_lines=FIGURES), strategy="pilot-light", blueprint=_blueprint(tmp_path)) as dr:
        assert dr.topology.cache_global is None and dr.topology.primary.cache is None
        assert dr.client("elasticache", "primary").describe_replication_groups()["ReplicationGroups"] == []


@pytest.mark.parametrize(("cache", "field", "expected"), [
    ('engine = "memcached"', "cache.engine", "valkey, redis"),
    ('node_type = "cache.t4g.small"', "cache.node_type", "r7g"),
    ('node_type = "r7g.large"', "cache.node_type", "cache.<family>.<size>"),
    ('nodes = 3', "cache", "unknown field(s) nodes"),
])
def test_a_bad_cache_section_is_refused_naming_the_field(tmp_path: Path, cache: str, field: str, expected: str) -> None:
    with pytest.raises(DrConfigError) as refused:
        load_blueprint(_blueprint(tmp_path, cache))
    assert refused.value.field == field and expected in str(refused.value)
