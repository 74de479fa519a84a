"""Target resolution: a template's targets -> the resources of the experiment's region.

[FIS-UG:targets]: a target names resources by ``resourceArns`` or by ``resourceTags`` (every tag
must match), narrowed by ``filters`` (an attribute path of the service's Describe output, e.g.
``Placement.AvailabilityZone``, ``State.Name``; any value matches) and the resource type's
``parameters`` (``writerAvailabilityZoneIdentifiers``, ``availabilityZoneIdentifier``: AZ names
or AZ ids), then ``selectionMode``: ``ALL``, ``COUNT(n)`` (n drawn at random), ``PERCENT(n)`` (that
share, rounded down, at least one). Resources are read through the emulation's hooked clients, so
they are what the world reports (an Auto Scaling instance's AZ is where the model placed it).
Resource types the emulated world never holds (ElastiCache, EBS volumes of the topologies, IAM
roles, ECS, EKS, Lambda, ...) resolve to the ``resourceArns`` given and to nothing by tags.
"""
from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import botocore.exceptions

from pytest_drtest.emulation.fis.models import ResolvedResource
from pytest_drtest.emulation.principal import ServicePrincipal
from pytest_drtest.profile import LatencyProfile


def _tags(rows: list[dict[str, Any]] | None) -> dict[str, str]:
    return {str(t["Key"]): str(t.get("Value", "")) for t in rows or []}


def attribute_values(data: Any, path: str) -> list[str]:
    """The values at a dotted ``path`` of a Describe row; lists are walked ([FIS-UG:targets] filters)."""
    current: list[Any] = [data]
    for part in path.split("."):
        nxt: list[Any] = []
        for item in current:
            items = item if isinstance(item, list) else [item]
            for element in items:
                if isinstance(element, dict) and part in element:
                    nxt.append(element[part])
        current = nxt
    flat: list[Any] = []
    for item in current:
        flat.extend(item if isinstance(item, list) else [item])
    return [str(v).lower() if isinstance(v, bool) else str(v) for v in flat]


class TargetResolver:
    """Reads the resources of one region through ``api`` and resolves templates' targets."""

    def __init__(self, api: ServicePrincipal, region: str, account: str, profile: LatencyProfile) -> None:
        self.api = api
        self.region = region
        self.account = account
        self.profile = profile
        self._zones: dict[str, str] | None = None

    def client(self, service: str) -> Any:
        return self.api.client(service, self.region)

    # -- AZ ids and names --------------------------------------------------------------------
    def zone_names(self, identifiers: str) -> set[str]:
        """``"us-east-1a,use1-az2"`` -> AZ names (FIS takes either form)."""
        if self._zones is None:
            zones = self.client("ec2").describe_availability_zones()["AvailabilityZones"]
            self._zones = {z["ZoneId"]: z["ZoneName"] for z in zones}
        wanted = {part.strip() for part in identifiers.split(",") if part.strip()}
        return {self._zones.get(part, part) for part in wanted}

    # -- resolution ---------------------------------------------------------------------------
    def resolve(self, name: str, target: dict[str, Any]) -> list[ResolvedResource]:
        kind = target["resourceType"]
        reader = self._readers().get(kind)
        arns = list(target.get("resourceArns") or [])
        if reader is None:
            found = [ResolvedResource(arn, {}, {}, self.region, arn.rsplit("/", 1)[-1].rsplit(":", 1)[-1]) for arn in arns]
        else:
            found = reader()
            if arns:
                found = [r for r in found if r.arn in arns]
        tags = target.get("resourceTags") or {}
        found = [r for r in found if all(r.tags.get(k) == v for k, v in tags.items())]
        for item in target.get("filters") or []:
            wanted = set(item["values"])
            found = [r for r in found if wanted & set(attribute_values(r.attributes, item["path"]))]
        found = self._by_parameters(kind, target.get("parameters") or {}, found)
        return self._select(name, target["selectionMode"], sorted(found, key=lambda r: r.arn))

    def _by_parameters(self, kind: str, parameters: dict[str, str], found: list[ResolvedResource]) -> list[ResolvedResource]:
        if "writerAvailabilityZoneIdentifiers" in parameters:
            zones = self.zone_names(parameters["writerAvailabilityZoneIdentifiers"])
            found = [r for r in found if r.attributes.get("_writerAz") in zones]
        if "availabilityZoneIdentifier" in parameters:
            zones = self.zone_names(parameters["availabilityZoneIdentifier"])
            found = [r for r in found if zones & set(r.attributes.get("_azs", []))]
        return found

    def _select(self, name: str, mode: str, found: list[ResolvedResource]) -> list[ResolvedResource]:
        match = re.match(r"^(COUNT|PERCENT)\((\d+)\)$", mode)
        if match is None or not found:
            return found
        n = int(match.group(2))
        count = n if match.group(1) == "COUNT" else max(1, math.floor(len(found) * n / 100))
        if count >= len(found):
            return found
        rng = self.profile.rng(f"fis.selection:{name}")
        return sorted(rng.sample(found, count), key=lambda r: r.arn)

    def _readers(self) -> dict[str, Callable[[], list[ResolvedResource]]]:
        return {
            "aws:ec2:instance": self._instances,
            "aws:ec2:subnet": self._subnets,
            "aws:ec2:autoscaling-group": self._groups,
            "aws:ec2:ebs-volume": self._volumes,
            "aws:ec2:transit-gateway": self._transit_gateways,
            "aws:rds:db": self._db_instances,
            "aws:rds:cluster": self._db_clusters,
            "aws:dynamodb:global-table": self._global_tables,
            "aws:s3:bucket": self._buckets,
            "aws:arc:zonal-shift-managed-resource": self._managed_resources,
        }

    # -- readers, one per resource type ----------------------------------------------------------
    def _arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{self.account}:{resource}"

    def _instances(self) -> list[ResolvedResource]:
        out = []
        for page in self.client("ec2").get_paginator("describe_instances").paginate():
            for reservation in page["Reservations"]:
                for row in reservation["Instances"]:
                    if row["State"]["Name"] in ("terminated", "shutting-down"):
                        continue
                    row["_azs"] = [row.get("Placement", {}).get("AvailabilityZone")]
                    out.append(ResolvedResource(self._arn("ec2", f"instance/{row['InstanceId']}"), row, _tags(row.get("Tags")),
                                                self.region, row["InstanceId"]))
        return out

    def _subnets(self) -> list[ResolvedResource]:
        rows = self.client("ec2").describe_subnets()["Subnets"]
        return [ResolvedResource(row.get("SubnetArn") or self._arn("ec2", f"subnet/{row['SubnetId']}"), row, _tags(row.get("Tags")),
                                 self.region, row["SubnetId"]) for row in rows]

    def _volumes(self) -> list[ResolvedResource]:
        rows = self.client("ec2").describe_volumes()["Volumes"]
        for row in rows:
            row["_azs"] = [row.get("AvailabilityZone")]
        return [ResolvedResource(self._arn("ec2", f"volume/{row['VolumeId']}"), row, _tags(row.get("Tags")), self.region, row["VolumeId"])
                for row in rows]

    def _transit_gateways(self) -> list[ResolvedResource]:
        rows = self.client("ec2").describe_transit_gateways()["TransitGateways"]
        return [ResolvedResource(row.get("TransitGatewayArn") or self._arn("ec2", f"transit-gateway/{row['TransitGatewayId']}"), row,
                                 _tags(row.get("Tags")), self.region, row["TransitGatewayId"]) for row in rows]

    def _groups(self) -> list[ResolvedResource]:
        rows = self.client("autoscaling").describe_auto_scaling_groups()["AutoScalingGroups"]
        for row in rows:
            row["_azs"] = list(row.get("AvailabilityZones", []))
        return [ResolvedResource(row["AutoScalingGroupARN"], row, _tags(row.get("Tags")), self.region, row["AutoScalingGroupName"])
                for row in rows]

    def _db_instances(self) -> list[ResolvedResource]:
        rows = self.client("rds").describe_db_instances()["DBInstances"]
        return [ResolvedResource(row["DBInstanceArn"], row, _tags(row.get("TagList")), self.region, row["DBInstanceIdentifier"])
                for row in rows if row.get("DBInstanceStatus") != "deleting"]

    def _db_clusters(self) -> list[ResolvedResource]:
        rds = self.client("rds")
        out = []
        for row in rds.describe_db_clusters()["DBClusters"]:
            writer = next((m["DBInstanceIdentifier"] for m in row.get("DBClusterMembers", []) if m.get("IsClusterWriter")), None)
            if writer is not None:
                try:
                    row["_writerAz"] = rds.describe_db_instances(DBInstanceIdentifier=writer)["DBInstances"][0].get("AvailabilityZone")
                except botocore.exceptions.ClientError:
                    row["_writerAz"] = None
            out.append(ResolvedResource(row["DBClusterArn"], row, _tags(row.get("TagList")), self.region, row["DBClusterIdentifier"]))
        return out

    def _global_tables(self) -> list[ResolvedResource]:
        ddb = self.client("dynamodb")
        out = []
        for name in ddb.list_tables()["TableNames"]:
            table = ddb.describe_table(TableName=name)["Table"]
            if not table.get("Replicas"):
                continue  # aws:dynamodb:global-table: tables with replicas (version 2019.11.21)
            tags = _tags(ddb.list_tags_of_resource(ResourceArn=table["TableArn"]).get("Tags"))
            out.append(ResolvedResource(table["TableArn"], table, tags, self.region, name))
        return out

    def _buckets(self) -> list[ResolvedResource]:
        s3 = self.client("s3")
        out = []
        for bucket in s3.list_buckets()["Buckets"]:
            name = bucket["Name"]
            try:
                home = s3.get_bucket_location(Bucket=name).get("LocationConstraint") or "us-east-1"
                if home != self.region:
                    continue
                tags = _tags(s3.get_bucket_tagging(Bucket=name)["TagSet"])
            except botocore.exceptions.ClientError as exc:
                if exc.response["Error"]["Code"] != "NoSuchTagSet":
                    continue
                tags = {}
            except botocore.exceptions.EndpointConnectionError:
                continue
            out.append(ResolvedResource(f"arn:aws:s3:::{name}", {"Name": name}, tags, self.region, name))
        return out

    def _managed_resources(self) -> list[ResolvedResource]:
        """Zonal shift managed resources: load balancers and Auto Scaling groups ([ARC-DG:arc-zonal-shift])."""
        elbv2 = self.client("elbv2")
        rows = elbv2.describe_load_balancers()["LoadBalancers"]
        tags: dict[str, dict[str, str]] = {}
        if rows:
            for entry in elbv2.describe_tags(ResourceArns=[r["LoadBalancerArn"] for r in rows])["TagDescriptions"]:
                tags[entry["ResourceArn"]] = _tags(entry.get("Tags"))
        out = []
        for row in rows:
            row["_azs"] = [z["ZoneName"] for z in row.get("AvailabilityZones", [])]
            out.append(ResolvedResource(row["LoadBalancerArn"], row, tags.get(row["LoadBalancerArn"], {}), self.region, row["LoadBalancerName"]))
        return out + self._groups()
