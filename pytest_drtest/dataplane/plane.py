"""The registry of one run's PostgreSQL data plane: servers, replicas, proxies, snapshots, folders.

Usage::

    with DataPlane(clock) as plane:
        pair = plane.multi_az("orders")                     # primary + synchronous standby
        dr = plane.add_replica(pair.primary, "orders-dr", lag=1.0)   # lag in clock seconds
        snap = plane.snapshot(pair.primary)
        ...
        restored = plane.restore_to_time(pair.primary, clock.now() - 300)

PITR and clock time: :class:`~pytest_drtest.dataplane.timeline.ClockTimeline` records the wall time
at which the clock leaves each value, and :meth:`DataPlane.restore_to_time` replays the archive up to
the moment the clock left ``T`` (``recovery_target_time``): exactly the commits acknowledged at clock
times ``<= T``. Writes must come from the thread that moves the clock (or be done before it moves).
"""
from __future__ import annotations

import atexit
import contextlib
import datetime as _dt
import logging
import os
import re
import shutil
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Self

from pytest_drtest.clock import Clock, RealClock
from pytest_drtest.dataplane.postgres import (
    PostgresServer,
    Snapshot,
    clone_template,
    ensure_template,
)
from pytest_drtest.dataplane.proxy import EndpointProxy, LagProxy
from pytest_drtest.dataplane.replication import (
    AsyncReplica,
    MultiAZ,
    base_backup,
    replication_state,
    scrub_copied_folder,
    start_standby,
    wait_until,
)
from pytest_drtest.dataplane.runtime import DataPlaneError, Runtime, copy_tree
from pytest_drtest.dataplane.timeline import ClockTimeline, on_advance

log = logging.getLogger("pytest_drtest.dataplane")

#: The first major whose ``restore_command`` a reload changes (PostgreSQL 14 release notes: "Allow
#: the restore_command setting to be changed during a server reload")
RELOADABLE_RESTORE_COMMAND = 14
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
_RECOVERY_SETTINGS = ("restore_command", "recovery_target_time", "recovery_target_action", "recovery_target_inclusive")
_TARGET_NOT_REACHED = "recovery ended before configured recovery target was reached"


class DataPlane:
    """Real PostgreSQL servers for one run; :meth:`close` (also at exit) stops and removes everything.

    ``clock`` is the run's clock (default: a :class:`~pytest_drtest.clock.RealClock`); on a modeled
    clock the data plane follows its moves to tag replication lag and to map PITR targets.
    Raises :class:`~pytest_drtest.dataplane.runtime.DataPlaneUnavailable` when PostgreSQL cannot run.
    """

    def __init__(self, clock: Clock | None = None, *, bin_dir: Path | str | None = None) -> None:
        self.runtime = Runtime.get(bin_dir)
        self.clock = clock if clock is not None else RealClock()
        self.folder = self.runtime.new_folder("plane")
        self.servers: dict[str, PostgresServer] = {}
        self.replicas: list[AsyncReplica] = []
        self.endpoints: list[EndpointProxy] = []
        self.snapshots: list[Snapshot] = []
        self.closed = False
        self._finished = False
        self.timeline = ClockTimeline(self.clock)
        self._unhook: Callable[[], None] | None = None
        if self.clock.modeled:  # a real clock needs neither capture nor release: time passes anyway
            # after the move, each replica's LagProxy releases what became due (its own listener)
            self._unhook = on_advance(self.clock, before=self._before_advance)
        self._counter = 0
        atexit.register(self.close)

    @staticmethod
    def check(bin_dir: Path | str | None = None) -> None:
        """Raise :class:`DataPlaneUnavailable` (saying what to install) unless PostgreSQL can run here."""
        Runtime.get(bin_dir)

    # -- servers -----------------------------------------------------------------------------------
    def _new_server(self, name: str | None, prefix: str, settings: dict[str, object] | None = None) -> PostgresServer:
        if self.closed:
            raise DataPlaneError("the data plane is closed")
        if name is None:
            self._counter += 1
            name = f"{prefix}{self._counter}"
            while name in self.servers:
                self._counter += 1
                name = f"{prefix}{self._counter}"
        if not _NAME.match(name):
            raise ValueError(f"server name {name!r}: use letters, digits, '_', '.', '-' (at most 63)")
        if name in self.servers:
            raise ValueError(f"a server named {name!r} already exists")
        folder = self.folder / name
        folder.mkdir(mode=0o755)
        server = PostgresServer(self.runtime, name, folder, settings=settings)
        # Archives outlive their servers (PITR after the instance is gone, or after a failover).
        (self.folder / "archive").mkdir(mode=0o755, exist_ok=True)
        server.archive_dir = self.folder / "archive" / name
        server.prepare_folders()
        self.servers[name] = server
        return server

    def create_server(self, name: str | None = None, *, settings: dict[str, object] | None = None) -> PostgresServer:
        """A new empty primary (a clone of the template), started."""
        template = ensure_template(self.runtime)
        server = self._new_server(name, "pg", settings)
        clone_template(self.runtime, server)
        # The clone is its own PITR base: a cleanly shut down cluster plus this server's archive.
        server.base = Snapshot(f"{server.name}-created", template, server.name, wall_time=time.time(),
                               clock_time=self.clock.now())
        server.template_lineage = True
        server.start()
        return server

    def _seed_standby(self, source: PostgresServer, standby: PostgresServer) -> dict[str, object]:
        """Fill the new standby's data folder; return the settings it needs for it.

        A source cloned from the template and never promoted writes WAL that continues the
        template's, so the standby is another clone of the template: it replays from the template's
        checkpoint what the source archived (``restore_command``, until it streams: then
        :meth:`_streaming` drops it, so that a cut link is never bridged through the archive) and
        streams the rest — a folder copy instead of a ``pg_basebackup`` (which also makes the source
        take a checkpoint). Any other source (a promoted standby, a restored server), or a PostgreSQL
        before 14 (``restore_command`` is reloadable since), gets a ``pg_basebackup``."""
        if source.template_lineage and self.runtime.binaries.major >= RELOADABLE_RESTORE_COMMAND:
            clone_template(self.runtime, standby)
            return {"restore_command": f'cp "{source.archive_dir}/%f" "%p"'}
        base_backup(source, standby.data_dir)
        return {}

    @staticmethod
    def _streaming(standby: PostgresServer) -> None:
        """A standby seeded from the template streams now: it reads no more from the source's archive."""
        if "restore_command" in standby.settings:
            standby.configure(restore_command=None)

    def add_sync_standby(self, primary: PostgresServer, name: str | None = None) -> PostgresServer:
        """A synchronous standby of ``primary`` (``synchronous_standby_names`` names it); started and in sync."""
        standby = self._new_server(name or self._derived_name(primary, "standby"), "standby")
        # One instance, one backup lineage: the standby archives every segment it receives into the
        # primary's archive (a segment the primary had no time to archive before dying is not lost),
        # and it shares the primary's PITR bases, so PITR works across a failover.
        standby.archive_dir = primary.archive_dir
        standby.base, standby.backups = primary.base, primary.backups
        seeded = self._seed_standby(primary, standby)
        start_standby(standby, upstream_port=primary.port, settings={"archive_mode": "always", **seeded})
        wait_until(lambda: replication_state(primary, standby.name)[0] == "streaming", timeout=30,
                   what=f"{standby.name} to stream from {primary.name}")
        self._streaming(standby)
        primary.configure(synchronous_standby_names=f'"{standby.name}"')
        wait_until(lambda: replication_state(primary, standby.name)[1] == "sync", timeout=30,
                   what=f"{standby.name} to become synchronous")
        return standby

    def multi_az(self, name: str | None = None) -> MultiAZ:
        """A new primary with a synchronous standby (RDS Multi-AZ instance)."""
        primary = self.create_server(name)
        return MultiAZ(self, primary, self.add_sync_standby(primary))

    def add_replica(self, source: PostgresServer, name: str | None = None, *, lag: float = 0.0) -> AsyncReplica:
        """An async streaming replica of ``source`` behind a :class:`LagProxy` holding ``lag`` clock seconds."""
        server = self._new_server(name or self._derived_name(source, "replica"), "replica")
        proxy = LagProxy(source.port, clock=self.clock, lag=lag, name=f"{server.name}-link")
        replica = AsyncReplica(self, server, source, proxy)
        self.replicas.append(replica)
        seeded = self._seed_standby(source, server)
        # No receiver timeout: a held stream is silent for as long as the clock does not move.
        start_standby(server, upstream_port=proxy.port, settings={"wal_receiver_timeout": 0, **seeded})
        # Ready means streaming: WAL written from now on is tagged when the primary sends it.
        wait_until(lambda: proxy.streaming, timeout=30, what=f"{server.name} to stream from {source.name}")
        self._streaming(server)
        return replica

    def retarget_replicas(self, old: PostgresServer, new: PostgresServer) -> None:
        """Point every async replica of ``old`` at ``new`` (after a failover)."""
        for replica in self.replicas:
            if replica.source is old and not replica.promoted:
                replica.follow(new)

    def endpoint(
        self, target: PostgresServer | None = None, *, name: str = "endpoint", host: str = "127.0.0.1", port: int = 0
    ) -> EndpointProxy:
        """A stable loopback address forwarding to ``target`` (``host:port``, default 127.0.0.1 and
        a free port); ``switch(server.port)`` moves it."""
        proxy = EndpointProxy(target.port if target is not None else None, name=name, host=host, port=port)
        self.endpoints.append(proxy)
        return proxy

    def remove(self, server: PostgresServer) -> None:
        """Kill ``server``, close its replication link and delete its folder."""
        for replica in [r for r in self.replicas if r.server is server]:
            replica.close()
            self.replicas.remove(replica)
        server.remove()
        self.servers.pop(server.name, None)

    # -- snapshots and restores ------------------------------------------------------------------
    def snapshot(self, server: PostgresServer, name: str | None = None) -> Snapshot:
        """A base backup of ``server`` (RDS snapshot); also a PITR base for it from now on."""
        name = name or f"{server.name}-snap{len(server.backups) + 1}"
        if not _NAME.match(name) or any(s.name == name for s in self.snapshots):
            raise ValueError(f"snapshot name {name!r} is invalid or taken")
        folder = self.folder / "snapshots" / name
        folder.parent.mkdir(mode=0o755, exist_ok=True)
        folder.mkdir(mode=0o755)
        base_backup(server, folder / "data")
        lsn = 0
        with contextlib.suppress(Exception):
            lsn = server.wal_lsn()
        snap = Snapshot(name, folder / "data", server.name, wall_time=time.time(), clock_time=self.clock.now(), lsn=lsn)
        server.backups.append(snap)
        self.snapshots.append(snap)
        return snap

    def delete_snapshot(self, snapshot: Snapshot) -> None:
        """Delete a snapshot's folder (PITR of servers restored from it can then no longer start from it)."""
        for server in self.servers.values():
            if snapshot in server.backups:
                server.backups.remove(snapshot)
        if snapshot in self.snapshots:
            self.snapshots.remove(snapshot)
        shutil.rmtree(snapshot.path.parent, ignore_errors=True)

    def restore_snapshot(self, snapshot: Snapshot, name: str | None = None) -> PostgresServer:
        """A NEW server holding exactly the snapshot's data."""
        server = self._new_server(name, "restored")
        copy_tree(snapshot.path, server.data_dir, user=self.runtime.user)
        os.chmod(server.data_dir, 0o700)
        scrub_copied_folder(server)
        server.base = Snapshot(f"{server.name}-created", snapshot.path, server.name, wall_time=time.time(),
                               clock_time=self.clock.now())
        server.start()
        return server

    def restore_to_time(self, source: PostgresServer, target_time: float, name: str | None = None) -> PostgresServer:
        """A NEW server holding exactly what ``source`` had committed at clock time ``target_time``.

        Base: the latest snapshot (or the server's creation) before the target; then ``source``'s WAL
        archive is replayed up to the wall time at which the clock left ``target_time``
        (``recovery_target_time``, ``recovery_target_action='promote'``). A running source first
        commits once more and switches WAL, so the archive holds a commit past the target. When the
        archive ends before the target (a dead source), the restore replays all of it.
        """
        wall = self.timeline.wall_time_of(target_time)
        if source.running:
            if source.in_recovery():
                raise DataPlaneError(f"{source.name} is a standby: restore from its primary (or promote it first)")
            self._archive_up_to_now(source)
        bases = [b for b in (source.base, *source.backups) if b is not None and b.wall_time <= wall]
        if not bases:
            raise DataPlaneError(
                f"no base backup of {source.name} before clock time {target_time:g}: take a snapshot first"
            )
        base = max(bases, key=lambda b: b.wall_time)
        server = self._new_server(name, "pitr")
        target = _dt.datetime.fromtimestamp(wall, _dt.UTC).isoformat()
        recovery: dict[str, object] = {
            "restore_command": f'cp "{source.archive_dir}/%f" "%p"',
            "recovery_target_time": target,
            "recovery_target_action": "promote",
            "recovery_target_inclusive": "on",
        }
        try:
            self._recover(server, base, recovery)
        except DataPlaneError as exc:
            if _TARGET_NOT_REACHED not in str(exc):
                raise
            log.warning("%s: archive of %s ends before %s: restoring all of it", server.name, source.name, target)
            recovery = {key: value for key, value in recovery.items() if key == "restore_command"}
            self._recover(server, base, recovery)
        for key in _RECOVERY_SETTINGS:
            server.settings.pop(key, None)
        server.write_conf()
        return server

    def _recover(self, server: PostgresServer, base: Snapshot, recovery: Mapping[str, object]) -> None:
        server.kill()
        shutil.rmtree(server.data_dir, ignore_errors=True)
        copy_tree(base.path, server.data_dir, user=self.runtime.user)
        os.chmod(server.data_dir, 0o700)
        scrub_copied_folder(server)
        for key in _RECOVERY_SETTINGS:
            server.settings.pop(key, None)
        server.settings.update(recovery)
        server.touch("recovery.signal")
        server.start(timeout=600)
        server.wait_primary(timeout=600)

    @staticmethod
    def _archive_up_to_now(source: PostgresServer, *, timeout: float = 30.0) -> None:
        with source.connect() as conn:
            conn.execute("SET synchronous_commit = local")  # never wait for a standby that may be gone
            conn.execute("SELECT pg_current_xact_id()")  # a commit stamped after any target in the past
            segment = conn.execute("SELECT pg_walfile_name(pg_switch_wal())").fetchone()[0]  # type: ignore[index]
        wait_until(lambda: (source.archive_dir / segment).exists(), timeout=timeout,
                   what=f"{source.name} to archive {segment}")

    # -- clock -----------------------------------------------------------------------------------
    def _before_advance(self, old: float, new: float) -> None:
        for replica in list(self.replicas):
            if replica.lag > 0 and not replica.proxy.paused:
                replica.capture()

    # -- lifetime --------------------------------------------------------------------------------
    def close(self) -> None:
        """Stop every server and proxy and remove every folder.

        Idempotent, and safe to call again after an interruption (it stays registered with
        ``atexit`` until it has finished).
        """
        if self._finished:
            return
        self.closed = True  # no new servers from here on
        if self._unhook is not None:
            self._unhook()
        self.timeline.close()
        for replica in self.replicas:
            with contextlib.suppress(Exception):
                replica.close()
        for endpoint in self.endpoints:
            with contextlib.suppress(Exception):
                endpoint.close()
        for server in list(self.servers.values()):
            with contextlib.suppress(Exception):
                server.kill()
        shutil.rmtree(self.folder, ignore_errors=True)
        self._finished = True
        atexit.unregister(self.close)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _derived_name(self, source: PostgresServer, role: str) -> str:
        name = f"{source.name}-{role}"
        counter = 1
        while name in self.servers:
            counter += 1
            name = f"{source.name}-{role}{counter}"
        return name

    def __repr__(self) -> str:
        return f"DataPlane(servers={sorted(self.servers)}, replicas={len(self.replicas)}, closed={self.closed})"

