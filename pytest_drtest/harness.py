"""The harness of one test: backend, clock, emulation, topology, faults, probes, results.

Works without pytest (``with Harness(settings) as dr: ...``); the ``dr`` fixture is a thin layer
over it. ``start()`` puts the undo of each step on one exit stack; ``close()`` unwinds it: probes
closed, faults reverted (newest first), the topology torn down, patched globals restored, the
network world, the emulation, the clock and the backend stopped — every step, also when an earlier
one raises or the test failed or was interrupted; then one :class:`DrError` lists what failed.
"""
from __future__ import annotations

import contextlib
import time
from functools import partial
from typing import TYPE_CHECKING, Any, Self

import boto3
import botocore.waiter

from pytest_drtest.backends.base import Backend, ClientFactory, make_backend
from pytest_drtest.clock import Clock, PacedClock, RealClock, VirtualClock, WaiterTime
from pytest_drtest.durations import format_duration, parse_duration
from pytest_drtest.errors import DrConfigError, DrError
from pytest_drtest.experiments import ExperimentRecord, ExperimentRunner
from pytest_drtest.fault_injection import FaultInjection
from pytest_drtest.faults.base import Fault
from pytest_drtest.gc_tuning import apply as apply_gc_tuning
from pytest_drtest.measure import Ledger, Timeline
from pytest_drtest.objectives import Objectives
from pytest_drtest.probes.probe import Probe
from pytest_drtest.probes.wiring import (
    answered_stale,
    app_path,
    dax_connect,
    lww_losers,
    publish_error_rate,
    reach_of,
    replicating,
    stale_reads,
)
from pytest_drtest.profile import LatencyProfile
from pytest_drtest.progress import PhaseTracker
from pytest_drtest.regions import check_region_pair
from pytest_drtest.restores import RestoreResult
from pytest_drtest.settings import Settings
from pytest_drtest.sink import ErrorSink
from pytest_drtest.strategies import Strategy, get_strategy
from pytest_drtest.topology.blueprint import (
    Blueprint,
    WebSpec,
    is_shipped_topology,
    load_blueprint,
)
from pytest_drtest.topology.model import RegionStack, Topology, new_run_id

if TYPE_CHECKING:
    from pytest_drtest.emulation.core import Emulation
    from pytest_drtest.gateway.addresses import AddressPlan
    from pytest_drtest.gateway.web import WebTier
    from pytest_drtest.gateway.world import NetworkWorld
    from pytest_drtest.scenario import ProbeSettings, Scenario


def assemble_emulation(clock: Clock, profile: LatencyProfile, backdoor: ClientFactory) -> Emulation:
    """The emulation hub with every service emulator."""
    from pytest_drtest.emulation.arc_region_switch import ArcRegionSwitchEmulator
    from pytest_drtest.emulation.aurora import AuroraEmulator
    from pytest_drtest.emulation.aurora_serverless import AuroraServerlessEmulator
    from pytest_drtest.emulation.backup import BackupEmulator
    from pytest_drtest.emulation.cloudfront import CloudFrontEmulator
    from pytest_drtest.emulation.cloudwatch import CloudWatchEmulator
    from pytest_drtest.emulation.compute import install_compute
    from pytest_drtest.emulation.core import Emulation
    from pytest_drtest.emulation.dlm import install_dlm
    from pytest_drtest.emulation.docdb import DocDbEmulator
    from pytest_drtest.emulation.dynamodb import DynamoDbEmulator
    from pytest_drtest.emulation.fis import FisEmulator
    from pytest_drtest.emulation.rds import RdsInstanceEmulator
    from pytest_drtest.emulation.rds_data import RdsDataEmulator
    from pytest_drtest.emulation.route53 import Route53Emulator
    from pytest_drtest.emulation.s3 import S3Emulator
    from pytest_drtest.emulation.ssm import SsmEmulator

    emulation = Emulation(clock, profile, backdoor)
    emulation.add(DynamoDbEmulator(emulation))
    emulation.add(S3Emulator(emulation))
    emulation.add(Route53Emulator(emulation))
    emulation.add(BackupEmulator(emulation))
    install_compute(emulation)
    emulation.add(RdsInstanceEmulator(emulation))
    emulation.add(AuroraEmulator(emulation))
    emulation.add(RdsDataEmulator(emulation))
    emulation.add(CloudWatchEmulator(emulation))
    emulation.add(SsmEmulator(emulation))
    emulation.add(FisEmulator(emulation))
    emulation.add(ArcRegionSwitchEmulator(emulation))
    add_cache_emulators(emulation)
    emulation.add(DocDbEmulator(emulation))
    serverless = AuroraServerlessEmulator(emulation)
    emulation.add(serverless)
    emulation.add(serverless.data_api_gate, first=True)  # before the Data API emulator: paused clusters resume
    emulation.add(CloudFrontEmulator(emulation))
    install_dlm(emulation)
    return emulation


def add_cache_emulators(emulation: Emulation) -> None:
    """ElastiCache for Valkey / Redis OSS (on real Redis) and DAX (in front of the DynamoDB emulation)."""
    from pytest_drtest.emulation.dax import DaxEmulator
    from pytest_drtest.emulation.elasticache import ElastiCacheEmulator

    emulation.add(ElastiCacheEmulator(emulation))
    emulation.add(DaxEmulator(emulation))


class Harness(FaultInjection, ExperimentRunner):
    """Everything one DR test works with (the ``dr`` fixture)."""

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
        apply_gc_tuning(settings.gc)
        self.test = test
        self.scenario = scenario
        self.strategy: Strategy = get_strategy(strategy or (scenario.strategy.name if scenario else "warm-standby"))
        if regions is None:
            regions = (scenario.primary_region, scenario.dr_region) if scenario else settings.regions
        self.regions = check_region_pair(*regions, source="regions")
        if isinstance(blueprint, str):
            blueprint = load_blueprint(blueprint)
        self.blueprint: Blueprint = blueprint or (scenario.blueprint if scenario else load_blueprint("web-app"))
        if self.blueprint.stack is not None:
            from pytest_drtest.stacks.topology import check_strategy

            check_strategy(self.blueprint, self.strategy.name, scenario.source if scenario else "")
        self.web_spec: WebSpec | None = web or self.blueprint.web
        self.web: WebTier | None = None
        band = Objectives.parse(self.strategy.band_rto, self.strategy.band_rpo, source=f"{self.strategy.name} band")
        # the marker's (or caller's) values, else the scenario's, else the strategy's band
        base = scenario.objectives if scenario is not None else band
        self.objectives = base.merged(objectives) if objectives is not None else base
        self.profile = settings.build_profile(scenario.latency if scenario else None, scenario.source if scenario else "")
        self.backend: Backend = make_backend(settings.backend, {"endpoint": settings.endpoint, "aws_accounts": settings.aws_accounts,
                                                                "aws_fis_role": settings.aws_fis_role})
        self.run_id = new_run_id()  # tagged drtest:run on what the run creates
        self._fis: Any = None  # on aws: the FIS injector of the run (its stop alarm and templates)
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
        self._probe_metrics: list[Any] = []  # CloudWatch publishers of the probes' error rate
        self._undo = contextlib.ExitStack()  # the undo of every step start() took, unwound by close()
        self._teardown_failures: list[tuple[str, BaseException | None]] = []
        self._tracker: PhaseTracker | None = None
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
        """Start the backend, the clock and (on emulated backends) the emulation and network world.

        Each step's undo goes on the harness's exit stack as the step succeeds: a start that fails
        half-way undoes what it did, and :meth:`close` undoes everything.
        """
        if self._started:
            return self
        self._started = True
        self._wall_start = time.perf_counter()
        undo = self._undo
        try:
            undo.callback(self._undo_step, "stopping the backend", self.backend.stop)
            self.backend.start()
            if not self.backend.emulated:
                self.clock = RealClock()
            elif self.settings.clock_mode == "paced":
                self.clock = PacedClock(self.settings.clock_speed, self.settings.clock_start)
            else:
                self.clock = VirtualClock(self.settings.clock_start)
            undo.callback(self._undo_background_errors)  # after everything that runs threads has stopped
            undo.callback(self._undo_step, "stopping the clock", self.clock.close)
            # errors of the world's threads: the data plane's proxies log them, others escape the thread
            undo.enter_context(self.clock.errors.capturing_logs("pytest_drtest.dataplane"))
            undo.enter_context(self.clock.errors.capturing_threads())
            self.session = self.backend.new_session()
            self.clients = self.backend.factory(self.session)
            if self.backend.emulated:
                from pytest_drtest.gateway.addresses import AddressPlan, claim_slot

                backdoor = self.backend.factory(self.backend.new_session())
                self.emulation = emulation = assemble_emulation(self.clock, self.profile, backdoor)
                undo.callback(self._undo_step, "closing the emulation", emulation.close)
                slot, claim = claim_slot()
                undo.callback(claim.close)  # last of all: the addresses are free again for another run
                self.addresses = AddressPlan(self.regions, slot)
                emulation.addresses = self.addresses
                emulation.install_session(self.session)
                undo.callback(self._undo_step, "restoring boto3.DEFAULT_SESSION", setattr, boto3, "DEFAULT_SESSION",
                              boto3.DEFAULT_SESSION)
                boto3.DEFAULT_SESSION = self.backend.new_session()
                emulation.install_session(boto3.DEFAULT_SESSION)  # users' boto3.client(...) too
                from pytest_drtest.restore_tests import watch_restore_tests

                unwatch = watch_restore_tests(self)  # AWS Backup restore tests validated against the ledger
                if unwatch is not None:
                    undo.callback(unwatch)
                if self.backend.serves_network:
                    from pytest_drtest.gateway.world import NetworkWorld

                    self.network = network = NetworkWorld(self.addresses, self.clients, emulation, primary=self.regions[0])
                    undo.callback(self._undo_step, "stopping the network world", network.stop)
                    network.start()
            # botocore waiters sleep on the run's clock: virtual time on emulators; on aws real
            # time, during which the clock's scheduled work (probe ticks) keeps running
            undo.callback(self._undo_step, "restoring botocore.waiter.time", setattr, botocore.waiter, "time",
                          botocore.waiter.time)
            botocore.waiter.time = WaiterTime(self.clock)  # type: ignore[assignment,unused-ignore]
            # what the test does from here on, undone first (newest first)
            undo.callback(self._undo_topology)
            undo.callback(self._undo_world)
            undo.callback(self._undo_faults)
            undo.callback(self._undo_probes)
            if self._tracker is not None:
                self._watch_probes()
        except BaseException as exc:
            try:
                self.close()
            except Exception as also:  # noqa: BLE001 - the start's own error is the one to see
                exc.add_note(f"and undoing the start: {also}")
            raise
        return self

    def close(self) -> None:
        """Unwind the exit stack: every undo step runs even when an earlier one raises; then one
        :class:`DrError` lists the steps that failed. Idempotent."""
        if self._closed or not self._started:
            return
        self._closed = True
        self._teardown_failures = []
        self._undo.close()  # a KeyboardInterrupt in a step still lets the later steps run, then propagates
        failures, self._teardown_failures = self._teardown_failures, []
        if failures:
            listing = "; ".join(what for what, _ in failures)
            first = next((exc for _, exc in failures if exc is not None), None)
            raise DrError(f"teardown incomplete ({len(failures)} step{'s' if len(failures) > 1 else ''} failed): "
                          f"{listing}") from first

    # -- undo steps (close() runs them newest first) ----------------------------------------------------
    def _undo_step(self, what: str, fn: Any, *args: Any) -> None:
        try:
            fn(*args)
        except Exception as exc:  # noqa: BLE001 - listed by close(), after every other step ran
            self._teardown_failures.append((f"{what}: {type(exc).__name__}: {exc}", exc))

    def _undo_probes(self) -> None:
        for probe in self._probes:
            self._undo_step("closing a probe", probe.close)
        for metrics in self._probe_metrics:
            self._undo_step("stopping a probe's CloudWatch metrics", metrics.stop)

    def _undo_faults(self) -> None:
        """Revert every fault still active (not reverted by the test), newest first."""
        for fault in reversed(self.active_faults):
            self._undo_step(f"reverting {fault.describe()}", self.revert, fault)

    def _undo_world(self) -> None:
        """Bring back the regions and AZs a fault took away (whatever reverted or not)."""
        if self.emulation is None:
            return
        world = self.emulation.world
        for region in list(world.lost_regions):
            self._undo_step(f"restoring region {region}", world.restore_region, region)
        for az in list(world.lost_azs):
            self._undo_step(f"restoring AZ {az}", world.restore_az, az)

    def _undo_topology(self) -> None:
        """Delete what the topology created (moto drops it with the backend); on aws, everything
        tagged with the run's id, whether the test built it or tagged its own with :attr:`run_tags`."""
        sweep = getattr(self.backend, "sweep", None)
        if sweep is not None and self.clients is not None:
            if self._topology is not None:
                self._topology.cleanup.steps.clear()  # found by tag instead, in dependency order
            for left in sweep(self.clients, self.regions, self.run_id, sleep=self.clock.sleep):
                self._teardown_failures.append((f"not deleted: {left}", None))
            return
        if self._topology is None or self.settings.backend in ("moto", "moto-server"):
            return
        for problem in self.backend.clean_up(self._topology.cleanup):
            self._teardown_failures.append((problem, None))

    def _undo_background_errors(self) -> None:
        for reported in self.clock.errors.take():
            self._teardown_failures.append((f"background thread {reported.describe()}", reported.error))

    @property
    def background_errors(self) -> ErrorSink | None:
        """The run's error sink (what the world's background threads raised), once started."""
        return self.clock.errors if self._started and hasattr(self, "clock") else None

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
            regions={primary: RegionStack(primary, "primary"), dr: RegionStack(dr, "dr")}, run_id=self.run_id,
            tag_restores=not self.backend.emulated,
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
        if not self.backend.emulated and is_shipped_topology(self.blueprint):
            raise DrConfigError(
                "the shipped topologies are built on emulated backends only (their web tier's application exists only "
                "in the emulation); on aws, deploy your own CloudFormation stack (blueprint = \"stack.yaml\", your "
                "service behind its web record) or test your own infrastructure: dr.client(...), dr.clock, your "
                "runbooks, and dr.probe(path=YourAppPath())"
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
        if self.emulation is not None:
            planned.dax_connect = dax_connect(self, planned)
        self._phase("building", f"{self.strategy.name} topology in {planned.primary_region} + {planned.dr_region}")
        if self.network is not None:
            from pytest_drtest.gateway.web import WebTier

            self.web = WebTier(self.network, planned, self.web_spec, self.env, self.network.folder).start()
            self.network.on_stop(self.web.stop)
        if self.blueprint.stack is not None and not self.backend.emulated:  # the team's stack, by CloudFormation
            from pytest_drtest.stacks.account import deploy_on_account

            deploy_on_account(planned)
        elif self.blueprint.stack is not None:  # a CloudFormation template (pytest_drtest/stacks/)
            from pytest_drtest.stacks.topology import deploy_stack

            deploy_stack(planned)
        else:
            build(planned, self.ledger if self.web_spec is None else None)  # seeds before replicas
            build_database(planned)
        self.wait_ready()
        put = None
        if self.web is not None and self.web_spec is not None:
            self.web.start_services()
            path = app_path(self, planned, None)
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

    # -- probes, objectives --------------------------------------------------------------

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
        return self._probe_with(path or app_path(self, topology, client_region), interval, consecutive, topology, keys)

    def _probe_with(self, path: Any, interval: Any, consecutive: Any, topology: Topology | None,
                    keys: int | None = None) -> Probe:
        settings = self._probe_settings
        prefix = "probe" if not self._probes else f"probe{len(self._probes) + 1}"
        built = topology if self.emulation is not None else None  # the emulation's records of it
        probe = Probe(
            self.clock, self.ledger, self.timeline, path=path, topology=topology,
            interval=interval if interval is not None else (settings.interval if settings else 1.0),
            consecutive=consecutive if consecutive is not None else (settings.consecutive if settings else 3),
            fault_time=lambda: self.fault_t, faults=lambda: list(self._faults), modeled=self.clock.modeled,
            prefix=prefix,
            health_transitions=reach_of(self).health_transitions if self.emulation is not None else None,
            keys=keys if keys is not None else (settings.keys if settings else None),
            conflicts=partial(lww_losers, self, built) if built is not None else None,
            in_flight=partial(replicating, self, built) if built is not None else None,
            stale_reads=partial(stale_reads, self, built, prefix) if built is not None else None,
            answered_stale=partial(answered_stale, self, built) if built is not None else None,
        )
        if isinstance(self.clock, PacedClock):
            self.clock.pace()
        if not self._probes:
            self._phase("steady state", f"probing every {format_duration(probe.interval)}")
        self._probes.append(probe)
        metrics = publish_error_rate(self, probe)
        if metrics is not None:
            self._probe_metrics.append(metrics)
        return probe
