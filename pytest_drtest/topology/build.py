"""Build a topology through boto3, the way a team's IaC would leave it.

Per region: a VPC with a subnet in each of 3 AZs, an ALB and an Auto Scaling group across them,
the blueprint's DynamoDB tables (PITR on; a global-table replica in the DR region when the
strategy replicates continuously), versioned S3 buckets (replicated to the DR region when the
strategy replicates), Route 53 records with health checks, and for backup & restore an AWS Backup
vault per region and a plan whose rule copies every recovery point to the DR vault, and the
application's release archive in S3 Glacier Flexible Retrieval in the DR region; the blueprint's
``[cache]`` (ElastiCache), ``[dax]`` (:mod:`pytest_drtest.topology.dax`) and ``[cdn]``
(:mod:`pytest_drtest.topology.cdn`) when it has them.
"""
from __future__ import annotations

import json
from functools import partial
from typing import Any

from pytest_drtest.durations import parse_duration
from pytest_drtest.errors import DrError
from pytest_drtest.measure import object_key
from pytest_drtest.regions import zones
from pytest_drtest.topology.cdn import build_cdn, check_cdn
from pytest_drtest.topology.dax import build_dax
from pytest_drtest.topology.model import RegionStack, Topology

HEALTH_INTERVALS = (10, 30)
#: The tag naming the run that created a resource (``drtest:run=<run id>``).
RUN_TAG = "drtest:run"
#: Backup & restore: the key of the application's release archive (what the DR stack deploys) in the DR
#: region's archive bucket, stored in S3 Glacier Flexible Retrieval (``StorageClass=GLACIER``)
ARCHIVE_KEY = "releases/app.tar"
#: The image the web tier runs: the newest Amazon Linux 2023 AMI (EC2 user guide, "Find an AMI").
IMAGE_NAME = "al2023-ami-2023.*-x86_64"
EMULATED_IMAGE = "al2023-ami-2023.6.20250101.0-kernel-6.1-x86_64"


def account_of(topology: Topology) -> str:
    """The account the topology lives in, as STS says (``GetCallerIdentity``)."""
    if not topology.account:
        topology.account = topology.client("sts", "primary").get_caller_identity()["Account"]
    return topology.account


def backup_role(topology: Topology) -> str:
    """The AWS Backup default service role of the account (AWS Backup developer guide, "IAM service roles")."""
    return f"arn:aws:iam::{account_of(topology)}:role/service-role/AWSBackupDefaultServiceRole"


def newest_image(ec2: Any) -> dict[str, Any] | None:
    """The newest image named like :data:`IMAGE_NAME` (``DescribeImages``, a read), if any."""
    images = ec2.describe_images(Owners=["amazon", "self"], Filters=[{"Name": "name", "Values": [IMAGE_NAME]}])["Images"]
    return max(images, key=lambda i: i.get("CreationDate", "")) if images else None


def image_id(topology: Topology, region: str) -> str:
    """The newest image named like :data:`IMAGE_NAME` in ``region``, asked once per topology and region;
    an emulator that holds no image gets one registered, as a team's image pipeline would have."""
    if region not in topology.images:
        ec2 = topology.client("ec2", region)
        newest = newest_image(ec2)
        topology.images[region] = str(newest["ImageId"]) if newest is not None else str(ec2.register_image(
            Name=EMULATED_IMAGE, Architecture="x86_64", RootDeviceName="/dev/xvda", VirtualizationType="hvm")["ImageId"])
    return topology.images[region]


def run_tags(topology: Topology, roles: dict[str, str] | None = None) -> list[dict[str, str]]:
    """The tags of everything a run creates: the blueprint's ``[tags]``, ``drtest:topology``,
    ``drtest:strategy``, then ``roles`` (a resource's ``drtest:role`` / ``drtest:region-role``; none
    for stacks and restored copies) and ``drtest:run``."""
    own = {"drtest:topology": topology.name, "drtest:strategy": topology.strategy.name, **(roles or {})}
    if topology.run_id:
        own[RUN_TAG] = topology.run_id
    return [{"Key": k, "Value": v} for k, v in {**dict(topology.blueprint.tags), **own}.items()]


def _tags(topology: Topology, role: str, stack: RegionStack) -> list[dict[str, str]]:
    """The tags of every resource the topology builds: the blueprint's ``[tags]``, then
    ``drtest:role`` (what it is: database, cluster, table, bucket, web, health-check, ...) and
    ``drtest:region-role`` (primary or dr), so that FIS templates and backup selections can target
    them by tag, and ``drtest:run`` (the harness's run id), by which teardown on a real account finds
    everything the run created (:mod:`pytest_drtest.backends.aws_teardown`)."""
    return run_tags(topology, {"drtest:role": role, "drtest:region-role": stack.role})


def _spec(topology: Topology, kind: str, role: str, stack: RegionStack) -> list[dict[str, Any]]:
    """EC2 ``TagSpecifications`` of one resource."""
    return [{"ResourceType": kind, "Tags": _tags(topology, role, stack)}]


def _tag_route53(topology: Topology, kind: str, ident: str, role: str, stack: RegionStack) -> None:
    """Route 53 tags are set after creation (``ChangeTagsForResource``; health checks and zones)."""
    topology.clients.client("route53", "us-east-1").change_tags_for_resource(
        ResourceType=kind, ResourceId=ident.split("/")[-1], AddTags=_tags(topology, role, stack)
    )


def dr_capacity(topology: Topology) -> int:
    """Instances the DR region runs before a disaster, by strategy."""
    full = topology.blueprint.capacity
    return {"none": 0, "zero": 0, "reduced": max(1, full // 3), "full": full}[topology.strategy.dr_capacity]


def build(topology: Topology, ledger: Any = None) -> Topology:
    """Create every resource of ``topology`` (regions already chosen).

    With ``ledger``, the tables' seed items are written as soon as each table exists, before its
    global-table replica is added: the replica then starts from a copy of them, as AWS copies a
    table's items to a new replica, instead of replicating each one."""
    strategy = topology.strategy
    check_cdn(topology)  # before anything is created
    primary = topology.regions.setdefault(topology.primary_region, RegionStack(topology.primary_region, "primary"))
    dr = topology.regions.setdefault(topology.dr_region, RegionStack(topology.dr_region, "dr"))
    build_compute(topology, primary, topology.blueprint.capacity)
    if strategy.dr_capacity != "none":
        build_compute(topology, dr, dr_capacity(topology))
    build_tables(topology, ledger)
    build_buckets(topology)
    build_dns(topology)
    if strategy.name == "backup-restore":
        build_backup(topology)
    wait_replicas_active(topology)  # last: the replicas are created while the rest is built
    build_cache(topology)
    for region, stack in topology.regions.items():
        if stack.tables:
            topology.app_config.setdefault(region, {})["table"] = stack.tables[topology.probe_table]
    build_dax(topology)
    build_cdn(topology)
    topology.note("topology-built", topology.name)
    return topology


# -- compute -------------------------------------------------------------------------------------
def build_compute(topology: Topology, stack: RegionStack, desired: int) -> RegionStack:
    """VPC, 3 subnets, ALB + target group + listener, launch template and ASG across the AZs."""
    region = stack.region
    ec2 = topology.clients.client("ec2", region)
    elb = topology.clients.client("elbv2", region)
    asg = topology.clients.client("autoscaling", region)
    index = 0 if stack.role == "primary" else 1
    name = f"{topology.name}-{stack.role}"
    vpc_id = ec2.create_vpc(CidrBlock=f"10.{index}.0.0/16", TagSpecifications=_spec(topology, "vpc", "vpc", stack))["Vpc"]["VpcId"]
    topology.cleanup.push(f"vpc {vpc_id}", lambda: ec2.delete_vpc(VpcId=vpc_id))
    stack.vpc_id = vpc_id
    for i, az in enumerate(zones(region)):
        subnet = ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"10.{index}.{i}.0/24", AvailabilityZone=az,
                                   TagSpecifications=_spec(topology, "subnet", "subnet", stack))["Subnet"]["SubnetId"]
        stack.subnets[az] = subnet
        topology.cleanup.push(f"subnet {subnet}", partial(ec2.delete_subnet, SubnetId=subnet))
    lb = elb.create_load_balancer(Name=f"{name}-alb"[:32], Subnets=list(stack.subnets.values()), Scheme="internet-facing",
                                  Type="application", Tags=_tags(topology, "load-balancer", stack))["LoadBalancers"][0]
    stack.alb_arn, stack.alb_dns = lb["LoadBalancerArn"], lb["DNSName"].lower()
    topology.cleanup.push(f"alb {stack.alb_arn}", partial(elb.delete_load_balancer, LoadBalancerArn=stack.alb_arn))
    tg = elb.create_target_group(
        Name=f"{name}-tg"[:32], Protocol="HTTP", Port=80, VpcId=vpc_id, TargetType="instance",
        HealthCheckPath="/health", HealthCheckIntervalSeconds=int(topology.profile.value("elb_health_check_interval")),
        UnhealthyThresholdCount=int(topology.profile.value("elb_unhealthy_threshold")),
        HealthyThresholdCount=int(topology.profile.value("elb_healthy_threshold")),
        Tags=_tags(topology, "target-group", stack),
    )["TargetGroups"][0]["TargetGroupArn"]
    stack.target_group_arn = tg
    topology.cleanup.push(f"target group {tg}", lambda: elb.delete_target_group(TargetGroupArn=tg))
    listener = elb.create_listener(LoadBalancerArn=stack.alb_arn, Protocol="HTTP", Port=80, DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])
    listener_arn = listener["Listeners"][0]["ListenerArn"]
    topology.cleanup.push(f"listener {listener_arn}", lambda: elb.delete_listener(ListenerArn=listener_arn))
    template = f"{name}-lt"
    ec2.create_launch_template(
        LaunchTemplateName=template,
        LaunchTemplateData={"ImageId": image_id(topology, region), "InstanceType": topology.blueprint.instance_type},
        TagSpecifications=_spec(topology, "launch-template", "launch-template", stack),
    )
    topology.cleanup.push(f"launch template {template}", lambda: ec2.delete_launch_template(LaunchTemplateName=template))
    stack.asg_name = f"{name}-asg"
    maximum = max(topology.blueprint.capacity * 2, 2)
    asg.create_auto_scaling_group(
        AutoScalingGroupName=stack.asg_name,
        LaunchTemplate={"LaunchTemplateName": template, "Version": "$Latest"},
        MinSize=0, MaxSize=maximum, DesiredCapacity=desired,
        VPCZoneIdentifier=",".join(stack.subnets.values()),
        TargetGroupARNs=[tg], HealthCheckType="ELB", HealthCheckGracePeriod=0,
        Tags=[{**t, "PropagateAtLaunch": True} for t in _tags(topology, "web", stack)],
    )
    topology.cleanup.push(
        f"asg {stack.asg_name}",
        partial(asg.delete_auto_scaling_group, AutoScalingGroupName=stack.asg_name, ForceDelete=True),
    )
    stack.capacity = desired
    return stack


# -- data ------------------------------------------------------------------------------------------
def build_tables(topology: Topology, ledger: Any = None) -> None:
    primary, dr = topology.primary, topology.dr
    ddb = topology.clients.client("dynamodb", primary.region)
    for spec in topology.blueprint.tables:
        physical = f"{topology.name}-{spec.name}"
        ddb.create_table(
            TableName=physical,
            KeySchema=[{"AttributeName": spec.hash_key, "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": spec.hash_key, "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
            Tags=_tags(topology, "table", primary),
        )
        primary.tables[spec.name] = physical
        topology.cleanup.push(f"table {physical}", partial(ddb.delete_table, TableName=physical))
        ddb.update_continuous_backups(
            TableName=physical, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        )
        if ledger is not None:
            seed_table(topology, spec, physical, ledger)
        if topology.strategy.continuous_replication:
            ddb.update_table(TableName=physical, ReplicaUpdates=[{"Create": {"RegionName": dr.region}}])
            dr.tables[spec.name] = physical
            ddb_dr = topology.clients.client("dynamodb", dr.region)  # a replica has its own tags
            arn = ddb_dr.describe_table(TableName=physical)["Table"]["TableArn"]
            ddb_dr.tag_resource(ResourceArn=arn, Tags=_tags(topology, "table", dr))
            topology.cleanup.push(
                f"replica {physical} in {dr.region}",
                partial(ddb.update_table, TableName=physical, ReplicaUpdates=[{"Delete": {"RegionName": dr.region}}]),
            )


def wait_replicas_active(topology: Topology, *, timeout: float = 6 * 3600.0) -> None:
    """Poll ``DescribeTable`` (every 20 s, as botocore's ``table_exists``) until every replicated
    table and its replicas are ``ACTIVE``: there is no waiter for replicas ([BW:dynamodb])."""
    if not topology.strategy.continuous_replication:
        return
    ddb = topology.clients.client("dynamodb", topology.primary.region)
    deadline = topology.clock.now() + timeout
    for table in topology.primary.tables.values():
        while True:
            described = ddb.describe_table(TableName=table)["Table"]
            statuses = [r.get("ReplicaStatus") for r in described.get("Replicas", [])]
            if described["TableStatus"] == "ACTIVE" and all(status == "ACTIVE" for status in statuses):
                break
            if topology.clock.now() >= deadline:
                raise DrError(f"table {table}: replicas {statuses} not ACTIVE after {timeout:.0f} s")
            topology.clock.sleep(20)


def build_buckets(topology: Topology) -> None:
    primary, dr = topology.primary, topology.dr
    replicate = topology.strategy.continuous_replication
    for spec in topology.blueprint.buckets:
        source = f"{topology.name}-{spec.name}-{primary.region}"
        _bucket(topology, primary, source)
        primary.buckets[spec.name] = source
        if not replicate:
            continue
        target = f"{topology.name}-{spec.name}-{dr.region}"
        _bucket(topology, dr, target)
        dr.buckets[spec.name] = target
        s3 = topology.clients.client("s3", primary.region)
        s3.put_bucket_replication(
            Bucket=source,
            ReplicationConfiguration={
                "Role": f"arn:aws:iam::{account_of(topology)}:role/{topology.name}-replication",
                "Rules": [{
                    "ID": "to-dr", "Priority": 1, "Status": "Enabled", "Filter": {"Prefix": ""},
                    "DeleteMarkerReplication": {"Status": "Enabled"},
                    "Destination": {
                        "Bucket": f"arn:aws:s3:::{target}",
                        "ReplicationTime": {"Status": "Enabled", "Time": {"Minutes": 15}},
                        "Metrics": {"Status": "Enabled", "EventThreshold": {"Minutes": 15}},
                    },
                }],
            },
        )


def _bucket(topology: Topology, stack: RegionStack, name: str) -> None:
    region = stack.region
    s3 = topology.clients.client("s3", region)
    kwargs: dict[str, Any] = {"Bucket": name}
    if region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
    s3.create_bucket(**kwargs)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": _tags(topology, "bucket", stack)})
    topology.cleanup.push(f"bucket {name}", lambda: empty_and_delete_bucket(s3, name))


def empty_and_delete_bucket(s3: Any, name: str) -> None:
    """Delete every version and delete marker, one ``DeleteObject`` each, then the bucket (a batched
    ``DeleteObjects`` left the versioned DR replica not empty on the LocalStack backend: BucketNotEmpty)."""
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=name):
        for entry in page.get("Versions", []) + page.get("DeleteMarkers", []):
            s3.delete_object(Bucket=name, Key=entry["Key"], VersionId=entry["VersionId"])
    s3.delete_bucket(Bucket=name)


# -- cache ---------------------------------------------------------------------------------------------
#: The strategies that keep a running copy of the cache in the DR region ("Disaster Recovery of Workloads
#: on AWS": warm standby and multi-site active/active run a scaled-down or full copy of the workload)
CACHE_STRATEGIES = ("warm-standby", "active-active")


def build_cache(topology: Topology) -> None:
    """The blueprint's ``[cache]`` for warm standby and active/active: a Multi-AZ replication group (a
    primary and a replica in another AZ, automatic failover) in the primary region, a global datastore
    of it, and its secondary group in the DR region (ElastiCache user guide, "Replication across AWS
    Regions using global datastores": create the primary, the global datastore, then the secondary with
    ``GlobalReplicationGroupId``); each waited for until ``available``."""
    spec = topology.blueprint.cache
    if spec is None or topology.strategy.name not in CACHE_STRATEGIES:
        return
    primary, dr = topology.primary, topology.dr
    ec, ec_dr = (topology.clients.client("elasticache", s.region) for s in (primary, dr))
    group = f"{topology.name}-cache"
    ec.create_replication_group(
        ReplicationGroupId=group, ReplicationGroupDescription=f"{topology.name} cache", Engine=spec.engine,
        CacheNodeType=spec.node_type, NumCacheClusters=2, AutomaticFailoverEnabled=True, MultiAZEnabled=True,
        Tags=_tags(topology, "cache", primary))
    topology.cleanup.push(f"cache {group}", lambda: delete_caches(topology, group))
    wait_replication_group(topology, ec, group)
    primary.cache = group
    gds = ec.create_global_replication_group(GlobalReplicationGroupIdSuffix=group, PrimaryReplicationGroupId=group)
    topology.cache_global = str(gds["GlobalReplicationGroup"]["GlobalReplicationGroupId"])

    wait_global_datastore(topology, ec, topology.cache_global)
    ec_dr.create_replication_group(
        ReplicationGroupId=f"{group}-dr", ReplicationGroupDescription=f"{topology.name} cache (DR)",
        GlobalReplicationGroupId=topology.cache_global, NumCacheClusters=2, AutomaticFailoverEnabled=True,
        MultiAZEnabled=True, Tags=_tags(topology, "cache", dr))
    wait_replication_group(topology, ec_dr, f"{group}-dr")
    dr.cache = f"{group}-dr"


def poll_until(topology: Topology, ready: Any, what: str, *, timeout: float = 3600.0) -> None:
    """Poll ``ready()`` every 30 s of the clock until it is true (a ``DrError`` after ``timeout``)."""
    deadline = topology.clock.now() + timeout
    while not ready():
        if topology.clock.now() >= deadline:
            raise DrError(f"{what} not available after {timeout:.0f} s")
        topology.clock.sleep(30)


def wait_replication_group(topology: Topology, ec: Any, group: str) -> None:
    """botocore's ``replication_group_available`` waiter (``DescribeReplicationGroups`` until every
    group is ``available``; a ``deleted`` one fails it), polling every 30 s for up to an hour: its
    own 40 polls 15 s apart give up after 10 minutes, and a creation may take 15
    (``elasticache_create_time``)."""
    ec.get_waiter("replication_group_available").wait(ReplicationGroupId=group,
                                                      WaiterConfig={"Delay": 30, "MaxAttempts": 121})


def wait_global_datastore(topology: Topology, ec: Any, gds: str) -> None:
    """Poll ``DescribeGlobalReplicationGroups`` every 30 s until the global datastore is ``available``."""
    poll_until(topology, lambda: ec.describe_global_replication_groups(GlobalReplicationGroupId=gds)
               ["GlobalReplicationGroups"][0]["Status"] == "available", f"global datastore {gds}")


def delete_caches(topology: Topology, group: str, region: str | None = None) -> None:
    """Teardown: disassociate and delete the secondary, delete the global datastore (keeping its primary,
    the DR group after a failover), then that primary; ``group`` (in ``region``, default the primary
    region) alone without a global datastore."""
    clients = {r: topology.clients.client("elasticache", r) for r in (topology.primary_region, topology.dr_region)}
    last = (region or topology.primary_region, group)
    if topology.cache_global is not None:
        ec = clients[topology.dr_region]
        found = ec.describe_global_replication_groups(GlobalReplicationGroupId=topology.cache_global, ShowMemberInfo=True)
        for member in found["GlobalReplicationGroups"][0].get("Members", []):
            where = (member["ReplicationGroupRegion"], member["ReplicationGroupId"])
            if member.get("Role") != "SECONDARY":
                last = where
                continue
            ec.disassociate_global_replication_group(GlobalReplicationGroupId=topology.cache_global,
                                                     ReplicationGroupId=where[1], ReplicationGroupRegion=where[0])
            clients[where[0]].delete_replication_group(ReplicationGroupId=where[1])
        ec.delete_global_replication_group(GlobalReplicationGroupId=topology.cache_global, RetainPrimaryReplicationGroup=True)
    clients[last[0]].delete_replication_group(ReplicationGroupId=last[1])


# -- DNS ---------------------------------------------------------------------------------------------
def health_interval(topology: Topology) -> int:
    from pytest_drtest.errors import DrConfigError

    value = topology.profile.value("route53_health_check_interval")
    if int(value) not in HEALTH_INTERVALS or value != int(value):
        raise DrConfigError(
            f"route53_health_check_interval must be 10s or 30s (Route 53 RequestInterval), got {value:g}s",
            source=topology.profile.origins.get("route53_health_check_interval", "profile"),
        )
    return int(value)


def create_health_check(topology: Topology, stack: RegionStack) -> str:
    r53 = topology.clients.client("route53", "us-east-1")
    assert stack.alb_dns is not None
    check = r53.create_health_check(
        CallerReference=f"{topology.name}-{stack.region}",
        HealthCheckConfig={
            "Type": "HTTPS", "FullyQualifiedDomainName": stack.alb_dns, "Port": 443, "ResourcePath": "/health",
            "RequestInterval": health_interval(topology),
            "FailureThreshold": int(topology.profile.value("route53_failure_threshold")),
        },
    )["HealthCheck"]["Id"]
    _tag_route53(topology, "healthcheck", check, "health-check", stack)
    stack.health_check_id = check
    topology.cleanup.push(f"health check {check}", lambda: r53.delete_health_check(HealthCheckId=check))
    return str(check)


def record_set(topology: Topology, stack: RegionStack, **routing: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "Name": topology.fqdn, "Type": "CNAME", "TTL": int(topology.profile.value("route53_record_ttl")),
        "ResourceRecords": [{"Value": stack.alb_dns}],
    }
    if routing:
        record["SetIdentifier"] = f"{stack.role}-{stack.region}"
        record.update(routing)
        if stack.health_check_id:
            record["HealthCheckId"] = stack.health_check_id
    return record


def change_records(topology: Topology, records: list[dict[str, Any]], action: str = "UPSERT") -> str:
    r53 = topology.clients.client("route53", "us-east-1")
    change = r53.change_resource_record_sets(
        HostedZoneId=topology.zone_id,
        ChangeBatch={"Changes": [{"Action": action, "ResourceRecordSet": r} for r in records]},
    )
    return str(change["ChangeInfo"]["Id"])


def build_dns(topology: Topology) -> None:
    r53 = topology.clients.client("route53", "us-east-1")
    domain = topology.blueprint.domain
    zone = r53.create_hosted_zone(Name=domain, CallerReference=f"{topology.name}-zone")["HostedZone"]["Id"]
    topology.zone_id = zone.split("/")[-1]
    _tag_route53(topology, "hostedzone", zone, "dns-zone", topology.primary)
    topology.fqdn = topology.blueprint.fqdn
    primary, dr = topology.primary, topology.dr
    routing = topology.strategy.routing
    records: list[dict[str, Any]]
    if routing == "simple":
        create_health_check(topology, primary)  # monitoring only: the record itself is simple
        records = [record_set(topology, primary)]
    elif routing == "failover":
        create_health_check(topology, primary)
        create_health_check(topology, dr)
        records = [record_set(topology, primary, Failover="PRIMARY"), record_set(topology, dr, Failover="SECONDARY")]
    else:
        create_health_check(topology, primary)
        create_health_check(topology, dr)
        records = [record_set(topology, s, Region=s.region) for s in (primary, dr)]
    change_records(topology, records, "CREATE")
    topology.cleanup.push(f"zone {zone}", lambda: delete_zone(r53, topology.zone_id))


def delete_zone(r53: Any, zone_id: str | None) -> None:
    """Delete every record but SOA/NS (as they are now: runbooks may have changed them), then the zone."""
    changes = [
        {"Action": "DELETE", "ResourceRecordSet": record}
        for page in r53.get_paginator("list_resource_record_sets").paginate(HostedZoneId=zone_id)
        for record in page["ResourceRecordSets"]
        if record["Type"] not in ("SOA", "NS")
    ]
    if changes:
        r53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": changes})
    r53.delete_hosted_zone(Id=zone_id)


# -- backup -------------------------------------------------------------------------------------------
def build_backup(topology: Topology) -> None:
    primary, dr = topology.primary, topology.dr
    for stack in (primary, dr):
        backup = topology.clients.client("backup", stack.region)
        stack.vault = f"{topology.name}-vault"
        backup.create_backup_vault(BackupVaultName=stack.vault,
                                   BackupVaultTags={t["Key"]: t["Value"] for t in _tags(topology, "backup-vault", stack)})
        topology.cleanup.push(
            f"vault {stack.vault} in {stack.region}", partial(backup.delete_backup_vault, BackupVaultName=stack.vault)
        )
    backup = topology.clients.client("backup", primary.region)
    dr_vault_arn = f"arn:aws:backup:{dr.region}:{account_of(topology)}:backup-vault:{dr.vault}"
    plan = backup.create_backup_plan(BackupPlanTags={t["Key"]: t["Value"] for t in _tags(topology, "backup-plan", primary)},
                                     BackupPlan={
        "BackupPlanName": f"{topology.name}-plan",
        "Rules": [{
            "RuleName": "every-4h-copy-to-dr",
            "TargetBackupVaultName": primary.vault,
            "ScheduleExpression": topology.blueprint.backup_schedule,
            "StartWindowMinutes": 60,
            "CompletionWindowMinutes": 600,
            "Lifecycle": {"DeleteAfterDays": 35},
            "CopyActions": [{"DestinationBackupVaultArn": dr_vault_arn, "Lifecycle": {"DeleteAfterDays": 35}}],
        }],
    })
    topology.backup_plan_id = plan["BackupPlanId"]
    topology.cleanup.push("backup plan", lambda: backup.delete_backup_plan(BackupPlanId=plan["BackupPlanId"]))
    resources = [
        f"arn:aws:dynamodb:{primary.region}:{account_of(topology)}:table/{physical}" for physical in primary.tables.values()
    ]
    # the buckets too (AWS Backup for S3 needs them versioned, which they are), or nothing brings
    # their objects back in the DR region: a backup & restore design backs up all of its data
    resources += [f"arn:aws:s3:::{bucket}" for bucket in primary.buckets.values()]
    selection = backup.create_backup_selection(
        BackupPlanId=plan["BackupPlanId"],
        BackupSelection={
            "SelectionName": f"{topology.name}-tables",
            "IamRoleArn": backup_role(topology),
            "Resources": resources,
        },
    )
    topology.cleanup.push(
        "backup selection",
        lambda: backup.delete_backup_selection(BackupPlanId=plan["BackupPlanId"], SelectionId=selection["SelectionId"]),
    )
    build_archive(topology)


def build_archive(topology: Topology) -> None:
    """The application's release archive, kept in the DR region in S3 Glacier Flexible Retrieval (the
    cheapest class that can be restored within hours: S3 user guide, "Understanding S3 Glacier storage
    classes"): ``PutObject`` with ``StorageClass=GLACIER``. An archived object cannot be read before a
    ``RestoreObject`` has made a temporary copy of it (S3 user guide, "Restoring an archived object"),
    so the backup & restore runbook restores it with the blueprint's ``[backup] archive_restore_tier``."""
    dr = topology.dr
    name = f"{topology.name}-archive-{dr.region}"
    _bucket(topology, dr, name)
    dr.archive = name
    put_release_archive(topology)


def put_release_archive(topology: Topology) -> None:
    """Upload the release archive into the DR region's archive bucket, as a release pipeline would
    (a template creates the bucket; CloudFormation creates no objects)."""
    dr = topology.dr
    assert dr.archive is not None
    body = json.dumps({"application": topology.blueprint.name, "release": topology.run_id or "current"}).encode()
    topology.clients.client("s3", dr.region).put_object(Bucket=dr.archive, Key=ARCHIVE_KEY, Body=body, StorageClass="GLACIER")


def seed(topology: Topology, ledger: Any, put: Any = None) -> None:
    """Write the blueprint's seed items and objects; items enter the ledger with their ack time.

    ``put(key, payload)``: write the probe table's seed items through the application (the team's
    service), so that nothing the service never saw counts as lost; its database is its own."""
    for spec in topology.blueprint.tables:
        if spec.name not in topology.seeded:
            seed_table(topology, spec, topology.primary.tables[spec.name], ledger, put)
    database = topology.blueprint.database
    target = topology.app_config.get(topology.primary_region, {}).get("db")
    if database is not None and target is not None and put is None:
        probe_spec = topology.blueprint.table(topology.probe_table)
        rows = [(f"seed#{i:05d}", json.dumps({"seed": i, "table": probe_spec.name}), topology.clock.now())
                for i in range(probe_spec.seed_items)]
        with db_connect(topology, target) as conn, conn.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO {database.table} (pk, payload, written_at) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING", rows
            )
    s3 = topology.clients.client("s3", topology.primary_region)
    for bucket_spec in topology.blueprint.buckets:
        bucket = topology.primary.buckets[bucket_spec.name]
        for i in range(bucket_spec.seed_objects):
            key = f"seed/{i:05d}.json"
            etag = s3.put_object(Bucket=bucket, Key=key, Body=json.dumps({"seed": i}).encode())["ETag"]
            topology.objects.record(object_key(bucket_spec.name, key), etag, topology.clock.now())


def seed_table(topology: Topology, spec: Any, physical: str, ledger: Any, put: Any = None) -> None:
    """A table's seed items (in batches of 25); the probe table's enter the ledger with their ack time."""
    ddb = topology.clients.client("dynamodb", topology.primary_region)
    items = [(f"seed#{i:05d}", json.dumps({"seed": i, "table": spec.name})) for i in range(spec.seed_items)]
    through_app = put is not None and spec.name == topology.probe_table
    for start in range(0, len(items), 25):  # BatchWriteItem takes up to 25 puts [BC:dynamodb]
        batch = items[start:start + 25]
        if through_app:
            for key, payload in batch:
                put(key, payload)
        else:
            _batch_write(ddb, physical, [{spec.hash_key: {"S": k}, "payload": {"S": v}} for k, v in batch])
        if spec.name == topology.probe_table:
            for key, payload in batch:
                ledger.record(key, payload, topology.clock.now())
    topology.seeded.add(spec.name)


def _batch_write(ddb: Any, table: str, items: list[dict[str, Any]]) -> None:
    """Put ``items`` with BatchWriteItem, retrying what comes back unprocessed (as the SDKs advise)."""
    request: dict[str, Any] = {table: [{"PutRequest": {"Item": item}} for item in items]}
    while request:
        request = ddb.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}


# -- relational tier ------------------------------------------------------------------------------------
DB_USER = "drtest"
DB_PASSWORD = "drtest-secret"


def db_target(topology: Topology, region: str, ident: str, kind: str, *, reader: bool = False) -> dict[str, Any]:
    """What the application connects to: an RDS instance or an Aurora cluster endpoint."""
    return {"kind": kind, "region": region, "id": ident, "reader": reader}


def build_database(topology: Topology) -> None:
    """RDS Multi-AZ PostgreSQL (+ a cross-region read replica when the strategy replicates), or an
    Aurora PostgreSQL global database for active/active; the ledger table created through psycopg."""
    spec = topology.blueprint.database
    if spec is None:
        return
    primary, dr = topology.primary, topology.dr
    ident = f"{topology.name}-db"
    if topology.strategy.name == "active-active":
        _build_aurora_global(topology, ident)
    else:
        rds = topology.clients.client("rds", primary.region)
        rds.create_db_instance(
            DBInstanceIdentifier=ident, Engine="postgres", DBInstanceClass=spec.instance_class, MultiAZ=True,
            MasterUsername=DB_USER, MasterUserPassword=DB_PASSWORD, DBName=spec.name, AllocatedStorage=20,
            BackupRetentionPeriod=7, Tags=_tags(topology, "database", primary),
        )
        topology.cleanup.push(f"db {ident}", lambda: rds.delete_db_instance(DBInstanceIdentifier=ident, SkipFinalSnapshot=True))
        rds.get_waiter("db_instance_available").wait(DBInstanceIdentifier=ident, WaiterConfig={"Delay": 30, "MaxAttempts": 120})
        primary.database = ident
        writer = db_target(topology, primary.region, ident, "instance")
        topology.app_config.setdefault(primary.region, {})["db"] = writer
        create_ledger_table(topology, writer)
        topology.app_config.setdefault(dr.region, {})["db"] = writer  # the DR app writes across regions
        if topology.strategy.continuous_replication:
            replica = f"{topology.name}-db-replica"
            rds_dr = topology.clients.client("rds", dr.region)
            source_arn = rds.describe_db_instances(DBInstanceIdentifier=ident)["DBInstances"][0]["DBInstanceArn"]
            # pilot light keeps a smaller replica ("Disaster Recovery of Workloads on AWS", pilot light);
            # the failover runbook scales it to the production class
            replica_class = spec.pilot_light_instance_class if topology.strategy.name == "pilot-light" else spec.instance_class
            rds_dr.create_db_instance_read_replica(
                DBInstanceIdentifier=replica, SourceDBInstanceIdentifier=source_arn, DBInstanceClass=replica_class,
                SourceRegion=primary.region, Tags=_tags(topology, "database", dr),
            )
            topology.cleanup.push(
                f"db {replica}", lambda: rds_dr.delete_db_instance(DBInstanceIdentifier=replica, SkipFinalSnapshot=True)
            )
            rds_dr.get_waiter("db_instance_available").wait(DBInstanceIdentifier=replica, WaiterConfig={"Delay": 30, "MaxAttempts": 120})
            dr.database = replica
        else:
            start_snapshot_job(topology, ident)
    build_database_record(topology)


DB_RECORD = "db"  # db.<domain>: the name the application's database answers at


def build_database_record(topology: Topology) -> None:
    """A failover record ``db.<domain>`` for the application's database, as teams point a name at it
    (Route 53 developer guide, "Configuring DNS failover"): PRIMARY the primary writer's endpoint
    with a TCP health check on it, SECONDARY the DR region's database (a replica or secondary
    cluster, promoted by the runbook). Services that follow DNS use it (``DRTEST_DB_RECORD``)."""
    import ipaddress

    spec = topology.blueprint.database
    writer = topology.app_config.get(topology.primary_region, {}).get("db")
    if spec is None or writer is None or topology.zone_id is None:
        return
    r53 = topology.client("route53", "primary")
    name = f"{DB_RECORD}.{topology.blueprint.domain}"
    ttl = int(parse_duration(spec.record_ttl))

    def target(address: str) -> tuple[str, dict[str, str]]:
        try:
            ipaddress.ip_address(address)
        except ValueError:
            return "CNAME", {"FullyQualifiedDomainName": address}
        return "A", {"IPAddress": address}

    address, port = database_endpoint(topology, writer)
    kind, where = target(address)
    record: dict[str, Any] = {"Name": name, "Type": kind, "TTL": ttl, "ResourceRecords": [{"Value": address}]}
    secondary = None
    if topology.dr.database is not None:
        dr_kind = "cluster" if topology.global_cluster else "instance"
        dr_address, _ = database_endpoint(topology, db_target(topology, topology.dr_region, topology.dr.database, dr_kind))
        if target(dr_address)[0] == kind:
            secondary = {**record, "SetIdentifier": f"dr-{topology.dr_region}", "Failover": "SECONDARY",
                         "ResourceRecords": [{"Value": dr_address}]}
    if secondary is not None:
        check = r53.create_health_check(
            CallerReference=f"{topology.name}-db", HealthCheckConfig={
                "Type": "TCP", **where, "Port": port, "RequestInterval": health_interval(topology),
                "FailureThreshold": int(topology.profile.value("route53_failure_threshold"))},
        )["HealthCheck"]["Id"]
        _tag_route53(topology, "healthcheck", check, "health-check", topology.primary)
        topology.cleanup.push(f"health check {check}", lambda: r53.delete_health_check(HealthCheckId=check))
        record.update(SetIdentifier=f"primary-{topology.primary_region}", Failover="PRIMARY", HealthCheckId=check)
    change = change_records(topology, [record] + ([secondary] if secondary else []), "CREATE")
    r53.get_waiter("resource_record_sets_changed").wait(Id=change, WaiterConfig={"Delay": 10, "MaxAttempts": 60})
    topology.db_record = name


def _build_aurora_global(topology: Topology, ident: str) -> None:
    spec = topology.blueprint.database
    assert spec is not None
    primary, dr = topology.primary, topology.dr
    rds = topology.clients.client("rds", primary.region)
    rds_dr = topology.clients.client("rds", dr.region)
    global_id = f"{topology.name}-global"
    rds.create_global_cluster(GlobalClusterIdentifier=global_id, Engine="aurora-postgresql", DatabaseName=spec.name,
                              Tags=_tags(topology, "global-cluster", primary))
    topology.cleanup.push(f"global cluster {global_id}", lambda: rds.delete_global_cluster(GlobalClusterIdentifier=global_id))
    secondary = f"{ident}-{dr.region}"
    for client, stack, cluster, readers in ((rds, primary, ident, 1), (rds_dr, dr, secondary, 1)):
        kwargs: dict[str, Any] = {
            "DBClusterIdentifier": cluster, "Engine": "aurora-postgresql", "GlobalClusterIdentifier": global_id,
            "EnableHttpEndpoint": True, "Tags": _tags(topology, "cluster", stack),
        }
        if stack is primary:
            kwargs.update(MasterUsername=DB_USER, MasterUserPassword=DB_PASSWORD, DatabaseName=spec.name)
        client.create_db_cluster(**kwargs)
        # pushed before the instances: teardown runs newest first, and a cluster goes after its instances
        topology.cleanup.push(f"cluster {cluster}", partial(delete_cluster, client, global_id, cluster))
        stack.database_secret = _database_secret(topology, stack, cluster)
        members = (["writer"] if stack is primary else []) + [f"reader{i + 1}" for i in range(readers)]
        for member in members:
            instance = f"{cluster}-{member}"
            client.create_db_instance(
                DBInstanceIdentifier=instance, DBClusterIdentifier=cluster, Engine="aurora-postgresql",
                DBInstanceClass=spec.instance_class, Tags=_tags(topology, "database", stack),
            )
            topology.cleanup.push(f"db {instance}", partial(client.delete_db_instance, DBInstanceIdentifier=instance, SkipFinalSnapshot=True))
        client.get_waiter("db_cluster_available").wait(DBClusterIdentifier=cluster, WaiterConfig={"Delay": 30, "MaxAttempts": 120})
        for member in members:  # the cluster's status says nothing of its instances'
            client.get_waiter("db_instance_available").wait(
                DBInstanceIdentifier=f"{cluster}-{member}", WaiterConfig={"Delay": 30, "MaxAttempts": 120}
            )
        stack.database = cluster
    writer = db_target(topology, primary.region, ident, "cluster")
    create_ledger_table(topology, writer)
    for stack in (primary, dr):
        topology.app_config.setdefault(stack.region, {})["db"] = writer  # writes go to the primary's writer
    topology.global_cluster = global_id


def _database_secret(topology: Topology, stack: RegionStack, cluster: str) -> str:
    """The cluster's credentials as the Data API reads them: a Secrets Manager secret in the cluster's
    region whose ``SecretString`` is JSON with ``username`` and ``password`` (Aurora user guide, "Using
    the RDS Data API": storing database credentials in AWS Secrets Manager); its ARN."""
    client = topology.clients.client("secretsmanager", stack.region)
    name = f"{cluster}-master"
    arn: str = client.create_secret(
        Name=name, SecretString=json.dumps({"username": DB_USER, "password": DB_PASSWORD}),
        Tags=_tags(topology, "database-secret", stack),
    )["ARN"]
    topology.cleanup.push(f"secret {name}", partial(client.delete_secret, SecretId=arn, ForceDeleteWithoutRecovery=True))
    return arn


def delete_cluster(client: Any, global_id: str | None, cluster: str) -> None:
    """Detach from the global cluster (a member cannot be deleted), then delete."""
    if global_id:
        arn = client.describe_db_clusters(DBClusterIdentifier=cluster)["DBClusters"][0]["DBClusterArn"]
        try:
            client.remove_from_global_cluster(GlobalClusterIdentifier=global_id, DbClusterIdentifier=arn)
        except client.exceptions.ClientError:
            pass  # already detached (e.g. by the runbook)
    client.delete_db_cluster(DBClusterIdentifier=cluster, SkipFinalSnapshot=True)


def start_snapshot_job(topology: Topology, ident: str) -> None:
    """Backup & restore: the team's scheduled job — snapshot the instance, copy it to the DR region."""
    from pytest_drtest.durations import parse_duration

    spec = topology.blueprint.database
    assert spec is not None
    primary, dr = topology.primary, topology.dr
    clock = topology.clock
    counter = {"n": 0}

    def take() -> None:
        counter["n"] += 1
        name = f"{ident}-{counter['n']:03d}"
        rds = topology.clients.client("rds", primary.region)
        try:
            arn = rds.create_db_snapshot(DBSnapshotIdentifier=name, DBInstanceIdentifier=ident,
                                         Tags=_tags(topology, "snapshot", primary))["DBSnapshot"]["DBSnapshotArn"]
        except Exception:  # noqa: BLE001 - the region may be gone: the job fails like a real one
            topology.note("snapshot-job-failed", name)
            return
        clock.call_later(60, lambda: copy_when_ready(name, arn))

    def copy_when_ready(name: str, arn: str) -> None:
        try:
            status = topology.clients.client("rds", primary.region).describe_db_snapshots(DBSnapshotIdentifier=name)["DBSnapshots"][0]["Status"]
            if status != "available":
                clock.call_later(60, lambda: copy_when_ready(name, arn))
                return
            topology.clients.client("rds", dr.region).copy_db_snapshot(
                SourceDBSnapshotIdentifier=arn, TargetDBSnapshotIdentifier=f"{name}-dr", SourceRegion=primary.region,
                Tags=_tags(topology, "snapshot", dr),
            )
        except Exception:  # noqa: BLE001
            topology.note("snapshot-copy-failed", name)

    handle = clock.every(parse_duration(spec.snapshot_every), take, name="snapshot-job")
    topology.cleanup.push("snapshot job", handle.cancel)
    topology.jobs.append(handle)


def db_connect(topology: Topology, target: dict[str, Any], *, timeout: float = 5.0) -> Any:
    """A psycopg connection to ``target`` (autocommit) through its emulated endpoint."""
    import psycopg

    info = db_connection_info(topology, target)
    return psycopg.connect(
        host=info["host"], port=info["port"], user=info["user"], password=info["password"], dbname=info["dbname"],
        autocommit=True, connect_timeout=max(1, int(timeout)),
    )


def database_endpoint(topology: Topology, target: dict[str, Any]) -> tuple[str, int]:
    """``(address, port)`` of a database target as RDS describes it (instance, or cluster writer or
    reader endpoint): what any client connects to. An endpoint keeps its address for the life of
    its resource (RDS keeps it across failovers), so each is asked once."""
    key = (target["region"], target["id"], target["kind"], bool(target.get("reader")))
    if key in topology.endpoints:
        return topology.endpoints[key]
    rds = topology.client("rds", target["region"])
    if target["kind"] == "cluster":
        cluster = rds.describe_db_clusters(DBClusterIdentifier=target["id"])["DBClusters"][0]
        host = cluster["ReaderEndpoint"] if target.get("reader") else cluster["Endpoint"]
        found, status = (str(host), int(cluster["Port"])), cluster.get("Status")
    else:
        instance = rds.describe_db_instances(DBInstanceIdentifier=target["id"])["DBInstances"][0]
        found, status = (str(instance["Endpoint"]["Address"]), int(instance["Endpoint"]["Port"])), instance.get("DBInstanceStatus")
    if status == "available":  # settled: the endpoint is what it will stay
        topology.endpoints[key] = found
    return found


def db_connection_info(topology: Topology, target: dict[str, Any]) -> dict[str, Any]:
    """psycopg keyword arguments of a database target: its endpoint from ``Describe*`` and the master
    credentials the topology created it with (restores keep the source's, as RDS restores do)."""
    spec = topology.blueprint.database
    host, port = database_endpoint(topology, target)
    return {"host": host, "port": port, "user": DB_USER, "password": DB_PASSWORD, "dbname": spec.name if spec else "postgres"}


def create_ledger_table(topology: Topology, target: dict[str, Any]) -> None:
    spec = topology.blueprint.database
    assert spec is not None
    with db_connect(topology, target) as conn:
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {spec.table} (pk text PRIMARY KEY, payload text NOT NULL, written_at double precision)"
        )
