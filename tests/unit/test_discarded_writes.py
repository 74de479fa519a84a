"""Writes acknowledged after the fault and missing after recovery: a figure apart from the RPO, with its objective."""
from __future__ import annotations

from pathlib import Path

import pytest

from pytest_drtest.errors import DrConfigError
from pytest_drtest.measure import Ledger, Phases, Result, compute_rpo
from pytest_drtest.objectives import Objectives, failures
from pytest_drtest.scenario import load_scenario


def _result() -> Result:
    """Fault at 100 s; writes at 90, 99.5 (lost with the fault) and 101..103 (discarded by the restore)."""
    ledger = Ledger()
    for t in (90.0, 99.5, 101.0, 102.0, 103.0):
        ledger.record(f"k{t:g}", f"v{t:g}", t)
    present = {"k90": "v90"}  # the recovered store holds only the oldest
    rpo, lost = compute_rpo(ledger, present, fault_t=100.0)
    return Result(fault_t=100.0, rto_s=60.0, rpo_s=rpo, lost_writes=lost, phases=Phases(), modeled=True, samples=0,
                  failed_samples=0)


def test_writes_acknowledged_after_the_fault_are_discarded_not_lost_and_leave_the_rpo_alone():
    result = _result()
    assert result.rpo_s == 0.5
    assert result.lost_sequence_numbers == [2]
    assert result.discarded_sequence_numbers == [3, 4, 5]
    assert result.summary() == "RTO 1m00s, RPO 0.5s, 1 lost writes, 3 writes discarded after the fault"
    assert result.story().endswith("3 writes acknowledged after the fault discarded (+1.0 s to +3.0 s)")


def test_the_json_form_keeps_lost_and_discarded_apart():
    data = _result().as_dict()
    assert (data["lost_writes"], data["discarded_writes"]) == (1, 3)
    assert data["discarded_sequence_numbers"] == [3, 4, 5]
    assert [w["t"] for w in data["timeline"]["discarded"]] == [1.0, 2.0, 3.0]
    again = Result.from_dict(data)
    assert again.lost_sequence_numbers == [2] and again.discarded_sequence_numbers == [3, 4, 5]
    assert again.as_dict() == data


def test_a_write_in_flight_at_the_fault_is_lost_not_discarded_and_survives_the_json_form():
    """Sent 3 s before the fault, acknowledged 0.9 s after it (a service's round trip on a paced
    clock): the store may have committed it before the fault, so recovery losing it is data loss."""
    ledger = Ledger()
    ledger.record("early", "e", 98.0, sent_t=97.9)
    ledger.record("in-flight", "f", 100.9, sent_t=97.0)
    ledger.record("after", "a", 101.5, sent_t=100.5)
    rpo, lost = compute_rpo(ledger, {}, fault_t=100.0)
    result = Result(fault_t=100.0, rto_s=60.0, rpo_s=rpo, lost_writes=lost, phases=Phases(), modeled=True, samples=0,
                    failed_samples=0)
    assert result.rpo_s == 2.0  # the window is still the earliest write acknowledged before the fault
    assert result.lost_sequence_numbers == [1, 2]
    assert result.discarded_sequence_numbers == [3]
    again = Result.from_dict(result.as_dict())
    assert again.lost_sequence_numbers == [1, 2] and again.discarded_sequence_numbers == [3]
    assert again.as_dict() == result.as_dict()


def test_the_default_objective_is_none_discarded_and_a_level_may_allow_some():
    result = _result()
    missed = failures(result, Objectives.parse("1h", "1s", source="band", level="band"))
    assert missed == [
        ("3 writes acknowledged after the fault discarded (+1.0 s to +3.0 s), objective none (sequence numbers 3, 4, 5: "
        "acknowledged to the application after the fault, missing from the recovered store)")
    ]
    lenient = Objectives.parse("1h", "1s", level="band").merged(Objectives.parse(discarded=3, level="call", source="assert_objectives"))
    assert failures(result, lenient) == []
    assert lenient.origin("discarded") == "call"
    strict = Objectives.parse(discarded=2, level="experiment")
    assert "objective at most 2" in failures(result, strict)[0]


def test_objectives_json_says_the_limit_and_where_it_came_from():
    default = Objectives.parse("1h", "5m", source="band", level="band")
    assert default.as_dict()["discarded"] == 0 and "discarded" not in default.as_dict()["sources"]
    assert Objectives.from_dict(default.as_dict()).discarded is None
    explicit = Objectives.parse(discarded=4, level="scenario")
    assert explicit.as_dict()["discarded"] == 4 and explicit.as_dict()["sources"]["discarded"] == "scenario"
    assert Objectives.from_dict(explicit.as_dict()).discarded_limit == 4
    with pytest.raises(DrConfigError, match=r"discarded: expected a number of writes \(0 or more\), got -1"):
        Objectives.parse(discarded=-1)


def test_scenario_files_set_discarded_per_experiment(tmp_path: Path):
    body = ('name = "x"\nstrategy = "warm-standby"\nobjectives = {{ discarded = {top} }}\n[[experiments]]\n'
            'fault = {{ kind = "region-outage" }}\nobjectives = {{ rto = "5m", discarded = 2 }}\n')
    path = tmp_path / "x.toml"
    path.write_text(body.format(top=7))
    scenario = load_scenario(path)
    assert scenario.objectives.discarded == 7 and scenario.experiments[0].objectives.discarded == 2
    path.write_text(body.format(top='"some"'))
    with pytest.raises(DrConfigError, match=r"x.toml: field 'objectives.discarded': expected a number of writes"):
        load_scenario(path)
