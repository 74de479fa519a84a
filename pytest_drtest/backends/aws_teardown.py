"""Teardown on a real account: find every resource tagged ``drtest:run=<run id>`` and delete it.

What the run created is found by its tag, not remembered: a run that fails, is interrupted (Ctrl-C)
or loses its cleanup stack still finds everything. The Resource Groups Tagging API's
``GetResources`` lists the tagged resources of a region (Resource Groups Tagging API reference,
"GetResources"); what it does not list is asked of its service: CloudFront distributions
(``ListDistributions``, global), Auto Scaling groups
(``DescribeTags``), EC2 launch templates (``DescribeLaunchTemplates``), FIS experiment templates (``ListExperimentTemplates``), Route 53 health checks
and hosted zones (``ListTagsForResources``, global, in us-east-1). Each resource goes by its
service's delete call, in dependency order (experiments stopped and templates first, subnets and
VPCs last); a delete that fails is retried on the next pass (a subnet waits for the load balancer's
interfaces, a cluster for its instances). What is still there after the last pass, or has no
deleter here, is returned, so that teardown lists it.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import botocore.exceptions

from pytest_drtest.topology.build import RUN_TAG, delete_zone, empty_and_delete_bucket

#: Error codes meaning the resource is already gone (deleted by an earlier step or a cascade).
_GONE = re.compile(r"NotFound|NoSuch|NotExist|does not exist", re.IGNORECASE)


#: Tagged kinds that are records, not resources: the FIS API has no call that deletes an experiment
#: (the run's are tagged); stopping it is what teardown does, with its template's deleter.
RECORDS = frozenset({"fis:experiment"})


@dataclass(frozen=True)
class Tagged:
    """One resource of the run: its ARN, the region to call and its kind (``service:type``)."""

    arn: str
    region: str
    kind: str
    ident: str  # what its delete call takes (id or name)


def parse_arn(arn: str, default_region: str) -> Tagged:
    """``arn:aws:ec2:us-east-1:123456789012:subnet/subnet-1`` -> kind ``ec2:subnet``, ident ``subnet-1``."""
    parts = arn.split(":", 5)
    service, region, resource = parts[2], parts[3] or default_region, parts[5]
    if service == "route53":  # global: its API is called in us-east-1
        kind, _, ident = resource.partition("/")
        return Tagged(arn, "us-east-1", f"route53:{kind}", ident)
    if service == "s3":
        return Tagged(arn, region, "s3:bucket", resource)
    if service == "autoscaling":  # autoScalingGroup:<uuid>:autoScalingGroupName/<name>
        return Tagged(arn, region, "autoscaling:group", resource.rsplit("/", 1)[-1])
    if service == "elasticloadbalancing":  # loadbalancer/app/<name>/<id>, targetgroup/<name>/<id>
        return Tagged(arn, region, f"elbv2:{resource.split('/', 1)[0]}", arn)
    if service in ("rds", "cloudwatch", "backup"):  # db:<id>, cluster:<id>, alarm:<name>, backup-plan:<id>
        kind, _, ident = resource.partition(":")
        return Tagged(arn, region, f"{service}:{kind}", ident)
    kind, _, ident = resource.partition("/")
    return Tagged(arn, region, f"{service}:{kind}", ident)


def find_tagged(clients: Any, regions: Iterable[str], run_id: str) -> list[Tagged]:
    """Every resource tagged ``drtest:run=<run_id>`` in ``regions`` (and Route 53's, which is global)."""
    found: dict[tuple[str, str, str], Tagged] = {}  # (kind, region, ident): each resource once
    for region in dict.fromkeys(regions):
        tagging = clients.client("resourcegroupstaggingapi", region)
        for page in tagging.get_paginator("get_resources").paginate(TagFilters=[{"Key": RUN_TAG, "Values": [run_id]}]):
            for mapping in page.get("ResourceTagMappingList", []):
                tagged = parse_arn(mapping["ResourceARN"], region)
                if tagged.kind in RECORDS:
                    continue
                found.setdefault((tagged.kind, tagged.region, tagged.ident), tagged)
        asg = clients.client("autoscaling", region)
        filters = [{"Name": "key", "Values": [RUN_TAG]}, {"Name": "value", "Values": [run_id]}]
        for page in asg.get_paginator("describe_tags").paginate(Filters=filters):
            for tag in page.get("Tags", []):
                name = tag["ResourceId"]
                found.setdefault(("autoscaling:group", region, name),
                                 Tagged(f"autoscaling group {name} ({region})", region, "autoscaling:group", name))
        ec2 = clients.client("ec2", region)
        tag_filter = [{"Name": f"tag:{RUN_TAG}", "Values": [run_id]}]
        for page in ec2.get_paginator("describe_launch_templates").paginate(Filters=tag_filter):
            for template in page.get("LaunchTemplates", []):
                ident = template["LaunchTemplateId"]
                found.setdefault(("ec2:launch-template", region, ident),
                                 Tagged(f"launch template {ident} ({region})", region, "ec2:launch-template", ident))
        fis = clients.client("fis", region)
        for template in _fis_templates(fis):
            if (template.get("tags") or {}).get(RUN_TAG) == run_id:
                ident = template["id"]
                found.setdefault(("fis:experiment-template", region, ident), Tagged(f"FIS experiment template {ident} ({region})", region,
                                                                 "fis:experiment-template", ident))
    _drop_terminated(clients, found)
    r53 = clients.client("route53", "us-east-1")
    checks = [c["Id"] for page in r53.get_paginator("list_health_checks").paginate() for c in page["HealthChecks"]]
    zones = [z["Id"].split("/")[-1] for page in r53.get_paginator("list_hosted_zones").paginate() for z in page["HostedZones"]]
    for kind, ids in (("healthcheck", checks), ("hostedzone", zones)):
        for start in range(0, len(ids), 10):  # ListTagsForResources takes up to 10 ids
            sets = r53.list_tags_for_resources(ResourceType=kind, ResourceIds=ids[start:start + 10])["ResourceTagSets"]
            for tag_set in sets:
                if any(t["Key"] == RUN_TAG and t["Value"] == run_id for t in tag_set.get("Tags", [])):
                    ident = tag_set["ResourceId"]
                    arn = f"arn:aws:route53:::{kind}/{ident}"
                    found.setdefault((f"route53:{kind}", "us-east-1", ident), Tagged(arn, "us-east-1", f"route53:{kind}", ident))
    _tagged_distributions(clients, run_id, found)
    return list(found.values())


def _tagged_distributions(clients: Any, run_id: str, found: dict[tuple[str, str, str], Tagged]) -> None:
    """CloudFront is global: its distributions are asked of it in us-east-1 (``ListDistributions``,
    ``ListTagsForResource``), whatever the run's Regions."""
    cloudfront = clients.client("cloudfront", "us-east-1")
    for page in cloudfront.get_paginator("list_distributions").paginate():
        for dist in (page.get("DistributionList") or {}).get("Items") or []:
            tags = cloudfront.list_tags_for_resource(Resource=dist["ARN"])["Tags"].get("Items") or []
            if any(t["Key"] == RUN_TAG and t.get("Value") == run_id for t in tags):
                found.setdefault(("cloudfront:distribution", "us-east-1", dist["Id"]),
                                 Tagged(dist["ARN"], "us-east-1", "cloudfront:distribution", dist["Id"]))


def _drop_terminated(clients: Any, found: dict[tuple[str, str, str], Tagged]) -> None:
    """Terminated instances stay listed (with their tags) for a while: they are gone already."""
    by_region: dict[str, list[Tagged]] = {}
    for tagged in found.values():
        if tagged.kind == "ec2:instance":
            by_region.setdefault(tagged.region, []).append(tagged)
    for region, instances in by_region.items():
        ids = [t.ident for t in instances]
        reservations = clients.client("ec2", region).describe_instances(InstanceIds=ids)["Reservations"]
        for instance in (i for r in reservations for i in r["Instances"]):
            if instance["State"]["Name"] in ("shutting-down", "terminated"):
                found.pop(("ec2:instance", region, instance["InstanceId"]), None)


def _fis_templates(fis: Any) -> list[dict[str, Any]]:
    templates: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        page = fis.list_experiment_templates(**({"nextToken": token} if token else {}))
        templates.extend(page.get("experimentTemplates", []))
        token = page.get("nextToken")
        if not token:
            return templates


# -- deleters, in the order they run ---------------------------------------------------------------
def _fis_template(c: Any, r: Tagged) -> None:
    fis = c.client("fis", r.region)
    for experiment in fis.list_experiments(experimentTemplateId=r.ident).get("experiments", []):
        if experiment["state"]["status"] in ("pending", "initiating", "running"):
            fis.stop_experiment(id=experiment["id"])
    fis.delete_experiment_template(id=r.ident)


def _alarm(c: Any, r: Tagged) -> None:
    c.client("cloudwatch", r.region).delete_alarms(AlarmNames=[r.ident])


def _asg(c: Any, r: Tagged) -> None:
    c.client("autoscaling", r.region).delete_auto_scaling_group(AutoScalingGroupName=r.ident, ForceDelete=True)


def _instance(c: Any, r: Tagged) -> None:
    c.client("ec2", r.region).terminate_instances(InstanceIds=[r.ident])


def _load_balancer(c: Any, r: Tagged) -> None:
    c.client("elbv2", r.region).delete_load_balancer(LoadBalancerArn=r.ident)  # its listeners go with it


def _target_group(c: Any, r: Tagged) -> None:
    c.client("elbv2", r.region).delete_target_group(TargetGroupArn=r.ident)


def _launch_template(c: Any, r: Tagged) -> None:
    c.client("ec2", r.region).delete_launch_template(LaunchTemplateId=r.ident)


def _db_instance(c: Any, r: Tagged) -> None:
    c.client("rds", r.region).delete_db_instance(DBInstanceIdentifier=r.ident, SkipFinalSnapshot=True,
                                                 DeleteAutomatedBackups=True)


def _db_snapshot(c: Any, r: Tagged) -> None:
    c.client("rds", r.region).delete_db_snapshot(DBSnapshotIdentifier=r.ident)


def _db_cluster(c: Any, r: Tagged) -> None:
    rds = c.client("rds", r.region)
    cluster = rds.describe_db_clusters(DBClusterIdentifier=r.ident)["DBClusters"][0]
    if cluster.get("GlobalClusterIdentifier"):  # a member of a global database is detached first
        rds.remove_from_global_cluster(GlobalClusterIdentifier=cluster["GlobalClusterIdentifier"],
                                       DbClusterIdentifier=cluster["DBClusterArn"])
    rds.delete_db_cluster(DBClusterIdentifier=r.ident, SkipFinalSnapshot=True)


def _global_cluster(c: Any, r: Tagged) -> None:
    c.client("rds", r.region).delete_global_cluster(GlobalClusterIdentifier=r.ident)


def _table(c: Any, r: Tagged) -> None:
    ddb = c.client("dynamodb", r.region)
    replicas = [x["RegionName"] for x in ddb.describe_table(TableName=r.ident)["Table"].get("Replicas", [])
                if x["RegionName"] != r.region]
    if replicas:  # a global table's replicas go first (UpdateTable ReplicaUpdates Delete)
        ddb.update_table(TableName=r.ident, ReplicaUpdates=[{"Delete": {"RegionName": x}} for x in replicas])
    ddb.delete_table(TableName=r.ident)


def _backup_plan(c: Any, r: Tagged) -> None:
    backup = c.client("backup", r.region)
    for selection in backup.list_backup_selections(BackupPlanId=r.ident).get("BackupSelectionsList", []):
        backup.delete_backup_selection(BackupPlanId=r.ident, SelectionId=selection["SelectionId"])
    backup.delete_backup_plan(BackupPlanId=r.ident)


def _backup_vault(c: Any, r: Tagged) -> None:
    backup = c.client("backup", r.region)
    try:
        points = backup.list_recovery_points_by_backup_vault(BackupVaultName=r.ident).get("RecoveryPoints", [])
    except botocore.exceptions.ClientError:
        points = []  # not listable: DeleteBackupVault says whether it is empty
    for point in points:  # a vault is deleted empty
        backup.delete_recovery_point(BackupVaultName=r.ident, RecoveryPointArn=point["RecoveryPointArn"])
    backup.delete_backup_vault(BackupVaultName=r.ident)


def _stack(c: Any, r: Tagged) -> None:
    """A CloudFormation stack (the team's, on aws): its resources go with it; waited for until deleted."""
    cfn = c.client("cloudformation", r.region)
    cfn.delete_stack(StackName=r.arn)
    cfn.get_waiter("stack_delete_complete").wait(StackName=r.arn, WaiterConfig={"Delay": 15, "MaxAttempts": 240})


def _dax_cluster(c: Any, r: Tagged) -> None:
    c.client("dax", r.region).delete_cluster(ClusterName=r.ident)  # arn:aws:dax:<region>:<account>:cache/<name>


def _distribution(c: Any, r: Tagged) -> None:
    from pytest_drtest.topology.cdn import delete_distribution

    delete_distribution(c.client("cloudfront", "us-east-1"), r.ident)  # disabled, deployed, then deleted


def _bucket(c: Any, r: Tagged) -> None:
    empty_and_delete_bucket(c.client("s3", r.region), r.ident)


def _health_check(c: Any, r: Tagged) -> None:
    c.client("route53", "us-east-1").delete_health_check(HealthCheckId=r.ident)


def _hosted_zone(c: Any, r: Tagged) -> None:
    delete_zone(c.client("route53", "us-east-1"), r.ident)


def _subnet(c: Any, r: Tagged) -> None:
    c.client("ec2", r.region).delete_subnet(SubnetId=r.ident)


def _vpc(c: Any, r: Tagged) -> None:
    c.client("ec2", r.region).delete_vpc(VpcId=r.ident)


Deleter = Callable[[Any, Tagged], None]

#: ``service:type`` -> its deleter, in the order teardown runs them.
DELETERS: dict[str, Deleter] = {
    "cloudformation:stack": _stack,
    "cloudfront:distribution": _distribution,  # before the load balancers it points at
    "fis:experiment-template": _fis_template,
    "cloudwatch:alarm": _alarm,
    "autoscaling:group": _asg,
    "ec2:instance": _instance,
    "elbv2:loadbalancer": _load_balancer,
    "elbv2:targetgroup": _target_group,
    "ec2:launch-template": _launch_template,
    "rds:db": _db_instance,
    "rds:snapshot": _db_snapshot,
    "rds:cluster": _db_cluster,
    "rds:global-cluster": _global_cluster,
    "dax:cache": _dax_cluster,
    "dynamodb:table": _table,
    "backup:backup-plan": _backup_plan,
    "backup:backup-vault": _backup_vault,
    "s3:bucket": _bucket,
    "route53:healthcheck": _health_check,
    "route53:hostedzone": _hosted_zone,
    "ec2:subnet": _subnet,
    "ec2:vpc": _vpc,
}
ORDER = {kind: i for i, kind in enumerate(DELETERS)}


def _gone(exc: Exception) -> bool:
    if isinstance(exc, botocore.exceptions.ClientError):
        error = exc.response.get("Error", {})
        return bool(_GONE.search(str(error.get("Code", ""))) or _GONE.search(str(error.get("Message", ""))))
    return False


def delete_tagged(
    clients: Any, resources: Iterable[Tagged], *, passes: int = 1, wait: Callable[[], None] = lambda: None,
) -> list[str]:
    """Delete ``resources`` in dependency order, retrying failures for up to ``passes`` passes
    (``wait()`` between them); return ``"<arn> (<kind>): <why>"`` for each one left."""
    pending = sorted(resources, key=lambda r: (ORDER.get(r.kind, len(ORDER)), r.region, r.arn))
    left: dict[str, str] = {}
    for number in range(max(1, passes)):
        if number:
            wait()
        failed: list[Tagged] = []
        for resource in pending:
            deleter = DELETERS.get(resource.kind)
            if deleter is None:
                left[resource.arn] = f"{resource.arn} ({resource.kind}): pytest-drtest has no deleter for this type; delete it yourself"
                continue
            try:
                deleter(clients, resource)
            except Exception as exc:  # noqa: BLE001 - the next pass retries; the last one lists it
                if _gone(exc):
                    left.pop(resource.arn, None)
                    continue
                failed.append(resource)
                left[resource.arn] = f"{resource.arn} ({resource.kind}): {type(exc).__name__}: {exc}"
            else:
                left.pop(resource.arn, None)
        pending = failed
        if not pending:
            break
    return list(left.values())


def sweep(clients: Any, regions: Iterable[str], run_id: str, *, passes: int = 1,
          wait: Callable[[], None] = lambda: None) -> list[str]:
    """Find everything tagged with the run and delete it; return what could not be deleted."""
    regions = tuple(regions)
    try:
        found = find_tagged(clients, regions, run_id)
    except Exception as exc:  # noqa: BLE001 - listed: nothing could be found, so nothing was deleted
        return [f"listing the resources tagged {RUN_TAG}={run_id}: {type(exc).__name__}: {exc}"]
    return delete_tagged(clients, found, passes=passes, wait=wait)
