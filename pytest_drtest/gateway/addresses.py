"""Where the emulated world listens: one loopback block per region, documented and stable.

Every address is in 127.0.0.0/8 (any of them binds on Linux without configuration)::

    127.S.R.1        the AWS endpoint (gateway) of region R of the run (R = 1 primary, 2 DR)
    127.S.250.1      the gateway of the global services (Route 53, IAM, STS, CloudFront)
    127.S.250.2      the CloudFront edge: every distribution's ``*.cloudfront.net`` name
    127.S.250.53     the DNS server
    127.S.R.10-249   the region's endpoints, given out in creation order: load balancers (the
                     web tier), database instance, cluster and reader endpoints (port 5432), the
                     team's service processes

``S`` is the run's slot: ``DRTEST_ADDRESS_SLOT`` (default 0) plus the pytest-xdist worker
number (``gw3`` -> 3); without ``DRTEST_ADDRESS_SLOT``, the next free one if another run holds it. A run claims its slot by binding 127.S.250.250:9
for as long as it lasts, so that two runs on one machine never share addresses. Privileged ports (53, 80) are used where this process may bind them
(root, or ``net.ipv4.ip_unprivileged_port_start``), else the same port + 8000 (8053, 8080).
"""
from __future__ import annotations

import os
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pytest_drtest.errors import DrConfigError

GLOBAL_BLOCK = 250
FIRST_HOST = 10
LAST_HOST = 249
DB_PORT = 5432
SERVICE_PORT = 8000  # the port a team's service listens on, behind its load balancer


def _unprivileged_start() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_unprivileged_port_start").read_text().strip())
    except (OSError, ValueError):
        return 1024


def service_port(port: int) -> int:
    """``port`` if this process may bind it, else ``port + 8000`` (privileged ports need root)."""
    if port >= _unprivileged_start() or (hasattr(os, "geteuid") and os.geteuid() == 0):
        return port
    return port + 8000


SENTINEL = (250, 250, 9)  # 127.S.250.250:9 is held by the run that owns slot S


def claim_slot(environ: Mapping[str, str] | None = None) -> tuple[int, socket.socket]:
    """Claim the run's slot: ``(S, the socket that holds it)``; close the socket to release it.

    With ``DRTEST_ADDRESS_SLOT`` the preferred slot (:func:`run_slot`) is taken as it is (an error
    if another run holds it); without it, the first free slot from the preferred one on."""
    env = os.environ if environ is None else environ
    preferred = run_slot(env)
    given = bool(env.get("DRTEST_ADDRESS_SLOT"))
    for slot in [preferred] if given else [*range(preferred, 256), *range(preferred)]:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind((f"127.{slot}.{SENTINEL[0]}.{SENTINEL[1]}", SENTINEL[2]))
        except OSError:
            sock.close()
            continue
        return slot, sock
    raise DrConfigError(
        f"address slot {preferred} (DRTEST_ADDRESS_SLOT={env.get('DRTEST_ADDRESS_SLOT')}): another run holds "
        f"127.{preferred}.250.250:9; pick another slot"
        if given else "no free address slot in 127.0.0.0/8 (256 runs at once?)"
    )


def run_slot(environ: Mapping[str, str] | None = None) -> int:
    """The preferred slot ``S``: ``DRTEST_ADDRESS_SLOT`` (default 0) plus the pytest-xdist worker
    number (``gw3`` -> 3), so that each worker of a run has its own block."""
    env = os.environ if environ is None else environ
    base = 0
    given = env.get("DRTEST_ADDRESS_SLOT")
    if given:
        try:
            base = int(given)
        except ValueError:
            base = -1
        if not 0 <= base <= 255:
            raise DrConfigError(f"DRTEST_ADDRESS_SLOT: expected an integer 0-255, got {given!r}")
    worker = env.get("PYTEST_XDIST_WORKER", "")
    if worker.startswith("gw") and worker[2:].isdigit():
        base += int(worker[2:])
    return base % 256


@dataclass
class AddressPlan:
    """The addresses of one run's emulated world (see the module docstring)."""

    regions: Sequence[str]
    slot: int = 0
    _blocks: dict[str, int] = field(default_factory=dict)
    _given: dict[tuple[str, str], str] = field(default_factory=dict)
    _next: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for region in self.regions:
            self.block(region)

    def block(self, region: str) -> int:
        """The third octet of ``region``: 1, 2 in the run's order, then the next free numbers."""
        if region not in self._blocks:
            number = len(self._blocks) + 1
            if number >= GLOBAL_BLOCK:
                raise DrConfigError(f"too many regions for the address plan (at {region!r})")
            self._blocks[region] = number
        return self._blocks[region]

    def _address(self, block: int, host: int) -> str:
        return f"127.{self.slot}.{block}.{host}"

    def gateway(self, region: str) -> str:
        """The AWS endpoint address of ``region``."""
        return self._address(self.block(region), 1)

    @property
    def global_gateway(self) -> str:
        return self._address(GLOBAL_BLOCK, 1)

    @property
    def edge(self) -> str:
        """The CloudFront edge's address (viewer requests to every distribution)."""
        return self._address(GLOBAL_BLOCK, 2)

    @property
    def dns(self) -> str:
        return self._address(GLOBAL_BLOCK, 53)

    def allocate(self, region: str, name: str) -> str:
        """The address of endpoint ``name`` in ``region`` (the same name gets the same address)."""
        key = (region, name.lower().rstrip("."))
        if key not in self._given:
            host = self._next.get(region, FIRST_HOST)
            if host > LAST_HOST:
                raise DrConfigError(f"{region}: more than {LAST_HOST - FIRST_HOST + 1} endpoints in one region")
            self._next[region] = host + 1
            self._given[key] = self._address(self.block(region), host)
        return self._given[key]

    def region_of(self, address: str) -> str | None:
        """The region whose block holds ``address`` (None for the global block or a foreign one)."""
        parts = address.split(".")
        if len(parts) != 4 or parts[0] != "127" or parts[1] != str(self.slot):
            return None
        for region, block in self._blocks.items():
            if parts[2] == str(block):
                return region
        return None

    def describe(self) -> list[tuple[str, str]]:
        """``(what, address)`` rows of the map, for docs and reports."""
        rows = [("global services", self.global_gateway), ("CloudFront edge", self.edge), ("DNS", self.dns)]
        rows += [(f"{region} gateway", self.gateway(region)) for region in self._blocks]
        rows += [(f"{name} ({region})", address) for (region, name), address in self._given.items()]
        return rows
