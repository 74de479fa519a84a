"""Streaming replication topologies: a Multi-AZ pair (synchronous standby) and lagged async replicas.

A standby is a ``pg_basebackup`` of its primary with ``standby.signal`` and a ``primary_conninfo``
written by us (not ``-R``): the primary's ``synchronous_standby_names`` and archive settings never
reach it, and ``postgresql.auto.conf`` is scrubbed of them (a promoted node that inherited them
would hang on its first write). Each standby archives into its own folder once promoted.
"""
from __future__ import annotations

import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any

from pytest_drtest.dataplane import activity
from pytest_drtest.dataplane.postgres import HOST, PostgresServer, parse_lsn
from pytest_drtest.dataplane.proxy import CutReport, LagProxy
from pytest_drtest.dataplane.runtime import DataPlaneError, run

if TYPE_CHECKING:
    import psycopg

    from pytest_drtest.dataplane.plane import DataPlane

log = logging.getLogger("pytest_drtest.dataplane")

#: Settings a copied data folder must not keep from its source (``postgresql.auto.conf``).
INHERITED_SETTINGS_TO_DROP = (
    "synchronous_standby_names", "archive_mode", "archive_command", "archive_library", "primary_conninfo",
    "primary_slot_name", "restore_command", "recovery_target", "recovery_target_time", "recovery_target_lsn",
    "recovery_target_xid", "recovery_target_name", "recovery_target_action", "recovery_target_inclusive",
    "port", "cluster_name",
)
#: Files of a copied data folder that would make it start as something it is not.
SIGNAL_FILES = ("standby.signal", "recovery.signal", "postmaster.pid", "postmaster.opts")


def scrub_copied_folder(server: PostgresServer) -> None:
    """Remove signal files and inherited replication/archive settings from a copied data folder."""
    for name in SIGNAL_FILES:
        (server.data_dir / name).unlink(missing_ok=True)
    auto = server.data_dir / "postgresql.auto.conf"
    if auto.exists():
        kept = [
            line for line in auto.read_text().splitlines()
            if line.split("=", 1)[0].strip().lower() not in INHERITED_SETTINGS_TO_DROP
        ]
        auto.write_text("\n".join(kept) + "\n")
        server.runtime.user.own(auto)


def base_backup(source: PostgresServer, target_data: Any, *, timeout: float = 600.0) -> None:
    """``pg_basebackup`` of ``source`` into the (absent or empty) folder ``target_data``."""
    runtime = source.runtime
    target_data.mkdir(mode=0o700, exist_ok=True)
    runtime.user.own(target_data)
    run(
        [runtime.binaries["pg_basebackup"], "-D", target_data, "-h", HOST, "-p", str(source.port), "-U", "postgres",
         "-X", "stream", "-c", "fast", "--no-sync", "--no-manifest", "-w"],
        user=runtime.user, timeout=timeout, what=f"base backup of {source.name}",
        env={"PGPASSWORD": runtime.superuser_password},
    )


def start_standby(server: PostgresServer, *, upstream_port: int, settings: dict[str, object] | None = None) -> None:
    """Turn a freshly backed-up data folder into a streaming standby of ``upstream_port`` and start it."""
    scrub_copied_folder(server)
    server.settings.update(settings or {})
    server.settings["primary_conninfo"] = (
        f"host={HOST} port={upstream_port} user=postgres password={server.runtime.superuser_password} "
        f"application_name={server.name} sslmode=disable gssencmode=disable"
    )
    server.touch("standby.signal")
    server.start()


def wait_until(predicate: Any, *, timeout: float, what: str, delay: float = 0.005) -> None:
    """Poll ``predicate()`` (real time) until true; raise :class:`DataPlaneError` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise DataPlaneError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(delay)
        delay = min(delay * 1.5, 0.05)


def replication_state(primary: PostgresServer, standby_name: str) -> tuple[str | None, str | None]:
    """(state, sync_state) of ``standby_name`` in the primary's ``pg_stat_replication``."""
    rows = primary.query(
        "SELECT state, sync_state FROM pg_stat_replication WHERE application_name = %s", (standby_name,)
    )
    return (rows[0][0], rows[0][1]) if rows else (None, None)


class MultiAZ:
    """A primary and its synchronous standby in another (modeled) AZ: RDS Multi-AZ.

    Every commit acknowledged by the primary is flushed on the standby first, so a failover loses
    no acknowledged write.
    """

    def __init__(self, plane: DataPlane, primary: PostgresServer, standby: PostgresServer | None) -> None:
        self.plane = plane
        self.primary = primary
        self.standby = standby
        self.failed: list[PostgresServer] = []

    def failover(self) -> float:
        """Stop the primary immediately and promote the standby; returns the seconds it took.

        Async replicas of the old primary follow the new one.
        """
        if self.standby is None:
            raise DataPlaneError(f"{self.primary.name} has no standby to fail over to")
        started = time.perf_counter()
        old, new = self.primary, self.standby
        old.stop("immediate")
        new.promote()
        self.primary, self.standby = new, None
        self.failed.append(old)
        self.plane.retarget_replicas(old, new)
        return time.perf_counter() - started

    def lose_standby(self) -> None:
        """The standby's AZ is gone: kill it and let the primary commit alone (no sync wait)."""
        if self.standby is None:
            return
        self.standby.kill()
        self.failed.append(self.standby)
        self.standby = None
        self.primary.configure(synchronous_standby_names=None)

    def replace_standby(self, name: str | None = None) -> PostgresServer:
        """Give the current primary a new synchronous standby (after a failover); removes failed nodes."""
        for server in self.failed:
            self.plane.remove(server)
        self.failed.clear()
        self.standby = self.plane.add_sync_standby(self.primary, name)
        return self.standby

    def servers(self) -> list[PostgresServer]:
        return [s for s in (self.primary, self.standby, *self.failed) if s is not None]

    def __repr__(self) -> str:
        return f"MultiAZ(primary={self.primary!r}, standby={self.standby!r})"


class AsyncReplica:
    """An asynchronous streaming replica whose stream passes a :class:`LagProxy` (lag in clock time)."""

    def __init__(self, plane: DataPlane, server: PostgresServer, source: PostgresServer, proxy: LagProxy) -> None:
        self.plane = plane
        self.server = server
        self.source = source
        self.proxy = proxy
        self.promoted = False
        self._source_conn: psycopg.Connection[Any] | None = None
        self._captured_at: int | None = None  # activity generation of the last complete capture
        self._primed = False  # whether the stream (since it last (re)connected) has carried WAL

    @property
    def lag(self) -> float:
        return self.proxy.lag

    @lag.setter
    def lag(self, seconds: float) -> None:
        self.proxy.lag = float(seconds)

    @property
    def paused(self) -> bool:
        """While True the link holds the whole stream (replication paused), whatever the lag."""
        return self.proxy.paused

    @paused.setter
    def paused(self, value: bool) -> None:
        self.proxy.paused = bool(value)

    def capture(self, *, timeout: float = 2.0) -> bool:
        """Make sure the WAL the source has flushed so far reached the proxy (and got today's tag).

        Called before the clock moves, so that a commit acknowledged at clock time ``t`` is tagged
        ``t`` and not with the later time the proxy thread might otherwise read.
        """
        if self.promoted or self.proxy.cut_report is not None or not self.source.running:
            return False
        if not self.proxy.streaming:
            return False
        mark = activity.generation()
        if mark is not None and mark == self._captured_at:
            return True  # no client wrote to a server since the last look: nothing new to tag
        try:
            if self._source_conn is None or self._source_conn.closed:
                self._source_conn = self.source.connect(connect_timeout=2, track=False)
            flushed = parse_lsn(self._source_conn.execute("SELECT pg_current_wal_flush_lsn()").fetchone()[0])  # type: ignore[index]
            if not self._primed and self.proxy.received_lsn < flushed:
                # A stream that has just (re)started has nothing to send until the source writes, and
                # the wait below would idle out on every clock move: one commit (as RDS and Aurora's
                # own heartbeat writes) makes the walsender send, and received_lsn follows from then on.
                self._source_conn.execute("SELECT pg_current_xact_id()")
                flushed = parse_lsn(self._source_conn.execute("SELECT pg_current_wal_flush_lsn()").fetchone()[0])  # type: ignore[index]
                self._primed = True
        except Exception:  # noqa: BLE001 - any failure of the source: reconnect on the next try
            self._drop_source_conn()
            return False
        received = self.proxy.wait_received(flushed, timeout=timeout)
        if received:
            self._captured_at = mark
        return received

    def settle(self, *, timeout: float = 10.0) -> None:
        """Wait until the replica has received (and flushed) every byte the proxy released to it."""
        target = self.proxy.released_lsn
        if not target:
            return
        wait_until(
            lambda: parse_lsn(self.server.query("SELECT pg_last_wal_receive_lsn()")[0][0]) >= target,
            timeout=timeout, what=f"{self.server.name} to receive the released WAL",
        )

    def wait_applied(self, *, timeout: float = 10.0) -> None:
        """Wait until the replica has replayed everything released to it (its reads show it)."""
        self.proxy.release_due()
        target = self.proxy.released_lsn
        if not target:
            return
        wait_until(
            lambda: parse_lsn(self.server.query("SELECT pg_last_wal_replay_lsn()")[0][0]) >= target,
            timeout=timeout, what=f"{self.server.name} to replay the released WAL",
        )

    def cut(self) -> CutReport:
        """Lose the link (region outage): what is due arrives, what is still held is lost."""
        self.proxy.release_due()
        with contextlib.suppress(DataPlaneError, Exception):
            if self.server.running:
                self.settle(timeout=5.0)
        self._drop_source_conn()
        return self.proxy.cut()

    def follow(self, source: PostgresServer) -> None:
        """Replicate from a new source (e.g. after the source's Multi-AZ failover)."""
        self._drop_source_conn()
        self.source = source
        self._primed = False
        self.proxy.retarget(source.port)

    def promote(self) -> float:
        """Promote the replica to a standalone primary; returns the seconds ``pg_promote`` took.

        WAL already released to the replica is received first; what the proxy still holds stays
        behind (it would arrive later, but the replica no longer listens).
        """
        if self.proxy.cut_report is None:
            self.proxy.release_due()
            self.settle()
        self.promoted = True
        self._drop_source_conn()
        self.proxy.close()
        return self.server.promote()

    def close(self) -> None:
        self._drop_source_conn()
        self.proxy.close()

    def _drop_source_conn(self) -> None:
        conn, self._source_conn = self._source_conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()

    def __repr__(self) -> str:
        return f"AsyncReplica({self.server.name!r} of {self.source.name!r}, lag={self.lag:g})"
