"""DAX in front of the DynamoDB emulation: statuses, nodes across AZs, the item cache's rules, stale reads."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import botocore.exceptions
import pytest

from pytest_drtest.emulation.dax import DaxClient, DaxEmulator, DaxUnavailable
from pytest_drtest.emulation.dynamodb import DynamoDbEmulator

REGION, DR = "us-east-1", "us-west-2"
CREATE, TTL, NODE_LAG, FAILOVER, RESTORE = 600.0, 300.0, 0.5, 20.0, 900.0
KEY = {"pk": {"S": "k1"}}


def make_table(emu_env: Any, region: str = REGION, name: str = "orders") -> Any:
    ddb = emu_env.client("dynamodb", region)
    ddb.create_table(TableName=name, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
    return ddb


def make_cluster(emu_env: Any, region: str = REGION, name: str = "cache", nodes: int = 3) -> dict[str, Any]:
    found: dict[str, Any] = emu_env.client("dax", region).create_cluster(
        ClusterName=name, NodeType="dax.r5.large", ReplicationFactor=nodes,
        IamRoleArn="arn:aws:iam::123456789012:role/dax")["Cluster"]
    return found


@pytest.fixture
def dax(emu_env: Any) -> DaxEmulator:
    for key, value in {"dax_create_time": CREATE, "dax_item_ttl": TTL, "dax_node_replication_lag": NODE_LAG,
                       "dax_failover": FAILOVER, "dynamodb_restore_time": RESTORE}.items():
        emu_env.profile.override(key, value, origin="test")
    emu_env.emulation.add(DynamoDbEmulator(emu_env.emulation))
    emulator = DaxEmulator(emu_env.emulation)
    emu_env.emulation.add(emulator)
    make_table(emu_env)
    make_cluster(emu_env)
    return emulator


@pytest.fixture
def cache(emu_env: Any, dax: DaxEmulator) -> DaxClient:
    """A DAX client of the available cluster."""
    emu_env.clock.sleep(CREATE)
    return dax.client(REGION, "cache", emu_env.client("dynamodb", REGION))


def item(value: str, pk: str = "k1") -> dict[str, Any]:
    return {"pk": {"S": pk}, "payload": {"S": value}}


def payload(answer: dict[str, Any]) -> str | None:
    return answer["Item"]["payload"]["S"] if "Item" in answer else None


def read(cache: DaxClient, table: str = "orders", key: dict[str, Any] = KEY) -> str | None:
    return payload(cache.get_item(TableName=table, Key=key))


def describe(emu_env: Any, region: str = REGION, name: str = "cache") -> dict[str, Any]:
    found: dict[str, Any] = emu_env.client("dax", region).describe_clusters(ClusterNames=[name])["Clusters"][0]
    return found


# -- the control plane ------------------------------------------------------------------------------
def test_cluster_is_creating_then_available_with_nodes_across_azs(
        emu_env: Any, dax: DaxEmulator, answers_in_shape: Callable[[str], None]) -> None:
    answers_in_shape("dax")
    creating = describe(emu_env)
    assert creating["Status"] == "creating" and creating["ActiveNodes"] == 0 and "Nodes" not in creating
    with pytest.raises(DaxUnavailable):
        dax.client(REGION, "cache", emu_env.client("dynamodb", REGION)).get_item(TableName="orders", Key=KEY)
    emu_env.clock.sleep(CREATE - 1)
    assert describe(emu_env)["Status"] == "creating"
    emu_env.clock.sleep(1)
    cluster = describe(emu_env)
    assert cluster["Status"] == "available" and cluster["ActiveNodes"] == cluster["TotalNodes"] == 3
    assert [n["NodeId"] for n in cluster["Nodes"]] == ["cache-a", "cache-b", "cache-c"]
    assert [n["AvailabilityZone"] for n in cluster["Nodes"]] == ["us-east-1a", "us-east-1b", "us-east-1c"]
    endpoint = cluster["ClusterDiscoveryEndpoint"]
    assert endpoint["Port"] == 8111 and endpoint["URL"] == f"dax://{endpoint['Address']}"
    assert endpoint["Address"].startswith("cache.") and endpoint["Address"].endswith(".dax-clusters.us-east-1.amazonaws.com")


def test_bad_input_gets_aws_error_codes(emu_env: Any, dax: DaxEmulator) -> None:
    client = emu_env.client("dax", REGION)
    role = "arn:aws:iam::123456789012:role/dax"
    for extra in ({"NodeType": "dax.x1.huge"}, {"ReplicationFactor": 12},
                  {"ReplicationFactor": 1, "AvailabilityZones": ["us-west-2a"]}):
        params: dict[str, Any] = {"ClusterName": "bad", "NodeType": "dax.r5.large", "ReplicationFactor": 3,
                                  "IamRoleArn": role, **extra}
        with pytest.raises(botocore.exceptions.ClientError) as err:
            client.create_cluster(**params)
        assert err.value.response["Error"]["Code"] == "InvalidParameterValueException", extra
    with pytest.raises(botocore.exceptions.ClientError) as err:
        make_cluster(emu_env)
    assert err.value.response["Error"]["Code"] == "ClusterAlreadyExistsFault"


def test_replication_factor_changes_add_and_remove_nodes(emu_env: Any, cache: DaxClient) -> None:
    client = emu_env.client("dax", REGION)
    client.increase_replication_factor(ClusterName="cache", NewReplicationFactor=5)
    nodes = describe(emu_env)["Nodes"]
    assert [(n["NodeId"], n["AvailabilityZone"]) for n in nodes][3:] == [("cache-d", "us-east-1a"), ("cache-e", "us-east-1b")]
    client.decrease_replication_factor(ClusterName="cache", NewReplicationFactor=4, NodeIdsToRemove=["cache-b"])
    assert [n["NodeId"] for n in describe(emu_env)["Nodes"]] == ["cache-a", "cache-c", "cache-d", "cache-e"]
    assert {read(cache) for _ in range(4)} == {None}  # every remaining node answers


# -- the item cache ---------------------------------------------------------------------------------
def test_writes_go_through_and_reach_the_other_nodes_after_the_node_lag(emu_env: Any, dax: DaxEmulator, cache: DaxClient) -> None:
    cache.put_item(TableName="orders", Item=item("v1"))
    emu_env.clock.sleep(NODE_LAG)
    cache.put_item(TableName="orders", Item=item("v2"))  # on the primary's cache now, on the others later
    answers = {}
    for _ in range(3):
        value = read(cache)
        answers[cache.last_node] = (value, cache.last_hit, cache.last_stale)
    assert answers == {"cache-a": ("v2", True, False), "cache-b": ("v1", True, True), "cache-c": ("v1", True, True)}
    assert {r["cause"] for r in dax.stale_reads(REGION, "cache")} == {"node-lag"}
    emu_env.clock.sleep(NODE_LAG)
    assert {read(cache) for _ in range(3)} == {"v2"}
    assert dax.cache_stats(REGION, "cache") == {"hits": 6, "misses": 0, "stale": 2}


def test_bypassed_writes_are_served_stale_until_the_ttl_and_counted(emu_env: Any, dax: DaxEmulator, cache: DaxClient) -> None:
    ddb = emu_env.client("dynamodb", REGION)
    cache.put_item(TableName="orders", Item=item("v1"))  # write-through: the table and the primary's cache
    emu_env.clock.sleep(NODE_LAG)  # the entry reached every node
    emu_env.clock.sleep(60)
    ddb.put_item(TableName="orders", Item=item("v2"))  # bypasses DAX (as replication or a copy-back does)
    for _ in range(3):  # every node answers v1 from its cache
        assert read(cache) == "v1" and cache.last_hit and cache.last_stale
    assert payload(cache.get_item(TableName="orders", Key=KEY, ConsistentRead=True)) == "v2"  # passes through
    stale = dax.stale_reads(REGION, "cache")
    assert len(stale) == 3 and {r["cause"] for r in stale} == {"bypassed"}
    assert stale[0]["served"]["payload"] == {"S": "v1"} and stale[0]["current"]["payload"] == {"S": "v2"}
    assert stale[0]["age"] == pytest.approx(60.0 + NODE_LAG)
    emu_env.clock.sleep(TTL - 60 - NODE_LAG - 0.01)
    assert read(cache) == "v1" and cache.last_hit  # still inside the TTL
    emu_env.clock.sleep(0.01)  # the TTL ran out on the nodes: the next read goes to the table
    assert read(cache) == "v2" and not cache.last_hit and not cache.last_stale
    assert dax.cache_stats(REGION, "cache") == {"hits": 4, "misses": 1, "stale": 4}


def test_a_missing_item_is_cached_too(emu_env: Any, dax: DaxEmulator, cache: DaxClient) -> None:
    ddb = emu_env.client("dynamodb", REGION)
    assert read(cache) is None and not cache.last_hit  # a miss: the table has no item; a negative entry
    emu_env.clock.sleep(NODE_LAG)
    ddb.put_item(TableName="orders", Item=item("v1"))
    for _ in range(3):
        assert read(cache) is None and cache.last_hit and cache.last_stale
    cache.put_item(TableName="orders", Item=item("v2"))  # a write through DAX replaces the negative entry
    emu_env.clock.sleep(NODE_LAG)
    assert {read(cache) for _ in range(3)} == {"v2"}


def test_batch_get_reads_through_the_cache(emu_env: Any, cache: DaxClient) -> None:
    ddb = emu_env.client("dynamodb", REGION)
    ddb.put_item(TableName="orders", Item=item("a", "k1"))
    ddb.put_item(TableName="orders", Item=item("b", "k2"))
    keys = [{"pk": {"S": "k1"}}, {"pk": {"S": "k2"}}, {"pk": {"S": "k3"}}]
    first = cache.batch_get_item(RequestItems={"orders": {"Keys": keys}})
    assert sorted(i["payload"]["S"] for i in first["Responses"]["orders"]) == ["a", "b"]
    emu_env.clock.sleep(NODE_LAG)
    ddb.put_item(TableName="orders", Item=item("c", "k3"))
    again = cache.batch_get_item(RequestItems={"orders": {"Keys": keys}})
    assert sorted(i["payload"]["S"] for i in again["Responses"]["orders"]) == ["a", "b"]  # k3: the negative entry
    strong = cache.batch_get_item(RequestItems={"orders": {"Keys": keys, "ConsistentRead": True}})
    assert sorted(i["payload"]["S"] for i in strong["Responses"]["orders"]) == ["a", "b", "c"]


def test_update_and_delete_through_dax_keep_the_cache_in_step(emu_env: Any, dax: DaxEmulator, cache: DaxClient) -> None:
    cache.put_item(TableName="orders", Item=item("v1"))
    cache.update_item(TableName="orders", Key=KEY, UpdateExpression="SET payload = :p",
                      ExpressionAttributeValues={":p": {"S": "v2"}})
    emu_env.clock.sleep(NODE_LAG)
    assert {read(cache) for _ in range(3)} == {"v2"}
    cache.delete_item(TableName="orders", Key=KEY)
    emu_env.clock.sleep(NODE_LAG)
    assert {read(cache) for _ in range(3)} == {None}
    assert dax.cache_stats(REGION, "cache")["stale"] == 0


# -- nodes, AZs, Regions -----------------------------------------------------------------------------
def test_a_node_in_a_lost_az_is_not_served_and_comes_back_empty(emu_env: Any, dax: DaxEmulator, cache: DaxClient) -> None:
    ddb = emu_env.client("dynamodb", REGION)
    cache.put_item(TableName="orders", Item=item("v1"))
    emu_env.clock.sleep(NODE_LAG)
    ddb.put_item(TableName="orders", Item=item("v2"))  # every node still holds v1
    emu_env.emulation.world.lose_az("us-east-1b")
    answered = set()
    for _ in range(6):
        assert read(cache) == "v1"
        answered.add(cache.last_node)
    assert answered == {"cache-a", "cache-c"}
    cluster = describe(emu_env)
    assert cluster["ActiveNodes"] == 2
    assert {n["NodeId"]: n["NodeStatus"] for n in cluster["Nodes"]}["cache-b"] == "failed"
    cache.put_item(TableName="orders", Item=item("v3"))  # the primary (in 1a) still takes writes
    emu_env.emulation.world.restore_az("us-east-1b")
    emu_env.clock.sleep(NODE_LAG)  # v3 reaches the serving nodes; the lost node had been left out
    answers = {}
    for _ in range(3):
        value = read(cache)
        answers[cache.last_node] = (value, cache.last_hit)
    assert answers == {"cache-a": ("v3", True), "cache-b": ("v3", False), "cache-c": ("v3", True)}


def test_losing_the_primary_node_fails_writes_over_to_a_replica(emu_env: Any, dax: DaxEmulator, cache: DaxClient) -> None:
    emu_env.emulation.world.lose_az("us-east-1a")
    with pytest.raises(DaxUnavailable):
        cache.put_item(TableName="orders", Item=item("v1"))
    assert read(cache) is None and cache.last_node != "cache-a"  # the replicas still read
    emu_env.clock.sleep(FAILOVER - 1)
    with pytest.raises(DaxUnavailable):
        cache.put_item(TableName="orders", Item=item("v1"))
    emu_env.clock.sleep(1)
    cache.put_item(TableName="orders", Item=item("v1"))
    assert dax.cluster(REGION, "cache").primary_node().id == "cache-b"
    assert describe(emu_env)["ActiveNodes"] == 2


def test_a_lost_region_makes_the_cluster_unreachable(emu_env: Any, cache: DaxClient) -> None:
    cache.put_item(TableName="orders", Item=item("v1"))
    emu_env.emulation.world.lose_region(REGION)
    with pytest.raises(DaxUnavailable):
        cache.get_item(TableName="orders", Key=KEY)
    emu_env.emulation.world.restore_region(REGION)
    assert read(cache) == "v1" and cache.last_hit


# -- DR: what bypasses DAX ---------------------------------------------------------------------------
def test_after_a_pitr_repoint_the_copy_back_is_served_stale_until_the_ttl(emu_env: Any, dax: DaxEmulator, cache: DaxClient) -> None:
    ddb = emu_env.client("dynamodb", REGION)
    ddb.update_continuous_backups(TableName="orders", PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
    cache.put_item(TableName="orders", Item=item("good"))
    emu_env.clock.sleep(60)
    corrupted_at = emu_env.clock.now()
    ddb.put_item(TableName="orders", Item=item("corrupt"))  # a bad deploy writing to DynamoDB directly
    emu_env.clock.sleep(NODE_LAG)
    assert read(cache) == "good"  # the cache hides the corruption: a stale read, counted
    emu_env.clock.sleep(TTL)
    assert read(cache) == "corrupt"  # once the TTL runs out

    emu_env.clock.sleep(300)  # the restore point is within the PITR window
    ddb.restore_table_to_point_in_time(SourceTableName="orders", TargetTableName="orders-pitr",
                                       RestoreDateTime=emu_env.clock.datetime(corrupted_at - 1))
    ddb.get_waiter("table_exists").wait(TableName="orders-pitr", WaiterConfig={"Delay": 20, "MaxAttempts": 100})
    assert read(cache, "orders-pitr") == "good" and not cache.last_hit  # repointed: a new table, a cold cache
    emu_env.clock.sleep(NODE_LAG)
    ddb.put_item(TableName="orders-pitr", Item=item("copied-back"))  # the copy-back does not go through DAX
    for _ in range(3):
        assert read(cache, "orders-pitr") == "good" and cache.last_stale
    emu_env.clock.sleep(TTL)
    assert read(cache, "orders-pitr") == "copied-back"
    stale = dax.stale_reads(REGION, "cache")
    assert [(r["table"], r["served"]["payload"]["S"], r["current"]["payload"]["S"]) for r in stale] == [
        ("orders", "good", "corrupt")] + [("orders-pitr", "good", "copied-back")] * 3
    assert dax.cache_stats(REGION, "cache")["stale"] == 4


def test_global_table_replication_into_the_dr_region_bypasses_its_dax(emu_env: Any, dax: DaxEmulator) -> None:
    emu_env.profile.override("dynamodb_replication_lag", 1.0, origin="test")
    emu_env.profile.override("dynamodb_replica_create_time", 0, origin="test")
    east = emu_env.client("dynamodb", REGION)
    east.update_table(TableName="orders", ReplicaUpdates=[{"Create": {"RegionName": DR}}])
    make_cluster(emu_env, DR, "dr-cache")
    emu_env.clock.sleep(CREATE)
    dr_cache = dax.client(DR, "dr-cache", emu_env.client("dynamodb", DR))
    east.put_item(TableName="orders", Item=item("v1"))
    emu_env.clock.sleep(1.0)
    assert read(dr_cache) == "v1"  # read through in the DR Region
    emu_env.clock.sleep(NODE_LAG)
    east.put_item(TableName="orders", Item=item("v2"))
    emu_env.clock.sleep(1.0)  # replicated into the DR table, not into its DAX
    assert payload(emu_env.client("dynamodb", DR).get_item(TableName="orders", Key=KEY)) == "v2"
    emu_env.emulation.world.lose_region(REGION)  # fail over to the DR Region: its cache still says v1
    assert read(dr_cache) == "v1" and dr_cache.last_stale
    assert dax.cache_stats(DR, "dr-cache") == {"hits": 1, "misses": 1, "stale": 1}
