"""pytest-drtest's pytest plugin: options, ini twins, the ``dr`` marker, scenario items, reports."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pytest_drtest.clock import parse_clock_mode
from pytest_drtest.errors import DrConfigError, DrError
from pytest_drtest.fixtures import (  # noqa: F401 - fixtures are registered from the plugin module
    REPORT_KEY,
    SCENARIOS_KEY,
    SETTINGS_KEY,
    dr,
    dr_clock,
    dr_objectives,
    dr_settings,
    dr_topology,
    marker_args,
)
from pytest_drtest.report import RunReport
from pytest_drtest.settings import Settings, parse_clock_start, parse_regions, parse_seed

OPTIONS: list[tuple[str, str, str, str | None]] = [
    # (option, ini, help, default shown)
    ("--dr-scenario", "dr_scenario", "run a game day: a shipped scenario name, 'all', or a path to a .toml file", None),
    ("--dr-backend", "dr_backend", "what answers the AWS calls: moto (default, in-process), moto-server, localstack, aws", "moto"),
    ("--dr-seed", "dr_seed", "seed of every modeled duration (same seed, same figures)", "1"),
    ("--dr-regions", "dr_regions", "PRIMARY,DR regions (default us-east-1,us-west-2)", "us-east-1,us-west-2"),
    ("--dr-report", "dr_report", "write the JSON report to this path", None),
    ("--dr-profile", "dr_profile", "latency profile TOML file overriding the published defaults", None),
    ("--dr-endpoint", "dr_endpoint", "endpoint URL of moto-server/localstack (127.0.0.1 only)", None),
    ("--dr-aws-accounts", "dr_aws_accounts", "comma-separated account ids the aws backend may touch (required for aws)", None),
    ("--dr-clock-start", "dr_clock_start", "ISO 8601 UTC start of the virtual clock", "2026-01-05T00:00:00Z"),
    ("--dr-clock", "dr_clock", "virtual (time stands still while the test waits on a process) or paced:SPEED "
     "(modeled seconds per real second, e.g. paced:60)", "virtual"),
]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("drtest", "disaster-recovery testing (pytest-drtest)")
    for option, ini, text, default in OPTIONS:
        group.addoption(option, dest=ini, default=None, metavar="VALUE", help=text + (f" [default: {default}]" if default else ""))
        parser.addini(ini, text, default=None)
    parser.addini("dr_latency", "latency profile overrides, one 'key = value' per line (e.g. 'ec2_launch_time = 60s..90s')", type="linelist", default=[])


def _value(config: pytest.Config, ini: str, origins: dict[str, str]) -> str | None:
    option = config.getoption(ini)
    if option is not None:
        origins[ini] = "command line"
        return str(option)
    value = config.getini(ini)
    if value:
        origins[ini] = "ini"
        return str(value)
    origins[ini] = "default"
    return None


def build_settings(config: pytest.Config) -> Settings:
    """Settings from options and ini keys; a :class:`pytest.UsageError` names the bad input."""
    origins: dict[str, str] = {}
    settings = Settings(origins=origins)
    try:
        backend = _value(config, "dr_backend", origins)
        if backend:
            settings.backend = backend
        seed = _value(config, "dr_seed", origins)
        if seed is not None:
            settings.seed = parse_seed(seed)
        regions = _value(config, "dr_regions", origins)
        if regions:
            settings.regions = parse_regions(regions)
            settings.regions_given = True
        report = _value(config, "dr_report", origins)
        settings.report = Path(report) if report else None
        profile = _value(config, "dr_profile", origins)
        settings.profile_file = Path(profile) if profile else None
        settings.latency_lines = list(config.getini("dr_latency") or [])
        settings.endpoint = _value(config, "dr_endpoint", origins)
        accounts = _value(config, "dr_aws_accounts", origins)
        settings.aws_accounts = tuple(a.strip() for a in accounts.split(",") if a.strip()) if accounts else ()
        start = _value(config, "dr_clock_start", origins)
        if start:
            settings.clock_start = parse_clock_start(start)
        clock = _value(config, "dr_clock", origins)
        if clock is not None:
            settings.clock_mode, settings.clock_speed = parse_clock_mode(clock)
        settings.scenario = _value(config, "dr_scenario", origins)
        settings.validate()
    except DrConfigError as exc:
        raise pytest.UsageError(str(exc)) from None
    return settings


def load_scenarios(settings: Settings) -> list[Any]:
    from pytest_drtest.scenario import load_scenario, resolve_scenarios

    if not settings.scenario:
        return []
    try:
        paths = resolve_scenarios(settings.scenario)
        regions = settings.regions if settings.regions_given else None
        return [load_scenario(path, regions=regions) for path in paths]
    except DrConfigError as exc:
        raise pytest.UsageError(f"--dr-scenario: {exc}") from None


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "dr(strategy=None, rto=None, rpo=None, regions=None, blueprint=None): the DR strategy, recovery "
        "objectives, (primary, dr) regions and blueprint of a test using the dr fixture",
    )
    settings = build_settings(config)
    config.stash[SETTINGS_KEY] = settings
    config.stash[SCENARIOS_KEY] = load_scenarios(settings)
    config.stash[REPORT_KEY] = RunReport(settings, clock="real" if settings.backend == "aws" else "virtual")


def pytest_unconfigure(config: pytest.Config) -> None:
    for key in (SETTINGS_KEY, SCENARIOS_KEY, REPORT_KEY):
        if key in config.stash:
            del config.stash[key]


def pytest_report_header(config: pytest.Config) -> list[str]:
    settings = config.stash.get(SETTINGS_KEY, None)
    if settings is None:
        return []
    o = settings.origins
    parts = [
        f"backend={settings.backend} ({o.get('dr_backend', 'default')})",
        f"seed={settings.seed} ({o.get('dr_seed', 'default')})",
        f"regions={','.join(settings.regions)} ({o.get('dr_regions', 'default')})",
        f"clock={settings.clock_mode}{f':{settings.clock_speed:g}' if settings.clock_mode == 'paced' else ''} ({o.get('dr_clock', 'default')})",
    ]
    if settings.scenario:
        parts.append(f"scenario={settings.scenario}")
    profile = "defaults" + (f" + {settings.profile_file}" if settings.profile_file else "") + (" + ini dr_latency" if settings.latency_lines else "")
    parts.append(f"profile={profile}")
    if settings.backend == "localstack":
        parts.append(f"services=[{_localstack_placement(settings)}]")
    return ["drtest: " + ", ".join(parts)]


def _localstack_placement(settings: Settings) -> str:
    """Which service LocalStack answers and which moto does (asks LocalStack's health endpoint)."""
    from pytest_drtest.backends.base import format_placement
    from pytest_drtest.backends.localstack import LocalStackBackend

    try:
        backend = LocalStackBackend(settings.endpoint)
    except DrConfigError as exc:
        return str(exc)
    placement = backend.placement()
    return format_placement(placement) if placement else f"unknown: {backend.unreachable}"


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("dr") is not None:
            try:
                marker_args(item)
            except DrConfigError as exc:
                raise pytest.UsageError(f"{item.nodeid}: {exc}") from None
    from pytest_drtest.items import ScenarioFile

    for scenario in config.stash.get(SCENARIOS_KEY, []):
        node = ScenarioFile.from_parent(session, path=Path(scenario.source), nodeid=f"drtest:{scenario.name}")
        node.scenario = scenario
        items.extend(node.collect())


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    report = config.stash.get(REPORT_KEY, None)
    if report is None or not (report.experiments or report.restores):
        return
    terminalreporter.write_sep("=", "drtest summary")
    for line in report.table():
        terminalreporter.write_line(line)
    settings = config.stash[SETTINGS_KEY]
    if settings.report:
        terminalreporter.write_line(f"JSON report: {settings.report}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    report = config.stash.get(REPORT_KEY, None)
    settings = config.stash.get(SETTINGS_KEY, None)
    if report is not None and settings is not None and settings.report:
        report.write_json(settings.report)


__all__ = ["DrError"]
