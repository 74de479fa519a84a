"""What both RDS emulators do on the PostgreSQL data plane: master users and endpoint switches."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pytest_drtest.dataplane import EndpointProxy, PostgresServer

#: Every endpoint is a port on loopback: libpq resolves host names itself, so AWS-shaped names
#: served only by the emulation would not connect.
LOCALHOST = "127.0.0.1"


def create_master(server: PostgresServer, user: str, password: str | None, dbname: str) -> None:
    """The master role (login, superuser, the call's password) and database of a new instance.

    RDS makes the master user a member of ``rds_superuser``; a superuser is the closest here.
    """
    from psycopg import sql

    with server.connect() as conn:
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (user,)).fetchone()
        conn.execute(sql.SQL("{} ROLE {} WITH LOGIN SUPERUSER PASSWORD {}").format(
            sql.SQL("ALTER" if exists else "CREATE"), sql.Identifier(user), sql.Literal(password)))
        if dbname != "postgres":
            conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(dbname), sql.Identifier(user)))


def switch_endpoint(proxy: EndpointProxy, port: int | None) -> None:
    """Retarget an endpoint only when its target changes (a switch drops open connections)."""
    if proxy.target_port != port:
        proxy.switch(port)
