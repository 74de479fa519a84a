"""Backup & restore keeps the application's release archive in S3 Glacier Flexible Retrieval in the DR
region: the region-outage runbook restores it with the blueprint's tier in parallel with the table and
database restores, so the tier's time is in the RTO when it is the longest wait (embedded moto, virtual
clock, a blueprint without a database)."""
from __future__ import annotations

from pathlib import Path

import botocore.exceptions
import pytest

from pytest_drtest import faults
from pytest_drtest.errors import DrConfigError
from pytest_drtest.harness import Harness
from pytest_drtest.measure import Milestone
from pytest_drtest.recovery import RUNBOOKS
from pytest_drtest.settings import Settings
from pytest_drtest.topology.blueprint import load_blueprint
from pytest_drtest.topology.build import ARCHIVE_KEY

BLUEPRINT = """
name = "tiny"
[compute]
capacity = 2
[[tables]]
name = "orders"
seed_items = 5
[backup]
schedule = "cron(0 * ? * * *)"
{tier}
"""
FIGURES = ["backup_job_time = 5m", "backup_copy_time = 10m", "backup_restore_time = 20m", "stack_create_time = 10m",
           "app_warmup_time = 5m", "s3_glacier_expedited = 3m", "s3_glacier_standard = 4h", "s3_glacier_bulk = 9h"]


def _blueprint(tmp_path: Path, tier: str | None) -> str:
    path = tmp_path / "tiny.toml"
    path.write_text(BLUEPRINT.format(tier=f'archive_restore_tier = "{tier}"' if tier else ""))
    return str(path)


def _at(milestones: list[Milestone], kind: str) -> Milestone:
    return next(m for m in milestones if m.kind == kind)


def _region_outage(blueprint: str) -> tuple[list[Milestone], float, float | None]:
    with Harness(Settings(latency_lines=FIGURES), strategy="backup-restore", blueprint=blueprint) as dr:
        s3 = dr.client("s3", "dr")
        archive = dr.topology.dr.archive
        assert archive is not None
        assert s3.head_object(Bucket=archive, Key=ARCHIVE_KEY)["StorageClass"] == "GLACIER"
        with pytest.raises(botocore.exceptions.ClientError) as refused:
            s3.get_object(Bucket=archive, Key=ARCHIVE_KEY)  # archived: unreadable until restored
        assert refused.value.response["Error"]["Code"] == "InvalidObjectState"
        with dr.probe(interval="5m") as probe:
            dr.clock.sleep("80m")  # the 01:00 recovery point reaches the DR vault
            dr.inject(faults.RegionOutage("primary"))
            RUNBOOKS["restore-from-backup"](dr.topology, dr.clock)
            assert probe.wait_recovered(within="1h")
            result = probe.result()
        assert s3.get_object(Bucket=archive, Key=ARCHIVE_KEY)["Body"].read()  # the temporary copy serves
    return result.milestones, result.fault_t, result.rto_s


def test_a_standard_restore_is_the_longest_wait_and_sets_the_rto(tmp_path: Path) -> None:
    marks, fault_t, rto = _region_outage(_blueprint(tmp_path, None))  # AWS's default tier: Standard
    started, done = _at(marks, "glacier-restore-started"), _at(marks, "glacier-restored")
    assert "(Standard)" in started.detail and done.detail.startswith("Standard, 4h0")
    assert 4 * 3600 <= done.t - started.t < 4 * 3600 + 60  # the tier's time, to the runbook's poll of a minute
    assert started.t <= _at(marks, "table-restored").t  # requested with the other restores, not after them
    assert _at(marks, "stack-deploy-started").t == done.t  # the stack waits for the release archive
    assert rto is not None and rto >= done.t - fault_t


def test_an_expedited_restore_is_shorter_than_the_table_restore_and_adds_nothing(tmp_path: Path) -> None:
    marks, fault_t, rto = _region_outage(_blueprint(tmp_path, "Expedited"))
    done, table = _at(marks, "glacier-restored"), _at(marks, "table-restored")
    assert done.detail.startswith("Expedited, 3m")
    assert done.t <= table.t + 1 and _at(marks, "stack-deploy-started").t == table.t
    assert rto is not None and table.t - fault_t <= rto < 2 * 3600  # set by the table, not the archive


def test_an_unknown_tier_is_refused_naming_the_field(tmp_path: Path) -> None:
    with pytest.raises(DrConfigError) as refused:
        load_blueprint(_blueprint(tmp_path, "Fast"))
    assert refused.value.field == "backup.archive_restore_tier"
    assert "Expedited, Standard, Bulk" in str(refused.value) and "'Fast'" in str(refused.value)


def test_the_aws_plan_lists_the_archive_bucket_and_its_tier(tmp_path: Path) -> None:
    from pytest_drtest.backends.aws_plan import planned_resources
    from pytest_drtest.measure import Timeline
    from pytest_drtest.strategies import get_strategy
    from pytest_drtest.topology.model import RegionStack, Topology

    topology = Topology(name="dr-backup-restore", blueprint=load_blueprint(_blueprint(tmp_path, "Bulk")),
                        strategy=get_strategy("backup-restore"), primary_region="us-east-1", dr_region="us-west-2",
                        clients=None, clock=None, profile=None, timeline=Timeline(),  # type: ignore[arg-type]
                        regions={r: RegionStack(r, role) for r, role in (("us-east-1", "primary"), ("us-west-2", "dr"))})
    archive = [p for p in planned_resources(topology) if p.name == "dr-backup-restore-archive-us-west-2"]
    assert [(p.service, p.region) for p in archive] == [("s3", "us-west-2")]
    assert "GLACIER" in archive[0].note and "Bulk" in archive[0].note
