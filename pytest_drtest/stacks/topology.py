"""A CloudFormation stack as the topology: the blueprint read from the template, and the deployed
resources mapped onto the regions' stacks through their ``drtest:role`` / ``drtest:region-role``
tags (the tags the shipped topologies put on every resource) or the scenario's ``[roles]`` table.

Roles: ``vpc``, ``subnet``, ``load-balancer``, ``target-group``, ``web`` (the Auto Scaling group),
``health-check``, ``table``, ``bucket``, ``database`` (an RDS instance, or an Aurora cluster's
instance), ``cluster`` (an Aurora cluster: the region's database), ``database-secret`` (the
cluster's credentials for the Data API), ``archive`` (the DR region's bucket of the release
archive, backup & restore), ``dns-zone``; ``web-record`` names the record of the web tier (by
default the record set whose ``Failover`` is ``PRIMARY``, else the one without routing, else the
first latency record). A global cluster, a backup vault and a backup plan are found by their type.
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

ROLES = ("vpc", "subnet", "load-balancer", "target-group", "web", "health-check", "table", "bucket", "database", "cluster",
         "cache", "dax", "cdn",
         "database-secret", "archive", "dns-zone", "web-record", "launch-template", "listener")
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
    if isinstance(rows, dict):  # a key -> value object (AWS::DAX::Cluster, AWS::Backup::*)
        return {str(k): str(v) for k, v in rows.items()}
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
    cluster: tuple[str, str] | None = None  # (logical ID, database name) of the primary's Aurora cluster
    member_class: dict[str, str] = {}  # Aurora cluster -> its instances' class
    capacity = None
    instance_type = "t3.micro"
    domain: str | None = None
    records: list[tuple[int, int, str]] = []  # (rank, order, name): the web record is the best ranked, then first
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
            primary = deployment.role == "primary"
            if role == "table" and primary:
                hash_key = next((k["AttributeName"] for k in props.get("KeySchema", []) if k.get("KeyType") == "HASH"), "pk")
                tables.append(TableSpec(_table_name(logical, tags), str(hash_key),
                                        _count(tags.get("drtest:seed-items"), template, f"{where}.Tags")))
            elif role == "bucket" and primary:
                buckets.append(BucketSpec(_table_name(logical, tags), _count(tags.get("drtest:seed-objects"), template, f"{where}.Tags")))
            elif kind == "AWS::RDS::DBCluster" and role in ("cluster", "database") and primary:
                cluster = (logical, str(props.get("DatabaseName") or "postgres"))
            elif kind == "AWS::RDS::DBInstance" and props.get("DBClusterIdentifier") and primary:
                member_class.setdefault(_logical_ref(template, logical, "DBClusterIdentifier"), str(props.get("DBInstanceClass")))
            elif role == "database" and primary and not props.get("SourceDBInstanceIdentifier"):
                database = DatabaseSpec(name=str(props.get("DBName") or "postgres"), instance_class=str(props["DBInstanceClass"]))
            elif role == "web" and primary:
                value = props.get("DesiredCapacity", props.get("MinSize"))
                if isinstance(value, Pending) or not str(value).isdigit():
                    raise DrConfigError(f"expected a number of instances, got {value}", source=template.source,
                                        field=f"{where}.Properties.DesiredCapacity")
                capacity = int(str(value))
            elif kind == "AWS::Route53::HostedZone":
                domain = str(props["Name"]).rstrip(".")
            elif kind == "AWS::EC2::LaunchTemplate" and isinstance((props.get("LaunchTemplateData") or {}).get("InstanceType"), str):
                instance_type = props["LaunchTemplateData"]["InstanceType"]
            if kind == "AWS::Route53::RecordSet":
                rank = (0 if role == "web-record" else 1 if props.get("Failover") == "PRIMARY" else
                        2 if "SetIdentifier" not in props else 3 if "Region" in props else None)
                if rank is not None and (role is None or role == "web-record"):
                    records.append((rank, len(records), str(props["Name"]).rstrip(".")))
    if cluster is not None:
        database = DatabaseSpec(name=cluster[1], instance_class=member_class.get(cluster[0], DatabaseSpec.instance_class))
    record = min(records)[2] if records else None
    if not tables:
        raise DrConfigError("expected at least one table (a DynamoDB table or global table tagged drtest:role = table, or "
                            "named in [roles]): the probes write to the first", source=template.source, field="Resources")
    if domain is None or record is None:
        raise DrConfigError("expected an AWS::Route53::HostedZone and the web tier's record set (Failover PRIMARY, simple "
                            "or latency routing, or drtest role web-record in [roles])", source=template.source, field="Resources")
    if not record.endswith("." + domain):
        raise DrConfigError(f"the web record {record!r} is not in the zone {domain!r}", source=template.source, field="Resources")
    slug = re.sub(r"[^a-z0-9-]", "-", name.lower()).strip("-")[:31] or "stack"
    return Blueprint(
        name=slug if len(slug) > 1 else f"{slug}-stack", source=template.source, domain=domain,
        record=record[: -len(domain) - 1], instance_type=instance_type, capacity=capacity or 1, tables=tuple(tables),
        buckets=tuple(buckets), database=database, stack=spec,
    )


def check_strategy(blueprint: Blueprint, strategy: str, source: str = "") -> None:
    """A template that declares a ``Strategy`` parameter (the shipped one does) is built for one DR
    strategy: its value (the parameters file's, else the default) must be the test's strategy, or
    the figures would be those of another design."""
    spec = blueprint.stack
    if not isinstance(spec, StackSpec) or "Strategy" not in spec.template.parameters:
        return
    template = spec.template
    value = template.given.get("Strategy", str(template.parameters["Strategy"].get("Default", "")))
    if value != strategy:
        from pytest_drtest.topology.blueprint import shipped_parameters

        where = template.parameters_source or template.source
        shipped = ", ".join(sorted(shipped_parameters()))
        raise DrConfigError(
            f"the template {Path(template.source).name} is deployed with Strategy {value!r} but the strategy is "
            f"{strategy!r}: give Strategy {strategy!r} in the parameters file (shipped: {shipped})",
            source=source or where, field="parameters")


def _logical_ref(template: Template, logical: str, key: str) -> str:
    """The logical ID a resource's property refers to with ``Ref`` (``""`` when it is not a Ref)."""
    value = (template.resources[logical].get("Properties") or {}).get(key)
    return str(value["Ref"]) if isinstance(value, dict) and "Ref" in value else ""


def deploy_stack(topology: Topology) -> list[str]:
    """Deploy the blueprint's template in both regions and fill the topology from what was created;
    return what was ignored (types neither moto's CloudFormation nor the plugin deploys)."""
    from pytest_drtest.topology.build import (
        account_of,
        create_ledger_table,
        db_target,
        put_release_archive,
        start_snapshot_job,
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
            if stack.dax is not None:
                topology.app_config[region]["dax"] = stack.dax
    if topology.blueprint.database is not None and topology.primary.database is not None:
        clusters = {c.physical for c in primary.created.values() if c.kind == "AWS::RDS::DBCluster"}
        kind = "cluster" if topology.primary.database in clusters else "instance"
        writer = db_target(topology, topology.primary_region, topology.primary.database, kind)
        create_ledger_table(topology, writer)
        for region in regions:
            topology.app_config.setdefault(region, {})["db"] = writer  # the DR app writes across regions
        if kind == "instance" and topology.dr.database is None and not topology.strategy.continuous_replication:
            start_snapshot_job(topology, topology.primary.database)  # backup & restore: the team's snapshot job
    if topology.dr.archive is not None:
        put_release_archive(topology)
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
    if kind == "AWS::RDS::GlobalCluster":
        topology.global_cluster = physical
        return
    if kind == "AWS::Backup::BackupPlan":
        topology.backup_plan_id = physical
        return
    if kind == "AWS::ElastiCache::GlobalReplicationGroup":
        topology.cache_global = physical
        return
    if kind == "AWS::CloudFront::Distribution":  # global: in front of both regions' load balancers
        if role == "cdn" and attributes.get("DomainName"):
            topology.cdn_id, topology.cdn_domain = physical, str(attributes["DomainName"]).lower()
        return
    stack = _place(topology, deployment.region, tags)
    if kind == "AWS::Backup::BackupVault":
        stack.vault = physical
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
    elif role == "archive":
        stack.archive = physical
    elif role == "cluster" or (role == "database" and not props.get("DBClusterIdentifier")):
        stack.database = physical  # an RDS instance or an Aurora cluster (not an Aurora instance: its cluster is)
    elif role == "database-secret":
        stack.database_secret = physical
    elif role == "cache":
        stack.cache = physical  # an ElastiCache replication group (the runbooks fail its global datastore over)
    elif role == "dax":
        stack.dax = physical  # the DAX cluster the region's application reads and writes the probe table through
    elif role == "dns-zone" or kind == "AWS::Route53::HostedZone":
        topology.zone_id = physical
    if kind == "AWS::Route53::RecordSet" and str(props["Name"]).rstrip(".") == topology.blueprint.fqdn:
        topology.fqdn = topology.blueprint.fqdn


def _place(topology: Topology, region: str, tags: dict[str, str]) -> RegionStack:
    """The region stack a resource belongs to: its ``drtest:region-role`` tag, else where it was deployed."""
    which = tags.get("drtest:region-role")
    return topology.stack(which) if which in ("primary", "dr") else topology.stack(region)
