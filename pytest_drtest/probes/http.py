"""The application's request path over the network: DNS over UDP, then HTTP to the web tier.

Used when the emulated world is served on 127.0.0.0/8 (``--dr-backend=moto-server``): the probe
is a client like any other. It asks the world's DNS server for the topology's name (with the EDNS
client-subnet of its region, RFC 7871, so latency records answer for that region), keeps the
answer for its TTL on the clock, and speaks the probe protocol to the address it got:

- ``PUT /drtest/items/{key}`` with the payload as body: a 2xx answer is an acknowledged write;
- ``GET /drtest/items/{key}``: 200 with the payload, 404 when absent;
- optionally ``POST /drtest/items:read`` with ``{"keys": [...]}``: 200 with ``{"items": {key:
  payload or null}}``. The probe reads its acknowledged writes back this way after a run (in
  batches of :data:`READ_BATCH`); a service that answers it otherwise (404, 405, 501, or not with
  that JSON) is read key by key.

The region that answered is the one whose address block holds the address.

On a real account (``--dr-backend=aws``, the team's CloudFormation stack) the same path speaks to the
team's service: the name is resolved by the machine's resolver (:func:`system_lookup`), and the
region that answered is the one whose load balancer's name resolves to the address
(:class:`AccountRegions`).
"""
from __future__ import annotations

import functools
import json
import threading
import urllib.parse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import requests
import requests.adapters
from dnslib import QTYPE, DNSRecord

from pytest_drtest.measure import EdgeRead
from pytest_drtest.probes.app import AppUnavailable

if TYPE_CHECKING:
    from pytest_drtest.topology.model import Topology

DNS_TIMEOUT = 2.0
HTTP_TIMEOUT = (2.0, 30.0)  # connect, read (seconds of wall time)
READ_BATCH = 500  # keys per batch read
#: What a service without the batch read answers it (unknown path, method, or a server without POST).
NO_BATCH_READ = frozenset({400, 404, 405, 501})


def dns_lookup(name: str, server: tuple[str, int], *, client_subnet: str | None = None) -> tuple[list[str], float]:
    """The A addresses of ``name`` from ``server`` and the smallest TTL of the answer chain."""
    from pytest_drtest.gateway.dns import ecs_option

    query = DNSRecord.question(name, "A")
    if client_subnet:
        query.add_ar(ecs_option(client_subnet))
    try:
        reply = DNSRecord.parse(query.send(server[0], server[1], timeout=DNS_TIMEOUT))
    except OSError as exc:
        raise AppUnavailable(f"DNS: {server[0]}:{server[1]} did not answer for {name}: {exc}") from None
    addresses = [str(rr.rdata) for rr in reply.rr if rr.rtype == QTYPE.A]
    ttls = [rr.ttl for rr in reply.rr]
    return addresses, float(min(ttls)) if ttls else 0.0


def system_lookup(name: str) -> tuple[list[str], float]:
    """The A addresses of ``name`` from the machine's resolver (``/etc/resolv.conf``, through
    dnspython) and the smallest TTL of the answer chain."""
    import dns.exception
    import dns.resolver

    try:
        answer = dns.resolver.resolve(name, "A", lifetime=DNS_TIMEOUT)
    except (dns.exception.DNSException, OSError) as exc:
        raise AppUnavailable(f"DNS: no address for {name}: {type(exc).__name__}") from None
    ttls = [rrset.ttl for rrset in answer.response.answer] or [0]
    return [str(r) for r in answer], float(min(ttls))


class AccountRegions:
    """Which region an address belongs to on a real account: the region whose load balancer's DNS
    name resolves to it (each name's answer kept for its TTL on the clock)."""

    def __init__(self, topology: Topology, lookup: Callable[[str], tuple[list[str], float]] | None = None) -> None:
        self.topology = topology
        self.lookup = lookup or system_lookup
        self._answers: dict[str, tuple[list[str], float]] = {}

    def __call__(self, address: str) -> str | None:
        now = self.topology.clock.now()
        for stack in self.topology.regions.values():
            if not stack.alb_dns:
                continue
            kept = self._answers.get(stack.alb_dns)
            if kept is None or now >= kept[1]:
                try:
                    addresses, ttl = self.lookup(stack.alb_dns)
                except AppUnavailable:
                    addresses, ttl = [], 0.0
                kept = (addresses, now + ttl)
                self._answers[stack.alb_dns] = kept
            if address in kept[0]:
                return stack.region
        return None


class NamedHost(requests.adapters.HTTPAdapter):
    """HTTPS to an address the probe resolved itself, checked as ``hostname``: the TLS handshake
    names it (SNI) and the certificate must be for it, as when a client connects by name."""

    def __init__(self, hostname: str) -> None:
        self.hostname = hostname
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["server_hostname"] = self.hostname
        kwargs["assert_hostname"] = self.hostname
        super().init_poolmanager(*args, **kwargs)


def trust_store() -> str | bool:
    """The CA bundle of ``REQUESTS_CA_BUNDLE`` or ``SSL_CERT_FILE`` (a company's CA), else the default."""
    import os

    return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("SSL_CERT_FILE") or True


def _items(response: requests.Response) -> dict[str, str | None] | None:
    """The ``items`` of a batch read's answer, or None when it is not one."""
    try:
        items = response.json().get("items")
    except (ValueError, AttributeError):
        return None
    if not isinstance(items, dict) or not all(v is None or isinstance(v, str) for v in items.values()):
        return None
    return items


class HttpAppPath:
    """Reads and writes through the world's DNS and the web tier, like any client would."""

    network = True  # waits on the world's own threads: never run under the world lock

    def __init__(
        self,
        topology: Topology,
        dns: tuple[str, int] | None,
        *,
        client_region: str | None = None,
        region_of: Callable[[str], str | None],
        lock: Any = None,
        web_port: int = 80,
        subnet_of: Callable[[str], str] | None = None,
        lookup: Callable[[str], tuple[list[str], float]] | None = None,
        scheme: str = "http",
        by_name: bool = False,
    ) -> None:
        self.topology = topology
        self.dns = dns
        self.client_region = client_region or topology.primary_region
        self.region_of = region_of
        self.lock = lock
        self.web_port = web_port
        self.subnet = subnet_of(self.client_region) if subnet_of is not None else None
        if lookup is None:  # the world's DNS server at ``dns``, asked with the client's subnet
            assert dns is not None, "HttpAppPath: give the world's DNS server or a lookup"
            lookup = functools.partial(dns_lookup, server=dns, client_subnet=self.subnet)
        self.lookup: Callable[[str], tuple[list[str], float]] = lookup  # the resolver of the name
        self.session = requests.Session()  # not thread-safe: one request at a time
        self.session.trust_env = False  # loopback addresses: never through a proxy of the environment
        self.scheme = scheme
        # a real account: the request names the host (Host header; SNI and the certificate for HTTPS)
        self.by_name = by_name
        if scheme == "https":
            self.session.mount("https://", NamedHost(topology.fqdn))
            self.session.verify = trust_store()
        self._session_lock = threading.Lock()
        self._cache: dict[str, tuple[list[str], float]] = {}  # name -> (addresses, until), by the answer's TTL
        self.edge_reads: list[EdgeRead] = []  # reads through the topology's CloudFront distribution ([cdn])
        self._batch_reads: bool | None = None  # does the service answer the batch read? (None: not asked yet)

    def _released(self) -> Any:
        from contextlib import nullcontext

        return self.lock.released() if self.lock is not None else nullcontext()

    def _address(self, name: str | None = None) -> str:
        name = name or self.topology.fqdn
        now = self.topology.clock.now()
        cached = self._cache.get(name)
        if cached is not None and now < cached[1]:
            addresses = cached[0]
        else:
            with self._released():
                addresses, ttl = self.lookup(name)
            clock = self.topology.clock
            speed = getattr(clock, "speed", None)
            if speed is not None:  # on a paced clock the world's DNS gives TTLs in wall seconds
                ttl *= float(speed)
            if ttl > 0:
                self._cache[name] = (addresses, now + ttl)
            else:
                self._cache.pop(name, None)
        if not addresses:
            raise AppUnavailable(f"DNS: no address for {name}")
        return addresses[0]

    def _request(self, method: str, key: str, body: str | None = None) -> tuple[str, requests.Response]:
        return self._send(method, f"/drtest/items/{urllib.parse.quote(key, safe='')}", body)

    def _send(self, method: str, path: str, body: str | None = None) -> tuple[str, requests.Response]:
        address = self._address()
        default = 443 if self.scheme == "https" else 80
        port = "" if self.web_port == default else f":{self.web_port}"
        url = f"{self.scheme}://{address}{port}{path}"
        headers = {"Host": f"{self.topology.fqdn}{port}"} if self.by_name else None
        try:
            with self._released(), self._session_lock:
                response = self.session.request(method, url, data=body, headers=headers, timeout=HTTP_TIMEOUT)
        except requests.RequestException as exc:
            raise AppUnavailable(f"{address}: {type(exc).__name__}: connection failed") from None
        region = self.region_of(address) or address
        return region, response

    def put(self, key: str, payload: str) -> str:
        region, response = self._request("PUT", key, payload)
        if not 200 <= response.status_code < 300:
            raise AppUnavailable(f"HTTP {response.status_code}: {response.text[:200]}")
        return region

    def get(self, key: str) -> tuple[str, str | None]:
        """Read one item: through the topology's CloudFront distribution ([cdn], the emulated world's
        edge), else at the web record's load balancer."""
        if self.topology.cdn_domain is not None and not self.by_name:
            return self._get_through_edge(self.topology.cdn_domain, key)
        region, response = self._request("GET", key)
        if response.status_code == 404:
            return region, None
        if response.status_code != 200:
            raise AppUnavailable(f"HTTP {response.status_code}: {response.text[:200]}")
        return region, response.text

    def _get_through_edge(self, domain: str, key: str) -> tuple[str, str | None]:
        address = self._address(domain)
        port = "" if self.web_port == 80 else f":{self.web_port}"
        url = f"http://{address}{port}/drtest/items/{urllib.parse.quote(key, safe='')}"
        try:
            with self._released(), self._session_lock:
                response = self.session.get(url, headers={"Host": domain}, timeout=HTTP_TIMEOUT)
        except requests.RequestException as exc:
            raise AppUnavailable(f"{domain} ({address}): {type(exc).__name__}: connection failed") from None
        region = response.headers.get("X-Drtest-Origin-Region") or None
        self.edge_reads.append(EdgeRead(self.topology.clock.now(), response.status_code, region,
                                        response.headers.get("X-Drtest-Failed-Over") == "true",
                                        float(response.headers.get("X-Drtest-Connect-Seconds") or 0.0)))
        if response.status_code == 404 and region:
            return region, None
        if response.status_code != 200 or region is None:
            raise AppUnavailable(f"CloudFront {domain}: HTTP {response.status_code}: {response.text[:200]}")
        return region, response.text

    def read_all(self, keys: list[str]) -> tuple[str, dict[str, str | None]]:
        if self._batch_reads is not False and keys:
            read = self._read_in_batches(keys)
            if read is not None:
                return read
        found: dict[str, str | None] = {}
        region = ""
        for key in keys:
            region, found[key] = self.get(key)
        return region, found

    def _read_in_batches(self, keys: list[str]) -> tuple[str, dict[str, str | None]] | None:
        """``POST /drtest/items:read`` per :data:`READ_BATCH` keys; None if the service has no batch read."""
        found: dict[str, str | None] = {}
        region = ""
        for start in range(0, len(keys), READ_BATCH):
            batch = keys[start:start + READ_BATCH]
            region, response = self._send("POST", "/drtest/items:read", json.dumps({"keys": batch}))
            if response.status_code in NO_BATCH_READ and self._batch_reads is None:
                self._batch_reads = False
                return None
            if response.status_code != 200:
                raise AppUnavailable(f"HTTP {response.status_code}: {response.text[:200]}")
            items = _items(response)
            if items is None:
                if self._batch_reads is None:  # a service answering the path with something else
                    self._batch_reads = False
                    return None
                raise AppUnavailable(f'batch read: expected {{"items": {{key: payload}}}}, got {response.text[:200]!r}')
            self._batch_reads = True
            found.update({key: items.get(key) for key in batch})
        return region, found

    def close(self) -> None:
        self.session.close()
