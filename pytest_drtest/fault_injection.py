"""Injecting and reverting faults (mixed into the harness): checked against what exists, recorded
on the timeline, reverted at teardown; on a real account through AWS FIS experiments or the API
calls :mod:`pytest_drtest.backends.aws_faults` plans (docs/faults.md, docs/backends.md)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pytest_drtest.errors import DrConfigError
from pytest_drtest.faults.base import Fault, FaultContext

if TYPE_CHECKING:
    from pytest_drtest.backends.base import Backend, ClientFactory
    from pytest_drtest.clock import Clock
    from pytest_drtest.emulation.core import Emulation
    from pytest_drtest.measure import Timeline
    from pytest_drtest.topology.blueprint import Blueprint
    from pytest_drtest.topology.model import Topology


class FaultInjection:
    """``dr.inject``, ``dr.revert``, ``dr.mark_fault`` and the faults of a run on aws."""

    if TYPE_CHECKING:  # the harness's state and steps these methods work with
        backend: Backend
        blueprint: Blueprint
        clients: ClientFactory | None
        clock: Clock
        emulation: Emulation | None
        regions: tuple[str, str]
        run_id: str
        timeline: Timeline
        fault_t: float | None
        _fis: Any
        _faults: list[Fault]
        _topology: Topology | None

        def start(self) -> Any: ...
        def client(self, service: str, region: str = "primary") -> Any: ...

    def inject(self, fault: Fault) -> Fault:
        """Check ``fault`` against what exists and inject it now; returns it.

        It names a logical resource of the built topology or any physical one (the team's own,
        made with :meth:`client`); nothing is built here. It is reverted by :meth:`revert`, at the
        end of ``with dr.inject(fault):``, or at teardown (newest first) whatever happens."""
        self.start()
        if any(f is fault for f in self._faults):
            raise DrConfigError(f"dr.inject: {fault.describe()} is already injected in this test; make a new fault")
        ctx = self._fault_context()
        on_aws = None if self.backend.emulated else self._aws_injection(fault, ctx)
        if on_aws is None:
            fault.check(ctx)
        fault.injected_at = self.clock.now()
        fault.bind(self)
        self._faults.append(fault)
        if self._topology is not None:
            self._topology.faults.append(fault)
        if on_aws is not None and on_aws.template is not None:
            fault.record["fis"] = self._fis_injector().start(on_aws)
            self.timeline.add(self.clock.now(), "fis-experiment-started", f"{fault.record['fis']['experiment']}: {on_aws.detail}")
        else:
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
        if "fis" in fault.record and not self.backend.emulated:
            self._fis_injector().stop(fault.record["fis"])
        else:
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

    @property
    def run_tags(self) -> list[dict[str, str]]:
        """``[{"Key": "drtest:run", "Value": <run id>}]``: on aws, teardown deletes every resource tagged so."""
        from pytest_drtest.topology.build import RUN_TAG

        return [{"Key": RUN_TAG, "Value": self.run_id}]

    def _aws_run(self) -> Any:
        from pytest_drtest.backends.aws_faults import RunContext, alarm_name

        account = str(getattr(self.backend, "account", "") or "")
        role = str(getattr(self.backend, "fis_role", "") or "")
        return RunContext(self.run_id, self.regions[0], self.regions[1], account, role, alarm_name(self.run_id))

    def _aws_injection(self, fault: Fault, ctx: FaultContext) -> Any:
        """How ``fault`` goes in on aws (checked with read calls); a :class:`DrConfigError` when it cannot."""
        from pytest_drtest.backends.aws_faults import API, FIS, REFUSED, injection_for

        if fault.data_fault or fault.kind == "reboot-database":
            fault.check(ctx)  # Describe*/List* calls: the target exists
        target = getattr(fault, "_target", None)
        if fault.kind == "reboot-database" and target and target.get("kind") == "cluster" and not getattr(fault, "failover", True):
            rds = ctx.client("rds", target["region"])
            members = rds.describe_db_clusters(DBClusterIdentifier=target["id"])["DBClusters"][0]["DBClusterMembers"]
            target["writer"] = next(m["DBInstanceIdentifier"] for m in members if m["IsClusterWriter"])
        if fault.kind == "az-outage" and not str(getattr(fault, "az", "")).endswith(":database"):
            self._check_az_on_aws(str(getattr(fault, "az", "")))
        injection = injection_for(fault, self._aws_run(), self._topology)
        if injection.how == REFUSED:
            raise DrConfigError(f"{fault.describe()} cannot be injected on aws: {injection.detail}")
        if injection.how == FIS:
            if injection.template is None:
                raise DrConfigError(f"{fault.describe()}: on aws name the AZ (e.g. 'primary:b' or "
                                    f"'{self.regions[0]}b'); the database's AZ is known only with the shipped topology")
            if not getattr(self.backend, "fis_role", None):
                raise DrConfigError(f"{fault.describe()} runs as an AWS FIS experiment on aws, which needs the IAM role it "
                                    "runs as: give --dr-aws-fis-role=arn:aws:iam::ACCOUNT:role/NAME (ini dr_aws_fis_role)")
        return injection if injection.how in (API, FIS) else None

    def _check_az_on_aws(self, az: str) -> None:
        """The AZ of an ``az-outage`` is one ``DescribeAvailabilityZones`` lists in its region."""
        run = self._aws_run()
        name = f"{run.region(az.split(':', 1)[0])}{az.split(':', 1)[1]}" if ":" in az else az
        region = name.rstrip("abcdefghijklmnopqrstuvwxyz")
        if region not in self.regions:
            raise DrConfigError(f"az-outage({az}): {name!r} is not an AZ of the run's regions ({', '.join(self.regions)})")
        zones = [z["ZoneName"] for z in self.client("ec2", region).describe_availability_zones()["AvailabilityZones"]]
        if name not in zones:
            raise DrConfigError(f"az-outage({az}): unknown AZ {name!r}; {region} has {', '.join(zones)}")

    def _fis_injector(self) -> Any:
        from pytest_drtest.backends.aws_faults import FisInjector

        if self._fis is None:
            self._fis = FisInjector(self.clients, self._aws_run())
        return self._fis

    def mark_fault(self, what: str) -> float:
        """Record that a fault injected outside the harness (AWS FIS, your own tooling) happens now;
        the probes measure RTO and RPO from this time. Returns the clock time."""
        now = self.clock.now()
        if self.fault_t is None:
            self.fault_t = now
        self.timeline.add(now, "fault", what)
        return now
