"""The faults: lose a region or an AZ, corrupt a table, delete objects, pause replication."""
from __future__ import annotations

import inspect
import random
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from pytest_drtest.errors import DrConfigError
from pytest_drtest.faults.base import Fault, FaultContext, register
from pytest_drtest.regions import REGION_AZS, zones

if TYPE_CHECKING:
    from pytest_drtest.topology.model import Topology


class _Args:
    @classmethod
    def from_args(cls, args: dict[str, Any]) -> Fault:
        names = {f.name for f in fields(cls) if f.init}  # type: ignore[arg-type]
        unknown = sorted(set(args) - names)
        if unknown:
            raise DrConfigError(f"unknown argument(s) {', '.join(unknown)} for {cls.kind!r}; expected: {', '.join(sorted(names))}")  # type: ignore[attr-defined]
        sig = inspect.signature(cls)
        for name, param in sig.parameters.items():
            if param.default is inspect.Parameter.empty and name not in args:
                raise DrConfigError(f"{cls.kind!r} needs {name!r}")  # type: ignore[attr-defined]
        return cls(**args)  # type: ignore[return-value]


def _region(topology: Topology, which: str) -> str:
    try:
        return topology.region(which)
    except KeyError:
        raise DrConfigError(
            f"region {which!r} is not part of the topology; expected 'primary', 'dr', "
            f"{topology.primary_region!r} or {topology.dr_region!r}"
        ) from None


@register
@dataclass
class RegionOutage(_Args, Fault):
    """Every call to the region fails with a connection error; its endpoints stop answering;
    replication out of it stops (in-flight changes are lost where the service loses them)."""

    kind = "region-outage"
    region: str = "primary"

    def validate(self, topology: Topology) -> None:
        _region(topology, self.region)

    def inject(self, ctx: FaultContext) -> None:
        world = ctx.require_world(self)
        self.record["region"] = _region(ctx.topology, self.region)
        world.lose_region(self.record["region"])

    def revert(self, ctx: FaultContext) -> None:
        if ctx.world is not None and "region" in self.record:
            ctx.world.restore_region(self.record["region"])

    def describe(self) -> str:
        return f"region-outage({self.region})"


@register
@dataclass
class AzOutage(_Args, Fault):
    """Instances and targets in the AZ stop serving; the ASG replaces them in the other AZs.

    ``az`` is a full AZ name (``us-east-1b``), ``<region-role>:<letter>`` (``primary:b``), or
    ``<region-role>:database``: the AZ of that region's primary DB instance (resolved at injection).
    """

    kind = "az-outage"
    az: str = "primary:a"

    def resolve(self, topology: Topology, *, at_injection: bool = False) -> str:
        if self.az.endswith(":database"):
            region = _region(topology, self.az.split(":", 1)[0])
            _database(topology, region)
            if not at_injection:
                return f"{region}:database"
            return self._database_az(topology, region)
        if ":" in self.az:
            which, letter = self.az.split(":", 1)
            region = _region(topology, which)
            name = f"{region}{letter}"
        else:
            name = self.az
            region = name[:-1]
        if region not in (topology.primary_region, topology.dr_region) or name[-1:] not in REGION_AZS.get(region, ""):
            raise DrConfigError(f"unknown AZ {self.az!r}; expected e.g. 'primary:b' or '{topology.primary_region}b'")
        stack = topology.regions.get(region)
        used = sorted(stack.subnets) if stack is not None and stack.subnets else zones(region)
        if name not in used:
            raise DrConfigError(f"AZ {name!r} is not used by the topology; it uses {', '.join(used)}")
        return name

    def validate(self, topology: Topology) -> None:
        self.resolve(topology)

    @staticmethod
    def _database_az(topology: Topology, region: str) -> str:
        target = topology.app_config.get(region, {}).get("db")
        if target is None:
            raise DrConfigError(f"there is no database in {region}")
        rds = topology.clients.client("rds", target["region"])
        if target["kind"] == "cluster":
            cluster = rds.describe_db_clusters(DBClusterIdentifier=target["id"])["DBClusters"][0]
            writer = next(m["DBInstanceIdentifier"] for m in cluster["DBClusterMembers"] if m["IsClusterWriter"])
            return rds.describe_db_instances(DBInstanceIdentifier=writer)["DBInstances"][0]["AvailabilityZone"]
        return rds.describe_db_instances(DBInstanceIdentifier=target["id"])["DBInstances"][0]["AvailabilityZone"]

    def inject(self, ctx: FaultContext) -> None:
        world = ctx.require_world(self)
        self.record["az"] = self.resolve(ctx.topology, at_injection=True)
        world.lose_az(self.record["az"])

    def revert(self, ctx: FaultContext) -> None:
        if ctx.world is not None and "az" in self.record:
            ctx.world.restore_az(self.record["az"])

    def describe(self) -> str:
        return f"az-outage({self.az})"


@register
@dataclass
class CorruptTable(_Args, Fault):
    """A bad deploy: overwrite (``mode="overwrite"``) or delete (``mode="delete"``) a fraction of
    a table's items, chosen with a seeded RNG, through the application's own clients."""

    kind = "corrupt-table"
    data_fault = True
    table: str = ""
    fraction: float = 0.1
    mode: str = "overwrite"
    region: str = "primary"
    seed: int = 0
    corrupted: list[str] = field(default_factory=list, init=False, compare=False)

    def validate(self, topology: Topology) -> None:
        if not isinstance(self.fraction, (int, float)) or not 0 < self.fraction <= 1:
            raise DrConfigError(f"fraction must be in (0, 1], got {self.fraction!r}")
        if self.mode not in ("overwrite", "delete"):
            raise DrConfigError(f"mode must be 'overwrite' or 'delete', got {self.mode!r}")
        topology.blueprint.table(self.table or topology.probe_table)
        region = _region(topology, self.region)
        if (self.table or topology.probe_table) not in topology.regions[region].tables and topology.regions[region].tables:
            raise DrConfigError(f"table {self.table!r} has no copy in {region}")

    def inject(self, ctx: FaultContext) -> None:
        topology = ctx.topology
        logical = self.table or topology.probe_table
        region = _region(topology, self.region)
        physical = topology.app_config.get(region, {}).get("table") if logical == topology.probe_table else None
        physical = physical or topology.table_name(logical, region)
        key_name = topology.blueprint.table(logical).hash_key
        ddb = topology.clients.client("dynamodb", region)
        keys = []
        for page in ddb.get_paginator("scan").paginate(TableName=physical, ProjectionExpression="#k", ExpressionAttributeNames={"#k": key_name}):
            keys.extend(item[key_name]["S"] for item in page["Items"])
        keys.sort()
        rng = random.Random(f"{self.seed}:{physical}")
        chosen = sorted(rng.sample(keys, max(1, round(len(keys) * self.fraction)))) if keys else []
        for key in chosen:
            if self.mode == "delete":
                ddb.delete_item(TableName=physical, Key={key_name: {"S": key}})
            else:
                ddb.put_item(TableName=physical, Item={key_name: {"S": key}, "payload": {"S": "CORRUPTED"}})
        self.corrupted = chosen
        self.record.update(table=physical, region=region, items=len(chosen), mode=self.mode)

    def describe(self) -> str:
        return f"corrupt-table({self.table or 'probe table'}, {self.fraction:g}, {self.mode})"


@register
@dataclass
class DeleteObjects(_Args, Fault):
    """Delete a fraction of a bucket's objects under ``prefix``: plain deletes (delete markers on
    a versioned bucket, recoverable by undelete) or, with ``versions=True``, every version
    (unrecoverable in the bucket itself)."""

    kind = "delete-objects"
    data_fault = True
    bucket: str = ""
    prefix: str = ""
    fraction: float = 1.0
    versions: bool = False
    region: str = "primary"
    seed: int = 0
    deleted: list[str] = field(default_factory=list, init=False, compare=False)

    def validate(self, topology: Topology) -> None:
        if not topology.blueprint.buckets:
            raise DrConfigError("the blueprint has no buckets")
        topology.blueprint.bucket(self.bucket or topology.blueprint.buckets[0].name)
        if not isinstance(self.fraction, (int, float)) or not 0 < self.fraction <= 1:
            raise DrConfigError(f"fraction must be in (0, 1], got {self.fraction!r}")
        _region(topology, self.region)

    def inject(self, ctx: FaultContext) -> None:
        topology = ctx.topology
        region = _region(topology, self.region)
        bucket = topology.bucket_name(self.bucket or None, region)
        s3 = topology.clients.client("s3", region)
        keys = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=self.prefix):
            keys.extend(obj["Key"] for obj in page.get("Contents", []))
        keys.sort()
        rng = random.Random(f"{self.seed}:{bucket}")
        chosen = sorted(rng.sample(keys, max(1, round(len(keys) * self.fraction)))) if keys else []
        for key in chosen:
            if self.versions:
                versions = s3.list_object_versions(Bucket=bucket, Prefix=key)
                for entry in versions.get("Versions", []) + versions.get("DeleteMarkers", []):
                    if entry["Key"] == key:
                        s3.delete_object(Bucket=bucket, Key=key, VersionId=entry["VersionId"])
            else:
                s3.delete_object(Bucket=bucket, Key=key)
        self.deleted = chosen
        self.record.update(bucket=bucket, region=region, objects=len(chosen), versions=self.versions)

    def describe(self) -> str:
        return f"delete-objects({self.bucket or 'bucket'}, {self.fraction:g}{', all versions' if self.versions else ''})"


@register
@dataclass
class PauseReplication(_Args, Fault):
    """Hold replication of one resource (``"*"``: all of the service) until reverted: DynamoDB
    global tables (``resource`` = a blueprint table), S3 CRR (a blueprint bucket), or RDS/Aurora
    cross-region replication (``service="rds"``, ``resource="database"`` or ``"*"``)."""

    kind = "pause-replication"
    service: str = "dynamodb"
    resource: str = "*"

    def _physical(self, topology: Topology) -> str:
        if self.resource == "*":
            return "*"
        if self.service == "rds":
            return topology.dr.database or "*"
        if self.service == "dynamodb":
            topology.blueprint.table(self.resource)
            return topology.table_name(self.resource)
        topology.blueprint.bucket(self.resource)
        return topology.bucket_name(self.resource)

    def validate(self, topology: Topology) -> None:
        if self.service not in ("dynamodb", "s3", "rds"):
            raise DrConfigError(f"service must be 'dynamodb', 's3' or 'rds', got {self.service!r}")
        if self.service == "rds":
            if topology.blueprint.database is None:
                raise DrConfigError("the blueprint has no [database]: there is no RDS replication to pause")
            if self.resource not in ("*", "database"):
                raise DrConfigError(f"resource must be 'database' or '*' for rds, got {self.resource!r}")
        elif self.resource != "*":
            if self.service == "dynamodb":
                topology.blueprint.table(self.resource)
            else:
                topology.blueprint.bucket(self.resource)

    def inject(self, ctx: FaultContext) -> None:
        world = ctx.require_world(self)
        self.record.update(service=self.service, resource=self._physical(ctx.topology))
        world.pause(self.service, self.record["resource"])

    def revert(self, ctx: FaultContext) -> None:
        if ctx.world is not None and "resource" in self.record:
            ctx.world.resume(self.service, self.record["resource"])

    def describe(self) -> str:
        return f"pause-replication({self.service}:{self.resource})"


def _database(topology: Topology, region: str) -> tuple[str, str]:
    """(kind, id) of the relational primary the application writes to in ``region``'s stack."""
    if topology.blueprint.database is None:
        raise DrConfigError("the blueprint has no [database]: there is no relational tier to fault")
    target = topology.app_config.get(topology.region(region), {}).get("db")
    if target is None:
        return ("cluster" if topology.strategy.name == "active-active" else "instance"), ""
    return target["kind"], target["id"]


@register
@dataclass
class RebootDatabase(_Args, Fault):
    """Reboot the primary DB instance (``failover=True``: ``ForceFailover`` on Multi-AZ; on Aurora,
    ``failover_db_cluster``). The database heals by itself; the probes measure the outage."""

    kind = "reboot-database"
    failover: bool = True
    region: str = "primary"

    def validate(self, topology: Topology) -> None:
        _region(topology, self.region)
        _database(topology, self.region)
        if not isinstance(self.failover, bool):
            raise DrConfigError(f"failover must be true or false, got {self.failover!r}")

    def inject(self, ctx: FaultContext) -> None:
        topology = ctx.topology
        kind, ident = _database(topology, self.region)
        target = topology.app_config[topology.region(self.region)]["db"]
        rds = topology.clients.client("rds", target["region"])
        if kind == "cluster":
            if self.failover:
                rds.failover_db_cluster(DBClusterIdentifier=ident)
            else:
                cluster = rds.describe_db_clusters(DBClusterIdentifier=ident)["DBClusters"][0]
                writer = next(m["DBInstanceIdentifier"] for m in cluster["DBClusterMembers"] if m["IsClusterWriter"])
                rds.reboot_db_instance(DBInstanceIdentifier=writer)
        else:
            rds.reboot_db_instance(DBInstanceIdentifier=ident, ForceFailover=self.failover)
        self.record.update(database=ident, failover=self.failover)

    def describe(self) -> str:
        return f"reboot-database({'failover' if self.failover else 'no failover'})"


@register
@dataclass
class CorruptDatabase(_Args, Fault):
    """A bad migration: ``mode="drop"`` drops the ledger table; ``mode="overwrite"`` overwrites a
    fraction of its rows (chosen with a seeded RNG) through the application's connection."""

    kind = "corrupt-database"
    data_fault = True
    mode: str = "overwrite"
    fraction: float = 0.1
    seed: int = 0

    def validate(self, topology: Topology) -> None:
        _database(topology, "primary")
        if self.mode not in ("drop", "overwrite"):
            raise DrConfigError(f"mode must be 'drop' or 'overwrite', got {self.mode!r}")
        if not isinstance(self.fraction, (int, float)) or not 0 < self.fraction <= 1:
            raise DrConfigError(f"fraction must be in (0, 1], got {self.fraction!r}")

    def inject(self, ctx: FaultContext) -> None:
        from pytest_drtest.topology.build import db_connect

        topology = ctx.topology
        spec = topology.blueprint.database
        assert spec is not None
        target = topology.app_config[topology.primary_region]["db"]
        with db_connect(topology, target) as conn:
            if self.mode == "drop":
                conn.execute(f"DROP TABLE {spec.table}")
                affected = -1
            else:
                keys = sorted(row[0] for row in conn.execute(f"SELECT pk FROM {spec.table}").fetchall())
                rng = random.Random(f"{self.seed}:{target['id']}")
                chosen = rng.sample(keys, max(1, round(len(keys) * self.fraction))) if keys else []
                conn.execute(f"UPDATE {spec.table} SET payload = 'CORRUPTED' WHERE pk = ANY(%s)", (chosen,))
                affected = len(chosen)
        self.record.update(database=target["id"], kind=target["kind"], region=target["region"], mode=self.mode, rows=affected)

    def describe(self) -> str:
        return f"corrupt-database({self.mode}{'' if self.mode == 'drop' else f', {self.fraction:g}'})"
