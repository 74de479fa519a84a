"""Scenario files as pytest items: one item per experiment and per restore check."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from pytest_drtest.errors import DrError
from pytest_drtest.fixtures import SETTINGS_KEY, report_results, watch
from pytest_drtest.harness import Harness
from pytest_drtest.scenario import Experiment, RestoreCheck, Scenario


def scenario_nodeid(config: pytest.Config, name: str) -> str:
    """``drtest:<name>``, placed under the folder pytest runs in so that progress lines and failure
    summaries print ``drtest:<name>::<item>`` rather than ``../drtest:...`` (pytest shows node ids
    relative to the invocation folder). Reports identify experiments by ``<scenario>::<item>``."""
    here = config.invocation_params.dir
    try:
        relative = here.relative_to(config.rootpath)
    except ValueError:
        return f"drtest:{name}"
    prefix = relative.as_posix()
    return f"drtest:{name}" if prefix in ("", ".") else f"{prefix}/drtest:{name}"


class ScenarioFile(pytest.File):
    """A scenario file (shipped or the user's)."""

    scenario: Scenario

    def collect(self) -> Iterator[pytest.Item]:
        for experiment in self.scenario.experiments:
            yield ScenarioItem.from_parent(self, name=experiment.name, experiment=experiment)
        if self.scenario.restore_checks:
            yield ScenarioItem.from_parent(self, name="restore-checks", experiment=None, checks=self.scenario.restore_checks)


class ScenarioItem(pytest.Item):
    """One game-day experiment (or restore check) of a scenario."""

    def __init__(self, *, experiment: Experiment | None, checks: list[RestoreCheck] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.experiment = experiment
        self.checks = checks or []
        self.scenario: Scenario = self.parent.scenario  # type: ignore[union-attr]

    def runtest(self) -> None:
        harness = Harness(self.config.stash[SETTINGS_KEY], test=self.nodeid, scenario=self.scenario)
        watch(self, harness)
        try:
            harness.start()
            if self.experiment is not None:
                harness.run_experiment(self.experiment)
            else:
                harness.run_restore_checks(self.checks)
        except BaseException as exc:
            try:
                self._finish(harness)
            except Exception as teardown:  # noqa: BLE001 - the experiment's own failure comes first
                exc.add_note(str(teardown))
            raise
        self._finish(harness)

    def _finish(self, harness: Harness) -> None:
        """Hand over what was measured, then tear everything down (raises what teardown could not undo)."""
        try:
            report_results(self, harness)
        finally:
            harness.close()

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, (AssertionError, DrError)):
            notes = "".join(f"\n{note}" for note in getattr(excinfo.value, "__notes__", []))
            return f"{self.scenario.name} / {self.name}: {excinfo.value}{notes}"
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Any, int | None, str]:
        what = self.experiment.fault.describe() if self.experiment else "restore checks " + ", ".join(c.kind for c in self.checks)
        return self.path, None, f"{self.scenario.name}: {what}"
