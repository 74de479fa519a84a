"""A loopback HTTP listener that a fault can take away and give back.

Each gateway, load balancer and the like is a threaded WSGI server (werkzeug's) on its own
address. :meth:`Listener.stop` closes the listening socket and every open connection, so any
client — whatever its language or connection pool — sees refused connections, as in a region
outage; :meth:`Listener.start` binds the same address again. An exception that escapes the app is
answered 500 and handed to ``on_error`` (the run's error sink: it fails the test).
"""
from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Callable
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from pytest_drtest.errors import DrError

log = logging.getLogger("pytest_drtest.gateway")

WsgiApp = Callable[..., Any]


class _Handler(WSGIRequestHandler):
    """Quiet, and known to its listener so that :meth:`Listener.stop` can cut it."""

    server: Any

    def setup(self) -> None:
        super().setup()
        self.server.drtest_listener._opened(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.drtest_listener._closed(self.connection)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass

    def log(self, type: str, message: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), message % args)


class Listener:
    """One WSGI app served on ``host:port`` in daemon threads; stop and start it at will."""

    def __init__(self, host: str, port: int, app: WsgiApp, *, name: str,
                 on_error: Callable[[BaseException], None] | None = None) -> None:
        self.host = host
        self.port = port
        self.app = app
        self.name = name
        self.on_error = on_error
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}" if self.port != 80 else f"http://{self.host}"

    def start(self) -> None:
        if self._server is not None:
            return
        try:
            server = make_server(self.host, self.port, self._serve, threaded=True, request_handler=_Handler)
        except OSError as exc:
            raise DrError(
                f"{self.name}: cannot listen on {self.host}:{self.port}: {exc.strerror or exc} "
                "(another process uses this address; set DRTEST_ADDRESS_SLOT to another number)"
            ) from None
        server.drtest_listener = self  # type: ignore[attr-defined]
        self.port = int(server.server_address[1])
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"drtest-{self.name}", daemon=True)
        self._thread.start()

    def _serve(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        try:
            return self.app(environ, start_response)
        except Exception as exc:
            if self.on_error is not None:
                self.on_error(exc)
            raise  # werkzeug answers 500

    def handle(self, environ: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
        """Answer one request inside the world, without a TCP connection (as another part of the
        world reaches this endpoint: the CloudFront edge its origin); ``(status, headers, body)``.
        An exception of the app goes to ``on_error`` and answers 500, as over the network."""
        from werkzeug.test import run_wsgi_app

        try:
            body, status, headers = run_wsgi_app(self.app, environ, buffered=True)
            return int(status.split()[0]), list(headers.items()), b"".join(body)
        except Exception as exc:  # noqa: BLE001 - the run's error sink fails the test, as _serve's does
            if self.on_error is not None:
                self.on_error(exc)
            return 500, [("Content-Type", "text/plain")], b"Internal Server Error"

    def stop(self) -> None:
        """Refuse new connections and cut the open ones."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        with self._lock:
            open_now = list(self._connections)
            self._connections.clear()
        for conn in open_now:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _opened(self, conn: socket.socket) -> None:
        with self._lock:
            self._connections.add(conn)

    def _closed(self, conn: socket.socket) -> None:
        with self._lock:
            self._connections.discard(conn)

    def __repr__(self) -> str:
        return f"Listener({self.name!r}, {self.host}:{self.port}, {'up' if self.running else 'down'})"
