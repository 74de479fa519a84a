"""The SSM emulator: Automation documents validated and executed on the clock.

moto (5.2.5) stores documents and has no automation executions. Here ``CreateDocument`` and
``UpdateDocument`` of ``DocumentType`` ``Automation`` are validated (``InvalidDocumentContent``
naming the path; nothing is stored), and ``StartAutomationExecution``, ``GetAutomationExecution``,
``DescribeAutomationExecutions``, ``DescribeAutomationStepExecutions``, ``SendAutomationSignal``
and ``StopAutomationExecution`` are answered by the emulation ([BC:ssm]). Documents AWS owns in
every account (the Resilience Hub SOPs shipped in ``owned/``) are found by name as on AWS.
"""
from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import botocore.exceptions

from pytest_drtest.emulation.core import AwsError, Call, Emulation
from pytest_drtest.emulation.shapes import ShapeError
from pytest_drtest.emulation.ssm.automation import AutomationEngine, InvalidParameters
from pytest_drtest.emulation.ssm.documents import load_content, parse_document
from pytest_drtest.emulation.ssm.models import Document, Execution, StepRun
from pytest_drtest.emulation.ssm.variables import as_strings


def owned_documents() -> dict[str, Path]:
    """AWS-owned Automation documents of the emulated world: name -> file."""
    folder = resources.files("pytest_drtest.emulation.ssm") / "owned"
    return {Path(str(p)).stem: Path(str(p)) for p in folder.iterdir() if str(p).endswith((".yaml", ".yml", ".json"))}


class SsmEmulator(AutomationEngine):
    """SSM Automation (see :mod:`pytest_drtest.emulation.ssm.automation`)."""

    service = "ssm"

    def __init__(self, emulation: Emulation) -> None:
        super().__init__(emulation)
        self._setup_engine()

    # -- documents ---------------------------------------------------------------------------------
    def before_CreateDocument(self, call: Call) -> dict[str, Any] | None:
        if call.params.get("DocumentType") == "Automation":
            self._validate(call.params.get("Name", ""), call.params.get("Content", ""))
        return None

    def before_UpdateDocument(self, call: Call) -> dict[str, Any] | None:
        try:
            kind = self.backdoor(call.region).describe_document(Name=call.params["Name"])["Document"].get("DocumentType")
        except botocore.exceptions.ClientError:
            return None
        if kind == "Automation":
            self._validate(call.params["Name"], call.params.get("Content", ""))
        return None

    @staticmethod
    def _validate(name: str, content: str) -> Document:
        try:
            return parse_document(load_content(content), name)
        except ShapeError as exc:
            raise AwsError("InvalidDocumentContent", f"document {name}: {exc}") from None

    def document(self, region: str, name: str, version: str | None = None) -> Document:
        """The Automation document ``name`` (an ARN's name part too): the account's, else AWS's own."""
        name = name.split("document/", 1)[-1]
        kwargs = {"Name": name, **({"DocumentVersion": version} if version else {})}
        try:
            found = self.backdoor(region).get_document(**kwargs)
        except botocore.exceptions.ClientError:
            owned = owned_documents().get(name)
            if owned is None:
                raise AwsError("InvalidDocument", f"Document {name} does not exist in your account") from None
            return parse_document(load_content(owned.read_text(encoding="utf-8")), name, str(owned))
        if found.get("DocumentType") != "Automation":
            raise AwsError("InvalidDocument", f"Document {name} is not an Automation document")
        return self._validate(name, found["Content"])

    def before_GetDocument(self, call: Call) -> dict[str, Any] | None:
        name = call.params["Name"]
        owned = owned_documents().get(name)
        if owned is None:
            return None
        try:
            self.backdoor(call.region).describe_document(Name=name)
            return None  # the account's own document of that name
        except botocore.exceptions.ClientError:
            return {"Name": name, "DocumentVersion": "1", "Status": "Active", "Content": owned.read_text(encoding="utf-8"),
                    "DocumentType": "Automation", "DocumentFormat": "YAML"}

    # -- executions ----------------------------------------------------------------------------------
    def before_StartAutomationExecution(self, call: Call) -> dict[str, Any]:
        try:
            document = self.document(call.region, call.params["DocumentName"], call.params.get("DocumentVersion"))
        except AwsError as exc:
            raise AwsError("AutomationDefinitionNotFoundException", exc.message) from None
        try:
            exe = self.start(call.region, document, dict(call.params.get("Parameters") or {}))
        except InvalidParameters as exc:
            raise AwsError("InvalidAutomationExecutionParametersException", str(exc)) from None
        return {"AutomationExecutionId": exe.id}

    def _execution(self, call: Call) -> Execution:
        exe = self.executions.get(call.params["AutomationExecutionId"])
        if exe is None or exe.region != call.region:
            raise AwsError("AutomationExecutionNotFoundException",
                           f"Automation execution {call.params['AutomationExecutionId']} not found")
        return exe

    def before_GetAutomationExecution(self, call: Call) -> dict[str, Any]:
        return {"AutomationExecution": self.describe(self._execution(call))}

    def before_DescribeAutomationStepExecutions(self, call: Call) -> dict[str, Any]:
        rows = [self._step_row(r) for r in self._execution(call).steps]
        return {"StepExecutions": list(reversed(rows)) if call.params.get("ReverseOrder") else rows}

    def before_DescribeAutomationExecutions(self, call: Call) -> dict[str, Any]:
        rows = []
        for exe in self.executions.values():
            if exe.region != call.region or not _matches(exe, call.params.get("Filters") or []):
                continue
            row = self.describe(exe)
            rows.append({k: row[k] for k in ("AutomationExecutionId", "DocumentName", "DocumentVersion", "AutomationExecutionStatus",
                                             "ExecutionStartTime", "ExecutionEndTime", "Outputs", "FailureMessage",
                                             "CurrentStepName", "CurrentAction", "Mode") if k in row})
        return {"AutomationExecutionMetadataList": rows}

    def before_SendAutomationSignal(self, call: Call) -> dict[str, Any]:
        exe = self._execution(call)
        kind = call.params["SignalType"]
        if kind not in ("Approve", "Reject"):
            raise AwsError("InvalidAutomationSignalException", f"Signal {kind} is not modeled (Approve and Reject are)")
        try:
            self.signal(exe, kind, "caller")
        except ValueError as exc:
            raise AwsError("InvalidAutomationSignalException", str(exc)) from None
        return {}

    def before_StopAutomationExecution(self, call: Call) -> dict[str, Any]:
        exe = self._execution(call)
        if exe.done:
            raise AwsError("InvalidAutomationStatusUpdateException", f"Automation execution {exe.id} has already ended ({exe.status})")
        self.stop_execution(exe.id)
        return {}

    # -- answers --------------------------------------------------------------------------------------
    def describe(self, exe: Execution) -> dict[str, Any]:
        """``AutomationExecution`` with clock times ([BC:ssm])."""
        out: dict[str, Any] = {
            "AutomationExecutionId": exe.id, "DocumentName": exe.document.name, "DocumentVersion": "1",
            "ExecutionStartTime": self.clock.datetime(exe.start), "AutomationExecutionStatus": exe.status,
            "StepExecutions": [self._step_row(r) for r in exe.steps], "StepExecutionsTruncated": False,
            "Parameters": {k: as_strings(v) for k, v in exe.parameters.items()},
            "Outputs": {k: as_strings(v) for k, v in exe.outputs.items()}, "Mode": "Auto", "ExecutedBy": "drtest",
        }
        if exe.end is not None:
            out["ExecutionEndTime"] = self.clock.datetime(exe.end)
        if exe.failure:
            out["FailureMessage"] = exe.failure
        if exe.steps and not exe.done:
            out["CurrentStepName"], out["CurrentAction"] = exe.steps[-1].step.name, exe.steps[-1].step.action
        return out

    def _step_row(self, run: StepRun) -> dict[str, Any]:
        step = run.step
        row: dict[str, Any] = {
            "StepName": step.name, "Action": step.action, "StepStatus": run.status, "StepExecutionId": run.id,
            "OnFailure": step.on_failure, "MaxAttempts": step.max_attempts, "IsEnd": step.is_end, "IsCritical": step.is_critical,
            "Inputs": {k: v if isinstance(v, str) else json.dumps(v, default=str) for k, v in run.inputs.items()},
            "Outputs": {k: as_strings(v) for k, v in run.outputs.items() if not k.startswith("_")},
        }
        if step.timeout is not None:
            row["TimeoutSeconds"] = int(step.timeout)
        if step.next_step:
            row["NextStep"] = step.next_step
        if run.start is not None:
            row["ExecutionStartTime"] = self.clock.datetime(run.start)
        if run.end is not None:
            row["ExecutionEndTime"] = self.clock.datetime(run.end)
        if run.failure:
            row["FailureMessage"] = run.failure
            row["FailureDetails"] = {"FailureStage": "Execution", "FailureType": run.failure_type or "Unexpected",
                                     "Details": {"Attempts": [str(run.attempts)]}}
        return row


def _matches(exe: Execution, filters: list[dict[str, Any]]) -> bool:
    for item in filters:
        key, values = item["Key"], item["Values"]
        if key == "DocumentNamePrefix" and not any(exe.document.name.startswith(v) for v in values):
            return False
        if key == "ExecutionStatus" and exe.status not in values:
            return False
        if key == "ExecutionId" and exe.id not in values:
            return False
    return True
