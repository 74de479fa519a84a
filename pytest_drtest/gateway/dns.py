"""The emulated world's DNS server (dnslib): Route 53 answers and the world's endpoint names.

It answers, as a recursive resolver in front of Route 53 would:

- names in the hosted zones, as the Route 53 emulation routes them now (failover, weighted,
  latency records following their health checks), with the record's TTL; a CNAME answer carries
  the chain to the address, an alias answers the target's addresses directly;
- the world's endpoint names: load balancer DNS names (-> the region's web tier address, TTL
  60 s as ELB answers) and database instance, cluster and reader endpoints (-> their proxy
  addresses, TTL 5 s as RDS answers);
- anything else: NXDOMAIN (the emulated world has no way out).

A latency record is answered for the client's region: the EDNS client-subnet option (RFC 7871)
or the query's source address, when either is in a region's block of the address plan; else the
run's primary region.
"""
from __future__ import annotations

import contextlib
import ipaddress
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dnslib import CNAME, EDNS0, QTYPE, RCODE, RR, A, DNSRecord
from dnslib.server import BaseResolver, DNSHandler, DNSServer

from pytest_drtest.errors import DrError

log = logging.getLogger("pytest_drtest.gateway.dns")

ELB_TTL = 60  # ELB load balancer names (Elastic Load Balancing user guide)
RDS_TTL = 5  # RDS endpoint names (RDS user guide, "Multi-AZ DB instance failover" DNS)
MAX_CHAIN = 8


@dataclass(frozen=True)
class DnsAnswer:
    """What the world answers for one name: a chain of CNAMEs, then addresses; or an rcode."""

    rcode: str = "NOERROR"  # NOERROR or NXDOMAIN
    cnames: tuple[tuple[str, str, int], ...] = ()  # (name, target, ttl)
    addresses: tuple[tuple[str, str, int], ...] = ()  # (name, address, ttl)


class _Quiet:
    """A dnslib logger that logs through :mod:`logging` at debug level."""

    def log_recv(self, handler: Any, data: bytes) -> None: ...
    def log_send(self, handler: Any, data: bytes) -> None: ...
    def log_truncated(self, handler: Any, reply: Any) -> None: ...
    def log_data(self, dnsobj: Any) -> None: ...

    def log_request(self, handler: Any, request: Any) -> None:
        log.debug("query %s from %s", request.q, handler.client_address)

    def log_reply(self, handler: Any, reply: Any) -> None:
        log.debug("reply %s", reply.rr)

    def log_error(self, handler: Any, e: Exception) -> None:
        log.debug("bad query from %s: %s", handler.client_address, e)


class _Resolver(BaseResolver):  # type: ignore[misc]
    def __init__(self, answer: Callable[[str, str, str | None], DnsAnswer], region_of: Callable[[str], str | None],
                 on_error: Callable[[BaseException], None]) -> None:
        self.answer = answer
        self.region_of = region_of
        self.on_error = on_error

    def _client_region(self, request: DNSRecord, handler: DNSHandler) -> str | None:
        for rr in request.ar:
            if rr.rtype != QTYPE.OPT:
                continue
            for option in rr.rdata if isinstance(rr.rdata, list) else []:
                data = getattr(option, "data", b"")
                if getattr(option, "code", None) == 8 and len(data) >= 4 and data[1] == 1:  # ECS, IPv4
                    prefix = data[4:] + bytes(4 - len(data[4:]))
                    region = self.region_of(str(ipaddress.IPv4Address(prefix[:4])))
                    if region:
                        return region
        return self.region_of(str(handler.client_address[0]))

    def resolve(self, request: DNSRecord, handler: DNSHandler) -> DNSRecord:
        reply = request.reply()
        qname = str(request.q.qname).rstrip(".").lower()
        qtype = QTYPE[request.q.qtype]
        try:
            answer = self.answer(qname, str(qtype), self._client_region(request, handler))
        except Exception as exc:
            log.exception("DNS answer for %s %s failed", qname, qtype)
            self.on_error(exc)
            reply.header.rcode = RCODE.SERVFAIL
            return reply
        if answer.rcode == "NXDOMAIN":
            reply.header.rcode = RCODE.NXDOMAIN
            return reply
        for name, target, ttl in answer.cnames:
            reply.add_answer(RR(name, QTYPE.CNAME, rdata=CNAME(target), ttl=ttl))
        if qtype in ("A", "ANY"):
            for name, address, ttl in answer.addresses:
                reply.add_answer(RR(name, QTYPE.A, rdata=A(address), ttl=ttl))
        return reply


class DnsServer:
    """UDP and TCP DNS on ``host:port`` answering with ``answer(name, rtype, client_region)``."""

    def __init__(self, host: str, port: int, answer: Callable[[str, str, str | None], DnsAnswer], *,
                 region_of: Callable[[str], str | None], on_error: Callable[[BaseException], None]) -> None:
        self.host = host
        self.port = port
        self._resolver = _Resolver(answer, region_of, on_error)
        self._servers: list[DNSServer] = []
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for tcp in (False, True):
            try:
                server = DNSServer(self._resolver, address=self.host, port=self.port, tcp=tcp, logger=_Quiet())
            except OSError as exc:
                self.stop()
                raise DrError(
                    f"DNS server: cannot listen on {self.host}:{self.port} ({'TCP' if tcp else 'UDP'}): "
                    f"{exc.strerror or exc} (set DRTEST_ADDRESS_SLOT to another number)"
                ) from None
            thread = threading.Thread(target=server.server.serve_forever, kwargs={"poll_interval": 0.05},
                                      name=f"drtest-dns-{'tcp' if tcp else 'udp'}", daemon=True)
            thread.start()
            self._servers.append(server)
            self._threads.append(thread)

    def stop(self) -> None:
        for server in self._servers:
            with contextlib.suppress(Exception):
                server.server.shutdown()
            with contextlib.suppress(Exception):
                server.server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._servers.clear()
        self._threads.clear()


def ecs_option(address: str) -> EDNS0:
    """An EDNS0 record carrying the client-subnet option for ``address``/24 (for dnslib queries)."""
    from dnslib import EDNSOption

    octets = bytes(int(x) for x in address.split(".")[:3])
    return EDNS0(opts=[EDNSOption(8, bytes([0, 1, 24, 0]) + octets)])
