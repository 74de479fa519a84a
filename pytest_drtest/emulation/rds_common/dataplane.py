"""What both RDS emulators do on the PostgreSQL data plane: master users and endpoint switches."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_drtest.dataplane import EndpointProxy, PostgresServer

#: Without an address plan (an emulation assembled outside the harness), endpoints are ports on
#: 127.0.0.1: libpq resolves host names itself, so AWS-shaped names would not connect.
LOCALHOST = "127.0.0.1"
#: The port RDS and Aurora PostgreSQL endpoints answer on by default (RDS user guide, "Connecting
#: to a DB instance running the PostgreSQL database engine").
DB_PORT = 5432


def endpoint_address(emulation: Any, region: str, name: str, port: int = DB_PORT) -> tuple[str, int]:
    """Where the endpoint ``name`` (its AWS-shaped DNS name) listens: its own loopback address of the
    run's address plan and ``port`` (PostgreSQL's 5432 unless told), as describe calls report it;
    without a plan, 127.0.0.1 and a free port."""
    plan = getattr(emulation, "addresses", None)
    if plan is None:
        return LOCALHOST, 0
    return plan.allocate(region, name), port


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


def set_master_password(server: PostgresServer, user: str, password: str) -> None:
    """``ALTER ROLE ... PASSWORD`` on the writer: new logins need the new password; standbys and
    replicas get the change through replication, as on RDS. Open sessions stay open (PostgreSQL
    checks a password only when a session starts)."""
    from psycopg import sql

    with server.connect() as conn:
        conn.execute(sql.SQL("ALTER ROLE {} WITH PASSWORD {}").format(sql.Identifier(user), sql.Literal(password)))


def password_at(current: str | None, changes: list[tuple[float, str | None]], when: float) -> str | None:
    """The master password a point-in-time restore to ``when`` holds: the data of that time keeps the
    role's password of that time (as an RDS restore keeps the master user and password of its
    source). ``changes`` lists ``(clock time, password before the change)``, oldest first."""
    password = current
    for changed_at, before in reversed(changes):
        if changed_at > when:
            password = before
    return password


def switch_endpoint(proxy: EndpointProxy, port: int | None) -> None:
    """Retarget an endpoint only when its target changes (a switch drops open connections)."""
    if proxy.target_port != port:
        proxy.switch(port)
