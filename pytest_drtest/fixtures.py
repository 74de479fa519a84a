"""The fixtures users write DR tests with: ``dr``, ``dr_topology``, ``dr_clock``, ``dr_objectives``, ``dr_settings``."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from pytest_drtest.clock import Clock
from pytest_drtest.errors import DrConfigError
from pytest_drtest.harness import Harness
from pytest_drtest.objectives import Objectives
from pytest_drtest.regions import check_region_pair
from pytest_drtest.report import RunReport
from pytest_drtest.settings import Settings
from pytest_drtest.strategies import get_strategy
from pytest_drtest.topology.blueprint import load_blueprint
from pytest_drtest.topology.model import Topology

SETTINGS_KEY = pytest.StashKey[Settings]()
REPORT_KEY = pytest.StashKey[RunReport]()
SCENARIOS_KEY = pytest.StashKey[list]()


def dr_marker_args(
    strategy: str | None = None,
    rto: Any = None,
    rpo: Any = None,
    regions: Any = None,
    blueprint: str | None = None,
) -> dict[str, Any]:
    """The signature of ``@pytest.mark.dr(...)``; validates every argument."""
    args: dict[str, Any] = {}
    if strategy is not None:
        args["strategy"] = get_strategy(strategy, source="@pytest.mark.dr").name
    args["objectives"] = Objectives.parse(rto, rpo, source="@pytest.mark.dr")
    if regions is not None:
        if isinstance(regions, str):
            regions = [r.strip() for r in regions.split(",")]
        if not isinstance(regions, (list, tuple)) or len(regions) != 2:
            raise DrConfigError(f"@pytest.mark.dr: regions expects (primary, dr), got {regions!r}")
        args["regions"] = check_region_pair(regions[0], regions[1], source="@pytest.mark.dr")
    if blueprint is not None:
        args["blueprint"] = load_blueprint(blueprint)
    return args


def marker_args(node: pytest.Item) -> dict[str, Any]:
    marker = node.get_closest_marker("dr")
    if marker is None:
        return {}
    try:
        return dr_marker_args(*marker.args, **marker.kwargs)
    except TypeError as exc:
        raise DrConfigError(f"@pytest.mark.dr: {exc}; expected strategy=, rto=, rpo=, regions=, blueprint=") from None


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
    )
    harness.start()
    try:
        yield harness
    finally:
        try:
            report_results(request.node, harness)
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
