"""DAX through the harness: after a Region failover, the DR Region's DAX answers what it cached
before global-table replication brought newer items, and the emulation counts each such read."""
from __future__ import annotations

from typing import Any

from pytest_drtest import faults
from pytest_drtest.emulation.dax import DaxEmulator
from pytest_drtest.harness import Harness
from pytest_drtest.recovery import RUNBOOKS
from pytest_drtest.settings import Settings


def payload(answer: dict[str, Any]) -> str | None:
    return answer["Item"]["payload"]["S"] if "Item" in answer else None


def test_the_dr_regions_dax_serves_stale_items_after_failover_until_the_ttl() -> None:
    settings = Settings(latency_lines=["dynamodb_replication_lag = 1s", "dax_create_time = 10m", "dax_item_ttl = 5m",
                                       "dax_node_replication_lag = 500ms"])
    with Harness(settings, strategy="warm-standby") as dr:
        topology = dr.topology
        dr_region = topology.dr_region
        table = topology.table_name(region="dr")
        dr.client("dax", "dr").create_cluster(ClusterName="orders-cache", NodeType="dax.r5.large", ReplicationFactor=3,
                                              IamRoleArn="arn:aws:iam::123456789012:role/dax")
        dr.clock.sleep("10m")
        cache = dr.emulation.find(DaxEmulator).client(dr_region, "orders-cache", dr.client("dynamodb", "dr"))
        key = {topology.blueprint.table(topology.probe_table).hash_key: {"S": "order-1"}}
        primary = dr.client("dynamodb", "primary")
        primary.put_item(TableName=topology.table_name(region="primary"), Item={**key, "payload": {"S": "placed"}})
        dr.clock.sleep("2s")
        assert payload(cache.get_item(TableName=table, Key=key)) == "placed"  # read through, cached on every node
        cached_t = dr.clock.now()
        dr.clock.sleep("1s")
        primary.put_item(TableName=topology.table_name(region="primary"), Item={**key, "payload": {"S": "shipped"}})
        dr.clock.sleep("2s")  # replicated into the DR table, around DAX

        dr.inject(faults.RegionOutage("primary"))
        RUNBOOKS["dns-failover"](topology, dr.clock)
        failed_over_in = dr.clock.now() - cached_t
        assert payload(dr.client("dynamodb", "dr").get_item(TableName=table, Key=key, ConsistentRead=True)) == "shipped"
        stale = [payload(cache.get_item(TableName=table, Key=key)) for _ in range(3)]
        emulator = dr.emulation.find(DaxEmulator)
        stats = emulator.cache_stats(dr_region, "orders-cache")
        causes = {read["cause"] for read in emulator.stale_reads(dr_region, "orders-cache")}
        dr.clock.sleep(300 - failed_over_in)  # the entries' TTL ends
        fresh = payload(cache.get_item(TableName=table, Key=key))
    assert failed_over_in < 300  # the failover ended within the item TTL: every node still answers its entry
    assert stale == ["placed"] * 3 and stats == {"hits": 3, "misses": 1, "stale": 3} and causes == {"bypassed"}
    assert fresh == "shipped"
