"""Deploy a CloudFormation template in both regions of the emulated world and map it onto a Topology.

Who creates what:

* moto's CloudFormation (``CreateStack``) deploys the types it implements and that no emulator
  watches the creation of (:data:`MOTO_TYPES`: VPCs, launch templates, target groups, security
  groups...): one stack per region, created in the region's first pass;
* the plugin creates the others through the AWS API (:data:`API_TYPES`), so that the emulation
  sees them as it sees any team's calls: subnets (their AZ), load balancers and Auto Scaling
  groups (instances, target health), DynamoDB tables and global tables (``UpdateTable``
  ``ReplicaUpdates``; moto's CloudFormation has no ``AWS::DynamoDB::GlobalTable``), buckets and
  their replication, RDS instances and read replicas, Aurora global databases, clusters and their
  instances (PostgreSQL behind them), Secrets Manager secrets, AWS Backup vaults, plans and
  selections (run on the clock), Route 53 zones, health checks and records;
* any other type is ignored, and listed (``stack-ignored`` on the timeline, and printed).

Both regions deploy the same template. The parameters ``RegionRole`` (``primary`` or ``dr``) and
``PeerRegion`` get their values from the plugin when the template declares them; a parameter
named ``Peer<Output>`` gets the other region's output ``<Output>`` (``""`` until that region has
deployed it). The DR region deploys first (what the primary replicates into must exist), then the
primary, then each again with the other's outputs, until a pass creates nothing: the resources a
condition on a ``Peer...`` parameter held back are created then. A resource once created is not
updated (CloudFormation would update it; this deployment refuses a changed resource instead).
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from pytest_drtest.errors import DrConfigError, DrError
from pytest_drtest.regions import zones
from pytest_drtest.stacks.intrinsics import Pending, Scope, references
from pytest_drtest.stacks.template import Template
from pytest_drtest.topology.model import Topology

PLAN_ACCOUNT = "123456789012"
MAX_PASSES = 4

#: Deployed by moto's CloudFormation: type -> attributes (``Fn::GetAtt``) it answers.
MOTO_TYPES: dict[str, tuple[str, ...]] = {
    "AWS::EC2::VPC": (),
    "AWS::EC2::SecurityGroup": ("GroupId",),
    "AWS::EC2::InternetGateway": (),
    "AWS::EC2::VPCGatewayAttachment": (),
    "AWS::EC2::LaunchTemplate": ("LaunchTemplateId", "LatestVersionNumber", "DefaultVersionNumber"),
    "AWS::ElasticLoadBalancingV2::TargetGroup": (),
    "AWS::IAM::Role": ("Arn", "RoleId"),
}


@dataclass(frozen=True)
class StackSpec:
    """A template as a topology: the template, its parameters and the ``[roles]`` table."""

    template: Template
    roles: tuple[tuple[str, str], ...] = ()  # logical ID -> drtest role, over the template's tags

    @property
    def source(self) -> str:
        return self.template.source


@dataclass
class Created:
    logical: str
    kind: str
    physical: str
    region: str
    properties: dict[str, Any]
    attributes: dict[str, Any] = field(default_factory=dict)
    by: str = "api"  # "api" or "cloudformation"


class Deployment:
    """One region's deployment of the template."""

    def __init__(self, topology: Topology | None, spec: StackSpec, region: str, role: str, peer: str, *,
                 account: str = PLAN_ACCOUNT, stack_name: str = "drtest") -> None:
        self.topology = topology
        self.spec = spec
        self.template = spec.template
        self.region, self.role, self.peer = region, role, peer
        self.account = account
        self.stack_name = f"{stack_name}-{role}"
        self.created: dict[str, Created] = {}
        self.outputs: dict[str, str] = {}
        self.moto_stack: str | None = None
        self.ignored: list[str] = []

    # -- planning --------------------------------------------------------------------------------
    def parameters(self, peer_outputs: dict[str, str] | None) -> dict[str, str]:
        values: dict[str, str] = {}
        for name, declared in self.template.parameters.items():
            if name in self.template.given:
                values[name] = self.template.given[name]
            elif name == "RegionRole":
                values[name] = self.role
            elif name == "PeerRegion":
                values[name] = self.peer
            elif name.startswith("Peer") and peer_outputs is not None:
                values[name] = peer_outputs.get(name[4:], "")
            elif name.startswith("Peer"):
                values[name] = f"<peer:{name[4:]}>"  # planning: the peer will have answered something
            elif "Default" in declared:
                default = declared["Default"]
                values[name] = ",".join(map(str, default)) if isinstance(default, list) else str(default)
            elif declared.get("Type") == "AWS::EC2::Image::Id" and self.topology is not None:
                from pytest_drtest.topology.build import image_id

                values[name] = image_id(self.topology, self.region)  # as the console's AMI picker would
            elif declared.get("Type") == "AWS::EC2::Image::Id":
                values[name] = "ami-plan"
            else:
                continue  # an error where it is used (Scope.ref)
            self._check_parameter(name, declared, values[name])
        return values

    def _check_parameter(self, name: str, declared: dict[str, Any], value: str) -> None:
        allowed = declared.get("AllowedValues")
        if isinstance(allowed, list) and value not in [str(a) for a in allowed] and not value.startswith("<peer:"):
            where = self.template.parameters_source or self.template.source
            raise DrConfigError(f"parameter {name}: expected one of {', '.join(map(str, allowed))}, got {value!r}",
                                source=where, field=name)
        if declared.get("Type") == "Number":
            try:
                float(value)
            except ValueError:
                raise DrConfigError(f"parameter {name}: expected a Number, got {value!r}",
                                    source=self.template.parameters_source or self.template.source, field=name) from None

    def scope(self, peer_outputs: dict[str, str] | None) -> Scope:
        resources = self.template.resources
        scope = Scope(
            source=self.template.source, body=self.template.body, parameters=self.parameters(peer_outputs),
            region=self.region, account=self.account, stack_name=self.stack_name, zones=tuple(zones(self.region)),
            known_attributes=lambda logical: attributes_of(resources[logical]["Type"]),
        )
        for logical, done in self.created.items():
            scope.refs[logical] = done.physical
            scope.attributes[logical] = done.attributes
        scope.evaluate_conditions()
        return scope

    def plan(self, peer_outputs: dict[str, str] | None) -> tuple[Scope, list[str]]:
        """Check every active resource (conditions, intrinsics, references, who deploys it); return
        the scope and the resources in the order they can be created."""
        scope = self.scope(peer_outputs)
        resources = self.template.resources
        active = [n for n, r in resources.items() if "Condition" not in r or scope.conditions[r["Condition"]]]
        self.ignored = [f"{n} ({resources[n]['Type']})" for n in active if kind_of(resources[n]["Type"]) is None]
        deploys = [n for n in active if kind_of(resources[n]["Type"]) is not None]
        depends: dict[str, set[str]] = {}
        for name in deploys:
            resource = resources[name]
            where = f"Resources.{name}"
            deps = {d for d in references(resource.get("Properties", {}), scope.conditions) if d in resources}
            listed = resource.get("DependsOn", [])
            deps |= {listed} if isinstance(listed, str) else set(listed)
            for dep in sorted(deps):
                if dep not in deploys:
                    why = "its condition is false here" if dep not in active else f"{resources[dep]['Type']} is not deployed"
                    raise DrConfigError(f"refers to {dep}, which is not created in {self.region} ({why})",
                                        source=self.template.source, field=f"{where}.Properties")
                if resources[name]["Type"] in MOTO_TYPES and resources[dep]["Type"] not in MOTO_TYPES:
                    raise DrConfigError(
                        f"{resources[name]['Type']} is deployed by moto's CloudFormation, before the resources the "
                        f"plugin creates: expected it to refer to parameters and to {', '.join(sorted(MOTO_TYPES))} "
                        f"only, not to {dep} ({resources[dep]['Type']})", source=self.template.source, field=where)
            if resources[name]["Type"] in MOTO_TYPES:
                peer = sorted(p for p in self._parameters_used(resource) if p.startswith("Peer") and p in self.template.parameters)
                if peer:
                    raise DrConfigError(
                        f"{resources[name]['Type']} is deployed by moto's CloudFormation in the region's first pass: expected "
                        f"it not to depend on {peer[0]} (the other region's output; stack updates are not supported)",
                        source=self.template.source, field=where)
            depends[name] = deps
            properties = scope.resolve(resource.get("Properties", {}), f"{where}.Properties")
            kind = API_TYPES.get(resource["Type"])
            if kind is not None:
                kind.check(self, name, properties, f"{where}.Properties")
        return scope, _order(deploys, depends, self.template)

    def _parameters_used(self, resource: dict[str, Any]) -> set[str]:
        """Names a resource's properties and condition refer to, through the conditions they use."""
        conditions = self.template.body.get("Conditions") or {}
        found = references(resource.get("Properties", {}))
        todo = [resource["Condition"]] if "Condition" in resource else []
        todo += _condition_names(resource.get("Properties", {}))
        seen: set[str] = set()
        while todo:
            name = todo.pop()
            if name in seen or name not in conditions:
                continue
            seen.add(name)
            found |= references(conditions[name])
            todo += _condition_names(conditions[name])
        return found

    # -- deployment ------------------------------------------------------------------------------
    def apply(self, peer_outputs: dict[str, str]) -> list[str]:
        """Create what is active and not created yet; return the logical IDs created."""
        assert self.topology is not None
        scope, order = self.plan(peer_outputs)
        resources = self.template.resources
        new = [n for n in order if n not in self.created]
        for name in order:
            if name in self.created and resources[name]["Type"] in API_TYPES:
                now = scope.resolve(resources[name].get("Properties", {}), f"Resources.{name}.Properties")
                if now != self.created[name].properties:
                    raise DrConfigError(
                        f"its properties changed between the deployments of {self.region} (a Peer parameter they "
                        "use got its value): updates are not supported; gate the resource with a condition on the "
                        "Peer parameter instead", source=self.template.source, field=f"Resources.{name}")
        moto = [n for n in new if resources[n]["Type"] in MOTO_TYPES]
        if moto:
            assert self.moto_stack is None, "plan() keeps the types moto deploys in the first pass"
            self._deploy_moto(scope, [n for n in order if resources[n]["Type"] in MOTO_TYPES])
        for name in new:
            if resources[name]["Type"] in MOTO_TYPES:
                continue
            where = f"Resources.{name}.Properties"
            properties = scope.resolve(resources[name].get("Properties", {}), where)
            pending = _pending(properties)
            if pending:
                raise DrConfigError(f"{pending} has no value yet", source=self.template.source, field=where)
            physical, attributes = API_TYPES[resources[name]["Type"]].create(self, name, properties)
            self.created[name] = Created(name, resources[name]["Type"], physical, self.region, properties, attributes)
            scope.refs[name], scope.attributes[name] = physical, attributes
        for key, output in self.template.outputs.items():
            if "Condition" in output and not scope.conditions.get(output["Condition"], False):
                continue
            value = scope.resolve(output["Value"], f"Outputs.{key}.Value")
            if not _pending(value):
                self.outputs[key] = ",".join(map(str, value)) if isinstance(value, list) else str(value)
        return new

    def _deploy_moto(self, scope: Scope, names: list[str]) -> None:
        """Create this region's stack in moto's CloudFormation with ``names``; read their
        physical IDs and attributes back from the stack's outputs."""
        assert self.topology is not None
        resources = self.template.resources
        body: dict[str, Any] = {"AWSTemplateFormatVersion": "2010-09-09", "Resources": {}, "Outputs": {}}
        for section in ("Mappings", "Conditions"):
            if section in self.template.body:
                body[section] = self.template.body[section]
        body["Parameters"] = {
            name: {"Type": "CommaDelimitedList" if isinstance(value, list) else "String"}
            for name, value in ((n, scope.parameters.get(n)) for n in self.template.parameters) if value is not None
        }
        for name in names:
            body["Resources"][name] = {k: v for k, v in resources[name].items() if k not in ("Condition", "DependsOn")}
            body["Outputs"][f"Ref{name}"] = {"Value": {"Ref": name}}
            for attribute in MOTO_TYPES[resources[name]["Type"]]:
                body["Outputs"][f"Att{name}{attribute}"] = {"Value": {"Fn::GetAtt": [name, attribute]}}
        cfn = self.topology.client("cloudformation", self.region)
        parameters = [{"ParameterKey": k, "ParameterValue": v} for k, v in scope.parameters.items() if k in body["Parameters"]]
        stack = cfn.create_stack(StackName=self.stack_name, TemplateBody=json.dumps(body), Parameters=parameters,
                                 Tags=[{"Key": "drtest:topology", "Value": self.topology.name}])["StackId"]
        self.moto_stack = str(stack)
        self.topology.cleanup.push(f"stack {self.stack_name} in {self.region}", partial(cfn.delete_stack, StackName=stack))
        described = cfn.describe_stacks(StackName=self.moto_stack)["Stacks"][0]
        if not described["StackStatus"].endswith("_COMPLETE") or "ROLLBACK" in described["StackStatus"]:
            raise DrError(f"stack {self.stack_name} in {self.region}: {described['StackStatus']} "
                          f"{described.get('StackStatusReason', '')}")
        outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
        physical = {r["LogicalResourceId"]: r["PhysicalResourceId"]
                    for r in cfn.describe_stack_resources(StackName=self.moto_stack)["StackResources"]}
        for name in names:
            if name in self.created:
                continue
            attributes = {a: outputs.get(f"Att{name}{a}") for a in MOTO_TYPES[resources[name]["Type"]]}
            ref = physical.get(name) or outputs[f"Ref{name}"]
            props = scope.resolve(resources[name].get("Properties", {}), f"Resources.{name}.Properties")
            self.created[name] = Created(name, resources[name]["Type"], ref, self.region, props, attributes, "cloudformation")
            scope.refs[name], scope.attributes[name] = ref, attributes


def _condition_names(node: Any) -> list[str]:
    """Conditions a fragment uses (``Condition``, ``Fn::If``)."""
    found: list[str] = []
    if isinstance(node, list):
        for value in node:
            found += _condition_names(value)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "Condition" and isinstance(value, str):
                found.append(value)
            elif key == "Fn::If" and isinstance(value, list) and value and isinstance(value[0], str):
                found.append(value[0])
                found += _condition_names(value[1:])
            else:
                found += _condition_names(value)
    return found


def _pending(value: Any) -> Pending | None:
    if isinstance(value, Pending):
        return value
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        for item in value:
            found = _pending(item)
            if found is not None:
                return found
    return None


def _order(names: list[str], depends: dict[str, set[str]], template: Template) -> list[str]:
    """Dependencies first, ties in template order; a cycle is an error naming its members."""
    done: list[str] = []
    left = list(names)
    while left:
        ready = [n for n in left if depends[n] <= set(done)]
        if not ready:
            raise DrConfigError(f"circular dependency between {', '.join(left)}", source=template.source, field="Resources")
        done += ready
        left = [n for n in left if n not in ready]
    return done


# -- the types the plugin creates -------------------------------------------------------------------
@dataclass(frozen=True)
class ApiType:
    attributes: tuple[str, ...]
    create: Callable[[Deployment, str, dict[str, Any]], tuple[str, dict[str, Any]]]
    required: tuple[str, ...] = ()
    validate: Callable[[Deployment, str, dict[str, Any], str], None] | None = None

    def check(self, deployment: Deployment, name: str, properties: dict[str, Any], where: str) -> None:
        for key in self.required:
            if key not in properties:
                raise DrConfigError(f"expected a {key} property", source=deployment.template.source, field=f"{where}.{key}")
        if self.validate is not None:
            self.validate(deployment, name, properties, where)


def _tags(properties: dict[str, Any], key: str = "Tags") -> list[dict[str, str]]:
    return [{"Key": str(t["Key"]), "Value": str(t["Value"])} for t in properties.get(key, []) or []]


def _int(value: Any) -> int:
    return int(str(value))


def _name(d: Deployment, logical: str, properties: dict[str, Any], key: str, limit: int = 63) -> str:
    if key in properties:
        return str(properties[key])
    assert d.topology is not None
    return re.sub(r"[^A-Za-z0-9-]", "-", f"{d.topology.name}-{d.role}-{logical}".lower())[:limit].strip("-")


def _subnet(d: Deployment, logical: str, p: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    assert d.topology is not None
    ec2 = d.topology.client("ec2", d.region)
    spec = [{"ResourceType": "subnet", "Tags": _tags(p)}] if p.get("Tags") else []
    subnet = ec2.create_subnet(VpcId=p["VpcId"], CidrBlock=p["CidrBlock"], AvailabilityZone=p.get("AvailabilityZone", ""),
                               TagSpecifications=spec)["Subnet"]
    d.topology.cleanup.push(f"subnet {subnet['SubnetId']}", partial(ec2.delete_subnet, SubnetId=subnet["SubnetId"]))
    return subnet["SubnetId"], {"AvailabilityZone": subnet["AvailabilityZone"], "VpcId": subnet["VpcId"],
                                "SubnetId": subnet["SubnetId"]}


def _load_balancer(d: Deployment, logical: str, p: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    assert d.topology is not None
    elb = d.topology.client("elbv2", d.region)
    kwargs: dict[str, Any] = {"Name": _name(d, logical, p, "Name", 32), "Subnets": p["Subnets"],
                              "Scheme": p.get("Scheme", "internet-facing"), "Type": p.get("Type", "application")}
    if p.get("Tags"):
        kwargs["Tags"] = _tags(p)
    if p.get("SecurityGroups"):
        kwargs["SecurityGroups"] = p["SecurityGroups"]
    lb = elb.create_load_balancer(**kwargs)["LoadBalancers"][0]
    arn = lb["LoadBalancerArn"]
    d.topology.cleanup.push(f"alb {arn}", partial(elb.delete_load_balancer, LoadBalancerArn=arn))
    return arn, {"DNSName": lb["DNSName"].lower(), "LoadBalancerName": lb["LoadBalancerName"],
                 "CanonicalHostedZoneID": lb.get("CanonicalHostedZoneId", ""),
                 "LoadBalancerFullName": arn.split(":loadbalancer/", 1)[-1], "LoadBalancerArn": arn}


def _listener(d: Deployment, logical: str, p: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    assert d.topology is not None
    elb = d.topology.client("elbv2", d.region)
    actions = [{k: v for k, v in a.items() if k in ("Type", "TargetGroupArn", "Order", "ForwardConfig", "FixedResponseConfig",
                                                     "RedirectConfig")} for a in p["DefaultActions"]]
    arn = elb.create_listener(LoadBalancerArn=p["LoadBalancerArn"], Protocol=p.get("Protocol", "HTTP"), Port=_int(p.get("Port", 80)),
                              DefaultActions=actions)["Listeners"][0]["ListenerArn"]
    d.topology.cleanup.push(f"listener {arn}", partial(elb.delete_listener, ListenerArn=arn))
    return arn, {"ListenerArn": arn}


def _auto_scaling_group(d: Deployment, logical: str, p: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    assert d.topology is not None
    asg = d.topology.client("autoscaling", d.region)
    name = _name(d, logical, p, "AutoScalingGroupName", 255)
    kwargs: dict[str, Any] = {"AutoScalingGroupName": name, "MinSize": _int(p["MinSize"]), "MaxSize": _int(p["MaxSize"])}
    if "DesiredCapacity" in p:
        kwargs["DesiredCapacity"] = _int(p["DesiredCapacity"])
    if "LaunchTemplate" in p:
        template = {k: str(v) for k, v in p["LaunchTemplate"].items() if k in ("LaunchTemplateId", "LaunchTemplateName", "Version")}
        kwargs["LaunchTemplate"] = template
    zones_ = p.get("VPCZoneIdentifier")
    if zones_:
        kwargs["VPCZoneIdentifier"] = ",".join(zones_) if isinstance(zones_, list) else str(zones_)
    for key in ("TargetGroupARNs", "HealthCheckType", "AvailabilityZones"):
        if key in p:
            kwargs[key] = p[key]
    if "HealthCheckGracePeriod" in p:
        kwargs["HealthCheckGracePeriod"] = _int(p["HealthCheckGracePeriod"])
    if p.get("Tags"):
        kwargs["Tags"] = [{"Key": str(t["Key"]), "Value": str(t["Value"]),
                           "PropagateAtLaunch": str(t.get("PropagateAtLaunch", "true")).lower() == "true"} for t in p["Tags"]]
    asg.create_auto_scaling_group(**kwargs)
    d.topology.cleanup.push(f"asg {name}", partial(asg.delete_auto_scaling_group, AutoScalingGroupName=name, ForceDelete=True))
    return name, {}


def _table(d: Deployment, logical: str, p: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """``AWS::DynamoDB::Table``, and ``AWS::DynamoDB::GlobalTable``: the table in this region, then
    ``UpdateTable`` ``ReplicaUpdates`` for the other replicas (version 2019.11.21 global tables,
    [DDB-DG:V2globaltables_HowItWorks])."""
    assert d.topology is not None
    ddb = d.topology.client("dynamodb", d.region)
    name = _name(d, logical, p, "TableName", 255)
    replicas = {str(r["Region"]): r for r in p.get("Replicas", [])}
    own = replicas.get(d.region, p)
    kwargs: dict[str, Any] = {"TableName": name, "KeySchema": p["KeySchema"], "AttributeDefinitions": p["AttributeDefinitions"],
                              "BillingMode": p.get("BillingMode", "PROVISIONED")}
    if "StreamSpecification" in p:
        kwargs["StreamSpecification"] = {"StreamEnabled": True, **p["StreamSpecification"]}
    if "ProvisionedThroughput" in p:
        kwargs["ProvisionedThroughput"] = {k: _int(v) for k, v in p["ProvisionedThroughput"].items()}
    if own.get("Tags"):
        kwargs["Tags"] = _tags(own)
    description = ddb.create_table(**kwargs)["TableDescription"]
    d.topology.cleanup.push(f"table {name}", partial(ddb.delete_table, TableName=name))
    if str((own.get("PointInTimeRecoverySpecification") or {}).get("PointInTimeRecoveryEnabled", "false")).lower() == "true":
        ddb.update_continuous_backups(TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
    for region, replica in replicas.items():
        if region == d.region:
            continue
        ddb.update_table(TableName=name, ReplicaUpdates=[{"Create": {"RegionName": region}}])
        d.topology.cleanup.push(f"replica {name} in {region}",
                                partial(ddb.update_table, TableName=name, ReplicaUpdates=[{"Delete": {"RegionName": region}}]))
        if replica.get("Tags"):
            there = d.topology.client("dynamodb", region)
            there.tag_resource(ResourceArn=there.describe_table(TableName=name)["Table"]["TableArn"], Tags=_tags(replica))
    return name, {"Arn": description["TableArn"], "StreamArn": description.get("LatestStreamArn", ""),
                  "TableId": description.get("TableId", "")}


def _bucket(d: Deployment, logical: str, p: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    assert d.topology is not None
    from pytest_drtest.topology.build import empty_and_delete_bucket

    s3 = d.topology.client("s3", d.region)
    name = _name(d, logical, p, "BucketName").lower()
    kwargs: dict[str, Any] = {"Bucket": name}
    if d.region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": d.region}
    s3.create_bucket(**kwargs)
    d.topology.cleanup.push(f"bucket {name}", partial(empty_and_delete_bucket, s3, name))
    if (p.get("VersioningConfiguration") or {}).get("Status"):
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": p["VersioningConfiguration"]["Status"]})
    if p.get("Tags"):
        s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": _tags(p)})
    replication = p.get("ReplicationConfiguration")
    if replication:
        rules = []
        for rule in replication["Rules"]:
            api = {("ID" if k == "Id" else k): v for k, v in rule.items()}
            if "Priority" in api:
                api["Priority"] = _int(api["Priority"])
            destination = dict(api["Destination"])
            for key, inner in (("ReplicationTime", "Time"), ("Metrics", "EventThreshold")):
                if key in destination and inner in destination[key]:
                    destination[key] = {**destination[key], inner: {"Minutes": _int(destination[key][inner]["Minutes"])}}
            api["Destination"] = destination
            rules.append(api)
        s3.put_bucket_replication(Bucket=name, ReplicationConfiguration={"Role": replication["Role"], "Rules": rules})
    return name, {"Arn": f"arn:aws:s3:::{name}", "DomainName": f"{name}.s3.amazonaws.com",
                  "RegionalDomainName": f"{name}.s3.{d.region}.amazonaws.com"}


def _bool(value: Any) -> bool:
    return str(value).lower() == "true"


def _db_instance(d: Deployment, logical: str, p: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """An RDS instance, a read replica when ``SourceDBInstanceIdentifier`` is set (an ARN for a
    cross-region one, whose region is the ARN's), or a member of an Aurora cluster when
    ``DBClusterIdentifier`` is set; waited for until ``available`` as CloudFormation does."""
    assert d.topology is not None
    rds = d.topology.client("rds", d.region)
    ident = _name(d, logical, p, "DBInstanceIdentifier").lower()
    tags = _tags(p)
    source = p.get("SourceDBInstanceIdentifier")
    if p.get("DBClusterIdentifier"):
        rds.create_db_instance(DBInstanceIdentifier=ident, DBClusterIdentifier=str(p["DBClusterIdentifier"]),
                               Engine=p["Engine"], DBInstanceClass=p["DBInstanceClass"], Tags=tags)
    elif source:
        kwargs: dict[str, Any] = {"DBInstanceIdentifier": ident, "SourceDBInstanceIdentifier": source, "Tags": tags}
        if "DBInstanceClass" in p:
            kwargs["DBInstanceClass"] = p["DBInstanceClass"]
        if str(source).startswith("arn:"):
            kwargs["SourceRegion"] = str(source).split(":")[3]
        rds.create_db_instance_read_replica(**kwargs)
    else:
        rds.create_db_instance(
            DBInstanceIdentifier=ident, Engine=p["Engine"], DBInstanceClass=p["DBInstanceClass"],
            MultiAZ=_bool(p.get("MultiAZ", "false")), MasterUsername=p["MasterUsername"],
            MasterUserPassword=p["MasterUserPassword"], DBName=p.get("DBName", ""), AllocatedStorage=_int(p.get("AllocatedStorage", 20)),
            BackupRetentionPeriod=_int(p.get("BackupRetentionPeriod", 1)), Tags=tags,
        )
    d.topology.cleanup.push(f"db {ident}", partial(rds.delete_db_instance, DBInstanceIdentifier=ident, SkipFinalSnapshot=True))
    rds.get_waiter("db_instance_available").wait(DBInstanceIdentifier=ident, WaiterConfig={"Delay": 30, "MaxAttempts": 120})
    instance = rds.describe_db_instances(DBInstanceIdentifier=ident)["DBInstances"][0]
    endpoint = instance.get("Endpoint") or {}
    return ident, {"Endpoint.Address": endpoint.get("Address", ""), "Endpoint.Port": str(endpoint.get("Port", "")),
                   "DBInstanceArn": instance["DBInstanceArn"]}


def _check_credentials(d: Deployment, p: dict[str, Any], where: str) -> None:
    from pytest_drtest.topology.build import DB_PASSWORD, DB_USER

    if (p["MasterUsername"], p["MasterUserPassword"]) != (DB_USER, DB_PASSWORD):
        raise DrConfigError(f"expected MasterUsername {DB_USER!r} and MasterUserPassword {DB_PASSWORD!r}: the probes "
                            "and runbooks connect with the topology's credentials", source=d.template.source,
                            field=f"{where}.MasterUsername")


def _check_db(d: Deployment, name: str, p: dict[str, Any], where: str) -> None:
    if p.get("SourceDBInstanceIdentifier"):
        return
    member = bool(p.get("DBClusterIdentifier"))
    for key in ("Engine", "DBInstanceClass") + (() if member else ("MasterUsername", "MasterUserPassword")):
        if key not in p:
            raise DrConfigError(f"expected a {key} property", source=d.template.source, field=f"{where}.{key}")
    engine = AURORA_ENGINE if member else "postgres"
    if p["Engine"] != engine:
        raise DrConfigError(f"expected Engine {engine} (PostgreSQL is the relational data plane), got {p['Engine']!r}",
                            source=d.template.source, field=f"{where}.Engine")
    if not member:
        _check_credentials(d, p, where)


AURORA_ENGINE = "aurora-postgresql"


def _check_cluster(d: Deployment, name: str, p: dict[str, Any], where: str) -> None:
    if p.get("Engine") != AURORA_ENGINE:
        raise DrConfigError(f"expected Engine {AURORA_ENGINE} (PostgreSQL is the relational data plane), got "
                            f"{p.get('Engine')!r}", source=d.template.source, field=f"{where}.Engine")
    if "MasterUsername" in p or "MasterUserPassword" in p:
        for key in ("MasterUsername", "MasterUserPassword"):
            if key not in p:
                raise DrConfigError(f"expected a {key} property", source=d.template.source, field=f"{where}.{key}")
        _check_credentials(d, p, where)
    elif not p.get("GlobalClusterIdentifier"):  # a secondary cluster of a global database takes the primary's
        raise DrConfigError("expected MasterUsername and MasterUserPassword (or a GlobalClusterIdentifier: a secondary "
                            "cluster takes the primary's)", source=d.template.source, field=f"{where}.MasterUsername")


def _global_cluster(d: Deployment, logical: str, p: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """``AWS::RDS::GlobalCluster``: an Aurora global database, empty (its primary cluster names it in
    ``GlobalClusterIdentifier``) or from ``SourceDBClusterIdentifier`` [AUR-UG:aurora-global-database]."""
    assert d.topology is not None
    rds = d.topology.client("rds", d.region)
    ident = _name(d, logical, p, "GlobalClusterIdentifier").lower()
    kwargs: dict[str, Any] = {"GlobalClusterIdentifier": ident}
    for key in ("Engine", "EngineVersion", "SourceDBClusterIdentifier"):
        if p.get(key):
            kwargs[key] = str(p[key])
    if p.get("Tags"):
        kwargs["Tags"] = _tags(p)
    rds.create_global_cluster(**kwargs)
    d.topology.cleanup.push(f"global cluster {ident}", partial(rds.delete_global_cluster, GlobalClusterIdentifier=ident))
    return ident, {}


def _db_cluster(d: Deployment, logical: str, p: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """``AWS::RDS::DBCluster`` (Aurora PostgreSQL), in its global database when ``GlobalClusterIdentifier``
    is set, waited for until ``available`` (botocore's ``db_cluster_available``) as CloudFormation does;
    its instances are ``AWS::RDS::DBInstance`` resources naming it in ``DBClusterIdentifier``."""
    from pytest_drtest.topology.build import delete_cluster

    assert d.topology is not None
    rds = d.topology.client("rds", d.region)
    ident = _name(d, logical, p, "DBClusterIdentifier").lower()
    kwargs: dict[str, Any] = {"DBClusterIdentifier": ident, "Engine": p["Engine"], "Tags": _tags(p)}
    for key in ("GlobalClusterIdentifier", "MasterUsername", "MasterUserPassword", "DatabaseName", "EngineVersion"):
        if p.get(key):
            kwargs[key] = str(p[key])
    if "EnableHttpEndpoint" in p:
        kwargs["EnableHttpEndpoint"] = _bool(p["EnableHttpEndpoint"])
    if "BackupRetentionPeriod" in p:
        kwargs["BackupRetentionPeriod"] = _int(p["BackupRetentionPeriod"])
    rds.create_db_cluster(**kwargs)
    # teardown runs newest first: the cluster's instances (created after it) go before it
    d.topology.cleanup.push(f"cluster {ident}", partial(delete_cluster, rds, kwargs.get("GlobalClusterIdentifier"), ident))
    rds.get_waiter("db_cluster_available").wait(DBClusterIdentifier=ident, WaiterConfig={"Delay": 30, "MaxAttempts": 120})
    cluster = rds.describe_db_clusters(DBClusterIdentifier=ident)["DBClusters"][0]
    return ident, {"Endpoint.Address": cluster.get("Endpoint", ""), "Endpoint.Port": str(cluster.get("Port", "")),
                   "ReadEndpoint.Address": cluster.get("ReaderEndpoint", ""), "DBClusterArn": cluster["DBClusterArn"],
                   "DBClusterResourceId": cluster.get("DbClusterResourceId", "")}


def _secret(d: Deployment, logical: str, p: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """``AWS::SecretsManager::Secret`` with a ``SecretString`` (``Ref`` is its ARN)."""
    assert d.topology is not None
    client = d.topology.client("secretsmanager", d.region)
    name = _name(d, logical, p, "Name", 512)
    kwargs: dict[str, Any] = {"Name": name, "SecretString": str(p["SecretString"])}
    if p.get("Description"):
        kwargs["Description"] = str(p["Description"])
    if p.get("Tags"):
        kwargs["Tags"] = _tags(p)
    arn = str(client.create_secret(**kwargs)["ARN"])
    d.topology.cleanup.push(f"secret {name}", partial(client.delete_secret, SecretId=arn, ForceDeleteWithoutRecovery=True))
    return arn, {"Id": arn}


def _replication_group(d: Deployment, logical: str, p: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """``AWS::ElastiCache::ReplicationGroup`` (Valkey or Redis OSS; ``Ref`` is its id), or the secondary of
    a global datastore when ``GlobalReplicationGroupId`` is set (it takes the primary's engine and node
    type); waited for until ``available`` (:func:`~pytest_drtest.topology.build.wait_replication_group`)."""
    from pytest_drtest.topology.build import delete_caches, wait_replication_group

    assert d.topology is not None
    ec = d.topology.client("elasticache", d.region)
    ident = _name(d, logical, p, "ReplicationGroupId", 40).lower()
    kwargs: dict[str, Any] = {"ReplicationGroupId": ident,
                              "ReplicationGroupDescription": str(p.get("ReplicationGroupDescription") or ident)}
    for key in ("Engine", "EngineVersion", "CacheNodeType", "GlobalReplicationGroupId"):
        if p.get(key):
            kwargs[key] = str(p[key])
    for key in ("NumCacheClusters", "ReplicasPerNodeGroup", "NumNodeGroups"):
        if key in p:
            kwargs[key] = _int(p[key])
    for key in ("AutomaticFailoverEnabled", "MultiAZEnabled"):
        if key in p:
            kwargs[key] = _bool(p[key])
    if p.get("Tags"):
        kwargs["Tags"] = _tags(p)
    ec.create_replication_group(**kwargs)
    if "GlobalReplicationGroupId" not in kwargs:
        # one deleter for the group, its global datastore and the secondaries, whatever failed over
        # (it runs last of the three: teardown goes newest first)
        d.topology.cleanup.push(f"cache {ident}", partial(delete_caches, d.topology, ident, d.region))
    wait_replication_group(d.topology, ec, ident)
    return ident, {}


def _check_global_replication_group(d: Deployment, name: str, p: dict[str, Any], where: str) -> None:
    members = p.get("Members")
    primaries = [m for m in members if isinstance(m, dict) and m.get("Role") == "PRIMARY"] if isinstance(members, list) else []
    if len(primaries) != 1 or not primaries[0].get("ReplicationGroupId"):
        raise DrConfigError("expected exactly one member with Role PRIMARY and its ReplicationGroupId (secondaries "
                            "join with their own GlobalReplicationGroupId)", source=d.template.source, field=f"{where}.Members")


def _global_replication_group(d: Deployment, logical: str, p: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """``AWS::ElastiCache::GlobalReplicationGroup``: a global datastore of its ``PRIMARY`` member (``Ref``
    is the id ElastiCache gives it: a prefix, then ``GlobalReplicationGroupIdSuffix``), polled every
    30 s until ``available`` (ElastiCache user guide, "Replication across AWS Regions using global
    datastores"); deleted with its primary group."""
    from pytest_drtest.topology.build import wait_global_datastore

    assert d.topology is not None
    ec = d.topology.client("elasticache", d.region)
    primary = next(m for m in p["Members"] if m.get("Role") == "PRIMARY")
    kwargs: dict[str, Any] = {"GlobalReplicationGroupIdSuffix": str(p.get("GlobalReplicationGroupIdSuffix") or logical.lower()),
                              "PrimaryReplicationGroupId": str(primary["ReplicationGroupId"])}
    if p.get("GlobalReplicationGroupDescription"):
        kwargs["GlobalReplicationGroupDescription"] = str(p["GlobalReplicationGroupDescription"])
    ident = str(ec.create_global_replication_group(**kwargs)["GlobalReplicationGroup"]["GlobalReplicationGroupId"])
    wait_global_datastore(d.topology, ec, ident)
    return ident, {}


def _dax_cluster(d: Deployment, logical: str, p: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """``AWS::DAX::Cluster`` (``Ref`` is its name): ``ReplicationFactor`` nodes over the region's AZs,
    polled every 30 s until ``available`` (botocore has no DAX waiter); tags a key -> value object,
    as CloudFormation writes them for DAX."""
    from pytest_drtest.topology.dax import wait_dax_cluster

    assert d.topology is not None
    dax = d.topology.client("dax", d.region)
    name = _name(d, logical, p, "ClusterName", 20)
    kwargs: dict[str, Any] = {"ClusterName": name, "NodeType": str(p["NodeType"]),
                              "ReplicationFactor": _int(p["ReplicationFactor"]), "IamRoleArn": str(p["IAMRoleARN"])}
    for key in ("Description", "SubnetGroupName", "ParameterGroupName"):
        if p.get(key):
            kwargs[key] = str(p[key])
    if p.get("Tags"):
        kwargs["Tags"] = [{"Key": k, "Value": v} for k, v in _tag_map(p["Tags"]).items()]
    dax.create_cluster(**kwargs)
    d.topology.cleanup.push(f"dax {d.region}/{name}", partial(dax.delete_cluster, ClusterName=name))
    cluster = wait_dax_cluster(d.topology, dax, name)
    endpoint = cluster.get("ClusterDiscoveryEndpoint") or {}
    return name, {"Arn": cluster.get("ClusterArn", ""),
                  "ClusterDiscoveryEndpoint": f"{endpoint.get('Address', '')}:{endpoint.get('Port', '')}"}


#: The ``DistributionConfig`` keys the deployer writes as the API's: CloudFormation's lists become the
#: API's ``{"Quantity", "Items"}`` ([CFN-UG:aws-properties-cloudfront-distribution-distributionconfig]
#: against [BC:cloudfront] ``DistributionConfig``); ``OriginGroups`` has that shape in both.
_CDN_LISTS = ("Origins", "CacheBehaviors", "Aliases")
_CDN_KEYS = frozenset({"Comment", "Enabled", "Origins", "OriginGroups", "DefaultCacheBehavior", "CacheBehaviors",
                       "Aliases", "PriceClass", "HttpVersion", "IPV6Enabled", "DefaultRootObject"})


def _quantity(items: list[Any]) -> dict[str, Any]:
    return {"Quantity": len(items), "Items": items}


def _cdn_behavior(behavior: dict[str, Any]) -> dict[str, Any]:
    out = dict(behavior)
    if isinstance(out.get("AllowedMethods"), list):
        allowed = out.pop("AllowedMethods")
        cached = out.pop("CachedMethods", None) or ["GET", "HEAD"]
        out["AllowedMethods"] = {**_quantity(allowed), "CachedMethods": _quantity(cached)}
    return out


def _check_distribution(d: Deployment, name: str, p: dict[str, Any], where: str) -> None:
    config = p["DistributionConfig"]
    if not isinstance(config, dict):
        raise DrConfigError("expected an object", source=d.template.source, field=f"{where}.DistributionConfig")
    for key in sorted(set(config) - _CDN_KEYS):
        raise DrConfigError(f"not deployed by the emulated CloudFormation path (it deploys {', '.join(sorted(_CDN_KEYS))})",
                            source=d.template.source, field=f"{where}.DistributionConfig.{key}")
    for key in _CDN_LISTS:
        if key in config and not isinstance(config[key], list):
            raise DrConfigError("expected a list (CloudFormation's shape)", source=d.template.source,
                                field=f"{where}.DistributionConfig.{key}")


def _distribution(d: Deployment, logical: str, p: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """``AWS::CloudFront::Distribution`` (``Ref`` is its Id; ``DomainName``): CloudFormation's
    ``DistributionConfig`` written as the API's, with the ``CallerReference`` CloudFormation makes up,
    created with its tags (``CreateDistributionWithTags``; CloudFront is global: called in
    us-east-1), waited for until ``Deployed``; teardown disables it before deleting it."""
    from pytest_drtest.topology.cdn import CLOUDFRONT_REGION, delete_distribution

    assert d.topology is not None
    config: dict[str, Any] = dict(p["DistributionConfig"])
    for key in _CDN_LISTS:
        if key in config:
            items = [_cdn_behavior(b) for b in config[key]] if key == "CacheBehaviors" else list(config[key])
            config[key] = _quantity(items)
    if "DefaultCacheBehavior" in config:
        config["DefaultCacheBehavior"] = _cdn_behavior(config["DefaultCacheBehavior"])
    config["Enabled"] = _bool(config.get("Enabled", True))
    config.setdefault("Comment", "")
    config["CallerReference"] = f"{d.topology.name}-{d.role}-{logical}-{d.topology.run_id or 'stack'}"
    cloudfront = d.topology.client("cloudfront", CLOUDFRONT_REGION)
    made = cloudfront.create_distribution_with_tags(
        DistributionConfigWithTags={"DistributionConfig": config, "Tags": {"Items": _tags(p)}})["Distribution"]
    ident = str(made["Id"])
    d.topology.cleanup.push(f"cloudfront distribution {ident}", partial(delete_distribution, cloudfront, ident))
    cloudfront.get_waiter("distribution_deployed").wait(Id=ident)
    return ident, {"DomainName": str(made["DomainName"]).lower(), "Id": ident}


def _tag_map(value: Any) -> dict[str, str]:
    """AWS Backup's tags: a JSON object of key -> value in CloudFormation as in the API."""
    return {str(k): str(v) for k, v in (value or {}).items()}


def _backup_vault(d: Deployment, logical: str, p: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """``AWS::Backup::BackupVault`` (``Ref`` is its name)."""
    assert d.topology is not None
    backup = d.topology.client("backup", d.region)
    name = str(p["BackupVaultName"])
    kwargs: dict[str, Any] = {"BackupVaultName": name}
    if p.get("BackupVaultTags"):
        kwargs["BackupVaultTags"] = _tag_map(p["BackupVaultTags"])
    arn = backup.create_backup_vault(**kwargs)["BackupVaultArn"]
    d.topology.cleanup.push(f"vault {name} in {d.region}", partial(backup.delete_backup_vault, BackupVaultName=name))
    return name, {"BackupVaultArn": arn, "BackupVaultName": name}


#: ``AWS::Backup::BackupPlan`` ``BackupRuleResourceType`` -> the API's ``BackupRuleInput`` keys
_RULE_KEYS = {"RuleName": "RuleName", "TargetBackupVault": "TargetBackupVaultName", "ScheduleExpression": "ScheduleExpression",
              "ScheduleExpressionTimezone": "ScheduleExpressionTimezone", "StartWindowMinutes": "StartWindowMinutes",
              "CompletionWindowMinutes": "CompletionWindowMinutes", "Lifecycle": "Lifecycle", "CopyActions": "CopyActions",
              "EnableContinuousBackup": "EnableContinuousBackup", "RecoveryPointTags": "RecoveryPointTags"}


def _lifecycle(value: dict[str, Any]) -> dict[str, Any]:
    return {k: (_bool(v) if k == "OptInToArchiveForSupportedResources" else _int(v)) for k, v in value.items()}


def _backup_rule(rule: dict[str, Any]) -> dict[str, Any]:
    api: dict[str, Any] = {}
    for key, value in rule.items():
        target = _RULE_KEYS.get(key)
        if target is None:
            continue
        if key in ("StartWindowMinutes", "CompletionWindowMinutes"):
            value = _int(value)
        elif key == "EnableContinuousBackup":
            value = _bool(value)
        elif key == "Lifecycle":
            value = _lifecycle(value)
        elif key == "CopyActions":
            value = [{**a, **({"Lifecycle": _lifecycle(a["Lifecycle"])} if "Lifecycle" in a else {})} for a in value]
        elif key == "RecoveryPointTags":
            value = _tag_map(value)
        api[target] = value
    return api


def _check_plan(d: Deployment, name: str, p: dict[str, Any], where: str) -> None:
    plan = p.get("BackupPlan")
    if not isinstance(plan, dict) or "BackupPlanName" not in plan or not isinstance(plan.get("BackupPlanRule"), list):
        raise DrConfigError("expected BackupPlan with BackupPlanName and a BackupPlanRule list", source=d.template.source,
                            field=f"{where}.BackupPlan")
    for i, rule in enumerate(plan["BackupPlanRule"]):
        for key in ("RuleName", "TargetBackupVault"):
            if not isinstance(rule, dict) or key not in rule:
                raise DrConfigError(f"expected a {key}", source=d.template.source, field=f"{where}.BackupPlan.BackupPlanRule[{i}]")


def _backup_plan(d: Deployment, logical: str, p: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """``AWS::Backup::BackupPlan`` (``Ref`` is its ID): the rules in the API's names (``TargetBackupVault``
    is ``TargetBackupVaultName``), run on the clock by the emulated AWS Backup."""
    assert d.topology is not None
    backup = d.topology.client("backup", d.region)
    plan = {"BackupPlanName": str(p["BackupPlan"]["BackupPlanName"]),
            "Rules": [_backup_rule(r) for r in p["BackupPlan"]["BackupPlanRule"]]}
    kwargs: dict[str, Any] = {"BackupPlan": plan}
    if p.get("BackupPlanTags"):
        kwargs["BackupPlanTags"] = _tag_map(p["BackupPlanTags"])
    made = backup.create_backup_plan(**kwargs)
    ident = str(made["BackupPlanId"])
    d.topology.cleanup.push(f"backup plan {ident}", partial(backup.delete_backup_plan, BackupPlanId=ident))
    return ident, {"BackupPlanId": ident, "BackupPlanArn": made["BackupPlanArn"], "VersionId": made.get("VersionId", "")}


def _backup_selection(d: Deployment, logical: str, p: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """``AWS::Backup::BackupSelection`` (``Ref`` is its ID)."""
    assert d.topology is not None
    backup = d.topology.client("backup", d.region)
    selection = {k: v for k, v in p["BackupSelection"].items()
                 if k in ("SelectionName", "IamRoleArn", "Resources", "NotResources", "ListOfTags", "Conditions")}
    ident = str(backup.create_backup_selection(BackupPlanId=str(p["BackupPlanId"]), BackupSelection=selection)["SelectionId"])
    d.topology.cleanup.push(f"backup selection {ident}", partial(backup.delete_backup_selection, BackupPlanId=str(p["BackupPlanId"]),
                                                                  SelectionId=ident))
    return ident, {"SelectionId": ident, "BackupPlanId": str(p["BackupPlanId"])}


def _route53(d: Deployment) -> Any:
    assert d.topology is not None
    return d.topology.clients.client("route53", "us-east-1")


def _hosted_zone(d: Deployment, logical: str, p: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    from pytest_drtest.topology.build import delete_zone

    assert d.topology is not None
    r53 = _route53(d)
    zone = r53.create_hosted_zone(Name=p["Name"], CallerReference=f"{d.topology.name}-{d.stack_name}-{logical}")
    ident = zone["HostedZone"]["Id"].split("/")[-1]
    if p.get("HostedZoneTags"):
        r53.change_tags_for_resource(ResourceType="hostedzone", ResourceId=ident, AddTags=_tags(p, "HostedZoneTags"))
    d.topology.cleanup.push(f"zone {ident}", partial(delete_zone, r53, ident))
    return ident, {"Id": ident, "NameServers": ",".join(zone.get("DelegationSet", {}).get("NameServers", []))}


def _health_check(d: Deployment, logical: str, p: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    assert d.topology is not None
    r53 = _route53(d)
    config = dict(p["HealthCheckConfig"])
    for key in ("Port", "RequestInterval", "FailureThreshold"):
        if key in config:
            config[key] = _int(config[key])
    ident = r53.create_health_check(CallerReference=f"{d.topology.name}-{d.stack_name}-{logical}",
                                    HealthCheckConfig=config)["HealthCheck"]["Id"]
    if p.get("HealthCheckTags"):
        r53.change_tags_for_resource(ResourceType="healthcheck", ResourceId=ident, AddTags=_tags(p, "HealthCheckTags"))
    d.topology.cleanup.push(f"health check {ident}", partial(r53.delete_health_check, HealthCheckId=ident))
    return str(ident), {"HealthCheckId": ident}


def _record_set(d: Deployment, logical: str, p: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A record set (deleted with its zone)."""
    r53 = _route53(d)
    record: dict[str, Any] = {"Name": p["Name"], "Type": p["Type"]}
    if "TTL" in p:
        record["TTL"] = _int(p["TTL"])
    if "ResourceRecords" in p:
        record["ResourceRecords"] = [{"Value": str(v)} for v in p["ResourceRecords"]]
    for key in ("SetIdentifier", "Failover", "HealthCheckId", "Region"):
        if key in p:
            record[key] = p[key]
    if "Weight" in p:
        record["Weight"] = _int(p["Weight"])
    if "AliasTarget" in p:
        record["AliasTarget"] = {**p["AliasTarget"], "EvaluateTargetHealth": str(p["AliasTarget"].get("EvaluateTargetHealth", "false")).lower() == "true"}
    zone = p.get("HostedZoneId")
    if zone is None:
        wanted = str(p["HostedZoneName"]).rstrip(".") + "."
        zone = next(z["Id"].split("/")[-1] for z in r53.list_hosted_zones()["HostedZones"] if z["Name"] == wanted)
    change = r53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": [{"Action": "CREATE", "ResourceRecordSet": record}]})
    r53.get_waiter("resource_record_sets_changed").wait(Id=change["ChangeInfo"]["Id"], WaiterConfig={"Delay": 10, "MaxAttempts": 60})
    return str(p["Name"]), {}


API_TYPES: dict[str, ApiType] = {
    "AWS::EC2::Subnet": ApiType(("AvailabilityZone", "VpcId", "SubnetId"), _subnet, ("VpcId", "CidrBlock")),
    "AWS::ElasticLoadBalancingV2::LoadBalancer": ApiType(
        ("DNSName", "LoadBalancerName", "CanonicalHostedZoneID", "LoadBalancerFullName", "LoadBalancerArn"), _load_balancer,
        ("Subnets",)),
    "AWS::ElasticLoadBalancingV2::Listener": ApiType(("ListenerArn",), _listener, ("LoadBalancerArn", "DefaultActions")),
    "AWS::AutoScaling::AutoScalingGroup": ApiType((), _auto_scaling_group, ("MinSize", "MaxSize")),
    "AWS::DynamoDB::Table": ApiType(("Arn", "StreamArn", "TableId"), _table, ("KeySchema", "AttributeDefinitions")),
    "AWS::DynamoDB::GlobalTable": ApiType(("Arn", "StreamArn", "TableId"), _table, ("KeySchema", "AttributeDefinitions", "Replicas")),
    "AWS::S3::Bucket": ApiType(("Arn", "DomainName", "RegionalDomainName"), _bucket),
    "AWS::RDS::DBInstance": ApiType(("Endpoint.Address", "Endpoint.Port", "DBInstanceArn"), _db_instance, (), _check_db),
    "AWS::RDS::GlobalCluster": ApiType((), _global_cluster),
    "AWS::RDS::DBCluster": ApiType(("Endpoint.Address", "Endpoint.Port", "ReadEndpoint.Address", "DBClusterArn",
                                    "DBClusterResourceId"), _db_cluster, ("Engine",), _check_cluster),
    "AWS::SecretsManager::Secret": ApiType(("Id",), _secret, ("SecretString",)),
    "AWS::ElastiCache::ReplicationGroup": ApiType((), _replication_group, ("ReplicationGroupDescription",)),
    "AWS::CloudFront::Distribution": ApiType(("DomainName", "Id"), _distribution, ("DistributionConfig",),
                                             _check_distribution),
    "AWS::DAX::Cluster": ApiType(("Arn", "ClusterDiscoveryEndpoint"), _dax_cluster, ("NodeType", "ReplicationFactor", "IAMRoleARN")),
    "AWS::ElastiCache::GlobalReplicationGroup": ApiType((), _global_replication_group, ("Members",),
                                                        _check_global_replication_group),
    "AWS::Backup::BackupVault": ApiType(("BackupVaultArn", "BackupVaultName"), _backup_vault, ("BackupVaultName",)),
    "AWS::Backup::BackupPlan": ApiType(("BackupPlanId", "BackupPlanArn", "VersionId"), _backup_plan, ("BackupPlan",), _check_plan),
    "AWS::Backup::BackupSelection": ApiType(("SelectionId", "BackupPlanId"), _backup_selection, ("BackupPlanId", "BackupSelection")),
    "AWS::Route53::HostedZone": ApiType(("Id", "NameServers"), _hosted_zone, ("Name",)),
    "AWS::Route53::HealthCheck": ApiType(("HealthCheckId",), _health_check, ("HealthCheckConfig",)),
    "AWS::Route53::RecordSet": ApiType((), _record_set, ("Name", "Type")),
}


def kind_of(kind: str) -> str | None:
    """Who creates a resource type: ``"cloudformation"`` (moto), ``"api"`` (the plugin) or None (ignored)."""
    return "cloudformation" if kind in MOTO_TYPES else "api" if kind in API_TYPES else None


def attributes_of(kind: str) -> tuple[str, ...] | None:
    if kind in MOTO_TYPES:
        return MOTO_TYPES[kind]
    if kind in API_TYPES:
        return API_TYPES[kind].attributes
    return None
