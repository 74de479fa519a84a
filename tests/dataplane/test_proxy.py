"""The lag proxy, the endpoint proxy and the clock timeline, without PostgreSQL (fake peers on 127.0.0.1)."""
from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from pytest_drtest.clock import PacedClock, RealClock, VirtualClock
from pytest_drtest.dataplane import ClockTimeline, EndpointProxy, LagProxy, on_advance
from pytest_drtest.dataplane import proxy as proxy_module


class FakePeer:
    """A one-connection TCP server on 127.0.0.1 standing in for a primary."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.conn: socket.socket | None = None
        self.accepted = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        self.conn, _ = self.listener.accept()
        self.accepted.set()

    def send(self, data: bytes) -> None:
        assert self.accepted.wait(5) and self.conn is not None
        self.conn.sendall(data)

    def recv(self, size: int) -> bytes:
        assert self.accepted.wait(5) and self.conn is not None
        self.conn.settimeout(5)
        return self.conn.recv(size)

    def close(self) -> None:
        for sock in (self.conn, self.listener):
            if sock is not None:
                sock.close()


def message(kind: bytes, payload: bytes) -> bytes:
    return kind + struct.pack("!I", len(payload) + 4) + payload


def xlogdata(start: int, wal: bytes) -> bytes:
    return message(b"d", b"w" + struct.pack("!QQQ", start, start + len(wal), 0) + wal)


def recv_available(sock: socket.socket, wait: float = 0.2) -> bytes:
    sock.settimeout(wait)
    data = b""
    try:
        while True:
            chunk = sock.recv(1 << 16)
            if not chunk:
                break
            data += chunk
            sock.settimeout(0.05)
    except TimeoutError:
        pass
    return data


def eventually(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.005)


@pytest.fixture
def peer() -> Iterator[FakePeer]:
    fake = FakePeer()
    yield fake
    fake.close()


def test_copydata_waits_for_the_lag_on_the_clock(peer: FakePeer) -> None:
    clock = VirtualClock()
    proxy = LagProxy(peer.port, clock=clock, lag=1.0)
    replica = socket.create_connection(("127.0.0.1", proxy.port))
    try:
        handshake = message(b"R", struct.pack("!I", 0))
        peer.send(handshake + message(b"W", b"\x00\x00\x00"))
        assert recv_available(replica) == handshake + message(b"W", b"\x00\x00\x00")  # not held
        wal = xlogdata(0x1000, b"x" * 100)
        peer.send(wal)
        eventually(lambda: proxy.streaming)
        assert proxy.wait_received(0x1000 + 100)
        peer.send(message(b"c", b""))  # CopyDone: not held, but may not overtake the held WAL
        time.sleep(0.05)
        assert recv_available(replica, 0.1) == b""
        clock.sleep(0.999)
        proxy.release_due()
        assert recv_available(replica, 0.1) == b""
        clock.sleep(0.001)
        proxy.release_due()
        assert recv_available(replica) == wal + message(b"c", b"")
        assert proxy.released_lsn == proxy.received_lsn == 0x1000 + 100
    finally:
        replica.close()
        proxy.close()


def test_on_the_virtual_clock_the_move_itself_releases_and_the_relay_never_polls(
    peer: FakePeer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A relay that woke every 5 ms to look at a clock that only moves through its own advance
    # took the test's thread's interpreter lock hundreds of times a second for nothing.
    waits: list[float] = []
    readable = proxy_module._readable

    def recording(sock: socket.socket, timeout: float) -> bool:
        if threading.current_thread().name.startswith("virtual-link"):
            waits.append(timeout)
        return readable(sock, timeout)

    monkeypatch.setattr(proxy_module, "_readable", recording)
    clock = VirtualClock()
    proxy = LagProxy(peer.port, clock=clock, lag=1.0, name="virtual-link")
    replica = socket.create_connection(("127.0.0.1", proxy.port))
    try:
        peer.send(message(b"W", b"\x00\x00\x00"))
        eventually(lambda: proxy.streaming)
        wal = xlogdata(0x2000, b"y" * 50)
        peer.send(wal)
        assert proxy.wait_received(0x2000 + 50)
        clock.sleep(1.0)
        assert proxy.released_lsn == 0x2000 + 50  # released by the sleep, before it returned
        assert recv_available(replica).endswith(wal)
        assert waits and min(waits) >= proxy_module.IDLE_SECONDS
    finally:
        replica.close()
        proxy.close()
    assert not clock._after  # closing the proxy removed its listener


def test_only_a_clock_that_passes_by_itself_is_polled() -> None:
    paced = PacedClock(60.0)
    assert proxy_module.poll_interval(None) == proxy_module.IDLE_SECONDS
    assert proxy_module.poll_interval(VirtualClock()) == proxy_module.IDLE_SECONDS
    assert proxy_module.poll_interval(paced) == proxy_module.IDLE_SECONDS  # virtual until it paces
    paced.pace()
    try:
        assert proxy_module.poll_interval(paced) == proxy_module.POLL_SECONDS
    finally:
        paced.close()
    assert proxy_module.poll_interval(RealClock()) == proxy_module.POLL_SECONDS


def test_cut_drops_what_is_held_and_closes_both_sides(peer: FakePeer) -> None:
    clock = VirtualClock()
    proxy = LagProxy(peer.port, clock=clock, lag=5.0)
    replica = socket.create_connection(("127.0.0.1", proxy.port))
    try:
        peer.send(message(b"W", b"\x00\x00\x00") + xlogdata(0, b"a" * 10))  # streaming starts
        eventually(lambda: proxy.streaming)
        assert proxy.wait_received(10, timeout=2, idle=1)
        clock.sleep(5)
        peer.send(xlogdata(10, b"b" * 10))
        assert proxy.wait_received(20, timeout=2, idle=1)
        report = proxy.cut()
        assert (report.dropped_messages, report.released_lsn, report.received_lsn) == (1, 10, 20)
        assert recv_available(replica) == message(b"W", b"\x00\x00\x00") + xlogdata(0, b"a" * 10)  # then EOF
        assert peer.recv(10) == b""  # the primary side is closed too
        with pytest.raises(OSError):  # and nobody reconnects
            socket.create_connection(("127.0.0.1", proxy.port), timeout=1).recv(1)
    finally:
        replica.close()
        proxy.close()


def test_one_byte_ssl_answer_keeps_the_framing(peer: FakePeer) -> None:
    proxy = LagProxy(peer.port, clock=None)
    replica = socket.create_connection(("127.0.0.1", proxy.port))
    try:
        replica.sendall(struct.pack("!II", 8, 80877103))  # SSLRequest
        assert peer.recv(8) == struct.pack("!II", 8, 80877103)
        peer.send(b"N" + message(b"R", struct.pack("!I", 0)) + xlogdata(0, b"z"))
        assert recv_available(replica) == b"N" + message(b"R", struct.pack("!I", 0)) + xlogdata(0, b"z")
        assert proxy.received_lsn == 1
    finally:
        replica.close()
        proxy.close()


def test_endpoint_switch_moves_new_connections_and_drops_open_ones() -> None:
    first, second = FakePeer(), FakePeer()
    endpoint = EndpointProxy(first.port)
    try:
        client = socket.create_connection(("127.0.0.1", endpoint.port))
        client.sendall(b"hello")
        assert first.recv(5) == b"hello"
        endpoint.switch(second.port)
        assert recv_available(client) == b""  # closed by the switch
        client = socket.create_connection(("127.0.0.1", endpoint.port))
        client.sendall(b"again")
        assert second.recv(5) == b"again"
        client.close()
    finally:
        endpoint.close()
        first.close()
        second.close()


def test_an_endpoint_relays_both_ways_without_nagle() -> None:
    # a relay that delays a small write behind an unacknowledged one adds the peer's delayed ACK
    # to every exchange of small messages (a SCRAM login, a query and its answer)
    peer = FakePeer()
    endpoint = EndpointProxy(peer.port)
    try:
        client = socket.create_connection(("127.0.0.1", endpoint.port))
        client.sendall(b"hello")
        assert peer.recv(5) == b"hello"
        assert len(endpoint._pairs) == 1
        assert all(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) for sock in endpoint._pairs[0])
        client.close()
    finally:
        endpoint.close()
        peer.close()


def test_timeline_maps_clock_times_to_the_wall_time_the_clock_left_them() -> None:
    clock = VirtualClock()
    timeline = ClockTimeline(clock)
    clock.sleep(10)
    left_zero = time.time()
    time.sleep(0.01)
    clock.sleep(5)
    try:
        assert timeline.wall_time_of(0) <= left_zero
        assert timeline.wall_time_of(9.99) == timeline.wall_time_of(0)  # the clock jumped 0 -> 10
        assert left_zero < timeline.wall_time_of(10) < time.time()
        assert timeline.wall_time_of(15) == pytest.approx(time.time(), abs=0.5)  # not left yet: now
    finally:
        timeline.close()


def test_advance_hooks_run_around_each_move_and_can_be_removed() -> None:
    clock = VirtualClock()
    seen: list[tuple[str, float, float, float]] = []
    remove = on_advance(
        clock,
        before=lambda old, new: seen.append(("before", old, new, clock.now())),
        after=lambda old, new: seen.append(("after", old, new, clock.now())),
    )
    clock.call_at(1, lambda: None)
    clock.sleep(2)
    remove()
    clock.sleep(1)
    assert seen == [("before", 0, 1, 0), ("after", 0, 1, 1), ("before", 1, 2, 1), ("after", 1, 2, 2)]


def test_paused_link_holds_the_stream_until_resumed(peer: FakePeer) -> None:
    proxy = LagProxy(peer.port, clock=VirtualClock(), lag=0.0)
    replica = socket.create_connection(("127.0.0.1", proxy.port))
    try:
        proxy.paused = True
        peer.send(message(b"W", b"\x00\x00\x00") + xlogdata(0, b"p"))
        eventually(lambda: proxy.received_lsn == 1)
        assert recv_available(replica, 0.1) == message(b"W", b"\x00\x00\x00")
        proxy.paused = False
        proxy.release_due()
        assert recv_available(replica) == xlogdata(0, b"p")
    finally:
        replica.close()
        proxy.close()
