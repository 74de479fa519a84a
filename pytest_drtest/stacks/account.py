"""A team's CloudFormation stack on a real account (``--dr-backend=aws``): deployed by CloudFormation.

The emulated backends deploy a template partly through moto's CloudFormation and partly through
API calls the emulation watches (:mod:`pytest_drtest.stacks.deploy`); on a real account nothing
needs watching, so the whole template goes to CloudFormation, as the team deploys it:

* one stack per region, ``<topology>-dr`` then ``<topology>-primary`` (what the primary replicates
  into must exist first), with the parameters the emulated path gives (``RegionRole``,
  ``PeerRegion``, ``Peer<Output>``, the newest Amazon Linux 2023 image for an
  ``AWS::EC2::Image::Id`` without a value, the parameters file's values);
* ``CreateStack`` with the run's tags (``drtest:run``, ``drtest:topology``, ``drtest:strategy`` and
  the blueprint's ``[tags]``: CloudFormation propagates stack tags to the resources that support
  tags, [CFN-UG:aws-properties-resource-tags]) and ``CAPABILITY_IAM``/``CAPABILITY_NAMED_IAM``, then
  the ``stack_create_complete`` waiter; each later pass whose ``Peer...`` values changed is an
  ``UpdateStack`` and the ``stack_update_complete`` waiter, until a pass changes nothing;
* a stack that does not complete raises :class:`~pytest_drtest.errors.DrError` naming the stack,
  its status and the first resource that failed with CloudFormation's reason;
* teardown is the run's tag sweep (:mod:`pytest_drtest.backends.aws_teardown`): it finds the stacks
  by their ``drtest:run`` tag (also one that failed and rolled back) and deletes each first
  (``DeleteStack``, then the ``stack_delete_complete`` waiter), then what is left of the run.

The stack's resources (``ListStackResources``) are mapped onto the topology as on the emulated path
(``drtest:role`` / ``drtest:region-role`` tags or ``[roles]``), with the subnets' AZs and the load
balancers' DNS names read back (``DescribeSubnets``, ``DescribeLoadBalancers``).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import botocore.exceptions

from pytest_drtest.errors import DrConfigError, DrError
from pytest_drtest.stacks.deploy import MAX_PASSES, Deployment, StackSpec

if TYPE_CHECKING:
    from pytest_drtest.topology.model import Topology

CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"]
#: Waiter settings: CloudFormation stacks take minutes (an RDS instance 10-20); poll every 15 s for 2 h.
WAIT = {"Delay": 15, "MaxAttempts": 480}
NO_UPDATES = "No updates are to be performed"


#: The largest template ``CreateStack`` takes as ``TemplateBody`` (CloudFormation quotas: 51,200 bytes;
#: larger ones go through S3 as ``TemplateURL``)
MAX_BODY = 51_200


def template_body(spec: StackSpec) -> str:
    """The team's template as written (YAML short forms and all: CloudFormation reads them), or, for a
    template not read from a file, its JSON."""
    path = Path(spec.source)
    text = path.read_text(encoding="utf-8") if path.is_file() else json.dumps(spec.template.body)
    if len(text.encode()) > MAX_BODY:
        raise DrConfigError(f"the template is {len(text.encode())} bytes: CreateStack takes at most {MAX_BODY} as "
                            "TemplateBody (a larger one needs TemplateURL in S3, which pytest-drtest does not upload)",
                            source=spec.source)
    return text


class AccountStack:
    """One region's stack of the template, deployed by CloudFormation."""

    def __init__(self, topology: Topology, spec: StackSpec, region: str, role: str, peer: str, account: str) -> None:
        self.topology = topology
        self.spec = spec
        self.region, self.role = region, role
        self.name = f"{topology.name}-{role}"
        self.deployment = Deployment(topology, spec, region, role, peer, account=account, stack_name=topology.name)
        self.cfn: Any = topology.client("cloudformation", region)
        self.body = template_body(spec)  # read and size-checked before this stack is created, not on every pass
        self.applied: dict[str, str] | None = None  # the parameters of the last create/update
        self.shape: Any = None  # what those parameters make of the template here (:meth:`_shape`)
        self.outputs: dict[str, str] = {}
        self.stack_id: str | None = None

    def _shape(self, peer_outputs: dict[str, str]) -> Any:
        """The resources active in this region and their resolved properties, and the outputs: what
        new ``Peer...`` values would change (a value no active resource uses changes nothing here)."""
        scope, order = self.deployment.plan(peer_outputs)
        resources = self.spec.template.resources
        props = [(n, repr(scope.resolve(resources[n].get("Properties", {}), f"Resources.{n}.Properties"))) for n in order]
        return props, tuple(self.deployment.ignored), tuple(sorted(self.spec.template.outputs))

    def apply(self, peer_outputs: dict[str, str], tags: list[dict[str, str]]) -> bool:
        """Create the stack, or update it when the new parameters change what it holds; return whether
        anything was sent."""
        values = self.deployment.parameters(peer_outputs)
        shape = self._shape(peer_outputs)
        if values == self.applied or (self.stack_id is not None and shape == self.shape):
            return False
        parameters = [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()]
        if self.stack_id is None:
            try:
                self.stack_id = str(self.cfn.create_stack(StackName=self.name, TemplateBody=self.body,
                                                          Parameters=parameters, Tags=tags, Capabilities=CAPABILITIES)["StackId"])
            except botocore.exceptions.ClientError as exc:
                raise DrError(f"{self.spec.source}: CloudFormation refused stack {self.name} in {self.region}: "
                              f"{exc.response['Error'].get('Message', exc)}") from None
            self._wait("stack_create_complete")
        else:
            try:
                self.cfn.update_stack(StackName=self.stack_id, TemplateBody=self.body, Parameters=parameters, Tags=tags,
                                      Capabilities=CAPABILITIES)
            except botocore.exceptions.ClientError as exc:
                if NO_UPDATES not in str(exc):
                    raise DrError(f"{self.spec.source}: CloudFormation refused the update of stack {self.name} in "
                                  f"{self.region}: {exc.response['Error'].get('Message', exc)}") from None
            else:
                self._wait("stack_update_complete")
        self.applied, self.shape = values, shape
        described = self.cfn.describe_stacks(StackName=self.stack_id)["Stacks"][0]
        self.outputs = {str(o["OutputKey"]): str(o["OutputValue"]) for o in described.get("Outputs", [])}
        return True

    def _wait(self, waiter: str) -> None:
        try:
            self.cfn.get_waiter(waiter).wait(StackName=self.stack_id, WaiterConfig=WAIT)
        except botocore.exceptions.WaiterError:
            raise DrError(f"{self.spec.source}: stack {self.name} in {self.region}: {self._failure()}") from None

    def _failure(self) -> str:
        """The stack's status and the first resource that failed, with CloudFormation's reason."""
        stack = self.cfn.describe_stacks(StackName=self.stack_id)["Stacks"][0]
        status = f"{stack['StackStatus']} {stack.get('StackStatusReason', '')}".strip()
        events = self.cfn.describe_stack_events(StackName=self.stack_id).get("StackEvents", [])
        failed = [e for e in reversed(events) if str(e.get("ResourceStatus", "")).endswith("_FAILED")]
        if failed:
            first = failed[0]
            status += f"; {first['LogicalResourceId']} ({first.get('ResourceType')}): {first.get('ResourceStatusReason', '')}"
        return status

    def resources(self) -> list[tuple[str, str, str]]:
        """(logical ID, type, physical ID) of what the stack created."""
        found = []
        for page in self.cfn.get_paginator("list_stack_resources").paginate(StackName=self.stack_id):
            for summary in page.get("StackResourceSummaries", []):
                if summary.get("LogicalResourceId") and summary.get("PhysicalResourceId"):
                    found.append((str(summary["LogicalResourceId"]), str(summary["ResourceType"]), str(summary["PhysicalResourceId"])))
        return found


def deploy_on_account(topology: Topology) -> None:
    """Deploy the blueprint's template with CloudFormation in both regions, tagged with the run
    (:func:`~pytest_drtest.topology.build.run_tags`), and fill the topology."""
    from pytest_drtest.stacks.topology import stack_blueprint
    from pytest_drtest.topology.build import account_of, run_tags, wait_replicas_active

    spec = topology.blueprint.stack
    assert isinstance(spec, StackSpec)
    stack_blueprint(spec, topology.blueprint.name, (topology.primary_region, topology.dr_region))
    account, tags = account_of(topology), run_tags(topology)
    dr = AccountStack(topology, spec, topology.dr_region, "dr", topology.primary_region, account)
    primary = AccountStack(topology, spec, topology.primary_region, "primary", topology.dr_region, account)
    for _ in range(MAX_PASSES):
        changed = dr.apply(primary.outputs, tags)
        changed = primary.apply(dr.outputs, tags) or changed
        if not changed:
            break
    else:
        raise DrError(f"{spec.source}: the stacks' Peer parameters still change after {MAX_PASSES} passes over both regions")
    _map_resources(topology, spec, dr, primary.outputs)
    _map_resources(topology, spec, primary, dr.outputs)
    if topology.probe_table not in topology.primary.tables:
        raise DrConfigError("no table of the primary region has drtest:region-role primary", source=spec.source, field="Resources")
    # both stacks completed, so the web record the template declares exists (its name is the template's)
    topology.fqdn = topology.blueprint.fqdn
    wait_replicas_active(topology)
    for region, regional in topology.regions.items():
        if topology.probe_table in regional.tables:
            topology.app_config.setdefault(region, {})["table"] = regional.tables[topology.probe_table]
    topology.note("topology-built", f"{topology.name} from {spec.source} (CloudFormation stacks {primary.name}, {dr.name})")


def _map_resources(topology: Topology, spec: StackSpec, stack: AccountStack, peer_outputs: dict[str, str]) -> None:
    """Map one region's stack resources onto the topology (as the emulated path does,
    :func:`pytest_drtest.stacks.topology._map`), with the values CloudFormation gave them."""
    from pytest_drtest.stacks.topology import _map

    scope = stack.deployment.scope(peer_outputs)
    created = stack.resources()
    ec2, elb = topology.client("ec2", stack.region), topology.client("elbv2", stack.region)
    attributes: dict[str, dict[str, Any]] = {}
    for logical, kind, physical in created:
        scope.refs[logical] = physical
        if kind == "AWS::EC2::Subnet":
            found = ec2.describe_subnets(SubnetIds=[physical])["Subnets"][0]
            attributes[logical] = {"AvailabilityZone": found["AvailabilityZone"], "VpcId": found["VpcId"], "SubnetId": physical}
        elif kind == "AWS::ElasticLoadBalancingV2::LoadBalancer":
            found = elb.describe_load_balancers(LoadBalancerArns=[physical])["LoadBalancers"][0]
            attributes[logical] = {"DNSName": str(found["DNSName"]).lower(), "LoadBalancerName": found["LoadBalancerName"],
                                   "CanonicalHostedZoneID": found.get("CanonicalHostedZoneId", ""), "LoadBalancerArn": physical,
                                   "LoadBalancerFullName": physical.split(":loadbalancer/", 1)[-1]}
        if logical in attributes:  # the others' attributes stay pending: mapping needs none of them
            scope.attributes[logical] = attributes[logical]
    for logical, kind, physical in created:
        resource = spec.template.resources.get(logical)
        if resource is None:
            continue
        properties = scope.resolve(resource.get("Properties", {}), f"Resources.{logical}.Properties")
        _map(topology, spec, stack.deployment, logical, kind, physical, properties, attributes.get(logical, {}))
