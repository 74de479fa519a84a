"""The FIS emulator: experiment templates validated, experiments run on the clock.

moto stores templates and walks an experiment's states without touching its targets. Here
``CreateExperimentTemplate`` and ``UpdateExperimentTemplate`` are validated as FIS does
(``ValidationException``; nothing is stored), moto keeps the templates, and experiments are the
emulator's: ``StartExperiment``, ``GetExperiment``, ``ListExperiments``, ``StopExperiment`` and
``ListExperimentResolvedTargets`` are answered from :mod:`~pytest_drtest.emulation.fis.experiments`
with clock times ([BC:fis] ``Experiment``).
"""
from __future__ import annotations

import copy
from typing import Any

import botocore.exceptions

from pytest_drtest.emulation.core import AwsError, Call, Emulation
from pytest_drtest.emulation.fis.experiments import FisExperiments
from pytest_drtest.emulation.fis.models import PENDING, ActionRun, Experiment
from pytest_drtest.emulation.fis.templates import validate_template
from pytest_drtest.emulation.shapes import ShapeError

_ID_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


class FisEmulator(FisExperiments):
    """AWS FIS on the clock (see :mod:`pytest_drtest.emulation.fis.experiments`)."""

    service = "fis"

    def __init__(self, emulation: Emulation) -> None:
        super().__init__(emulation)
        self._setup_experiments()
        self._started: dict[tuple[str, str], str] = {}  # (region, clientToken) -> experiment id

    # -- templates -------------------------------------------------------------------------------
    def before_CreateExperimentTemplate(self, call: Call) -> dict[str, Any] | None:
        try:
            validate_template(call.params)
        except ShapeError as exc:
            raise AwsError("ValidationException", str(exc)) from None
        return None

    def before_UpdateExperimentTemplate(self, call: Call) -> dict[str, Any] | None:
        try:
            current = self.backdoor(call.region).get_experiment_template(id=call.params["id"])["experimentTemplate"]
        except botocore.exceptions.ClientError:
            return None  # moto answers ResourceNotFoundException
        merged = {k: current[k] for k in ("description", "stopConditions", "targets", "actions", "roleArn") if k in current}
        merged.update({k: v for k, v in call.params.items() if k != "id"})
        try:
            validate_template(merged)
        except ShapeError as exc:
            raise AwsError("ValidationException", str(exc)) from None
        return None

    def after_CreateExperimentTemplate(self, call: Call) -> None:
        self._clock_times((call.parsed or {}).get("experimentTemplate", {}))

    def after_GetExperimentTemplate(self, call: Call) -> None:
        self._clock_times((call.parsed or {}).get("experimentTemplate", {}))

    def _clock_times(self, row: dict[str, Any]) -> None:
        for key in ("creationTime", "lastUpdateTime"):
            if key in row:
                row[key] = self.clock.datetime()

    # -- experiments -----------------------------------------------------------------------------
    def before_StartExperiment(self, call: Call) -> dict[str, Any]:
        """Start an experiment of the template. ``clientToken`` is an idempotency token [BC:fis]
        (botocore fills in a fresh one when the caller gives none): a start that repeats one answers
        the experiment it started, as moto answers a repeated CreateExperimentTemplate."""
        token = (call.region, str(call.params.get("clientToken") or ""))
        if token[1] and token in self._started:
            return {"experiment": self.describe(self.experiments[self._started[token]])}
        template_id = call.params["experimentTemplateId"]
        try:
            template = self.backdoor(call.region).get_experiment_template(id=template_id)["experimentTemplate"]
        except botocore.exceptions.ClientError:
            raise AwsError("ResourceNotFoundException", f"Experiment template {template_id} not found.", 404) from None
        exp = self._new_experiment(call.region, template_id, template, call.params)
        self.begin(exp)
        if token[1]:
            self._started[token] = exp.id
        return {"experiment": self.describe(exp)}

    def _new_experiment(self, region: str, template_id: str, template: dict[str, Any], params: dict[str, Any]) -> Experiment:
        rng = self.profile.rng("fis.ids")
        ident = "EXP" + "".join(rng.choice(_ID_CHARS) for _ in range(17))
        actions = {
            name: ActionRun(name, a["actionId"], dict(a.get("parameters") or {}), dict(a.get("targets") or {}),
                            list(a.get("startAfter") or []), a.get("description", ""))
            for name, a in (template.get("actions") or {}).items()
        }
        alarms = [c["value"] for c in template.get("stopConditions") or [] if c.get("source") == "aws:cloudwatch:alarm"]
        now = self.clock.now()
        return Experiment(
            id=ident, arn=f"arn:aws:fis:{region}:{self._account(region)}:experiment/{ident}", region=region,
            template_id=template_id, template=copy.deepcopy(template), actions=actions, creation=now, start=now,
            tags=dict(params.get("tags") or {}), stop_alarms=alarms,
            actions_mode=str((params.get("experimentOptions") or {}).get("actionsMode", "run-all")),
        )

    def _mine(self, call: Call, key: str = "id") -> Experiment:
        exp = self.experiments.get(call.params[key])
        if exp is None or exp.region != call.region:
            raise AwsError("ResourceNotFoundException", f"Experiment {call.params[key]} not found.", 404)
        return exp

    def before_GetExperiment(self, call: Call) -> dict[str, Any]:
        return {"experiment": self.describe(self._mine(call))}

    def before_StopExperiment(self, call: Call) -> dict[str, Any]:
        exp = self._mine(call)
        self.stop(exp)
        return {"experiment": self.describe(exp)}

    def before_ListExperiments(self, call: Call) -> dict[str, Any]:
        wanted = call.params.get("experimentTemplateId")
        rows = [self.summary(e) for e in self.experiments.values() if e.region == call.region and wanted in (None, e.template_id)]
        return {"experiments": rows}

    def before_ListExperimentResolvedTargets(self, call: Call) -> dict[str, Any]:
        exp = self._mine(call, "experimentId")
        wanted = call.params.get("targetName")
        rows = [
            {"resourceType": exp.template["targets"][name]["resourceType"], "targetName": name,
             "targetInformation": {"arn": r.arn}}
            for name, resources in exp.resolved.items() if wanted in (None, name) for r in resources
        ]
        return {"resolvedTargets": rows}

    # -- answers ---------------------------------------------------------------------------------
    def _state(self, exp: Experiment) -> dict[str, Any]:
        state: dict[str, Any] = {"status": exp.status, "reason": exp.reason}
        if exp.error is not None:
            state["error"] = dict(exp.error)
        return state

    def summary(self, exp: Experiment) -> dict[str, Any]:
        return {"id": exp.id, "arn": exp.arn, "experimentTemplateId": exp.template_id, "state": self._state(exp),
                "creationTime": self.clock.datetime(exp.creation), "tags": dict(exp.tags)}

    def describe(self, exp: Experiment) -> dict[str, Any]:
        """The experiment as ``GetExperiment`` reports it, with clock times."""
        actions: dict[str, Any] = {}
        for name, run in exp.actions.items():
            row: dict[str, Any] = {"actionId": run.action_id, "parameters": dict(run.parameters), "targets": dict(run.targets),
                                   "startAfter": list(run.start_after), "state": {"status": run.status, "reason": run.reason}}
            if run.description:
                row["description"] = run.description
            if run.start is not None and run.status != PENDING:
                row["startTime"] = self.clock.datetime(run.start)
            if run.end is not None:
                row["endTime"] = self.clock.datetime(run.end)
            actions[name] = row
        out: dict[str, Any] = {
            "id": exp.id, "arn": exp.arn, "experimentTemplateId": exp.template_id, "roleArn": exp.template.get("roleArn", ""),
            "state": self._state(exp), "targets": copy.deepcopy(exp.template.get("targets") or {}), "actions": actions,
            "stopConditions": copy.deepcopy(exp.template.get("stopConditions") or []),
            "creationTime": self.clock.datetime(exp.creation), "startTime": self.clock.datetime(exp.start),
            "tags": dict(exp.tags),
            "experimentOptions": {
                "accountTargeting": "single-account", "emptyTargetResolutionMode": exp.empty_mode,
                "actionsMode": exp.actions_mode,
            },
        }
        if exp.end is not None:
            out["endTime"] = self.clock.datetime(exp.end)
        return out

