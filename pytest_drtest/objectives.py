"""Recovery objectives and the assertion that fails with a readable story."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pytest_drtest.durations import parse_duration
from pytest_drtest.errors import ObjectiveMissed
from pytest_drtest.measure import Result


@dataclass(frozen=True)
class Objectives:
    """RTO and RPO in seconds (None: not asserted) and where they came from."""

    rto: float | None = None
    rpo: float | None = None
    source: str = ""

    @classmethod
    def parse(cls, rto: Any = None, rpo: Any = None, *, source: str = "") -> Objectives:
        return cls(
            None if rto is None else parse_duration(rto, what=f"{source or 'objectives'}: rto"),
            None if rpo is None else parse_duration(rpo, what=f"{source or 'objectives'}: rpo"),
            source,
        )

    def merged(self, other: Objectives) -> Objectives:
        """``other``'s values where set, else ours."""
        return Objectives(
            other.rto if other.rto is not None else self.rto,
            other.rpo if other.rpo is not None else self.rpo,
            other.source or self.source,
        )

    def as_dict(self) -> dict[str, float | None]:
        return {"rto_s": self.rto, "rpo_s": self.rpo}


def _s(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds != int(seconds) else f"{int(seconds)} s"


def failures(result: Result, objectives: Objectives) -> list[str]:
    """The objectives ``result`` misses, each as a sentence with its story."""
    missed = []
    if objectives.rto is not None:
        if result.rto_s is None:
            missed.append(f"RTO not reached: the service did not recover (objective {_s(objectives.rto)}) ({result.story()})")
        elif result.rto_s > objectives.rto:
            missed.append(f"RTO {result.rto_s:.1f} s exceeds objective {_s(objectives.rto)} ({result.story()})")
    if objectives.rpo is not None and result.rpo_s > objectives.rpo:
        lost = result.lost_writes
        shown = ", ".join(str(w.seq) for w in lost[:10]) + (" ..." if len(lost) > 10 else "")
        earliest = lost[0].ack_t - result.fault_t if lost else 0.0
        missed.append(
            f"RPO {result.rpo_s:.1f} s exceeds objective {_s(objectives.rpo)} ({len(lost)} lost writes, "
            f"sequence numbers {shown}; earliest acknowledged at {earliest:+.1f} s from the fault)"
        )
    return missed


def assert_objectives(result: Result, objectives: Objectives) -> None:
    """Raise :class:`ObjectiveMissed` listing every objective ``result`` misses."""
    missed = failures(result, objectives)
    if missed:
        raise ObjectiveMissed("; ".join(missed))
