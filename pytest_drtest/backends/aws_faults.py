"""How each fault is injected on a real account: an AWS FIS experiment, plain API calls, or refused.

Per fault (AWS FIS user guide, "FIS actions reference"):

* ``az-outage`` -> ``aws:network:disrupt-connectivity`` with ``scope`` ``all`` on the run's subnets in
  the AZ (tagged ``drtest:run`` and ``drtest:role=subnet``, filtered on ``AvailabilityZone``): what
  the FIS scenario library's "AZ Availability: Power Interruption" does to an AZ's network. Scope
  ``availability-zone`` only denies traffic to the VPC's other AZs, so the AZ would still serve;
  ``all`` denies every flow in and out of the subnets, which is what losing the AZ looks like.
* ``reboot-database`` -> ``aws:rds:reboot-db-instances`` (``forceFailover``) on an instance, or
  ``aws:rds:failover-db-cluster`` on an Aurora cluster (``failover=False``: the writer rebooted).
* ``pause-replication`` -> ``aws:dynamodb:global-table-pause-replication`` (DynamoDB) or
  ``aws:s3:bucket-pause-replication`` (S3 CRR, to the DR region); RDS has no FIS action that
  pauses cross-region replication: refused.
* ``region-outage`` is refused: FIS has no action that takes a Region away. Its cross-region actions
  cut the subnets' routes to other Regions and ``disrupt-connectivity`` blocks the subnets, but the
  Region's service endpoints (DynamoDB, S3, RDS, Route 53 health checkers in it) keep answering and
  replicating, which is not what the emulated outage (every call to the Region fails) models.
* ``corrupt-table``, ``corrupt-database``, ``delete-objects`` are data faults: plain API calls (and
  SQL) through the run's clients, as on the emulated backends.
* ``{ fis = "template.json" }``: the scenario's own template, with the run's stop condition, role
  and tags.

Every template carries a stop condition: a CloudWatch alarm the plugin creates on the probe's error
rate (``DrTest/Probe`` ``ErrorRate``, dimension ``Probe=probe``; see
:mod:`pytest_drtest.emulation.cloudwatch.probe_metrics`), the role given with
``--dr-aws-fis-role`` and the ``drtest:run`` tag (teardown deletes templates and alarm by it).
"""
from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_drtest.errors import DrConfigError
from pytest_drtest.probes.error_rate import (
    PROBE_METRIC,
    PROBE_NAMESPACE,
    MinuteErrorRate,
)
from pytest_drtest.topology.build import RUN_TAG

if TYPE_CHECKING:
    from pytest_drtest.faults.base import Fault
    from pytest_drtest.topology.model import Topology

#: The longest an FIS action of these faults may run (``duration``): the fault is reverted (the
#: experiment stopped) by the test or at teardown; this bounds it if the run dies without either.
MAX_DURATION = "PT1H"
#: The stop condition: every probe request failing (ErrorRate Average >= 100 %) for this many
#: consecutive minutes, i.e. the application never came back. AWS's docs are silent on a default;
#: one hour is longer than every shipped objective (the longest RTO is 2 h for restores, whose faults
#: are data faults without FIS).
STOP_ALARM_MINUTES = 60

FIS = "fis"
API = "api"
REFUSED = "refused"


@dataclass
class Injection:
    """How one fault is injected on aws: ``how`` is ``fis``, ``api`` or ``refused``."""

    fault: str
    how: str
    detail: str
    template: dict[str, Any] | None = None
    region: str = ""  # where the experiment runs
    record: dict[str, Any] = field(default_factory=dict)

    def line(self) -> str:
        label = {FIS: "AWS FIS", API: "API calls", REFUSED: "REFUSED"}[self.how]
        return f"{self.fault}: {label}: {self.detail}"


@dataclass(frozen=True)
class RunContext:
    """What the templates name: the run, its regions and account, the FIS role and the stop alarm."""

    run_id: str
    primary: str
    dr: str
    account: str
    role_arn: str
    alarm_name: str

    @property
    def alarm_arn(self) -> str:
        return f"arn:aws:cloudwatch:{self.primary}:{self.account}:alarm:{self.alarm_name}"

    def region(self, which: str) -> str:
        return {"primary": self.primary, "dr": self.dr}.get(which, which)


def alarm_name(run_id: str) -> str:
    return f"drtest-{run_id}-stop"


def stop_alarm(run: RunContext) -> dict[str, Any]:
    """``PutMetricAlarm`` arguments of the stop condition (missing data: not breaching, as the probe
    publishes nothing before it starts)."""
    return {
        "AlarmName": run.alarm_name,
        "AlarmDescription": f"pytest-drtest run {run.run_id}: every probe request failing for {STOP_ALARM_MINUTES} minutes; "
                            "stops the run's FIS experiments",
        "Namespace": PROBE_NAMESPACE, "MetricName": PROBE_METRIC, "Dimensions": [{"Name": "Probe", "Value": "probe"}],
        "Statistic": "Average", "Period": 60, "EvaluationPeriods": STOP_ALARM_MINUTES, "Threshold": 100.0,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold", "TreatMissingData": "notBreaching",
        "Tags": [{"Key": RUN_TAG, "Value": run.run_id}],
    }


def _template(run: RunContext, description: str, targets: dict[str, Any], actions: dict[str, Any]) -> dict[str, Any]:
    return {
        "description": f"pytest-drtest {run.run_id}: {description}"[:512],
        "targets": targets, "actions": actions,
        "stopConditions": [{"source": "aws:cloudwatch:alarm", "value": run.alarm_arn}],
        "roleArn": run.role_arn,
        "tags": {RUN_TAG: run.run_id},
    }


def _run_tags(run: RunContext, role: str, region_role: str | None = None) -> dict[str, str]:
    tags = {RUN_TAG: run.run_id, "drtest:role": role}
    if region_role:
        tags["drtest:region-role"] = region_role
    return tags


def injection_for(fault: Fault, run: RunContext, topology: Topology | None = None) -> Injection:
    """How ``fault`` is injected on aws (its template built, nothing called)."""
    kind, name = fault.kind, fault.describe()
    if getattr(fault, "data_fault", False):
        return Injection(name, API, f"a data fault: done with the service's own API calls through the run's clients "
                                    f"({_data_calls(kind)}), as on the emulated backends")
    if kind == "region-outage":
        return Injection(name, REFUSED, (
            "AWS FIS has no action that takes a whole Region away: its cross-region actions cut only the subnets' "
            "routes to other Regions and disrupt-connectivity blocks subnets, while the Region's service endpoints "
            "(DynamoDB, S3, RDS, Route 53 health checkers) keep answering and replicating; run it on an emulated backend"))
    if kind == "az-outage":
        return _az_outage(fault, run, topology)
    if kind == "reboot-database":
        return _reboot(fault, run, topology)
    if kind == "pause-replication":
        return _pause(fault, run, topology)
    if kind == "fis":
        template = copy.deepcopy(getattr(fault, "template", {}))
        template.update(_template(run, name, template.get("targets", {}), template.get("actions", {})))
        return Injection(name, FIS, f"the scenario's FIS template {Path(str(getattr(fault, 'file', ''))).name!r} with the run's stop "
                                    "condition, role and tags", template, run.primary)
    return Injection(name, REFUSED, f"pytest-drtest knows no FIS action for {kind!r}")


def _data_calls(kind: str) -> str:
    return {"corrupt-table": "DynamoDB Scan, PutItem/DeleteItem", "delete-objects": "S3 ListObjectVersions, DeleteObject(s)",
            "corrupt-database": "SQL UPDATE or DROP TABLE on the database's endpoint"}.get(kind, "the service's API")


def _az_outage(fault: Any, run: RunContext, topology: Topology | None) -> Injection:
    az: str = fault.record.get("az") or fault.record.get("target") or fault.az
    if az.endswith(":database"):
        if "az" not in fault.record:
            return Injection(fault.describe(), FIS, (
                f"aws:network:disrupt-connectivity (scope all, {MAX_DURATION} at most) on the run's subnets in the AZ of "
                f"the {run.region(az.split(':')[0])} database's writer, looked up (DescribeDBInstances) at injection"),
                None, run.region(az.split(":")[0]))
    elif ":" in az:
        which, letter = az.split(":", 1)
        az = f"{run.region(which)}{letter}"
    region = az[:-1]
    targets = {"Subnets": {
        "resourceType": "aws:ec2:subnet", "resourceTags": _run_tags(run, "subnet"),
        "filters": [{"path": "AvailabilityZone", "values": [az]}], "selectionMode": "ALL",
    }}
    actions = {"disrupt-az": {
        "actionId": "aws:network:disrupt-connectivity", "parameters": {"scope": "all", "duration": MAX_DURATION},
        "targets": {"Subnets": "Subnets"},
    }}
    return Injection(fault.describe(), FIS, f"aws:network:disrupt-connectivity (scope all, {MAX_DURATION} at most) on the "
                                            f"run's subnets in {az}", _template(run, fault.describe(), targets, actions), region)


def _reboot(fault: Any, run: RunContext, topology: Topology | None) -> Injection:
    target: dict[str, str] = dict(getattr(fault, "_target", {}) or {})
    region = target.get("region") or run.region(fault.region)
    if not target:
        if fault.database:
            target = {"kind": "instance", "id": fault.database}
        elif topology is not None and topology.blueprint.database is not None:
            cluster = topology.strategy.name == "active-active"
            target = {"kind": "cluster" if cluster else "instance",
                      "id": f"{topology.name}-db" if topology.region(fault.region) == topology.primary_region or cluster
                      else f"{topology.name}-db-replica"}
        else:
            raise DrConfigError(f"{fault.describe()}: no database to reboot (name one with database=...)")
    kind, ident = target["kind"], target["id"]
    if kind == "cluster" and fault.failover:
        arn = f"arn:aws:rds:{region}:{run.account}:cluster:{ident}"
        targets = {"Clusters": {"resourceType": "aws:rds:cluster", "resourceArns": [arn], "selectionMode": "ALL"}}
        actions = {"failover": {"actionId": "aws:rds:failover-db-cluster", "targets": {"Clusters": "Clusters"}}}
        how = f"aws:rds:failover-db-cluster on {ident} ({region})"
    else:
        if kind == "cluster":  # no failover: reboot the writer, which the injection looks up
            ident = target.get("writer") or f"{ident}-writer"
        arn = f"arn:aws:rds:{region}:{run.account}:db:{ident}"
        targets = {"DBInstances": {"resourceType": "aws:rds:db", "resourceArns": [arn], "selectionMode": "ALL"}}
        force = "true" if fault.failover and kind == "instance" else "false"
        actions = {"reboot": {"actionId": "aws:rds:reboot-db-instances", "parameters": {"forceFailover": force},
                              "targets": {"DBInstances": "DBInstances"}}}
        how = f"aws:rds:reboot-db-instances (forceFailover={force}) on {ident} ({region})"
    return Injection(fault.describe(), FIS, how, _template(run, fault.describe(), targets, actions), region)


def _pause(fault: Any, run: RunContext, topology: Topology | None) -> Injection:
    service, resource = fault.service, fault.record.get("target") or fault.resource
    if service == "rds":
        return Injection(fault.describe(), REFUSED, (
            "AWS FIS has no action that pauses RDS or Aurora cross-region replication (its RDS actions reboot and "
            "fail over); run it on an emulated backend"))
    logical = topology is not None and resource != "*" and (
        resource in [t.name for t in topology.blueprint.tables] if service == "dynamodb"
        else resource in [b.name for b in topology.blueprint.buckets])
    if service == "dynamodb":
        target: dict[str, Any] = {"resourceType": "aws:dynamodb:global-table", "selectionMode": "ALL"}
        if resource == "*":
            target["resourceTags"] = _run_tags(run, "table", "primary")
            what = "the run's global tables"
        else:
            physical = f"{topology.name}-{resource}" if logical and topology is not None else resource
            target["resourceArns"] = [f"arn:aws:dynamodb:{run.primary}:{run.account}:table/{physical}"]
            what = physical
        actions = {"pause": {"actionId": "aws:dynamodb:global-table-pause-replication",
                             "parameters": {"duration": MAX_DURATION}, "targets": {"Tables": "Tables"}}}
        return Injection(fault.describe(), FIS, f"aws:dynamodb:global-table-pause-replication ({MAX_DURATION} at most) on {what}",
                         _template(run, fault.describe(), {"Tables": target}, actions), run.primary)
    target = {"resourceType": "aws:s3:bucket", "selectionMode": "ALL"}
    if resource == "*":
        target["resourceTags"] = _run_tags(run, "bucket", "primary")
        what = "the run's replicated buckets"
    else:
        physical = f"{topology.name}-{resource}-{run.primary}" if logical and topology is not None else resource
        target["resourceArns"] = [f"arn:aws:s3:::{physical}"]
        what = physical
    actions = {"pause": {"actionId": "aws:s3:bucket-pause-replication",
                         "parameters": {"duration": MAX_DURATION, "region": run.dr}, "targets": {"Buckets": "Buckets"}}}
    return Injection(fault.describe(), FIS, f"aws:s3:bucket-pause-replication ({MAX_DURATION} at most) on {what}, to {run.dr}",
                     _template(run, fault.describe(), {"Buckets": target}, actions), run.primary)


class FisInjector:
    """Creates the run's stop alarm and FIS templates, starts and stops experiments (on aws)."""

    def __init__(self, clients: Any, run: RunContext) -> None:
        self.clients = clients
        self.run = run
        self._alarm = False
        # clientToken is an idempotency token [BC:fis]: a create that repeats one returns the first
        # template. One per request of the run, never reused (an object's id() is, once it is gone).
        self._tokens = itertools.count(1)

    def ensure_alarm(self) -> None:
        if not self._alarm:
            self.clients.client("cloudwatch", self.run.primary).put_metric_alarm(**stop_alarm(self.run))
            self._alarm = True

    def start(self, injection: Injection) -> dict[str, str]:
        """Create the template and start its experiment; return ``{template, experiment, region}``."""
        assert injection.template is not None
        self.ensure_alarm()
        region = injection.region or self.run.primary
        fis = self.clients.client("fis", region)
        token = f"drtest-{self.run.run_id}-{next(self._tokens)}"
        template = fis.create_experiment_template(clientToken=token, **injection.template)["experimentTemplate"]["id"]
        experiment = fis.start_experiment(clientToken=token, experimentTemplateId=template,
                                          tags={RUN_TAG: self.run.run_id})["experiment"]["id"]
        return {"template": template, "experiment": experiment, "region": region}

    def stop(self, record: dict[str, str]) -> None:
        """Stop the experiment unless it already ended (the template stays until teardown)."""
        fis = self.clients.client("fis", record["region"])
        status = fis.get_experiment(id=record["experiment"])["experiment"]["state"]["status"]
        if status in ("pending", "initiating", "running"):
            fis.stop_experiment(id=record["experiment"])


class AccountProbeMetrics(MinuteErrorRate):
    """The probe's error rate on the account's CloudWatch, what the stop alarm watches (see
    :mod:`pytest_drtest.probes.error_rate`). A publish that fails is counted in :attr:`failed` and
    does not fail the test: the probe measures either way."""

    def __init__(self, clock: Any, cloudwatch: Any, samples: Any, *, probe: str) -> None:
        self.cloudwatch = cloudwatch
        self.failed = 0
        super().__init__(clock, samples, probe=probe)

    def put(self, start: float, count: int, failed: int) -> None:
        import botocore.exceptions

        try:
            self.cloudwatch.put_metric_data(**self.metric_data(self.clock, start, count, failed, self.probe))
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError):
            self.failed += 1
