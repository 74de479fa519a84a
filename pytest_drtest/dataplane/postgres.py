"""One real PostgreSQL server, cloned from a per-process initdb template.

Every server listens on 127.0.0.1 only (no Unix socket: ``unix_socket_directories=''``), archives
its WAL into its own folder (needed for PITR) and runs as the runtime's unprivileged user. The
postmaster is our child process, so stop, kill and reaping never depend on ``pg_ctl``.

Settings: the template's ``postgresql.conf`` holds :data:`BASE_SETTINGS` and includes
``drtest.conf``, which each server rewrites with its own port, name, archive and recovery settings
(``ALTER SYSTEM`` still overrides both, as usual).

Authentication: every connection is TCP and authenticates with ``scram-sha-256`` (:data:`HBA_RULES`),
as on RDS and Aurora PostgreSQL, where every login is a password login (RDS user guide, "Using
SCRAM for PostgreSQL password encryption"; IAM database authentication is not emulated). The internal superuser ``postgres`` has a random password of
the process (:attr:`Runtime.superuser_password`, passed to ``initdb --pwfile``) that only the data
plane uses (``dsn``, ``primary_conninfo``, ``pg_basebackup`` through ``PGPASSWORD``); clients of the
emulated world connect as the master user with the master password.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_drtest.dataplane.runtime import (
    CHILD_ENV,
    DataPlaneError,
    Runtime,
    children_of,
    kill_tree,
    release_sysv_segments,
    run,
    wait_for,
)

if TYPE_CHECKING:
    import psycopg

HOST = "127.0.0.1"
CONF_FILE = "drtest.conf"
#: Settings every server starts with (written once into the template's postgresql.conf).
BASE_SETTINGS: dict[str, str] = {
    "listen_addresses": HOST,
    "unix_socket_directories": "",
    "max_connections": "40",
    "shared_buffers": "16MB",
    "io_method": "sync",
    # DSM segments as files in the data folder (removed with it), not in /dev/shm where a killed
    # server would leave them behind.
    "dynamic_shared_memory_type": "mmap",  # no io workers: fewer processes, less memory per idle instance
    "wal_level": "replica",
    "max_wal_senders": "10",
    "max_replication_slots": "10",
    "hot_standby": "on",
    "wal_retrieve_retry_interval": "100ms",
    "wal_receiver_status_interval": "1s",
    "max_wal_size": "512MB",
    "fsync": "off",  # a killed process loses nothing the OS already has; the machine never crashes here
    "synchronous_commit": "on",
    "timezone": "UTC",
    "log_timezone": "UTC",
    "log_min_messages": "warning",
    "log_checkpoints": "off",
    "password_encryption": "scram-sha-256",
    # The verifier's key stretching (PostgreSQL 16's scram_iterations; 4096 by default, the least
    # RFC 7677 recommends): every login still runs the whole SCRAM-SHA-256 exchange against a stored
    # verifier, but the client derives its key in 64 HMAC rounds instead of 4096 (~2 ms of CPU a
    # connection, ~1,200 connections a game day). Stretching defends a stolen verifier against
    # guessing; these servers listen on loopback for one run, and their passwords are the run's own.
    "scram_iterations": "64",
}
#: pg_hba.conf of every server: TCP from 127.0.0.1 only, always a password (there is no Unix socket).
HBA_RULES = (
    "host all all 127.0.0.1/32 scram-sha-256",
    "host replication all 127.0.0.1/32 scram-sha-256",
)
#: Settings unknown to older servers (``DRTEST_PG_BIN`` may point at another install).
SINCE_MAJOR = {"io_method": 18, "scram_iterations": 16}
STOP_SIGNALS = {"smart": signal.SIGTERM, "fast": signal.SIGINT, "immediate": signal.SIGQUIT}
START_TIMEOUT = 30.0
#: WAL segment size: small segments keep clones and ``pg_switch_wal()`` archive copies cheap.
WAL_SEGMENT_MB = 4


def conf_literal(value: object) -> str:
    """A value as postgresql.conf spells it."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, (int, float)):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def free_port() -> int:
    """A TCP port on 127.0.0.1 free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def parse_lsn(text: str | None) -> int:
    """``'0/3000060'`` -> its integer position (0 for ``None``)."""
    if not text:
        return 0
    high, low = text.split("/")
    return (int(high, 16) << 32) | int(low, 16)


def format_lsn(lsn: int) -> str:
    return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"


@dataclass(frozen=True)
class Snapshot:
    """A consistent copy of a server's data folder: a base backup, or the template it was cloned from."""

    name: str
    path: Path
    source: str
    wall_time: float  # Unix time from which the copy is consistent (PITR targets must not precede it)
    clock_time: float | None = None
    lsn: int = 0

    def size_bytes(self) -> int:
        return sum(f.stat().st_size for f in self.path.rglob("*") if f.is_file())


class PostgresServer:
    """A PostgreSQL server process on 127.0.0.1; made by :class:`~pytest_drtest.dataplane.plane.DataPlane`."""

    def __init__(
        self, runtime: Runtime, name: str, folder: Path, *, settings: Mapping[str, object] | None = None
    ) -> None:
        self.runtime = runtime
        self.name = name
        self.folder = folder
        self.data_dir = folder / "data"
        self.archive_dir = folder / "archive"
        self.log_path = folder / "postgres.log"
        self.port = 0
        self.settings: dict[str, object] = {"cluster_name": name}
        self.settings.update(settings or {})
        self.created_wall = time.time()
        self.base: Snapshot | None = None  # what PITR replays this server's archive onto
        # A clone of the template still on its first timeline: its WAL continues the template's, so a
        # standby of it can start from another clone of the template (never promoted or restored)
        self.template_lineage = False
        # Snapshots PITR may start from; a Multi-AZ pair shares one list (and one archive).
        self.backups: list[Snapshot] = []
        self._proc: subprocess.Popen[bytes] | None = None
        self._key = f"{folder.parent.name}-{folder.name}"
        self._key_recorded = False

    # -- folders and settings --------------------------------------------------------------------
    def prepare_folders(self) -> None:
        """Create the archive folder (the data folder is cloned or backed up into place by the caller)."""
        self.archive_dir.mkdir(mode=0o700, exist_ok=True)
        self.runtime.user.own(self.archive_dir)

    def archive_command(self) -> str:
        """Copy a finished segment into the archive, atomically (the archive may be shared with a
        synchronous standby that archives the same, identical segments: ``$$`` keeps the
        temporary names apart)."""
        target = self.archive_dir
        part = f'"{target}/%f.$$.part"'
        return f'test -f "{target}/%f" || {{ cp "%p" {part} && mv {part} "{target}/%f"; }}'

    def write_conf(self) -> None:
        """Write ``drtest.conf``: port, archive, name and this server's own settings."""
        lines = [
            f"port = {self.port}",
            "archive_mode = on",
            f"archive_command = {conf_literal(self.archive_command())}",
        ]
        lines += [f"{key} = {conf_literal(value)}" for key, value in self.settings.items() if value is not None]
        path = self.data_dir / CONF_FILE
        path.write_text("# written by pytest-drtest\n" + "\n".join(lines) + "\n")
        self.runtime.user.own(path)

    def configure(self, **settings: object) -> None:
        """Change settings (``None`` removes one) and reload a running server."""
        for key, value in settings.items():
            if value is None:
                self.settings.pop(key, None)
            else:
                self.settings[key] = value
        self.write_conf()
        if self.running:
            self.query("SELECT pg_reload_conf()")

    def touch(self, filename: str) -> None:
        """Create an empty file (e.g. ``standby.signal``) in the data folder."""
        path = self.data_dir / filename
        path.touch()
        self.runtime.user.own(path)

    # -- process ---------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self.running and self._proc is not None else None

    def start(self, *, timeout: float = START_TIMEOUT) -> None:
        """Start the postmaster and wait until it accepts connections (a hot standby: read-only ones)."""
        if self.running:
            return
        for attempt in range(5):
            if not self.port or attempt:
                self.port = free_port()
            self.write_conf()
            offset = self.log_path.stat().st_size if self.log_path.exists() else 0
            with open(self.log_path, "ab") as log_file:
                self._proc = self.runtime.user.popen(
                    [self.runtime.binaries["postgres"], "-D", self.data_dir],
                    stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT, env=CHILD_ENV,
                    cwd="/", start_new_session=True,
                )
            self.runtime.record_pid(self._key, self._proc.pid, self.data_dir)
            self._key_recorded = True
            try:
                self._wait_status({"ready", "standby"}, timeout)
                return
            except DataPlaneError:
                if self.running:
                    self.kill()
                if "could not bind" in self.log_tail(offset) or "could not create any TCP/IP" in self.log_tail(offset):
                    continue  # the port was taken between free_port() and bind: try another
                raise
            except BaseException:
                self.kill()
                raise
        raise DataPlaneError(f"{self.name}: no free port after 5 attempts:\n{self.log_tail()}")

    def _wait_status(self, wanted: set[str], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        pid_file = self.data_dir / "postmaster.pid"
        delay = 0.002
        while True:
            assert self._proc is not None
            if self._proc.poll() is not None:
                raise DataPlaneError(f"{self.name}: postgres exited with {self._proc.returncode}:\n{self.log_tail()}")
            with contextlib.suppress(OSError):
                lines = pid_file.read_text().splitlines()
                if len(lines) >= 8 and lines[0].strip() == str(self._proc.pid) and lines[7].strip() in wanted:
                    return
            if time.monotonic() > deadline:
                raise DataPlaneError(f"{self.name}: not ready after {timeout:g} s:\n{self.log_tail()}")
            time.sleep(delay)
            delay = min(delay * 1.5, 0.005)  # a start takes ~40 ms: coarser looks overshoot it

    def wait_exit(self, timeout: float) -> bool:
        """Wait for the postmaster to exit; True when it did (its IPC is then released)."""
        if self._proc is None:
            return True
        try:
            wait_for(self._proc, timeout)
        except subprocess.TimeoutExpired:
            return False
        if self._key_recorded:
            release_sysv_segments(self._proc.pid)
            self.runtime.forget_pid(self._key)
            self._key_recorded = False
        return True

    def stop(self, mode: str = "fast", *, timeout: float = 30.0) -> None:
        """Shut down: ``smart``/``fast`` (completing WAL archiving first) or ``immediate`` (a crash)."""
        if not self.running:
            self.wait_exit(0)
            return
        if mode != "immediate":
            with contextlib.suppress(Exception):  # archive the last segment, so PITR sees every commit
                if not self.in_recovery():
                    self.query("SELECT pg_switch_wal()")
        assert self._proc is not None
        with contextlib.suppress(ProcessLookupError):
            self._proc.send_signal(STOP_SIGNALS[mode])
        if not self.wait_exit(timeout):
            self.kill()

    def kill(self) -> None:
        """SIGKILL the postmaster and every backend at once (a lost host)."""
        if self._proc is None:
            return
        if self._proc.poll() is None:
            kill_tree(self._proc.pid)
        self.wait_exit(30)

    def remove(self) -> None:
        """Kill the server and delete its folder."""
        self.kill()
        shutil.rmtree(self.folder, ignore_errors=True)

    def pids(self) -> list[int]:
        """The postmaster and its children (empty when stopped)."""
        pid = self.pid
        return [] if pid is None else [pid, *children_of(pid)]

    def memory(self) -> dict[str, int]:
        """Resident (``rss``) and proportional (``pss``) bytes of all the server's processes."""
        totals = {"rss": 0, "pss": 0}
        for pid in self.pids():
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                    key, _, rest = line.partition(":")
                    if key in ("Rss", "Pss"):
                        totals[key.lower()] += int(rest.split()[0]) * 1024
        return totals

    def log_tail(self, offset: int = 0, limit: int = 3000) -> str:
        try:
            with open(self.log_path, "rb") as fh:
                fh.seek(offset)
                return fh.read().decode(errors="replace")[-limit:]
        except OSError:
            return ""

    # -- SQL -------------------------------------------------------------------------------------
    @property
    def dsn(self) -> str:
        return (
            f"host={HOST} port={self.port} user=postgres password={self.runtime.superuser_password} "
            "dbname=postgres sslmode=disable gssencmode=disable connect_timeout=10"
        )

    def connect(self, *, autocommit: bool = True, track: bool = True, **kwargs: Any) -> psycopg.Connection[Any]:
        """A psycopg connection to this server (autocommit unless told otherwise). While it is open
        it counts as activity (``track=False``: a connection that only reads WAL positions)."""
        import psycopg

        from pytest_drtest.dataplane import activity

        connection = psycopg.connect(self.dsn, autocommit=autocommit, **kwargs)
        return activity.track(connection) if track else connection

    def query(self, sql: str, params: Iterable[Any] | Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """Run one statement on a short-lived connection; the rows it returns (``[]`` if none)."""
        with self.connect() as conn:
            cur = conn.execute(sql, params)  # type: ignore[arg-type]
            return cur.fetchall() if cur.description else []

    def in_recovery(self) -> bool:
        return bool(self.query("SELECT pg_is_in_recovery()")[0][0])

    def wait_primary(self, *, timeout: float = 60.0) -> None:
        """Wait until recovery has ended (promoted); raise with the log if the server exits instead."""
        deadline = time.monotonic() + timeout
        delay = 0.002
        while True:
            if not self.running:
                raise DataPlaneError(f"{self.name}: postgres exited during recovery:\n{self.log_tail()}")
            with contextlib.suppress(Exception):
                if not self.in_recovery():
                    return
            if time.monotonic() > deadline:
                raise DataPlaneError(f"{self.name}: still in recovery after {timeout:g} s:\n{self.log_tail()}")
            time.sleep(delay)
            delay = min(delay * 1.5, 0.05)

    def wal_lsn(self) -> int:
        """The WAL flushed on a primary, or received on a standby."""
        row = self.query(
            "SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn() ELSE pg_current_wal_flush_lsn() END"
        )
        return parse_lsn(row[0][0])

    def promote(self, *, timeout: float = 30.0) -> float:
        """Promote a standby to primary; returns the seconds until it accepted writes.

        ``pg_promote(wait => false)`` and our own fine polling: ``pg_promote``'s own wait checks
        only every 100 ms.
        """
        started = time.perf_counter()
        self.template_lineage = False  # a new timeline
        if not self.query("SELECT pg_promote(false)")[0][0]:
            raise DataPlaneError(f"{self.name}: pg_promote refused:\n{self.log_tail()}")
        self.wait_primary(timeout=timeout)
        return time.perf_counter() - started

    def __repr__(self) -> str:
        state = f"port {self.port}" if self.running else "stopped"
        return f"PostgresServer({self.name!r}, {state})"


def ensure_template(runtime: Runtime) -> Path:
    """The process's initdb template (made on first use: initdb, started and stopped once)."""
    with runtime._lock:
        if runtime.template_data is not None:
            return runtime.template_data
        folder = runtime.root / "template"
        folder.mkdir(mode=0o755)
        data = folder / "data"
        data.mkdir(mode=0o700)
        runtime.user.own(data)
        pwfile = folder / "pwfile"
        fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(runtime.superuser_password + "\n")
        runtime.user.own(pwfile)
        # initdb hashes the superuser's password with the template's iterations (its -c, since 16)
        stretch = (["-c", f"scram_iterations={BASE_SETTINGS['scram_iterations']}"]
                   if runtime.binaries.major >= SINCE_MAJOR["scram_iterations"] else [])
        try:
            run(
                [runtime.binaries["initdb"], "-D", data, "-U", "postgres", "--auth=scram-sha-256",
                 f"--pwfile={pwfile}", "--no-locale", "-E", "UTF8", "--no-sync", "--no-instructions",
                 f"--wal-segsize={WAL_SEGMENT_MB}", *stretch],
                user=runtime.user, timeout=120, what="initdb of the template",
            )
        finally:
            pwfile.unlink(missing_ok=True)
        (data / "pg_hba.conf").write_text("# written by pytest-drtest\n" + "\n".join(HBA_RULES) + "\n")
        with open(data / "postgresql.conf", "a") as conf:
            conf.write("\n# pytest-drtest\n")
            conf.writelines(
                f"{key} = {conf_literal(value)}\n" for key, value in BASE_SETTINGS.items()
                if key not in SINCE_MAJOR or runtime.binaries.major >= SINCE_MAJOR[key]
            )
            conf.write(f"include_if_exists = '{CONF_FILE}'\n")
        # Started and stopped once, so that pg_control records these settings: a standby cloned
        # from a never-started copy refuses to run with a lower max_connections than it records.
        server = PostgresServer(runtime, "template", folder, settings={"archive_mode": "off"})
        server.prepare_folders()
        try:
            server.start()
            server.stop("fast")
        finally:
            server.kill()
        (data / CONF_FILE).unlink(missing_ok=True)
        for leftover in ("postmaster.opts", "postmaster.pid"):
            (data / leftover).unlink(missing_ok=True)
        runtime.template_data = data
        return data


def clone_template(runtime: Runtime, server: PostgresServer) -> None:
    """Fill ``server.data_dir`` with a copy of the template."""
    from pytest_drtest.dataplane.runtime import copy_tree

    template = ensure_template(runtime)
    copy_tree(template, server.data_dir, user=runtime.user)
    os.chmod(server.data_dir, 0o700)
