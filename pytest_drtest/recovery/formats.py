"""Scenario files naming what a team already has in AWS's formats.

- ``fault = { fis = "templates/az-power.json" }``: an AWS FIS experiment template (the
  ``CreateExperimentTemplate`` input, as ``aws fis get-experiment-template`` prints its
  ``experimentTemplate`` or the console exports it) started through FIS at the fault's time.
- ``runbook = { ssm = "doc.yaml", parameters = {...}, region = "primary" }``: an SSM Automation
  document (a file, or the name of a document of the emulated world such as an AWS Resilience Hub
  SOP) executed through SSM.
- ``runbook = { arc_plan = "plan.json", region = "dr", mode = "ungraceful", functions = {...} }``:
  an ARC Region switch plan (``AWS::ARCRegionSwitch::Plan``) created before the steady state and
  executed through ARC to activate ``region``.

Files are read relative to the scenario file, then among the shipped ones
(``pytest_drtest/scenarios/``); strings may hold ``${...}`` placeholders
(:mod:`pytest_drtest.recovery.placeholders`). Every problem in a file names the file, the path
inside it and what was expected, before anything is built. See docs/runbooks.md.
"""
from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import botocore.exceptions
import yaml

from pytest_drtest.config import import_callable
from pytest_drtest.emulation.arc_region_switch.models import plan_steps
from pytest_drtest.emulation.shapes import ShapeError
from pytest_drtest.errors import DrConfigError
from pytest_drtest.faults.base import Fault, FaultContext
from pytest_drtest.recovery.placeholders import check_placeholders, resolve
from pytest_drtest.recovery.steps import RunbookFailed, poll, record_restore

if TYPE_CHECKING:
    from pytest_drtest.clock import Clock
    from pytest_drtest.topology.model import Topology

#: A runbook waits this long at most for its execution: a guard against a run that never ends,
#: not a modeled AWS figure (each step has its own timeout).
RUNBOOK_TIMEOUT = 24 * 3600.0
#: Resource types the shipped topologies never hold: an unmodeled FIS action on them is skipped
#: (``emptyTargetResolutionMode`` ``skip``), as FIS skips an action whose targets resolve nothing.
ABSENT_TYPES = frozenset({
    "aws:iam:role", "aws:ec2:ebs-volume", "aws:ec2:spot-instance", "aws:ec2:transit-gateway",
    "aws:elasticache:replicationgroup", "aws:elasticache:redis-replicationgroup", "aws:ecs:task", "aws:ecs:cluster",
    "aws:eks:nodegroup", "aws:eks:pod", "aws:eks:cluster", "aws:lambda:function", "aws:directconnect:virtual-interface",
})
_DOC_NAME = re.compile(r"[^A-Za-z0-9_.-]")


# -- files -----------------------------------------------------------------------------------------
def locate(ref: Any, base: Path, *, source: str, field: str) -> Path:
    """``ref`` relative to the scenario's folder, else a shipped file of that path."""
    if not isinstance(ref, str) or not ref:
        raise DrConfigError(f"expected a path to a file, got {ref!r}", source=source, field=field)
    path = Path(ref)
    candidates = [path] if path.is_absolute() else [base / path, Path(str(resources.files("pytest_drtest") / "scenarios")) / path]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise DrConfigError(f"file {ref!r} does not exist (looked in {', '.join(str(c.parent) for c in candidates)})",
                        source=source, field=field)


def load_document(path: Path) -> Any:
    """A JSON or YAML file's data; errors name the file."""
    text = path.read_text(encoding="utf-8")
    try:
        return json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise DrConfigError(f"not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {str(exc).splitlines()[0]}",
                            source=str(path)) from None


def _shape_error(exc: ShapeError, path: Path) -> DrConfigError:
    return DrConfigError(exc.message, source=str(path), field=exc.path or None)


def _options(spec: dict[str, Any], allowed: tuple[str, ...], *, source: str, field: str) -> None:
    unknown = sorted(set(spec) - set(allowed))
    if unknown:
        raise DrConfigError(f"unknown key(s) {', '.join(unknown)}; expected: {', '.join(allowed)}", source=source, field=field)


# -- FIS ---------------------------------------------------------------------------------------------
@dataclass
class FisExperimentFault(Fault):
    """An FIS experiment started from a template: its actions run and revert on the clock."""

    kind = "fis"
    template: dict[str, Any] = field(default_factory=dict)
    file: str = ""

    @property
    def description(self) -> str:
        return str(self.template.get("description") or Path(self.file).name)

    def inject(self, ctx: FaultContext) -> None:
        ctx.require_world(self)
        topology = ctx.require_topology(self, "the FIS template's placeholders")
        template = resolve(self.template, topology, {})
        fis = topology.client("fis", "primary")
        # clientToken is an idempotency token [BC:fis]: a fresh one per injection, or a second
        # injection (this fault again, or another at a freed one's id()) gets the first template back.
        token = f"drtest-{uuid.uuid4().hex}"
        template_id = fis.create_experiment_template(clientToken=token, **template)["experimentTemplate"]["id"]
        experiment = fis.start_experiment(clientToken=token, experimentTemplateId=template_id)["experiment"]
        self.record.update(template=template_id, experiment=experiment["id"], region=topology.primary_region)
        topology.note("fis-experiment-started", f"{experiment['id']}: {self.description}")

    def revert(self, ctx: FaultContext) -> None:
        if "experiment" not in self.record or ctx.world is None or ctx.topology is None:
            return
        fis = ctx.topology.clients.client("fis", self.record["region"])
        try:
            state = fis.get_experiment(id=self.record["experiment"])["experiment"]["state"]["status"]
            if state in ("initiating", "running"):
                fis.stop_experiment(id=self.record["experiment"])
        except botocore.exceptions.EndpointConnectionError:
            pass  # its Region is lost (another fault): the emulation halts the experiment when it closes

    def describe(self) -> str:
        return self.description


def fis_fault_from_spec(spec: dict[str, Any], *, source: str, field: str, base: Path) -> FisExperimentFault:
    """``{ fis = "template.json" }``: the template validated as FIS would, and as the emulation runs it."""
    from pytest_drtest.emulation.fis import NOT_MODELED, validate_template

    _options(spec, ("fis",), source=source, field=field)
    path = locate(spec["fis"], base, source=source, field=f"{field}.fis")
    template = load_document(path)
    if isinstance(template, dict) and "experimentTemplate" in template and len(template) == 1:
        template = template["experimentTemplate"]  # as `aws fis get-experiment-template` prints it
    if isinstance(template, dict):
        template = {k: v for k, v in template.items() if k not in ("id", "arn", "creationTime", "lastUpdateTime")}
    try:
        validate_template(template)
    except ShapeError as exc:
        raise _shape_error(exc, path) from None
    check_placeholders(template, source=str(path))
    targets = template.get("targets") or {}
    skip = (template.get("experimentOptions") or {}).get("emptyTargetResolutionMode") == "skip"
    for name, action in template["actions"].items():
        if action["actionId"] not in NOT_MODELED:
            continue
        used = [targets[t] for t in (action.get("targets") or {}).values()]
        never_resolves = all(t["resourceType"] in ABSENT_TYPES and not t.get("resourceArns") for t in used)
        if not (skip and used and never_resolves):
            raise DrConfigError(
                f"action type {action['actionId']} is not modeled by the emulation; it may stay in a template only with "
                "experimentOptions.emptyTargetResolutionMode 'skip' and targets of types no topology holds (then FIS "
                "skips it); see docs/fis.md for the actions the emulation runs",
                source=str(path), field=f"actions.{name}.actionId",
            )
    return FisExperimentFault(template=template, file=str(path))


# -- SSM Automation --------------------------------------------------------------------------------------
def _ssm_parameters(values: dict[str, Any]) -> dict[str, list[str]]:
    out = {}
    for key, value in values.items():
        items = value if isinstance(value, list) else [value]
        out[key] = [json.dumps(v) if isinstance(v, bool) else str(v) for v in items]
    return out


def _document_name(path: Path) -> str:
    name = _DOC_NAME.sub("-", path.stem)[:120]
    return f"team-{name}" if name.lower().startswith(("aws", "amazon")) else name  # AWS reserves these prefixes


@dataclass
class SsmRunbook:
    """Runs an Automation document through SSM; the application follows what it restored or promoted."""

    document: str
    content: str | None = None  # the file's text; None: a document of the emulated world (AWS-owned)
    parameters: dict[str, Any] = field(default_factory=dict)
    region: str = "primary"
    source: str = ""
    start_after: float = 0.0  # from the fault until someone starts the runbook (detection)

    def __call__(self, topology: Topology, clock: Clock) -> None:
        clock.sleep(self.start_after)
        ssm = topology.client("ssm", self.region)
        if self.content is not None:
            try:
                ssm.describe_document(Name=self.document)
            except ssm.exceptions.InvalidDocument:
                ssm.create_document(Name=self.document, Content=self.content, DocumentType="Automation",
                                    DocumentFormat="JSON" if self.content.lstrip().startswith("{") else "YAML")
        params = _ssm_parameters(resolve(self.parameters, topology, {}))
        started = clock.now()
        ident = ssm.start_automation_execution(DocumentName=self.document, Parameters=params)["AutomationExecutionId"]
        topology.note("runbook-started", f"SSM {self.document} ({ident})")
        seen: set[str] = set()

        def finished() -> dict[str, Any] | None:
            exe = ssm.get_automation_execution(AutomationExecutionId=ident)["AutomationExecution"]
            for step in exe.get("StepExecutions", []):
                key = f"{step['StepName']}:{step['StepStatus']}"
                if step["StepStatus"] in ("Success", "Failed", "TimedOut", "Cancelled") and key not in seen:
                    seen.add(key)
                    topology.note("runbook-step", f"{step['StepName']} ({step['Action']}) {step['StepStatus']}")
            return exe if exe["AutomationExecutionStatus"] in ("Success", "Failed", "TimedOut", "Cancelled") else None

        exe = poll(clock, finished, every=topology.profile.value("automation_poll_interval"), timeout=RUNBOOK_TIMEOUT,
                   what=f"SSM runbook {self.document}")
        if exe["AutomationExecutionStatus"] != "Success":
            failed = [s for s in exe.get("StepExecutions", []) if s["StepStatus"] in ("Failed", "TimedOut", "Cancelled")]
            where = f"step {failed[-1]['StepName']} ({failed[-1]['Action']}): {failed[-1].get('FailureMessage', '')}" if failed else ""
            raise RunbookFailed(f"SSM runbook {self.document} ({ident}) ended {exe['AutomationExecutionStatus']}: "
                                f"{where or exe.get('FailureMessage', '')}")
        topology.note("runbook-completed", f"SSM {self.document}")
        for key, value in (exe.get("Outputs") or {}).items():
            if key.endswith(".RecoveryTime") and value:
                topology.note("runbook-recovery-time", str(float(value[0])))
        follow_ssm(topology, topology.region(self.region), exe, started)


def follow_ssm(topology: Topology, region: str, exe: dict[str, Any], started: float) -> None:
    """Point the application at what the document's API steps made: a table restored from the one
    it uses (recorded for the restore checks), the DR database it promoted."""
    for step in exe.get("StepExecutions", []):
        if step["StepStatus"] != "Success" or step["Action"] != "aws:executeAwsApi":
            continue
        inputs = step.get("Inputs") or {}
        api = str(inputs.get("Api", "")).replace("_", "").lower()
        if api == "restoretabletopointintime":
            _follow_restore(topology, region, inputs, started)
        elif api == "promotereadreplica" and inputs.get("DBInstanceIdentifier") == topology.stack(region).database:
            ident = str(inputs["DBInstanceIdentifier"])
            topology.note("db-promoted", ident)
            topology.point_app_at_database(region, ident)


def _follow_restore(topology: Topology, region: str, inputs: dict[str, Any], started: float) -> None:
    source, target = str(inputs.get("SourceTableName", "")), str(inputs.get("TargetTableName", ""))
    stack = topology.stack(region)
    if source not in stack.tables.values():
        return
    table = topology.client("dynamodb", region).describe_table(TableName=target)["Table"]
    restored = (table.get("RestoreSummary") or {}).get("RestoreDateTime")
    logical = next(k for k, v in stack.tables.items() if v == source)
    record_restore(topology, kind="dynamodb-pitr", region=region, source=source, target=target,
                   restore_time=topology.clock.seconds_at(restored) if restored else None, started=started,
                   completed=topology.clock.now())
    if logical == topology.probe_table:
        topology.point_app_at_table(region, target)


def ssm_runbook_from_spec(spec: dict[str, Any], *, source: str, field: str, base: Path) -> SsmRunbook:
    from pytest_drtest.emulation.ssm import (
        load_content,
        owned_documents,
        parse_document,
    )

    _options(spec, ("ssm", "parameters", "region", "start_after"), source=source, field=field)
    ref = spec["ssm"]
    region = spec.get("region", "primary")
    if region not in ("primary", "dr"):
        raise DrConfigError(f"expected 'primary' or 'dr', got {region!r}", source=source, field=f"{field}.region")
    parameters = spec.get("parameters", {})
    if not isinstance(parameters, dict):
        raise DrConfigError("expected a table of document parameters", source=source, field=f"{field}.parameters")
    check_placeholders(parameters, source=source, path=f"{field}.parameters")
    owned = owned_documents()
    if isinstance(ref, str) and ref in owned:
        path, content, name = owned[ref], None, ref
    else:
        path = locate(ref, base, source=source, field=f"{field}.ssm")
        content, name = path.read_text(encoding="utf-8"), _document_name(path)
    try:
        document = parse_document(load_content(content if content is not None else path.read_text(encoding="utf-8")), name,
                                  str(path))
    except ShapeError as exc:
        raise _shape_error(exc, path) from None
    unknown = sorted(set(parameters) - set(document.parameters))
    if unknown:
        raise DrConfigError(f"the document takes no parameter {unknown[0]!r}; it takes: {', '.join(document.parameters)}",
                            source=source, field=f"{field}.parameters.{unknown[0]}")
    missing = [p for p, s in document.parameters.items() if "default" not in s and p not in parameters]
    if missing:
        raise DrConfigError(f"the document needs parameter(s) {', '.join(missing)}", source=source, field=f"{field}.parameters")
    return SsmRunbook(name, content, dict(parameters), region, source, _start_after(spec, source=source, field=field))


def _start_after(spec: dict[str, Any], *, source: str, field: str) -> float:
    """``start_after``: a duration ('6m') from the fault until the runbook starts."""
    from pytest_drtest.durations import parse_duration

    try:
        return parse_duration(spec.get("start_after", 0), what="start_after")
    except DrConfigError as exc:
        raise DrConfigError(str(exc).split(": ", 1)[-1], source=source, field=f"{field}.start_after") from None


# -- ARC Region switch ----------------------------------------------------------------------------------
@dataclass
class ArcPlanRunbook:
    """Creates the plan before the steady state (attaching its Route 53 health checks to the
    application's records), then executes it to activate ``region``."""

    plan: dict[str, Any]
    region: str = "dr"
    action: str = "activate"
    mode: str = "graceful"
    functions: dict[str, Callable[[dict[str, Any], dict[str, Any]], Any] | str] = field(default_factory=dict)
    documents: dict[str, str] = field(default_factory=dict)  # SSM document name -> content (custom actions)
    source: str = ""
    start_after: float = 0.0

    def prepare(self, topology: Topology, clock: Clock, emulation: Any = None) -> None:
        from pytest_drtest.recovery.arc import create_plan

        create_plan(self, topology, clock, emulation)

    def __call__(self, topology: Topology, clock: Clock) -> None:
        from pytest_drtest.recovery.arc import execute_plan

        execute_plan(self, topology, clock)


def arc_runbook_from_spec(spec: dict[str, Any], *, source: str, field: str, base: Path) -> ArcPlanRunbook:
    from pytest_drtest.emulation.arc_region_switch import (
        plan_from_cloudformation,
        validate_plan,
    )
    from pytest_drtest.emulation.ssm import load_content, parse_document

    _options(spec, ("arc_plan", "region", "action", "mode", "functions", "start_after"), source=source, field=field)
    path = locate(spec["arc_plan"], base, source=source, field=f"{field}.arc_plan")
    try:
        plan = plan_from_cloudformation(load_document(path))
        check_placeholders(plan, source=str(path))
        validate_plan(plan, templated=True)
    except ShapeError as exc:
        raise _shape_error(exc, path) from None
    choices = {"region": ("primary", "dr"), "action": ("activate", "deactivate"), "mode": ("graceful", "ungraceful")}
    for key, allowed in choices.items():
        if key in spec and spec[key] not in allowed:
            raise DrConfigError(f"expected one of {', '.join(allowed)}, got {spec[key]!r}", source=source, field=f"{field}.{key}")
    functions: dict[str, Callable[[dict[str, Any], dict[str, Any]], Any] | str] = {}
    documents: dict[str, str] = {}
    for arn, target in (spec.get("functions") or {}).items():
        where = f"{field}.functions.{arn}"
        if isinstance(target, dict) and set(target) == {"ssm"}:
            doc_path = locate(target["ssm"], base, source=source, field=f"{where}.ssm")
            try:
                parse_document(load_content(doc_path.read_text(encoding="utf-8")), doc_path.stem, str(doc_path))
            except ShapeError as exc:
                raise _shape_error(exc, doc_path) from None
            documents[_document_name(doc_path)] = doc_path.read_text(encoding="utf-8")
            functions[arn] = f"ssm:{_document_name(doc_path)}"
        else:
            functions[arn] = _callable(target, source=source, field=where)
    for i, step in enumerate(plan_steps(plan)):
        if step["executionBlockType"] != "CustomActionLambda":
            continue
        for lam in step["executionBlockConfiguration"]["customActionLambdaConfig"]["lambdas"]:
            arn = lam.get("arn", "")
            if arn not in functions and arn.rsplit(":", 1)[-1] not in {k.rsplit(":", 1)[-1] for k in functions}:
                raise DrConfigError(
                    f"step {step['name']!r} runs Lambda function {arn!r}, which the emulation cannot run: name a Python "
                    f"callable or an SSM document for it in {field}.functions", source=source, field=f"{field}.functions",
                )
    return ArcPlanRunbook(plan, spec.get("region", "dr"), spec.get("action", "activate"), spec.get("mode", "graceful"),
                          functions, documents, source, _start_after(spec, source=source, field=field))


def _callable(ref: Any, *, source: str, field: str) -> Callable[[dict[str, Any], dict[str, Any]], Any]:
    if not isinstance(ref, str) or ":" not in ref:
        raise DrConfigError(f"expected 'module:function' or {{ ssm = \"doc.yaml\" }}, got {ref!r}", source=source, field=field)
    fn: Callable[[dict[str, Any], dict[str, Any]], Any] = import_callable(ref, what="", source=source, field=field)
    return fn


def runbook_from_spec(spec: dict[str, Any], *, source: str, field: str, base: Path) -> SsmRunbook | ArcPlanRunbook:
    """A runbook table: ``{ ssm = ... }`` or ``{ arc_plan = ... }``."""
    if "ssm" in spec:
        return ssm_runbook_from_spec(spec, source=source, field=field, base=base)
    if "arc_plan" in spec:
        return arc_runbook_from_spec(spec, source=source, field=field, base=base)
    raise DrConfigError("expected { ssm = \"doc.yaml\" } or { arc_plan = \"plan.json\" }", source=source, field=field)
