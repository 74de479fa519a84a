"""Reports: the terminal summary, JUnit XML properties and the JSON report.

Everything a report shows is computed from the JSON-able data of :meth:`RunReport.as_dict` (the
summary, the HTML page, the comparison and the gate), so a report read back from a file — or merged
from several workers' files with :func:`merge_reports` — renders the same as the live one.
"""
from __future__ import annotations

import datetime as _dt
import json
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_drtest.durations import format_duration
from pytest_drtest.measure import Availability

if TYPE_CHECKING:
    from pytest_drtest.experiments import ExperimentRecord
    from pytest_drtest.restores import RestoreResult
    from pytest_drtest.settings import Settings

SCHEMA = 2  # 1: before ids, timelines, availability, policy and topology assessments


def plugin_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pytest-drtest")
    except PackageNotFoundError:
        return "unknown"


def display_id(test: str) -> str:
    """A scenario item's node id as ``<scenario>::<item>`` (whatever folder pytest ran in); else the node id."""
    head, sep, rest = test.partition("::")
    if "drtest:" in head:
        return head.rsplit("drtest:", 1)[1] + sep + rest
    return test


@dataclass
class RunReport:
    """Everything measured in one pytest session."""

    settings: Settings | None = None
    clock: str = "virtual"
    experiments: list[ExperimentRecord] = field(default_factory=list)
    restores: list[RestoreResult] = field(default_factory=list)
    scenarios: list[dict[str, Any]] = field(default_factory=list)  # name, strategy, source, regions, latency
    extra: dict[str, Any] = field(default_factory=dict)  # comparison and gate results, set by the plugin
    meta: dict[str, Any] = field(default_factory=dict)  # the run's settings when read back by from_dict
    services: dict[str, str] = field(default_factory=dict)  # service -> what answered it (Backend.placement)
    workers: list[dict[str, Any]] = field(default_factory=list)  # pytest-xdist workers' as_dict(), on the controller
    order: list[str] = field(default_factory=list)  # the collected node ids (experiments sort by them)

    @property
    def empty(self) -> bool:
        """Nothing measured (here or, on a pytest-xdist controller, by any worker)."""
        return not (self.experiments or self.restores
                    or any(w.get("experiments") or w.get("restores") for w in self.workers))

    def _settings_dict(self) -> dict[str, Any]:
        settings = self.settings
        if settings is None:
            return {k: self.meta.get(k) for k in ("backend", "seed", "regions", "clock_start", "profile", "policy")}
        profile = settings.build_profile()
        return {
            "backend": settings.backend,
            "seed": settings.seed,
            "regions": {"primary": settings.regions[0], "dr": settings.regions[1]},
            "clock_start": settings.clock_start.isoformat(),
            "profile": {
                "file": None if settings.profile_file is None else str(settings.profile_file),
                "ini_latency": list(settings.latency_lines),
                "overrides": {k: v for k, v in sorted(profile.origins.items()) if v != "default"},
            },
            "policy": None if settings.policy is None else settings.policy.as_dict(),
        }

    def as_dict(self) -> dict[str, Any]:
        from pytest_drtest.assessment import recommendations

        base = self._settings_dict()
        data: dict[str, Any] = {
            "schema": SCHEMA,
            "plugin": {"name": "pytest-drtest", "version": self.meta.get("plugin", {}).get("version") or plugin_version()},
            "created": self.meta.get("created") or _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat(),
            "backend": base["backend"],
            "services": self.services,
            "clock": self.clock,
            "clock_start": base["clock_start"],
            "seed": base["seed"],
            "regions": base["regions"],
            "profile": base["profile"],
            "policy": base["policy"],
            "machine": self.meta.get("machine") or {"python": platform.python_version(), "platform": platform.platform()},
            "scenarios": list(self.scenarios),
            "experiments": [e.as_dict() for e in self.experiments],
            "restores": [r.as_dict() for r in self.restores],
        }
        data["availability"] = run_availability(data).as_dict()
        data["recommendations"] = recommendations(data)
        data.update(self.extra)
        if self.workers:
            data = merge_reports([data, *self.workers], order=self.order)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunReport:
        """A report read back from :meth:`as_dict` (e.g. a JSON file, or workers' reports merged)."""
        from pytest_drtest.experiments import ExperimentRecord
        from pytest_drtest.restores import RestoreResult

        return cls(
            None, str(data.get("clock", "virtual")),
            [ExperimentRecord.from_dict(e) for e in data.get("experiments", [])],
            [RestoreResult.from_dict(r) for r in data.get("restores", [])],
            list(data.get("scenarios", [])),
            {k: data[k] for k in ("comparison", "gate") if k in data},
            {k: data.get(k) for k in ("backend", "seed", "regions", "clock_start", "profile", "policy", "plugin", "created", "machine")},
            dict(data.get("services") or {}),
        )

    def write_json(self, path: Path, data: dict[str, Any] | None = None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data or self.as_dict(), indent=2, sort_keys=False) + "\n", encoding="utf-8")

    def table(self) -> list[str]:
        """The summary (see :func:`summary_lines`)."""
        return summary_lines(self.as_dict())


def merge_reports(reports: list[dict[str, Any]], *, order: list[str] | None = None) -> dict[str, Any]:
    """One report of several (e.g. pytest-xdist workers' ``as_dict()``): the first one's settings,
    everybody's experiments, restores and scenarios, availability and recommendations recomputed.

    With ``order`` (node ids in collection order) experiments and restores are listed in the order
    of their tests, as a serial run lists them; those of unknown tests keep their place after them.
    """
    from pytest_drtest.assessment import recommendations

    if not reports:
        raise ValueError("nothing to merge")
    merged = dict(reports[0])
    experiments = [e for r in reports for e in r.get("experiments", [])]
    restores = [x for r in reports for x in r.get("restores", [])]
    if order:
        rank = {nodeid: index for index, nodeid in enumerate(order)}

        def place(entry: dict[str, Any]) -> int:
            return rank.get(str(entry.get("test", "")), len(rank))

        experiments.sort(key=place)  # stable: a test's own records keep their order
        restores.sort(key=place)
    merged["experiments"] = experiments
    merged["restores"] = restores
    names: dict[str, dict[str, Any]] = {}
    for r in reports:
        for s in r.get("scenarios", []):
            names.setdefault(str(s.get("name")), s)
    merged["scenarios"] = list(names.values())
    merged["availability"] = run_availability(merged).as_dict()
    merged["recommendations"] = recommendations(merged)
    return merged


def run_availability(data: dict[str, Any]) -> Availability:
    total = Availability(0.0, 0.0)
    for e in data.get("experiments", []):
        total = total + Availability.from_dict((e.get("measured") or {}).get("availability"))
    return total


def regions_used(data: dict[str, Any]) -> list[tuple[str, str, list[str]]]:
    """Distinct (primary, dr) pairs the experiments ran in, with the scenarios/tests of each."""
    pairs: dict[tuple[str, str], list[str]] = {}
    for e in data.get("experiments", []):
        regions = e.get("regions") or data.get("regions") or {}
        if not regions:
            continue
        who = e.get("scenario") or display_id(str(e.get("test", "")))
        users = pairs.setdefault((str(regions["primary"]), str(regions["dr"])), [])
        if who not in users:
            users.append(who)
    return [(p, d, users) for (p, d), users in pairs.items()]


def _availability_cell(measured: dict[str, Any]) -> str:
    return Availability.from_dict(measured.get("availability")).describe()


def _experiment_name(e: dict[str, Any]) -> str:
    return str(e.get("name") or display_id(str(e.get("test", ""))).split("::", 1)[-1])


def summary_lines(data: dict[str, Any]) -> list[str]:
    """The summary: the run's settings and regions, one line per experiment (free text last, never
    cut), the run's availability, one line per restore with the test that made it, the assessment."""
    from pytest_drtest.objectives import describe_availability

    lines: list[str] = []
    experiments = data.get("experiments", [])
    restores = data.get("restores", [])
    pairs = regions_used(data) or ([(data["regions"]["primary"], data["regions"]["dr"], [])] if data.get("regions") else [])
    if len(pairs) == 1:
        where = f"regions {pairs[0][0]} (primary), {pairs[0][1]} (dr)"
    else:
        where = "regions " + "; ".join(f"{p} -> {d} ({', '.join(users)})" for p, d, users in pairs)
    policy = data.get("policy")
    lines.append(
        f"backend {data.get('backend')}, seed {data.get('seed')}, {data.get('clock', 'virtual')} clock, {where}"
        + (f", policy {policy['name']} ({policy['source']})" if policy else "")
    )
    if experiments:
        with_availability_objective = any((e.get("objectives") or {}).get("availability") is not None for e in experiments)
        with_conflicts = any((e.get("measured") or {}).get("conflict_overwrites") for e in experiments)
        header = ["scenario", "experiment", "strategy", "RTO obj", "RTO", "RPO obj", "RPO", "lost", "discarded"]
        if with_conflicts:  # acknowledged writes replaced by last writer wins (global tables)
            header.append("conflicts")
        with_stale = any((e.get("measured") or {}).get("stale_reads") for e in experiments)
        if with_stale:  # probe reads a cache (DAX) answered with what the table no longer held
            header.append("stale")
        header.append("availability")
        if with_availability_objective:
            header.append("avail obj")
        header += ["objectives", "verdict", "figures", "fault"]
        rows = [tuple(header)]
        for e in experiments:
            m = e.get("measured") or {}
            o = e.get("objectives") or {}
            row = [
                e.get("scenario") or "-", _experiment_name(e), e.get("strategy", ""),
                format_duration(o.get("rto_s")), _rto_cell(m, e.get("runbook_rto_s")),
                format_duration(o.get("rpo_s")), format_duration(m.get("rpo_s")), str(m.get("lost_writes", 0)),
                str(m.get("discarded_writes", 0)),
            ]
            if with_conflicts:
                row.append(str(m.get("conflict_overwrites", 0)))
            if with_stale:
                row.append(str(m.get("stale_reads", 0)))
            row += [
                _availability_cell(m),
            ]
            if with_availability_objective:
                row.append("-" if o.get("availability") is None else describe_availability(float(o["availability"])))
            row += [_levels(o), "PASS" if e.get("passed") else "FAIL", "modeled" if m.get("modeled") else "measured",
                    str(e.get("fault", "-"))]
            rows.append(tuple(row))
        lines.extend(_format(rows))
        total = run_availability(data)
        if total.total:
            lines.append(
                f"availability of the run: {total.describe()} over {len(experiments)} experiment(s): "
                f"down {format_duration(total.total - total.ok)} of {format_duration(total.total)} probed"
            )
    if restores:
        lines.append("")
        # restore tests of AWS Backup restore testing plans: the validation put, and the plan as maker
        validated = any(x.get("made_by") for x in restores)
        header = ["restore", "source", "target", "as of", "items", "new", "duration", "verdict"]
        rows = [tuple(header + (["validation"] if validated else []) + ["made by"])]
        for x in restores:
            row = [
                str(x["kind"]), str(x["source"]), str(x["target"]), str(x.get("restore_time", ""))[11:19],
                f"{x['items_matched']}/{x['items_expected']}", "yes" if x.get("new_resource") else "NO",
                format_duration(x.get("duration_s")), "PASS" if x.get("passed") else "FAIL",
            ]
            if validated:
                row.append(str(x.get("validation_status") or "-"))
            row.append(str(x.get("made_by") or display_id(str(x.get("test", "")))))
            rows.append(tuple(row))
        lines.extend(_format(rows))
    assessed = assessment_lines(data)
    if assessed:
        lines.append("")
        lines.extend(assessed)
    return lines


def _rto_cell(measured: dict[str, Any], runbook: float | None) -> str:
    """The probe's RTO, and the runbook's own figure next to it (ARC's actualRecoveryTime)."""
    rto = "never" if measured.get("rto_s") is None else format_duration(measured["rto_s"])
    return rto if runbook is None else f"{rto} (runbook {format_duration(runbook)})"


def _levels(objectives: dict[str, Any]) -> str:
    sources = objectives.get("sources") or {}
    found = [str(sources[f]) for f in ("rto", "rpo") if sources.get(f)]
    return "/".join(dict.fromkeys(found)) or "-"


def assessment_lines(data: dict[str, Any]) -> list[str]:
    """What each scenario's topology implements, then the recommendations."""
    from pytest_drtest.assessment import TopologyAssessment, label

    lines: list[str] = []
    seen: set[str] = set()
    for e in data.get("experiments", []):
        topo = e.get("topology")
        key = str(e.get("scenario") or e.get("id"))
        if not topo or key in seen:
            continue
        seen.add(key)
        a = TopologyAssessment.from_dict(topo)
        verdict = "as declared" if a.matches else f"NOT the declared {label(a.declared)}"
        lines.append(f"{key}: the built topology implements {label(a.implemented)} ({verdict}): {a.evidence()}")
    recs = data.get("recommendations")
    if recs is None:
        from pytest_drtest.assessment import recommendations

        recs = recommendations(data)
    if recs:
        lines.append("recommendations:")
        lines.extend(f"  {r}" for r in recs)
    if lines:
        lines.insert(0, "assessment:")
    return lines


def _format(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]
