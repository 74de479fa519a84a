"""Experiments as reports see them: the record of one measured experiment, the objectives it was
judged against, and the scenario items a harness runs (build, steady state, fault, runbook,
measure, restore checks).

:class:`ExperimentRunner` is the part of :class:`~pytest_drtest.harness.Harness` that judges and
records results; it works on the harness's state (its methods are typed ``self``).
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pytest_drtest.assessment import TopologyAssessment, assess_topology
from pytest_drtest.errors import DrConfigError
from pytest_drtest.measure import Result, Sample
from pytest_drtest.objectives import Objectives, assert_objectives
from pytest_drtest.progress import PhaseEvent, PhaseTracker
from pytest_drtest.restores import RestoreResult, verify_restore

if TYPE_CHECKING:
    import contextlib

    from pytest_drtest.clock import Clock
    from pytest_drtest.emulation.core import Emulation
    from pytest_drtest.faults.base import Fault
    from pytest_drtest.measure import Ledger, Timeline
    from pytest_drtest.probes.probe import Probe
    from pytest_drtest.scenario import Experiment, ProbeSettings, RestoreCheck, Scenario
    from pytest_drtest.settings import Settings
    from pytest_drtest.strategies import Strategy
    from pytest_drtest.topology.model import Topology

#: The last seconds of a scenario's steady state probed at the full interval (see Probe.thin).
DENSE_LEAD = 30.0


@dataclass
class ExperimentRecord:
    """One measured experiment, as reports show it; :meth:`as_dict` / :meth:`from_dict` round-trip
    it through the JSON report (reports, pictures and gates work from that data alone)."""

    test: str
    scenario: str
    strategy: str
    fault: str
    objectives: Objectives
    result: Result
    passed: bool
    failures: list[str] = field(default_factory=list)
    clock_s: float = 0.0  # modeled (or real) seconds the experiment spanned
    wall_s: float = 0.0  # real seconds it took
    name: str = ""  # the experiment's name, or the test's name within its file
    id: str = ""  # stable across runs: "<scenario>::<experiment>", or the test's node id
    regions: tuple[str, str] | None = None  # (primary, dr) actually used
    fault_kinds: list[str] = field(default_factory=list)
    disruption: str | None = None  # Resilience Hub disruption type: Software, Hardware, AZ, Region
    policy: str | None = None  # name of the resiliency policy whose entry judged it
    policy_entry: str | None = None  # the entry used (a disruption type), None when none applied
    topology: TopologyAssessment | None = None  # what the built topology implements (scenario items)
    runbook_rto_s: float | None = None  # the runbook's own recovery time (ARC actualRecoveryTime, an SOP's RecoveryTime)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id or self.test or self.name,
            "test": self.test,
            "name": self.name,
            "clock_s": round(self.clock_s, 3),
            "wall_s": round(self.wall_s, 3),
            "scenario": self.scenario,
            "strategy": self.strategy,
            "regions": None if self.regions is None else {"primary": self.regions[0], "dr": self.regions[1]},
            "fault": self.fault,
            "fault_kinds": list(self.fault_kinds),
            "disruption": self.disruption,
            "policy": self.policy,
            "policy_entry": self.policy_entry,
            "objectives": self.objectives.as_dict(),
            "measured": self.result.as_dict(),
            "passed": self.passed,
            "failures": self.failures,
            "topology": None if self.topology is None else self.topology.as_dict(),
            "runbook_rto_s": self.runbook_rto_s,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExperimentRecord:
        regions = data.get("regions")
        topology = data.get("topology")
        return cls(
            test=str(data.get("test", "")), scenario=str(data.get("scenario", "")), strategy=str(data.get("strategy", "")),
            fault=str(data.get("fault", "-")), objectives=Objectives.from_dict(data.get("objectives") or {}),
            result=Result.from_dict(data.get("measured") or {}), passed=bool(data.get("passed")),
            failures=list(data.get("failures", [])), clock_s=float(data.get("clock_s", 0.0)),
            wall_s=float(data.get("wall_s", 0.0)), name=str(data.get("name", "")), id=str(data.get("id", "")),
            regions=None if not regions else (str(regions["primary"]), str(regions["dr"])),
            fault_kinds=list(data.get("fault_kinds", [])), disruption=data.get("disruption"), policy=data.get("policy"),
            policy_entry=data.get("policy_entry"),
            topology=None if not topology else TopologyAssessment.from_dict(topology),
            runbook_rto_s=data.get("runbook_rto_s"),
        )


def stable_id(scenario: str, experiment: str) -> str:
    """The id of a scenario's experiment in every run, whatever the folder pytest runs in."""
    return f"{scenario}::{experiment}"


def test_name(nodeid: str) -> str:
    """``tests/test_x.py::TestA::test_b[1]`` -> ``TestA::test_b[1]``."""
    return nodeid.split("::", 1)[1] if "::" in nodeid else nodeid


class ExperimentRunner:
    """Progress, judging, recording and running experiments (mixed into the harness)."""

    _assessment: TopologyAssessment | None = None  # set by run_experiment once the topology is built

    if TYPE_CHECKING:  # the harness's state and steps these methods work with
        settings: Settings
        test: str
        scenario: Scenario | None
        regions: tuple[str, str]
        strategy: Strategy
        objectives: Objectives
        clock: Clock
        timeline: Timeline
        ledger: Ledger
        records: list[ExperimentRecord]
        restore_results: list[RestoreResult]
        emulation: Emulation | None
        _faults: list[Fault]
        _probes: list[Probe]
        _tracker: PhaseTracker | None
        _topology: Topology | None
        _probe_settings: ProbeSettings | None
        _undo: contextlib.ExitStack[bool | None]
        _started: bool
        _closed: bool
        _wall_start: float

        @property
        def topology(self) -> Topology: ...
        def build(self, faults: list[Fault] | None = None) -> Topology: ...
        def inject(self, fault: Fault) -> Fault: ...
        def revert(self, fault: Fault) -> Fault: ...
        def probe(self, *, interval: float | str | None = None, consecutive: int | None = None,
                  client_region: str | None = None, path: Any = None, keys: int | None = None) -> Probe: ...

    # -- progress ---------------------------------------------------------------------------------
    def observe(self, observer: Callable[[PhaseEvent], None]) -> None:
        """Call ``observer`` with each phase of the experiment as it happens (building, steady state,
        fault, detection, failover, recovered, restore checks; see :mod:`pytest_drtest.progress`)."""
        if self._tracker is None:
            self._tracker = PhaseTracker()
            self.timeline.observers.append(self._tracker.milestone)
            if self._started and not self._closed:
                self._watch_probes()
        self._tracker.observers.append(observer)

    def _watch_probes(self) -> None:
        tracker = self._tracker
        assert tracker is not None
        remove = self.clock.add_advance_listener(after=lambda old, new: tracker.samples(self._probes))
        self._undo.callback(remove)

    def _phase(self, phase: str, detail: str = "", t: float | None = None) -> None:
        if self._tracker is not None:
            self._tracker.emit(phase, self.clock.now() if t is None else t, detail)

    def _recovered(self, result: Result) -> None:
        """The ``recovered`` phase from a result (when the probes did not already tell it)."""
        if result.rto_s is None:
            self._phase("recovered", f"not recovered: {result.summary()}")
        else:
            self._phase("recovered", result.summary(), t=result.fault_t + result.rto_s)

    def assert_objectives(
        self,
        result: Result,
        *,
        rto: str | float | None = None,
        rpo: str | float | None = None,
        availability: str | float | None = None,
        disruption: str | None = None,
        discarded: int | None = None,
    ) -> None:
        """Fail with a readable story if ``result`` misses the objectives in force.

        Those are the marker's, else the ``--dr-policy`` entry for the faults' disruption type
        (``disruption=``: Software, Hardware, AZ or Region, for faults marked with
        :meth:`mark_fault`), else the scenario's, else the strategy's band; ``rto``/``rpo``/
        ``availability`` given here override them all. ``discarded``: how many writes acknowledged
        after the fault recovery may discard (default none).
        """
        from pytest_drtest.policy import DISRUPTION_TYPES

        if disruption is not None and disruption not in DISRUPTION_TYPES:
            raise DrConfigError(
                f"assert_objectives: unknown disruption {disruption!r}; expected one of: {', '.join(DISRUPTION_TYPES)}"
            )
        call = Objectives.parse(rto, rpo, availability, source="assert_objectives", level="call", discarded=discarded)
        record = self._record(result, self.objectives, call=call, disruption=disruption)
        assert_objectives(result, record.objectives)

    def _record(
        self,
        result: Result,
        objectives: Objectives,
        *,
        call: Objectives | None = None,
        disruption: str | None = None,
        name: str | None = None,
    ) -> ExperimentRecord:
        """Apply the policy to ``objectives`` (then ``call`` over them), judge ``result`` and keep the record."""
        from pytest_drtest.objectives import failures
        from pytest_drtest.policy import disruption_of

        kinds = [f.kind for f in self._faults]
        disruption = disruption or disruption_of(kinds)
        policy = self.settings.policy
        entry = None
        if policy is not None:
            objectives, entry = policy.apply(objectives, disruption)
        if call is not None:
            objectives = objectives.merged(call)
        if not result.probe_samples:
            result.probe_samples = self._samples_of(result)
        self._recovered(result)
        missed = failures(result, objectives)
        scenario = self.scenario.name if self.scenario else ""
        record_name = name or test_name(self.test)
        record = ExperimentRecord(
            test=self.test, scenario=scenario,
            strategy=self.strategy.name, fault=", ".join(f.describe() for f in self._faults) or "-",
            objectives=objectives, result=result, passed=not missed, failures=missed,
            clock_s=self.clock.now(), wall_s=time.perf_counter() - self._wall_start,
            name=record_name, regions=self.regions, fault_kinds=kinds, disruption=disruption,
            policy=policy.name if entry is not None and policy is not None else None,
            policy_entry=entry.disruption if entry is not None else None, topology=self._assessment,
            runbook_rto_s=self._runbook_recovery(result),
        )
        record.id = stable_id(scenario, name) if name and scenario else self.test
        others = [r for r in self.records if r.result is not result]
        if any(r.id == record.id for r in others):
            record.id = f"{record.id}#{len(others) + 1}"
        self.records = others + [record]
        return record

    def _runbook_recovery(self, result: Result) -> float | None:
        """The last recovery time a runbook reported of itself (``runbook-recovery-time`` milestone)."""
        marks = [m for m in self.timeline.events if m.kind == "runbook-recovery-time" and m.t >= result.fault_t]
        return float(marks[-1].detail) if marks else None

    def _samples_of(self, result: Result) -> list[Sample]:
        """The ticks of the probe that produced ``result`` (the first ``result.samples`` of it)."""
        for probe in reversed(self._probes):
            ticks = probe.samples[: result.samples]
            if len(ticks) == result.samples and sum(1 for s in ticks if not s.ok) == result.failed_samples:
                return list(ticks)
        return []

    def verify_restores(self) -> list[RestoreResult]:
        """Check every restore a runbook recorded against the ledger (none before a topology is built)."""
        topology = self._topology
        if topology is None:
            return []
        if topology.restores:
            kinds = ", ".join(dict.fromkeys(str(r.get("kind", "restore")) for r in topology.restores))
            self._phase("restore checks", f"{len(topology.restores)} restore(s) against the ledger: {kinds}")
        results = []
        for record in topology.restores:
            result = verify_restore(topology, self.ledger, record)
            result.test = self.test
            results.append(result)
        self.restore_results.extend(results)
        return results

    # -- scenario items --------------------------------------------------------------------------
    def run_experiment(self, experiment: Experiment) -> ExperimentRecord:
        """Build, probe through steady state, inject, run the runbook, measure, check restores."""
        import copy

        from pytest_drtest.recovery import resolve_runbook

        scenario = self.scenario
        assert scenario is not None
        fault = copy.deepcopy(experiment.fault)
        self._probe_settings = experiment.probe
        topology = self.build([fault])
        self._assessment = assess_topology(topology)  # as built, before the fault
        runbook = resolve_runbook(experiment.runbook)
        prepare = getattr(runbook, "prepare", None)  # runbooks in AWS's formats set up before the steady state
        if prepare is not None:
            prepare(topology, self.clock, emulation=self.emulation)
        with self.probe() as probe:
            if experiment.probe.steady_interval > experiment.probe.interval:
                probe.thin(until=self.clock.now() + experiment.steady_state - DENSE_LEAD,
                           every=experiment.probe.steady_interval)
            self.clock.sleep(experiment.steady_state)
            self.inject(fault)
            runbook(topology, self.clock)
            probe.wait_recovered(within=experiment.probe.timeout)
            if experiment.failback:  # the fault ends (its own revert), the regions converge, then measure
                self.revert(fault)
                topology.note("failback", f"{fault.describe()} reverted")
                result = probe.wait_converged(within=experiment.probe.timeout)
            else:
                result = probe.result()
        self._recovered(result)
        restores = self.verify_restores()
        record = self._record(result, experiment.objectives, name=experiment.name)
        if experiment.failback and not any(m.kind == "converged" for m in result.milestones):
            raise AssertionError(f"{experiment.name}: after the failback the regions' tables did not agree on every "
                                 f"ledger key within {experiment.probe.timeout:.0f} s")
        bad = [r for r in restores if not r.passed]
        if not record.passed:
            assert_objectives(result, record.objectives)
        if bad:
            raise AssertionError("restore check failed: " + "; ".join(r.story() for r in bad))
        return record

    def run_restore_checks(self, checks: list[RestoreCheck]) -> list[RestoreResult]:
        """Run a scenario's restore checks on one topology (see :func:`restores.run_restore_checks`)."""
        from pytest_drtest.restores import run_restore_checks

        return run_restore_checks(self, checks)
