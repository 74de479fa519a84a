"""Measurement: the ledger of acknowledged writes, probe samples, RTO with phases, RPO with lost writes.

Definitions (DESIGN.md):
- RTO = time of the first probe success after the fault that starts a run of N consecutive
  successes, minus the fault time (0 when no probe failed).
- RPO = fault time minus the ack time of the EARLIEST acknowledged write that is missing after
  recovery (0 when none is missing; writes acknowledged after the fault and lost count in
  ``lost_writes`` but cannot make the RPO negative).
"""
from __future__ import annotations

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
    """Milestones of one experiment on the clock: fault, detection, failover, restore..."""

    events: list[Milestone] = field(default_factory=list)

    def add(self, t: float, kind: str, detail: str = "") -> None:
        self.events.append(Milestone(t, kind, detail))

    def first(self, kind: str, after: float | None = None) -> Milestone | None:
        for event in self.events:
            if event.kind == kind and (after is None or event.t >= after):
                return event
        return None


@dataclass(frozen=True)
class Write:
    """One acknowledged write: the key, its payload (None for a delete) and the ack time."""

    key: str
    payload: str | None
    ack_t: float
    seq: int


@dataclass
class Ledger:
    """Every acknowledged write of the application, in ack order."""

    writes: list[Write] = field(default_factory=list)

    def record(self, key: str, payload: str | None, ack_t: float) -> Write:
        write = Write(key, payload, ack_t, len(self.writes) + 1)
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

    @property
    def recovered(self) -> bool:
        return self.rto_s is not None

    @property
    def lost_sequence_numbers(self) -> list[int]:
        return [w.seq for w in self.lost_writes]

    def story(self) -> str:
        """``fault at 0 s, detected +30 s, DNS failed over +150 s, first good write +212 s``."""
        parts = ["fault at 0 s"]
        p = self.phases
        for label, value in (
            ("detected", p.detected),
            ("health check unhealthy", p.health_check_unhealthy),
            ("failed over", p.failover),
            ("first good read", p.first_good_read),
            ("first good write", p.first_good_write),
        ):
            if value is not None:
                parts.append(f"{label} +{value:.1f} s")
        for m in self.milestones:
            if m.t >= self.fault_t and m.kind not in ("fault", "detected"):  # detection is a phase above
                parts.append(f"{m.kind} +{m.t - self.fault_t:.1f} s")
        if self.rto_s is None:
            parts.append("never recovered")
        return ", ".join(dict.fromkeys(parts))

    def summary(self) -> str:
        rto = "not recovered" if self.rto_s is None else format_duration(self.rto_s)
        return f"RTO {rto}, RPO {format_duration(self.rpo_s)}, {len(self.lost_writes)} lost writes"

    def as_dict(self) -> dict[str, Any]:
        return {
            "rto_s": None if self.rto_s is None else round(self.rto_s, 3),
            "rpo_s": round(self.rpo_s, 3),
            "lost_writes": len(self.lost_writes),
            "lost_sequence_numbers": self.lost_sequence_numbers[:1000],
            "modeled": self.modeled,
            "phases": self.phases.as_dict(),
            "samples": self.samples,
            "failed_samples": self.failed_samples,
            "milestones": [{"t": round(m.t - self.fault_t, 3), "kind": m.kind, "detail": m.detail} for m in self.milestones],
            "served_by": dict(self.served_by),
        }


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


def compute_rpo(ledger: Ledger, present: dict[str, str | None], fault_t: float) -> tuple[float, list[Write]]:
    """RPO and the lost writes, given what the recovered store holds for every ledger key.

    A key is lost when its last acknowledged write is not what the store returns.
    """
    lost = []
    for key, write in ledger.latest().items():
        if present.get(key) != write.payload:
            lost.append(write)
    lost.sort(key=lambda w: w.ack_t)
    if not lost:
        return 0.0, []
    return max(0.0, fault_t - lost[0].ack_t), lost
