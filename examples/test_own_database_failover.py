"""Example: Chaos Toolkit's RDS experiment as a DR test — on the team's own database, no topology.

The team's Multi-AZ PostgreSQL instance (created here with ``dr.client``, as its own IaC would), its
own probe path (a row per probe write, read back, through the endpoint the RDS API reports), a
reboot with failover, and RTO and RPO asserted. Nothing of the shipped topology is built.

Run it with ``pytest examples/test_own_database_failover.py``; it is also part of the suite, and
``benchmarks/run.py`` times it as one whole ``pytest`` process.
"""
from __future__ import annotations

from typing import Any

import psycopg
import pytest

from pytest_drtest import faults
from pytest_drtest.harness import Harness
from pytest_drtest.probes import AppUnavailable

DATABASE = "orders-db"
USER, PASSWORD, NAME = "orders", "orders-secret-1", "orders"


class OrdersDatabase:
    """The team's path to its data: one connection, opened again after a failure (as a service's
    pool would); any database error is the path being unavailable."""

    def __init__(self, endpoint: dict[str, Any], region: str) -> None:
        self.dsn = {"host": endpoint["Address"], "port": endpoint["Port"], "user": USER, "password": PASSWORD,
                    "dbname": NAME, "connect_timeout": 2, "autocommit": True}
        self.region = region
        self.conn: psycopg.Connection[Any] | None = None

    def _rows(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        try:
            if self.conn is None:
                self.conn = psycopg.connect(**self.dsn)
            cursor = self.conn.execute(sql, args)
            return cursor.fetchall() if cursor.description else []
        except psycopg.Error as exc:
            self.close()
            raise AppUnavailable(f"{type(exc).__name__}: {exc}") from exc

    def create_table(self) -> None:
        self._rows("CREATE TABLE IF NOT EXISTS probes (key text PRIMARY KEY, payload text NOT NULL)")

    # the probe protocol (docs/probes.md, "Your own application path")
    def put(self, key: str, payload: str) -> str:
        self._rows("INSERT INTO probes VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET payload = EXCLUDED.payload",
                   (key, payload))
        return self.region

    def get(self, key: str) -> tuple[str, str | None]:
        rows = self._rows("SELECT payload FROM probes WHERE key = %s", (key,))
        return self.region, rows[0][0] if rows else None

    def read_all(self, keys: list[str]) -> tuple[str, dict[str, str | None]]:
        found = dict(self._rows("SELECT key, payload FROM probes WHERE key = ANY(%s)", (list(keys),)))
        return self.region, {key: found.get(key) for key in keys}

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


@pytest.mark.dr(rto="5m", rpo="0s")
def test_a_multi_az_failover_of_our_own_database_meets_its_objectives(dr: Harness) -> None:
    rds = dr.client("rds")
    rds.create_db_instance(DBInstanceIdentifier=DATABASE, Engine="postgres", DBInstanceClass="db.r6g.large",
                           AllocatedStorage=20, MultiAZ=True, DBName=NAME, MasterUsername=USER,
                           MasterUserPassword=PASSWORD)
    rds.get_waiter("db_instance_available").wait(DBInstanceIdentifier=DATABASE)
    before = rds.describe_db_instances(DBInstanceIdentifier=DATABASE)["DBInstances"][0]
    path = OrdersDatabase(before["Endpoint"], dr.regions[0])
    path.create_table()
    with dr.probe(path=path, interval="1s") as probe:
        dr.clock.sleep("1m")
        dr.inject(faults.RebootDatabase(failover=True, database=DATABASE))
        assert probe.wait_recovered(within="30m")
        result = probe.result()
    dr.assert_objectives(result)  # RTO within 5 minutes, no acknowledged write lost
    assert result.rto_s is not None and result.rto_s > 0  # the failover did interrupt the path
    after = rds.describe_db_instances(DBInstanceIdentifier=DATABASE)["DBInstances"][0]
    assert after["AvailabilityZone"] == before["SecondaryAvailabilityZone"]  # the standby's AZ took over
