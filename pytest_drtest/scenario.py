"""Scenario files: a strategy, a blueprint, regions, objectives, experiments and restore checks."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from pytest_drtest.config import Fields, load_toml
from pytest_drtest.durations import parse_duration
from pytest_drtest.errors import DrConfigError
from pytest_drtest.faults import Fault, fault_from_spec
from pytest_drtest.objectives import Objectives, parse_availability, parse_discarded
from pytest_drtest.recovery import Runbook, resolve_runbook
from pytest_drtest.regions import check_region_pair
from pytest_drtest.strategies import Strategy, get_strategy
from pytest_drtest.topology.blueprint import Blueprint, load_blueprint

RESTORE_KINDS = ("dynamodb-pitr", "dynamodb-backup", "aws-backup", "rds-snapshot", "rds-pitr", "aurora-cluster-pitr",
                 "s3-backup", "s3-backup-pitr", "aws-backup-restore-testing")
S3_RESTORE_KINDS = ("s3-backup", "s3-backup-pitr")
SQL_RESTORE_KINDS = ("rds-snapshot", "rds-pitr", "aurora-cluster-pitr")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*$")


@dataclass(frozen=True)
class ProbeSettings:
    interval: float = 1.0
    consecutive: int = 3
    timeout: float = 6 * 3600.0
    # before the last DENSE_LEAD seconds of the steady state the probe writes only this often:
    # nothing can change the outcome there (see Probe.thin)
    steady_interval: float = 15.0
    keys: int | None = None  # None: a new key every tick; N: the ticks update N items in turn


@dataclass
class Experiment:
    name: str
    fault_spec: dict[str, Any]
    fault: Fault
    runbook: str | Runbook  # a name, "module:function", or a runbook in AWS's formats (recovery/formats.py)
    objectives: Objectives
    probe: ProbeSettings
    steady_state: float
    failback: bool = False  # after recovery: revert the fault, wait until the regions converge, then measure


@dataclass
class RestoreCheck:
    name: str
    kind: str
    table: str
    age: float  # the restore time is this long before the end of the steady state
    probe: ProbeSettings
    steady_state: float
    bucket: str = ""  # the S3 kinds: a blueprint bucket ("": the first)
    restore_testing: dict[str, Any] = field(default_factory=dict)  # aws-backup-restore-testing: the plan's fields


@dataclass
class Scenario:
    name: str
    source: str
    strategy: Strategy
    blueprint: Blueprint
    primary_region: str
    dr_region: str
    objectives: Objectives
    steady_state: float
    probe: ProbeSettings
    latency: dict[str, Any] = field(default_factory=dict)
    experiments: list[Experiment] = field(default_factory=list)
    restore_checks: list[RestoreCheck] = field(default_factory=list)
    description: str = ""


def shipped_scenarios() -> dict[str, Path]:
    folder = resources.files("pytest_drtest") / "scenarios"
    return {Path(str(p)).stem: Path(str(p)) for p in sorted(folder.iterdir(), key=str) if str(p).endswith(".toml")}


def resolve_scenarios(value: str) -> list[Path]:
    """``all``, a shipped name, or a path to a ``.toml`` file -> scenario files."""
    shipped = shipped_scenarios()
    if value == "all":
        return list(shipped.values())
    if value in shipped:
        return [shipped[value]]
    path = Path(value)
    if path.suffix == ".toml":
        if not path.is_file():
            raise DrConfigError(f"scenario file {value!r} does not exist")
        return [path]
    raise DrConfigError(
        f"unknown scenario {value!r}; expected one of: {', '.join(shipped)}, all, or a path to a .toml file"
    )


def _duration(fields: Fields, key: str, default: str) -> float:
    raw = fields.get(key, (str, int, float), default)
    try:
        return parse_duration(raw)
    except DrConfigError:
        raise DrConfigError(
            f"{raw!r} is not a duration; expected e.g. '250ms', '30s', '5m', '1h30m'", source=fields.source,
            field=fields._name(key),
        ) from None


def _objectives(fields: Fields, source: str, base: Objectives, level: str = "scenario") -> Objectives:
    if "objectives" not in fields.data:
        fields._seen.add("objectives")
        return base
    table = fields.table("objectives")
    table._seen.update({"rto", "rpo", "availability", "discarded"})
    availability = discarded = None
    if "availability" in table.data:
        try:
            availability = parse_availability(table.data["availability"])
        except DrConfigError as exc:
            raise DrConfigError(str(exc).split(": ", 1)[-1], source=source, field=table._name("availability")) from None
    if "discarded" in table.data:
        try:
            discarded = parse_discarded(table.data["discarded"])
        except DrConfigError as exc:
            raise DrConfigError(str(exc).split(": ", 1)[-1], source=source, field=table._name("discarded")) from None
    parsed = Objectives(
        _duration(table, "rto", "0s") if "rto" in table.data else None,
        _duration(table, "rpo", "0s") if "rpo" in table.data else None,
        source,
        availability,
        level,
        discarded=discarded,
    )
    table.reject_unknown()
    return base.merged(parsed)


def paper_topology(blueprint: Blueprint, strategy: Strategy, primary: str, dr: str) -> Any:
    """A topology that exists only on paper: enough to validate fault targets before building."""
    from pytest_drtest.measure import Timeline
    from pytest_drtest.topology.model import RegionStack, Topology

    return Topology(
        name="plan", blueprint=blueprint, strategy=strategy, primary_region=primary, dr_region=dr,
        clients=None, clock=None, profile=None, timeline=Timeline(),  # type: ignore[arg-type]
        regions={primary: RegionStack(primary, "primary"), dr: RegionStack(dr, "dr")},
    )


def _check_latency(latency: dict[str, Any], source: str) -> None:
    """Validate a scenario's ``[latency]`` table now, not when each item runs."""
    from pytest_drtest.profile import LatencyProfile

    profile = LatencyProfile()
    for key, value in latency.items():
        try:
            profile.override(key, value, origin=f"{source} [latency]")
        except DrConfigError as exc:
            raise DrConfigError(str(exc).split(": ", 1)[-1], source=source, field=f"latency.{key}") from None
    interval = profile.value("route53_health_check_interval")
    if interval not in (10, 30):
        raise DrConfigError(
            f"Route 53 RequestInterval is 10s or 30s, got {interval:g}s", source=source,
            field="latency.route53_health_check_interval",
        )


def _probe(fields: Fields, base: ProbeSettings) -> ProbeSettings:
    """A ``probe = { interval, recovered_after, timeout, steady_interval, keys }`` table over ``base``."""
    if "probe" not in fields.data:
        fields._seen.add("probe")
        return base
    table = fields.table("probe")
    table._seen.update({"interval", "recovered_after", "timeout", "steady_interval", "keys"})
    interval = _duration(table, "interval", "1s") if "interval" in table.data else base.interval
    if interval <= 0:
        raise DrConfigError("expected a positive duration", source=fields.source, field=table._name("interval"))
    consecutive = table.get("recovered_after", int, base.consecutive)
    if consecutive < 1:
        raise DrConfigError(f"expected at least 1, got {consecutive}", source=fields.source, field=table._name("recovered_after"))
    timeout = _duration(table, "timeout", "6h") if "timeout" in table.data else base.timeout
    steady = _duration(table, "steady_interval", "15s") if "steady_interval" in table.data else base.steady_interval
    if steady <= 0:
        raise DrConfigError("expected a positive duration", source=fields.source, field=table._name("steady_interval"))
    keys = table.get("keys", int, base.keys) if "keys" in table.data else base.keys
    if keys is not None and keys < 1:
        raise DrConfigError(f"expected at least 1 (the number of items the probe updates), got {keys}",
                            source=fields.source, field=table._name("keys"))
    table.reject_unknown()
    return ProbeSettings(interval, consecutive, timeout, steady_interval=steady, keys=keys)


def load_scenario(path: Path, *, regions: tuple[str, str] | None = None) -> Scenario:
    """Parse and validate a scenario file; every error names the file and the field."""
    source = str(path)
    top = Fields(load_toml(path), source)
    name = top.get("name", str)
    if not _SLUG.match(name):
        raise DrConfigError(f"expected a lowercase slug, got {name!r}", source=source, field="name")
    strategy = get_strategy(top.get("strategy", str), source=source)
    blueprint_ref = top.get("blueprint", str, "web-app")
    parameters = top.get("parameters", str, None) if "parameters" in top.data else None
    roles = top.get("roles", dict, {}) if "roles" in top.data else None
    try:
        blueprint = load_blueprint(blueprint_ref, relative_to=path.parent, parameters=parameters, roles=roles, source=source)
    except DrConfigError as exc:
        if exc.source:
            raise
        raise DrConfigError(str(exc), source=source, field="blueprint") from None
    if blueprint.stack is not None:
        from pytest_drtest.stacks.topology import check_strategy

        check_strategy(blueprint, strategy.name, source)
    region_table = top.table("regions")
    primary = region_table.get("primary", str, "us-east-1")
    dr = region_table.get("dr", str, "us-west-2")
    region_table.reject_unknown()
    if regions is not None:
        primary, dr = regions
    check_region_pair(primary, dr, source=source)
    band = Objectives.parse(strategy.band_rto, strategy.band_rpo, source=f"{strategy.name} band")
    objectives = _objectives(top, source, band)
    probe = _probe(top, ProbeSettings())
    steady_state = _duration(top, "steady_state", "5m")
    latency = top.get("latency", dict, {})
    _check_latency(latency, source)
    scenario = Scenario(
        name=name, source=source, strategy=strategy, blueprint=blueprint, primary_region=primary, dr_region=dr,
        objectives=objectives, steady_state=steady_state, probe=probe, latency=latency,
        description=top.get("description", str, ""),
    )
    for i, exp in enumerate(top.tables("experiments")):
        field_name = f"experiments[{i}]"
        fault_spec = exp.get("fault", dict)
        if "fis" in fault_spec:  # an FIS experiment template (recovery/formats.py)
            from pytest_drtest.recovery.formats import fis_fault_from_spec

            fault: Fault = fis_fault_from_spec(fault_spec, source=source, field=f"{field_name}.fault", base=path.parent)
        else:
            fault = fault_from_spec(fault_spec, source=source, field_name=f"{field_name}.fault")
        try:
            fault.validate(paper_topology(blueprint, strategy, primary, dr))
        except DrConfigError as exc:
            raise DrConfigError(str(exc), source=source, field=f"{field_name}.fault") from None
        exp._seen.add("steady_state")
        exp_name = exp.get("name", str, str(fault_spec.get("kind", "fis" if "fis" in fault_spec else None)))
        if exp_name == "restore-checks":
            raise DrConfigError("'restore-checks' is the name of the restore checks' item; choose another",
                                source=source, field=f"{field_name}.name")
        runbook: str | Runbook = exp.get("runbook", (str, dict), strategy.default_runbook)
        if isinstance(runbook, dict):  # { ssm = ... } or { arc_plan = ... } (recovery/formats.py)
            from pytest_drtest.recovery.formats import runbook_from_spec

            runbook = runbook_from_spec(runbook, source=source, field=f"{field_name}.runbook", base=path.parent)
        resolve_runbook(runbook, source=source, field=f"{field_name}.runbook")
        failback = exp.get("failback", bool, False)
        if failback and fault.data_fault:
            raise DrConfigError(
                f"failback reverts the fault after recovery; {fault.kind!r} leaves its damage (a data fault): "
                "expected a fault that ends, e.g. region-outage, az-outage or pause-replication",
                source=source, field=f"{field_name}.failback",
            )
        scenario.experiments.append(
            Experiment(
                exp_name, fault_spec, fault, runbook, _objectives(exp, source, objectives, "experiment"), _probe(exp, probe),
                _duration(exp, "steady_state", "0s") if "steady_state" in exp.data else steady_state, failback,
            )
        )
        exp.reject_unknown()
    for i, check in enumerate(top.tables("restore_checks")):
        kind = check.get("kind", str, choices=RESTORE_KINDS)
        if kind in ("aws-backup", "aws-backup-restore-testing") and strategy.name != "backup-restore":
            raise DrConfigError(
                f"kind {kind!r} needs the backup-restore strategy (the only one with a backup plan)",
                source=source, field=f"restore_checks[{i}].kind",
            )
        testing: dict[str, Any] = {}
        if kind == "aws-backup-restore-testing":
            from pytest_drtest.restore_tests import restore_testing_settings

            testing = restore_testing_settings(check)
        if kind in SQL_RESTORE_KINDS and blueprint.database is None:
            raise DrConfigError(f"kind {kind!r} needs a blueprint with a [database]", source=source, field=f"restore_checks[{i}].kind")
        engine = "aurora-cluster-pitr" if strategy.name == "active-active" else None
        if kind in SQL_RESTORE_KINDS and (kind == "aurora-cluster-pitr") != (engine is not None):
            raise DrConfigError(
                f"kind {kind!r} does not match the {strategy.name} database "
                f"({'an Aurora global cluster' if engine else 'an RDS instance'})",
                source=source, field=f"restore_checks[{i}].kind",
            )
        check._seen.add("steady_state")
        bucket = ""
        if kind in S3_RESTORE_KINDS:
            if not blueprint.buckets:
                raise DrConfigError(f"kind {kind!r} needs a blueprint with a bucket", source=source, field=f"restore_checks[{i}].kind")
            bucket = check.get("bucket", str, blueprint.buckets[0].name)
            try:
                blueprint.bucket(bucket)
            except DrConfigError as exc:
                raise DrConfigError(str(exc), source=source, field=f"restore_checks[{i}].bucket") from None
        table = check.get("table", str, blueprint.tables[0].name)
        try:
            blueprint.table(table)
        except DrConfigError as exc:
            raise DrConfigError(str(exc), source=source, field=f"restore_checks[{i}].table") from None
        if table != blueprint.tables[0].name:
            raise DrConfigError(
                f"restore checks compare with the probes' ledger, kept for the first table "
                f"({blueprint.tables[0].name!r}); got {table!r}", source=source, field=f"restore_checks[{i}].table",
            )
        age = _duration(check, "age", "10m")
        check_steady = _duration(check, "steady_state", "0s") if "steady_state" in check.data else steady_state
        if kind not in ("aws-backup", "aws-backup-restore-testing") and check_steady <= age:
            raise DrConfigError(
                f"the steady state ({check_steady:g} s) must be longer than the age of the restore point ({age:g} s)",
                source=source, field=f"restore_checks[{i}].age",
            )
        scenario.restore_checks.append(
            RestoreCheck(check.get("name", str, kind), kind, table, age, _probe(check, probe), check_steady, bucket,
                         testing)
        )
        check.reject_unknown()
    if not scenario.experiments and not scenario.restore_checks:
        raise DrConfigError("a scenario needs at least one [[experiments]] or [[restore_checks]] entry", source=source)
    names = [e.name for e in scenario.experiments] + [c.name for c in scenario.restore_checks]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise DrConfigError(f"duplicate experiment/check name(s): {', '.join(duplicates)}", source=source)
    top.reject_unknown()
    return scenario
