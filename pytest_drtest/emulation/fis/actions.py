"""What each FIS action does to the emulated world, and how it is undone at its end.

Actions act through the services' APIs (hooked clients: the RDS emulator fails a database over,
the compute model replaces a stopped instance) or through the world's faults
(:class:`~pytest_drtest.emulation.core.World`), as documented per action in docs/fis.md:

- ``aws:network:disrupt-connectivity`` (``scope`` ``all`` or ``availability-zone``): the world's
  smallest network unit is an AZ (each topology VPC has one subnet per AZ), so the AZs of the
  target subnets are lost for ``duration``; other scopes are not modeled.
- ``aws:network:route-table-disrupt-cross-region-connectivity`` and
  ``aws:network:transit-gateway-disrupt-cross-region-connectivity``: the application's traffic
  from the experiment's region to ``region`` is cut (``world.is_paused("network",
  "<from>><to>")``); managed replication (DynamoDB, S3, RDS, Aurora) travels on AWS's network and
  is not affected ([FIS-UG:cross-region-scenario]) — FIS pauses it with its own actions.
- ``aws:dynamodb:global-table-pause-replication``, ``aws:s3:bucket-pause-replication``: the
  world's ``pause`` of the table or bucket for ``duration``.
"""
from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from typing import Any

import botocore.exceptions

from pytest_drtest.durations import parse_iso_duration
from pytest_drtest.emulation.core import ServiceEmulator
from pytest_drtest.emulation.fis.models import (
    CONFIGURATION_FAILURE,
    DEPENDENT_SERVICE_FAILURE,
    ActionRun,
    Experiment,
    ResolvedResource,
)
from pytest_drtest.emulation.principal import ServicePrincipal


class ActionFailed(Exception):
    """An action could not do its work: the experiment fails with ``code`` and ``reason``."""

    def __init__(self, reason: str, code: str = DEPENDENT_SERVICE_FAILURE) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


Runner = Callable[[Experiment, ActionRun], "float | None"]


def _error(exc: botocore.exceptions.ClientError) -> str:
    err = exc.response.get("Error", {})
    return f"{err.get('Code')}: {err.get('Message')}"


class FisActions(ServiceEmulator):
    """The runners of the modeled actions; each returns its duration (None: done at once)."""

    service = "fis"

    def _setup_actions(self) -> None:
        self.api = ServicePrincipal(self.emulation)
        self._holds: Counter[tuple[str, str, str]] = Counter()  # world faults FIS holds: (kind, a, b)
        self._taken: set[tuple[str, str, str]] = set()  # ... of which FIS caused (not there before)
        self.autoshifts: list[dict[str, Any]] = []  # zonal autoshifts FIS started (ARC practice runs)

    def runner(self, action_id: str) -> Runner | None:
        return {
            "aws:fis:wait": self._wait,
            "aws:ec2:stop-instances": self._stop_instances,
            "aws:ec2:terminate-instances": self._terminate_instances,
            "aws:ec2:asg-insufficient-instance-capacity-error": self._asg_ice,
            "aws:rds:reboot-db-instances": self._reboot_db,
            "aws:rds:failover-db-cluster": self._failover_cluster,
            "aws:dynamodb:global-table-pause-replication": self._pause("dynamodb", "Tables"),
            "aws:s3:bucket-pause-replication": self._pause("s3", "Buckets"),
            "aws:network:disrupt-connectivity": self._disrupt_connectivity,
            "aws:network:route-table-disrupt-cross-region-connectivity": self._cross_region("Subnets"),
            "aws:network:transit-gateway-disrupt-cross-region-connectivity": self._cross_region("TransitGateways"),
            "aws:arc:start-zonal-autoshift": self._zonal_autoshift,
            "aws:ssm:start-automation-execution": self._automation,
        }.get(action_id)

    @staticmethod
    def _duration(run: ActionRun, key: str = "duration") -> float:
        return parse_iso_duration(run.parameters[key], what=key)

    @staticmethod
    def _ids(run: ActionRun, key: str) -> list[str]:
        return [r.ident for r in run.resources.get(key, [])]

    # -- world faults held by FIS ----------------------------------------------------------------
    def _hold(self, run: ActionRun, fault: tuple[str, str, str]) -> None:
        """Apply a world fault for the action (counted: two actions may hold one AZ)."""
        kind, a, b = fault
        world = self.world
        if self._holds[fault] == 0:
            already = (kind == "az" and a in world.lost_azs) or (kind == "pause" and (a, b) in world.paused)
            if not already:
                self._taken.add(fault)
                if kind == "az":
                    world.lose_az(a)
                else:
                    world.pause(a, b)
        self._holds[fault] += 1
        run.undo.append(lambda: self._release(fault))

    def _release(self, fault: tuple[str, str, str]) -> None:
        self._holds[fault] -= 1
        if self._holds[fault] > 0 or fault not in self._taken:
            return
        self._taken.discard(fault)
        kind, a, b = fault
        if kind == "az":
            self.world.restore_az(a)
        else:
            self.world.resume(a, b)

    # -- runners -----------------------------------------------------------------------------------
    def _wait(self, exp: Experiment, run: ActionRun) -> float:
        return self._duration(run)

    def _stop_instances(self, exp: Experiment, run: ActionRun) -> float | None:
        ids = self._ids(run, "Instances")
        ec2 = self.api.client("ec2", exp.region)
        try:
            ec2.stop_instances(InstanceIds=ids)
        except botocore.exceptions.ClientError as exc:
            raise ActionFailed(f"StopInstances failed: {_error(exc)}") from None
        if "startInstancesAfterDuration" not in run.parameters:
            return None
        tolerate = run.parameters.get("completeIfInstancesTerminated", "false").lower() == "true"

        def start() -> None:
            for iid in ids:
                try:
                    ec2.start_instances(InstanceIds=[iid])
                except botocore.exceptions.ClientError as exc:
                    if not tolerate:
                        raise ActionFailed(f"StartInstances of {iid} failed: {_error(exc)}") from None

        run.undo.append(start)
        return self._duration(run, "startInstancesAfterDuration")

    def _terminate_instances(self, exp: Experiment, run: ActionRun) -> None:
        try:
            self.api.client("ec2", exp.region).terminate_instances(InstanceIds=self._ids(run, "Instances"))
        except botocore.exceptions.ClientError as exc:
            raise ActionFailed(f"TerminateInstances failed: {_error(exc)}") from None

    def _compute(self) -> Any:
        from pytest_drtest.emulation.compute import AutoScalingEmulator

        try:
            return self.emulation.find(AutoScalingEmulator).model
        except KeyError:
            raise ActionFailed("the emulation has no Auto Scaling model", CONFIGURATION_FAILURE) from None

    def _asg_ice(self, exp: Experiment, run: ActionRun) -> float:
        percentage = run.parameters.get("percentage", "100")
        if percentage != "100":
            raise ActionFailed(f"percentage {percentage} is not modeled: launches fail all (100) or not at all", CONFIGURATION_FAILURE)
        zones = self._resolver(exp).zone_names(run.parameters["availabilityZoneIdentifiers"])
        self._block(exp, run, run.resources.get("AutoScalingGroups", []), zones)
        return self._duration(run)

    def _block(self, exp: Experiment, run: ActionRun, groups: list[ResolvedResource], zones: set[str]) -> None:
        model = self._compute()
        for group in groups:
            holder = f"fis:{exp.id}:{run.name}:{group.ident}"
            model.block_launches(holder, exp.region, group.ident, zones)
            run.undo.append(lambda holder=holder: model.unblock_launches(holder))

    def _reboot_db(self, exp: Experiment, run: ActionRun) -> None:
        failover = run.parameters.get("forceFailover", "false").lower() == "true"
        rds = self.api.client("rds", exp.region)
        for ident in self._ids(run, "DBInstances"):
            try:
                rds.reboot_db_instance(DBInstanceIdentifier=ident, ForceFailover=failover)
            except botocore.exceptions.ClientError as exc:
                raise ActionFailed(f"RebootDBInstance of {ident} failed: {_error(exc)}") from None

    def _failover_cluster(self, exp: Experiment, run: ActionRun) -> None:
        rds = self.api.client("rds", exp.region)
        for ident in self._ids(run, "Clusters"):
            try:
                rds.failover_db_cluster(DBClusterIdentifier=ident)
            except botocore.exceptions.ClientError as exc:
                raise ActionFailed(f"FailoverDBCluster of {ident} failed: {_error(exc)}") from None

    def _pause(self, service: str, key: str) -> Runner:
        def run_it(exp: Experiment, run: ActionRun) -> float:
            for ident in self._ids(run, key):
                self._hold(run, ("pause", service, ident))
            return self._duration(run)

        return run_it

    def _disrupt_connectivity(self, exp: Experiment, run: ActionRun) -> float:
        scope = run.parameters.get("scope", "all")
        if scope not in ("all", "availability-zone"):
            raise ActionFailed(f"scope {scope!r} is not modeled (the emulation models 'all' and 'availability-zone')",
                               CONFIGURATION_FAILURE)
        zones = sorted({str(r.attributes.get("AvailabilityZone")) for r in run.resources.get("Subnets", [])})
        for az in zones:
            self._hold(run, ("az", az, ""))
        return self._duration(run)

    def _cross_region(self, key: str) -> Runner:
        def run_it(exp: Experiment, run: ActionRun) -> float:
            to = run.parameters.get("region", "*")
            if to == exp.region:
                raise ActionFailed(f"region {to} is the experiment's own region", CONFIGURATION_FAILURE)
            self._hold(run, ("pause", "network", f"{exp.region}>{to}"))
            return self._duration(run)

        return run_it

    def _zonal_autoshift(self, exp: Experiment, run: ActionRun) -> float:
        """A practice run of zonal autoshift away from the AZ: the targets' Auto Scaling groups launch
        nothing there; load balancers are recorded (their healthy targets in the AZ are not drained)."""
        zones = self._resolver(exp).zone_names(run.parameters["availabilityZoneIdentifier"])
        resources = run.resources.get("ManagedResources", [])
        self._block(exp, run, [r for r in resources if ":autoScalingGroup:" in r.arn], zones)
        duration = self._duration(run)
        shift = {"experiment": exp.id, "awayFrom": sorted(zones), "resources": [r.arn for r in resources],
                 "startTime": self.clock.now(), "endTime": self.clock.now() + duration, "status": "ACTIVE"}
        self.autoshifts.append(shift)
        run.undo.append(lambda: shift.update(status="COMPLETED"))
        return duration

    def _automation(self, exp: Experiment, run: ActionRun) -> float:
        """Starts the document through SSM; the action lasts until the execution ends (or
        ``maxDuration``, when FIS stops it and the action fails)."""
        from pytest_drtest.emulation.ssm import SsmEmulator

        document = run.parameters["documentArn"].split("document/", 1)[-1]
        try:
            raw = json.loads(run.parameters.get("documentParameters") or "{}")
        except json.JSONDecodeError as exc:
            raise ActionFailed(f"documentParameters is not JSON: {exc}", CONFIGURATION_FAILURE) from None
        parameters = {k: [str(x) for x in v] if isinstance(v, list) else [json.dumps(v) if isinstance(v, bool) else str(v)]
                      for k, v in raw.items()}
        ssm = self.api.client("ssm", exp.region)
        try:
            execution = ssm.start_automation_execution(DocumentName=document, Parameters=parameters)["AutomationExecutionId"]
        except botocore.exceptions.ClientError as exc:
            raise ActionFailed(f"StartAutomationExecution failed: {_error(exc)}") from None
        emulator = self.emulation.find(SsmEmulator)

        def finished(status: str, message: str) -> None:
            if run.status != "running":
                return
            if status == "Success":
                self._finish_action(exp, run)
            else:
                self._fail(exp, run, DEPENDENT_SERVICE_FAILURE, f"Automation execution {execution} ended {status}: {message}")

        emulator.when_finished(execution, finished)
        run.undo.append(lambda: emulator.stop_execution(execution, quiet=True))
        run.expire_reason = f"Automation execution {execution} did not end within maxDuration {run.parameters['maxDuration']}"
        return self._duration(run, "maxDuration")

    # implemented by FisExperiments
    def _resolver(self, exp: Experiment) -> Any:
        raise NotImplementedError

    def _finish_action(self, exp: Experiment, run: ActionRun) -> None:
        raise NotImplementedError

    def _fail(self, exp: Experiment, run: ActionRun | None, code: str, reason: str) -> None:
        raise NotImplementedError

