"""What a fault names, resolved against what exists: AWS describe/list calls on the run's clients.

A name is a logical resource of the built topology when the blueprint has it (``orders``,
``assets``, ``database``), else a physical one that must exist: a DynamoDB table
(``DescribeTable``), an S3 bucket (``HeadBucket``/``GetBucketLocation``), an RDS instance
(``DescribeDBInstances``) or an Aurora cluster (``DescribeDBClusters``). Errors name what was
asked for and what exists.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import botocore.exceptions

from pytest_drtest.errors import DrConfigError
from pytest_drtest.regions import REGION_AZS

if TYPE_CHECKING:
    from pytest_drtest.faults.base import Fault, FaultContext


def _listing(names: list[str], what: str) -> str:
    if not names:
        return f"there are no {what}"
    shown = ", ".join(sorted(names)[:20])
    return f"{what}: {shown}" + (f" (+{len(names) - 20} more)" if len(names) > 20 else "")


def _error_code(exc: botocore.exceptions.ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


# -- regions and AZs ---------------------------------------------------------------------------------
def known_regions(ctx: FaultContext) -> list[str]:
    """Region names as ``DescribeRegions`` lists them (asked in a region that is up)."""
    assert ctx.regions is not None
    for region in ctx.regions:
        if ctx.region_up(region):
            try:
                return [r["RegionName"] for r in ctx.client("ec2", region).describe_regions()["Regions"]]
            except botocore.exceptions.BotoCoreError:
                continue
    return list(REGION_AZS)


def resolve_region(ctx: FaultContext, fault: Fault, which: str) -> str:
    """``primary``, ``dr`` or an existing region name -> the region name."""
    role = ctx.role(which)
    if role is not None:
        return role
    assert ctx.regions is not None
    if which in ctx.regions:
        return which
    names = known_regions(ctx)
    if which not in names:
        raise DrConfigError(
            f"{fault.describe()}: region {which!r} does not exist; expected 'primary' ({ctx.regions[0]}), "
            f"'dr' ({ctx.regions[1]}) or a region DescribeRegions lists, e.g. {', '.join(sorted(names)[:6])}"
        )
    return which


def require_up(ctx: FaultContext, fault: Fault, region: str) -> None:
    if not ctx.region_up(region):
        raise DrConfigError(f"{fault.describe()}: {region} is lost (a region-outage is injected): nothing there can be reached")


def availability_zones(ctx: FaultContext, fault: Fault, region: str) -> list[str]:
    """AZ names of ``region`` (``DescribeAvailabilityZones``)."""
    require_up(ctx, fault, region)
    zones = ctx.client("ec2", region).describe_availability_zones()["AvailabilityZones"]
    return [z["ZoneName"] for z in zones]


# -- DynamoDB tables -------------------------------------------------------------------------------
def table_exists(ctx: FaultContext, region: str, table: str) -> bool:
    try:
        ctx.client("dynamodb", region).describe_table(TableName=table)
        return True
    except botocore.exceptions.ClientError as exc:
        if _error_code(exc) == "ResourceNotFoundException":
            return False
        raise


def list_tables(ctx: FaultContext, region: str) -> list[str]:
    names: list[str] = []
    for page in ctx.client("dynamodb", region).get_paginator("list_tables").paginate():
        names.extend(page["TableNames"])
    return names


def missing_table(fault: Fault, table: str, regions: list[str], existing: list[str]) -> DrConfigError:
    where = " or ".join(regions)
    return DrConfigError(f"{fault.describe()}: table {table!r} does not exist in {where}; {_listing(existing, 'tables there')}")


def key_schema(ctx: FaultContext, region: str, table: str) -> list[tuple[str, str]]:
    """``[(attribute, type)]`` of the table's key, hash key first (``DescribeTable``)."""
    described = ctx.client("dynamodb", region).describe_table(TableName=table)["Table"]
    types = {a["AttributeName"]: a["AttributeType"] for a in described["AttributeDefinitions"]}
    schema = sorted(described["KeySchema"], key=lambda k: 0 if k["KeyType"] == "HASH" else 1)
    return [(k["AttributeName"], types[k["AttributeName"]]) for k in schema]


# -- S3 buckets ------------------------------------------------------------------------------------
def _s3(ctx: FaultContext) -> Any:
    assert ctx.regions is not None
    return ctx.client("s3", ctx.regions[0] if ctx.region_up(ctx.regions[0]) else ctx.regions[1])


def bucket_home(ctx: FaultContext, bucket: str) -> str | None:
    """The home region of ``bucket`` (``GetBucketLocation``), None when it does not exist."""
    try:
        location = _s3(ctx).get_bucket_location(Bucket=bucket).get("LocationConstraint")
    except botocore.exceptions.ClientError as exc:
        if _error_code(exc) in ("NoSuchBucket", "404", "NotFound"):
            return None
        raise
    # S3 API reference, GetBucketLocation: no constraint is us-east-1; "EU" is the legacy eu-west-1
    return {None: "us-east-1", "": "us-east-1", "EU": "eu-west-1"}.get(location, location) or "us-east-1"


def missing_bucket(ctx: FaultContext, fault: Fault, bucket: str) -> DrConfigError:
    names = [b["Name"] for b in _s3(ctx).list_buckets().get("Buckets", [])]
    return DrConfigError(f"{fault.describe()}: bucket {bucket!r} does not exist; {_listing(names, 'buckets')}")


# -- RDS instances and Aurora clusters -------------------------------------------------------------
@dataclass(frozen=True)
class Database:
    """An RDS DB instance or an Aurora DB cluster that exists."""

    kind: str  # "instance" or "cluster"
    region: str
    id: str
    description: dict[str, Any]


def find_database(ctx: FaultContext, fault: Fault, ident: str, regions: list[str]) -> Database:
    """The DB instance or cluster ``ident`` in the first of ``regions`` that has it."""
    seen: list[str] = []
    for region in dict.fromkeys(regions):
        if not ctx.region_up(region):
            continue
        rds = ctx.client("rds", region)
        try:
            found = rds.describe_db_instances(DBInstanceIdentifier=ident)["DBInstances"]
            if found:
                return Database("instance", region, ident, found[0])
        except botocore.exceptions.ClientError as exc:
            if _error_code(exc) != "DBInstanceNotFound":
                raise
        try:
            clusters = rds.describe_db_clusters(DBClusterIdentifier=ident)["DBClusters"]
            if clusters:
                return Database("cluster", region, ident, clusters[0])
        except botocore.exceptions.ClientError as exc:
            if _error_code(exc) not in ("DBClusterNotFoundFault", "DBClusterNotFound"):
                raise
        seen.extend(i["DBInstanceIdentifier"] for i in rds.describe_db_instances()["DBInstances"])
        seen.extend(c["DBClusterIdentifier"] for c in rds.describe_db_clusters()["DBClusters"])
    raise DrConfigError(
        f"{fault.describe()}: no DB instance or cluster {ident!r} in {' or '.join(dict.fromkeys(regions))}; "
        f"{_listing(seen, 'DB instances and clusters there')}"
    )


def global_cluster_exists(ctx: FaultContext, region: str, ident: str) -> bool:
    try:
        return bool(ctx.client("rds", region).describe_global_clusters(GlobalClusterIdentifier=ident)["GlobalClusters"])
    except botocore.exceptions.ClientError:
        return False
