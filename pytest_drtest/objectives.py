"""Recovery objectives, where each value came from, and the assertion that fails with a readable story.

Precedence, lowest first (each level overrides only the values it sets): the strategy's band, the
scenario file, the experiment, the resiliency policy's entry for the fault's disruption type
(``--dr-policy``), the ``@pytest.mark.dr`` marker, the ``assert_objectives(...)`` call.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pytest_drtest.durations import format_duration, parse_duration
from pytest_drtest.errors import DrConfigError, ObjectiveMissed
from pytest_drtest.measure import Result, format_percent, nines_of

FIGURES = ("rto", "rpo", "availability", "discarded")
#: Writes acknowledged after the fault that recovery may discard, when no level sets it: none.
DEFAULT_DISCARDED = 0
#: Levels a test's author states for that very test: a policy does not override them.
EXPLICIT_LEVELS = frozenset({"marker", "call"})
MARKER = "@pytest.mark.dr"
CALL = "assert_objectives"


def parse_availability(value: Any, *, what: str = "availability") -> float:
    """``"99.9%"`` (or a number of percent, ``99.9``) -> ``0.999``; anything else is a :class:`DrConfigError`."""
    percent: float | None = None
    if isinstance(value, str) and value.strip().endswith("%"):
        try:
            percent = float(value.strip()[:-1].strip())
        except ValueError:
            percent = None
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        percent = float(value)
    if percent is None:
        raise DrConfigError(f"{what}: expected a percentage like '99.9%', got {value!r}")
    if not 0.0 < percent <= 100.0:
        raise DrConfigError(f"{what}: expected a percentage in (0%, 100%], got {value!r}")
    return round(percent / 100.0, 12)


def parse_discarded(value: Any, *, what: str = "discarded") -> int:
    """A number of writes acknowledged after the fault that recovery may discard (``0``: none)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise DrConfigError(f"{what}: expected a number of writes (0 or more), got {value!r}")
    return value


def describe_availability(ratio: float) -> str:
    """``0.999`` -> ``99.90% (3.0 nines)``."""
    nines = nines_of(ratio)
    return format_percent(ratio) + ("" if nines is None else f" ({nines:.1f} nines)")


def _level_of(source: str) -> str:
    if source == MARKER:
        return "marker"
    if source == CALL:
        return "call"
    if source.endswith(" band"):
        return "band"
    return "scenario"


@dataclass(frozen=True)
class Objectives:
    """RTO and RPO in seconds, availability as a fraction (None: not asserted), the writes acknowledged
    after the fault that recovery may discard (None: the default, none), and their origins.

    ``level`` says where the values of this object were set (``band``, ``scenario``,
    ``experiment``, ``policy:<Type>``, ``marker``, ``call``); after :meth:`merged` each value keeps
    its own origin in ``origins``.
    """

    rto: float | None = None
    rpo: float | None = None
    source: str = ""
    availability: float | None = None
    level: str = ""
    origins: tuple[tuple[str, str], ...] = ()
    discarded: int | None = None

    @classmethod
    def parse(
        cls, rto: Any = None, rpo: Any = None, availability: Any = None, *, source: str = "", level: str = "",
        discarded: Any = None,
    ) -> Objectives:
        what = source or "objectives"
        return cls(
            None if rto is None else parse_duration(rto, what=f"{what}: rto"),
            None if rpo is None else parse_duration(rpo, what=f"{what}: rpo"),
            source,
            None if availability is None else parse_availability(availability, what=f"{what}: availability"),
            level,
            discarded=None if discarded is None else parse_discarded(discarded, what=f"{what}: discarded"),
        )

    @property
    def discarded_limit(self) -> int:
        """The writes acknowledged after the fault that recovery may discard (default: none)."""
        return DEFAULT_DISCARDED if self.discarded is None else self.discarded

    def origin(self, figure: str) -> str | None:
        """Where the value of ``figure`` (``rto``, ``rpo``, ``availability``, ``discarded``) came from; None if unset."""
        if getattr(self, figure) is None:
            return None
        for name, origin in self.origins:
            if name == figure:
                return origin
        return self.level or _level_of(self.source)

    def merged(self, other: Objectives) -> Objectives:
        """``other``'s values where set, else ours (each value keeps its origin)."""
        values: dict[str, Any] = {}
        origins: list[tuple[str, str]] = []
        for figure in FIGURES:
            mine, theirs = getattr(self, figure), getattr(other, figure)
            chosen = other if theirs is not None else self
            values[figure] = theirs if theirs is not None else mine
            origin = chosen.origin(figure)
            if origin is not None:
                origins.append((figure, origin))
        return Objectives(
            values["rto"], values["rpo"], other.source or self.source, values["availability"],
            other.level or self.level, tuple(origins), values["discarded"],
        )

    def under_policy(self, rto: float | None, rpo: float | None, level: str, source: str) -> Objectives:
        """The policy's RTO/RPO over every value not set explicitly (marker or call)."""
        values: dict[str, Any] = {"rto": self.rto, "rpo": self.rpo, "availability": self.availability,
                                  "discarded": self.discarded}
        origins = {f: o for f in FIGURES if (o := self.origin(f)) is not None}
        for figure, value in (("rto", rto), ("rpo", rpo)):
            if value is not None and origins.get(figure) not in EXPLICIT_LEVELS:
                values[figure] = value
                origins[figure] = level
        return Objectives(values["rto"], values["rpo"], source or self.source, values["availability"], self.level,
                          tuple(origins.items()), values["discarded"])

    def levels(self) -> str:
        """Short origin of the values for tables: ``experiment``, or ``policy:Region/band`` when RTO and RPO differ."""
        found = [o for f in ("rto", "rpo") if (o := self.origin(f)) is not None]
        unique = list(dict.fromkeys(found))
        return "/".join(unique) if unique else "-"

    def as_dict(self) -> dict[str, Any]:
        """JSON-able; ``discarded`` is the limit in force (the default, 0, has no source)."""
        sources = {f: self.origin(f) for f in FIGURES if getattr(self, f) is not None}
        return {
            "rto_s": self.rto,
            "rpo_s": self.rpo,
            "availability": self.availability,
            "discarded": self.discarded_limit,
            "sources": sources,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Objectives:
        sources = {str(f): str(o) for f, o in (data.get("sources") or {}).items()}
        discarded = data.get("discarded") if "discarded" in sources else None  # no source: the default
        return cls(
            data.get("rto_s"), data.get("rpo_s"), "", data.get("availability"), "",
            tuple(sources.items()), None if discarded is None else int(discarded),
        )


def _s(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds != int(seconds) else f"{int(seconds)} s"


def failures(result: Result, objectives: Objectives) -> list[str]:
    """The objectives ``result`` misses, each as a sentence with its story (every time in seconds)."""
    missed = []
    if objectives.rto is not None:
        if result.rto_s is None:
            missed.append(f"RTO not reached: the service did not recover (objective {_s(objectives.rto)}) ({result.story()})")
        elif result.rto_s > objectives.rto:
            missed.append(f"RTO {result.rto_s:.1f} s exceeds objective {_s(objectives.rto)} ({result.story()})")
    if objectives.rpo is not None and result.rpo_s > objectives.rpo:
        lost, objects = result.lost_writes, result.lost_objects
        parts = []
        if lost or not objects:
            shown = ", ".join(str(w.seq) for w in lost[:10]) + (" ..." if len(lost) > 10 else "")
            parts.append(f"{len(lost)} lost writes, sequence numbers {shown}")
        if objects:
            named = ", ".join(w.key for w in objects[:5]) + (" ..." if len(objects) > 5 else "")
            parts.append(f"{len(objects)} lost object{'s' if len(objects) != 1 else ''}: {named}")
        acks = [w.ack_t for w in lost + objects]
        earliest = min(acks) - result.fault_t if acks else 0.0
        missed.append(
            f"RPO {result.rpo_s:.1f} s exceeds objective {_s(objectives.rpo)} ({'; '.join(parts)}; "
            f"earliest acknowledged at {earliest:+.1f} s from the fault)"
        )
    discarded, limit = result.discarded_writes, objectives.discarded_limit
    if len(discarded) > limit:
        shown = ", ".join(str(w.seq) for w in discarded[:10]) + (" ..." if len(discarded) > 10 else "")
        allowed = "none" if limit == 0 else f"at most {limit}"
        missed.append(
            f"{result.discarded_story()}, objective {allowed} (sequence numbers {shown}: acknowledged to the "
            "application after the fault, missing from the recovered store)"
        )
    availability = result.availability
    if objectives.availability is not None and availability.ratio is not None and availability.ratio < objectives.availability:
        missed.append(
            f"availability {availability.describe()} below objective {describe_availability(objectives.availability)} "
            f"(down {format_duration(availability.total - availability.ok)} of {format_duration(availability.total)} probed)"
        )
    return missed


def assert_objectives(result: Result, objectives: Objectives) -> None:
    """Raise :class:`ObjectiveMissed` listing every objective ``result`` misses."""
    missed = failures(result, objectives)
    if missed:
        raise ObjectiveMissed("; ".join(missed))
