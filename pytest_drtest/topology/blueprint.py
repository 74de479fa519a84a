"""Topology blueprints: the tiers, tables, buckets and records a topology is built from."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from pytest_drtest.config import Fields, load_toml
from pytest_drtest.errors import DrConfigError

_NAME = re.compile(r"^[a-z][a-z0-9-]{1,30}$")
#: The retrieval tiers of S3 Glacier Flexible Retrieval, fastest first ([BC:s3] GlacierJobParameters.Tier;
#: S3 user guide, "Archive retrieval options": Expedited 1-5 min, Standard 3-5 h, Bulk 5-12 h).
ARCHIVE_TIERS = ("Expedited", "Standard", "Bulk")


@dataclass(frozen=True)
class TableSpec:
    name: str
    hash_key: str = "pk"
    seed_items: int = 0


@dataclass(frozen=True)
class BucketSpec:
    name: str
    seed_objects: int = 0


@dataclass(frozen=True)
class DatabaseSpec:
    """The relational tier: an RDS PostgreSQL instance (Aurora PostgreSQL for active/active)."""

    name: str = "appdb"
    table: str = "ledger"
    instance_class: str = "db.r6g.large"
    snapshot_every: str = "4h"  # backup & restore: the team's snapshot-and-copy job
    record_ttl: str = "30s"  # TTL of the db.<domain> record that services following DNS resolve
    # pilot light: the DR region's replica runs this smaller class; failover scales it to instance_class
    pilot_light_instance_class: str = "db.t4g.medium"


@dataclass(frozen=True)
class CacheSpec:
    """The cache tier: an ElastiCache (Valkey or Redis OSS) replication group, Multi-AZ with one replica,
    and, where the strategy keeps a running copy (warm standby, active/active), a global datastore
    secondary in the DR region that the region-outage runbook fails over."""

    node_type: str = "cache.r7g.large"
    engine: str = "valkey"


@dataclass(frozen=True)
class DaxSpec:
    """The read cache: a DAX cluster in front of the probe table in every Region whose application has
    the table; the application writes through it and reads eventually consistent through it."""

    node_type: str = "dax.r5.large"
    nodes: int = 3  # a primary and two read replicas, one per AZ (DAX's production recommendation)


@dataclass(frozen=True)
class CdnSpec:
    """A CloudFront distribution in front of the two Regions' load balancers: an origin group with the
    primary ALB first and the DR ALB second; the application's reads go through it."""

    connection_attempts: int = 3  # Origin.ConnectionAttempts, 1-3 ([BC:cloudfront]; CloudFront's default)
    connection_timeout: int = 10  # Origin.ConnectionTimeout in seconds, 1-10 ([BC:cloudfront]; the default)
    failover_status_codes: tuple[int, ...] = (500, 502, 503, 504)  # the origin group's FailoverCriteria


#: Engines of ElastiCache global datastores (ElastiCache user guide, "Replication across AWS Regions
#: using global datastores": Valkey 7.2+, Redis OSS 5.0.6+)
CACHE_ENGINES = ("valkey", "redis")
#: Node families a global datastore runs on (same page, "Prerequisites and limitations": M5, M6g, M7g,
#: R5, R6g, R6gd, R7g; not the burstable T families)
GLOBAL_CACHE_FAMILIES = ("m5", "m6g", "m7g", "r5", "r6g", "r6gd", "r7g")


@dataclass(frozen=True)
class WebSpec:
    """The team's own service as the web tier: a WSGI callable or any command, one process per region.

    ``command`` may hold ``{host}`` and ``{port}``, substituted with where the process must listen;
    it runs in ``cwd`` (the folder of the file that names it) with the test's environment plus
    ``dr.env(region)``.
    """

    app: str | None = None
    command: tuple[str, ...] | None = None
    cwd: str = "."
    start_timeout: float = 30.0
    source: str = ""


def parse_web(data: Any, *, source: str, cwd: str, field: str = "web") -> WebSpec:
    """A ``[web]`` table (or a marker's ``web=``: a table, ``"module:callable"`` or a command list)."""
    from pytest_drtest.durations import parse_duration

    if isinstance(data, str):
        data = {"app": data}
    elif isinstance(data, (list, tuple)):
        data = {"command": list(data)}
    if not isinstance(data, dict):
        raise DrConfigError(f"expected a table with app or command, got {data!r}", source=source, field=field)
    unknown = sorted(set(data) - {"app", "command", "start_timeout"})
    if unknown:
        raise DrConfigError(f"unknown key {unknown[0]!r}; expected app, command, start_timeout", source=source, field=field)
    app, command = data.get("app"), data.get("command")
    if (app is None) == (command is None):
        raise DrConfigError(
            "expected exactly one of app (a WSGI callable 'module:callable') or command (a list: "
            "['node', 'server.js', '--port', '{port}'])" + (", got both" if app is not None else ", got neither"),
            source=source, field=field)
    if app is not None and (not isinstance(app, str) or not re.match(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$", app)):
        raise DrConfigError(f"expected 'module:callable' like 'orders.service:app', got {app!r}", source=source, field=f"{field}.app")
    if command is not None and (not isinstance(command, list) or not command or not all(isinstance(c, str) and c for c in command)):
        raise DrConfigError(f"expected a non-empty list of strings, got {command!r}", source=source, field=f"{field}.command")
    try:
        timeout = parse_duration(data.get("start_timeout", "30s"), what="start_timeout")
    except DrConfigError as exc:
        raise DrConfigError(str(exc), source=source, field=f"{field}.start_timeout") from None
    return WebSpec(app=app, command=tuple(command) if command is not None else None, cwd=cwd, start_timeout=timeout, source=source)


@dataclass(frozen=True)
class Blueprint:
    """What an application consists of, independent of the DR strategy."""

    name: str
    source: str
    domain: str = "drtest.example"
    record: str = "www"
    instance_type: str = "t3.micro"
    capacity: int = 3
    tables: tuple[TableSpec, ...] = field(default_factory=tuple)
    buckets: tuple[BucketSpec, ...] = field(default_factory=tuple)
    backup_schedule: str = "cron(0 */4 ? * * *)"
    database: DatabaseSpec | None = None
    web: WebSpec | None = None
    tags: tuple[tuple[str, str], ...] = ()  # [tags]: (key, value) pairs applied to every resource built
    stack: Any = None  # a CloudFormation template deployed instead (pytest_drtest.stacks.deploy.StackSpec)
    #: backup & restore: the tier of the RestoreObject of the release archive kept in S3 Glacier Flexible
    #: Retrieval in the DR region ([backup] archive_restore_tier; AWS's default tier is Standard)
    archive_restore_tier: str = "Standard"
    cache: CacheSpec | None = None  # [cache]: ElastiCache replication group (+ global datastore), opt-in
    dax: DaxSpec | None = None  # [dax]: a DAX cluster per Region in front of the probe table, opt-in
    cdn: CdnSpec | None = None  # [cdn]: a CloudFront origin group over the two ALBs for reads, opt-in

    @property
    def fqdn(self) -> str:
        return f"{self.record}.{self.domain}"

    def table(self, name: str) -> TableSpec:
        for spec in self.tables:
            if spec.name == name:
                return spec
        raise DrConfigError(
            f"unknown table {name!r}; the blueprint {self.name!r} has: {', '.join(t.name for t in self.tables) or 'none'}"
        )

    def bucket(self, name: str) -> BucketSpec:
        for spec in self.buckets:
            if spec.name == name:
                return spec
        raise DrConfigError(
            f"unknown bucket {name!r}; the blueprint {self.name!r} has: {', '.join(b.name for b in self.buckets) or 'none'}"
        )


def shipped_templates() -> dict[str, Path]:
    """The shipped topologies as CloudFormation templates (pytest_drtest/stacks/*.yaml)."""
    folder = resources.files("pytest_drtest") / "stacks"
    return {Path(str(p)).name: Path(str(p)) for p in folder.iterdir() if str(p).endswith((".yaml", ".json"))}


def shipped_parameters() -> dict[str, Path]:
    """Parameters files of the shipped templates (pytest_drtest/stacks/parameters/*.json): e.g.
    ``web-app-pilot-light.json`` makes ``web-app.yaml`` the pilot light topology."""
    folder = resources.files("pytest_drtest") / "stacks" / "parameters"
    return {Path(str(p)).name: Path(str(p)) for p in folder.iterdir() if str(p).endswith(".json")}


def is_shipped_topology(blueprint: Blueprint) -> bool:
    """Whether ``blueprint`` is built by the plugin (a ``.toml`` blueprint) or is a shipped template:
    on a real account either has a web tier that runs no application."""
    if blueprint.stack is None:
        return True
    shipped = {path.resolve() for path in shipped_templates().values()}
    return Path(blueprint.stack.source).resolve() in shipped


def shipped_blueprints() -> dict[str, Path]:
    folder = resources.files("pytest_drtest") / "blueprints"
    return {Path(str(p)).stem: Path(str(p)) for p in folder.iterdir() if str(p).endswith(".toml")}


def load_blueprint(ref: str, *, relative_to: Path | None = None, parameters: str | None = None,
                   roles: dict[str, Any] | None = None, source: str = "") -> Blueprint:
    """Load a shipped blueprint by name, a ``.toml`` file (relative to the scenario file), or a
    CloudFormation template (``.yaml``, ``.yml``, ``.json``, ``.template``; shipped ones by name,
    e.g. ``web-app.yaml``) with its ``parameters`` file and ``roles`` (pytest_drtest/stacks/)."""
    from pytest_drtest.stacks.template import is_template_ref

    shipped = shipped_blueprints()
    if is_template_ref(ref):
        from pytest_drtest.stacks.topology import load_stack, stack_blueprint

        template = shipped_templates().get(ref) or Path(ref)
        if relative_to is not None and not template.is_absolute() and ref not in shipped_templates():
            template = relative_to / template
        params = Path(parameters) if parameters is not None else None
        if params is not None and relative_to is not None and not params.is_absolute():
            params = relative_to / params
        if params is not None and not params.exists():  # a shipped parameters file, by name (when no file of yours has it)
            params = shipped_parameters().get(str(parameters), params)
        spec = load_stack(template, params, roles, roles_source=source)
        return stack_blueprint(spec, template.stem)
    if parameters is not None or roles:
        raise DrConfigError("parameters and [roles] go with a CloudFormation template blueprint (.yaml, .json)",
                            source=source or None, field="parameters" if parameters is not None else "roles")
    if ref in shipped:
        path = shipped[ref]
    else:
        path = Path(ref)
        if relative_to is not None and not path.is_absolute():
            path = relative_to / path
        if path.suffix != ".toml" or not path.exists():
            raise DrConfigError(
                f"unknown blueprint {ref!r}; expected a shipped name ({', '.join(sorted(shipped))}) or a .toml file, "
                f"or a CloudFormation template (.yaml, .yml, .json, .template; shipped: {', '.join(sorted(shipped_templates()))})"
            )
    return parse_blueprint(load_toml(path), str(path))


def _name(value: str, fields: Fields, key: str) -> str:
    if not _NAME.match(value):
        raise DrConfigError(
            f"expected a lowercase name of 2-31 letters, digits and dashes, got {value!r}", source=fields.source,
            field=fields._name(key),
        )
    return value


def parse_blueprint(data: dict[str, Any], source: str) -> Blueprint:
    top = Fields(data, source)
    name = _name(top.get("name", str), top, "name")
    domain = top.get("domain", str, "drtest.example")
    record = top.get("record", str, "www")
    compute = top.table("compute")
    instance_type = compute.get("instance_type", str, "t3.micro")
    capacity = compute.get("capacity", int, 3)
    if not 1 <= capacity <= 50:
        raise DrConfigError(f"expected 1 to 50 instances, got {capacity}", source=source, field="compute.capacity")
    compute.reject_unknown()
    tables = []
    for t in top.tables("tables"):
        seed = t.get("seed_items", int, 0)
        if seed < 0 or seed > 10000:
            raise DrConfigError(f"expected 0 to 10000, got {seed}", source=source, field=t._name("seed_items"))
        tables.append(TableSpec(_name(t.get("name", str), t, "name"), t.get("hash_key", str, "pk"), seed))
        t.reject_unknown()
    buckets = []
    for b in top.tables("buckets"):
        seed = b.get("seed_objects", int, 0)
        if seed < 0 or seed > 10000:
            raise DrConfigError(f"expected 0 to 10000, got {seed}", source=source, field=b._name("seed_objects"))
        buckets.append(BucketSpec(_name(b.get("name", str), b, "name"), seed))
        b.reject_unknown()
    if not tables:
        raise DrConfigError("a blueprint needs at least one [[tables]] entry (the probes write to the first)", source=source, field="tables")
    backup = top.table("backup")
    schedule = backup.get("schedule", str, "cron(0 */4 ? * * *)")
    if not (schedule.startswith("cron(") and schedule.endswith(")")):
        raise DrConfigError(f"expected an AWS cron expression like 'cron(0 */4 ? * * *)', got {schedule!r}", source=source, field="backup.schedule")
    archive_tier = backup.get("archive_restore_tier", str, "Standard", choices=ARCHIVE_TIERS)
    backup.reject_unknown()
    database = None
    if "database" in data:
        db = top.table("database")
        database = DatabaseSpec(
            name=_identifier(db.get("name", str, "appdb"), db, "name"),
            table=_identifier(db.get("table", str, "ledger"), db, "table"),
            instance_class=db.get("instance_class", str, "db.r6g.large"),
            snapshot_every=db.get("snapshot_every", str, "4h"),
            record_ttl=db.get("record_ttl", str, "30s"),
            pilot_light_instance_class=db.get("pilot_light_instance_class", str, "db.t4g.medium"),
        )
        from pytest_drtest.durations import parse_duration

        try:
            if parse_duration(database.snapshot_every) < 3600:
                raise DrConfigError("expected at least 1h", source=source, field="database.snapshot_every")
        except DrConfigError as exc:
            if exc.field:
                raise
            raise DrConfigError(str(exc), source=source, field="database.snapshot_every") from None
        db.reject_unknown()
    cache = _cache(top) if "cache" in data else None
    dax = _dax(top) if "dax" in data else None
    cdn = _cdn(top) if "cdn" in data else None
    web = None
    if "web" in data:
        web = parse_web(top.get("web", dict), source=source, cwd=str(Path(source).resolve().parent))
    tags = _tags(top)
    top.reject_unknown()
    return Blueprint(name, source, domain, record, instance_type, capacity, tuple(tables), tuple(buckets), schedule, database, web,
                     tags, archive_restore_tier=archive_tier, cache=cache, dax=dax, cdn=cdn)


def _cache(top: Fields) -> CacheSpec:
    """``[cache]``: ``engine`` (valkey or redis) and ``node_type`` (``cache.<family>.<size>`` of a family
    global datastores run on)."""
    cache = top.table("cache")
    engine = cache.get("engine", str, "valkey", choices=CACHE_ENGINES)
    node_type = cache.get("node_type", str, "cache.r7g.large")
    match = re.fullmatch(r"cache\.([a-z0-9]+)\.([a-z0-9]+)", node_type)
    if match is None or match.group(1) not in GLOBAL_CACHE_FAMILIES:
        raise DrConfigError(f"expected cache.<family>.<size> of a family global datastores run on "
                            f"({', '.join(GLOBAL_CACHE_FAMILIES)}), e.g. cache.r7g.large; got {node_type!r}",
                            source=top.source, field="cache.node_type")
    cache.reject_unknown()
    return CacheSpec(node_type=node_type, engine=engine)


def _cdn(top: Fields) -> CdnSpec:
    """``[cdn]``: ``connection_attempts`` (1-3), ``connection_timeout`` (1-10 s) of each origin and the
    origin group's ``failover_status_codes`` (of the codes CloudFront fails over on), as the
    CloudFront API bounds them ([BC:cloudfront] ``Origin``; the CloudFront Developer Guide,
    "Optimize high availability with CloudFront origin failover")."""
    from pytest_drtest.emulation.cloudfront.models import FAILOVER_STATUS_CODES

    cdn = top.table("cdn")
    bounds = {"connection_attempts": (1, 3, CdnSpec.connection_attempts), "connection_timeout": (1, 10, CdnSpec.connection_timeout)}
    values: dict[str, int] = {}
    for key, (low, high, default) in bounds.items():
        value = cdn.get(key, int, default)
        if not low <= value <= high:
            raise DrConfigError(f"expected {low}-{high}, got {value}", source=top.source, field=f"cdn.{key}")
        values[key] = value
    codes = cdn.get("failover_status_codes", list, list(CdnSpec.failover_status_codes))
    allowed = ", ".join(str(c) for c in sorted(FAILOVER_STATUS_CODES))
    if not codes or any(isinstance(c, bool) or c not in FAILOVER_STATUS_CODES for c in codes):
        raise DrConfigError(f"expected a non-empty list of the status codes CloudFront fails over on ({allowed}), got {codes!r}",
                            source=top.source, field="cdn.failover_status_codes")
    cdn.reject_unknown()
    return CdnSpec(values["connection_attempts"], values["connection_timeout"], tuple(sorted(set(codes))))


def _dax(top: Fields) -> DaxSpec:
    """``[dax]``: ``node_type`` (``dax.<family>.<size>`` of a family DAX offers) and ``nodes`` (1-11: a
    primary and up to ten read replicas, [DDB-DG:DAX.concepts.cluster])."""
    from pytest_drtest.emulation.core import AwsError
    from pytest_drtest.emulation.dax.models import MAX_NODES, check_node_type

    dax = top.table("dax")
    node_type = dax.get("node_type", str, DaxSpec.node_type)
    try:
        check_node_type(node_type)
    except AwsError as exc:
        raise DrConfigError(exc.message, source=top.source, field="dax.node_type") from None
    nodes = dax.get("nodes", int, DaxSpec.nodes)
    if not 1 <= nodes <= MAX_NODES:
        raise DrConfigError(f"expected 1 to {MAX_NODES} nodes (a primary and up to {MAX_NODES - 1} read replicas), got {nodes}",
                            source=top.source, field="dax.nodes")
    dax.reject_unknown()
    return DaxSpec(node_type=node_type, nodes=nodes)


def _tags(top: Fields) -> tuple[tuple[str, str], ...]:
    """``[tags]``: key = "value" pairs put on every resource (e.g. ``"FIS-Ready" = "True"``); AWS
    tag rules: keys up to 128 characters, values up to 256, not starting with ``aws:``."""
    table = top.get("tags", dict, {})
    for key, value in table.items():
        where = f"tags.{key}"
        if not isinstance(value, str):
            raise DrConfigError(f"expected a string value, got {value!r}", source=top.source, field=where)
        if not 1 <= len(key) <= 128 or len(value) > 256:
            raise DrConfigError("expected a key of 1-128 characters and a value of up to 256", source=top.source, field=where)
        if key.lower().startswith(("aws:", "drtest:")):
            raise DrConfigError("keys starting with aws: or drtest: are reserved", source=top.source, field=where)
    return tuple((str(k), str(v)) for k, v in table.items())


def _identifier(value: str, fields: Fields, key: str) -> str:
    if not re.match(r"^[a-z][a-z0-9_]{0,62}$", value):
        raise DrConfigError(
            f"expected a SQL identifier (lowercase letters, digits, underscores), got {value!r}",
            source=fields.source, field=fields._name(key),
        )
    return value
