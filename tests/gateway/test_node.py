"""A Node.js AWS SDK (v3) in another process: the same world, refused during a region outage."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from pytest_drtest.harness import Harness

NODE_DIR = Path(__file__).parent / "node"


def _node_client() -> str:
    node = shutil.which("node")
    missing = None if node else "node is not installed"
    if missing is None and not (NODE_DIR / "node_modules" / "@aws-sdk" / "client-dynamodb").is_dir():
        missing = f"@aws-sdk/client-dynamodb is not installed: run npm ci in {NODE_DIR} (.ci/run does)"
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the Node.js client: {missing}")
        pytest.skip(missing)
    assert node is not None
    return node


def test_the_node_sdk_puts_and_gets_through_the_gateway_and_is_refused_in_an_outage(world: Harness) -> None:
    node = _node_client()
    world.client("dynamodb").create_table(
        TableName="orders", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
    env = {**os.environ, **world.env("primary")}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([node, "client.mjs", *args], cwd=NODE_DIR, env=env, capture_output=True, text=True, timeout=60,
                              check=False)

    put = run("put", "orders", "from-node")
    assert put.returncode == 0, put.stderr
    item = world.client("dynamodb").get_item(TableName="orders", Key={"pk": {"S": "from-node"}})["Item"]
    assert item["from"] == {"S": "node"}
    world.client("dynamodb").put_item(TableName="orders", Item={"pk": {"S": "from-test"}})
    got = run("get", "orders", "from-test")
    assert got.stdout.strip() == "got from-test", got.stderr
    world.emulation.world.lose_region(world.regions[0])  # type: ignore[union-attr]
    refused = run("put", "orders", "during-outage")
    assert refused.returncode == 2 and "ECONNREFUSED" in refused.stderr + refused.stdout
