"""The application's request path as the emulation sees it.

A request resolves the topology's DNS name through Route 53 (a stub resolver that caches each
answer for its TTL), reaches the ALB the answer names — which answers only if its region is up
and it has a healthy target — and the application behind it reads or writes the table that its
region's configuration names (``topology.app_config[region]["table"]``; runbooks repoint it).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import botocore.exceptions

from pytest_drtest.errors import DrConfigError
from pytest_drtest.probes.sql import SqlStore, SqlUnavailable

if TYPE_CHECKING:
    from pytest_drtest.topology.model import Topology


class AppUnavailable(Exception):
    """The request failed on the way: no DNS answer, the endpoint refused, or the store failed."""


class AppPath:
    """Reads and writes through DNS -> ALB -> the serving region's table."""

    def __init__(self, topology: Topology, client_region: str | None = None) -> None:
        if topology.emulation is None:
            raise DrConfigError(
                "the built-in application path needs an emulated backend; on aws pass your own "
                "path: dr.probe(path=YourAppPath()) (put/get/read_all/close, see docs/probes.md)"
            )
        from pytest_drtest.emulation.route53 import StubResolver

        self.topology = topology
        self.emulation = topology.emulation
        self.client_region = client_region or topology.primary_region
        self.resolver = StubResolver(self.emulation.get("route53"), topology.clock, self.client_region)
        self.key_name = topology.blueprint.table(topology.probe_table).hash_key
        self.sql: SqlStore | None = SqlStore(topology) if topology.blueprint.database else None

    def _db(self, region: str) -> dict[str, Any]:
        target = self.topology.app_config.get(region, {}).get("db")
        if target is None:
            raise AppUnavailable(f"HTTP 500: the application in {region} has no database configured")
        return target

    def route(self) -> str:
        """The region whose ALB answers this request now, or :class:`AppUnavailable`."""
        values = self.resolver.lookup(self.topology.fqdn, "CNAME")
        if not values:
            raise AppUnavailable(f"DNS: no answer for {self.topology.fqdn}")
        host = values[0].lower().rstrip(".")
        endpoint = self.emulation.endpoints.get(host)
        if endpoint is None:
            raise AppUnavailable(f"{host}: connection timed out (unknown endpoint)")
        if not self.emulation.world.region_up(endpoint.region):
            raise AppUnavailable(f"{host}: connection timed out (region {endpoint.region} is down)")
        if not endpoint.is_healthy(self.emulation.world):
            raise AppUnavailable(f"{host}: HTTP 503 (no healthy targets)")
        return endpoint.region

    def _table(self, region: str) -> tuple[Any, str]:
        table = self.topology.app_config.get(region, {}).get("table")
        if not table:
            raise AppUnavailable(f"HTTP 500: the application in {region} has no table configured")
        return self.topology.clients.client("dynamodb", region), table

    def put(self, key: str, payload: str) -> str:
        """Write one item; return the region that took it."""
        region = self.route()
        client, table = self._table(region)
        try:
            client.put_item(TableName=table, Item={self.key_name: {"S": key}, "payload": {"S": payload}})
        except (botocore.exceptions.ClientError, botocore.exceptions.EndpointConnectionError) as exc:
            raise AppUnavailable(f"HTTP 500: {exc}") from None
        if self.sql is not None:
            try:
                self.sql.write(self._db(region), key, payload, self.topology.clock.now())
            except SqlUnavailable as exc:
                raise AppUnavailable(f"HTTP 500: database: {exc}") from None
        return region

    def get(self, key: str) -> tuple[str, str | None]:
        """Read one item (strongly consistent in the serving region); return (region, payload)."""
        region = self.route()
        client, table = self._table(region)
        try:
            item = client.get_item(TableName=table, Key={self.key_name: {"S": key}}, ConsistentRead=True).get("Item")
        except (botocore.exceptions.ClientError, botocore.exceptions.EndpointConnectionError) as exc:
            raise AppUnavailable(f"HTTP 500: {exc}") from None
        value = (item or {}).get("payload", {}).get("S")
        if self.sql is not None:
            try:
                in_db = self.sql.read(self._db(region), key)
            except SqlUnavailable as exc:
                raise AppUnavailable(f"HTTP 500: database: {exc}") from None
            if in_db != value:
                return region, None if value is None or in_db is None else f"mismatch: {value!r} vs {in_db!r}"
        return region, value

    def read_all(self, keys: list[str]) -> tuple[str, dict[str, str | None]]:
        """Read many items in the serving region (batches of 100); missing keys map to None."""
        region = self.route()
        client, table = self._table(region)
        found: dict[str, str | None] = dict.fromkeys(keys)
        for start in range(0, len(keys), 100):
            request: dict[str, Any] = {
                table: {"Keys": [{self.key_name: {"S": k}} for k in keys[start : start + 100]], "ConsistentRead": True}
            }
            while request:
                response = client.batch_get_item(RequestItems=request)
                for item in response["Responses"].get(table, []):
                    found[item[self.key_name]["S"]] = item.get("payload", {}).get("S")
                request = response.get("UnprocessedKeys") or {}
        if self.sql is not None:
            try:
                rows = self.sql.read_all(self._db(region), keys)
            except SqlUnavailable as exc:
                raise AppUnavailable(f"HTTP 500: database: {exc}") from None
            # an acknowledged write is kept only if both stores hold it
            found = {k: (v if rows.get(k) == v else None) for k, v in found.items()}
        return region, found

    def close(self) -> None:
        if self.sql is not None:
            self.sql.close()
