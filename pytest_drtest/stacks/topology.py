"""A CloudFormation stack as the topology: the blueprint read from the template, and the deployed
resources mapped onto the regions' stacks through their ``drtest:role`` / ``drtest:region-role``
tags (the tags the shipped topologies put on every resource) or the scenario's ``[roles]`` table.

Roles: ``vpc``, ``subnet``, ``load-balancer``, ``target-group``, ``web`` (the Auto Scaling group),
``health-check``, ``table``, ``bucket``, ``database``, ``dns-zone``; ``web-record`` names the
failover record of the web tier (by default the record set whose ``Failover`` is ``PRIMARY``).
A table's or bucket's name in the topology (what faults and restore checks name) is its
``drtest:name`` tag, else its logical ID in lowercase; ``drtest:seed-items`` (tables) and
``drtest:seed-objects`` (buckets) say how many seed items the harness writes.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pytest_drtest.errors import DrConfigError, DrError
from pytest_drtest.stacks.deploy import MAX_PASSES, Deployment, StackSpec
from pytest_drtest.stacks.intrinsics import Pending
from pytest_drtest.stacks.template import Template, load_template
from pytest_drtest.topology.blueprint import (
    Blueprint,
    BucketSpec,
    DatabaseSpec,
    TableSpec,
)
from pytest_drtest.topology.model import RegionStack, Topology

ROLES = ("vpc", "subnet", "load-balancer", "target-group", "web", "health-check", "table", "bucket", "database", "dns-zone",
         "web-record", "launch-template", "listener")
PLAN_REGIONS = ("us-east-1", "us-west-2")
_TAG_KEYS = {"AWS::Route53::HostedZone": "HostedZoneTags", "AWS::Route53::HealthCheck": "HealthCheckTags"}


def load_stack(path: Path, parameters: Path | None = None, roles: dict[str, Any] | None = None,
               *, roles_source: str = "") -> StackSpec:
    """Read a template (and its parameters file) and check it for both regions; nothing is created."""
    template = load_template(path, parameters)
    checked: list[tuple[str, str]] = []
    for logical, role in (roles or {}).items():
        where = f"roles.{logical}"
        if logical not in template.resources:
            raise DrConfigError(f"unknown resource {logical!r}; the template {template.source} has: "
                                f"{', '.join(template.resources)}", source=roles_source or template.source, field=where)
        if role not in ROLES:
            raise DrConfigError(f"expected one of: {', '.join(ROLES)}, got {role!r}", source=roles_source or template.source, field=where)
        checked.append((logical, str(role)))
    spec = StackSpec(template, tuple(checked))
    stack_blueprint(spec, path.stem)  # every error now, before anything is built
    return spec


def _tags(kind: str, properties: dict[str, Any]) -> dict[str, str]:
    rows = properties.get(_TAG_KEYS.get(kind, "Tags")) or []
    return {str(t.get("Key")): str(t.get("Value")) for t in rows if isinstance(t, dict)}


def role_of(spec: StackSpec, logical: str, kind: str, properties: dict[str, Any]) -> str | None:
    roles = dict(spec.roles)
    if logical in roles:
        return roles[logical]
    return _tags(kind, properties).get("drtest:role")


def _table_name(logical: str, tags: dict[str, str]) -> str:
    return tags.get("drtest:name") or logical.lower()


def _count(value: str | None, template: Template, where: str) -> int:
    if value is None:
        return 0
    if not re.fullmatch(r"\d{1,5}", value) or int(value) > 10000:
        raise DrConfigError(f"expected 0 to 10000, got {value!r}", source=template.source, field=where)
    return int(value)


def stack_blueprint(spec: StackSpec, name: str, regions: tuple[str, str] = PLAN_REGIONS) -> Blueprint:
    """The blueprint of a template: its tables, buckets, database, capacity, domain and record, from
    a check of both regional deployments (no resource exists yet: their values are pending)."""
    template = spec.template
    plans = []
    for region, region_role, peer in ((regions[1], "dr", regions[0]), (regions[0], "primary", regions[1])):
        deployment = Deployment(None, spec, region, region_role, peer)
        scope, order = deployment.plan(None)
        resolved = {n: scope.resolve(template.resources[n].get("Properties", {}), f"Resources.{n}.Properties") for n in order}
        plans.append((deployment, resolved))
    tables: list[TableSpec] = []
    buckets: list[BucketSpec] = []
    database = None
    capacity = None
    instance_type = "t3.micro"
    domain: str | None = None
    record: str | None = None
    for deployment, resolved in plans:
        for logical, props in resolved.items():
            kind = template.resources[logical]["Type"]
            role: str | None = role_of(spec, logical, kind, props)
            tags = _tags(kind, props)
            where = f"Resources.{logical}"
            if kind == "AWS::DynamoDB::GlobalTable" and role is None:
                own: dict[str, Any] = next((r for r in props.get("Replicas", []) if r.get("Region") == deployment.region), {})
                tags = _tags(kind, own)
                role = dict(spec.roles).get(logical, tags.get("drtest:role"))
            if role == "table" and deployment.role == "primary":
                hash_key = next((k["AttributeName"] for k in props.get("KeySchema", []) if k.get("KeyType") == "HASH"), "pk")
                tables.append(TableSpec(_table_name(logical, tags), str(hash_key),
                                        _count(tags.get("drtest:seed-items"), template, f"{where}.Tags")))
            elif role == "bucket" and deployment.role == "primary":
                buckets.append(BucketSpec(_table_name(logical, tags), _count(tags.get("drtest:seed-objects"), template, f"{where}.Tags")))
            elif role == "database" and deployment.role == "primary" and not props.get("SourceDBInstanceIdentifier"):
                database = DatabaseSpec(name=str(props.get("DBName") or "postgres"), instance_class=str(props["DBInstanceClass"]))
            elif role == "web" and deployment.role == "primary":
                value = props.get("DesiredCapacity", props.get("MinSize"))
                if isinstance(value, Pending) or not str(value).isdigit():
                    raise DrConfigError(f"expected a number of instances, got {value}", source=template.source,
                                        field=f"{where}.Properties.DesiredCapacity")
                capacity = int(str(value))
            elif kind == "AWS::Route53::HostedZone":
                domain = str(props["Name"]).rstrip(".")
            elif kind == "AWS::EC2::LaunchTemplate" and isinstance((props.get("LaunchTemplateData") or {}).get("InstanceType"), str):
                instance_type = props["LaunchTemplateData"]["InstanceType"]
            if kind == "AWS::Route53::RecordSet" and (role == "web-record" or (role is None and props.get("Failover") == "PRIMARY")):
                record = str(props["Name"]).rstrip(".")
    if not tables:
        raise DrConfigError("expected at least one table (a DynamoDB table or global table tagged drtest:role = table, or "
                            "named in [roles]): the probes write to the first", source=template.source, field="Resources")
    if domain is None or record is None:
        raise DrConfigError("expected an AWS::Route53::HostedZone and the web tier's record set (Failover PRIMARY, or "
                            "drtest role web-record in [roles])", source=template.source, field="Resources")
    if not record.endswith("." + domain):
        raise DrConfigError(f"the web record {record!r} is not in the zone {domain!r}", source=template.source, field="Resources")
    slug = re.sub(r"[^a-z0-9-]", "-", name.lower()).strip("-")[:31] or "stack"
    return Blueprint(
        name=slug if len(slug) > 1 else f"{slug}-stack", source=template.source, domain=domain,
        record=record[: -len(domain) - 1], instance_type=instance_type, capacity=capacity or 1, tables=tuple(tables),
        buckets=tuple(buckets), database=database, stack=spec,
    )


def deploy_stack(topology: Topology) -> list[str]:
    """Deploy the blueprint's template in both regions and fill the topology from what was created;
    return what was ignored (types neither moto's CloudFormation nor the plugin deploys)."""
    from pytest_drtest.topology.build import (
        account_of,
        create_ledger_table,
        db_target,
        wait_replicas_active,
    )

    spec = topology.blueprint.stack
    assert isinstance(spec, StackSpec)
    regions = (topology.primary_region, topology.dr_region)
    stack_blueprint(spec, topology.blueprint.name, regions)  # the real regions: checked before anything exists
    account = account_of(topology)
    primary = Deployment(topology, spec, topology.primary_region, "primary", topology.dr_region, account=account,
                         stack_name=topology.name)
    dr = Deployment(topology, spec, topology.dr_region, "dr", topology.primary_region, account=account, stack_name=topology.name)
    for done in range(MAX_PASSES):
        new = dr.apply(primary.outputs) + primary.apply(dr.outputs)
        if not new and done:
            break
    else:
        raise DrError(f"{spec.source}: still creating resources after {MAX_PASSES} passes over both regions")
    ignored = sorted(set(primary.ignored) | set(dr.ignored))
    for deployment in (dr, primary):
        for created in deployment.created.values():
            _map(topology, spec, deployment, created.logical, created.kind, created.physical, created.properties, created.attributes)
    if not topology.primary.tables:
        raise DrConfigError("no table of the primary region has drtest:region-role primary", source=spec.source, field="Resources")
    wait_replicas_active(topology)
    for region, stack in topology.regions.items():
        if topology.probe_table in stack.tables:
            topology.app_config.setdefault(region, {})["table"] = stack.tables[topology.probe_table]
    if topology.blueprint.database is not None and topology.primary.database is not None:
        writer = db_target(topology, topology.primary_region, topology.primary.database, "instance")
        create_ledger_table(topology, writer)
        for region in regions:
            topology.app_config.setdefault(region, {})["db"] = writer  # the DR app writes across regions
    if ignored:
        topology.note("stack-ignored", ", ".join(ignored))
        print(f"pytest-drtest: {spec.source}: not deployed (no emulation of these types): {', '.join(ignored)}")
    topology.note("topology-built", f"{topology.name} from {spec.source}")
    return ignored


def _map(topology: Topology, spec: StackSpec, deployment: Deployment, logical: str, kind: str, physical: str,
         props: dict[str, Any], attributes: dict[str, Any]) -> None:
    role = role_of(spec, logical, kind, props)
    tags = _tags(kind, props)
    if kind == "AWS::DynamoDB::GlobalTable":
        for replica in props.get("Replicas", []):
            replica_tags = _tags(kind, replica)
            if (dict(spec.roles).get(logical) or replica_tags.get("drtest:role")) == "table":
                _place(topology, str(replica["Region"]), replica_tags).tables[_table_name(logical, replica_tags)] = physical
        return
    stack = _place(topology, deployment.region, tags)
    if kind == "AWS::ElasticLoadBalancingV2::Listener":  # how clients reach the web tier (an HTTPS one wins)
        protocol = str(props.get("Protocol", "HTTP")).upper()
        if stack.listener is None or (protocol == "HTTPS" and stack.listener[0] != "HTTPS"):
            stack.listener = (protocol, int(str(props.get("Port", 443 if protocol == "HTTPS" else 80))))
    if role == "vpc":
        stack.vpc_id = physical
    elif role == "subnet":
        stack.subnets[str(attributes["AvailabilityZone"])] = physical
    elif role == "load-balancer":
        stack.alb_arn, stack.alb_dns = physical, str(attributes["DNSName"])
    elif role == "target-group":
        stack.target_group_arn = physical
    elif role == "web":
        stack.asg_name, stack.capacity = physical, int(str(props.get("DesiredCapacity", props["MinSize"])))
    elif role == "health-check":
        stack.health_check_id = physical
    elif role == "table":
        stack.tables[_table_name(logical, tags)] = physical
    elif role == "bucket":
        stack.buckets[_table_name(logical, tags)] = physical
    elif role == "database":
        stack.database = physical
    elif role == "dns-zone" or kind == "AWS::Route53::HostedZone":
        topology.zone_id = physical
    if kind == "AWS::Route53::RecordSet" and str(props["Name"]).rstrip(".") == topology.blueprint.fqdn:
        topology.fqdn = topology.blueprint.fqdn


def _place(topology: Topology, region: str, tags: dict[str, str]) -> RegionStack:
    """The region stack a resource belongs to: its ``drtest:region-role`` tag, else where it was deployed."""
    which = tags.get("drtest:region-role")
    return topology.stack(which) if which in ("primary", "dr") else topology.stack(region)
