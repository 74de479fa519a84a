"""What a harness's probes are wired to: the application path (over the network when the world is
served, else in-process), the emulation's last-writer-wins losers and replication backlog of the
probe table, the stale answers of the application's DAX clusters, and the probe's error rate
published to CloudWatch for alarms and FIS stop conditions."""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_drtest.harness import Harness
    from pytest_drtest.measure import StaleAnswer
    from pytest_drtest.probes.probe import Probe
    from pytest_drtest.topology.model import Topology


def reach_of(harness: Harness) -> Any:
    """How in-process paths reach the emulated world (None without an emulation)."""
    from pytest_drtest.gateway.inprocess import InProcessReach

    return InProcessReach(harness.emulation) if harness.emulation is not None else None


def app_path(harness: Harness, topology: Topology, client_region: str | None) -> Any:
    """The built-in application path: over the network when the world is served, else in-process; on a
    real account, HTTP to the team's service at the web record's name."""
    if harness.network is not None:
        from pytest_drtest.probes.http import HttpAppPath

        return HttpAppPath(topology, harness.network.dns_address, client_region=client_region,
                           region_of=harness.network.plan.region_of, lock=harness.clock.lock,
                           web_port=harness.web.port if harness.web is not None else 80, subnet_of=harness.network.plan.gateway)
    if harness.emulation is None:  # a real account: the team's service behind the web record, found by DNS
        from pytest_drtest.probes import http

        protocol, port = topology.primary.listener or ("HTTP", 80)
        return http.HttpAppPath(topology, None, client_region=client_region, lookup=http.system_lookup,
                                region_of=http.AccountRegions(topology, http.system_lookup), web_port=port,
                                scheme="https" if protocol.upper() == "HTTPS" else "http", by_name=True)
    from pytest_drtest.probes.app import AppPath

    return AppPath(topology, reach_of(harness), client_region)


def dax_connect(harness: Harness, topology: Topology) -> Callable[[str, str], Any]:
    """``(region, cluster) -> client`` of the emulated DAX cluster in front of the region's DynamoDB
    (the application's DAX data path; :attr:`Topology.dax_connect`)."""

    def connect(region: str, cluster: str) -> Any:
        from pytest_drtest.emulation.dax import DaxEmulator

        assert harness.emulation is not None
        return harness.emulation.find(DaxEmulator).client(region, cluster, topology.clients.client("dynamodb", region))

    return connect


def lww_losers(harness: Harness, topology: Topology) -> list[tuple[str, str | None]]:
    """``(key, payload)`` of the probe table's writes discarded by last writer wins."""
    from pytest_drtest.emulation.dynamodb import DynamoDbEmulator

    assert harness.emulation is not None
    table = topology.primary.tables.get(topology.probe_table)
    hash_key = topology.blueprint.table(topology.probe_table).hash_key
    losers = harness.emulation.find(DynamoDbEmulator).conflicts(table) if table else []
    return [(str(c["key"][hash_key]["S"]), (c["item"] or {}).get("payload", {}).get("S")) for c in losers]


def stale_reads(harness: Harness, topology: Topology, prefix: str) -> list[StaleAnswer]:
    """The reads of the probe's keys (``<prefix>#...``) that a DAX cluster of the topology answered
    stale, in time order ([DDB-DG:DAX.consistency]; the DAX emulator keeps each one)."""
    from pytest_drtest.emulation.dax import DaxEmulator
    from pytest_drtest.measure import StaleAnswer

    assert harness.emulation is not None
    stacks = [s for s in topology.regions.values() if s.dax is not None]
    if not stacks:
        return []
    emulator = harness.emulation.find(DaxEmulator)
    hash_key = topology.blueprint.table(topology.probe_table).hash_key
    found = []
    for stack in stacks:
        assert stack.dax is not None
        for read in emulator.stale_reads(stack.region, stack.dax):
            key = str(read["key"].get(hash_key, {}).get("S", ""))
            if key.startswith(f"{prefix}#"):
                found.append(StaleAnswer(float(read["t"]), key, stack.region, str(read["cause"]), float(read["age"])))
    return sorted(found, key=lambda r: r.t)


def answered_stale(harness: Harness, topology: Topology, key: str, t: float) -> bool:
    """Whether a DAX cluster of the topology answered its latest read, at clock time ``t``, with a
    stale entry of the probe key ``key`` (cheap: the clusters' last stale read only)."""
    from pytest_drtest.emulation.dax import DaxEmulator

    assert harness.emulation is not None
    hash_key = topology.blueprint.table(topology.probe_table).hash_key
    emulator = harness.emulation.find(DaxEmulator)
    for stack in topology.regions.values():
        if stack.dax is None:
            continue
        stale = emulator.cluster(stack.region, stack.dax).stale
        if stale and stale[-1].t == t and stale[-1].key.get(hash_key, {}).get("S") == key:
            return True
    return False


def replicating(harness: Harness, topology: Topology) -> int:
    """Replicated writes of the probe table not yet applied (in flight or held)."""
    from pytest_drtest.emulation.dynamodb import DynamoDbEmulator

    assert harness.emulation is not None
    table = topology.primary.tables.get(topology.probe_table)
    return harness.emulation.find(DynamoDbEmulator).pending_replication(table) if table else 0


def publish_error_rate(harness: Harness, probe: Probe) -> Any:
    """The probe's error rate as a CloudWatch metric (``DrTest/Probe`` ``ErrorRate``) for alarms."""
    from pytest_drtest.emulation.cloudwatch import CloudWatchEmulator, ProbeMetrics

    if harness.emulation is None:
        if harness.backend.emulated or harness.clients is None:
            return None
        # on aws the FIS stop alarm watches what this publishes
        from pytest_drtest.backends.aws_faults import AccountProbeMetrics

        return AccountProbeMetrics(harness.clock, harness.clients.client("cloudwatch", harness.regions[0]),
                                   lambda: probe.samples, probe=probe.prefix)
    try:
        emulator = harness.emulation.find(CloudWatchEmulator)
    except KeyError:
        return None
    return ProbeMetrics(emulator, lambda: probe.samples, region=harness.regions[0], probe=probe.prefix)
