"""The infrastructure faults: lose a region or an AZ, pause replication, reboot a database.

The data faults (corrupt a table or a database, delete objects) are in :mod:`pytest_drtest.faults.data`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pytest_drtest.errors import DrConfigError
from pytest_drtest.faults.base import Fault, FaultContext, register
from pytest_drtest.faults.targets import (
    availability_zones,
    bucket_home,
    find_database,
    global_cluster_exists,
    list_tables,
    missing_bucket,
    missing_table,
    require_up,
    resolve_region,
    table_exists,
)
from pytest_drtest.regions import REGION_AZS, zones

if TYPE_CHECKING:
    from pytest_drtest.topology.model import Topology


def plan_region(topology: Topology, which: str) -> str:
    """A region of the planned topology: ``primary``, ``dr`` or one of its two region names."""
    try:
        return topology.region(which)
    except KeyError:
        raise DrConfigError(
            f"region {which!r} is not part of the topology; expected 'primary', 'dr', "
            f"{topology.primary_region!r} or {topology.dr_region!r}"
        ) from None


def _logical(ctx: FaultContext, name: str, kind: str) -> bool:
    """Whether ``name`` is one of the blueprint's logical tables/buckets (``""``: its first)."""
    blueprint = ctx.blueprint
    if blueprint is None:
        return False
    names = [t.name for t in blueprint.tables] if kind == "table" else [b.name for b in blueprint.buckets]
    return (name == "" and bool(names)) or name in names


@register
@dataclass
class RegionOutage(Fault):
    """Every call to the region fails with a connection error; its endpoints stop answering;
    replication out of it stops (in-flight changes are lost where the service loses them).

    ``region``: ``"primary"``, ``"dr"`` or any region name ``DescribeRegions`` lists."""

    kind = "region-outage"
    region: str = "primary"

    def validate(self, topology: Topology) -> None:
        plan_region(topology, self.region)

    def check(self, ctx: FaultContext) -> None:
        world = ctx.require_world(self)
        region = resolve_region(ctx, self, self.region)
        if region in world.lost_regions:
            raise DrConfigError(f"{self.describe()}: {region} is already lost (revert the fault that lost it first)")
        self.record["target"] = region

    def inject(self, ctx: FaultContext) -> None:
        world = ctx.require_world(self)
        self.record["region"] = self.record.get("target") or resolve_region(ctx, self, self.region)
        world.lose_region(self.record["region"])

    def revert(self, ctx: FaultContext) -> None:
        if ctx.world is not None and "region" in self.record:
            ctx.world.restore_region(self.record["region"])

    def describe(self) -> str:
        return f"region-outage({self.region})"


@register
@dataclass
class AzOutage(Fault):
    """Instances and targets in the AZ stop serving; the ASG replaces them in the other AZs.

    ``az`` is a full AZ name (``us-east-1b``), ``<region-role>:<letter>`` (``primary:b``), or
    ``<region-role>:database``: the AZ of that region's primary DB instance of the topology
    (resolved at injection). The AZ must be one ``DescribeAvailabilityZones`` lists.
    """

    kind = "az-outage"
    az: str = "primary:a"

    def resolve(self, topology: Topology, *, at_injection: bool = False) -> str:
        """The AZ in the planned (or built) topology."""
        if self.az.endswith(":database"):
            region = plan_region(topology, self.az.split(":", 1)[0])
            _database(topology, region)
            if not at_injection:
                return f"{region}:database"
            return self._database_az(topology, region)
        if ":" in self.az:
            which, letter = self.az.split(":", 1)
            region = plan_region(topology, which)
            name = f"{region}{letter}"
        else:
            name = self.az
            region = name[:-1]
        if region not in (topology.primary_region, topology.dr_region) or name[-1:] not in REGION_AZS.get(region, ""):
            raise DrConfigError(f"unknown AZ {self.az!r}; expected e.g. 'primary:b' or '{topology.primary_region}b'")
        self._check_used(topology, name)
        return name

    @staticmethod
    def _check_used(topology: Topology, name: str) -> None:
        stack = topology.regions.get(name[:-1])
        if stack is None:
            return
        used = sorted(stack.subnets) if stack.subnets else zones(stack.region)
        if name not in used:
            raise DrConfigError(f"AZ {name!r} is not used by the topology; it uses {', '.join(used)}")

    def validate(self, topology: Topology) -> None:
        self.resolve(topology)

    def check(self, ctx: FaultContext) -> None:
        world = ctx.require_world(self)
        if self.az.endswith(":database"):
            topology = ctx.require_topology(self, f"{self.az!r} (the AZ of the topology's database)")
            self.resolve(topology)
            return
        if ":" in self.az:
            which, letter = self.az.split(":", 1)
            region = resolve_region(ctx, self, which)
            name = f"{region}{letter}"
        else:
            name = self.az
            region = resolve_region(ctx, self, name.rstrip("abcdefghijklmnopqrstuvwxyz") or name)
        existing = availability_zones(ctx, self, region)
        if name not in existing:
            raise DrConfigError(f"unknown AZ {self.az!r}: {region} has {', '.join(existing)}")
        if ctx.topology is not None:
            self._check_used(ctx.topology, name)
        if name in world.lost_azs:
            raise DrConfigError(f"{self.describe()}: {name} is already lost (revert the fault that lost it first)")
        self.record["target"] = name

    @staticmethod
    def _database_az(topology: Topology, region: str) -> str:
        target = topology.app_config.get(region, {}).get("db")
        if target is None:
            raise DrConfigError(f"there is no database in {region}")
        rds = topology.clients.client("rds", target["region"])
        if target["kind"] == "cluster":
            cluster = rds.describe_db_clusters(DBClusterIdentifier=target["id"])["DBClusters"][0]
            writer = next(m["DBInstanceIdentifier"] for m in cluster["DBClusterMembers"] if m["IsClusterWriter"])
            return str(rds.describe_db_instances(DBInstanceIdentifier=writer)["DBInstances"][0]["AvailabilityZone"])
        return str(rds.describe_db_instances(DBInstanceIdentifier=target["id"])["DBInstances"][0]["AvailabilityZone"])

    def inject(self, ctx: FaultContext) -> None:
        world = ctx.require_world(self)
        if self.az.endswith(":database"):
            self.record["az"] = self.resolve(ctx.require_topology(self, repr(self.az)), at_injection=True)
        else:
            if "target" not in self.record:
                self.check(ctx)
            self.record["az"] = self.record["target"]
        world.lose_az(self.record["az"])

    def revert(self, ctx: FaultContext) -> None:
        if ctx.world is not None and "az" in self.record:
            ctx.world.restore_az(self.record["az"])

    def describe(self) -> str:
        return f"az-outage({self.az})"


@register
@dataclass
class PauseReplication(Fault):
    """Hold replication of one resource (``"*"``: all of the service) until reverted: DynamoDB
    global tables (``resource`` = a blueprint table or a table name), S3 CRR (a blueprint bucket or a
    bucket name), or RDS/Aurora cross-region replication (``service="rds"``, ``resource="database"``,
    an instance, cluster or global cluster identifier, or ``"*"``)."""

    kind = "pause-replication"
    service: str = "dynamodb"
    resource: str = "*"

    def _check_service(self) -> None:
        if self.service not in ("dynamodb", "s3", "rds"):
            raise DrConfigError(f"service must be 'dynamodb', 's3' or 'rds', got {self.service!r}")

    def validate(self, topology: Topology) -> None:
        self._check_service()
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

    def check(self, ctx: FaultContext) -> None:
        ctx.require_world(self)
        self._check_service()
        self.record["target"] = self._physical(ctx)

    def _physical(self, ctx: FaultContext) -> str:
        assert ctx.regions is not None
        if self.resource == "*":
            return "*"
        regions = [r for r in ctx.regions if ctx.region_up(r)]
        if self.service == "rds":
            if self.resource == "database":
                topology = ctx.require_topology(self, "'database' (the topology's DR replica)")
                if topology.blueprint.database is None:
                    raise DrConfigError("the blueprint has no [database]: there is no RDS replication to pause")
                return topology.dr.database or "*"
            if any(global_cluster_exists(ctx, r, self.resource) for r in regions):
                return self.resource
            return find_database(ctx, self, self.resource, regions).id
        kind = "table" if self.service == "dynamodb" else "bucket"
        logical = _logical(ctx, self.resource, kind)
        if logical and ctx.topology is not None:
            if kind == "table":
                return ctx.topology.table_name(self.resource)
            return ctx.topology.bucket_name(self.resource)
        if kind == "table":
            if any(table_exists(ctx, r, self.resource) for r in regions):
                return self.resource
            if logical:
                raise ctx.no_topology(self, f"table {self.resource!r}")
            existing = sorted({t for r in regions for t in list_tables(ctx, r)})
            raise missing_table(self, self.resource, regions, existing)
        if bucket_home(ctx, self.resource) is not None:
            return self.resource
        if logical:
            raise ctx.no_topology(self, f"bucket {self.resource!r}")
        raise missing_bucket(ctx, self, self.resource)

    def inject(self, ctx: FaultContext) -> None:
        world = ctx.require_world(self)
        resource = self.record.get("target") or self._physical(ctx)
        self.record.update(service=self.service, resource=resource)
        world.pause(self.service, resource)

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
class RebootDatabase(Fault):
    """Reboot a DB instance (``failover=True``: ``ForceFailover`` on Multi-AZ) or fail an Aurora
    cluster over (``FailoverDBCluster``; without failover, ``RebootDBInstance`` of its writer).

    ``database``: an RDS instance or Aurora cluster identifier (looked up in ``region``, then the
    run's regions); empty: the database the topology's application of ``region`` writes to. The
    database heals by itself; the probes measure the outage."""

    kind = "reboot-database"
    failover: bool = True
    region: str = "primary"
    database: str = ""
    _target: dict[str, str] = field(default_factory=dict, init=False, compare=False, repr=False)

    def _check_args(self) -> None:
        if not isinstance(self.failover, bool):
            raise DrConfigError(f"failover must be true or false, got {self.failover!r}")

    def validate(self, topology: Topology) -> None:
        self._check_args()
        plan_region(topology, self.region)
        if not self.database:
            _database(topology, self.region)

    def check(self, ctx: FaultContext) -> None:
        self._check_args()
        assert ctx.regions is not None
        region = resolve_region(ctx, self, self.region)
        if self.database:
            found = find_database(ctx, self, self.database, [region, *ctx.regions])
            self._target = {"kind": found.kind, "region": found.region, "id": found.id}
            return
        topology = ctx.require_topology(self, "the application's database")
        kind, ident = _database(topology, self.region)
        target = topology.app_config[topology.region(self.region)]["db"]
        require_up(ctx, self, target["region"])
        self._target = {"kind": kind, "region": target["region"], "id": ident}

    def inject(self, ctx: FaultContext) -> None:
        if not self._target:
            self.check(ctx)
        kind, region, ident = self._target["kind"], self._target["region"], self._target["id"]
        rds = ctx.client("rds", region)
        if kind == "cluster":
            if self.failover:
                rds.failover_db_cluster(DBClusterIdentifier=ident)
            else:
                cluster = rds.describe_db_clusters(DBClusterIdentifier=ident)["DBClusters"][0]
                writer = next(m["DBInstanceIdentifier"] for m in cluster["DBClusterMembers"] if m["IsClusterWriter"])
                rds.reboot_db_instance(DBInstanceIdentifier=writer)
        else:
            rds.reboot_db_instance(DBInstanceIdentifier=ident, ForceFailover=self.failover)
        self.record.update(database=ident, failover=self.failover, region=region)

    def describe(self) -> str:
        how = "failover" if self.failover else "no failover"
        return f"reboot-database({self.database}, {how})" if self.database else f"reboot-database({how})"
