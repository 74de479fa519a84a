"""The orders service: the web tier of one region, a process of its own.

It speaks the probe protocol of pytest-drtest (``PUT``/``GET /drtest/items/{key}``, and the
optional batch read ``POST /drtest/items:read`` the probe uses to read its writes back): a write
goes to the region's DynamoDB table and to the ledger table of the region's PostgreSQL database; a
read returns the item only when both stores hold it. Everything it needs comes from the environment
the harness gives it (``dr.env(region)``): the AWS endpoint, the table, the database.

Four ways to run it, to show what a DR test catches:

- ``app``: reconnects to the database after a failure, and resolves the database's name
  (``DRTEST_DB_RECORD``, the topology's ``db.<domain>`` failover record) through the world's DNS
  server, honouring the answer's TTL;
- ``sticky_app``: keeps the one connection it opened — after an RDS Multi-AZ failover (which drops
  every connection to the endpoint) it never works again;
- ``dns_forever_app``: resolves the database's name once and caches it forever (what a JVM with
  ``networkaddress.cache.ttl=-1`` does) — after a region failover it keeps the dead address.
"""
from __future__ import annotations

import os
import threading
import time
from typing import Any

import boto3
import dns.message
import dns.query
import dns.rdatatype
import psycopg
from flask import Flask, Response, jsonify, request


class Database:
    """The region's ledger table, reached the way the variant says."""

    def __init__(self, *, reconnect: bool, honour_ttl: bool) -> None:
        self.reconnect = reconnect
        self.honour_ttl = honour_ttl
        self.table = os.environ.get("DRTEST_DB_TABLE", "ledger")
        self._conn: psycopg.Connection[Any] | None = None
        self._address: tuple[str, float] | None = None  # (address, valid until: wall time)
        self._lock = threading.Lock()
        self._broken = False

    def address(self) -> str:
        record = os.environ.get("DRTEST_DB_RECORD")
        if not record:
            return os.environ["DRTEST_DB_HOST"]
        now = time.monotonic()
        if self._address is not None and (not self.honour_ttl or now < self._address[1]):
            return self._address[0]
        query = dns.message.make_query(record, "A")
        reply = dns.query.udp(query, os.environ["DRTEST_DNS"], port=int(os.environ.get("DRTEST_DNS_PORT", "53")), timeout=2)
        answers = [rrset for rrset in reply.answer if rrset.rdtype == dns.rdatatype.A]
        if not answers:
            raise RuntimeError(f"no address for {record}")
        self._address = (answers[-1][0].address, now + min(rrset.ttl for rrset in reply.answer))
        return self._address[0]

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is not None and not self._conn.closed:
            return self._conn
        if self._broken and not self.reconnect:
            raise RuntimeError("the database connection is gone (this variant never reconnects)")
        self._conn = psycopg.connect(
            hostaddr=self.address(), host=os.environ.get("DRTEST_DB_RECORD") or os.environ["DRTEST_DB_HOST"],
            port=int(os.environ["DRTEST_DB_PORT"]), user=os.environ["DRTEST_DB_USER"],
            password=os.environ["DRTEST_DB_PASSWORD"], dbname=os.environ["DRTEST_DB_NAME"],
            autocommit=True, connect_timeout=2, sslmode="disable",
        )
        return self._conn

    def run(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        with self._lock:
            conn = self._connection()
            try:
                cursor = conn.execute(sql, params)
                return cursor.fetchall() if cursor.description else []
            except psycopg.OperationalError:
                self._broken = True
                if self.reconnect:
                    conn.close()
                    self._conn = None
                raise


def create_app(*, reconnect: bool = True, honour_ttl: bool = True) -> Flask:
    app = Flask("orders")
    ddb = boto3.client("dynamodb")
    table = os.environ["DRTEST_TABLE"]
    db = Database(reconnect=reconnect, honour_ttl=honour_ttl) if os.environ.get("DRTEST_DB_NAME") else None
    if db is not None:
        try:
            db.run("SELECT 1", ())  # a pool warmed up at start: the name is resolved (and cached) now
        except Exception:  # noqa: BLE001, S110 - not fatal: the first request tries again
            pass

    @app.put("/drtest/items/<path:key>")
    def put(key: str) -> Response:
        payload = request.get_data(as_text=True)
        try:
            ddb.put_item(TableName=table, Item={"pk": {"S": key}, "payload": {"S": payload}})
            if db is not None:
                db.run(f"INSERT INTO {db.table} (pk, payload, written_at) VALUES (%s, %s, %s) "
                       "ON CONFLICT (pk) DO UPDATE SET payload = EXCLUDED.payload", (key, payload, time.time()))
        except Exception as exc:  # noqa: BLE001 - any failure is a 503 to the caller
            return Response(f"unavailable: {type(exc).__name__}: {exc}", status=503)
        return Response("ok", status=200)

    @app.get("/drtest/items/<path:key>")
    def get(key: str) -> Response:
        try:
            item = ddb.get_item(TableName=table, Key={"pk": {"S": key}}, ConsistentRead=True).get("Item")
            value = (item or {}).get("payload", {}).get("S")
            if db is not None and value is not None:
                rows = db.run(f"SELECT payload FROM {db.table} WHERE pk = %s", (key,))
                value = value if rows and rows[0][0] == value else None
        except Exception as exc:  # noqa: BLE001
            return Response(f"unavailable: {type(exc).__name__}: {exc}", status=503)
        return Response(value, status=200) if value is not None else Response("absent", status=404)

    @app.post("/drtest/items:read")
    def read_many() -> Response:
        keys = (request.get_json(silent=True) or {}).get("keys")
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            return Response('expected {"keys": [strings]}', status=400)
        found: dict[str, str | None] = dict.fromkeys(keys)
        try:
            for start in range(0, len(keys), 100):  # BatchGetItem takes 100 keys
                pending = {table: {"Keys": [{"pk": {"S": k}} for k in keys[start:start + 100]], "ConsistentRead": True}}
                while pending:
                    answer = ddb.batch_get_item(RequestItems=pending)
                    for item in answer["Responses"].get(table, []):
                        found[item["pk"]["S"]] = item.get("payload", {}).get("S")
                    pending = answer.get("UnprocessedKeys") or {}
            if db is not None:
                rows = dict(db.run(f"SELECT pk, payload FROM {db.table} WHERE pk = ANY(%s)", (keys,)))
                found = {k: (v if v is not None and rows.get(k) == v else None) for k, v in found.items()}
        except Exception as exc:  # noqa: BLE001
            return Response(f"unavailable: {type(exc).__name__}: {exc}", status=503)
        return jsonify(items=found)

    return app


app = create_app()
sticky_app = create_app(reconnect=False)
dns_forever_app = create_app(honour_ttl=False)
