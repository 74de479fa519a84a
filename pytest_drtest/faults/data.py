"""The data faults: a bad deploy corrupts a table, a bad migration a database, a script deletes objects.

They act through the application's own clients (or connection), so the emulation records their
writes like any others (PITR history, replication). Reverting one does nothing: the damage stays
and the runbook's restore is the recovery.
"""
from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pytest_drtest.errors import DrConfigError
from pytest_drtest.faults.base import Fault, FaultContext, register
from pytest_drtest.faults.catalogue import _database, _logical, plan_region
from pytest_drtest.faults.targets import (
    Database,
    bucket_home,
    find_database,
    key_schema,
    list_tables,
    missing_bucket,
    missing_table,
    require_up,
    resolve_region,
    table_exists,
)

if TYPE_CHECKING:
    from pytest_drtest.topology.model import Topology


def _check_fraction(fraction: Any) -> None:
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 < fraction <= 1:
        raise DrConfigError(f"fraction must be in (0, 1], got {fraction!r}")


def _choose(items: list[Any], fraction: float, seed: str) -> list[Any]:
    """``max(1, round(n × fraction))`` of ``items`` (already sorted), with a seeded RNG."""
    if not items:
        return []
    return random.Random(seed).sample(items, max(1, round(len(items) * fraction)))


def _plain(value: dict[str, Any]) -> str:
    """A DynamoDB attribute value as text (``{"S": "a"}`` -> ``a``)."""
    (kind, raw), = value.items()
    return str(raw) if kind in ("S", "N") else json.dumps(raw, default=str)


@register
@dataclass
class CorruptTable(Fault):
    """A bad deploy: overwrite (``mode="overwrite"``: the item becomes its key and ``payload =
    "CORRUPTED"``) or delete (``mode="delete"``) a fraction of a table's items, chosen with a
    seeded RNG, through the application's own clients.

    ``table``: a blueprint table of the topology (``""``: the probe table; the copy the
    application of ``region`` uses) or the name of any table in ``region``."""

    kind = "corrupt-table"
    data_fault = True
    table: str = ""
    fraction: float = 0.1
    mode: str = "overwrite"
    region: str = "primary"
    seed: int = 0
    corrupted: list[str] = field(default_factory=list, init=False, compare=False)
    corrupted_keys: list[dict[str, Any]] = field(default_factory=list, init=False, compare=False, repr=False)

    def _check_args(self) -> None:
        _check_fraction(self.fraction)
        if self.mode not in ("overwrite", "delete"):
            raise DrConfigError(f"mode must be 'overwrite' or 'delete', got {self.mode!r}")

    def validate(self, topology: Topology) -> None:
        self._check_args()
        logical = self.table or topology.probe_table
        topology.blueprint.table(logical)
        region = plan_region(topology, self.region)
        if logical not in topology.regions[region].tables and topology.regions[region].tables:
            raise DrConfigError(f"table {self.table!r} has no copy in {region}")

    def check(self, ctx: FaultContext) -> None:
        self._check_args()
        region = resolve_region(ctx, self, self.region)
        require_up(ctx, self, region)
        logical = _logical(ctx, self.table, "table")
        if logical and ctx.topology is not None:
            topology = ctx.topology
            name = self.table or topology.probe_table
            physical = topology.app_config.get(region, {}).get("table") if name == topology.probe_table else None
            if not physical:
                try:
                    physical = topology.table_name(name, region)
                except KeyError:
                    raise DrConfigError(f"table {name!r} has no copy in {region}") from None
        elif self.table and table_exists(ctx, region, self.table):
            physical = self.table
        elif logical:
            raise ctx.no_topology(self, f"table {self.table!r}" if self.table else "the probes' table")
        else:
            if not self.table:
                raise DrConfigError(f"{self.describe()}: name a table (there is no blueprint table to default to)")
            raise missing_table(self, self.table, [region], list_tables(ctx, region))
        self.record.update(table=str(physical), region=region)

    def inject(self, ctx: FaultContext) -> None:
        if "table" not in self.record:
            self.check(ctx)
        physical, region = self.record["table"], self.record["region"]
        schema = key_schema(ctx, region, physical)
        names = {f"#k{i}": attr for i, (attr, _) in enumerate(schema)}
        ddb = ctx.client("dynamodb", region)
        keys: list[dict[str, Any]] = []
        for page in ddb.get_paginator("scan").paginate(
            TableName=physical, ProjectionExpression=", ".join(names), ExpressionAttributeNames=names,
        ):
            keys.extend({attr: item[attr] for attr, _ in schema} for item in page["Items"])
        keys.sort(key=lambda k: tuple(_plain(k[attr]) for attr, _ in schema))
        chosen = _choose(keys, self.fraction, f"{self.seed}:{physical}")
        chosen.sort(key=lambda k: tuple(_plain(k[attr]) for attr, _ in schema))
        for key in chosen:
            if self.mode == "delete":
                ddb.delete_item(TableName=physical, Key=key)
            else:
                ddb.put_item(TableName=physical, Item={**key, "payload": {"S": "CORRUPTED"}})
        self.corrupted_keys = chosen
        self.corrupted = ["|".join(_plain(k[attr]) for attr, _ in schema) for k in chosen]
        self.record.update(items=len(chosen), mode=self.mode)

    def describe(self) -> str:
        return f"corrupt-table({self.table or 'probe table'}, {self.fraction:g}, {self.mode})"


@register
@dataclass
class DeleteObjects(Fault):
    """Delete a fraction of a bucket's objects under ``prefix``: plain deletes (delete markers on
    a versioned bucket, recoverable by undelete) or, with ``versions=True``, every version
    (unrecoverable in the bucket itself).

    ``bucket``: a blueprint bucket of the topology (``""``: the first; the copy in ``region``) or
    the name of any bucket (which has one home region, so ``region`` does not apply to it)."""

    kind = "delete-objects"
    data_fault = True
    bucket: str = ""
    prefix: str = ""
    fraction: float = 1.0
    versions: bool = False
    region: str = "primary"
    seed: int = 0
    deleted: list[str] = field(default_factory=list, init=False, compare=False)
    #: the ETag of each deleted object's current version just before the fault: what a recovery must give back
    etags: dict[str, str] = field(default_factory=dict, init=False, compare=False)

    def validate(self, topology: Topology) -> None:
        if not topology.blueprint.buckets:
            raise DrConfigError("the blueprint has no buckets")
        topology.blueprint.bucket(self.bucket or topology.blueprint.buckets[0].name)
        _check_fraction(self.fraction)
        plan_region(topology, self.region)

    def check(self, ctx: FaultContext) -> None:
        _check_fraction(self.fraction)
        logical = _logical(ctx, self.bucket, "bucket")
        if logical and ctx.topology is not None:
            region = resolve_region(ctx, self, self.region)
            try:
                bucket = ctx.topology.bucket_name(self.bucket or None, region)
            except KeyError:
                raise DrConfigError(f"bucket {self.bucket!r} has no copy in {region}") from None
        else:
            home = bucket_home(ctx, self.bucket) if self.bucket else None
            if home is None:
                if logical:
                    raise ctx.no_topology(self, f"bucket {self.bucket!r}" if self.bucket else "the blueprint's bucket")
                if not self.bucket:
                    raise DrConfigError(f"{self.describe()}: name a bucket (the blueprint has no buckets)")
                raise missing_bucket(ctx, self, self.bucket)
            bucket, region = self.bucket, home
        require_up(ctx, self, region)
        self.record.update(bucket=bucket, region=region)

    def inject(self, ctx: FaultContext) -> None:
        if "bucket" not in self.record:
            self.check(ctx)
        bucket, region = self.record["bucket"], self.record["region"]
        s3 = ctx.client("s3", region)
        etags: dict[str, str] = {}
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=self.prefix):
            etags.update((obj["Key"], obj["ETag"]) for obj in page.get("Contents", []))
        keys = sorted(etags)
        chosen = sorted(_choose(keys, self.fraction, f"{self.seed}:{bucket}"))
        self.etags = {key: etags[key] for key in chosen}
        for key in chosen:
            if self.versions:
                versions = s3.list_object_versions(Bucket=bucket, Prefix=key)
                for entry in versions.get("Versions", []) + versions.get("DeleteMarkers", []):
                    if entry["Key"] == key:
                        s3.delete_object(Bucket=bucket, Key=key, VersionId=entry["VersionId"])
            else:
                s3.delete_object(Bucket=bucket, Key=key)
        self.deleted = chosen
        self.record.update(objects=len(chosen), versions=self.versions)

    def describe(self) -> str:
        return f"delete-objects({self.bucket or 'bucket'}, {self.fraction:g}{', all versions' if self.versions else ''})"


@register
@dataclass
class CorruptDatabase(Fault):
    """A bad migration: ``mode="drop"`` drops a table; ``mode="overwrite"`` sets ``column`` to
    ``'CORRUPTED'`` on a fraction of its rows (chosen with a seeded RNG by primary key).

    Without ``database``: the topology's ledger table, through the primary application's
    connection. With ``database`` (an RDS instance or Aurora cluster of yours): ``table`` and the
    master ``password`` you created it with are needed; the endpoint, user and database name come
    from ``DescribeDBInstances``/``DescribeDBClusters``."""

    kind = "corrupt-database"
    data_fault = True
    mode: str = "overwrite"
    fraction: float = 0.1
    seed: int = 0
    database: str = ""
    table: str = ""
    password: str = ""
    column: str = "payload"
    corrupted: list[str] = field(default_factory=list, init=False, compare=False)
    _found: Database | None = field(default=None, init=False, compare=False, repr=False)

    def _check_args(self) -> None:
        if self.mode not in ("drop", "overwrite"):
            raise DrConfigError(f"mode must be 'drop' or 'overwrite', got {self.mode!r}")
        _check_fraction(self.fraction)
        for name in ("table", "column"):
            value = getattr(self, name)
            if value and not value.replace("_", "").isalnum():
                raise DrConfigError(f"{name} must be a SQL identifier (letters, digits, underscores), got {value!r}")

    def validate(self, topology: Topology) -> None:
        self._check_args()
        if not self.database:
            _database(topology, "primary")

    def check(self, ctx: FaultContext) -> None:
        self._check_args()
        assert ctx.regions is not None
        if not self.database:
            topology = ctx.require_topology(self, "the application's database")
            _database(topology, "primary")
            require_up(ctx, self, topology.app_config[topology.primary_region]["db"]["region"])
            return
        if not self.table or not self.password:
            raise DrConfigError(
                f"{self.describe()}: on your own database, name the SQL table (table=...) and the master "
                "password you created it with (password=...)"
            )
        self._found = find_database(ctx, self, self.database, list(ctx.regions))

    def _connect(self, ctx: FaultContext) -> tuple[Any, str, dict[str, str]]:
        """(connection, SQL table, {database, kind, region})."""
        if not self.database:
            from pytest_drtest.topology.build import db_connect

            topology = ctx.require_topology(self, "the application's database")
            spec = topology.blueprint.database
            assert spec is not None
            target = topology.app_config[topology.primary_region]["db"]
            return db_connect(topology, target), spec.table, {"database": target["id"], "kind": target["kind"],
                                                              "region": target["region"]}
        import psycopg

        found = self._found or find_database(ctx, self, self.database, list(ctx.regions or ()))
        info = found.description
        if found.kind == "instance":
            host, port, dbname = info["Endpoint"]["Address"], info["Endpoint"]["Port"], info.get("DBName")
        else:
            host, port, dbname = info["Endpoint"], info["Port"], info.get("DatabaseName")
        try:
            conn = psycopg.connect(host=host, port=int(port), user=info["MasterUsername"], password=self.password,
                                   dbname=dbname or "postgres", autocommit=True, connect_timeout=5)
        except psycopg.OperationalError as exc:
            if "password authentication failed" not in str(exc):
                raise
            refusal = next((line.strip() for line in str(exc).splitlines() if "FATAL:" in line), str(exc))
            raise DrConfigError(f"{self.describe()}: password: {found.id} refused the master password "
                                f"({refusal})") from None
        return conn, self.table, {"database": found.id, "kind": found.kind, "region": found.region}

    def inject(self, ctx: FaultContext) -> None:
        conn, table, where = self._connect(ctx)
        with conn:
            if conn.execute("SELECT to_regclass(%s)", (table,)).fetchone()[0] is None:
                tables = [r[0] for r in conn.execute(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'").fetchall()]
                raise DrConfigError(f"{self.describe()}: there is no table {table!r} in {where['database']}; "
                                    f"tables: {', '.join(sorted(tables)) or 'none'}")
            if self.mode == "drop":
                conn.execute(f"DROP TABLE {table}")
                affected = -1
            else:
                key = self._primary_key(conn, table)
                keys = sorted(str(row[0]) for row in conn.execute(f"SELECT {key}::text FROM {table}").fetchall())
                chosen = sorted(_choose(keys, self.fraction, f"{self.seed}:{where['database']}"))
                conn.execute(f"UPDATE {table} SET {self.column} = 'CORRUPTED' WHERE {key}::text = ANY(%s)", (chosen,))
                self.corrupted = chosen
                affected = len(chosen)
        self.record.update(where, mode=self.mode, rows=affected, table=table)

    def _primary_key(self, conn: Any, table: str) -> str:
        rows = conn.execute(
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
            "WHERE i.indrelid = %s::regclass AND i.indisprimary", (table,)).fetchall()
        if len(rows) != 1:
            raise DrConfigError(f"{self.describe()}: overwrite needs a table with a one-column primary key; {table!r} has "
                                f"{len(rows) or 'no'} primary-key column(s)")
        return str(rows[0][0])

    def describe(self) -> str:
        what = f"{self.database}.{self.table}, " if self.database else ""
        return f"corrupt-database({what}{self.mode}{'' if self.mode == 'drop' else f', {self.fraction:g}'})"
