"""Compare a run with a previous JSON report, and gate on regressions (``--dr-compare``, ``--dr-gate``).

Experiments are matched by their stable id: ``<scenario>::<experiment>`` for scenario items (the same
from any folder and any plugin version), the pytest node id for your own tests. A rule is
``METRIC:THRESHOLD``:

- ``rto:10%`` — the RTO may grow by at most 10 % of the previous one (from 0, any growth regresses);
- ``rto:30s`` / ``rpo:0`` — by at most that duration (a plain number is seconds);
- ``lost_writes:0`` (or ``lost_writes:10%``) — lost writes may not grow (by more than that);
- ``availability:0.1%`` — availability may drop by at most 0.1 percentage points.

An experiment that recovered before and does not now regresses under any ``rto`` rule.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_drtest.durations import format_duration, parse_duration
from pytest_drtest.errors import DrConfigError
from pytest_drtest.measure import Availability, format_percent
from pytest_drtest.report import display_id

METRICS = ("rto", "rpo", "lost_writes", "availability")
_NUMBER = re.compile(r"^\d+(?:\.\d+)?$")


@dataclass(frozen=True)
class GateRule:
    """How far one figure may regress against the previous run."""

    metric: str
    threshold: float  # a fraction when relative; seconds, writes or percentage points otherwise
    relative: bool
    text: str

    def regression(self, then: float | None, now: float | None) -> str | None:
        """Why ``now`` regresses beyond this rule against ``then`` (None when it does not)."""
        if then is None:
            return None  # nothing to compare with (not measured, or never recovered before)
        if self.metric == "availability":
            if now is None:
                return None
            drop = (then - now) * 100.0
            return f"dropped {drop:.3g} points" if drop > self.threshold + 1e-9 else None
        if now is None:  # rto: did not recover this time
            return "did not recover"
        if self.relative:
            if now > then * (1.0 + self.threshold) + 1e-9:
                return "from 0" if then == 0 else f"{(now - then) / then:+.1%}"
            return None
        return f"+{_fmt(self.metric, now - then)}" if now - then > self.threshold + 1e-9 else None


def parse_rule(text: str, *, option: str = "--dr-gate") -> GateRule:
    """``rto:10%`` -> :class:`GateRule`; a :class:`DrConfigError` naming ``option`` and quoting ``text`` otherwise."""
    expected = (
        f"expected METRIC:THRESHOLD with METRIC one of {', '.join(METRICS)} "
        "(e.g. rto:10%, rto:30s, rpo:0, lost_writes:0, availability:0.1%)"
    )
    metric, sep, raw = text.strip().partition(":")
    metric = metric.strip().lower()
    raw = raw.strip()
    if not sep or metric not in METRICS:
        raise DrConfigError(f"{option}: unknown rule {text!r}; {expected}")
    if metric == "availability":
        number = raw[:-1].strip() if raw.endswith("%") else raw
        if not _NUMBER.match(number):
            raise DrConfigError(f"{option}: bad number {raw!r} in {text!r}; expected percentage points like availability:0.1%")
        return GateRule(metric, float(number), False, text.strip())
    if raw.endswith("%"):
        number = raw[:-1].strip()
        if not _NUMBER.match(number):
            raise DrConfigError(f"{option}: bad number {raw!r} in {text!r}; expected a percentage like {metric}:10%")
        return GateRule(metric, float(number) / 100.0, True, text.strip())
    if metric == "lost_writes":
        if not raw.isdigit():
            raise DrConfigError(f"{option}: bad number {raw!r} in {text!r}; expected a count like lost_writes:0 or a percentage")
        return GateRule(metric, float(raw), False, text.strip())
    try:
        seconds = parse_duration(raw if not _NUMBER.match(raw) else float(raw), what=option)
    except DrConfigError:
        raise DrConfigError(
            f"{option}: bad number {raw!r} in {text!r}; expected a percentage (10%), seconds (0) or a duration (30s, 5m)"
        ) from None
    return GateRule(metric, seconds, False, text.strip())


def parse_rules(values: list[str], *, option: str = "--dr-gate") -> list[GateRule]:
    """Every rule of ``values`` (each may hold several, separated by commas or spaces)."""
    rules = []
    for value in values:
        for part in re.split(r"[,\s]+", value.strip()):
            if part:
                rules.append(parse_rule(part, option=option))
    return rules


def load_baseline(path: str | Path, *, option: str = "--dr-compare") -> dict[str, Any]:
    """A previous JSON report; a :class:`DrConfigError` naming ``option`` and the file otherwise."""
    path = Path(path)
    if not path.is_file():
        raise DrConfigError(f"{option}: file {str(path)!r} not found")
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DrConfigError(
            f"{option}: {str(path)!r} is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}: "
            f"{text[max(0, exc.pos - 20):exc.pos + 20]!r})"
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("experiments"), list):
        raise DrConfigError(f"{option}: {str(path)!r} is not a pytest-drtest JSON report (no 'experiments' list; write one with --dr-report)")
    for i, e in enumerate(data["experiments"]):
        if not isinstance(e, dict) or not isinstance(e.get("measured"), dict):
            raise DrConfigError(f"{option}: {str(path)!r}: experiments[{i}] has no 'measured' figures")
    return data


def experiment_id(e: dict[str, Any]) -> str:
    """The stable id of a report's experiment (also for reports written before ids existed)."""
    if e.get("id"):
        return str(e["id"])
    return display_id(str(e.get("test", "")))


def figure(e: dict[str, Any] | None, metric: str) -> float | None:
    """``rto``/``rpo`` seconds, ``lost_writes``, ``availability`` ratio of a report's experiment."""
    if e is None:
        return None
    m = e.get("measured") or {}
    if metric == "availability":
        return Availability.from_dict(m.get("availability")).ratio
    if metric == "lost_writes":
        return float(m.get("lost_writes", 0))
    value = m.get(f"{metric}_s")
    return None if value is None else float(value)


def _fmt(metric: str, value: float | None) -> str:
    if value is None:
        return "never" if metric == "rto" else "-"
    if metric == "lost_writes":
        return str(int(value))
    if metric == "availability":
        return format_percent(value)
    return format_duration(value)


@dataclass
class Match:
    id: str
    then: dict[str, Any] | None
    now: dict[str, Any] | None


def match(current: dict[str, Any], previous: dict[str, Any]) -> list[Match]:
    """Experiments of both runs paired by id, in the current run's order; then those gone."""
    before = {experiment_id(e): e for e in previous.get("experiments", [])}
    out = []
    seen = set()
    for e in current.get("experiments", []):
        key = experiment_id(e)
        seen.add(key)
        out.append(Match(key, before.get(key), e))
    out.extend(Match(k, e, None) for k, e in before.items() if k not in seen)
    return out


def _change(metric: str, then: float | None, now: float | None) -> str:
    if then is None or now is None:
        return "-"
    if metric == "availability":
        return f"{(now - then) * 100:+.3g} pts"
    if then == 0:
        return "=" if now == 0 else "from 0"
    change = (now - then) / then
    return "=" if math.isclose(now, then) else f"{change:+.1%}"


def differences(current: dict[str, Any], previous: dict[str, Any]) -> list[str]:
    """Settings that differ between the runs (figures then differ for that reason too)."""
    notes = []
    for key, what in (("seed", "seed"), ("backend", "backend"), ("clock_start", "clock start")):
        if previous.get(key) is not None and previous.get(key) != current.get(key):
            notes.append(f"{what} {previous.get(key)} then, {current.get(key)} now")
    then_v = (previous.get("plugin") or {}).get("version")
    now_v = (current.get("plugin") or {}).get("version")
    if then_v and then_v != now_v:
        notes.append(f"pytest-drtest {then_v} then, {now_v} now")
    if (previous.get("profile") or {}).get("overrides") != (current.get("profile") or {}).get("overrides") and "profile" in previous:
        notes.append("latency profile overrides differ")
    return notes


def comparison_lines(current: dict[str, Any], previous: dict[str, Any], source: str) -> list[str]:
    """A table: per experiment RTO, RPO and lost writes then and now, with the change."""
    header = ("experiment", "RTO then", "RTO now", "change", "RPO then", "RPO now", "change", "lost then", "lost now", "")
    rows: list[tuple[str, ...]] = [header]
    for m in match(current, previous):
        cells = [m.id]
        for metric in ("rto", "rpo"):
            then, now = figure(m.then, metric), figure(m.now, metric)
            cells += [_fmt(metric, then) if m.then else "-", _fmt(metric, now) if m.now else "-", _change(metric, then, now)]
        cells += [_fmt("lost_writes", figure(m.then, "lost_writes")) if m.then else "-",
                  _fmt("lost_writes", figure(m.now, "lost_writes")) if m.now else "-",
                  "new" if m.then is None else "not run now" if m.now is None else ""]
        rows.append(tuple(cells))
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = [f"compared with {source}" + _baseline_label(previous)]
    lines += ["  ".join(c.ljust(widths[i]) for i, c in enumerate(r)).rstrip() for r in rows]
    notes = differences(current, previous)
    if notes:
        lines.append("note: " + "; ".join(notes))
    return lines


def _baseline_label(previous: dict[str, Any]) -> str:
    parts = []
    version = (previous.get("plugin") or {}).get("version")
    if version:
        parts.append(f"pytest-drtest {version}")
    if previous.get("seed") is not None:
        parts.append(f"seed {previous['seed']}")
    if previous.get("created"):
        parts.append(str(previous["created"]))
    return f" ({', '.join(parts)})" if parts else ""


def regressions(current: dict[str, Any], previous: dict[str, Any], rules: list[GateRule]) -> list[str]:
    """One line per figure that regresses beyond a rule."""
    lines = []
    for m in match(current, previous):
        if m.then is None or m.now is None:
            continue
        for rule in rules:
            then, now = figure(m.then, rule.metric), figure(m.now, rule.metric)
            if rule.metric == "rto" and m.then.get("measured", {}).get("rto_s") is None:
                then = None  # it did not recover before either
            why = rule.regression(then, now)
            if why is not None:
                name = {"rto": "RTO", "rpo": "RPO", "lost_writes": "lost writes", "availability": "availability"}[rule.metric]
                lines.append(f"{m.id}: {name} {_fmt(rule.metric, then)} -> {_fmt(rule.metric, now)} ({why}) breaks {rule.text}")
    return lines
