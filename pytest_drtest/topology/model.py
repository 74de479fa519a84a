"""The built topology: what exists in each region, and the application's configuration."""
from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pytest_drtest.measure import Ledger
from pytest_drtest.strategies import Strategy
from pytest_drtest.topology.blueprint import Blueprint

if TYPE_CHECKING:
    from pytest_drtest.backends.base import ClientFactory
    from pytest_drtest.clock import Clock
    from pytest_drtest.measure import Timeline
    from pytest_drtest.profile import LatencyProfile


@dataclass
class RegionStack:
    """Resources of one region. Compute fields are None where the strategy runs no compute."""

    region: str
    role: str  # "primary" or "dr"
    vpc_id: str | None = None
    subnets: dict[str, str] = field(default_factory=dict)  # az -> subnet id
    alb_arn: str | None = None
    alb_dns: str | None = None
    target_group_arn: str | None = None
    asg_name: str | None = None
    capacity: int = 0
    health_check_id: str | None = None
    tables: dict[str, str] = field(default_factory=dict)  # logical -> physical name
    buckets: dict[str, str] = field(default_factory=dict)
    vault: str | None = None
    database: str | None = None  # RDS instance or Aurora cluster id in this region
    database_secret: str | None = None  # ARN of the Aurora cluster's credentials secret (for the Data API)
    cache: str | None = None  # the ElastiCache replication group of this region ([cache])
    dax: str | None = None  # the DAX cluster in front of this region's probe table ([dax])
    listener: tuple[str, int] | None = None  # (protocol, port) clients reach the web tier at (a stack's listener)
    archive: str | None = None  # backup & restore, DR region: the bucket of the release archive (S3 Glacier)

    @property
    def has_compute(self) -> bool:
        return self.asg_name is not None


def new_run_id() -> str:
    """A run id for the ``drtest:run`` tag: UTC time and 6 random hex digits (``20260105T000000Z-1a2b3c``);
    what a tag value may hold ([A-Za-z0-9 +-=._:/@], AWS tagging best practices)."""
    import datetime
    import secrets

    return f"{datetime.datetime.now(datetime.UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


@dataclass
class Cleanup:
    """Deleters of created resources, run in reverse at teardown (on backends that keep state)."""

    steps: list[tuple[str, Callable[[], Any]]] = field(default_factory=list)

    def push(self, what: str, fn: Callable[[], Any]) -> None:
        self.steps.append((what, fn))

    def run(self) -> list[str]:
        """Run every deleter, newest first; return the failures instead of stopping at one."""
        failures = []
        while self.steps:
            what, fn = self.steps.pop()
            try:
                fn()
            except Exception as exc:  # noqa: BLE001 - teardown must go on
                failures.append(f"{what}: {exc}")
        return failures


@dataclass
class Topology:
    """An HA/DR topology for one strategy in two regions."""

    name: str
    blueprint: Blueprint
    strategy: Strategy
    primary_region: str
    dr_region: str
    clients: ClientFactory
    clock: Clock
    profile: LatencyProfile
    timeline: Timeline
    regions: dict[str, RegionStack] = field(default_factory=dict)
    zone_id: str | None = None
    fqdn: str = ""
    backup_plan_id: str | None = None
    app_config: dict[str, dict[str, Any]] = field(default_factory=dict)  # region -> {"table": name, "db": target}
    cleanup: Cleanup = field(default_factory=Cleanup)
    faults: list[Any] = field(default_factory=list)  # injected faults, in order (runbooks read them)
    restores: list[dict[str, Any]] = field(default_factory=list)  # restores runbooks performed
    global_cluster: str | None = None
    cache_global: str | None = None  # the ElastiCache global datastore ([cache], warm standby, active/active)
    cdn_id: str | None = None  # the CloudFront distribution in front of the two ALBs ([cdn])
    cdn_domain: str | None = None  # its ``dxxxxxxxx.cloudfront.net`` name: the application's reads go there
    #: ``(region, cluster) -> client`` of a DAX cluster's data path (``get_item``, ``put_item``,
    #: ``batch_get_item``...): the emulation's in-process DAX client; None where DAX has no data path
    dax_connect: Callable[[str, str], Any] | None = None
    run_id: str = ""  # tagged drtest:run on every resource (build._tags)
    tag_restores: bool = False  # a real account: what restores create is tagged with the run (teardown finds it)
    account: str = ""  # from STS, on first use (build.account_of)
    seeded: set[str] = field(default_factory=set)  # logical tables whose seed items are written
    db_record: str | None = None  # the DNS name the application's database answers at (db.<domain>)
    endpoints: dict[tuple[str, str, str, bool], tuple[str, int]] = field(default_factory=dict)  # database endpoints seen
    images: dict[str, str] = field(default_factory=dict)  # region -> the image its instances launch from (build.image_id)
    jobs: list[Any] = field(default_factory=list)  # scheduled jobs (e.g. snapshot-and-copy)
    #: numbers of the resources runbooks create (restored tables, databases): per topology, so that a
    #: test's names — and the figures drawn for them — do not depend on the tests run before it
    serials: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    #: the objects the topology wrote to its buckets (``s3://<logical bucket>/<key>`` -> ETag, ack
    #: time): acknowledged writes like the ledger's items, so an RPO counts the objects recovery lost
    objects: Ledger = field(default_factory=Ledger)

    # -- lookups -------------------------------------------------------------------------------
    def stack(self, which: str) -> RegionStack:
        """The stack of ``"primary"``, ``"dr"`` or a region name."""
        region = self.region(which)
        return self.regions[region]

    def region(self, which: str) -> str:
        if which == "primary":
            return self.primary_region
        if which == "dr":
            return self.dr_region
        if which in self.regions:
            return which
        raise KeyError(f"{which!r} is not a region of this topology ({self.primary_region}, {self.dr_region})")

    @property
    def primary(self) -> RegionStack:
        return self.regions[self.primary_region]

    @property
    def dr(self) -> RegionStack:
        return self.regions[self.dr_region]

    @property
    def probe_table(self) -> str:
        """The logical table the probes write to (the blueprint's first)."""
        return self.blueprint.tables[0].name

    def table_name(self, logical: str | None = None, region: str = "primary") -> str:
        logical = logical or self.probe_table
        return self.stack(region).tables[logical]

    def bucket_name(self, logical: str | None = None, region: str = "primary") -> str:
        logical = logical or self.blueprint.buckets[0].name
        return self.stack(region).buckets[logical]

    def app_bucket(self, logical: str, region: str) -> str | None:
        """The bucket the application in ``region`` reads for the blueprint bucket ``logical``: the
        one a runbook pointed it at, else the region's copy (None: the region has none)."""
        repointed: str | None = self.app_config.get(region, {}).get("buckets", {}).get(logical)
        if repointed is not None or region not in self.regions:
            return repointed
        return self.regions[region].buckets.get(logical)

    def point_app_at_bucket(self, region: str, logical: str, bucket: str) -> None:
        """Reconfigure the application in ``region`` to read ``bucket`` (e.g. a restored one) for ``logical``."""
        region = self.region(region)
        self.app_config.setdefault(region, {}).setdefault("buckets", {})[logical] = bucket
        self.note("app-repointed", f"bucket {logical} in {region} -> {bucket}")

    def client(self, service: str, region: str = "primary") -> Any:
        return self.clients.client(service, self.region(region))

    def point_app_at_database(self, region: str, ident: str, *, kind: str = "instance") -> None:
        """Reconfigure the application in ``region`` to use the RDS instance (or Aurora cluster,
        ``kind="cluster"``) ``ident`` of that region — what a runbook does after a promotion."""
        region = self.region(region)
        self.app_config.setdefault(region, {})["db"] = {"kind": kind, "region": region, "id": ident, "reader": False}
        self.note("app-repointed", f"database in {region} -> {ident}")

    def point_app_at_table(self, region: str, table: str) -> None:
        """Reconfigure the application in ``region`` to use ``table`` (e.g. a restored one)."""
        region = self.region(region)
        self.app_config.setdefault(region, {})["table"] = table
        self.note("app-repointed", f"table in {region} -> {table}")

    def note(self, kind: str, detail: str = "") -> None:
        """Record a milestone (runbooks call this: ``detected``, ``restored``, ``dns-switched``...)."""
        self.timeline.add(self.clock.now(), kind, detail)

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "strategy": self.strategy.name,
            "primary_region": self.primary_region,
            "dr_region": self.dr_region,
            "fqdn": self.fqdn,
            **({"cdn": {"id": self.cdn_id, "domain": self.cdn_domain}} if self.cdn_id else {}),
            "regions": {
                region: {
                    "role": s.role,
                    "azs": sorted(s.subnets),
                    "alb": s.alb_dns,
                    "asg": s.asg_name,
                    "capacity": s.capacity,
                    "tables": dict(s.tables),
                    "buckets": dict(s.buckets),
                    "vault": s.vault,
                }
                for region, s in self.regions.items()
            },
        }
