"""pytest-drtest's pytest plugin: options, ini twins, the ``dr`` marker, scenario items, reports."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from pytest_drtest.clock import parse_clock_mode
from pytest_drtest.compare import (
    GateRule,
    comparison_lines,
    load_baseline,
    parse_rules,
    regressions,
)
from pytest_drtest.errors import DrConfigError, DrError
from pytest_drtest.fixtures import (  # noqa: F401 - fixtures are registered from the plugin module
    HARNESS_KEY,
    PROGRESS_KEY,
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
from pytest_drtest.gc_tuning import check_mode as check_gc_mode
from pytest_drtest.gc_tuning import end_session as end_gc_session
from pytest_drtest.gc_tuning import thaw as thaw_gc
from pytest_drtest.progress import Progress
from pytest_drtest.report import RunReport
from pytest_drtest.settings import (
    Settings,
    parse_clock_start,
    parse_fis_role,
    parse_regions,
    parse_seed,
)

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
    ("--dr-aws-fis-role", "dr_aws_fis_role", ("IAM role ARN the AWS FIS experiments of the aws backend run as "
     "(required when a fault is injected through FIS)"), None),
    ("--dr-clock-start", "dr_clock_start", "ISO 8601 UTC start of the virtual clock", "2026-01-05T00:00:00Z"),
    ("--dr-html", "dr_html", "write the HTML report (a timeline picture per experiment) to this path", None),
    ("--dr-compare", "dr_compare", "compare RTO, RPO and lost writes with a previous --dr-report JSON file", None),
    ("--dr-policy", "dr_policy", ("AWS Resilience Hub resiliency policy file (JSON or YAML; API or CloudFormation) "
     "whose RTO/RPO per disruption type judge the experiments"), None),
    ("--dr-clock", "dr_clock", ("virtual (time stands still while the test waits on a process) or paced:SPEED "
     "(modeled seconds per real second, e.g. paced:60)"), "virtual"),
]
PLAN_HELP = ("with --dr-backend=aws and --dr-scenario: print what the game day would create, fault and delete on "
             "the account, then exit; only read calls are made (ini dr_plan = true)")
GATE_HELP = (
    "fail the session when a figure regresses against --dr-compare beyond RULE: rto:10%, rto:30s, rpo:0, "
    "lost_writes:0, availability:0.1% (repeatable; ini dr_gate: one or more per line)"
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("drtest", "disaster-recovery testing (pytest-drtest)")
    for option, ini, text, default in OPTIONS:
        group.addoption(option, dest=ini, default=None, metavar="VALUE", help=text + (f" [default: {default}]" if default else ""))
        parser.addini(ini, text, default=None)
    group.addoption("--dr-plan", dest="dr_plan", action="store_true", default=None, help=PLAN_HELP)
    parser.addini("dr_plan", PLAN_HELP, type="bool", default=False)
    group.addoption("--dr-gate", dest="dr_gate", action="append", default=None, metavar="RULE", help=GATE_HELP.replace("%", "%%"))
    parser.addini("dr_gate", GATE_HELP, type="linelist", default=[])
    parser.addini("dr_gc", "garbage collector thresholds while worlds are built: tuned (default: fewer collections of "
                  "the large heap a run keeps) or python (the interpreter's)", default="tuned")
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
        role = _value(config, "dr_aws_fis_role", origins)
        settings.aws_fis_role = parse_fis_role(role) if role else None
        settings.plan = bool(config.getoption("dr_plan") or config.getini("dr_plan"))
        start = _value(config, "dr_clock_start", origins)
        if start:
            settings.clock_start = parse_clock_start(start)
        clock = _value(config, "dr_clock", origins)
        if clock is not None:
            settings.clock_mode, settings.clock_speed = parse_clock_mode(clock)
        settings.scenario = _value(config, "dr_scenario", origins)
        html = _value(config, "dr_html", origins)
        settings.html = Path(html) if html else None
        settings.gc = check_gc_mode(str(config.getini("dr_gc") or "tuned").strip())
        settings.validate()
    except DrConfigError as exc:
        raise pytest.UsageError(str(exc)) from None
    check_aws_options(settings)
    policy = _value(config, "dr_policy", origins)
    if policy:
        from pytest_drtest.policy import load_policy

        try:
            settings.policy = load_policy(policy)
        except DrConfigError as exc:
            raise pytest.UsageError(f"--dr-policy: {exc}") from None
    return settings


def check_aws_options(settings: Settings) -> None:
    """The aws backend's options before anything runs: a :class:`pytest.UsageError` names the option."""
    if settings.plan and (settings.backend != "aws" or not settings.scenario):
        raise pytest.UsageError(
            "--dr-plan prints what a game day would do on a real account: use it with --dr-backend=aws and "
            f"--dr-scenario=NAME (this run: --dr-backend={settings.backend}, "
            f"--dr-scenario={settings.scenario or '(none)'})"
        )
    if settings.backend != "aws" or not settings.scenario:
        return
    if not settings.aws_accounts:
        raise pytest.UsageError("--dr-backend=aws: give the accounts it may touch with --dr-aws-accounts=123456789012[,...] "
                                "(ini dr_aws_accounts)")
    bad = [a for a in settings.aws_accounts if not (a.isdigit() and len(a) == 12)]
    if bad:
        raise pytest.UsageError(f"--dr-aws-accounts: {bad[0]!r} is not a 12-digit AWS account id")


def check_aws_scenarios(settings: Settings, scenarios: list[Any]) -> None:
    """On aws a scenario runs only on the team's CloudFormation stack: a shipped topology's web tier
    runs no application there (``--dr-plan`` shows any scenario's plan)."""
    if settings.backend != "aws" or settings.plan:
        return
    from pytest_drtest.topology.blueprint import is_shipped_topology

    shipped = [s.name for s in scenarios if is_shipped_topology(s.blueprint)]
    if shipped:
        raise pytest.UsageError(
            f"--dr-scenario={settings.scenario}: {'the scenario' if len(shipped) == 1 else 'the scenarios'} "
            f"{', '.join(shipped)} {'builds' if len(shipped) == 1 else 'build'} a shipped topology, whose web tier's "
            "application exists only in the emulation, so nothing on the account would answer the probes; on aws a "
            "scenario deploys your CloudFormation stack (blueprint = \"stack.yaml\", your service behind its web record, "
            "speaking the probe protocol); --dr-plan shows what it would create, fault and delete"
        )


def check_fis_role(settings: Settings, scenarios: list[Any]) -> None:
    """A game day whose faults go through AWS FIS needs ``--dr-aws-fis-role``."""
    if settings.backend != "aws" or settings.aws_fis_role:
        return
    from pytest_drtest.backends.aws_faults import (
        FIS,
        RunContext,
        alarm_name,
        injection_for,
    )
    from pytest_drtest.scenario import paper_topology

    for scenario in scenarios:
        run = RunContext("plan", scenario.primary_region, scenario.dr_region, "000000000000", "", alarm_name("plan"))
        paper = paper_topology(scenario.blueprint, scenario.strategy, scenario.primary_region, scenario.dr_region)
        uses = [e.name for e in scenario.experiments if injection_for(e.fault, run, paper).how == FIS]
        if uses:
            raise pytest.UsageError(
                f"--dr-aws-fis-role: scenario {scenario.name} injects {', '.join(uses)} through AWS FIS, whose "
                "experiments run as an IAM role: give --dr-aws-fis-role=arn:aws:iam::ACCOUNT:role/NAME (ini dr_aws_fis_role)"
            )


@dataclass
class GateSettings:
    """``--dr-compare`` and ``--dr-gate``: the previous report and the rules."""

    baseline_path: str | None = None
    baseline: dict[str, Any] | None = None
    rules: list[GateRule] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)  # what the terminal summary prints
    regressions: list[str] = field(default_factory=list)


GATE_KEY = pytest.StashKey[GateSettings]()


def build_gate(config: pytest.Config) -> GateSettings:
    """Load the previous report and parse the rules now: bad input is a usage error before anything runs."""
    gate = GateSettings()
    origins: dict[str, str] = {}
    path = _value(config, "dr_compare", origins)
    raw: list[str] = list(config.getoption("dr_gate") or []) or list(config.getini("dr_gate") or [])
    try:
        gate.rules = parse_rules(raw)
        if path:
            gate.baseline_path = path
            gate.baseline = load_baseline(path)
    except DrConfigError as exc:
        raise pytest.UsageError(str(exc)) from None
    if gate.rules and gate.baseline is None:
        raise pytest.UsageError(f"--dr-gate {' '.join(raw)!r}: needs --dr-compare=PREVIOUS.json (the run to compare with)")
    return gate


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
    # registered before pytest's unraisable-exception check's cleanup runs (cleanups run newest
    # first, and this plugin configures after pytest's own): unfreezes after its last collection
    config.add_cleanup(thaw_gc)
    config.addinivalue_line(
        "markers",
        "dr(strategy=None, rto=None, rpo=None, availability=None, regions=None, blueprint=None, web=None): the DR "
        "strategy, recovery objectives, (primary, dr) regions, blueprint (a shipped name, or a .toml path relative to "
        "the test file) and web tier (your service: 'module:app' or a command list) of a test using the dr fixture",
    )
    settings = build_settings(config)
    gate = build_gate(config)
    scenarios = load_scenarios(settings)
    check_aws_scenarios(settings, scenarios)
    check_fis_role(settings, scenarios)
    config.stash[SETTINGS_KEY] = settings
    config.stash[GATE_KEY] = gate
    config.stash[SCENARIOS_KEY] = scenarios
    config.stash[REPORT_KEY] = RunReport(
        settings, clock="real" if settings.backend == "aws" else "virtual", scenarios=[_scenario_info(s) for s in scenarios]
    )


def _scenario_info(scenario: Any) -> dict[str, Any]:
    return {
        "name": scenario.name, "strategy": scenario.strategy.name, "source": scenario.source,
        "regions": {"primary": scenario.primary_region, "dr": scenario.dr_region},
        "latency": {str(k): v for k, v in scenario.latency.items()},
    }


def _pytest_gc_passes(config: pytest.Config) -> int:
    """How many ``gc.collect()`` passes pytest's unraisable-exception check will run (1 on
    CPython; 0 in its in-process ``pytester`` runs); 1 when that private key cannot be read."""
    try:
        from _pytest.unraisableexception import gc_collect_iterations_key
    except ImportError:
        return 1
    return int(config.stash.get(gc_collect_iterations_key, 1))


def pytest_unconfigure(config: pytest.Config) -> None:
    end_gc_session(_pytest_gc_passes(config))
    stash = config.stash
    keys: list[pytest.StashKey[Any]] = [SETTINGS_KEY, SCENARIOS_KEY, REPORT_KEY, GATE_KEY, PROGRESS_KEY]
    for key in keys:
        if key in stash:
            del stash[key]
    hooks = config.pluginmanager.get_plugin(PROGRESS_PLUGIN)
    if hooks is not None:
        config.pluginmanager.unregister(hooks)


# -- while an item runs: progress and the errors of the world's background threads ------------------
class ProgressHooks:
    """Ends an item's progress before pytest writes its outcome (registered only where it shows)."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.progress.finish()

    def pytest_runtest_logfinish(self, nodeid: str, location: tuple[str, int | None, str]) -> None:
        self.progress.finish()


PROGRESS_PLUGIN = "drtest-progress"


def pytest_sessionstart(session: pytest.Session) -> None:
    config = session.config
    progress = Progress.for_config(config)  # the terminal reporter exists by now
    if progress is not None and not config.pluginmanager.has_plugin(PROGRESS_PLUGIN):
        config.stash[PROGRESS_KEY] = progress
        config.pluginmanager.register(ProgressHooks(progress), PROGRESS_PLUGIN)
    print_plan(session)


def print_plan(session: pytest.Session) -> None:
    """``--dr-plan``: print the plan of each scenario on the account, then end the session."""
    config = session.config
    settings = config.stash.get(SETTINGS_KEY, None)
    if settings is None or not settings.plan:
        return
    from pytest_drtest.backends.aws_plan import plan_lines, plan_scenario
    from pytest_drtest.backends.base import make_backend
    from pytest_drtest.errors import BackendRefused

    backend = make_backend("aws", {"aws_accounts": settings.aws_accounts, "aws_fis_role": settings.aws_fis_role})
    try:
        backend.start()  # STS GetCallerIdentity against the allowlist
    except BackendRefused as exc:
        raise pytest.UsageError(str(exc)) from None
    clients = backend.factory(backend.new_session())
    account = str(getattr(backend, "account", ""))
    plans = [plan_scenario(s, clients, account, settings.aws_fis_role) for s in config.stash.get(SCENARIOS_KEY, [])]
    writer = config.pluginmanager.get_plugin("terminalreporter")
    if writer is not None:
        writer.write_sep("=", "drtest plan (--dr-plan)")
        for line in plan_lines(plans, account):
            writer.write_line(line)
    pytest.exit("drtest plan printed; nothing was created", returncode=pytest.ExitCode.OK)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    """Errors raised in a harness's background threads fail the test's call phase, not its teardown."""
    harness = item.stash.get(HARNESS_KEY, None)
    try:
        result = yield
    except BaseException as exc:
        sink = harness.background_errors if harness is not None else None
        for reported in sink.take() if sink is not None else []:
            exc.add_note(f"meanwhile in a background thread of the emulated world: {reported.describe()}")
        raise
    harness = item.stash.get(HARNESS_KEY, harness)
    sink = harness.background_errors if harness is not None else None
    if sink is not None:
        sink.raise_errors()
    return result


def pytest_report_header(config: pytest.Config) -> list[str]:
    settings = config.stash.get(SETTINGS_KEY, None)
    if settings is None:
        return []
    o = settings.origins
    scenarios = config.stash.get(SCENARIOS_KEY, [])
    parts = [
        f"backend={settings.backend} ({o.get('dr_backend', 'default')})",
        f"seed={settings.seed} ({o.get('dr_seed', 'default')})",
    ]
    if scenarios and not settings.regions_given:  # the regions the game days really use
        pairs: dict[tuple[str, str], list[str]] = {}
        for scenario in scenarios:
            pairs.setdefault((scenario.primary_region, scenario.dr_region), []).append(scenario.name)
        parts.extend(
            f"regions={p},{d} (scenario{'s' if len(names) > 1 else ''} {', '.join(names)})" for (p, d), names in pairs.items()
        )
    else:
        parts.append(f"regions={','.join(settings.regions)} ({o.get('dr_regions', 'default')})")
    paced = f":{settings.clock_speed:g}" if settings.clock_mode == "paced" else ""
    parts.append(f"clock={settings.clock_mode}{paced} ({o.get('dr_clock', 'default')})")
    if settings.scenario:
        parts.append(f"scenario={settings.scenario}")
    profile = "defaults" + (f" + {settings.profile_file}" if settings.profile_file else "") + (" + ini dr_latency" if settings.latency_lines else "")
    parts.append(f"profile={profile}")
    if settings.policy is not None:
        parts.append(f"policy={settings.policy.name} ({settings.policy.source})")
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
    bad = []
    for item in items:
        if item.get_closest_marker("dr") is not None:
            try:
                marker_args(item)
            except DrConfigError as exc:
                bad.append(f"{item.nodeid}: {exc}")
    if bad:
        raise pytest.UsageError(f"{len(bad)} bad @pytest.mark.dr marker(s):\n" + "\n".join(bad))
    from pytest_drtest.items import ScenarioFile, scenario_nodeid

    for scenario in config.stash.get(SCENARIOS_KEY, []):
        node = ScenarioFile.from_parent(session, path=Path(scenario.source), nodeid=scenario_nodeid(config, scenario.name))
        node.scenario = scenario
        items.extend(node.collect())


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    report = config.stash.get(REPORT_KEY, None)
    gate = config.stash.get(GATE_KEY, None)
    settings = config.stash.get(SETTINGS_KEY, None)
    if report is None or settings is None:
        return
    if not report.empty:
        terminalreporter.write_sep("=", "drtest summary")
        for line in report.table():
            terminalreporter.write_line(line)
    if gate is not None and gate.lines:
        terminalreporter.write_sep("=", "drtest comparison")
        for line in gate.lines:
            terminalreporter.write_line(line)
    if gate is not None and gate.rules:
        if gate.regressions:
            terminalreporter.write_sep("=", f"drtest gate: {len(gate.regressions)} regression(s)", red=True)
            for line in gate.regressions:
                terminalreporter.write_line(f"REGRESSION {line}", red=True)
        else:
            terminalreporter.write_line(f"drtest gate: no regression against {gate.baseline_path} ({', '.join(r.text for r in gate.rules)})")
    if not report.empty or settings.report or settings.html:
        if settings.report:
            terminalreporter.write_line(f"JSON report: {settings.report}")
        if settings.html:
            terminalreporter.write_line(f"HTML report: {settings.html}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    report = config.stash.get(REPORT_KEY, None)
    settings = config.stash.get(SETTINGS_KEY, None)
    gate = config.stash.get(GATE_KEY, None)
    if report is None or settings is None or config.option.collectonly:
        return  # --collect-only measures nothing: keep the files of the last real run
    workeroutput = getattr(config, "workeroutput", None)
    if workeroutput is not None:  # a pytest-xdist worker: the controller merges, judges and writes
        workeroutput[WORKER_REPORT] = report.as_dict()
        return
    data = report.as_dict()
    if gate is not None and gate.baseline is not None:
        gate.lines = comparison_lines(data, gate.baseline, str(gate.baseline_path))
        gate.regressions = regressions(data, gate.baseline, gate.rules)
        data["comparison"] = {"baseline": gate.baseline_path, "lines": gate.lines}
        if gate.rules:
            data["gate"] = {"rules": [r.text for r in gate.rules], "regressions": gate.regressions,
                            "lines": gate.regressions or ["no regression"]}
        if gate.regressions and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
    if settings.report:
        report.write_json(settings.report, data)
    if settings.html:
        from pytest_drtest.report_html import write_html

        write_html(data, settings.html)


# -- pytest-xdist: workers hand their report data to the controller (as pytest-cov does) ---------------
WORKER_REPORT = "drtest_report"


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node: Any, ids: list[str]) -> None:
    """The controller keeps the collection order: the merged report lists experiments as a serial run does."""
    report = node.config.stash.get(REPORT_KEY, None)
    if report is not None and not report.order:
        report.order = list(ids)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """The controller takes a finished worker's report data (none when it crashed)."""
    report = node.config.stash.get(REPORT_KEY, None)
    data = (getattr(node, "workeroutput", None) or {}).get(WORKER_REPORT)
    if report is not None and data:
        report.workers.append(data)


__all__ = ["DrError"]
