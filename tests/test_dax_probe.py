"""The blueprint's ``[dax]``: the application writes through its Region's DAX cluster and reads
eventually consistent through it; the probes count every answer a cluster served stale (embedded moto,
virtual clock)."""
from __future__ import annotations

from pathlib import Path

import pytest

from pytest_drtest import faults
from pytest_drtest.emulation.dax import DaxEmulator
from pytest_drtest.errors import DrConfigError
from pytest_drtest.harness import Harness
from pytest_drtest.measure import Result, Sample
from pytest_drtest.recovery import RUNBOOKS
from pytest_drtest.settings import Settings
from pytest_drtest.topology.blueprint import load_blueprint

BLUEPRINT = """
name = "tiny"
[compute]
capacity = 3
[[tables]]
name = "orders"
[dax]
{dax}
"""
FIGURES = ["dynamodb_replication_lag = 1s", "dax_create_time = 10m", "dax_node_replication_lag = 500ms"]


def _blueprint(tmp_path: Path, dax: str = "") -> str:
    path = tmp_path / "tiny.toml"
    path.write_text(BLUEPRINT.format(dax=dax))
    return str(path)


def _region_outage(dr: Harness, keys: int | None) -> tuple[Result, list[Sample]]:
    with dr.probe(keys=keys) as probe:
        dr.clock.sleep("30s")
        dr.inject(faults.RegionOutage("primary"))
        RUNBOOKS["dns-failover"](dr.topology, dr.clock)
        assert probe.wait_recovered("30m")
        dr.clock.sleep("1m")
        return probe.result(), list(probe.samples)


def test_updated_items_are_answered_stale_by_nodes_the_write_has_not_reached_and_the_probe_counts_them(tmp_path: Path) -> None:
    with Harness(Settings(latency_lines=FIGURES), strategy="warm-standby", blueprint=_blueprint(tmp_path)) as dr:
        topology = dr.topology
        assert {r: c.get("dax") for r, c in topology.app_config.items()} == {topology.primary_region: "orders-dax",
                                                                             topology.dr_region: "orders-dax"}
        result, samples = _region_outage(dr, keys=3)  # each tick updates one of three items, then reads it back
        emulator = dr.emulation.find(DaxEmulator) if dr.emulation is not None else None
        assert emulator is not None
        recorded = [(stack.region, read) for stack in topology.regions.values()
                    for read in emulator.stale_reads(stack.region, "orders-dax")]
        served_before = [s for s in samples if s.t < result.fault_t]
    # the write went to the primary node; a read replica answered the item it held from the last round
    assert result.stale_reads and {r.cause for r in result.stale_reads} == {"node-lag"}
    assert [(r.region, r.key, r.t) for r in result.stale_reads] == sorted(
        ((region, read["key"]["pk"]["S"], read["t"]) for region, read in recorded), key=lambda r: r[2])
    regions = {r.region for r in result.stale_reads}
    assert regions == {topology.primary_region, topology.dr_region}  # after the failover too: the DR Region's cluster
    assert all(r.age_s == pytest.approx(3.0) for r in result.stale_reads)  # the entry of the previous round, 3 ticks ago
    assert served_before and all(s.ok for s in served_before)  # a stale answer is served, not an outage
    assert result.rto_s is not None and not result.lost_writes
    data = result.as_dict()
    assert data["stale_reads"] == len(result.stale_reads)
    assert Result.from_dict(data).stale_reads == [
        type(r)(pytest.approx(r.t), r.key, r.region, r.cause, pytest.approx(r.age_s)) for r in result.stale_reads]
    assert f"{len(result.stale_reads)} stale reads" in result.summary()


def test_new_items_are_read_through_the_dr_regions_cluster_after_failover_and_nothing_is_stale(tmp_path: Path) -> None:
    with Harness(Settings(latency_lines=FIGURES), strategy="warm-standby", blueprint=_blueprint(tmp_path, "nodes = 2")) as dr:
        topology = dr.topology
        result, _ = _region_outage(dr, keys=None)
        assert dr.emulation is not None
        emulator = dr.emulation.find(DaxEmulator)
        primary = emulator.cache_stats(topology.primary_region, "orders-dax")
        after = emulator.cache_stats(topology.dr_region, "orders-dax")
        nodes = len(emulator.cluster(topology.dr_region, "orders-dax").nodes)
    assert nodes == 2
    assert result.stale_reads == [] and result.rto_s is not None
    assert all(result.fault_t - w.ack_t < 1.0 for w in result.lost_writes)  # only what was still replicating (lag 1 s)
    # every tick writes a new item through the primary node (which caches it) and reads it back round robin:
    # a hit on the primary node, a miss read through to the table on the replica; in the Region that served it
    served = result.served_by
    for stats, region in ((primary, topology.primary_region), (after, topology.dr_region)):
        assert stats["hits"] > 0 and stats["misses"] > 0 and stats["stale"] == 0
        assert stats["hits"] + stats["misses"] == served[region]


@pytest.mark.parametrize(("dax", "field", "expected"), [
    ('node_type = "dax.x9.huge"', "dax.node_type", "Invalid NodeType 'dax.x9.huge'"),
    ("nodes = 0", "dax.nodes", "expected 1 to 11 nodes"),
    ("nodes = 12", "dax.nodes", "expected 1 to 11 nodes"),
    ("ttl = 5", "dax", "ttl"),
])
def test_a_bad_dax_section_names_the_field(tmp_path: Path, dax: str, field: str, expected: str) -> None:
    with pytest.raises(DrConfigError) as info:
        load_blueprint(_blueprint(tmp_path, dax))
    assert info.value.field is not None and info.value.field.startswith(field)
    assert expected in str(info.value) and "tiny.toml" in str(info.value)


def test_the_summary_table_has_a_stale_column_only_when_an_experiment_had_stale_reads() -> None:
    from pytest_drtest.measure import Phases, StaleAnswer
    from pytest_drtest.report import summary_lines
    from pytest_drtest.report_html import render_html

    def experiment(stale: int) -> dict[str, object]:
        result = Result(fault_t=100.0, rto_s=60.0, rpo_s=0.0, lost_writes=[], phases=Phases(), modeled=True, samples=10,
                        failed_samples=2, stale_reads=[StaleAnswer(110.0 + n, f"probe#{n:07d}", "us-west-2", "bypassed", 30.0)
                                                       for n in range(stale)])
        return {"scenario": "s", "name": f"e{stale}", "strategy": "warm-standby", "measured": result.as_dict(),
                "objectives": {}, "passed": True, "fault": "region-outage(primary)"}

    data = {"backend": "moto", "seed": 1, "regions": {"primary": "us-east-1", "dr": "us-west-2"}}
    with_stale = summary_lines({**data, "experiments": [experiment(0), experiment(4)]})
    header = next(line for line in with_stale if line.startswith("scenario"))
    column = header.index(" stale ") + 1  # the table's columns are aligned
    assert [line[column:].split()[0] for line in with_stale if line.startswith("s ")] == ["0", "4"]
    without = summary_lines({**data, "experiments": [experiment(0)]})
    assert "stale" not in next(line for line in without if line.startswith("scenario")).split()
    page = render_html({**data, "experiments": [experiment(4)]})
    assert "<td>stale reads (cache)</td><td>4</td>" in page


def test_behind_the_web_tier_on_moto_server_the_built_in_application_reads_through_dax_too(tmp_path: Path) -> None:
    settings = Settings(backend="moto-server", latency_lines=FIGURES)
    with Harness(settings, strategy="warm-standby", blueprint=_blueprint(tmp_path)) as dr:
        assert dr.network is not None  # the probes go through the world's DNS and the web tier over HTTP
        result, samples = _region_outage(dr, keys=3)
    assert result.stale_reads and {r.cause for r in result.stale_reads} == {"node-lag"}
    assert {r.region for r in result.stale_reads} == {"us-east-1", "us-west-2"}
    assert all(s.ok for s in samples if s.t < result.fault_t)
