"""The fixtures users write DR tests with: ``dr``, ``dr_topology``, ``dr_clock``, ``dr_objectives``, ``dr_settings``."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_drtest.clock import Clock
from pytest_drtest.errors import DrConfigError
from pytest_drtest.harness import Harness
from pytest_drtest.objectives import MARKER, Objectives
from pytest_drtest.progress import Progress
from pytest_drtest.regions import check_region_pair
from pytest_drtest.report import RunReport, display_id
from pytest_drtest.settings import Settings
from pytest_drtest.strategies import get_strategy
from pytest_drtest.topology.blueprint import (
    Blueprint,
    load_blueprint,
    parse_web,
    shipped_blueprints,
)
from pytest_drtest.topology.model import Topology

SETTINGS_KEY = pytest.StashKey[Settings]()
REPORT_KEY = pytest.StashKey[RunReport]()
SCENARIOS_KEY = pytest.StashKey[list[Any]]()
PROGRESS_KEY = pytest.StashKey[Progress]()  # absent where nothing is shown (-q, no terminal, xdist worker)
HARNESS_KEY = pytest.StashKey[Harness]()  # on an item: its harness (background errors fail its call phase)


def watch(node: pytest.Item, harness: Harness) -> None:
    """Make ``harness`` the item's, and show its phases while it runs (see :mod:`pytest_drtest.progress`)."""
    node.stash[HARNESS_KEY] = harness
    progress = node.config.stash.get(PROGRESS_KEY, None)
    if progress is not None:
        harness.observe(progress.start(display_id(node.nodeid)))


def dr_marker_args(
    strategy: str | None = None,
    rto: Any = None,
    rpo: Any = None,
    regions: Any = None,
    blueprint: str | None = None,
    availability: Any = None,
    web: Any = None,
    *,
    relative_to: Path | None = None,
) -> dict[str, Any]:
    """The signature of ``@pytest.mark.dr(...)``; validates every argument.

    A ``blueprint`` that is not a shipped name is a ``.toml`` path relative to ``relative_to``
    (the test file's folder), as a scenario file's blueprint is relative to the scenario.
    """
    args: dict[str, Any] = {}
    if strategy is not None:
        args["strategy"] = get_strategy(strategy, source=MARKER).name
    args["objectives"] = Objectives.parse(rto, rpo, availability, source=MARKER, level="marker")
    if regions is not None:
        if isinstance(regions, str):
            regions = [r.strip() for r in regions.split(",")]
        if not isinstance(regions, (list, tuple)) or len(regions) != 2:
            raise DrConfigError(f"{MARKER}: regions expects (primary, dr), got {regions!r}")
        args["regions"] = check_region_pair(regions[0], regions[1], source=MARKER)
    if blueprint is not None:
        args["blueprint"] = _marker_blueprint(blueprint, relative_to)
    if web is not None:
        args["web"] = parse_web(web, source=MARKER, cwd=str(relative_to or Path.cwd()), field="web")
    return args


def _marker_blueprint(ref: Any, relative_to: Path | None) -> Blueprint:
    if not isinstance(ref, (str, Path)):
        raise DrConfigError(f"{MARKER}: blueprint expects a shipped name or a .toml path, got {ref!r}")
    text = str(ref)
    if text in shipped_blueprints():
        return load_blueprint(text)
    from pytest_drtest.stacks.template import is_template_ref

    if is_template_ref(text):  # a CloudFormation template (docs/stacks.md), relative to the test file
        return load_blueprint(text, relative_to=relative_to, source=MARKER)
    path = Path(text)
    if relative_to is not None and not path.is_absolute():
        path = relative_to / path
    if path.suffix != ".toml":
        raise DrConfigError(
            f"{MARKER}: unknown blueprint {text!r}; expected a shipped name ({', '.join(sorted(shipped_blueprints()))}) "
            "or a .toml file relative to the test file"
        )
    if not path.is_file():
        raise DrConfigError(f"{MARKER}: blueprint file {text!r} not found (tried {path})")
    return load_blueprint(str(path))


def marker_args(node: pytest.Item) -> dict[str, Any]:
    marker = node.get_closest_marker("dr")
    if marker is None:
        return {}
    path = getattr(node, "path", None)
    try:
        return dr_marker_args(*marker.args, **marker.kwargs, relative_to=path.parent if path is not None else None)
    except TypeError as exc:
        raise DrConfigError(
            f"{MARKER}: {exc}; expected strategy=, rto=, rpo=, availability=, regions=, blueprint=, web="
        ) from None


@pytest.fixture
def dr(request: pytest.FixtureRequest) -> Iterator[Harness]:
    """The harness of one DR test: clock, clients, topology, faults, probes and objectives.

    The strategy comes from ``@pytest.mark.dr(strategy=...)``, else from ``--dr-scenario`` when it
    names one scenario, else warm standby. Everything is torn down after the test.
    """
    config = request.config
    settings = config.stash[SETTINGS_KEY]
    args = marker_args(request.node)
    scenarios = config.stash.get(SCENARIOS_KEY, [])
    scenario = scenarios[0] if len(scenarios) == 1 else None
    if scenario is not None and args.get("strategy") not in (None, scenario.strategy.name):
        scenario = None
    harness = Harness(
        settings,
        test=request.node.nodeid,
        strategy=args.get("strategy"),
        objectives=args.get("objectives"),
        scenario=scenario,
        blueprint=args.get("blueprint"),
        regions=args.get("regions") or (None if scenario else settings.regions),
        web=args.get("web"),
    )
    watch(request.node, harness)
    harness.start()
    try:
        yield harness
    finally:
        try:
            report_results(request.node, harness)
            for region, output in harness.service_outputs().items():
                request.node.add_report_section("teardown", f"drtest service {region}", output)
        finally:
            harness.close()


def report_results(node: pytest.Item, harness: Harness) -> None:
    """Hand what a test measured to the session's report and to JUnit XML properties."""
    report = node.config.stash.get(REPORT_KEY, None)
    if report is not None:
        report.experiments.extend(harness.records)
        report.restores.extend(harness.restore_results)
        report.services.update(harness.backend.placement())
    for record in harness.records:
        measured = record.result.as_dict()
        for key in ("rto_s", "rpo_s", "lost_writes", "modeled"):
            node.user_properties.append((key, measured[key]))
    for restore in harness.restore_results:
        node.user_properties.append(("restore_items_matched", f"{restore.items_matched}/{restore.items_expected}"))


@pytest.fixture
def dr_topology(dr: Harness) -> Topology:
    """The built topology of the selected strategy (waits until it serves)."""
    return dr.topology


@pytest.fixture
def dr_clock(dr: Harness) -> Clock:
    """The run's clock: virtual on emulated backends, wall time on aws."""
    return dr.clock


@pytest.fixture
def dr_objectives(dr: Harness) -> Objectives:
    """The objectives in force: marker, else scenario, else the strategy's band."""
    return dr.objectives


@pytest.fixture(scope="session")
def dr_settings(pytestconfig: pytest.Config) -> Settings:
    """The run's settings (backend, seed, regions, profile sources)."""
    return pytestconfig.stash[SETTINGS_KEY]
