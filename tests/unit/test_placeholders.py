"""${...} placeholders in files a scenario names: refused at load when unknown, resolved against the topology."""
from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from pytest_drtest.clock import VirtualClock
from pytest_drtest.errors import DrConfigError
from pytest_drtest.recovery.placeholders import check_placeholders, resolve


def _topology() -> Any:
    clock = VirtualClock()
    stacks = {
        "primary": SimpleNamespace(region="us-east-1", tables={"orders": "t-orders"}, buckets={"assets": "b-east"}, database="db",
                                   database_secret="arn:aws:secretsmanager:us-east-1:123456789012:secret:db-master-AbCdEf"),
        "dr": SimpleNamespace(region="us-west-2", tables={"orders": "t-orders"}, buckets={"assets": "b-west"}, database="db-replica",
                              database_secret=None),
    }
    fault = SimpleNamespace(injected_at=90.5)
    return SimpleNamespace(stack=stacks.__getitem__, account="123456789012", global_cluster=None, zone_id="Z1", fqdn="www.x",
                           faults=[fault], clock=clock, name="topo", client=None)


def test_placeholders_resolve_in_values_and_keys() -> None:
    value = {"${region.dr}": ["${table_arn.orders.dr}", "${bucket.assets}", "arn:aws:rds:${region.primary}:${account}:db:${database.dr}"],
             "time": "${fault_time}/${before_fault}", "plain": 3}
    assert resolve(value, _topology(), {}) == {
        "us-west-2": ["arn:aws:dynamodb:us-west-2:123456789012:table/t-orders", "b-east", "arn:aws:rds:us-east-1:123456789012:db:db-replica"],
        "time": "2026-01-05T00:01:30Z/2026-01-05T00:01:29Z", "plain": 3}


def test_the_database_secret_is_the_clusters_arn_and_refused_without_one() -> None:
    assert resolve("${database_secret.primary}", _topology(), {}) == \
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-master-AbCdEf"
    check_placeholders("${database_secret.dr}", source="plan.json")
    with pytest.raises(DrConfigError, match="no Aurora cluster in us-west-2"):
        resolve("${database_secret.dr}", _topology(), {})


@pytest.mark.parametrize("text", ["${tabel.orders}", "${table}", "${account.primary}", "${asg.west}", "${region}x${", "${table.orders.east}"])
def test_unknown_placeholders_name_the_file_and_path(text: str) -> None:
    with pytest.raises(DrConfigError, match="unknown placeholder") as info:
        check_placeholders({"a": [{"b": text}]}, source="plan.json")
    assert info.value.source == "plan.json" and info.value.field == "a[0].b"
