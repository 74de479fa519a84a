"""The emulated world served on 127.0.0.0/8: a gateway per region, the global services' gateway,
the DNS server and the names it answers; started and stopped with the harness.

A lost region's gateway (and every listener of that region) stops listening: connections are
refused, whatever the client. In-process calls keep going through the emulation hub's botocore
hooks; both paths share one world (moto's state, the emulators, the clock, the world lock).
Errors raised in request threads go to the run's error sink (``clock.errors``), which fails the test.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_drtest.gateway.addresses import AddressPlan, service_port
from pytest_drtest.gateway.dns import ELB_TTL, MAX_CHAIN, RDS_TTL, DnsAnswer, DnsServer
from pytest_drtest.gateway.edge import EdgeApp
from pytest_drtest.gateway.gateway import GatewayApp
from pytest_drtest.gateway.server import Listener
from pytest_drtest.sink import ErrorSink

if TYPE_CHECKING:
    from pytest_drtest.backends.base import ClientFactory
    from pytest_drtest.emulation.core import Emulation

#: A plugin of the AWS CLI v1 (its documented ``[plugins]`` config section): the CLI replaces the
#: configured endpoint of a few services in us-east-1 (RDS, DocumentDB, Neptune, Health) by the
#: public one unless ``--endpoint-url`` is given; this keeps the configured endpoint.
AWSCLI_PLUGIN = """\
# AWS CLI v1 plugin of pytest-drtest: keep the configured endpoint where the CLI would replace it.
import os

_PUBLIC = ("https://rds.amazonaws.com", "https://health.us-east-1.amazonaws.com")


def _keep_configured(parsed_globals=None, **_):
    if parsed_globals is not None and getattr(parsed_globals, "endpoint_url", None) in _PUBLIC:
        if os.environ.get("DRTEST_KEEP_ENDPOINT") == "1":
            parsed_globals.endpoint_url = None


def awscli_initialize(cli):
    cli.register("operation-args-parsed", _keep_configured)
"""

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing"}
#: ``AWS_ENDPOINT_URL_<service id>`` of the global services (botocore's per-service variables).
CLOUDFRONT_SUFFIX = ".cloudfront.net"
#: The TTL of a distribution's name in the world's DNS (a minute: the model's choice)
EDGE_TTL = 60
GLOBAL_ENDPOINT_VARIABLES = {"route53": "ROUTE_53", "iam": "IAM", "sts": "STS", "cloudfront": "CLOUDFRONT"}


@dataclass(frozen=True)
class Name:
    """A name the DNS server answers itself: an endpoint's address and the TTL AWS gives it."""

    address: str
    ttl: int
    region: str


class NetworkWorld:
    """Gateways, DNS and the name table of one run."""

    def __init__(self, plan: AddressPlan, clients: ClientFactory, emulation: Emulation, *, primary: str) -> None:
        self.plan = plan
        self.clients = clients
        self.emulation = emulation
        self.primary = primary
        self.lock = emulation.lock
        self.errors: ErrorSink = emulation.clock.errors
        self.names: dict[str, Name] = {}
        self.gateway_port = service_port(80)
        self.dns_port = service_port(53)
        self.gateways: dict[str, Listener] = {region: self._gateway(region) for region in plan.regions}
        self.global_gateway = self._gateway(None)
        self.edge_app = EdgeApp(self)
        self.edge = Listener(plan.edge, self.gateway_port, self.edge_app, name="CloudFront edge",
                             on_error=self.errors.reporter("the CloudFront edge"))
        self.dns = DnsServer(plan.dns, self.dns_port, self.answer, region_of=plan.region_of,
                             on_error=self.errors.reporter("the DNS server"))
        self._region_listeners: dict[str, list[Listener]] = {}
        self._folder: Path | None = None
        self._started = False
        self._stop_hooks: list[Callable[[], None]] = []

    def _gateway(self, region: str | None) -> Listener:
        name = f"gateway {region}" if region else "gateway (global services)"
        on_error = self.errors.reporter(name)
        host = self.plan.gateway(region) if region else self.plan.global_gateway
        return Listener(host, self.gateway_port, GatewayApp(self.clients, region, on_error=on_error, emulation=self.emulation),
                        name=name,
                        on_error=on_error)

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> NetworkWorld:
        if self._started:
            return self
        self._started = True
        self._folder = Path(tempfile.mkdtemp(prefix="drtest-world-"))
        try:
            self.global_gateway.start()
            self.edge.start()
            for gateway in self.gateways.values():
                gateway.start()
            self.dns.start()
        except BaseException:
            self.stop()
            raise
        self.emulation.world.listeners.append(self._world_changed)
        return self

    def stop(self) -> None:
        """Stop every listener and server; remove the run's files. Idempotent."""
        with contextlib.suppress(ValueError):
            self.emulation.world.listeners.remove(self._world_changed)
        for hook in reversed(self._stop_hooks):
            with contextlib.suppress(Exception):
                hook()
        self._stop_hooks.clear()
        for listeners in self._region_listeners.values():
            for listener in listeners:
                listener.stop()
        self._region_listeners.clear()
        for gateway in self.gateways.values():
            gateway.stop()
        self.global_gateway.stop()
        self.edge.stop()
        with contextlib.suppress(Exception):
            self.edge_app.close()
        self.dns.stop()
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None
        self._started = False

    def on_stop(self, hook: Callable[[], None]) -> None:
        """Run ``hook`` when the world stops (newest first)."""
        self._stop_hooks.append(hook)

    def raise_errors(self) -> None:
        """Fail the test with what background threads of the world raised (see :class:`ErrorSink`)."""
        self.errors.raise_errors()

    def add_listener(self, region: str, listener: Listener) -> Listener:
        """A listener of ``region`` (e.g. a load balancer): started now if the region is up, taken
        away while the region is lost."""
        if listener.on_error is None:
            listener.on_error = self.errors.reporter(listener.name)
        self._region_listeners.setdefault(region, []).append(listener)
        if self.emulation.world.region_up(region):
            listener.start()
        return listener

    def listener_at(self, address: str) -> Listener | None:
        """The running listener of a region's endpoint at ``address`` (None: none, or taken away)."""
        for listeners in self._region_listeners.values():
            for listener in listeners:
                if listener.host == address and listener.running:
                    return listener
        return None

    def _world_changed(self, what: str, name: str) -> None:
        if what == "region-lost" and name in self.gateways:
            self.gateways[name].stop()
            for listener in self._region_listeners.get(name, []):
                listener.stop()
        elif what == "region-restored" and name in self.gateways:
            self.gateways[name].start()
            for listener in self._region_listeners.get(name, []):
                listener.start()

    # -- addresses -----------------------------------------------------------------------------------
    def gateway_url(self, region: str) -> str:
        return self.gateways[region].url if region in self.gateways else self._listener_url(self.plan.gateway(region))

    @property
    def dns_address(self) -> tuple[str, int]:
        return self.plan.dns, self.dns_port

    @property
    def folder(self) -> Path:
        assert self._folder is not None, "the emulated world is not started"
        return self._folder

    @property
    def global_url(self) -> str:
        return self.global_gateway.url

    def _listener_url(self, host: str) -> str:
        return f"http://{host}" if self.gateway_port == 80 else f"http://{host}:{self.gateway_port}"

    def add_name(self, name: str, address: str, *, ttl: int, region: str) -> None:
        """Answer ``name`` with ``address`` (an endpoint of the world)."""
        self.names[name.lower().rstrip(".")] = Name(address, ttl, region)

    # -- DNS -------------------------------------------------------------------------------------------
    def answer(self, name: str, rtype: str, client_region: str | None) -> DnsAnswer:
        """What the world's DNS answers for ``name``/``rtype`` to a client in ``client_region``.

        On a paced clock the TTLs are given in wall seconds (TTL / speed, at least 1 s): a client's
        cache then expires when the modeled TTL has passed."""
        with self.lock:
            answer = self._answer(name.lower().rstrip("."), rtype.upper(), client_region or self.primary)
        speed = getattr(self.emulation.clock, "speed", None)  # a paced clock (also before pacing starts)
        if speed is None:
            return answer

        def wall(ttl: int) -> int:
            return max(1, round(ttl / float(speed)))

        return DnsAnswer(answer.rcode, tuple((n, t, wall(ttl)) for n, t, ttl in answer.cnames),
                         tuple((n, a, wall(ttl)) for n, a, ttl in answer.addresses))

    def _own_name(self, name: str) -> Name | None:
        if name in self.names:
            return self.names[name]
        if name.endswith(CLOUDFRONT_SUFFIX) and self._distribution(name):
            return Name(self.plan.edge, EDGE_TTL, "")
        endpoint = self.emulation.endpoints.get(name)
        address = getattr(endpoint, "address", None) if endpoint is not None else None
        if endpoint is not None and address:
            return Name(address, RDS_TTL if endpoint.kind != "alb" else ELB_TTL, endpoint.region)
        return None

    def _distribution(self, name: str) -> bool:
        cloudfront: Any = self.emulation.services.get("cloudfront")
        try:
            return cloudfront is not None and bool(cloudfront.distribution(name))
        except KeyError:
            return False

    def _answer(self, name: str, rtype: str, region: str) -> DnsAnswer:
        route53: Any = self.emulation.services.get("route53")
        cnames: list[tuple[str, str, int]] = []
        current, shown_as = name, name  # an alias answers the target's addresses under its own name
        for _ in range(MAX_CHAIN):
            own = self._own_name(current)
            if own is not None:
                return DnsAnswer("NOERROR", tuple(cnames), ((shown_as, own.address, own.ttl),))
            if route53 is None:
                break
            found = route53.resolve(current, "CNAME" if rtype == "CNAME" else "A", region)
            if not found.values:
                if found.rcode == "NXDOMAIN" and not cnames:
                    return DnsAnswer("NXDOMAIN")
                break
            record = found.record or {}
            ttl = int(found.ttl)
            if record.get("AliasTarget"):
                target = found.values[0].lower().rstrip(".")
                own = self._own_name(target)
                if own is not None:
                    return DnsAnswer("NOERROR", tuple(cnames), ((shown_as, own.address, ttl or own.ttl),))
                current = target  # alias to a record of a zone: keep answering under the asked name
                continue
            if record.get("Type") == "A":
                return DnsAnswer("NOERROR", tuple(cnames), tuple((shown_as, v, ttl) for v in found.values))
            target = found.values[0].lower().rstrip(".")
            cnames.append((shown_as, target, ttl))
            if rtype == "CNAME":
                break
            current = shown_as = target
        return DnsAnswer("NOERROR", tuple(cnames))

    # -- environment of a child process ----------------------------------------------------------------
    def aws_env(self, region: str) -> dict[str, str]:
        """Variables pointing an AWS SDK and the AWS CLI (v1 and v2) at ``region`` of the world."""
        assert self._folder is not None, "the emulated world is not started"
        endpoint = self.gateway_url(region)
        config = self._folder / f"config-{region}"
        services = "\n".join(f"{service} =\n  endpoint_url = {self.global_url}" for service in GLOBAL_ENDPOINT_VARIABLES)
        config.write_text(
            f"[default]\nregion = {region}\noutput = json\nendpoint_url = {endpoint}\n"
            f"services = drtest-{region}\ns3 =\n  addressing_style = path\n\n"
            f"[services drtest-{region}]\n{services}\n\n[plugins]\ndrtest = drtest_awscli\n",
            encoding="utf-8",
        )
        (self._folder / "drtest_awscli.py").write_text(AWSCLI_PLUGIN, encoding="utf-8")
        credentials = self._folder / "credentials"
        credentials.write_text(
            "[default]\naws_access_key_id = testing\naws_secret_access_key = testing\naws_session_token = testing\n",
            encoding="utf-8",
        )
        env = {
            **CREDENTIALS,
            "AWS_DEFAULT_REGION": region,
            "AWS_REGION": region,
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_CONFIG_FILE": str(config),
            "AWS_SHARED_CREDENTIALS_FILE": str(credentials),
            "AWS_PROFILE": "default",
            "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_PAGER": "",
            "DRTEST_KEEP_ENDPOINT": "1",
            "PYTHONPATH": os.pathsep.join(p for p in (str(self._folder), os.environ.get("PYTHONPATH", "")) if p),
            "DRTEST_REGION": region,
            "DRTEST_DNS": self.plan.dns,
            "DRTEST_DNS_PORT": str(self.dns_port),
        }
        for variable in GLOBAL_ENDPOINT_VARIABLES.values():
            env[f"AWS_ENDPOINT_URL_{variable}"] = self.global_url
        return env
