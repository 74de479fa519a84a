"""Measurement: the ledger of acknowledged writes, probe samples, RTO with phases, RPO with lost writes.

Definitions (DESIGN.md):
- RTO = time of the first probe success after the fault that starts a run of N consecutive
  successes, minus the fault time (0 when no probe failed).
- RPO = fault time minus the ack time of the EARLIEST acknowledged write that is missing after
  recovery (0 when none is missing): the data-loss window. ``lost_writes`` are the missing writes
  acknowledged up to the fault.
- Discarded writes = writes SENT after the fault that are missing after recovery (e.g. made to a
  damaged table that a restore then replaced): ``discarded_writes``, a figure of their own with
  their own objective (default: none), since they cannot show in a window before the fault. A
  write in flight at the fault (sent before it, acknowledged after: the store may have committed
  it before the fault struck, as a paced clock shows with a service's HTTP round trip) is a lost
  write; it counts in ``lost_writes`` but cannot widen the window (its ack is after the fault).
- Lost objects = the objects the topology wrote to its buckets (``Topology.objects``, a ledger of
  ``s3://<bucket>/<key>`` -> ETag) that the bucket the application reads after recovery does not
  hold with that ETag: acknowledged writes too, so they widen the RPO like lost items do
  (``lost_objects``; the JSON's ``lost_writes`` counts both).
- Conflict overwrites = acknowledged writes silently replaced by last writer wins: a write that
  reached another region after a later write to the same item had been taken there (a write of
  the other region that never saw it), so that every region discarded it. They are not lost
  writes (the ledger's last write of each key may still be what survives) and do not count in
  the RPO; DynamoDB global tables count them nowhere (DynamoDB developer guide, global tables).
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pytest_drtest.durations import format_duration


@dataclass(frozen=True)
class Milestone:
    t: float
    kind: str
    detail: str = ""


@dataclass
class Timeline:
    """Milestones of one experiment on the clock: fault, detection, failover, restore...

    ``observers`` are called with each milestone as it is added (the progress shown while a test runs).
    """

    events: list[Milestone] = field(default_factory=list)
    observers: list[Callable[[Milestone], None]] = field(default_factory=list, repr=False, compare=False)

    def add(self, t: float, kind: str, detail: str = "") -> None:
        milestone = Milestone(t, kind, detail)
        self.events.append(milestone)
        for observer in list(self.observers):
            observer(milestone)

    def first(self, kind: str, after: float | None = None) -> Milestone | None:
        for event in self.events:
            if event.kind == kind and (after is None or event.t >= after):
                return event
        return None


@dataclass(frozen=True)
class Write:
    """One acknowledged write: the key, its payload (None for a delete), the ack time, and the
    time its request was sent (None: the same as the ack)."""

    key: str
    payload: str | None
    ack_t: float
    seq: int
    sent_t: float | None = None

    def sent_after(self, t: float) -> bool:
        """True when the request left after clock time ``t`` (so it cannot have been committed before it)."""
        return (self.ack_t if self.sent_t is None else self.sent_t) > t


@dataclass
class Ledger:
    """Every acknowledged write of the application, in ack order."""

    writes: list[Write] = field(default_factory=list)

    def record(self, key: str, payload: str | None, ack_t: float, sent_t: float | None = None) -> Write:
        write = Write(key, payload, ack_t, len(self.writes) + 1, sent_t)
        self.writes.append(write)
        return write

    def state_as_of(self, t: float) -> dict[str, str]:
        """Key -> payload of the items that exist at clock time ``t``."""
        state: dict[str, str] = {}
        for write in self.writes:
            if write.ack_t > t:
                break
            if write.payload is None:
                state.pop(write.key, None)
            else:
                state[write.key] = write.payload
        return state

    def latest(self) -> dict[str, Write]:
        """The last write of every key."""
        last: dict[str, Write] = {}
        for write in self.writes:
            last[write.key] = write
        return last


@dataclass(frozen=True)
class Sample:
    """One probe tick through the application's path."""

    t: float
    write_ok: bool
    read_ok: bool
    region: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.write_ok and self.read_ok


@dataclass(frozen=True)
class StaleAnswer:
    """A probe read the application answered from its cache (DAX) with what the table no longer held:
    ``cause`` ``bypassed`` (the table changed around the cache: global-table replication, a restore's
    copy-back, another writer) or ``node-lag`` (the answering node had not received the primary
    node's newer entry yet); ``age_s``: how long the entry had been cached."""

    t: float
    key: str
    region: str
    cause: str
    age_s: float


@dataclass(frozen=True)
class EdgeRead:
    """A probe read through the topology's CloudFront distribution ([cdn]): the HTTP ``status`` the
    viewer got, the Region whose origin answered (None: none did), whether the origin group failed
    over, and ``seconds``: the modeled time CloudFront spent on connection attempts before it."""

    t: float
    status: int
    region: str | None
    failed_over: bool
    seconds: float


@dataclass
class Phases:
    """Milestones of a recovery, in seconds after the fault (None when not reached)."""

    detected: float | None = None  # first failed probe or health check unhealthy
    health_check_unhealthy: float | None = None
    failover: float | None = None  # DNS answer switched / promotion / restore done
    first_good_read: float | None = None
    first_good_write: float | None = None
    recovered: float | None = None

    def as_dict(self) -> dict[str, float | None]:
        return {k: (None if v is None else round(v, 3)) for k, v in self.__dict__.items()}


@dataclass
class Result:
    """What one experiment measured; users assert on it."""

    fault_t: float
    rto_s: float | None
    rpo_s: float
    lost_writes: list[Write]
    phases: Phases
    modeled: bool
    samples: int
    failed_samples: int
    milestones: list[Milestone] = field(default_factory=list)
    served_by: dict[str, int] = field(default_factory=dict)
    probe_samples: list[Sample] = field(default_factory=list)  # the ticks behind ``samples``, for pictures
    discarded_writes: list[Write] = field(default_factory=list)  # acknowledged after the fault, missing after recovery
    conflict_overwrites: list[Write] = field(default_factory=list)  # replaced by last writer wins, oldest first
    lost_objects: list[Write] = field(default_factory=list)  # the topology's objects missing after recovery, oldest first
    stale_reads: list[StaleAnswer] = field(default_factory=list)  # probe reads served stale by a cache (DAX), in order
    #: probe reads through the CloudFront distribution ([cdn]): ``edge_summary`` of them, None without one
    cdn: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        """Missing writes sent after the fault are discarded writes, not lost ones."""
        after = [w for w in self.lost_writes if w.sent_after(self.fault_t)]
        if after:
            self.lost_writes = [w for w in self.lost_writes if not w.sent_after(self.fault_t)]
            self.discarded_writes = sorted(self.discarded_writes + after, key=lambda w: w.ack_t)

    @property
    def recovered(self) -> bool:
        return self.rto_s is not None

    @property
    def lost_sequence_numbers(self) -> list[int]:
        return [w.seq for w in self.lost_writes]

    @property
    def lost_count(self) -> int:
        """Every acknowledged write recovery lost: items (``lost_writes``) and objects (``lost_objects``)."""
        return len(self.lost_writes) + len(self.lost_objects)

    @property
    def discarded_sequence_numbers(self) -> list[int]:
        return [w.seq for w in self.discarded_writes]

    def discarded_story(self) -> str:
        """``123 writes acknowledged after the fault discarded (+0.8 s to +3600.8 s)``, or ``""``."""
        gone = self.discarded_writes
        if not gone:
            return ""
        first, last = gone[0].ack_t - self.fault_t, gone[-1].ack_t - self.fault_t
        span = f"+{first:.1f} s" if len(gone) == 1 else f"+{first:.1f} s to +{last:.1f} s"
        return f"{len(gone)} write{'s' if len(gone) != 1 else ''} acknowledged after the fault discarded ({span})"

    @property
    def availability(self) -> Availability:
        """The share of the probed time in which the service answered (steady state included): each
        tick stands for the time until the next one, so a steady state probed sparsely weighs as
        much as it lasted (the last tick weighs one probe interval)."""
        ticks = self.probe_samples
        if len(ticks) < 2:
            return Availability(float(self.samples - self.failed_samples), float(self.samples))
        gaps = [b.t - a.t for a, b in itertools.pairwise(ticks)]
        positive = [g for g in gaps if g > 0]
        weights = gaps + [min(positive) if positive else 1.0]
        up = sum(w for tick, w in zip(ticks, weights, strict=True) if tick.ok)
        return Availability(up, sum(weights))

    def events(self) -> list[tuple[float, str, str]]:
        """Phases and milestones as ``(seconds after the fault, label, detail)``, in time order; at
        the same time, causes (detection, runbook milestones) before effects (failover, good probes)."""
        p = self.phases
        fault_detail = next((m.detail for m in self.milestones if m.kind == "fault" and m.t == self.fault_t), "")
        entries: list[tuple[float, int, str, str]] = [(0.0, 0, "fault", fault_detail)]
        for rank, label, value, detail in (
            (1, "detected", None if p.detected == p.health_check_unhealthy else p.detected, "first failed probe"),
            (2, "health check unhealthy", p.health_check_unhealthy, "Route 53"),
            (4, "failed over", p.failover, "probes served by another region or the restored copy"),
            (5, "first good read", p.first_good_read, "probes"),
            (6, "first good write", p.first_good_write, "probes"),
            (7, "recovered", p.recovered, "probes"),
        ):
            if value is not None:
                entries.append((value, rank, label, detail))
        for m in self.milestones:
            if m.t >= self.fault_t and m.kind != "fault":
                label = "runbook detected" if m.kind == "detected" else m.kind.replace("-", " ")
                entries.append((m.t - self.fault_t, 3, label, m.detail))
        entries.sort(key=lambda e: (e[0], e[1]))
        seen: set[tuple[float, str]] = set()
        ordered = []
        for t, _, label, detail in entries:
            if (round(t, 3), label) not in seen:
                seen.add((round(t, 3), label))
                ordered.append((t, label, detail))
        return ordered

    def story(self) -> str:
        """``fault at 0 s, detected +30.0 s, ..., first good write +212.0 s``: time order, seconds."""
        parts = []
        for t, label, _ in self.events():
            parts.append("fault at 0 s" if label == "fault" and t == 0 else f"{label} +{t:.1f} s")
        if self.rto_s is None:
            parts.append("never recovered")
        discarded = self.discarded_story()
        if discarded:
            parts.append(discarded)
        return ", ".join(parts)

    def summary(self) -> str:
        rto = "not recovered" if self.rto_s is None else format_duration(self.rto_s)
        text = f"RTO {rto}, RPO {format_duration(self.rpo_s)}, {len(self.lost_writes)} lost writes"
        if self.lost_objects:
            text += f", {len(self.lost_objects)} lost objects"
        if self.discarded_writes:
            text += f", {len(self.discarded_writes)} writes discarded after the fault"
        if self.conflict_overwrites:
            text += f", {len(self.conflict_overwrites)} conflict overwrites"
        if self.stale_reads:
            text += f", {len(self.stale_reads)} stale reads"
        if self.cdn and self.cdn.get("failed_over"):
            text += (f", {self.cdn['failed_over']} reads failed over by CloudFront "
                     f"(longest wait {format_duration(float(self.cdn['wait_s_max']))})")
        return text

    def as_dict(self) -> dict[str, Any]:
        """JSON-able; times in seconds after the fault. :meth:`from_dict` reads it back."""
        return {
            "rto_s": None if self.rto_s is None else round(self.rto_s, 3),
            "rpo_s": round(self.rpo_s, 3),
            "lost_writes": self.lost_count,
            "lost_sequence_numbers": self.lost_sequence_numbers[:MAX_LOST_IN_REPORT],
            "lost_objects": [w.key for w in self.lost_objects[:MAX_LOST_IN_REPORT]],
            "discarded_writes": len(self.discarded_writes),
            "discarded_sequence_numbers": self.discarded_sequence_numbers[:MAX_LOST_IN_REPORT],
            "conflict_overwrites": len(self.conflict_overwrites),
            "conflict_sequence_numbers": [w.seq for w in self.conflict_overwrites[:MAX_LOST_IN_REPORT]],
            "stale_reads": len(self.stale_reads),
            **({"cdn": dict(self.cdn)} if self.cdn is not None else {}),
            "modeled": self.modeled,
            "phases": self.phases.as_dict(),
            "samples": self.samples,
            "failed_samples": self.failed_samples,
            "availability": self.availability.as_dict(),
            "milestones": [{"t": round(m.t - self.fault_t, 3), "kind": m.kind, "detail": m.detail} for m in self.milestones],
            "served_by": dict(self.served_by),
            "timeline": {
                "fault_clock_s": round(self.fault_t, 3),
                "segments": [s.as_dict(self.fault_t) for s in segments(self.probe_samples)],
                "lost": [
                    {"seq": w.seq, "key": w.key, "t": round(w.ack_t - self.fault_t, 3)}
                    | ({} if w.sent_t is None else {"sent": round(w.sent_t - self.fault_t, 3)})
                    for w in self.lost_writes[:MAX_LOST_IN_REPORT]
                ],
                "lost_objects": [
                    {"key": w.key, "t": round(w.ack_t - self.fault_t, 3)} for w in self.lost_objects[:MAX_LOST_IN_REPORT]
                ],
                "discarded": [
                    {"seq": w.seq, "key": w.key, "t": round(w.ack_t - self.fault_t, 3)}
                    for w in self.discarded_writes[:MAX_LOST_IN_REPORT]
                ],
                "conflicts": [
                    {"seq": w.seq, "key": w.key, "t": round(w.ack_t - self.fault_t, 3)}
                    for w in self.conflict_overwrites[:MAX_LOST_IN_REPORT]
                ],
                "stale": [
                    {"key": r.key, "t": round(r.t - self.fault_t, 3), "region": r.region, "cause": r.cause,
                     "age": round(r.age_s, 3)}
                    for r in self.stale_reads[:MAX_LOST_IN_REPORT]
                ],
            },
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Result:
        """A result from :meth:`as_dict` (its times are relative to the fault at ``timeline.fault_clock_s``)."""
        timeline = data.get("timeline") or {}
        fault_t = float(timeline.get("fault_clock_s", 0.0))

        def writes(entries: list[dict[str, Any]], seqs: list[Any], default_t: float = 0.0) -> list[Write]:
            by_seq = {int(w["seq"]): w for w in entries}
            out = []
            for seq in seqs:
                entry = by_seq.get(int(seq), {})
                sent = None if "sent" not in entry else fault_t + float(entry["sent"])
                out.append(Write(str(entry.get("key", f"#{seq}")), None, fault_t + float(entry.get("t", default_t)), int(seq), sent))
            return out

        lost = writes(timeline.get("lost", []), data.get("lost_sequence_numbers", []), 0.0)
        # a discarded write whose entry was cut from the report still counts as after the fault
        discarded = writes(timeline.get("discarded", []), data.get("discarded_sequence_numbers", []), 1e-3)
        conflicts = writes(timeline.get("conflicts", []), data.get("conflict_sequence_numbers", []))
        object_t = {str(o["key"]): float(o.get("t", 0.0)) for o in timeline.get("lost_objects", [])}
        objects = [Write(str(key), None, fault_t + object_t.get(str(key), 0.0), n + 1)
                   for n, key in enumerate(data.get("lost_objects", []))]
        stale = [StaleAnswer(fault_t + float(r.get("t", 0.0)), str(r.get("key", "")), str(r.get("region", "")),
                             str(r.get("cause", "")), float(r.get("age", 0.0))) for r in timeline.get("stale", [])]
        phases = Phases(**{k: v for k, v in (data.get("phases") or {}).items() if k in Phases.__dataclass_fields__})
        samples: list[Sample] = []
        for seg in timeline.get("segments", []):
            samples.extend(Segment.from_dict(seg).expand(fault_t))
        return cls(
            fault_t=fault_t, rto_s=data.get("rto_s"), rpo_s=float(data.get("rpo_s", 0.0)), lost_writes=lost, phases=phases,
            modeled=bool(data.get("modeled", True)), samples=int(data.get("samples", 0)),
            failed_samples=int(data.get("failed_samples", 0)),
            milestones=[Milestone(fault_t + float(m["t"]), str(m["kind"]), str(m.get("detail", ""))) for m in data.get("milestones", [])],
            served_by={str(k): int(v) for k, v in (data.get("served_by") or {}).items()},
            probe_samples=samples, discarded_writes=discarded, conflict_overwrites=conflicts, lost_objects=objects,
            stale_reads=stale, cdn=dict(data["cdn"]) if isinstance(data.get("cdn"), dict) else None,
        )


def edge_summary(reads: list[EdgeRead]) -> dict[str, Any]:
    """What the probe's reads through CloudFront met: how many, how many the origin group failed
    over (sent on to the secondary origin, whatever it answered), how many the viewer got no
    answer for (a status other than 200 or 404), the modeled seconds spent on connection attempts
    (longest, total), and how many each Region's origin answered (200 or 404)."""
    waits = [r.seconds for r in reads]
    return {
        "reads": len(reads),
        "failed_over": sum(1 for r in reads if r.failed_over),
        "failed": sum(1 for r in reads if r.status not in (200, 404)),
        "wait_s_max": round(max(waits, default=0.0), 3),
        "wait_s_total": round(sum(waits), 3),
        "served_by": {region: sum(1 for r in reads if r.region == region and r.status in (200, 404))
                      for region in sorted({r.region for r in reads if r.region})},
    }


MAX_LOST_IN_REPORT = 1000


@dataclass(frozen=True)
class Availability:
    """Seconds the service answered out of the seconds probed: ``99.95% (3.3 nines)``."""

    ok: float
    total: float

    @property
    def ratio(self) -> float | None:
        return None if self.total == 0 else self.ok / self.total

    @property
    def nines(self) -> float | None:
        """``-log10(1 - ratio)``; None when nothing failed (infinitely many) or nothing was probed."""
        ratio = self.ratio
        if ratio is None or ratio >= 1.0:
            return None
        return -math.log10(1.0 - ratio)

    def __add__(self, other: Availability) -> Availability:
        return Availability(self.ok + other.ok, self.total + other.total)

    def describe(self) -> str:
        ratio = self.ratio
        if ratio is None:
            return "-"
        if ratio >= 1.0:
            return f"100% (all of {format_duration(self.total)} probed)"
        return f"{format_percent(ratio)} ({self.nines:.1f} nines)"

    def as_dict(self) -> dict[str, Any]:
        ratio = self.ratio
        return {"ok_s": round(self.ok, 3), "total_s": round(self.total, 3), "ratio": None if ratio is None else round(ratio, 6)}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Availability:
        data = data or {}
        return cls(float(data.get("ok_s", data.get("ok", 0))), float(data.get("total_s", data.get("total", 0))))


def format_percent(ratio: float) -> str:
    """``0.9995`` -> ``99.95%``; as many decimals as it takes not to round a failure up to 100%."""
    percent = ratio * 100.0
    decimals = 2
    while decimals < 6 and percent < 100.0 and round(percent, decimals) >= 100.0:
        decimals += 1
    return f"{percent:.{decimals}f}%"


def nines_of(ratio: float) -> float | None:
    return None if ratio >= 1.0 else -math.log10(1.0 - ratio)


@dataclass(frozen=True)
class Segment:
    """Consecutive probe ticks with the same outcome and serving region (run-length encoded samples)."""

    t0: float
    t1: float
    n: int
    write_ok: bool
    read_ok: bool
    region: str | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.write_ok and self.read_ok

    def as_dict(self, origin: float = 0.0) -> dict[str, Any]:
        return {
            "t0": round(self.t0 - origin, 3), "t1": round(self.t1 - origin, 3), "n": self.n,
            "write_ok": self.write_ok, "read_ok": self.read_ok, "region": self.region, "error": self.error,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Segment:
        return cls(
            float(data["t0"]), float(data["t1"]), int(data["n"]), bool(data["write_ok"]), bool(data["read_ok"]),
            data.get("region"), data.get("error"),
        )

    def expand(self, origin: float = 0.0) -> list[Sample]:
        """Evenly spaced samples standing for the segment's ticks (shifted by ``origin``)."""
        if self.n <= 1:
            return [Sample(origin + self.t0, self.write_ok, self.read_ok, self.region, self.error)]
        step = (self.t1 - self.t0) / (self.n - 1)
        return [Sample(origin + self.t0 + i * step, self.write_ok, self.read_ok, self.region, self.error) for i in range(self.n)]


def segments(samples: list[Sample]) -> list[Segment]:
    """Run-length encode ``samples`` by (write ok, read ok, region); keeps each run's first error."""
    out: list[Segment] = []
    for s in samples:
        last = out[-1] if out else None
        if last is not None and (last.write_ok, last.read_ok, last.region) == (s.write_ok, s.read_ok, s.region):
            out[-1] = Segment(last.t0, s.t, last.n + 1, last.write_ok, last.read_ok, last.region, last.error or _short(s.error))
        else:
            out.append(Segment(s.t, s.t, 1, s.write_ok, s.read_ok, s.region, _short(s.error)))
    return out


def _short(error: str | None) -> str | None:
    return None if error is None else error[:120]


def compute_rto(samples: list[Sample], fault_t: float, consecutive: int) -> tuple[float | None, Phases]:
    """RTO and the probe-side phases from the samples."""
    phases = Phases()
    after = [s for s in samples if s.t >= fault_t]
    first_fail = next((s for s in after if not s.ok), None)
    if first_fail is None:
        return (0.0 if after else None), phases
    phases.detected = first_fail.t - fault_t
    failed_from = after.index(first_fail)
    tail = after[failed_from:]
    phases.first_good_read = next((s.t - fault_t for s in tail if s.read_ok), None)
    phases.first_good_write = next((s.t - fault_t for s in tail if s.write_ok), None)
    pre_region = next((s.region for s in reversed(samples) if s.t < fault_t and s.ok), None)
    switched = next((s for s in tail if s.ok and s.region and s.region != pre_region), None)
    if switched is not None:
        phases.failover = switched.t - fault_t
    for i, sample in enumerate(tail):
        run = tail[i : i + consecutive]
        if len(run) == consecutive and all(s.ok for s in run):
            phases.recovered = sample.t - fault_t
            return sample.t - fault_t, phases
    return None, phases


def conflict_overwrites(ledger: Ledger, losers: list[tuple[str, str | None]]) -> list[Write]:
    """The acknowledged writes among ``losers`` — ``(key, payload)`` of each write the store
    discarded by last writer wins (a write the ledger never acknowledged is not one) — oldest first."""
    wanted = set(losers)
    return [w for w in ledger.writes if (w.key, w.payload) in wanted]


def object_key(logical: str, key: str) -> str:
    """The object ledger's name of ``key`` in the blueprint bucket ``logical``: ``s3://assets/seed/00001.json``."""
    return f"s3://{logical}/{key}"


def split_object_key(name: str) -> tuple[str, str]:
    """``s3://assets/seed/00001.json`` -> ``("assets", "seed/00001.json")`` (the inverse of :func:`object_key`)."""
    logical, _, key = name.removeprefix("s3://").partition("/")
    return logical, key


def lost_objects(objects: Ledger, present: dict[str, str | None]) -> list[Write]:
    """The objects whose last acknowledged write (an ETag) is not what the application's bucket
    holds now (``present``: object ledger key -> ETag or None), oldest first."""
    return sorted((w for key, w in objects.latest().items() if present.get(key) != w.payload), key=lambda w: w.ack_t)


def window(fault_t: float, *losses: list[Write]) -> float:
    """The RPO: fault time minus the earliest ack among the lost writes of every store (0 when none)."""
    acks = [w.ack_t for lost in losses for w in lost if not w.sent_after(fault_t)]
    return max(0.0, fault_t - min(acks)) if acks else 0.0


def compute_rpo(ledger: Ledger, present: dict[str, str | None], fault_t: float) -> tuple[float, list[Write]]:
    """RPO and the lost writes, given what the recovered store holds for every ledger key.

    A key is lost when its last acknowledged write is not what the store returns.
    """
    lost = []
    for key, write in ledger.latest().items():
        if present.get(key) != write.payload:
            lost.append(write)
    lost.sort(key=lambda w: w.ack_t)
    return window(fault_t, lost), lost
