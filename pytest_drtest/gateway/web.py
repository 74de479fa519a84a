"""The web tier: each load balancer of the world listens on its own address, in front of the
application of its region — the built-in one, or the team's own service in a process of its own.

A load balancer answers ``503`` while it has no healthy target (an AZ outage takes the targets of
that AZ out, an empty Auto Scaling group has none) and refuses connections while its region is
lost. Behind it, one application per region:

- the built-in application (:class:`~pytest_drtest.probes.app.RegionApp`: the region's table and
  ledger table), served in this process; or
- the team's service named by the blueprint's ``[web]`` table (a WSGI callable, or any command),
  one process per region, with the test process's environment plus ``dr.env(region)``, started
  once the topology serves and stopped at teardown; its output is kept for the report.

Both speak the probe protocol: ``PUT /drtest/items/{key}`` (2xx = acknowledged) and ``GET
/drtest/items/{key}`` (200 with the payload, 404 when absent). The built-in application also
answers the protocol's optional batch read, ``POST /drtest/items:read`` with ``{"keys": [...]}``
(200 with ``{"items": {key: payload or null}}``), which a service may leave out (the probe then
reads key by key).
"""
from __future__ import annotations

import contextlib
import functools
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import requests

from pytest_drtest.errors import DrConfigError
from pytest_drtest.gateway.addresses import SERVICE_PORT, service_port
from pytest_drtest.gateway.server import Listener

if TYPE_CHECKING:
    from pytest_drtest.emulation.core import Endpoint
    from pytest_drtest.gateway.world import NetworkWorld
    from pytest_drtest.topology.blueprint import WebSpec
    from pytest_drtest.topology.model import Topology

ITEMS = "/drtest/items/"
READ_MANY = "/drtest/items:read"
OUTPUT_LINES = 20


def _answer(start_response: Callable[..., Any], status: int, body: str, reason: str = "") -> Iterable[bytes]:
    data = body.encode("utf-8")
    start_response(f"{status} {reason or 'OK'}", [("Content-Type", "text/plain; charset=utf-8"),
                                                  ("Content-Length", str(len(data)))])
    return [data]


class BuiltInApp:
    """The built-in application of one region as a WSGI app (the probe protocol)."""

    def __init__(self, topology: Topology, region: str) -> None:
        from pytest_drtest.probes.app import RegionApp

        self.app = RegionApp(topology, region)
        self.region = region

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        from pytest_drtest.probes.app import AppUnavailable

        path = environ.get("PATH_INFO", "")
        if path == READ_MANY and environ.get("REQUEST_METHOD") == "POST":
            return self._read_many(environ, start_response)
        if not path.startswith(ITEMS):
            return _answer(start_response, 404, "not found", "Not Found")
        key = path[len(ITEMS):]  # PATH_INFO is already percent-decoded
        method = environ.get("REQUEST_METHOD", "GET")
        try:
            if method == "PUT":
                length = int(environ.get("CONTENT_LENGTH") or 0)
                payload = environ["wsgi.input"].read(length).decode("utf-8")
                self.app.put(key, payload)
                return _answer(start_response, 200, "ok")
            if method == "GET":
                value = self.app.get(key)
                if value is None:
                    return _answer(start_response, 404, "absent", "Not Found")
                return _answer(start_response, 200, value)
        except AppUnavailable as exc:
            return _answer(start_response, 500, str(exc), "Internal Server Error")
        return _answer(start_response, 405, "method not allowed", "Method Not Allowed")

    def _read_many(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        from pytest_drtest.probes.app import AppUnavailable

        length = int(environ.get("CONTENT_LENGTH") or 0)
        try:
            keys = json.loads(environ["wsgi.input"].read(length))["keys"]
            if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
                raise TypeError("keys is not a list of strings")
        except (ValueError, KeyError, TypeError) as exc:
            return _answer(start_response, 400, f'expected {{"keys": [strings]}}: {exc}', "Bad Request")
        try:
            items = self.app.read_all(keys)
        except AppUnavailable as exc:
            return _answer(start_response, 500, str(exc), "Internal Server Error")
        return _answer(start_response, 200, json.dumps({"items": items}))

    def close(self) -> None:
        self.app.close()


class ServiceProcess:
    """The team's service in one region: a process listening on ``host:port``."""

    def __init__(self, spec: WebSpec, region: str, host: str, port: int, env: dict[str, str], log: Path) -> None:
        self.spec = spec
        self.region = region
        self.host = host
        self.port = port
        self.env = env
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def argv(self) -> list[str]:
        if self.spec.app is not None:
            return [sys.executable, "-m", "pytest_drtest.gateway.wsgi", self.spec.app, "--host", self.host, "--port", str(self.port)]
        assert self.spec.command is not None
        return [part.replace("{host}", self.host).replace("{port}", str(self.port)) for part in self.spec.command]

    def start(self) -> None:
        if _listening(self.host, self.port):
            raise DrConfigError(f"{self.host}:{self.port} is already in use: the {self.region} service cannot listen there",
                                source=self.spec.source, field="web")
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                self.argv(), cwd=self.spec.cwd, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )
        deadline = time.monotonic() + self.spec.start_timeout
        field = "web.app" if self.spec.app is not None else "web.command"
        while not _listening(self.host, self.port):
            if self.process.poll() is not None:
                code = self.process.returncode
                self.stop()
                raise DrConfigError(
                    f"the service of {self.region} exited with status {code} before listening on "
                    f"{self.host}:{self.port}; its last output:\n{self.output()}", source=self.spec.source, field=field)
            if time.monotonic() > deadline:
                self.stop()
                raise DrConfigError(
                    f"the service of {self.region} did not listen on {self.host}:{self.port} within "
                    f"{self.spec.start_timeout:g} s; its last output:\n{self.output()}", source=self.spec.source, field=field)
            time.sleep(0.05)

    def output(self, lines: int = OUTPUT_LINES) -> str:
        try:
            text = self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no output)"
        tail = text.splitlines()[-lines:]
        return "\n".join(tail) if tail else "(no output)"

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


def _listening(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


class ServiceProxy:
    """Forwards the load balancer's requests to the region's service process."""

    def __init__(self, service: ServiceProcess) -> None:
        self.service = service
        self.session = requests.Session()
        self.session.trust_env = False  # loopback addresses: never through a proxy of the environment

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else None
        # the path as it arrived (still percent-encoded: a key may hold '#' or '?')
        raw = environ.get("RAW_URI") or environ.get("REQUEST_URI") or quote(environ.get("PATH_INFO", "/"))
        url = f"http://{self.service.host}:{self.service.port}{raw}"
        try:
            response = self.session.request(environ.get("REQUEST_METHOD", "GET"), url, data=body, timeout=(2, 30),
                                            headers={"Content-Type": environ.get("CONTENT_TYPE", "text/plain")})
        except requests.RequestException as exc:
            return _answer(start_response, 502, f"bad gateway: {type(exc).__name__}", "Bad Gateway")
        start_response(f"{response.status_code} {response.reason or ''}",
                       [("Content-Type", response.headers.get("Content-Type", "text/plain")),
                        ("Content-Length", str(len(response.content)))])
        return [response.content]

    def close(self) -> None:
        self.session.close()


class LoadBalancerApp:
    """An Application Load Balancer: 503 without a healthy target, else forward to the region's app."""

    def __init__(self, network: NetworkWorld, endpoint: Endpoint, backend: Callable[..., Iterable[bytes]]) -> None:
        self.network = network
        self.endpoint = endpoint
        self.backend = backend

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        with self.network.lock:
            serving = self.endpoint.is_healthy(self.network.emulation.world)
        if not serving:
            return _answer(start_response, 503, "Service Temporarily Unavailable (no healthy targets)",
                           "Service Temporarily Unavailable")
        return self.backend(environ, start_response)


class WebTier:
    """Load balancers on their addresses and the application behind each region's."""

    def __init__(self, network: NetworkWorld, topology: Topology, spec: WebSpec | None,
                 env_for: Callable[[str], dict[str, str]], folder: Path) -> None:
        self.network = network
        self.topology = topology
        self.spec = spec
        self.env_for = env_for
        self.folder = folder
        self.port = service_port(80)
        self.services: dict[str, ServiceProcess] = {}
        self._apps: list[Any] = []
        self._backends: dict[str, Callable[..., Iterable[bytes]]] = {}
        self._pending: list[tuple[str, ServiceProxy]] = []
        self._auto_start = False

    def start(self) -> WebTier:
        """Serve every load balancer that exists, and each one created from now on."""
        self.network.emulation.endpoint_listeners.append(self._endpoint_added)
        for endpoint in list(self.network.emulation.endpoints.values()):
            self._endpoint_added(endpoint)
        return self

    def _endpoint_added(self, endpoint: Endpoint) -> None:
        if endpoint.kind != "alb" or endpoint.address is not None:
            return
        region = endpoint.region
        endpoint.address = self.network.plan.allocate(region, endpoint.host)
        listener = Listener(endpoint.address, self.port, LoadBalancerApp(self.network, endpoint, self._backend(region)),
                            name=f"load balancer {endpoint.host}")
        self.network.add_listener(region, listener)

    def _backend(self, region: str) -> Callable[..., Iterable[bytes]]:
        if region in self._backends:
            return self._backends[region]
        backend: Any
        if self.spec is None:
            backend = BuiltInApp(self.topology, region)
        else:
            host = self.network.plan.allocate(region, f"service.{region}")
            log = self.folder / f"service-{region}.log"
            service = ServiceProcess(self.spec, region, host, service_port(SERVICE_PORT), {}, log)
            self.services[region] = service
            backend = ServiceProxy(service)
            if self._auto_start:  # a load balancer made during recovery: start its service at once
                self.topology.clock.call_later(0, functools.partial(self._start_service, region),
                                               name=f"start service {region}", unlocked=True)
        self._apps.append(backend)
        self._backends[region] = backend
        return backend  # type: ignore[no-any-return]

    def start_services(self) -> None:
        """Start the team's service in every region that has a load balancer (the topology serves)."""
        self._auto_start = True
        for region in list(self.services):
            self._start_service(region)

    def _start_service(self, region: str) -> None:
        service = self.services[region]
        if service.process is not None:
            return
        service.env = {**os.environ, **self.env_for(region)}
        with self.network.lock.released():
            service.start()

    def outputs(self) -> dict[str, str]:
        """The last lines each service printed, by region."""
        return {region: service.output(200) for region, service in self.services.items()}

    def stop(self) -> None:
        with contextlib.suppress(ValueError):
            self.network.emulation.endpoint_listeners.remove(self._endpoint_added)
        for service in self.services.values():
            service.stop()
        for app in self._apps:
            with contextlib.suppress(Exception):
                app.close()
