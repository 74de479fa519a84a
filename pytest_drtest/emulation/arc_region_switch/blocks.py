"""What each execution block does ([ARC-DG:region-switch], the execution block pages).

Each runner gets ``finish``: ``finish(None)`` when the block is done, ``finish(reason)`` when it
failed; waits re-read the resource every ``automation_poll_interval``; ``timeoutMinutes`` fails a
block that takes longer.

- ``ManualApproval``: ``pendingApproval`` until ``ApprovePlanExecutionStep``; the emulated world's
  approver approves after ``manual_approval_time`` unless ``auto_approve`` is off.
- ``AuroraGlobalDatabase``: the activated Region's cluster (from ``databaseClusterArns``) becomes
  the writer: graceful ``switchoverOnly`` -> ``SwitchoverGlobalCluster``; graceful ``failover`` ->
  ``FailoverGlobalCluster`` (no data loss); ungraceful -> ``FailoverGlobalCluster(AllowDataLoss)``;
  done when the global cluster reports it the writer and ``available``.
- ``Route53HealthCheck``: the plan's health checks (created with the plan, one per Region, for the
  team to attach to its records) turn healthy for the activated Region and unhealthy for the
  other; done at once (DNS follows with the records' TTL).
- ``EC2AutoScaling``: the activated Region's group is scaled to ``targetPercent`` (default 100) of
  the largest capacity the emulation saw of the plan's other groups (ARC samples it,
  ``capacityMonitoringApproach``); done when that many instances are ``InService`` (ungraceful:
  ``minimumSuccessPercentage`` of them).
- ``RdsPromoteReadReplica``: ``PromoteReadReplica`` of the activated Region's instance
  (``dbInstanceArnMap``); done when it is ``available`` without a source.
- ``CustomActionLambda``: Lambda is not emulated; each function ARN (or name) is registered with
  the emulator as a Python callable ``fn(event, context)`` or an SSM Automation document
  (``"ssm:<name>"``), run in ``regionToRun``.
- ``Parallel``: its steps at once; done when all are, failed when one fails.
- ``DocumentDb``: the activated Region's cluster (from ``databaseClusterArns``) becomes the primary
  of the DocumentDB global cluster: graceful ``switchoverOnly`` -> ``SwitchoverGlobalCluster`` (RPO
  0); ``failover`` and ungraceful -> ``FailoverGlobalCluster(AllowDataLoss)`` (RPO: the replication
  lag at the failure) ([ARC-DG:documentdb-global-cluster-block]); done when the global cluster
  reports it the writer and ``available``.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import botocore.exceptions

from pytest_drtest.emulation.arc_region_switch.models import PlanExecution
from pytest_drtest.emulation.core import ServiceEmulator
from pytest_drtest.emulation.principal import ServicePrincipal

Finish = Callable[[str | None], None]


def _region_of(arn: str) -> str:
    return arn.split(":")[3]


def _why(exc: Exception) -> str:
    if isinstance(exc, botocore.exceptions.ClientError):
        err = exc.response.get("Error", {})
        return f"{err.get('Code')}: {err.get('Message')}"
    return str(exc)


class ExecutionBlocks(ServiceEmulator):
    """The runners of the modeled execution blocks."""

    service = "arc-region-switch"

    def _setup_blocks(self) -> None:
        self.api = ServicePrincipal(self.emulation)
        self.auto_approve = True
        self.functions: dict[str, Callable[[dict[str, Any], dict[str, Any]], Any] | str] = {}

    def register_function(self, arn_or_name: str, target: Callable[[dict[str, Any], dict[str, Any]], Any] | str) -> None:
        """What a ``CustomActionLambda`` step runs for ``arn_or_name`` (a function ARN, or its name for
        any ARN of that name): a callable or ``"ssm:<document>"``."""
        self.functions[arn_or_name] = target
        self.functions.setdefault(arn_or_name.rsplit(":", 1)[-1], target)

    def _poll(self, check: Callable[[], bool], finish: Finish, what: str) -> None:
        try:
            if check():
                return finish(None)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError, LookupError) as exc:
            return finish(f"{what}: {_why(exc)}")
        self.later(self.profile.value("automation_poll_interval"), lambda: self._poll(check, finish, what), name=f"arc {what}")

    def run_block(self, exe: PlanExecution, step: dict[str, Any], finish: Finish) -> None:
        kind = step["executionBlockType"]
        config = next(iter(step["executionBlockConfiguration"].values()))
        runner = {
            "ManualApproval": self._approval,
            "AuroraGlobalDatabase": self._aurora,
            "Route53HealthCheck": self._health_checks,
            "EC2AutoScaling": self._asg,
            "RdsPromoteReadReplica": self._promote,
            "CustomActionLambda": self._custom,
            "Parallel": self._parallel,
            "DocumentDb": self._docdb,
        }[kind]
        try:
            runner(exe, step, config, finish)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            finish(_why(exc))

    # -- blocks -----------------------------------------------------------------------------------
    def _approval(self, exe: PlanExecution, step: dict[str, Any], config: dict[str, Any], finish: Finish) -> None:
        self.await_approval(exe, step["name"], finish)

    def _aurora(self, exe: PlanExecution, step: dict[str, Any], config: dict[str, Any], finish: Finish) -> None:
        target = next((arn for arn in config["databaseClusterArns"] if _region_of(arn) == exe.activate), None)
        if target is None:
            return finish(f"databaseClusterArns names no cluster in {exe.activate}")
        rds = self.api.client("rds", exe.activate)
        global_id = config["globalClusterIdentifier"]
        if exe.mode == "ungraceful":
            rds.failover_global_cluster(GlobalClusterIdentifier=global_id, TargetDbClusterIdentifier=target, AllowDataLoss=True)
        elif config["behavior"] == "switchoverOnly":
            rds.switchover_global_cluster(GlobalClusterIdentifier=global_id, TargetDbClusterIdentifier=target)
        else:
            rds.failover_global_cluster(GlobalClusterIdentifier=global_id, TargetDbClusterIdentifier=target)

        def writer() -> bool:
            cluster = rds.describe_global_clusters(GlobalClusterIdentifier=global_id)["GlobalClusters"][0]
            members = {m["DBClusterArn"]: m for m in cluster.get("GlobalClusterMembers", [])}
            return bool(cluster.get("Status") == "available" and members.get(target, {}).get("IsWriter"))

        self._poll(writer, finish, f"global database {global_id} to {exe.activate}")

    def _docdb(self, exe: PlanExecution, step: dict[str, Any], config: dict[str, Any], finish: Finish) -> None:
        target = next((arn for arn in config["databaseClusterArns"] if _region_of(arn) == exe.activate), None)
        if target is None:
            return finish(f"databaseClusterArns names no cluster in {exe.activate}")
        docdb = self.api.client("docdb", exe.activate)
        global_id = config["globalClusterIdentifier"]
        if exe.mode != "ungraceful" and config["behavior"] == "switchoverOnly":
            docdb.switchover_global_cluster(GlobalClusterIdentifier=global_id, TargetDbClusterIdentifier=target)
        else:
            docdb.failover_global_cluster(GlobalClusterIdentifier=global_id, TargetDbClusterIdentifier=target,
                                          AllowDataLoss=True)

        def writer() -> bool:
            cluster = docdb.describe_global_clusters(GlobalClusterIdentifier=global_id)["GlobalClusters"][0]
            members = {m["DBClusterArn"]: m for m in cluster.get("GlobalClusterMembers", [])}
            return bool(cluster.get("Status") == "available" and members.get(target, {}).get("IsWriter"))

        self._poll(writer, finish, f"DocumentDB global cluster {global_id} to {exe.activate}")

    def _health_checks(self, exe: PlanExecution, step: dict[str, Any], config: dict[str, Any], finish: Finish) -> None:
        r53 = self.api.client("route53", exe.region)
        for (name, region), check_id in sorted(exe.plan.health_checks.items()):
            if name == step["name"]:
                r53.update_health_check(HealthCheckId=check_id, Inverted=region != exe.activate)
        finish(None)

    def sample_capacity(self, plan: Any) -> None:
        """Remember the desired capacity of the plan's groups (ARC samples it over 24 h)."""
        for step in plan.steps():
            if step["executionBlockType"] != "EC2AutoScaling":
                continue
            for asg in step["executionBlockConfiguration"]["ec2AsgCapacityIncreaseConfig"]["asgs"]:
                arn = asg.get("arn", "")
                try:
                    group = self._group(arn)
                except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError, LookupError):
                    continue  # its Region is lost: keep what was seen
                plan.capacity[arn] = max(plan.capacity.get(arn, 0), int(group["DesiredCapacity"]))

    def _group(self, arn: str) -> dict[str, Any]:
        name = arn.split("autoScalingGroupName/", 1)[-1]
        rows = self.api.client("autoscaling", _region_of(arn)).describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"]
        if not rows:
            raise LookupError(f"Auto Scaling group {name} not found")
        return dict(rows[0])

    def _asg(self, exe: PlanExecution, step: dict[str, Any], config: dict[str, Any], finish: Finish) -> None:
        arns = [a.get("arn", "") for a in config["asgs"]]
        mine = next((arn for arn in arns if _region_of(arn) == exe.activate), None)
        if mine is None:
            return finish(f"asgs names no group in {exe.activate}")
        reference = max((exe.plan.capacity.get(arn, 0) for arn in arns if arn != mine), default=0)
        desired = math.ceil(reference * int(config.get("targetPercent", 100)) / 100)
        name = mine.split("autoScalingGroupName/", 1)[-1]
        autoscaling = self.api.client("autoscaling", exe.activate)
        group = self._group(mine)
        if desired > int(group["DesiredCapacity"]):
            autoscaling.update_auto_scaling_group(AutoScalingGroupName=name, DesiredCapacity=desired,
                                                  MaxSize=max(int(group["MaxSize"]), desired))
        share = config.get("ungraceful", {}).get("minimumSuccessPercentage", 100) if exe.mode == "ungraceful" else 100
        needed = math.ceil(max(desired, int(group["DesiredCapacity"])) * share / 100)

        def ready() -> bool:
            instances = self._group(mine)["Instances"]
            return sum(1 for i in instances if i["LifecycleState"] == "InService" and i["HealthStatus"] == "Healthy") >= needed

        self._poll(ready, finish, f"{name} at {needed} InService")

    def _promote(self, exe: PlanExecution, step: dict[str, Any], config: dict[str, Any], finish: Finish) -> None:
        arn = config["dbInstanceArnMap"].get(exe.activate)
        if arn is None:
            return finish(f"dbInstanceArnMap names no instance in {exe.activate}")
        ident = arn.split(":db:", 1)[-1]
        rds = self.api.client("rds", exe.activate)
        rds.promote_read_replica(DBInstanceIdentifier=ident)

        def promoted() -> bool:
            row = rds.describe_db_instances(DBInstanceIdentifier=ident)["DBInstances"][0]
            return bool(row["DBInstanceStatus"] == "available" and not row.get("ReadReplicaSourceDBInstanceIdentifier"))

        self._poll(promoted, finish, f"promotion of {ident}")

    def _custom(self, exe: PlanExecution, step: dict[str, Any], config: dict[str, Any], finish: Finish) -> None:
        where = config["regionToRun"]
        region = exe.activate if where in ("activatingRegion", "inactiveRegion") else exe.deactivate
        pending = list(config["lambdas"])

        def next_function(error: str | None = None) -> None:
            if error is not None:
                return finish(error)
            if not pending:
                return finish(None)
            entry = pending.pop(0)
            arn = entry.get("arn", "")
            target = self.functions.get(arn) or self.functions.get(arn.rsplit(":", 1)[-1])
            if target is None:
                return finish(f"function {arn} is not registered: Lambda is not emulated, register a Python callable or "
                              "an SSM document for it")
            event = {"planArn": exe.plan.arn, "executionId": exe.id, "action": exe.action, "mode": exe.mode,
                     "activateRegion": exe.activate, "deactivateRegion": exe.deactivate, "stepName": step["name"],
                     "region": region}
            if isinstance(target, str):
                return self._automation(region, target.removeprefix("ssm:"), event, next_function)
            try:
                target(event, {"function": arn, "region": region})
            except Exception as exc:  # noqa: BLE001 - the team's own code
                return finish(f"function {arn} raised {type(exc).__name__}: {exc}")
            next_function()

        next_function()

    def _automation(self, region: str, document: str, event: dict[str, Any], finish: Finish) -> None:
        from pytest_drtest.emulation.ssm import SsmEmulator

        ssm = self.api.client("ssm", region)
        try:
            ident = ssm.start_automation_execution(DocumentName=document)["AutomationExecutionId"]
        except botocore.exceptions.ClientError as exc:
            return finish(f"automation {document}: {_why(exc)}")

        def ended(status: str, message: str) -> None:
            finish(None if status == "Success" else f"automation {document} ({ident}) ended {status}: {message}")

        self.emulation.find(SsmEmulator).when_finished(ident, ended)

    def _parallel(self, exe: PlanExecution, step: dict[str, Any], config: dict[str, Any], finish: Finish) -> None:
        members = config["steps"]
        left = {"n": len(members), "failed": False}

        def one_done(error: str | None) -> None:
            if left["failed"]:
                return
            if error is not None:
                left["failed"] = True
                return finish(error)
            left["n"] -= 1
            if left["n"] == 0:
                finish(None)

        if not members:
            return finish(None)
        for member in members:
            self.run_step(exe, member, one_done)

    # implemented by the engine
    def await_approval(self, exe: PlanExecution, step_name: str, finish: Finish) -> None:
        raise NotImplementedError

    def run_step(self, exe: PlanExecution, step: dict[str, Any], finish: Finish) -> None:
        raise NotImplementedError
