"""The relational store of the application path: the ledger table behind an RDS/Aurora endpoint."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_drtest.topology.model import Topology


class SqlUnavailable(Exception):
    """The database did not take the statement (refused, broken connection, read-only...)."""


class SqlStore:
    """Keeps one connection per endpoint, reconnecting after a failure as an application would."""

    def __init__(self, topology: Topology) -> None:
        assert topology.blueprint.database is not None
        self.topology = topology
        self.table = topology.blueprint.database.table
        self._connections: dict[tuple[str, str, bool], Any] = {}

    def _connection(self, target: dict[str, Any]) -> Any:
        from pytest_drtest.topology.build import db_connect

        key = (target["region"], target["id"], bool(target.get("reader")))
        conn = self._connections.get(key)
        if conn is None or conn.closed:
            try:
                conn = db_connect(self.topology, target, timeout=2)
            except Exception as exc:  # noqa: BLE001 - psycopg.OperationalError and friends
                raise SqlUnavailable(f"connect to {target['id']}: {str(exc).strip().splitlines()[0] if str(exc) else exc!r}") from None
            self._connections[key] = conn
        return conn

    def _run(self, target: dict[str, Any], sql: str, params: Any) -> list[tuple[Any, ...]]:
        conn = self._connection(target)
        try:
            cursor = conn.execute(sql, params)
            return cursor.fetchall() if cursor.description else []
        except Exception as exc:  # noqa: BLE001
            if conn.closed or conn.broken:  # connection-level failure: reconnect next time
                self._connections.pop((target["region"], target["id"], bool(target.get("reader"))), None)
                try:
                    conn.close()
                except Exception:  # noqa: BLE001, S110
                    pass
            raise SqlUnavailable(f"{target['id']}: {str(exc).strip().splitlines()[0] if str(exc) else exc!r}") from None

    def write(self, target: dict[str, Any], key: str, payload: str, t: float) -> None:
        self._run(
            target,
            f"INSERT INTO {self.table} (pk, payload, written_at) VALUES (%s, %s, %s) "
            "ON CONFLICT (pk) DO UPDATE SET payload = EXCLUDED.payload, written_at = EXCLUDED.written_at",
            (key, payload, t),
        )

    def read(self, target: dict[str, Any], key: str) -> str | None:
        rows = self._run(target, f"SELECT payload FROM {self.table} WHERE pk = %s", (key,))
        return rows[0][0] if rows else None

    def read_all(self, target: dict[str, Any], keys: list[str]) -> dict[str, str]:
        rows = self._run(target, f"SELECT pk, payload FROM {self.table} WHERE pk = ANY(%s)", (keys,))
        return {pk: payload for pk, payload in rows}

    def close(self) -> None:
        for conn in self._connections.values():
            try:
                conn.close()
            except Exception:  # noqa: BLE001, S110
                pass
        self._connections.clear()
