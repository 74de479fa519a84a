"""The harness of one test: backend, clock, emulation, topology, faults, probes, results.

Works without pytest (``with Harness(settings) as dr: ...``); the ``dr`` fixture is a thin layer
over it. ``close()`` always reverts faults (newest first), stops probes, tears down the topology
and stops the backend, also when the test failed or was interrupted.
"""
from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Self

import boto3
import botocore.waiter

from pytest_drtest.assessment import TopologyAssessment, assess_topology
from pytest_drtest.backends.base import Backend, ClientFactory, make_backend
from pytest_drtest.clock import Clock, PacedClock, RealClock, VirtualClock, WaiterTime
from pytest_drtest.durations import parse_duration
from pytest_drtest.errors import DrConfigError, DrError
from pytest_drtest.faults.base import Fault, FaultContext
from pytest_drtest.measure import Ledger, Result, Sample, Timeline
from pytest_drtest.objectives import Objectives, assert_objectives
from pytest_drtest.probes.probe import Probe
from pytest_drtest.profile import LatencyProfile
from pytest_drtest.regions import check_region_pair
from pytest_drtest.restores import RestoreResult, verify_restore
from pytest_drtest.settings import Settings
from pytest_drtest.strategies import Strategy, get_strategy
from pytest_drtest.topology.blueprint import Blueprint, WebSpec, load_blueprint
from pytest_drtest.topology.model import RegionStack, Topology

if TYPE_CHECKING:
    from pytest_drtest.emulation.core import Emulation
    from pytest_drtest.gateway.addresses import AddressPlan
    from pytest_drtest.gateway.web import WebTier
    from pytest_drtest.gateway.world import NetworkWorld
    from pytest_drtest.scenario import Experiment, ProbeSettings, RestoreCheck, Scenario


#: The last seconds of a scenario's steady state probed at the full interval (see Probe.thin).
DENSE_LEAD = 30.0


def assemble_emulation(clock: Clock, profile: LatencyProfile, backdoor: ClientFactory) -> Emulation:
    """The emulation hub with every service emulator."""
    from pytest_drtest.emulation.aurora import AuroraEmulator
    from pytest_drtest.emulation.backup import BackupEmulator
    from pytest_drtest.emulation.compute import install_compute
    from pytest_drtest.emulation.core import Emulation
    from pytest_drtest.emulation.dynamodb import DynamoDbEmulator
    from pytest_drtest.emulation.rds import RdsInstanceEmulator
    from pytest_drtest.emulation.rds_data import RdsDataEmulator
    from pytest_drtest.emulation.route53 import Route53Emulator
    from pytest_drtest.emulation.s3 import S3Emulator

    emulation = Emulation(clock, profile, backdoor)
    emulation.add(DynamoDbEmulator(emulation))
    emulation.add(S3Emulator(emulation))
    emulation.add(Route53Emulator(emulation))
    emulation.add(BackupEmulator(emulation))
    install_compute(emulation)
    emulation.add(RdsInstanceEmulator(emulation))
    emulation.add(AuroraEmulator(emulation))
    emulation.add(RdsDataEmulator(emulation))
    add_cache_emulators(emulation)
    return emulation


def add_cache_emulators(emulation: Emulation) -> None:
    """ElastiCache for Valkey / Redis OSS (on real Redis) and DAX (in front of the DynamoDB emulation)."""
    from pytest_drtest.emulation.dax import DaxEmulator
    from pytest_drtest.emulation.elasticache import ElastiCacheEmulator

    emulation.add(ElastiCacheEmulator(emulation))
    emulation.add(DaxEmulator(emulation))


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
        )


def stable_id(scenario: str, experiment: str) -> str:
    """The id of a scenario's experiment in every run, whatever the folder pytest runs in."""
    return f"{scenario}::{experiment}"


def test_name(nodeid: str) -> str:
    """``tests/test_x.py::TestA::test_b[1]`` -> ``TestA::test_b[1]``."""
    return nodeid.split("::", 1)[1] if "::" in nodeid else nodeid


class Harness:
    """Everything one DR test works with (the ``dr`` fixture)."""

    _assessment: TopologyAssessment | None = None  # set by run_experiment once the topology is built

    def __init__(
        self,
        settings: Settings,
        *,
        test: str = "",
        strategy: str | None = None,
        objectives: Objectives | None = None,
        scenario: Scenario | None = None,
        blueprint: str | Blueprint | None = None,
        regions: tuple[str, str] | None = None,
        web: WebSpec | None = None,
    ) -> None:
        self.settings = settings
        self.test = test
        self.scenario = scenario
        self.strategy: Strategy = get_strategy(strategy or (scenario.strategy.name if scenario else "warm-standby"))
        if regions is None:
            regions = (scenario.primary_region, scenario.dr_region) if scenario else settings.regions
        self.regions = check_region_pair(*regions, source="regions")
        if isinstance(blueprint, str):
            blueprint = load_blueprint(blueprint)
        self.blueprint: Blueprint = blueprint or (scenario.blueprint if scenario else load_blueprint("web-app"))
        self.web_spec: WebSpec | None = web or self.blueprint.web
        self.web: WebTier | None = None
        band = Objectives.parse(self.strategy.band_rto, self.strategy.band_rpo, source=f"{self.strategy.name} band")
        # the marker's (or caller's) values, else the scenario's, else the strategy's band
        base = scenario.objectives if scenario is not None else band
        self.objectives = base.merged(objectives) if objectives is not None else base
        self.profile = settings.build_profile(scenario.latency if scenario else None, scenario.source if scenario else "")
        self.backend: Backend = make_backend(settings.backend, {"endpoint": settings.endpoint, "aws_accounts": settings.aws_accounts})
        self.ledger = Ledger()
        self.timeline = Timeline()
        self.records: list[ExperimentRecord] = []
        self.restore_results: list[RestoreResult] = []
        self.fault_t: float | None = None
        self.clock: Clock
        self.emulation: Emulation | None = None
        self.addresses: AddressPlan | None = None
        self.network: NetworkWorld | None = None
        self.session: boto3.Session | None = None
        self.clients: ClientFactory | None = None
        self._topology: Topology | None = None
        self._faults: list[Fault] = []
        self._probes: list[Probe] = []
        self._saved_waiter_time: Any = None
        self._slot_claim: Any = None  # the socket holding the run's address slot
        self._probe_settings: ProbeSettings | None = scenario.probe if scenario else None
        self._started = False
        self._closed = False
        self._wall_start = 0.0

    # -- lifecycle -----------------------------------------------------------------------------
    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> Harness:
        """Start the backend, the clock and (on emulated backends) the emulation."""
        if self._started:
            return self
        self._started = True
        self._wall_start = time.perf_counter()
        self.backend.start()
        try:
            if not self.backend.emulated:
                self.clock = RealClock()
            elif self.settings.clock_mode == "paced":
                self.clock = PacedClock(self.settings.clock_speed, self.settings.clock_start)
            else:
                self.clock = VirtualClock(self.settings.clock_start)
            self.session = self.backend.new_session()
            self.clients = self.backend.factory(self.session)
            if self.backend.emulated:
                from pytest_drtest.gateway.addresses import AddressPlan, claim_slot

                backdoor = self.backend.factory(self.backend.new_session())
                self.emulation = assemble_emulation(self.clock, self.profile, backdoor)
                slot, self._slot_claim = claim_slot()
                self.addresses = AddressPlan(self.regions, slot)
                self.emulation.addresses = self.addresses
                self.emulation.install_session(self.session)
                boto3.DEFAULT_SESSION = self.backend.new_session()
                self.emulation.install_session(boto3.DEFAULT_SESSION)  # users' boto3.client(...) too
                if self.backend.serves_network:
                    from pytest_drtest.gateway.world import NetworkWorld

                    self.network = NetworkWorld(self.addresses, self.clients, self.emulation, primary=self.regions[0])
                    self.network.start()
            # botocore waiters sleep on the run's clock: virtual time on emulators; on aws real
            # time, during which the clock's scheduled work (probe ticks) keeps running
            self._saved_waiter_time = botocore.waiter.time
            botocore.waiter.time = WaiterTime(self.clock)  # type: ignore[assignment]
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        """Revert faults, stop probes, tear down the topology, stop the backend. Idempotent."""
        if self._closed or not self._started:
            return
        self._closed = True
        errors: list[str] = []
        for probe in self._probes:
            probe.close()
        errors.extend(self._revert_remaining())
        if self.emulation is not None:
            for region in list(self.emulation.world.lost_regions):
                self.emulation.world.restore_region(region)
            for az in list(self.emulation.world.lost_azs):
                self.emulation.world.restore_az(az)
        if self.network is not None:
            try:
                self.network.stop()
                self.network.raise_errors()
            except Exception as exc:  # noqa: BLE001
                errors.append(str(exc))
        with contextlib.suppress(Exception):
            self.clock.close()
        if self._topology is not None and self.settings.backend not in ("moto", "moto-server"):
            errors.extend(self.backend.clean_up(self._topology.cleanup))
        if self._saved_waiter_time is not None:
            botocore.waiter.time = self._saved_waiter_time  # type: ignore[assignment]
        if self.emulation is not None:
            self.emulation.close()
        with contextlib.suppress(Exception):
            boto3.DEFAULT_SESSION = None
        self.backend.stop()
        if self._slot_claim is not None:  # the addresses are free again: another run may take them
            self._slot_claim.close()
            self._slot_claim = None
        if errors:
            raise DrError("teardown incomplete: " + "; ".join(errors))

    # -- clients -------------------------------------------------------------------------------
    def client(self, service: str, region: str = "primary") -> Any:
        """A boto3 client of the users' session ("primary", "dr" or a region name)."""
        assert self.clients is not None, "the harness is not started"
        if region in ("primary", "dr"):
            region = self.regions[0] if region == "primary" else self.regions[1]
        return self.clients.client(service, region)

    def env(self, region: str = "primary") -> dict[str, str]:
        """Environment variables that point a child process at ``region`` ("primary", "dr" or a
        region name) of the emulated world: an AWS SDK and the AWS CLI (endpoints, region,
        credentials), psycopg (``PG*``), and ``DRTEST_*`` (the region's table, bucket and database,
        the DNS server). Needs ``--dr-backend=moto-server``; see docs/backends.md."""
        from pytest_drtest.gateway.service import topology_env

        if self.network is None:
            raise DrConfigError(
                "dr.env(): the emulated world is served to other processes only with --dr-backend=moto-server "
                f"(this run uses {self.settings.backend})"
            )
        name = self.regions[0] if region == "primary" else self.regions[1] if region == "dr" else region
        if name not in self.regions:
            raise DrConfigError(f"dr.env(): unknown region {region!r}; expected primary, dr, {', '.join(self.regions)}")
        env = self.network.aws_env(name)
        if self._topology is not None:
            env.update(topology_env(self._topology, name))
        return env

    def service_outputs(self) -> dict[str, str]:
        """The last lines printed by the team's service in each region (empty without ``[web]``)."""
        return self.web.outputs() if self.web is not None else {}

    # -- topology ------------------------------------------------------------------------------
    def plan(self) -> Topology:
        """The topology before anything is created (for validating faults)."""
        assert self.clients is not None, "the harness is not started"
        primary, dr = self.regions
        name = f"dr-{self.strategy.name}"[:24]
        return Topology(
            name=name, blueprint=self.blueprint, strategy=self.strategy, primary_region=primary, dr_region=dr,
            clients=self.clients, clock=self.clock, profile=self.profile, timeline=self.timeline,
            regions={primary: RegionStack(primary, "primary"), dr: RegionStack(dr, "dr")},
        )

    @property
    def topology(self) -> Topology:
        """The topology of the selected strategy, built (and ready) on first use."""
        if self._topology is None:
            self.build()
        assert self._topology is not None
        return self._topology

    def build(self, faults: list[Fault] | None = None) -> Topology:
        """Validate ``faults`` against the plan, then build the topology and wait until it serves."""
        from pytest_drtest.topology.build import build, build_database, seed

        self.start()
        if not self.backend.emulated:
            raise DrConfigError(
                "the shipped topologies are built on emulated backends only; on aws, test your own "
                "infrastructure: dr.client(...), dr.clock, your runbooks, and dr.probe(path=YourAppPath())"
            )
        planned = self.plan()
        for fault in faults or []:
            fault.validate(planned)
        if self.web_spec is not None and self.network is None:
            raise DrConfigError(
                f"{self.web_spec.source or '@pytest.mark.dr'}: [web] runs your service as the web tier of the emulated "
                "world on the network: use --dr-backend=moto-server"
            )
        self._topology = planned
        if self.network is not None:
            from pytest_drtest.gateway.web import WebTier

            self.web = WebTier(self.network, planned, self.web_spec, self.env, self.network.folder).start()
            self.network.on_stop(self.web.stop)
        build(planned)
        build_database(planned)
        self.wait_ready()
        put = None
        if self.web is not None and self.web_spec is not None:
            self.web.start_services()
            path = self._app_path(planned, None)
            put = path.put
        seed(planned, self.ledger, put)
        if isinstance(self.clock, PacedClock):
            self.clock.pace()  # building took no wall time; from here modeled time passes with it
        return planned

    def wait_ready(self, timeout: float | str = "30m") -> None:
        """Wait (polling, on the clock) until every ASG has its desired instances InService."""
        from pytest_drtest.recovery.steps import poll

        topology = self._topology
        assert topology is not None
        for stack in topology.regions.values():
            if not stack.asg_name or stack.capacity == 0:
                continue
            asg = self.client("autoscaling", stack.region)

            def ready(stack: RegionStack = stack, asg: Any = asg) -> bool:
                group = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[stack.asg_name])["AutoScalingGroups"][0]
                return sum(1 for i in group["Instances"] if i["LifecycleState"] == "InService") >= stack.capacity

            poll(self.clock, ready, every=15, timeout=parse_duration(timeout), what=f"{stack.asg_name} InService")
        topology.note("ready")

    # -- faults, probes, objectives --------------------------------------------------------------
    def inject(self, fault: Fault) -> Fault:
        """Check ``fault`` against what exists and inject it now; returns it.

        It names a logical resource of the built topology or any physical one (the team's own,
        made with :meth:`client`); nothing is built here. It is reverted by :meth:`revert`, at the
        end of ``with dr.inject(fault):``, or at teardown (newest first) whatever happens."""
        self.start()
        if any(f is fault for f in self._faults):
            raise DrConfigError(f"dr.inject: {fault.describe()} is already injected in this test; make a new fault")
        ctx = self._fault_context()
        fault.check(ctx)
        fault.injected_at = self.clock.now()
        fault.bind(self)
        self._faults.append(fault)
        if self._topology is not None:
            self._topology.faults.append(fault)
        fault.inject(ctx)
        if self.fault_t is None:
            self.fault_t = fault.injected_at
        self.timeline.add(fault.injected_at, "fault", fault.describe())
        return fault

    def revert(self, fault: Fault) -> Fault:
        """Revert an injected fault now (milestone ``fault-reverted``), e.g. to measure failback."""
        if not any(f is fault for f in self._faults):
            raise DrConfigError(f"dr.revert: {fault.describe()} was never injected in this test (dr.inject(...) first)")
        if fault.reverted_at is not None:
            raise DrConfigError(
                f"dr.revert: {fault.describe()} is already reverted (at clock {fault.reverted_at:.1f} s)"
            )
        fault.revert(self._fault_context())
        fault.reverted_at = self.clock.now()
        self.timeline.add(fault.reverted_at, "fault-reverted", fault.describe())
        return fault

    @property
    def active_faults(self) -> list[Fault]:
        """Injected faults not reverted yet, oldest first."""
        return [f for f in self._faults if f.reverted_at is None]

    def _fault_context(self) -> FaultContext:
        assert self.clients is not None, "the harness is not started"
        return FaultContext(self._topology, self.emulation.world if self.emulation else None, clients=self.clients,
                            regions=self.regions, blueprint=self.blueprint)

    def _revert_remaining(self) -> list[str]:
        """Teardown: revert every fault still active, newest first; the errors, not raised."""
        errors: list[str] = []
        for fault in reversed(self.active_faults):
            try:
                self.revert(fault)
            except Exception as exc:  # noqa: BLE001 - teardown goes on
                errors.append(f"reverting {fault.describe()}: {exc}")
        return errors

    def mark_fault(self, what: str) -> float:
        """Record that a fault injected outside the harness (AWS FIS, your own tooling) happens now;
        the probes measure RTO and RPO from this time. Returns the clock time."""
        now = self.clock.now()
        if self.fault_t is None:
            self.fault_t = now
        self.timeline.add(now, "fault", what)
        return now

    def probe(
        self,
        *,
        interval: float | str | None = None,
        consecutive: int | None = None,
        client_region: str | None = None,
        path: Any = None,
        keys: int | None = None,
    ) -> Probe:
        """A probe through the application's path (use as a context manager).

        ``path`` replaces the built-in path (DNS -> ALB -> table -> database) with your own
        object of the same protocol: ``put(key, payload) -> region``, ``get(key) -> (region,
        payload)``, ``read_all(keys) -> (region, {key: payload})``, ``close()``; raise
        :class:`~pytest_drtest.probes.AppUnavailable` when a request fails. ``keys=N``: the ticks
        update N items in turn instead of writing a new one each (conflicts need items written twice).
        """
        if path is not None and self._topology is None:
            return self._probe_with(path, interval, consecutive, None, keys)
        topology = self.topology
        return self._probe_with(path or self._app_path(topology, client_region), interval, consecutive, topology, keys)

    def _reach(self) -> Any:
        from pytest_drtest.gateway.inprocess import InProcessReach

        return InProcessReach(self.emulation) if self.emulation is not None else None

    def _app_path(self, topology: Topology, client_region: str | None) -> Any:
        """The built-in application path: over the network when the world is served, else in-process."""
        if self.network is not None:
            from pytest_drtest.probes.http import HttpAppPath

            return HttpAppPath(topology, self.network.dns_address, client_region=client_region,
                               region_of=self.network.plan.region_of, lock=self.clock.lock,
                               web_port=self.web.port if self.web is not None else 80, subnet_of=self.network.plan.gateway)
        from pytest_drtest.probes.app import AppPath

        return AppPath(topology, self._reach(), client_region)

    def _lww_losers(self, topology: Topology) -> list[tuple[str, str | None]]:
        """``(key, payload)`` of the probe table's writes discarded by last writer wins."""
        from pytest_drtest.emulation.dynamodb import DynamoDbEmulator

        assert self.emulation is not None
        table = topology.primary.tables.get(topology.probe_table)
        hash_key = topology.blueprint.table(topology.probe_table).hash_key
        losers = self.emulation.find(DynamoDbEmulator).conflicts(table) if table else []
        return [(str(c["key"][hash_key]["S"]), (c["item"] or {}).get("payload", {}).get("S")) for c in losers]

    def _replicating(self, topology: Topology) -> int:
        """Replicated writes of the probe table not yet applied (in flight or held)."""
        from pytest_drtest.emulation.dynamodb import DynamoDbEmulator

        assert self.emulation is not None
        table = topology.primary.tables.get(topology.probe_table)
        return self.emulation.find(DynamoDbEmulator).pending_replication(table) if table else 0

    def _probe_with(self, path: Any, interval: Any, consecutive: Any, topology: Topology | None,
                    keys: int | None = None) -> Probe:
        settings = self._probe_settings
        probe = Probe(
            self.clock, self.ledger, self.timeline, path=path, topology=topology,
            interval=interval if interval is not None else (settings.interval if settings else 1.0),
            consecutive=consecutive if consecutive is not None else (settings.consecutive if settings else 3),
            fault_time=lambda: self.fault_t, faults=lambda: list(self._faults), modeled=self.clock.modeled,
            prefix="probe" if not self._probes else f"probe{len(self._probes) + 1}",
            health_transitions=self._reach().health_transitions if self.emulation is not None else None,
            keys=keys if keys is not None else (settings.keys if settings else None),
            conflicts=(lambda: self._lww_losers(topology)) if topology is not None and self.emulation is not None else None,
            in_flight=(lambda: self._replicating(topology)) if topology is not None and self.emulation is not None else None,
        )
        if isinstance(self.clock, PacedClock):
            self.clock.pace()
        self._probes.append(probe)
        return probe

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
        )
        record.id = stable_id(scenario, name) if name and scenario else self.test
        others = [r for r in self.records if r.result is not result]
        if any(r.id == record.id for r in others):
            record.id = f"{record.id}#{len(others) + 1}"
        self.records = others + [record]
        return record

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
        with self.probe() as probe:
            if experiment.probe.steady_interval > experiment.probe.interval:
                probe.thin(until=self.clock.now() + experiment.steady_state - DENSE_LEAD,
                           every=experiment.probe.steady_interval)
            self.clock.sleep(experiment.steady_state)
            self.inject(fault)
            runbook(topology, self.clock)
            probe.wait_recovered(within=experiment.probe.timeout)
            if experiment.failback:  # the fault ends (its own revert), the regions converge, then measure
                fault.revert(FaultContext(topology, self.emulation.world if self.emulation else None))
                topology.note("failback", f"{fault.describe()} reverted")
                result = probe.wait_converged(within=experiment.probe.timeout)
            else:
                result = probe.result()
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
