"""An ARC Region switch plan as a runbook: created before the fault, executed after it.

Setup (what a team does when it adopts the plan, [ARC-DG:route53-health-check-block]): the plan is
created through ARC; its Route 53 health checks are attached to the application's records of
``recordName`` (the record set of each Region, matched by ``recordSets`` or by the Region in its
``SetIdentifier``), so that DNS follows the plan rather than the load balancers' health; custom
actions' functions are registered with the emulation (Lambda is not emulated).

Recovery: ``StartPlanExecution`` from the activated Region, polled until ``completed``; a failed
step (``pausedByFailedStep``) fails the runbook with its name and error. The application follows
what the plan switched (the promoted database or cluster), and the plan's own
``actualRecoveryTime`` is reported next to the probe's RTO.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pytest_drtest.durations import parse_iso_duration
from pytest_drtest.emulation.arc_region_switch.models import plan_steps
from pytest_drtest.recovery.formats import RUNBOOK_TIMEOUT
from pytest_drtest.recovery.placeholders import resolve
from pytest_drtest.recovery.steps import RunbookFailed, poll

if TYPE_CHECKING:
    from pytest_drtest.clock import Clock
    from pytest_drtest.recovery.formats import ArcPlanRunbook
    from pytest_drtest.topology.model import Topology


def _arc(topology: Topology, role: str) -> Any:
    return topology.client("arc-region-switch", role)


def create_plan(runbook: ArcPlanRunbook, topology: Topology, clock: Clock, emulation: Any = None) -> None:
    plan = resolve(runbook.plan, topology, {})
    arc = _arc(topology, "primary")
    arn = arc.create_plan(**plan)["plan"]["arn"]
    topology.note("arc-plan-created", arn)
    if emulation is not None:
        from pytest_drtest.emulation.arc_region_switch import ArcRegionSwitchEmulator

        emulator = emulation.find(ArcRegionSwitchEmulator)
        for key, target in runbook.functions.items():
            emulator.register_function(key, target)
    for name, content in runbook.documents.items():
        for role in ("primary", "dr"):
            topology.client("ssm", role).create_document(Name=name, Content=content, DocumentType="Automation",
                                                         DocumentFormat="JSON" if content.lstrip().startswith("{") else "YAML")
    checks = arc.list_route53_health_checks(arn=arn)["healthChecks"]
    if checks:
        _attach_health_checks(topology, plan, checks)


def _attach_health_checks(topology: Topology, plan: dict[str, Any], checks: list[dict[str, Any]]) -> None:
    """UPSERT each Region's record set of ``recordName`` with the plan's health check of that Region."""
    r53 = topology.client("route53", "primary")
    mapping: dict[str, str] = {}
    for step in plan_steps(plan):  # Parallel members included
        config = step["executionBlockConfiguration"].get("route53HealthCheckConfig") or {}
        for entry in config.get("recordSets") or []:
            mapping[entry["recordSetIdentifier"]] = entry["region"]
    changes: list[dict[str, Any]] = []
    for check in checks:
        name = check["recordName"].rstrip(".") + "."
        records = r53.list_resource_record_sets(HostedZoneId=check["hostedZoneId"])["ResourceRecordSets"]
        for record in records:
            ident = record.get("SetIdentifier", "")
            region = mapping.get(ident) or record.get("Region") or next((r for r in plan["regions"] if r in ident), None)
            if record["Name"] == name and region == check["region"]:
                changes.append({"Action": "UPSERT", "ResourceRecordSet": {**record, "HealthCheckId": check["healthCheckId"]}})
    if not changes:
        raise RunbookFailed(f"no record set of {checks[0]['recordName']} per Region to attach the plan's health checks to")
    change = r53.change_resource_record_sets(HostedZoneId=checks[0]["hostedZoneId"], ChangeBatch={"Changes": changes})
    r53.get_waiter("resource_record_sets_changed").wait(Id=change["ChangeInfo"]["Id"], WaiterConfig={"Delay": 10, "MaxAttempts": 60})
    topology.note("arc-health-checks-attached", ", ".join(c["ResourceRecordSet"]["SetIdentifier"] for c in changes))


def execute_plan(runbook: ArcPlanRunbook, topology: Topology, clock: Clock) -> None:
    clock.sleep(runbook.start_after)
    target = topology.region(runbook.region)
    other = "primary" if runbook.region == "dr" else "dr"
    activate_role = runbook.region if runbook.action == "activate" else other
    arc = _arc(topology, activate_role)
    name = str(runbook.plan["name"])
    arn = next((p["arn"] for p in arc.list_plans()["plans"] if p["name"] == name), None)
    if arn is None:
        raise RunbookFailed(f"ARC plan {name} does not exist (was the runbook prepared?)")
    started = arc.start_plan_execution(planArn=arn, targetRegion=target, action=runbook.action, mode=runbook.mode)
    ident = started["executionId"]
    topology.note("runbook-started", f"ARC {name} {runbook.action} {target} ({runbook.mode}, {ident})")

    def finished() -> dict[str, Any] | None:
        exe = arc.get_plan_execution(planArn=arn, executionId=ident)
        if exe["executionState"] in ("completed", "pausedByFailedStep", "failed", "canceled"):
            return dict(exe)
        return None

    exe = poll(clock, finished, every=topology.profile.value("automation_poll_interval"), timeout=RUNBOOK_TIMEOUT,
               what=f"ARC plan {name}")
    events = arc.list_plan_execution_events(planArn=arn, executionId=ident)["items"]
    for event in events:
        if event["type"] in ("stepSucceeded", "stepFailed", "stepSkipped"):
            topology.note("runbook-step", f"{event.get('stepName')} ({event.get('executionBlockType')}) {event['type'][4:].lower()}")
    if exe["executionState"] != "completed":
        failed = [e for e in events if e["type"] == "stepFailed"]
        why = f"step {failed[-1]['stepName']} ({failed[-1]['executionBlockType']}): {failed[-1].get('error', '')}" if failed else ""
        raise RunbookFailed(f"ARC plan {name} ({ident}) {exe['executionState']}: {why}")
    seconds = parse_iso_duration(exe["actualRecoveryTime"]) if exe.get("actualRecoveryTime") else None
    topology.note("runbook-completed", f"ARC {name} actualRecoveryTime {exe.get('actualRecoveryTime')}")
    if seconds is not None:
        topology.note("runbook-recovery-time", str(seconds))
    _follow(topology, runbook.plan, topology.region(activate_role))


def _follow(topology: Topology, plan: dict[str, Any], region: str) -> None:
    """The application in ``region`` uses what the plan made writable there."""
    stack = topology.stack(region)
    for step in plan_steps(plan):
        kind = {"AuroraGlobalDatabase": "cluster", "RdsPromoteReadReplica": "instance"}.get(step["executionBlockType"])
        if kind is None or not stack.database:
            continue
        topology.note("db-promoted", stack.database)
        topology.point_app_at_database(region, stack.database, kind=kind)
        return
