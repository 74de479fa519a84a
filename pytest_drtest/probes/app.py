"""The application's request path.

A request resolves the topology's DNS name (each answer cached for its TTL on the clock), reaches
the load balancer the answer names — which answers only if its region is up and it has a healthy
target — and the application of that region reads or writes its store: the table that its
region's configuration names (``topology.app_config[region]["table"]``; runbooks repoint it) and,
when the blueprint has a database, the ledger table behind the region's database endpoint. With the
blueprint's ``[dax]`` the application writes through its region's DAX cluster and reads
eventually consistent through it, as a DAX application does ([DDB-DG:DAX.consistency]); reading
its acknowledged writes back after a run is strongly consistent (DAX passes it through to the
table), so lost writes are judged on what the table holds, and stale answers are counted apart.

Two paths share this: :class:`AppPath` (the embedded backend: DNS and the load balancer as the
emulation answers them, in this process) and :class:`~pytest_drtest.probes.http.HttpAppPath` (the
emulated world on the network: DNS over UDP, HTTP to the web tier).
"""
from __future__ import annotations

import urllib.parse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

import botocore.exceptions

from pytest_drtest.emulation.dax.client import DaxUnavailable
from pytest_drtest.errors import DrConfigError
from pytest_drtest.measure import EdgeRead
from pytest_drtest.probes.sql import SqlStore, SqlUnavailable

if TYPE_CHECKING:
    from pytest_drtest.topology.model import Topology


class AppUnavailable(Exception):
    """The request failed on the way: no DNS answer, the endpoint refused, or the store failed."""


class Reach(Protocol):
    """How a client in this process sees the network of the emulated world (the harness gives it)."""

    def resolve(self, name: str, rtype: str, client_region: str) -> tuple[list[str], float]:
        """The values of ``name`` and the TTL of the answer."""

    def reach(self, host: str) -> str:
        """The region of the load balancer ``host``; :class:`AppUnavailable` if it does not serve."""

    def view(self, domain: str, path: str, serve: Callable[[str], int]) -> EdgeRead:
        """A viewer GET through the CloudFront distribution ``domain`` (``serve``: the application
        behind an origin answers it)."""


class RegionApp:
    """The application of one region: its table and, with a database, its ledger table."""

    def __init__(self, topology: Topology, region: str, sql: SqlStore | None = None) -> None:
        self.topology = topology
        self.region = region
        self.key_name = topology.blueprint.table(topology.probe_table).hash_key
        self.sql = sql if sql is not None else (SqlStore(topology) if topology.blueprint.database else None)
        self._dax_client: tuple[str, Any] | None = None  # (cluster, its data-path client)

    def _db(self) -> dict[str, Any]:
        target = self.topology.app_config.get(self.region, {}).get("db")
        if target is None:
            raise AppUnavailable(f"HTTP 500: the application in {self.region} has no database configured")
        return dict(target)

    def _table(self) -> tuple[Any, str]:
        table = self.topology.app_config.get(self.region, {}).get("table")
        if not table:
            raise AppUnavailable(f"HTTP 500: the application in {self.region} has no table configured")
        return self.topology.clients.client("dynamodb", self.region), str(table)

    def _cached_table(self) -> tuple[Any, str, bool]:
        """Like :meth:`_table`, through the region's DAX cluster when it has one (the third value)."""
        client, table = self._table()
        cluster = self.topology.app_config.get(self.region, {}).get("dax")
        if cluster and self.topology.dax_connect is not None:
            return self._dax(str(cluster)), table, True
        return client, table, False

    def _dax(self, cluster: str) -> Any:
        if self._dax_client is None or self._dax_client[0] != cluster:
            assert self.topology.dax_connect is not None
            self._dax_client = (cluster, self.topology.dax_connect(self.region, cluster))
        return self._dax_client[1]

    def put(self, key: str, payload: str) -> None:
        client, table, _ = self._cached_table()
        try:
            client.put_item(TableName=table, Item={self.key_name: {"S": key}, "payload": {"S": payload}})
        except (botocore.exceptions.ClientError, botocore.exceptions.EndpointConnectionError, DaxUnavailable) as exc:
            raise AppUnavailable(f"HTTP 500: {exc}") from None
        if self.sql is not None:
            try:
                self.sql.write(self._db(), key, payload, self.topology.clock.now())
            except SqlUnavailable as exc:
                raise AppUnavailable(f"HTTP 500: database: {exc}") from None

    def get(self, key: str) -> str | None:
        """The item's payload (strongly consistent read; eventually consistent through DAX), None when
        absent from either store."""
        client, table, cached = self._cached_table()
        try:
            item = client.get_item(TableName=table, Key={self.key_name: {"S": key}}, ConsistentRead=not cached).get("Item")
        except (botocore.exceptions.ClientError, botocore.exceptions.EndpointConnectionError, DaxUnavailable) as exc:
            raise AppUnavailable(f"HTTP 500: {exc}") from None
        value: str | None = (item or {}).get("payload", {}).get("S")
        if self.sql is not None:
            try:
                in_db = self.sql.read(self._db(), key)
            except SqlUnavailable as exc:
                raise AppUnavailable(f"HTTP 500: database: {exc}") from None
            if in_db != value:
                return None if value is None or in_db is None else f"mismatch: {value!r} vs {in_db!r}"
        return value

    def read_all(self, keys: list[str]) -> dict[str, str | None]:
        """Many items (batches of 100); missing keys map to None; a write counts only if both
        stores hold it."""
        client, table = self._table()
        found: dict[str, str | None] = dict.fromkeys(keys)
        try:
            for start in range(0, len(keys), 100):
                request: dict[str, Any] = {
                    table: {"Keys": [{self.key_name: {"S": k}} for k in keys[start : start + 100]], "ConsistentRead": True}
                }
                while request:
                    response = client.batch_get_item(RequestItems=request)
                    for item in response["Responses"].get(table, []):
                        found[item[self.key_name]["S"]] = item.get("payload", {}).get("S")
                    request = response.get("UnprocessedKeys") or {}
        except (botocore.exceptions.ClientError, botocore.exceptions.EndpointConnectionError) as exc:
            raise AppUnavailable(f"HTTP 500: {exc}") from None
        if self.sql is not None:
            try:
                rows = self.sql.read_all(self._db(), keys)
            except SqlUnavailable as exc:
                raise AppUnavailable(f"HTTP 500: database: {exc}") from None
            found = {k: (v if rows.get(k) == v else None) for k, v in found.items()}
        return found

    def close(self) -> None:
        if self.sql is not None:
            self.sql.close()


class AppPath:
    """Reads and writes through DNS -> load balancer -> the serving region's application."""

    network = False  # the probe may run it under the world lock

    def __init__(self, topology: Topology, reach: Reach | None, client_region: str | None = None) -> None:
        if reach is None:
            raise DrConfigError(
                "the built-in application path needs an emulated backend; on aws pass your own "
                "path: dr.probe(path=YourAppPath()) (put/get/read_all/close, see docs/probes.md)"
            )
        self.topology = topology
        self.reach = reach
        self.client_region = client_region or topology.primary_region
        self._cache: dict[str, tuple[list[str], float]] = {}
        self._sql = SqlStore(topology) if topology.blueprint.database else None
        self._apps: dict[str, RegionApp] = {}
        self.edge_reads: list[EdgeRead] = []  # reads through the topology's CloudFront distribution ([cdn])

    def route(self) -> str:
        """The region whose load balancer answers this request now, or :class:`AppUnavailable`."""
        name = self.topology.fqdn
        now = self.topology.clock.now()
        cached = self._cache.get(name)
        if cached is not None and now < cached[1]:
            values = cached[0]
        else:
            values, ttl = self.reach.resolve(name, "CNAME", self.client_region)
            if ttl > 0:
                self._cache[name] = (values, now + ttl)
            else:
                self._cache.pop(name, None)
        if not values:
            raise AppUnavailable(f"DNS: no answer for {name}")
        return self.reach.reach(values[0].lower().rstrip("."))

    def _app(self, region: str) -> RegionApp:
        if region not in self._apps:
            self._apps[region] = RegionApp(self.topology, region, self._sql)
        return self._apps[region]

    def put(self, key: str, payload: str) -> str:
        """Write one item; return the region that took it."""
        region = self.route()
        self._app(region).put(key, payload)
        return region

    def get(self, key: str) -> tuple[str, str | None]:
        """Read one item in the serving region; return (region, payload). With the topology's
        CloudFront distribution ([cdn]) the read goes through it: the origin group's primary ALB,
        or the DR one when the primary cannot be reached or answers a failover status code."""
        if self.topology.cdn_domain is not None:
            return self._get_through_edge(self.topology.cdn_domain, key)
        region = self.route()
        return region, self._app(region).get(key)

    def _get_through_edge(self, domain: str, key: str) -> tuple[str, str | None]:
        read: dict[str, str | None] = {}  # region -> what its application answered

        def serve(origin: str) -> int:  # the application behind an ALB that serves, as the web tier answers
            try:
                region = self.reach.reach(origin)
                read[region] = value = self._app(region).get(key)
            except AppUnavailable:
                return 500
            return 200 if value is not None else 404

        answer = self.reach.view(domain, f"/drtest/items/{urllib.parse.quote(key, safe='')}", serve)
        self.edge_reads.append(answer)
        if answer.region is None or answer.status not in (200, 404):
            raise AppUnavailable(f"CloudFront {domain}: HTTP {answer.status}")
        return answer.region, read.get(answer.region) if answer.status == 200 else None

    def read_all(self, keys: list[str]) -> tuple[str, dict[str, str | None]]:
        """Read many items in the serving region; missing keys map to None."""
        region = self.route()
        return region, self._app(region).read_all(keys)

    def close(self) -> None:
        if self._sql is not None:
            self._sql.close()
