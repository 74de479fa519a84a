"""The probe: every ``interval`` on the clock, one sequenced write and one read through the path."""
from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Self

import botocore.exceptions

from pytest_drtest.durations import parse_duration
from pytest_drtest.errors import DrConfigError
from pytest_drtest.measure import (
    Ledger,
    Result,
    Sample,
    StaleAnswer,
    Timeline,
    Write,
    compute_rpo,
    compute_rto,
    conflict_overwrites,
    edge_summary,
    lost_objects,
    object_key,
    split_object_key,
    window,
)
from pytest_drtest.probes.app import AppUnavailable

if TYPE_CHECKING:
    from pytest_drtest.clock import Clock, Scheduled
    from pytest_drtest.topology.model import Topology


class Probe:
    """Sequenced writes (a ledger of acknowledged writes) and reads through the application path.

    Use as a context manager: ticks start on entry and stop on exit. ``result()`` computes RTO
    (with phases) from the samples and RPO (with the lost writes) by reading every ledger key
    back through the path that serves now.
    """

    def __init__(
        self,
        clock: Clock,
        ledger: Ledger,
        timeline: Timeline,
        *,
        path: Any,
        topology: Topology | None = None,
        interval: float | str = 1.0,
        consecutive: int = 3,
        fault_time: Callable[[], float | None] = lambda: None,
        faults: Callable[[], list[Any]] = list,
        modeled: bool = True,
        prefix: str = "probe",
        health_transitions: Callable[[str], list[tuple[float, bool]]] | None = None,
        keys: int | None = None,
        conflicts: Callable[[], list[tuple[str, str | None]]] | None = None,
        in_flight: Callable[[], int] | None = None,
        stale_reads: Callable[[], list[StaleAnswer]] | None = None,
        answered_stale: Callable[[str, float], bool] | None = None,
    ) -> None:
        self.clock = clock
        self.topology = topology
        self.ledger = ledger
        self.timeline = timeline
        self.interval = parse_duration(interval, what="probe interval")
        if self.interval <= 0:
            raise ValueError("probe interval must be positive")
        if consecutive < 1:
            raise ValueError("consecutive must be at least 1")
        self.consecutive = consecutive
        if keys is not None and keys < 1:
            raise ValueError("keys must be at least 1")
        self.keys = keys  # None: a new key every tick; N: the ticks update N items in turn
        self._conflicts = conflicts  # (key, payload) of writes discarded by last writer wins (emulated)
        self._in_flight = in_flight  # replicated writes of the probe table not yet applied (emulated)
        self._stale_reads = stale_reads  # reads of the probe's keys a cache (DAX) answered stale (emulated)
        self._answered_stale = answered_stale  # (key, t): was the read of key at t answered stale by a cache?
        self.path = path
        self.samples: list[Sample] = []
        self._fault_time = fault_time
        self._faults = faults
        self._handle: Scheduled | None = None
        self._seq = 0
        self._last_key: str | None = None
        self.modeled = modeled
        self.prefix = prefix
        self._health_transitions = health_transitions
        self._lock = threading.RLock()
        self._thin_until = float("-inf")
        self._thin_every = 0.0
        self._last_tick = float("-inf")

    # -- running ---------------------------------------------------------------------------------
    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        if self._handle is None:
            # A quarter-second phase: probe writes never coincide with the whole-second restore
            # points and the on-the-hour backups they are compared with.
            first = self.clock.now() + self.interval - min(0.25, self.interval / 4)
            # a path over the network waits on the world's own threads: it must not hold the world lock
            unlocked = bool(getattr(self.path, "network", False))
            self._handle = self.clock.every(self.interval, self.tick, start=first, name="probe", unlocked=unlocked)

    def thin(self, *, until: float, every: float) -> None:
        """Tick only every ``every`` seconds before clock time ``until``, at the full interval after.

        For a steady state whose end (the fault) is known: until shortly before the fault nothing
        can change the outcome, and writes in flight when it strikes — what a region loss loses —
        are written at the full interval from ``until`` on."""
        self._thin_until, self._thin_every = until, every

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def close(self) -> None:
        """Stop ticking and close the path's database connections."""
        self.stop()
        close = getattr(self.path, "close", None)
        if close is not None:
            close()

    def tick(self) -> Sample | None:
        """One write of the next sequence number and one read, through the path (None: a tick
        left out by :meth:`thin`)."""
        now = self.clock.now()
        if now < self._thin_until and now - self._last_tick < self._thin_every - 1e-9:
            return None
        with self._lock:  # a paced clock ticks on its own thread while the test reads results
            self._last_tick = now
            return self._tick()

    def _tick(self) -> Sample:
        self._seq += 1
        now = self.clock.now()
        number = self._seq if self.keys is None else (self._seq - 1) % self.keys + 1
        key = f"{self.prefix}#{number:07d}"
        payload = f"{self._seq}@{now:.3f}"
        region = None
        error = None
        write_ok = read_ok = False
        try:
            region = self.path.put(key, payload)
            self.ledger.record(key, payload, self.clock.now(), sent_t=now)
            write_ok = True
            self._last_key = key
        except AppUnavailable as exc:
            error = str(exc)
        try:
            if write_ok:
                region, value = self.path.get(key)
                # a stale answer from the application's cache is served (counted in stale_reads), not an outage
                read_ok = value == payload or (self._answered_stale is not None and self._answered_stale(key, now))
                if not read_ok:
                    error = f"read {key}: got {value!r}"
            else:
                region, _ = self.path.get(self._last_key or key)
                read_ok = True
        except AppUnavailable as exc:
            error = error or str(exc)
        sample = Sample(now, write_ok, read_ok, region, error)
        self.samples.append(sample)
        return sample

    # -- waiting and results -------------------------------------------------------------------
    def recovered(self) -> bool:
        """True once N consecutive successes follow the fault (or no probe failed since)."""
        fault_t = self._fault_time()
        if fault_t is None:
            return bool(self.samples) and self.samples[-1].ok
        after = [s for s in self.samples if s.t >= fault_t]
        return len(after) >= self.consecutive and all(s.ok for s in after[-self.consecutive :])

    def wait_recovered(self, within: float | str = "1h") -> bool:
        """Let the clock run until recovered or ``within`` passes; return whether it recovered."""
        return self.clock.run_until(self.recovered, timeout=within, step=self.interval)

    def wait_converged(self, within: float | str = "1h") -> Result:
        """Measure after a failback: stop writing, let the clock run (polling every interval) until
        the tables of every region whose application has one agree on every ledger key (and, on
        an emulated backend, no replicated write is still on its way), or ``within`` passes, then
        compute :meth:`result`. Global tables converge once the writes held by an outage have
        propagated and last writer wins has settled every conflict (DynamoDB developer guide,
        global tables); the timeline notes ``converged`` (or ``not-converged``)."""
        if self.topology is None:
            raise DrConfigError("wait_converged compares the regions' tables of the built topology: "
                                "use a probe from dr.probe() without path=")
        self.stop()
        keys = sorted(self.ledger.latest())
        agreed = self.clock.run_until(lambda: self._regions_agree(keys), timeout=within, step=self.interval)
        tables = ", ".join(f"{r}:{t}" for r, t in self._tables().items())
        self.timeline.add(self.clock.now(), "converged" if agreed else "not-converged",
                          f"{len(keys)} ledger keys in {tables}")
        return self.result()

    def _tables(self) -> dict[str, str]:
        """Region -> the table its application reads (regions whose application has one)."""
        assert self.topology is not None
        config = self.topology.app_config
        return {region: str(config[region]["table"]) for region in self.topology.regions
                if config.get(region, {}).get("table")}

    def _regions_agree(self, keys: list[str]) -> bool:
        """Every region's table holds the same payload (or none) for every key; False while a
        region does not answer, or while replicated writes are on their way."""
        assert self.topology is not None
        if self._in_flight is not None and self._in_flight() > 0:
            return False
        hash_key = self.topology.blueprint.table(self.topology.probe_table).hash_key
        seen: list[dict[str, str | None]] = []
        for region, table in self._tables().items():
            client = self.topology.clients.client("dynamodb", region)
            found: dict[str, str | None] = dict.fromkeys(keys)
            try:
                for start in range(0, len(keys), 100):
                    request: dict[str, Any] = {table: {
                        "Keys": [{hash_key: {"S": k}} for k in keys[start : start + 100]], "ConsistentRead": True}}
                    while request:
                        response = client.batch_get_item(RequestItems=request)
                        for item in response["Responses"].get(table, []):
                            found[item[hash_key]["S"]] = item.get("payload", {}).get("S")
                        request = response.get("UnprocessedKeys") or {}
            except (botocore.exceptions.ClientError, botocore.exceptions.EndpointConnectionError):
                return False
            seen.append(found)
        return all(other == seen[0] for other in seen[1:])

    def result(self) -> Result:
        """RTO and phases from the samples; RPO and lost writes by reading the ledger back."""
        with self._lock:
            return self._result()

    def _result(self) -> Result:
        fault_t = self._fault_time()
        if fault_t is None:
            raise RuntimeError("no fault was injected: there is nothing to measure (dr.inject(...) first)")
        rto, phases = compute_rto(self.samples, fault_t, self.consecutive)
        latest = self.ledger.latest()
        region: str | None
        try:
            region, present = self.path.read_all(sorted(latest))
        except AppUnavailable:
            region, present = None, {}
        _, lost = compute_rpo(self.ledger, present, fault_t)
        objects = self._lost_objects(region)
        rpo = window(fault_t, lost, objects)
        health = self._health_check_unhealthy(fault_t)
        if health is not None:
            phases.health_check_unhealthy = health
            phases.detected = health if phases.detected is None else min(phases.detected, health)
        served: dict[str, int] = {}
        for s in self.samples:
            if s.ok and s.region:
                served[s.region] = served.get(s.region, 0) + 1
        milestones = [m for m in self.timeline.events if m.t >= fault_t]
        result = Result(
            fault_t=fault_t, rto_s=rto, rpo_s=rpo, lost_writes=lost, phases=phases, modeled=self.modeled,
            samples=len(self.samples), failed_samples=sum(1 for s in self.samples if not s.ok),
            milestones=milestones, served_by=served,
            conflict_overwrites=conflict_overwrites(self.ledger, self._conflicts()) if self._conflicts else [],
            lost_objects=objects, stale_reads=self._stale_since_start(), cdn=self._edge_reads(),
        )
        if any(getattr(f, "data_fault", False) for f in self._faults()):
            self._recovered_by_runbook(result)
        return result

    def _edge_reads(self) -> dict[str, Any] | None:
        """The summary of the reads through the topology's CloudFront distribution since the first
        tick (None when the path reads through none)."""
        reads = getattr(self.path, "edge_reads", None)
        if self.topology is None or self.topology.cdn_domain is None or reads is None:
            return None
        start = self.samples[0].t if self.samples else float("inf")
        return edge_summary([r for r in reads if r.t >= start])

    def _stale_since_start(self) -> list[StaleAnswer]:
        """The stale answers of the probe's keys since its first tick."""
        if self._stale_reads is None or not self.samples:
            return []
        start = self.samples[0].t
        return [r for r in self._stale_reads() if r.t >= start]

    def _lost_objects(self, region: str | None) -> list[Write]:
        """The topology's objects (``topology.objects``) that the buckets the application of
        ``region`` reads (:meth:`Topology.app_bucket`) do not hold with their acknowledged ETag:
        all of them when no region serves or the region has no copy of the bucket."""
        topology = self.topology
        if topology is None or not topology.objects.writes:
            return []
        present: dict[str, str | None] = {}
        if region is not None:
            prefixes = {split_object_key(name)[0] for name in topology.objects.latest()}
            s3 = topology.clients.client("s3", region)
            for logical in sorted(prefixes):
                bucket = topology.app_bucket(logical, region)
                if bucket is None:
                    continue
                try:
                    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
                        present.update((object_key(logical, o["Key"]), o["ETag"]) for o in page.get("Contents", []))
                except (botocore.exceptions.ClientError, botocore.exceptions.EndpointConnectionError):
                    continue
        return lost_objects(topology.objects, present)

    def _recovered_by_runbook(self, result: Result) -> None:
        """Probes cannot see corrupted data: after a data fault the service counts as recovered
        when the runbook repointed the application to the restored copy, or recovered the data in
        place (its last ``app-repointed``/``dns-switched``/``objects-recovered`` milestone); without
        one it never recovered."""
        marks = [m for m in self.timeline.events
                 if m.kind in ("app-repointed", "dns-switched", "objects-recovered") and m.t >= result.fault_t]
        if not marks:
            result.rto_s = None
            return
        done = marks[-1].t - result.fault_t
        result.phases.failover = done
        result.rto_s = max(result.rto_s or 0.0, done)
        result.phases.recovered = result.rto_s

    def _health_check_unhealthy(self, fault_t: float) -> float | None:
        if self.topology is None or self._health_transitions is None:
            return None
        check = self.topology.primary.health_check_id
        if check is None:
            return None
        for t, healthy in self._health_transitions(check):
            if t >= fault_t and not healthy:
                return t - fault_t
        return None
