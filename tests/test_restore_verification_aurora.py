"""The restore check of Aurora cluster PITR catches the wrong time, the wrong cluster and a restore in place.

A small active/active topology (Aurora PostgreSQL global database) takes probe traffic, then its
primary cluster is restored twice into NEW clusters (each with a writer); see
``test_restore_verification.py`` for the other kinds.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from pytest_drtest.harness import Harness
from pytest_drtest.recovery.steps import restore_database_to_time
from pytest_drtest.restores import verify_restore
from pytest_drtest.settings import Settings
from pytest_drtest.topology.build import db_target

# one worker runs the module, so its module-scoped world is built once (pytest-xdist --dist loadgroup;
# while xdist cannot read the mark under pytest 9.2, tests/conftest.py's ONE_WORKER_FILES groups the file)
pytestmark = pytest.mark.xdist_group("restore-verification-aurora")


TINY = """
name = "tiny"
[compute]
capacity = 1
[[tables]]
name = "orders"
seed_items = 10
[database]
"""


@pytest.fixture(scope="module")
def aurora(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Harness, dict[str, dict[str, Any]]]]:
    blueprint = tmp_path_factory.mktemp("tiny") / "tiny.toml"
    blueprint.write_text(TINY)
    with Harness(Settings(), strategy="active-active", blueprint=str(blueprint)) as dr:
        clock = dr.clock
        with dr.probe(interval="60s"):
            clock.sleep("40m")
        end = clock.now()
        records = {}
        for moment, age in (("early", 30 * 60), ("late", 6 * 60)):
            restore_database_to_time(dr.topology, clock.datetime(end - age).replace(microsecond=0), clock)
            records[moment] = dr.topology.restores.pop()
        yield dr, records


def test_aurora_cluster_pitr_records_true_and_false(aurora: tuple[Harness, dict[str, dict[str, Any]]]) -> None:
    dr, records = aurora
    late, early = records["late"], records["early"]
    assert late["kind"] == "aurora-cluster-pitr"

    def verify(record: dict[str, Any], **wrong: Any) -> Any:
        return verify_restore(dr.topology, dr.ledger, {**record, **wrong})

    for record in (late, early):
        result = verify(record)
        assert result.passed and result.items_expected > 10, result.story()
    claimed_later = verify(early, restore_time=late["restore_time"])
    assert not claimed_later.passed and claimed_later.items_matched < claimed_later.items_expected
    assert "are missing or hold another value" in claimed_later.story()
    claimed_earlier = verify(late, restore_time=early["restore_time"])
    assert not claimed_earlier.passed and "that did not exist at" in claimed_earlier.story()
    other = verify(late, target=early["target"], db=early["db"])
    assert not other.passed and f"{early['target']} existed before the restore began" in other.story()
    source = late["source"]
    in_place = verify(late, target=source, db=db_target(dr.topology, dr.regions[0], source, "cluster"))
    assert not in_place.passed and f"restored in place: the target {source} is the source itself" in in_place.story()
    assert in_place.unexpected_items > 0
