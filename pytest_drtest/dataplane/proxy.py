"""TCP proxies on 127.0.0.1: a replication link whose lag is held on the run's clock, and a stable endpoint.

:class:`LagProxy` sits between a replica and its primary. Every message of the primary's stream is
tagged with ``clock.now()`` when it arrives and reaches the replica only once
``clock.now() >= tag + lag``; the replica's bytes go to the primary at once. On a
:class:`~pytest_drtest.clock.VirtualClock` no real time has to pass: the lag is modeled time.
:meth:`LagProxy.cut` (a lost region) drops whatever is still held and closes both sides, so a
promoted replica really lacks those writes (``recovery_min_apply_delay`` would not: WAL the replica
received is replayed on promotion).

The proxy frames the PostgreSQL protocol (type byte + length) to hold whole ``CopyData`` messages
and to read the WAL positions of ``XLogData`` (its ``received_lsn``/``released_lsn``). The replica
must connect with ``sslmode=disable`` (a TLS stream cannot be framed); the one-byte answers to SSL
and GSSAPI requests are handled all the same.
"""
from __future__ import annotations

import contextlib
import logging
import select
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from pytest_drtest.clock import Clock
from pytest_drtest.dataplane import activity

log = logging.getLogger("pytest_drtest.dataplane")

HOST = "127.0.0.1"
POLL_SECONDS = 0.005  # how often a link looks at a clock that passes by itself (paced, real)
IDLE_SECONDS = 0.1  # how often an idle relay looks whether it was closed
SEND_TIMEOUT = 10.0
_NEGOTIATION_CODES = (80877103, 80877104)  # SSLRequest, GSSENCRequest: answered with one byte
_XLOGDATA_HEADER = 1 + 4 + 1 + 8 + 8 + 8  # 'd', length, 'w', dataStart, walEnd, sendTime


@dataclass(frozen=True)
class CutReport:
    """What a cut link dropped: the primary's messages the replica never got."""

    dropped_messages: int
    dropped_bytes: int
    released_lsn: int  # WAL the replica had been sent up to
    received_lsn: int  # WAL the primary had sent up to (the gap is lost with the region)


@dataclass
class _Held:
    tag: float  # clock time the message arrived from the primary
    delayed: bool  # CopyData is held for the lag; other messages only keep their place in line
    data: bytes
    wal_end: int  # end of the WAL the message carries (0 when none)


def _listen(host: str = HOST, port: int = 0) -> socket.socket:
    from pytest_drtest.errors import DrError

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise DrError(f"cannot listen on {host}:{port}: {exc.strerror or exc} (is another run using this address?)") from None
    sock.listen(16)
    return sock


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()


def poll_interval(clock: Clock | None) -> float:
    """How long a link's relay may wait for bytes before it looks at the clock again.

    A clock that moves only through its own advance (the virtual clock, a paced one before it
    paces) tells the link's advance listener every time, so the relay need not look at it; one
    whose time passes by itself is looked at every :data:`POLL_SECONDS`. Waking every 5 ms in
    each relay cost the test's thread the interpreter lock hundreds of times a second.
    """
    return POLL_SECONDS if clock is not None and clock.passes_by_itself else IDLE_SECONDS


def _readable(sock: socket.socket, timeout: float) -> bool:
    try:
        ready, _, _ = select.select([sock], [], [], timeout)
    except (OSError, ValueError):  # closed under us
        raise ConnectionError("socket closed") from None
    return bool(ready)


class _Acceptor:
    """Accepts connections on a loopback port in a daemon thread and hands them to ``handle``."""

    def __init__(self, name: str, host: str = HOST, port: int = 0) -> None:
        self.name = name
        self._listener = _listen(host, port)
        self.host = host
        self.port = int(self._listener.getsockname()[1])
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._accept_loop, name=f"{name}-accept", daemon=True)

    def _start_accepting(self) -> None:
        self._thread.start()

    def _accept_loop(self) -> None:
        while not self._closed.is_set():
            try:
                if not _readable(self._listener, 0.1):
                    continue
                client, _ = self._listener.accept()
            except (OSError, ConnectionError):
                if self._closed.is_set():
                    return
                continue
            try:
                self.handle(client)
            except Exception:
                log.exception("%s: dropping a connection", self.name)
                _close(client)

    def handle(self, client: socket.socket) -> None:
        raise NotImplementedError

    def _stop_accepting(self) -> None:
        self._closed.set()
        _close(self._listener)
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=2)


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection((HOST, port), timeout=5)
    sock.settimeout(SEND_TIMEOUT)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


class _Link:
    """One replication connection through a :class:`LagProxy`: replica (client) <-> primary (upstream)."""

    def __init__(self, proxy: LagProxy, client: socket.socket, upstream: socket.socket) -> None:
        self.proxy = proxy
        self.client = client
        self.upstream = upstream
        self.queue: deque[_Held] = deque()
        self.buffer = bytearray()
        self.single_bytes = 0  # one-byte answers (to SSL/GSSAPI requests) still expected
        self.startup = True
        self.streaming = False
        self.closed = False
        self.lock = threading.RLock()
        self.threads = [
            threading.Thread(target=self._pump_up, name=f"{proxy.name}-up", daemon=True),
            threading.Thread(target=self._pump_down, name=f"{proxy.name}-down", daemon=True),
        ]
        for thread in self.threads:
            thread.start()

    # primary -> replica: tag, hold, release
    def _pump_up(self) -> None:
        try:
            while not self.closed:
                if _readable(self.upstream, poll_interval(self.proxy.clock)):
                    data = self.upstream.recv(1 << 16)
                    if not data:
                        break
                    self._ingest(data)
                self.release_due()
        except (OSError, ConnectionError):
            pass
        # The primary went away: what it sent is still on its way (only a cut loses it).
        try:
            while not self.closed and self.queue:
                time.sleep(poll_interval(self.proxy.clock))
                self.release_due()
        finally:
            self.close()

    def _ingest(self, data: bytes) -> None:
        clock = self.proxy.clock
        tag = clock.now() if clock is not None else 0.0
        with self.lock:
            self.buffer += data
            buf = self.buffer
            while buf:
                if self.single_bytes:
                    self.single_bytes -= 1
                    self.queue.append(_Held(tag, False, bytes(buf[:1]), 0))
                    del buf[:1]
                    continue
                if len(buf) < 5:
                    break
                size = 1 + int.from_bytes(buf[1:5], "big")
                if len(buf) < size:
                    break
                message = bytes(buf[:size])
                del buf[:size]
                kind = message[0]
                wal_end = 0
                if kind == ord("d") and size >= _XLOGDATA_HEADER and message[5] == ord("w"):
                    wal_end = int.from_bytes(message[6:14], "big") + size - _XLOGDATA_HEADER
                elif kind == ord("W"):
                    self.streaming = True
                self.queue.append(_Held(tag, kind == ord("d"), message, wal_end))
                if wal_end:
                    self.proxy._note_received(wal_end)

    def release_due(self) -> None:
        """Send the replica every message whose lag has passed on the clock (in order)."""
        with self.lock:
            if self.closed or not self.queue:
                return
            clock = self.proxy.clock
            now = clock.now() if clock is not None else 0.0
            lag, paused = self.proxy.lag, self.proxy.paused
            out: list[bytes] = []
            wal_end = 0
            while self.queue:
                head = self.queue[0]
                if head.delayed and (paused or now < head.tag + lag):
                    break
                self.queue.popleft()
                out.append(head.data)
                wal_end = max(wal_end, head.wal_end)
            if not out:
                return
            try:
                self.client.sendall(b"".join(out))
            except OSError:
                self.close()
                return
        if wal_end:
            self.proxy._note_released(wal_end)

    # replica -> primary: at once
    def _pump_down(self) -> None:
        try:
            while not self.closed:
                if not _readable(self.client, IDLE_SECONDS):
                    continue
                data = self.client.recv(1 << 16)
                if not data:
                    break
                if self.startup and len(data) >= 8 and int.from_bytes(data[:4], "big") == 8:
                    if int.from_bytes(data[4:8], "big") in _NEGOTIATION_CODES:
                        with self.lock:
                            self.single_bytes += 1
                    else:
                        self.startup = False
                else:
                    self.startup = False
                self.upstream.sendall(data)
        except (OSError, ConnectionError):
            pass
        finally:
            self.close()

    def drop(self) -> tuple[int, int]:
        """Discard everything held; returns (messages, bytes) dropped."""
        with self.lock:
            dropped = (len(self.queue), sum(len(held.data) for held in self.queue) + len(self.buffer))
            self.queue.clear()
            self.buffer.clear()
            return dropped

    def close(self) -> None:
        with self.lock:
            if self.closed:
                return
            self.closed = True
        _close(self.client)
        _close(self.upstream)


class LagProxy(_Acceptor):
    """Replication link from a primary (``upstream_port``) to a replica, delayed by ``lag`` clock seconds.

    ``lag`` and ``paused`` (hold the whole stream) may change at any time. Without a clock the
    lag must be 0: the proxy is then a plain relay that can still be :meth:`cut`.
    """

    def __init__(self, upstream_port: int, *, clock: Clock | None, lag: float = 0.0, name: str = "lag-proxy") -> None:
        if clock is None and lag:
            raise ValueError("a lag needs a clock")
        super().__init__(name)
        self.upstream_port = upstream_port
        self.clock = clock
        self.lag = float(lag)
        self.paused = False
        self.received_lsn = 0
        self.released_lsn = 0
        self.cut_report: CutReport | None = None
        self._links: list[_Link] = []
        self._changed = threading.Condition()
        # Releases what the clock's move made due, in the thread that moves it.
        self._unhook = clock.add_advance_listener(after=self._advanced) if clock is not None else None
        self._start_accepting()

    def _advanced(self, old: float, new: float) -> None:
        self.release_due()

    def handle(self, client: socket.socket) -> None:
        if self.cut_report is not None:
            _close(client)
            return
        client.settimeout(SEND_TIMEOUT)
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            upstream = _connect(self.upstream_port)
        except OSError:
            _close(client)  # primary down: the replica retries (wal_retrieve_retry_interval)
            return
        with self._changed:
            self._links = [link for link in self._links if not link.closed]
            self._links.append(_Link(self, client, upstream))

    def _note_received(self, lsn: int) -> None:
        with self._changed:
            if lsn > self.received_lsn:
                self.received_lsn = lsn
                self._changed.notify_all()

    def _note_released(self, lsn: int) -> None:
        with self._changed:
            if lsn > self.released_lsn:
                self.released_lsn = lsn
                self._changed.notify_all()

    @property
    def streaming(self) -> bool:
        """True while a replica streams WAL through the proxy."""
        return any(link.streaming and not link.closed for link in list(self._links))

    def held(self) -> tuple[int, int]:
        """(messages, bytes) held right now."""
        messages = size = 0
        for link in list(self._links):
            with link.lock:
                messages += len(link.queue)
                size += sum(len(held.data) for held in link.queue)
        return messages, size

    def release_due(self) -> None:
        """Release, now and in this thread, every message whose lag has passed."""
        for link in list(self._links):
            link.release_due()

    def wait_received(self, lsn: int, *, timeout: float = 2.0, idle: float = 0.05) -> bool:
        """Wait until the primary's WAL up to ``lsn`` has reached (and been tagged by) the proxy.

        Returns False at once when no replica is streaming, when nothing arrived for ``idle``
        seconds (e.g. the stream is on an older timeline and will never reach ``lsn``), or after
        ``timeout``.
        """
        deadline = time.monotonic() + timeout
        last_seen, last_change = self.received_lsn, time.monotonic()
        with self._changed:
            while self.received_lsn < lsn:
                now = time.monotonic()
                if self.received_lsn != last_seen:
                    last_seen, last_change = self.received_lsn, now
                if now >= deadline or now - last_change >= idle or not self.streaming or self.cut_report is not None:
                    return False
                self._changed.wait(min(deadline - now, idle, 0.01))
        return True

    def retarget(self, upstream_port: int) -> None:
        """Follow a new primary: new connections go to ``upstream_port``; open ones are closed (held bytes dropped)."""
        self.upstream_port = upstream_port
        for link in list(self._links):
            link.drop()
            link.close()

    def cut(self) -> CutReport:
        """Lose the link: release what is due, drop what is held, close both sides, refuse reconnects."""
        if self.cut_report is not None:
            return self.cut_report
        self.release_due()
        messages = size = 0
        for link in list(self._links):
            dropped = link.drop()
            messages += dropped[0]
            size += dropped[1]
        self.cut_report = CutReport(messages, size, self.released_lsn, self.received_lsn)
        self.close()
        return self.cut_report

    def close(self) -> None:
        """Stop accepting and close every connection (held bytes are discarded)."""
        if self._unhook is not None:
            self._unhook()
            self._unhook = None
        self._stop_accepting()
        for link in list(self._links):
            link.close()
        for link in list(self._links):
            for thread in link.threads:
                if thread is not threading.current_thread():
                    thread.join(timeout=2)
        with self._changed:
            self._changed.notify_all()

    def __repr__(self) -> str:
        return f"LagProxy({self.name!r}, port={self.port}, lag={self.lag:g}, upstream={self.upstream_port})"


class EndpointProxy(_Acceptor):
    """A stable loopback address forwarding to whichever server is current (an instance endpoint).

    :meth:`switch` changes the target and closes open connections, as a DNS/endpoint flip does;
    with no target, connections are accepted and closed at once. ``host``/``port`` default to
    127.0.0.1 and a free port; the emulation gives each endpoint its own address and port 5432.
    """

    def __init__(self, target_port: int | None, *, name: str = "endpoint", host: str = HOST, port: int = 0,
                 note_write: Callable[[], None] = activity.note_write) -> None:
        super().__init__(name, host, port)
        self.target_port = target_port
        self._note_write = note_write  # told of every byte sent to the server (dataplane.activity)
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._lock = threading.Lock()
        self._start_accepting()

    def handle(self, client: socket.socket) -> None:
        target = self.target_port
        if target is None:
            _close(client)
            return
        try:
            upstream = _connect(target)
        except OSError:
            _close(client)
            return
        client.settimeout(SEND_TIMEOUT)
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # a relay: bytes go on as they come
        pair = (client, upstream)
        with self._lock:
            self._pairs.append(pair)
        for src, dst in (pair, pair[::-1]):
            threading.Thread(target=self._pump, args=(src, dst, pair), name=f"{self.name}-pump", daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, pair: tuple[socket.socket, socket.socket]) -> None:
        to_server = src is pair[0]
        try:
            while True:
                if not _readable(src, 0.2):
                    continue
                data = src.recv(1 << 16)
                if not data:
                    break
                if to_server:
                    self._note_write()
                dst.sendall(data)
        except (OSError, ConnectionError):
            pass
        finally:
            self._drop(pair)

    def _drop(self, pair: tuple[socket.socket, socket.socket]) -> None:
        with self._lock:
            if pair in self._pairs:
                self._pairs.remove(pair)
        for sock in pair:
            _close(sock)

    def switch(self, target_port: int | None) -> None:
        """Point the endpoint at ``target_port`` (None: refuse) and close the open connections."""
        self.target_port = target_port
        with self._lock:
            pairs = list(self._pairs)
        for pair in pairs:
            self._drop(pair)

    def close(self) -> None:
        self._stop_accepting()
        self.switch(None)

    def __repr__(self) -> str:
        return f"EndpointProxy({self.name!r}, {self.host}:{self.port}, target={self.target_port})"
