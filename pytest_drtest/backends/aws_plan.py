"""``--dr-plan``: what a game day would create, fault and delete on the account, without changing anything.

The plan lists the resources :mod:`pytest_drtest.topology.build` creates for the scenario's strategy
and blueprint (by region and type, with their names and tags), how each experiment's fault would be
injected (:mod:`pytest_drtest.backends.aws_faults`) and what teardown deletes
(:mod:`pytest_drtest.backends.aws_teardown`). It makes read calls only: STS ``GetCallerIdentity``
(the allowlist, at the backend's start), EC2 ``DescribeImages`` (the web tier's image per region)
and IAM ``GetRole`` (the FIS role exists).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import botocore.exceptions

from pytest_drtest.backends.aws_faults import (
    FIS,
    RunContext,
    alarm_name,
    injection_for,
    stop_alarm,
)
from pytest_drtest.backends.aws_teardown import DELETERS
from pytest_drtest.regions import zones
from pytest_drtest.topology.build import (
    ARCHIVE_KEY,
    CACHE_STRATEGIES,
    IMAGE_NAME,
    RUN_TAG,
    dr_capacity,
    newest_image,
)

if TYPE_CHECKING:
    from pytest_drtest.scenario import Scenario
    from pytest_drtest.topology.model import Topology

#: Stands for each experiment's own run id (every experiment builds, faults and tears down its own).
RUN_PLACEHOLDER = "<run id>"


@dataclass
class Planned:
    """One resource the game day would create."""

    service: str
    kind: str
    region: str
    name: str
    role: str
    region_role: str
    note: str = ""

    def line(self) -> str:
        text = f"{self.service} {self.kind} {self.name}" + (f" ({self.note})" if self.note else "")
        if not self.role:  # a stack: its resources carry the template's own tags, and the stack's
            return text
        return text + f"  [drtest:role={self.role} drtest:region-role={self.region_role}]"


@dataclass
class ScenarioPlan:
    scenario: str
    strategy: str
    regions: tuple[str, str]
    common_tags: dict[str, str]
    resources: list[Planned] = field(default_factory=list)
    faults: list[tuple[str, str]] = field(default_factory=list)  # (experiment, injection line)
    notes: list[str] = field(default_factory=list)


def planned_resources(topology: Topology, images: dict[str, str] | None = None) -> list[Planned]:
    """What :func:`~pytest_drtest.topology.build.build` and ``build_database`` create for ``topology``."""
    images = images or {}
    strategy, blueprint, name = topology.strategy, topology.blueprint, topology.name
    primary, dr = topology.primary_region, topology.dr_region
    out: list[Planned] = []

    def add(service: str, kind: str, region: str, ident: str, role: str, note: str = "") -> None:
        out.append(Planned(service, kind, region, ident, role, "primary" if region == primary else "dr", note))

    stacks = [(primary, "primary", blueprint.capacity)]
    if strategy.dr_capacity != "none":
        stacks.append((dr, "dr", dr_capacity(topology)))
    for index, (region, role, desired) in enumerate(stacks):
        base = f"{name}-{role}"
        add("ec2", "vpc", region, base, "vpc", f"10.{index}.0.0/16")
        for i, az in enumerate(zones(region)):
            add("ec2", "subnet", region, f"{base} {az}", "subnet", f"10.{index}.{i}.0/24")
        add("elbv2", "load-balancer", region, f"{base}-alb"[:32], "load-balancer", "application, internet-facing; listener HTTP:80")
        add("elbv2", "target-group", region, f"{base}-tg"[:32], "target-group", "HTTP:80, health check /health")
        add("ec2", "launch-template", region, f"{base}-lt", "launch-template",
            f"{blueprint.instance_type}, image {images.get(region, IMAGE_NAME)}")
        add("autoscaling", "group", region, f"{base}-asg", "web", f"desired {desired}; instances tagged the same")
    for table in blueprint.tables:
        physical = f"{name}-{table.name}"
        add("dynamodb", "table", primary, physical, "table", "on-demand, stream, PITR")
        if strategy.continuous_replication:
            add("dynamodb", "table", dr, physical, "table", f"global-table replica of {primary}")
    for bucket in blueprint.buckets:
        add("s3", "bucket", primary, f"{name}-{bucket.name}-{primary}", "bucket", "versioned")
        if strategy.continuous_replication:
            add("s3", "bucket", dr, f"{name}-{bucket.name}-{dr}", "bucket", f"versioned; CRR target of {primary}")
    add("route53", "hosted-zone", primary, blueprint.domain, "dns-zone", f"record {blueprint.fqdn} ({strategy.routing})")
    checked = [primary] if strategy.routing == "simple" else [primary, dr]
    for region in checked:
        add("route53", "health-check", region, f"{name}-{region}", "health-check", "HTTPS /health on the region's ALB")
    if strategy.name == "backup-restore":
        for region in (primary, dr):
            add("backup", "vault", region, f"{name}-vault", "backup-vault")
        add("backup", "plan", primary, f"{name}-plan", "backup-plan", f"{blueprint.backup_schedule}, copies to {dr}")
        add("s3", "bucket", dr, f"{name}-archive-{dr}", "bucket",
            f"versioned; {ARCHIVE_KEY} in GLACIER, restored ({blueprint.archive_restore_tier}) by the region-outage runbook")
    if blueprint.cache is not None and strategy.name in CACHE_STRATEGIES:
        cache = blueprint.cache
        add("elasticache", "replication-group", primary, f"{name}-cache", "cache",
            f"{cache.engine} {cache.node_type}, Multi-AZ, 1 replica; global datastore with {dr}")
        add("elasticache", "replication-group", dr, f"{name}-cache-dr", "cache", "secondary of the global datastore")
    if blueprint.dax is not None:
        from pytest_drtest.topology.dax import cluster_name

        probed = blueprint.tables[0].name if blueprint.tables else "app"
        for region in (primary, dr) if strategy.continuous_replication else (primary,):
            add("dax", "cluster", region, cluster_name(probed), "dax",
                f"{blueprint.dax.node_type} x {blueprint.dax.nodes}, in front of {name}-{probed}")
    if blueprint.cdn is not None:
        cdn = blueprint.cdn
        add("cloudfront", "distribution", "us-east-1", f"{name} (origin group primary -> dr ALB)", "cdn",
            f"failover on {', '.join(str(c) for c in cdn.failover_status_codes)} or {cdn.connection_attempts} x "
            f"{cdn.connection_timeout} s of connection attempts (on a real account the probes keep the web record)")
    database = blueprint.database
    if database is not None:
        ident = f"{name}-db"
        if strategy.name == "active-active":
            add("rds", "global-cluster", primary, f"{name}-global", "global-cluster", "aurora-postgresql")
            add("rds", "cluster", primary, ident, "cluster", "aurora-postgresql, Data API")
            add("rds", "db-instance", primary, f"{ident}-writer", "database", database.instance_class)
            add("rds", "db-instance", primary, f"{ident}-reader1", "database", database.instance_class)
            add("rds", "cluster", dr, f"{ident}-{dr}", "cluster", "secondary of the global database")
            add("rds", "db-instance", dr, f"{ident}-{dr}-reader1", "database", database.instance_class)
        else:
            add("rds", "db-instance", primary, ident, "database", f"postgres Multi-AZ, {database.instance_class}")
            if strategy.continuous_replication:
                klass = database.pilot_light_instance_class if strategy.name == "pilot-light" else database.instance_class
                add("rds", "db-instance", dr, f"{ident}-replica", "database", f"cross-region read replica, {klass}")
            else:
                add("rds", "db-snapshot", primary, f"{ident}-NNN", "snapshot",
                    f"every {database.snapshot_every}, copied to {dr} as {ident}-NNN-dr")
        if strategy.continuous_replication:
            add("route53", "health-check", primary, f"{name}-db", "health-check",
                f"TCP on the writer; failover record db.{blueprint.domain}")
    return out


def planned_stack(topology: Topology) -> list[Planned]:
    """The team's template on the account: one CloudFormation stack per region (the DR region's first),
    with the resources active there (:mod:`pytest_drtest.stacks.account`)."""
    from pytest_drtest.stacks.deploy import Deployment, StackSpec

    spec = topology.blueprint.stack
    assert isinstance(spec, StackSpec)
    out = []
    primary, dr = topology.primary_region, topology.dr_region
    for region, role, peer in ((dr, "dr", primary), (primary, "primary", dr)):
        deployment = Deployment(None, spec, region, role, peer, account=topology.account, stack_name=topology.name)
        _, order = deployment.plan(None)
        resources = [f"{n} ({spec.template.resources[n]['Type']})" for n in order] + deployment.ignored
        out.append(Planned("cloudformation", "stack", region, f"{topology.name}-{role}", "", role,
                           f"CreateStack from {spec.source}, then UpdateStack while Peer parameters change; "
                           f"{len(resources)} resources: {', '.join(resources)}"))
    return out


def plan_scenario(scenario: Scenario, clients: Any, account: str, fis_role: str | None) -> ScenarioPlan:
    """The plan of one scenario; read calls only (``DescribeImages``, ``GetRole``)."""
    from pytest_drtest.measure import Timeline
    from pytest_drtest.topology.model import RegionStack, Topology

    primary, dr = scenario.primary_region, scenario.dr_region
    topology = Topology(
        name=f"dr-{scenario.strategy.name}"[:24], blueprint=scenario.blueprint, strategy=scenario.strategy,
        primary_region=primary, dr_region=dr, clients=clients, clock=None, profile=None,  # type: ignore[arg-type]
        timeline=Timeline(), regions={primary: RegionStack(primary, "primary"), dr: RegionStack(dr, "dr")},
        run_id=RUN_PLACEHOLDER, account=account,
    )
    common = {**dict(scenario.blueprint.tags), "drtest:topology": topology.name, "drtest:strategy": scenario.strategy.name,
              RUN_TAG: RUN_PLACEHOLDER}
    plan = ScenarioPlan(scenario.name, scenario.strategy.name, (primary, dr), common)
    images: dict[str, str] = {}
    compute = [primary] + ([dr] if scenario.strategy.dr_capacity != "none" else [])
    if scenario.blueprint.stack is not None:
        compute = []  # the template names its images (an empty AWS::EC2::Image::Id: the newest at deployment)
    for region in compute:
        newest = newest_image(clients.client("ec2", region))
        if newest is not None:
            images[region] = f"{newest['ImageId']} ({newest.get('Name', '')})"
        else:
            plan.notes.append(f"no image named {IMAGE_NAME} in {region}: the launch template would have none")
    plan.resources = planned_stack(topology) if scenario.blueprint.stack is not None else planned_resources(topology, images)
    run = RunContext(RUN_PLACEHOLDER, primary, dr, account, fis_role or "<--dr-aws-fis-role>", alarm_name(RUN_PLACEHOLDER))
    uses_fis = False
    for experiment in scenario.experiments:
        injection = injection_for(experiment.fault, run, topology)
        uses_fis = uses_fis or injection.how == FIS
        plan.faults.append((experiment.name, injection.line()))
    if uses_fis:
        alarm = stop_alarm(run)
        plan.resources.append(Planned(
            "cloudwatch", "alarm", primary, alarm["AlarmName"], "stop-condition", "primary",
            f"{alarm['Namespace']} {alarm['MetricName']} >= 100 % for {alarm['EvaluationPeriods']} min: the FIS stop condition"))
        plan.resources.append(Planned("fis", "experiment-template", primary, "one per FIS experiment", "fault", "primary",
                                      f"role {run.role_arn}"))
        if fis_role:
            plan.notes.extend(check_role(clients, fis_role))
    return plan


def check_role(clients: Any, role_arn: str) -> list[str]:
    """Whether the FIS role exists (IAM ``GetRole``); a note when it does not."""
    name = role_arn.rsplit("/", 1)[-1]
    try:
        clients.client("iam", "us-east-1").get_role(RoleName=name)
    except botocore.exceptions.ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        return [f"the FIS role {role_arn} cannot be read ({code}): FIS would refuse the templates"]
    return []


def plan_lines(plans: list[ScenarioPlan], account: str) -> list[str]:
    lines = [f"account {account}; nothing below has been created: --dr-plan makes read calls only"]
    for plan in plans:
        lines.append("")
        lines.append(f"scenario {plan.scenario} ({plan.strategy}) in {plan.regions[0]} + {plan.regions[1]}: "
                     f"each experiment builds these, faults them, then deletes them")
        lines.append("  tags on every resource: " + " ".join(f"{k}={v}" for k, v in plan.common_tags.items())
                     + f" (a new {RUN_PLACEHOLDER} per experiment)")
        by_region: dict[str, list[Planned]] = {}
        for resource in plan.resources:
            by_region.setdefault(resource.region, []).append(resource)
        for region, resources in by_region.items():
            lines.append(f"  create in {region}:")
            for resource in sorted(resources, key=lambda r: (r.service, r.kind)):
                lines.append(f"    {resource.line()}")
        lines.append("  faults:")
        for experiment, line in plan.faults:
            lines.append(f"    {experiment}: {line}")
        lines.append(
            f"  teardown (after each experiment, also when it fails or is interrupted): every resource tagged "
            f"{RUN_TAG}={RUN_PLACEHOLDER} in {plan.regions[0]}, {plan.regions[1]} and Route 53, found with "
            "GetResources (Resource Groups Tagging API), Auto Scaling DescribeTags, EC2 DescribeLaunchTemplates, FIS "
            "ListExperimentTemplates and Route 53 ListTagsForResources, deleted in this order: " + ", ".join(DELETERS)
            + "; what cannot be deleted is listed")
        for note in plan.notes:
            lines.append(f"  NOTE: {note}")
    return lines
