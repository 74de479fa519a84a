"""Experiments on the clock: initiation, target resolution, the action sequence, stop and failure.

[FIS-UG:experiments], [FIS-UG:action-sequence], [FIS-UG:experiment-options], [FIS-UG:stop-conditions]:

- ``StartExperiment`` answers ``initiating``; at the same clock instant (FIS's start-up seconds are
  not modeled) the stop-condition alarms are checked and the targets resolved, then the experiment
  is ``running``.
- A target that resolves no resources fails the experiment (``InvalidTarget``) with
  ``emptyTargetResolutionMode`` ``fail`` (the default); with ``skip`` its actions are ``skipped``.
- Actions without ``startAfter`` start at once; the others when every action they wait for is
  ``completed`` or ``skipped``. An action with a ``duration`` runs for it and is then reverted;
  the others complete when their calls return. ``actionsMode`` ``skip-all`` skips every action.
- An action the emulation does not model, whose targets resolved resources, fails the experiment
  naming it (``ConfigurationFailure``), as FIS fails an experiment with an invalid action.
- A failed action fails the experiment: running actions are reverted (``stopped``), waiting ones
  ``cancelled``. ``StopExperiment``, or a stop-condition alarm entering ``ALARM``, does the same
  with the experiment ``stopping`` then ``stopped``. The experiment ``completed`` when every action
  is ``completed`` or ``skipped``.
"""
from __future__ import annotations

from typing import Any

import botocore.exceptions

from pytest_drtest.emulation.fis.actions import ActionFailed, FisActions
from pytest_drtest.emulation.fis.models import (
    ACTION_DONE,
    ACTION_REASONS,
    ACTIONS,
    CANCELLED,
    COMPLETED,
    CONFIGURATION_FAILURE,
    FAILED,
    INVALID_TARGET,
    PENDING,
    REASONS,
    RUNNING,
    SKIPPED,
    STOPPED,
    STOPPING,
    ActionRun,
    Experiment,
)
from pytest_drtest.emulation.fis.targets import TargetResolver


class FisExperiments(FisActions):
    """Runs experiments; ``experiments`` by id."""

    def _setup_experiments(self) -> None:
        self._setup_actions()
        self.experiments: dict[str, Experiment] = {}
        self._accounts: dict[str, str] = {}
        self._listening = False

    def _resolver(self, exp: Experiment) -> TargetResolver:
        return TargetResolver(self.api, exp.region, self._account(exp.region), self.profile)

    def _account(self, region: str) -> str:
        if region not in self._accounts:
            self._accounts[region] = self.api.client("sts", region).get_caller_identity()["Account"]
        return self._accounts[region]

    # -- starting --------------------------------------------------------------------------------
    def begin(self, exp: Experiment) -> None:
        self.experiments[exp.id] = exp
        self._listen()
        self.later(0, lambda: self._initiate(exp), name=f"fis {exp.id} initiate")

    def _initiate(self, exp: Experiment) -> None:
        if exp.done:
            return
        from pytest_drtest.emulation.cloudwatch import ALARM

        watch = self._cloudwatch()
        for arn in exp.stop_alarms:
            alarm = watch.alarm_by_arn(arn) if watch is not None else None
            if alarm is None:
                return self._fail(exp, None, CONFIGURATION_FAILURE, f"Stop condition alarm {arn} does not exist.")
            if alarm.state == ALARM:
                return self._stop(exp, f"Stop condition {arn} is in ALARM: {alarm.reason}")
        resolver = self._resolver(exp)
        for name, target in (exp.template.get("targets") or {}).items():
            try:
                exp.resolved[name] = resolver.resolve(name, target)
            except botocore.exceptions.BotoCoreError as exc:
                return self._fail(exp, None, INVALID_TARGET, f"Target {name} could not be resolved: {exc}", location=name)
            if not exp.resolved[name] and exp.empty_mode == "fail":
                return self._fail(exp, None, INVALID_TARGET, f"Target resolution returned empty set for target {name}.", location=name)
        exp.status, exp.reason = RUNNING, REASONS[RUNNING]
        for run in exp.actions.values():
            run.resources = {key: exp.resolved.get(target, []) for key, target in run.targets.items()}
        self._advance(exp)

    def _advance(self, exp: Experiment) -> None:
        """Start every pending action whose predecessors are done; complete the experiment when all are."""
        if exp.done or exp.status == STOPPING:
            return
        for run in list(exp.actions.values()):
            if run.status != PENDING:
                continue
            before = [exp.actions[name] for name in run.start_after]
            if any(b.status not in (COMPLETED, SKIPPED) for b in before):
                continue
            self._start_action(exp, run)
            if exp.done:
                return
        if all(run.status in (COMPLETED, SKIPPED) for run in exp.actions.values()):
            exp.status, exp.reason, exp.end = COMPLETED, REASONS[COMPLETED], self.clock.now()

    def _start_action(self, exp: Experiment, run: ActionRun) -> None:
        now = self.clock.now()
        if exp.actions_mode == "skip-all" or (run.targets and any(not r for r in run.resources.values())):
            run.status, run.reason, run.start, run.end = SKIPPED, ACTION_REASONS[SKIPPED], now, now
            if exp.actions_mode == "skip-all":
                run.reason = "Action was skipped (actionsMode skip-all)."
            return
        spec = ACTIONS[run.action_id]
        runner = self.runner(run.action_id) if spec.modeled else None
        run.status, run.reason, run.start = RUNNING, ACTION_REASONS[RUNNING], now
        if runner is None:
            return self._fail(exp, run, CONFIGURATION_FAILURE,
                              f"Action {run.name}: action type {run.action_id} is not modeled by the emulation.")
        try:
            duration = runner(exp, run)
        except ActionFailed as exc:
            return self._fail(exp, run, exc.code, f"Action {run.name} ({run.action_id}) failed: {exc.reason}")
        if duration is None:
            self._finish_action(exp, run)
        else:
            run.timer = self.later(duration, lambda: self._expire(exp, run), name=f"fis {exp.id} {run.name} end")

    def _expire(self, exp: Experiment, run: ActionRun) -> None:
        if run.status != RUNNING:
            return
        if run.expire_reason is not None:
            return self._fail(exp, run, CONFIGURATION_FAILURE, run.expire_reason)
        self._finish_action(exp, run)

    def _finish_action(self, exp: Experiment, run: ActionRun) -> None:
        """The action's work is done: revert it, mark it completed, start what waited for it."""
        try:
            self._undo(run)
        except ActionFailed as exc:
            return self._fail(exp, run, exc.code, f"Action {run.name} ({run.action_id}) failed: {exc.reason}")
        run.status, run.reason, run.end = COMPLETED, ACTION_REASONS[COMPLETED], self.clock.now()
        self._advance(exp)

    @staticmethod
    def _undo(run: ActionRun) -> None:
        if run.timer is not None:
            run.timer.cancel()
            run.timer = None
        while run.undo:
            run.undo.pop()()

    # -- ending early -------------------------------------------------------------------------------
    def _halt(self, exp: Experiment, running_to: str, keep: ActionRun | None = None) -> None:
        """Revert running actions (-> ``running_to``), cancel waiting ones."""
        now = self.clock.now()
        for run in exp.actions.values():
            if run is keep or run.status in ACTION_DONE:
                continue
            if run.status == RUNNING:
                try:
                    self._undo(run)
                except ActionFailed:
                    pass  # reverting is best effort once the experiment ends
                run.status, run.reason = running_to, ACTION_REASONS[STOPPED]
            else:
                run.status, run.reason = CANCELLED, ACTION_REASONS[CANCELLED]
            run.end = now

    def _fail(self, exp: Experiment, run: ActionRun | None, code: str, reason: str, *, location: str | None = None) -> None:
        if exp.done:
            return
        now = self.clock.now()
        if run is not None:
            try:
                self._undo(run)
            except ActionFailed:
                pass
            run.status, run.reason, run.end = FAILED, reason, now
        self._halt(exp, STOPPED, keep=run)
        exp.status, exp.reason, exp.end = FAILED, reason, now
        exp.error = {"code": code, "location": location or (run.name if run is not None else "experiment")}

    def stop(self, exp: Experiment, reason: str = REASONS[STOPPING]) -> None:
        """``StopExperiment``: ``stopping`` now, ``stopped`` once the actions are reverted."""
        if exp.done or exp.status == STOPPING:
            return
        exp.status, exp.reason = STOPPING, reason
        self.later(0, lambda: self._stopped(exp), name=f"fis {exp.id} stopped")

    def _stop(self, exp: Experiment, reason: str) -> None:
        exp.status, exp.reason = STOPPING, reason
        self._stopped(exp)

    def _stopped(self, exp: Experiment) -> None:
        if exp.done:
            return
        self._halt(exp, STOPPED)
        exp.status, exp.end = STOPPED, self.clock.now()
        if exp.reason == REASONS[STOPPING]:
            exp.reason = REASONS[STOPPED]

    # -- stop conditions ------------------------------------------------------------------------------
    def _cloudwatch(self) -> Any:
        from pytest_drtest.emulation.cloudwatch import CloudWatchEmulator

        try:
            return self.emulation.find(CloudWatchEmulator)
        except KeyError:
            return None

    def _listen(self) -> None:
        watch = self._cloudwatch()
        if watch is not None and not self._listening:
            watch.listeners.append(self._alarm_changed)
            self._listening = True

    def _alarm_changed(self, alarm: Any) -> None:
        from pytest_drtest.emulation.cloudwatch import ALARM

        if alarm.state != ALARM:
            return
        for exp in list(self.experiments.values()):
            if not exp.done and exp.status != STOPPING and alarm.arn in exp.stop_alarms:
                self._stop(exp, f"Experiment stopped by stop condition {alarm.arn}: {alarm.reason}")

    def close(self) -> None:
        """Teardown: revert what running experiments still hold, then cancel the timers."""
        for exp in self.experiments.values():
            if not exp.done:
                self._halt(exp, STOPPED)
                exp.status, exp.end = STOPPED, self.clock.now()
        super().close()
